//! Uniqueness of `x-kubernetes-list-type: set` and `map` lists (apiextensions'
//! `structurallisttype.ValidateListSetsAndMaps`): a set reports each repeated value once, at
//! its second occurrence; a map list reports every item whose keys were already seen.

use super::errors::{self, Bad, FieldError};
use super::gofmt::{self, Num};
use super::node;
use serde_json::{Map, Value};

/// The duplicate errors of every set and map list in `object`.
pub(crate) fn validate(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(map) = object {
        walk_map("", schema, map, &mut errs);
    }
    errs
}

fn walk_map(path: &str, s: &Value, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if let node::Additional::Schema(sub) = node::additional(s) {
        for (k, v) in map {
            walk(&node::key_path(path, k), sub, v, errs);
        }
    }
    if let Some(props) = node::props(s) {
        for (k, v) in map {
            if let Some(ps) = props.get(k) {
                walk(&node::child_path(path, k), ps, v, errs);
            }
        }
    }
}

fn walk(path: &str, s: &Value, v: &Value, errs: &mut Vec<FieldError>) {
    match v {
        Value::Array(list) => {
            match node::text(s, "x-kubernetes-list-type") {
                Some("set") => set_duplicates(path, list, errs),
                Some("map") => errs.extend(map_duplicates(path, s, list)),
                _ => {}
            }
            if let Some(items) = node::items(s) {
                for (i, x) in list.iter().enumerate() {
                    walk(&node::index_path(path, i), items, x, errs);
                }
            }
        }
        Value::Object(map) => walk_map(path, s, map, errs),
        _ => {}
    }
}

/// A comparison key with Go's equality of `interface{}` values: type and value, compound
/// values by their JSON.
fn identity(v: &Value) -> String {
    match v {
        Value::Null => "n".into(),
        Value::Bool(b) => format!("b{b}"),
        Value::Number(n) => match Num::of(n) {
            Num::Int(i) => format!("i{i}"),
            Num::Float(f) => format!("f{}", f.to_bits()),
        },
        Value::String(s) => format!("s{s}"),
        other => format!("j{}", gofmt::json_marshal(other)),
    }
}

fn set_duplicates(path: &str, list: &[Value], errs: &mut Vec<FieldError>) {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, x) in list.iter().enumerate() {
        let id = identity(x);
        match seen.iter_mut().find(|(k, _)| *k == id) {
            Some((_, times)) => {
                *times += 1;
                if *times == 2 {
                    errs.push(errors::duplicate(&node::index_path(path, i), Bad::Json(x.clone())));
                }
            }
            None => seen.push((id, 1)),
        }
    }
}

/// One key of a map-list item: the key value (or the key's schema default), compared as Go
/// compares `interface{}` values, or "unspecified" when neither is there.
#[derive(PartialEq)]
enum Key {
    Value(String),
    Unspecified,
}

fn map_duplicates(path: &str, s: &Value, list: &[Value]) -> Vec<FieldError> {
    for (i, x) in list.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            return vec![errors::invalid(
                &node::index_path(path, i),
                Bad::Json(x.clone()),
                "must be an object for an array of list-type map",
            )];
        }
    }
    if list.len() <= 1 {
        return Vec::new();
    }
    let key_fields = node::list_map_keys(s);
    let item_schema = node::items(s);
    // Keys must be scalars.
    for (i, x) in list.iter().enumerate() {
        for field in &key_fields {
            match x.get(*field) {
                None | Some(Value::Null | Value::String(_) | Value::Number(_) | Value::Bool(_)) => {}
                Some(other) => {
                    let at = node::child_path(&node::index_path(path, i), field);
                    return vec![errors::invalid(&at, Bad::Json(other.clone()), "must be a scalar")];
                }
            }
        }
    }
    let mut errs = Vec::new();
    let mut seen: Vec<Vec<Key>> = Vec::new();
    for (i, x) in list.iter().enumerate() {
        if x.is_null() {
            continue;
        }
        let values: Vec<Option<&Value>> = key_fields
            .iter()
            .map(|field| {
                let default = item_schema.and_then(|is| node::prop(is, field)).and_then(|p| p.get("default"));
                x.get(*field).or(default)
            })
            .collect();
        let keys: Vec<Key> = values.iter().map(|v| v.map_or(Key::Unspecified, |v| Key::Value(identity(v)))).collect();
        if seen.contains(&keys) {
            errs.push(errors::duplicate(&node::index_path(path, i), Bad::Raw(key_map_text(&key_fields, &values))));
        } else {
            seen.push(keys);
        }
    }
    errs
}

/// `%#v` of the `map[string]interface{}` of key values the server reports as the duplicate.
fn key_map_text(fields: &[&str], values: &[Option<&Value>]) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .zip(values)
        .map(|(f, v)| {
            let text = match v {
                Some(v) => gofmt::sharp_v(v),
                None => "listtype.unspecifiedKeyValue{}".to_string(),
            };
            (*f, text)
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = pairs.iter().map(|(f, t)| format!("{}:{t}", gofmt::quote(f))).collect();
    format!("map[string]interface {{}}{{{}}}", body.join(", "))
}
