//! Checks of `x-kubernetes-embedded-resource` objects (apiextensions' `schemaobjectmeta.Validate`):
//! an embedded object needs a valid `apiVersion` and `kind`, and its `metadata` a usable name and
//! no namespace.

use super::errors::{self, Bad, FieldError};
use super::node;
use serde_json::{Map, Value};

/// The errors of every embedded resource in `object`, outermost first.
pub(crate) fn validate(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk("", schema, object, &mut errs);
    errs
}

fn walk(path: &str, s: &Value, v: &Value, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(map) => {
            if node::flag(s, "x-kubernetes-embedded-resource") {
                check(path, map, errs);
            }
            for (k, child) in map {
                if let Some(ps) = node::prop(s, k) {
                    walk(&node::child_path(path, k), ps, child, errs);
                } else if let node::Additional::Schema(sub) = node::additional(s) {
                    walk(&node::key_path(path, k), sub, child, errs);
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = node::items(s) {
                for (i, child) in list.iter().enumerate() {
                    walk(&node::index_path(path, i), items, child, errs);
                }
            }
        }
        _ => {}
    }
}

/// `IsDNS1035Label` of the lower-cased kind.
fn dns1035_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        errs.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
             character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for \
             validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    errs
}

/// `path.IsValidPathSegmentName`, which names of embedded objects must pass.
fn path_segment_errors(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"].iter().filter(|bad| name.contains(*bad)).map(|bad| format!("may not contain '{bad}'")).collect()
}

fn check(path: &str, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for field in ["apiVersion", "kind"] {
        if !map.contains_key(field) {
            errs.push(errors::required(&node::child_path(path, field), "must not be empty"));
        }
    }
    for (k, v) in map {
        let at = node::child_path(path, k);
        match (k.as_str(), v) {
            ("apiVersion" | "kind", Value::String(s)) if s.is_empty() => {
                errs.push(errors::invalid(&at, Bad::Str(String::new()), "must not be empty"));
            }
            ("apiVersion", Value::String(s)) if s != "/" && s.matches('/').count() > 1 => {
                errs.push(errors::invalid(&at, Bad::Str(s.clone()), &format!("unexpected GroupVersion string: {s}")));
            }
            ("apiVersion", Value::String(_)) => {}
            ("kind", Value::String(s)) => {
                let problems = dns1035_errors(&s.to_lowercase());
                if !problems.is_empty() {
                    let detail = format!("may have mixed case, but should otherwise match: {}", problems.join(","));
                    errs.push(errors::invalid(&at, Bad::Str(s.clone()), &detail));
                }
            }
            ("apiVersion" | "kind", other) => {
                errs.push(errors::invalid(&at, Bad::Json(other.clone()), "must be a string"))
            }
            ("metadata", Value::Object(meta)) => check_meta(&at, meta, errs),
            _ => {}
        }
    }
}

/// The parts of `ValidateObjectMeta` an embedded object's metadata commonly trips over.
fn check_meta(path: &str, meta: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for field in ["name", "generateName"] {
        if let Some(Value::String(name)) = meta.get(field)
            && !name.is_empty()
        {
            for problem in path_segment_errors(name) {
                errs.push(errors::invalid(&node::child_path(path, field), Bad::Str(name.clone()), &problem));
            }
        }
    }
    if meta.get("namespace").and_then(Value::as_str).is_some_and(|ns| !ns.is_empty()) {
        errs.push(errors::make(
            &node::child_path(path, "namespace"),
            errors::Reason::FieldValueForbidden,
            Bad::Omit,
            "not allowed on this type",
        ));
    }
}
