//! The order strategic merge patch leaves a merged list in, and the `$setElementOrder/<field>`
//! directive that sets it (apimachinery's `normalizeElementOrder` and `mergeSortedSlice`).

use super::PatchError;
use super::keys::ListKeys;
use super::strategic::{DIRECTIVE, SET_ELEMENT_ORDER, Strategy, bad, merge_list_field, no_merge_key, strategy};
use serde_json::{Map, Value};

/// What identifies an item for ordering: its merge key's value, or a primitive itself.
fn identity<'v>(item: &'v Value, key: Option<&str>) -> Option<&'v Value> {
    match key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

/// Where `item` is in `list`, by identity.
fn position(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let id = identity(item, key)?;
    list.iter().position(|other| identity(other, key) == Some(id))
}

/// The server's order for a merged list: the items named in `patch_order` in that order,
/// the others in their `server_order`, interleaved where both orders place them.
pub(super) fn ordered(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut patch_items, mut server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|item| position(patch_order, item, key).is_some());
    sort_by_order(&mut patch_items, patch_order, key);
    sort_by_order(&mut server_only, server_order, key);
    merge_sorted(server_only, patch_items, server_order, key)
}

/// Sorts `items` by where `order` has them (stable; items it lacks go last).
fn sort_by_order(items: &mut [Value], order: &[Value], key: Option<&str>) {
    items.sort_by_key(|item| position(order, item, key).unwrap_or(usize::MAX));
}

/// Inserts the `left` items among the `right` ones, a left item going first only where the
/// server order puts it before the right item (apimachinery's `mergeSortedSlice`).
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server_order: &[Value], key: Option<&str>) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (position(server_order, l, key), position(server_order, r, key)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// `$setElementOrder/<field>`: merges that field's patch list (if any) and puts the items in the
/// given order, leaving items the order does not name where the server order puts them.
pub(super) fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    path: &mut Vec<String>,
    keys: &dyn ListKeys,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive in directives {
        let Some(order) = patch.remove(&directive) else { continue };
        let Value::Array(order) = order else { return Err(bad("invalid patch format of setElementOrder list")) };
        let name = directive[SET_ELEMENT_ORDER.len()..].to_string();
        if name.is_empty() {
            return Err(bad("invalid patch format of setElementOrder list"));
        }
        let existing = match original.get(&name) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => return Err(bad(format!("{name} is not a list, but $setElementOrder/{name} orders it"))),
        };
        let patch_list = match patch.remove(&name) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(_) => return Err(bad("invalid patch format of setElementOrder list")),
        };
        path.push(name.clone());
        let key = match strategy(keys, path) {
            Strategy::Merge(key) => key,
            Strategy::Replace => None,
        };
        if let Some(patch_list) = &patch_list {
            check_order(patch_list, &order, key.as_deref())?;
        }
        let server_order = existing.clone().unwrap_or_default();
        let merged = match (existing, patch_list) {
            (Some(existing), None) => existing,
            (None, Some(patch_list)) => merge_list_field(Vec::new(), patch_list, path, keys)?,
            (Some(existing), Some(patch_list)) => merge_list_field(existing, patch_list, path, keys)?,
            (None, None) => {
                path.pop();
                continue;
            }
        };
        path.pop();
        original.insert(name, Value::Array(ordered(merged, &order, &server_order, key.as_deref())));
    }
    Ok(())
}

/// The patch list must name its items in the relative order of `$setElementOrder`, which must
/// name them all.
fn check_order(patch_list: &[Value], order: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch_list
        .iter()
        .filter(|item| key.is_none() || item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if key.is_some() && items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let same = match key {
            Some(key) => {
                let Some(a) = items[p].get(key) else { return Err(no_merge_key(items[p], key)) };
                let Some(b) = order[o].get(key) else { return Err(no_merge_key(&order[o], key)) };
                a == b
            }
            None => items[p] == &order[o],
        };
        if same {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch_list.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}
