//! Pruning and defaulting of a custom resource as the API server's decoder does them:
//! unknown fields are dropped (and reported, for `fieldValidation=Strict`/`Warn`), nulls that
//! the schema does not allow are dropped, and `default`s fill absent fields.

use super::node::{self, Additional};
use serde_json::{Map, Value};

/// Fields the root keeps whatever the schema says, as do embedded resources.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes the fields `schema` does not describe and returns their paths, sorted, as the server
/// names them in `unknown field "spec.foo"` (`spec.items[0].foo`, `spec.labels.foo`). Fields under
/// `x-kubernetes-preserve-unknown-fields` stay (their described children are still pruned);
/// `apiVersion`, `kind` and `metadata` stay at the root and in embedded resources. Nulls of
/// fields that are neither nullable nor defaulted are dropped too, silently.
pub fn prune(schema: &Value, object: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    // The root is a resource: it keeps its type and object metadata.
    let mut root = schema.clone();
    if let Value::Object(map) = &mut root {
        map.insert("x-kubernetes-embedded-resource".into(), Value::Bool(true));
    }
    prune_value(object, Some(&root), "", &mut unknown);
    prune_nulls(object, Some(schema));
    unknown.sort();
    unknown
}

fn join(path: &str, key: &str) -> String {
    node::child_path(path, key)
}

fn prune_value(v: &mut Value, s: Option<&Value>, path: &str, unknown: &mut Vec<String>) {
    if let Some(s) = s
        && node::flag(s, "x-kubernetes-preserve-unknown-fields")
    {
        skip_prune(v, s, path, unknown);
        return;
    }
    match v {
        Value::Object(map) => {
            let Some(s) = s else {
                // No schema at all: every key is unknown.
                unknown.extend(map.keys().map(|k| join(path, k)));
                map.clear();
                return;
            };
            let embedded = node::flag(s, "x-kubernetes-embedded-resource");
            let mut drop = Vec::new();
            for (k, child) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(ps) = node::prop(s, k) {
                    prune_value(child, Some(ps), &join(path, k), unknown);
                } else {
                    match node::additional(s) {
                        Additional::Schema(sub) => prune_value(child, Some(sub), &join(path, k), unknown),
                        Additional::Bool(true) => prune_value(child, None, &join(path, k), unknown),
                        _ => {
                            // The root's metadata fields are never reported.
                            if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                                unknown.push(join(path, k));
                            }
                            drop.push(k.clone());
                        }
                    }
                }
            }
            for k in drop {
                map.remove(&k);
            }
        }
        Value::Array(list) => {
            let items = s.and_then(node::items);
            for (i, x) in list.iter_mut().enumerate() {
                prune_value(x, items, &node::index_path(path, i), unknown);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`: unknown keys stay, described ones are pruned.
fn skip_prune(v: &mut Value, s: &Value, path: &str, unknown: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let embedded = node::flag(s, "x-kubernetes-embedded-resource");
            for (k, child) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(ps) = node::prop(s, k) {
                    prune_value(child, Some(ps), &join(path, k), unknown);
                } else if let Additional::Schema(sub) = node::additional(s) {
                    prune_value(child, Some(sub), &join(path, k), unknown);
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = node::items(s) {
                for (i, x) in list.iter_mut().enumerate() {
                    skip_prune(x, items, &node::index_path(path, i), unknown);
                }
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults`: drops `null` fields whose schema is neither
/// nullable nor has a default (list items stay).
fn prune_nulls(v: &mut Value, s: Option<&Value>) {
    match v {
        Value::Object(map) => {
            let mut drop = Vec::new();
            for (k, child) in map.iter_mut() {
                let sub = s.and_then(|s| node::child(s, k));
                match sub {
                    Some(sub) if child.is_null() && !node::flag(sub, "nullable") && sub.get("default").is_none() => {
                        drop.push(k.clone());
                    }
                    _ => prune_nulls(child, sub),
                }
            }
            for k in drop {
                map.remove(&k);
            }
        }
        Value::Array(list) => {
            let items = s.and_then(node::items);
            for x in list.iter_mut() {
                prune_nulls(x, items);
            }
        }
        _ => {}
    }
}

fn non_nullable_null(v: &Value, s: Option<&Value>) -> bool {
    v.is_null() && s.is_some_and(|s| !node::flag(s, "nullable"))
}

/// Fills in schema `default`s as the server's defaulting does (`structuraldefaulting.Default`,
/// after dropping disallowed nulls): a property that is absent, or null where null is not
/// allowed, gets a copy of its default, and defaulting goes on inside every value, including
/// the defaults just set. Map values and list items that are disallowed nulls get the
/// default of `additionalProperties` or `items`.
pub fn apply_defaults(schema: &Value, object: &mut Value) {
    // kube-cel's apply_defaults does not descend into defaults it sets nor replace disallowed
    // nulls, so the server's algorithm is followed here instead.
    prune_nulls(object, Some(schema));
    default_value(object, schema);
}

fn default_value(v: &mut Value, s: &Value) {
    match v {
        Value::Object(map) => default_object(map, s),
        Value::Array(list) => {
            let Some(items) = node::items(s) else { return };
            for x in list.iter_mut() {
                if non_nullable_null(x, Some(items))
                    && let Some(d) = items.get("default")
                {
                    *x = d.clone();
                }
                default_value(x, items);
            }
        }
        _ => {}
    }
}

fn default_object(map: &mut Map<String, Value>, s: &Value) {
    if let Some(props) = node::props(s) {
        for (k, ps) in props {
            let Some(d) = ps.get("default") else { continue };
            let missing = map.get(k).is_none_or(|current| non_nullable_null(current, Some(ps)));
            if missing {
                map.insert(k.clone(), d.clone());
            }
        }
    }
    for (k, child) in map.iter_mut() {
        if let Some(ps) = node::prop(s, k) {
            default_value(child, ps);
        } else if let Additional::Schema(sub) = node::additional(s) {
            if non_nullable_null(child, Some(sub))
                && let Some(d) = sub.get("default")
            {
                *child = d.clone();
            }
            default_value(child, sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{apply_defaults, prune};
    use serde_json::json;

    #[test]
    fn prunes_unknown_fields_but_keeps_preserved_and_meta() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "known": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"typed": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}},
                "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}
            }}
        }});
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n", "anything": 1},
            "spec": {
                "known": "k", "unknown": 1,
                "free": {"anything": {"goes": true}, "typed": {"a": "x", "b": "pruned"}},
                "labels": {"app": {"v": "1", "w": "2"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "status": {}},
                "list": [{"a": "x"}, {"a": "y", "z": 1}]
            },
            "extra": true
        });
        let unknown = prune(&schema, &mut object);
        assert_eq!(
            unknown,
            [
                "extra",
                "spec.free.typed.b",
                "spec.labels.app.w",
                "spec.list[1].z",
                "spec.template.status",
                "spec.unknown"
            ]
        );
        assert_eq!(object["metadata"], json!({"name": "n", "anything": 1}));
        assert_eq!(object["spec"]["free"]["anything"], json!({"goes": true}));
        assert_eq!(
            object["spec"]["template"],
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}})
        );
    }

    #[test]
    fn drops_disallowed_nulls_silently() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "string"}, "b": {"type": "string", "nullable": true}, "c": {"type": "string", "default": "d"}
        }}}});
        let mut object = json!({"spec": {"a": null, "b": null, "c": null}});
        assert!(prune(&schema, &mut object).is_empty());
        assert_eq!(object, json!({"spec": {"b": null, "c": null}}));
        apply_defaults(&schema, &mut object);
        assert_eq!(object, json!({"spec": {"b": null, "c": "d"}}));
    }

    #[test]
    fn defaults_fill_absent_fields_and_descend_into_defaults() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "analysis": {"type": "object", "default": {}, "properties": {
                "interval": {"type": "string", "default": "1m"},
                "threshold": {"type": "integer", "default": 5}
            }},
            "ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}},
            "weights": {"type": "object", "additionalProperties": {"type": "integer", "default": 1}}
        }}}});
        let mut object =
            json!({"spec": {"ports": [{"port": 80}, {"protocol": "UDP"}], "weights": {"a": null, "b": 2}}});
        apply_defaults(&schema, &mut object);
        assert_eq!(
            object,
            json!({"spec": {
                "analysis": {"interval": "1m", "threshold": 5},
                "ports": [{"port": 80, "protocol": "TCP"}, {"protocol": "UDP"}],
                "weights": {"a": 1, "b": 2}
            }})
        );
    }
}
