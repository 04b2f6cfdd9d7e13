//! Comparing two objects field by field (structured-merge-diff's compare): which paths were
//! added, changed and removed, as updates record them.

use super::fieldset::{Element, FieldSet};
use super::keys::{ListKeys, ListType};
use super::typed::{At, item_elements};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What changed between two objects: paths added, changed (scalars and atomic values) and
/// removed. Maps and lists count as added or removed as a whole when one side lacks them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Added and modified paths: what a writer now sets.
    pub(crate) fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// The comparison without the subtree under a top-level step.
    pub(crate) fn without_top(&self, element: &str) -> Comparison {
        Comparison {
            added: self.added.without_top(element),
            modified: self.modified.without_top(element),
            removed: self.removed.without_top(element),
        }
    }
}

/// Compares `old` with `new`.
pub(crate) fn compare(old: &Value, new: &Value, keys: &dyn ListKeys) -> Comparison {
    let mut out = Comparison::default();
    compare_at(Some(old), Some(new), &mut At::new(keys), &mut out);
    out
}

fn is_map_or_null(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null) | Some(Value::Object(_)))
}

fn is_list_or_null(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null) | Some(Value::Array(_)))
}

fn compare_at(old: Option<&Value>, new: Option<&Value>, at: &mut At, out: &mut Comparison) {
    let any_map = matches!(old, Some(Value::Object(_))) || matches!(new, Some(Value::Object(_)));
    let any_list = matches!(old, Some(Value::Array(_))) || matches!(new, Some(Value::Array(_)));
    if any_map && is_map_or_null(old) && is_map_or_null(new) && !at.atomic_map() {
        let empty = Map::new();
        let o = old.and_then(Value::as_object).unwrap_or(&empty);
        let n = new.and_then(Value::as_object).unwrap_or(&empty);
        if o.is_empty() && n.is_empty() {
            return compare_leaf(old, new, at, out);
        }
        let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for name in names {
            at.enter_field(name);
            compare_at(o.get(name), n.get(name), at, out);
            at.leave_field();
        }
        return compare_whole(old, new, at, out);
    }
    if any_list && is_list_or_null(old) && is_list_or_null(new) {
        let list = at.list_type();
        if list != ListType::Atomic {
            let o = old.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let n = new.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            if o.is_empty() && n.is_empty() {
                return compare_leaf(old, new, at, out);
            }
            let o_items = keyed_items(&list, o);
            let n_items = keyed_items(&list, n);
            let elements: BTreeSet<&Element> = o_items.keys().chain(n_items.keys()).collect();
            for element in elements {
                at.path.push(element.clone());
                compare_at(o_items.get(element).copied(), n_items.get(element).copied(), at, out);
                at.path.pop();
            }
            return compare_whole(old, new, at, out);
        }
    }
    compare_leaf(old, new, at, out);
}

/// The items of a list by their step (the first of duplicates wins).
fn keyed_items<'v>(list: &ListType, items: &'v [Value]) -> BTreeMap<Element, &'v Value> {
    let mut out = BTreeMap::new();
    for (element, item) in item_elements(list, items).into_iter().zip(items) {
        if let Some(element) = element {
            out.entry(element).or_insert(item);
        }
    }
    out
}

fn compare_leaf(old: Option<&Value>, new: Option<&Value>, at: &At, out: &mut Comparison) {
    match (old, new) {
        (None, Some(_)) => out.added.insert(&at.path),
        (Some(_), None) => out.removed.insert(&at.path),
        (Some(o), Some(n)) if o != n => out.modified.insert(&at.path),
        _ => {}
    }
}

/// A map or list that one side lacks is itself added or removed.
fn compare_whole(old: Option<&Value>, new: Option<&Value>, at: &At, out: &mut Comparison) {
    match (old, new) {
        (None, Some(_)) => out.added.insert(&at.path),
        (Some(_), None) => out.removed.insert(&at.path),
        _ => {}
    }
}
