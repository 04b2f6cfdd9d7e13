//! Reading a structural schema node (a `serde_json::Value` in OpenAPI v3 form) and building
//! field paths the way `field.Path` prints them.

use serde_json::{Map, Value};

/// What `additionalProperties` says about keys outside `properties`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Additional<'a> {
    /// Absent: unknown keys are not described (pruned unless preserved).
    Absent,
    /// `true` or `false`.
    Bool(bool),
    /// A schema for every other key: the node is a map.
    Schema(&'a Value),
}

/// `properties`, if any.
pub(crate) fn props(s: &Value) -> Option<&Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

/// The schema of property `k`.
pub(crate) fn prop<'a>(s: &'a Value, k: &str) -> Option<&'a Value> {
    props(s).and_then(|p| p.get(k))
}

/// `additionalProperties`.
pub(crate) fn additional(s: &Value) -> Additional<'_> {
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => Additional::Bool(*b),
        Some(v @ Value::Object(_)) => Additional::Schema(v),
        _ => Additional::Absent,
    }
}

/// The schema of list items (`items` as a single schema).
pub(crate) fn items(s: &Value) -> Option<&Value> {
    s.get("items").filter(|v| v.is_object())
}

/// A boolean vendor extension such as `x-kubernetes-preserve-unknown-fields`.
pub(crate) fn flag(s: &Value, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// A string keyword such as `format` or `x-kubernetes-list-type`.
pub(crate) fn text<'a>(s: &'a Value, name: &str) -> Option<&'a str> {
    s.get(name).and_then(Value::as_str)
}

/// A numeric keyword as float64, as the Go schema holds `maximum` and friends.
pub(crate) fn number(s: &Value, name: &str) -> Option<f64> {
    s.get(name).and_then(Value::as_f64)
}

/// An integer keyword such as `maxLength` (int64 in Go).
pub(crate) fn integer(s: &Value, name: &str) -> Option<i64> {
    s.get(name).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// The types a value may have: `x-kubernetes-int-or-string` means integer or string.
pub(crate) fn types(s: &Value) -> Vec<&str> {
    if flag(s, "x-kubernetes-int-or-string") {
        return vec!["integer", "string"];
    }
    match text(s, "type") {
        Some(t) if !t.is_empty() => vec![t],
        _ => Vec::new(),
    }
}

/// The schema describing key `k` of an object: its property, else `additionalProperties`.
pub(crate) fn child<'a>(s: &'a Value, k: &str) -> Option<&'a Value> {
    prop(s, k).or(match additional(s) {
        Additional::Schema(sub) => Some(sub),
        _ => None,
    })
}

/// `path.Child(name)`: `spec.foo`, or `foo` at the root.
pub(crate) fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// `path.Key(k)`: `spec.labels[app]`.
pub(crate) fn key_path(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

/// `path.Index(i)`: `spec.hosts[0]`.
pub(crate) fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// How a nil `*field.Path` prints.
pub(crate) const NIL_PATH: &str = "<nil>";

/// `path.String()` where an empty path stands for a nil one.
pub(crate) fn or_nil(path: &str) -> String {
    if path.is_empty() { NIL_PATH.to_string() } else { path.to_string() }
}

/// The key fields of a `map` list (`x-kubernetes-list-map-keys`).
pub(crate) fn list_map_keys(s: &Value) -> Vec<&str> {
    s.get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}
