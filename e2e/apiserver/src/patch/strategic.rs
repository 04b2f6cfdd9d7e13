//! Strategic merge patch (`application/strategic-merge-patch+json`), as k8s.io/apimachinery's
//! `strategicpatch` applies it on the server: maps merge, null deletes, lists with a merge key
//! merge item by item, other lists are replaced, and the directives kubectl sends (`$patch`,
//! `$retainKeys`, `$setElementOrder/`, `$deleteFromPrimitiveList/`) are honoured.

use super::PatchError;
use super::element_order::{apply_element_orders, ordered};
use super::keys::ListKeys;
use serde_json::{Map, Value};
use std::collections::HashSet;

pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies the strategic merge patch `patch` to `target`. `keys` gives each list's merge key.
///
/// Follows the server's behaviour where kubectl depends on it, including that, without
/// `$setElementOrder`, items a patch adds to a merged list come before the items already there
/// (kubectl's own patches always carry `$setElementOrder`). Unknown `$` keys are dropped. Errors
/// are the server's: a malformed directive is a bad request, as is a list item without its merge
/// key or `$patch: merge`, which the server does not support.
pub fn strategic_merge_patch(target: &Value, patch: &Value, keys: &dyn ListKeys) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest("invalid JSON document: a strategic merge patch must be an object".into()));
    };
    let original = target.as_object().cloned().unwrap_or_default();
    let merged = merge_map(original, patch.clone(), &mut Vec::new(), keys)?;
    Ok(Value::Object(merged))
}

/// How strategic merge patch treats a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Strategy {
    /// No patch strategy: the patch list replaces it.
    Replace,
    /// `patchStrategy: merge`, by this merge key (`None` for primitives).
    Merge(Option<String>),
}

/// The strategy of the list at `path`.
pub(super) fn strategy(keys: &dyn ListKeys, path: &[String]) -> Strategy {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match keys.merge_key(&names) {
        None => Strategy::Replace,
        Some(list) => Strategy::Merge(list.into_iter().next()),
    }
}

/// A bad-request error.
pub(super) fn bad(message: impl Into<String>) -> PatchError {
    PatchError::BadRequest(message.into())
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    path: &mut Vec<String>,
    keys: &dyn ListKeys,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => fresh_map(patch, path, keys),
            Some("delete") => Ok(Map::new()),
            _ => Err(bad(format!("unknown patch type: {directive} in map: {}", Value::Object(patch)))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_element_orders(&mut original, &mut patch, path, keys)?;
    for (key, value) in patch {
        if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(&mut original, name, &value)?;
            continue;
        }
        if key.starts_with('$') {
            // Not a field: the server would drop it when decoding the object.
            continue;
        }
        if value.is_null() {
            original.remove(&key);
            continue;
        }
        path.push(key.clone());
        let merged = match (original.remove(&key), value) {
            (Some(Value::Object(existing)), Value::Object(value)) => {
                Some(Value::Object(merge_map(existing, value, path, keys)?))
            }
            (Some(Value::Array(existing)), Value::Array(value)) => {
                Some(Value::Array(merge_list_field(existing, value, path, keys)?))
            }
            // Absent before, or of another type: the patch value is taken.
            (_, value) => new_value(value, path, keys)?,
        };
        path.pop();
        if let Some(merged) = merged {
            original.insert(key, merged);
        }
    }
    Ok(original)
}

/// A value the patch sets where there was none (or of another type), with its directives
/// carried out. `None` when it is a map saying `$patch: delete`.
fn new_value(value: Value, path: &mut Vec<String>, keys: &dyn ListKeys) -> Result<Option<Value>, PatchError> {
    match value {
        Value::Object(map) => {
            if map.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
                return Ok(None);
            }
            Ok(Some(Value::Object(merge_map(Map::new(), map, path, keys)?)))
        }
        Value::Array(items) => Ok(Some(Value::Array(merge_list_field(Vec::new(), items, path, keys)?))),
        other => Ok(Some(other)),
    }
}

/// A map the patch replaces a map with: its content with directives carried out.
fn fresh_map(
    patch: Map<String, Value>,
    path: &mut Vec<String>,
    keys: &dyn ListKeys,
) -> Result<Map<String, Value>, PatchError> {
    merge_map(Map::new(), patch, path, keys)
}

/// `$retainKeys`: keeps only the listed fields of the original; the patch may set no others.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retain) = retain else { return Err(bad("invalid patch format of retainKeys")) };
    let retain: HashSet<&str> = retain.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch.iter() {
        if value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if !retain.contains(key.as_str()) {
            return Err(bad("invalid patch format of retainKeys"));
        }
    }
    original.retain(|key, _| retain.contains(key.as_str()));
    Ok(())
}

/// `$deleteFromPrimitiveList/<field>`: removes these values from the list.
fn delete_from_primitive_list(original: &mut Map<String, Value>, name: &str, values: &Value) -> Result<(), PatchError> {
    let Value::Array(values) = values else { return Err(bad("invalid patch format of primitive list")) };
    if let Some(Value::Array(items)) = original.get_mut(name) {
        items.retain(|item| !values.contains(item));
    }
    Ok(())
}

/// Merges a list field by its strategy (the patch list replaces lists without a merge key).
pub(super) fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    path: &mut Vec<String>,
    keys: &dyn ListKeys,
) -> Result<Vec<Value>, PatchError> {
    match strategy(keys, path) {
        Strategy::Merge(key) => merge_list(original, patch, key.as_deref(), path, keys),
        Strategy::Replace => replaced_list(patch, path, keys),
    }
}

/// A list the patch sets as it is, with directives in its maps carried out.
fn replaced_list(patch: Vec<Value>, path: &mut Vec<String>, keys: &dyn ListKeys) -> Result<Vec<Value>, PatchError> {
    let mut out = Vec::with_capacity(patch.len());
    for item in patch {
        if item.get(DIRECTIVE).is_some() {
            continue;
        }
        if let Some(item) = new_value(item, path, keys)? {
            out.push(item);
        }
    }
    Ok(out)
}

/// A merged list (`patchStrategy: merge`): items with the merge key merge into the item with the
/// same key or are added, `$patch: delete` items remove, `$patch: replace` replaces; primitives
/// are merged as a set. Then ordered as the server orders it.
fn merge_list(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: Option<&str>,
    path: &mut Vec<String>,
    keys: &dyn ListKeys,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let all_maps = check_element_kinds(&original, &patch)?;
    if !all_maps {
        let mut merged = original.clone();
        for item in &patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        return Ok(ordered(merged, &patch, &original, None));
    }
    let Some(key) = key else {
        return Err(bad("cannot merge lists without merge key for type map"));
    };
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE) {
            None => plain.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let Some(value) = item.get(key) else { return Err(no_merge_key(&item, key)) };
                    original.retain(|o| o.get(key) != Some(value));
                }
                Some("replace") => replace = true,
                Some("merge") => return Err(bad("merging lists cannot yet be specified in the patch")),
                _ => return Err(bad(format!("unknown patch type: {directive} in map: {item}"))),
            },
        }
    }
    if replace {
        let mut out = Vec::with_capacity(plain.len());
        for item in plain {
            if let Some(item) = new_value(item, path, keys)? {
                out.push(item);
            }
        }
        return Ok(out);
    }
    let before = original.clone();
    for item in &plain {
        let Some(value) = item.get(key) else { return Err(no_merge_key(item, key)) };
        let Value::Object(item_map) = item else { return Err(no_merge_key(item, key)) };
        match original.iter().position(|o| o.get(key) == Some(value)) {
            Some(at) => {
                let existing = std::mem::take(&mut original[at]);
                let existing = existing.as_object().cloned().unwrap_or_default();
                original[at] = Value::Object(merge_map(existing, item_map.clone(), path, keys)?);
            }
            None => {
                if let Some(added) = new_value(item.clone(), path, keys)? {
                    original.push(added);
                }
            }
        }
    }
    Ok(ordered(original, &plain, &before, Some(key)))
}

/// The error for a list item without its merge key.
pub(super) fn no_merge_key(item: &Value, key: &str) -> PatchError {
    bad(format!("map: {item} does not contain declared merge key: {key}"))
}

/// Whether every element is a map (errors on mixed kinds and on lists of lists).
fn check_element_kinds(original: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut kinds = original.iter().chain(patch).map(|v| match v {
        Value::Object(_) => Ok(true),
        Value::Array(_) => Err(bad("lists of lists are not supported")),
        _ => Ok(false),
    });
    let Some(first) = kinds.next() else { return Ok(false) };
    let first = first?;
    for kind in kinds {
        if kind? != first {
            return Err(bad("list element types are not identical"));
        }
    }
    Ok(first)
}
