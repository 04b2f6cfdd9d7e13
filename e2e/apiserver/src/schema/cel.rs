//! `x-kubernetes-validations` (CEL) rules, evaluated by the kube-cel engine that kube
//! re-exports, with the paths and messages of kube-apiserver's CEL validator: a failed rule reads
//! `Invalid value: "object": <message>` (the schema type, not the value) on the rule's field.

use super::errors::{self, Bad, FieldError, Reason};
use super::node::{self, Additional};
use super::validate::validate;
use kube::core::cel::{ErrorKind, ValidationError, Validator};
use serde_json::{Map, Value};

/// Kinds of schema error after which kube-apiserver does not run CEL rules (`hasBlockingErr`).
const BLOCKING: [Reason; 5] = [
    Reason::FieldValueNotSupported,
    Reason::FieldValueRequired,
    Reason::FieldValueTooLong,
    Reason::FieldValueTooMany,
    Reason::FieldValueTypeInvalid,
];

/// What kube-apiserver adds instead of the CEL errors when schema errors block the rules.
const RULES_NOT_CHECKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// Evaluates every `x-kubernetes-validations` rule of `schema` on `object`; `old` is the stored
/// object on update (transition rules, those using `oldSelf`, only run then, or with
/// `optionalOldSelf`). Rules run on each non-null value that has them, as the server does.
pub fn validate_cel(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(schema, object, old, "", &mut errs);
    errs
}

/// Everything kube-apiserver checks of a custom resource against its schema, in its order:
/// [`validate`], then the CEL rules, unless a schema error of a blocking kind (wrong type,
/// missing required field, unsupported enum value, too long, too many) makes it skip them and
/// say so in a field-less error, as `customResourceStrategy.Validate` does.
pub fn validate_all(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = validate(schema, object);
    if errs.iter().any(|e| BLOCKING.contains(&e.reason)) {
        errs.push(errors::invalid(node::NIL_PATH, Bad::Json(Value::Null), RULES_NOT_CHECKED));
    } else {
        errs.extend(validate_cel(schema, object, old));
    }
    errs
}

thread_local! {
    /// The engine, built once per thread: building one registers every CEL function.
    static VALIDATOR: Validator = Validator::new();
}

fn rules(s: &Value) -> &[Value] {
    s.get("x-kubernetes-validations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn walk(s: &Value, v: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    // Rules only judge non-null values; a null has no children either.
    if v.is_null() {
        return;
    }
    if !rules(s).is_empty() {
        evaluate(s, v, old.filter(|o| !o.is_null()), path, errs);
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let old_child = old.and_then(|o| o.get(k));
                if let Some(ps) = node::prop(s, k) {
                    walk(ps, child, old_child, &node::child_path(path, k), errs);
                } else if let Additional::Schema(sub) = node::additional(s) {
                    walk(sub, child, old_child, &node::key_path(path, k), errs);
                }
            }
        }
        Value::Array(list) => {
            let Some(items) = node::items(s) else { return };
            let old_items = old.and_then(Value::as_array);
            for (i, x) in list.iter().enumerate() {
                let old_item = old_items.and_then(|o| correlate(s, x, o));
                walk(items, x, old_item, &node::index_path(path, i), errs);
            }
        }
        _ => {}
    }
}

/// The old item a new list item is compared with: only `map` lists correlate items (by their
/// keys), so transition rules under other lists do not run, as on the server.
fn correlate<'a>(s: &Value, item: &Value, old: &'a [Value]) -> Option<&'a Value> {
    if node::text(s, "x-kubernetes-list-type") != Some("map") {
        return None;
    }
    let keys = node::list_map_keys(s);
    old.iter().find(|o| keys.iter().all(|k| o.get(*k) == item.get(*k)))
}

/// A copy of a schema node without the rules of anything below it, so the engine evaluates
/// exactly this node's rules and this module keeps the traversal (and the server's paths).
fn only_own_rules(s: &Value) -> Value {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, child) in map {
                    if k == "x-kubernetes-validations" {
                        continue;
                    }
                    out.insert(k.clone(), strip_children(k, child));
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
    fn strip_children(key: &str, v: &Value) -> Value {
        match (key, v) {
            ("properties", Value::Object(props)) => {
                Value::Object(props.iter().map(|(k, p)| (k.clone(), strip(p))).collect())
            }
            ("items" | "additionalProperties" | "not", Value::Object(_)) => strip(v),
            ("allOf" | "anyOf" | "oneOf", Value::Array(list)) => Value::Array(list.iter().map(strip).collect()),
            _ => v.clone(),
        }
    }
    let mut own = strip(s);
    if let (Value::Object(map), Some(r)) = (&mut own, s.get("x-kubernetes-validations")) {
        map.insert("x-kubernetes-validations".into(), r.clone());
    }
    own
}

fn evaluate(s: &Value, v: &Value, old: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let own = only_own_rules(s);
    let Err(failures) = VALIDATOR.with(|validator| validator.validate(&own, v, old)) else { return };
    let type_name = node::text(s, "type").unwrap_or("");
    // The engine reports at most one failure per rule, in rule order: pair them up in order
    // so two rules with the same expression keep their own messages.
    let own_rules = rules(s);
    let mut next = 0;
    for failure in failures.iter() {
        let found = own_rules[next.min(own_rules.len())..]
            .iter()
            .position(|r| r.get("rule").and_then(Value::as_str) == Some(failure.rule.as_str()));
        let rule = match found {
            Some(offset) => {
                next += offset + 1;
                own_rules[next - 1].clone()
            }
            None => Value::Null,
        };
        errs.push(to_field_error(&rule, type_name, path, failure));
    }
}

/// `ruleErrorString`: the trimmed message, else the trimmed rule.
fn rule_error_string(rule: &Value, text: &str) -> String {
    match rule.get("message").and_then(Value::as_str).map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => text.trim().to_string(),
    }
}

fn to_field_error(rule: &Value, type_name: &str, path: &str, failure: &ValidationError) -> FieldError {
    let shown = || Bad::Str(type_name.to_string());
    let described = rule_error_string(rule, &failure.rule);
    let at_node = |detail: &str| errors::invalid(&node::or_nil(path), shown(), detail);
    match failure.kind {
        ErrorKind::ValidationFailure => {
            let fallback = match rule.get("message").and_then(Value::as_str).map(str::trim).filter(|m| !m.is_empty()) {
                Some(m) => m.to_string(),
                None => format!("failed rule: {}", failure.rule.trim()),
            };
            // A messageExpression result is used when it is a non-empty single line.
            let detail = match rule.get("messageExpression") {
                Some(_) => {
                    let m = failure.message.trim();
                    if m.is_empty() || m.contains('\n') || m.len() > 5120 { fallback } else { m.to_string() }
                }
                None => fallback,
            };
            let field = match failure.field_path.trim_start_matches('.') {
                "" => node::or_nil(path),
                sub => node::child_path(path, sub),
            };
            match failure.reason.as_deref().and_then(Reason::parse) {
                Some(Reason::FieldValueForbidden) => {
                    errors::make(&field, Reason::FieldValueForbidden, Bad::Omit, &detail)
                }
                Some(Reason::FieldValueRequired) => errors::required(&field, &detail),
                Some(Reason::FieldValueDuplicate) => errors::duplicate(&field, shown()),
                _ => errors::invalid(&field, shown(), &detail),
            }
        }
        ErrorKind::EvaluationError | ErrorKind::UnsupportedReference => {
            let cause = failure.message.strip_prefix("rule evaluation error: ").unwrap_or(&failure.message);
            if cause.starts_with("no such overload") {
                at_node(&format!(
                    "'{cause}': call arguments did not match a supported operator, function or macro signature for rule: {described}"
                ))
            } else {
                at_node(&format!("{cause} evaluating rule: {described}"))
            }
        }
        ErrorKind::CompilationFailure | ErrorKind::InvalidRule => {
            at_node(&format!("rule compile error: {}", failure.message))
        }
        _ => at_node(&failure.message),
    }
}

#[cfg(test)]
mod tests {
    use super::{validate_all, validate_cel};
    use serde_json::{Value, json};

    fn spec(properties: Value, rules: Value) -> Value {
        json!({"type": "object", "properties": {"spec": {
            "type": "object", "properties": properties, "x-kubernetes-validations": rules
        }}})
    }

    fn cel(schema: &Value, object: Value, old: Option<Value>) -> Vec<String> {
        validate_cel(schema, &object, old.as_ref()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn failed_rules_show_the_type_and_the_message() {
        let schema = spec(
            json!({"x": {"type": "integer"}}),
            json!([{"rule": "self.x > 0"}, {"rule": "self.x < 10", "message": " x too big "}]),
        );
        assert_eq!(
            cel(&schema, json!({"spec": {"x": 0}}), None),
            [r#"spec: Invalid value: "object": failed rule: self.x > 0"#]
        );
        assert_eq!(cel(&schema, json!({"spec": {"x": 10}}), None), [r#"spec: Invalid value: "object": x too big"#]);
        assert!(cel(&schema, json!({"spec": {"x": 5}}), None).is_empty());
    }

    #[test]
    fn reasons_field_paths_and_message_expressions() {
        let schema = spec(
            json!({"a": {"type": "string"}, "items": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self.size() <= 2", "messageExpression": "'too many: ' + string(self.size())"}]}}),
            json!([
                {"rule": "!has(self.a)", "message": "a is not allowed", "reason": "FieldValueForbidden", "fieldPath": ".a"},
                {"rule": "!has(self.a)", "message": "a is required", "reason": "FieldValueRequired"},
                {"rule": "!has(self.a) || self.a != 'dup'", "reason": "FieldValueDuplicate"}
            ]),
        );
        assert_eq!(
            cel(&schema, json!({"spec": {"a": "dup", "items": ["1", "2", "3"]}}), None),
            [
                "spec.a: Forbidden: a is not allowed",
                "spec: Required value: a is required",
                r#"spec: Duplicate value: "object""#,
                r#"spec.items: Invalid value: "array": too many: 3"#,
            ]
        );
    }

    #[test]
    fn transition_rules_need_the_old_object() {
        let schema = spec(
            json!({"replicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "replicas may not decrease"}]}}),
            json!([]),
        );
        assert!(cel(&schema, json!({"spec": {"replicas": 3}}), None).is_empty());
        assert_eq!(
            cel(&schema, json!({"spec": {"replicas": 3}}), Some(json!({"spec": {"replicas": 5}}))),
            [r#"spec.replicas: Invalid value: "integer": replicas may not decrease"#]
        );
    }

    #[test]
    fn map_values_and_map_list_items_get_their_paths() {
        let schema = spec(
            json!({
                "labels": {"type": "object", "additionalProperties": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 5", "message": "short"}]}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port", "message": "port is immutable"}]}}
            }),
            json!([]),
        );
        let old = json!({"spec": {"ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}]}});
        let new = json!({"spec": {"labels": {"app": "podinfo"}, "ports": [{"name": "grpc", "port": 90}, {"name": "http", "port": 8080}, {"name": "new", "port": 1}]}});
        assert_eq!(
            cel(&schema, new, Some(old)),
            [
                r#"spec.labels[app]: Invalid value: "string": short"#,
                r#"spec.ports[1]: Invalid value: "object": port is immutable"#
            ]
        );
    }

    #[test]
    fn only_blocking_schema_errors_skip_the_rules() {
        let schema = spec(
            json!({"x": {"type": "integer", "minimum": 0}}),
            json!([{"rule": "self.x > 0", "message": "positive"}]),
        );
        assert_eq!(
            validate_all(&schema, &json!({"spec": {"x": -1}}), None)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "spec.x: Invalid value: -1: spec.x in body should be greater than or equal to 0",
                r#"spec: Invalid value: "object": positive"#
            ]
        );
        assert_eq!(
            validate_all(&schema, &json!({"spec": {"x": "a"}}), None)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#,
                r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#
            ]
        );
    }
}
