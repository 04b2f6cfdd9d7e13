//! Merging an applied configuration into an object the way server-side apply does
//! (structured-merge-diff's merge): maps field by field, sets and keyed lists item by item in
//! its order, everything else replaced.

use super::fieldset::Element;
use super::keys::{ListKeys, ListType};
use super::typed::{At, item_element, item_elements, without_nulls};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};

/// `config` merged into `live` the way apply does: maps merged field by field, sets and keyed
/// lists item by item (in structured-merge-diff's order), everything else replaced. `config`
/// must have passed `field_set(.., strict)`.
pub(crate) fn merge(live: &Value, config: &Value, keys: &dyn ListKeys) -> Value {
    merge_at(live, config, &mut At::new(keys))
}

fn merge_at(live: &Value, config: &Value, at: &mut At) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !at.atomic_map() => {
            let mut out = l.clone();
            for (name, value) in c {
                if value.is_null() {
                    out.remove(name);
                    continue;
                }
                at.enter_field(name);
                let merged = match l.get(name) {
                    Some(existing) => merge_at(existing, value, at),
                    None => without_nulls(value),
                };
                at.leave_field();
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => {
            let list = at.list_type();
            if list == ListType::Atomic { without_nulls(config) } else { Value::Array(merge_lists(l, c, &list, at)) }
        }
        _ => without_nulls(config),
    }
}

/// Structured-merge-diff's list merge: items only in `live` keep their place, items of
/// `config` come in its order, and shared items are merged.
fn merge_lists(live: &[Value], config: &[Value], list: &ListType, at: &mut At) -> Vec<Value> {
    let lhs = item_elements(list, live);
    let rhs: Vec<Element> = config.iter().map(|item| item_element(list, item).unwrap_or_default()).collect();
    // The live item of each key, or None when the key appears more than once.
    let mut observed_lhs: HashMap<&Element, Option<usize>> = HashMap::new();
    for (i, element) in lhs.iter().enumerate() {
        if let Some(element) = element {
            observed_lhs.entry(element).and_modify(|seen| *seen = None).or_insert(Some(i));
        }
    }
    let observed_rhs: HashMap<&Element, usize> = rhs.iter().enumerate().map(|(i, e)| (e, i)).collect();
    let mut shared: VecDeque<&Element> = rhs.iter().filter(|e| observed_lhs.contains_key(e)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: HashSet<&Element> = HashSet::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let merge_item = |l: Option<&Value>, r: &Value, at: &mut At| match l {
        Some(l) => merge_at(l, r, at),
        None => without_nulls(r),
    };
    let (mut li, mut ri) = (0, 0);
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            if lhs[li].as_ref() == Some(&rhs[ri]) {
                merged_rhs.insert(&rhs[ri]);
                let l = observed_lhs.get(&rhs[ri]).copied().flatten().map(|i| &live[i]);
                out.push(merge_item(l, &config[ri], at));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if let Some(element) = &lhs[li]
                && observed_rhs.contains_key(element)
                && next_shared.is_some_and(|n| n != element)
            {
                // A shared item, but not the one due now: it comes with its config item.
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            match &lhs[li] {
                Some(element) if observed_rhs.contains_key(element) => {
                    if merged_rhs.contains(element) {
                        li += 1;
                        continue;
                    }
                }
                _ => {
                    out.push(live[li].clone());
                    li += 1;
                    continue;
                }
            }
        }
        if ri < rhs.len() {
            let element = &rhs[ri];
            merged_rhs.insert(element);
            let l = observed_lhs.get(element).copied().flatten().map(|i| &live[i]);
            out.push(merge_item(l, &config[ri], at));
            ri += 1;
            if next_shared == Some(element) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}
