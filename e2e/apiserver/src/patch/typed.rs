//! Walking objects along the list and map types `ListKeys` gives, as structured-merge-diff walks
//! them over a schema: the set of fields an object sets, and removing fields. Merging is in
//! `typed_merge`, comparing in `compare`.

use super::fieldset::{Element, FieldSet, display_path, field, key_element, value_element};
use super::keys::{ListKeys, ListType};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Where a walk is: the schema path (field names) and the field path (FieldsV1 steps).
pub(crate) struct At<'a> {
    keys: &'a dyn ListKeys,
    schema: Vec<String>,
    pub(crate) path: Vec<Element>,
}

impl<'a> At<'a> {
    pub(crate) fn new(keys: &'a dyn ListKeys) -> Self {
        Self { keys, schema: Vec::new(), path: Vec::new() }
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.schema.iter().map(String::as_str).collect()
    }

    pub(crate) fn list_type(&self) -> ListType {
        self.keys.list_type(&self.names())
    }

    pub(crate) fn atomic_map(&self) -> bool {
        self.keys.is_atomic_map(&self.names())
    }

    pub(crate) fn enter_field(&mut self, name: &str) {
        self.schema.push(name.to_string());
        self.path.push(field(name));
    }

    pub(crate) fn leave_field(&mut self) {
        self.schema.pop();
        self.path.pop();
    }

    pub(crate) fn error(&self, message: impl std::fmt::Display) -> String {
        if self.path.is_empty() { message.to_string() } else { format!("{}: {message}", display_path(&self.path)) }
    }
}

/// The step to `item` of a set or keyed list. Errors name what is wrong with the item.
pub(crate) fn item_element(list: &ListType, item: &Value) -> Result<Element, String> {
    match list {
        ListType::Map(keys) => {
            let Value::Object(object) = item else {
                return Err(if item.is_null() {
                    "associative list with keys may not have a null element".to_string()
                } else {
                    "associative list with keys may not have non-map elements".to_string()
                });
            };
            let mut fields = BTreeMap::new();
            for key in keys {
                match object.get(&key.name).or(key.default.as_ref()) {
                    Some(value) => {
                        fields.insert(key.name.clone(), value.clone());
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                            key.name
                        ));
                    }
                }
            }
            Ok(key_element(&fields))
        }
        ListType::Set | ListType::Atomic => Ok(value_element(item)),
    }
}

/// The steps of a list's items; `None` for an item without its key (only tolerated in stored
/// objects).
pub(crate) fn item_elements(list: &ListType, items: &[Value]) -> Vec<Option<Element>> {
    items.iter().map(|item| item_element(list, item).ok()).collect()
}

/// The fields `value` sets: every scalar, atomic list or map, list item, and empty or null
/// field. `strict` (for applied configurations) rejects list items without their keys and
/// duplicate items; otherwise they are skipped.
pub(crate) fn field_set(value: &Value, keys: &dyn ListKeys, strict: bool) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    let mut at = At::new(keys);
    collect(value, &mut at, &mut set, strict)?;
    Ok(set)
}

fn collect(value: &Value, at: &mut At, set: &mut FieldSet, strict: bool) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            if at.atomic_map() {
                set.insert(&at.path);
                return Ok(());
            }
            for (name, child) in object {
                at.enter_field(name);
                let result = collect(child, at, set, strict);
                if child.is_null() || child.as_object().is_some_and(Map::is_empty) {
                    set.insert(&at.path);
                }
                at.leave_field();
                result?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let list = at.list_type();
            if list == ListType::Atomic {
                set.insert(&at.path);
                return Ok(());
            }
            let mut seen = HashSet::new();
            for (index, item) in items.iter().enumerate() {
                let element = match item_element(&list, item) {
                    Ok(element) => element,
                    Err(e) if strict => return Err(at.error(format!("element {index}: {e}"))),
                    Err(_) => continue,
                };
                if !seen.insert(element.clone()) {
                    if strict {
                        return Err(at.error(format!("duplicate entries for key {}", display_path(&[element]))));
                    }
                    continue;
                }
                at.path.push(element);
                let result = collect(item, at, set, strict);
                set.insert(&at.path);
                at.path.pop();
                result?;
            }
            Ok(())
        }
        _ => {
            set.insert(&at.path);
            Ok(())
        }
    }
}

/// A configuration value made fit to store: null fields dropped, since the API server decodes
/// them as unset.
pub(crate) fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `value` without the paths in `set` (each with everything below it). A map or list emptied
/// this way goes too, as the API server stores it as unset.
pub(crate) fn remove(value: &Value, set: &FieldSet, keys: &dyn ListKeys) -> Value {
    remove_at(value, set, &mut At::new(keys))
}

fn remove_at(value: &Value, set: &FieldSet, at: &mut At) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (name, child) in object {
                match set.child(&field(name)) {
                    Some(sub) if sub.is_member() => {}
                    Some(sub) => {
                        at.enter_field(name);
                        let rest = remove_at(child, sub, at);
                        at.leave_field();
                        if !is_emptied(child, &rest) {
                            out.insert(name.clone(), rest);
                        }
                    }
                    None => {
                        out.insert(name.clone(), child.clone());
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let list = at.list_type();
            if list == ListType::Atomic {
                return value.clone();
            }
            let mut out = Vec::with_capacity(items.len());
            for (element, item) in item_elements(&list, items).into_iter().zip(items) {
                match element.as_ref().and_then(|e| set.child(e)) {
                    Some(sub) if sub.is_member() => {}
                    Some(sub) => out.push(remove_at(item, sub, at)),
                    None => out.push(item.clone()),
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// Whether removing paths under `before` left an empty map or list.
fn is_emptied(before: &Value, after: &Value) -> bool {
    let was_full = match before {
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    let now_empty = match after {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    was_full && now_empty
}
