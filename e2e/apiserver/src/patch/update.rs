//! Recording who changed what on create, update and non-apply patches: the `Update` entries of
//! `metadata.managedFields`.

use super::compare::compare;
use super::fieldset::{FieldSet, field};
use super::keys::ListKeys;
use super::managed::{Entry, Managed, ManagerId, ignored_top_field, without_managed_fields};
use serde_json::Value;

/// Records that `manager` wrote `new` over `old` (`None` for a create) and returns `new` with its
/// `metadata.managedFields` brought up to date, as the API server does on create, update and
/// JSON/merge/strategic patch. `operation` is `"Update"`; `subresource` is `Some("status")` for
/// writes through the status subresource.
///
/// Like the API server:
/// - the fields the write added or changed become the manager's and are taken from every other
///   manager, fields it removed are taken from everyone, and managers left owning nothing go;
///   the entry's `time` moves only when the write changed something it now owns;
/// - `status` changes on the main resource and `spec` changes through the status subresource are
///   not recorded; identity and server-set metadata never are;
/// - managedFields sent in `new` replace the stored ones (an empty list, or a list of one empty
///   entry, clears them), except through a subresource; absent or unreadable ones keep `old`'s;
/// - an existing object without managedFields is not tracked (it stays without them);
/// - more than ten update entries are folded, oldest first, into `ancient-changes`.
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: &str,
    subresource: Option<&str>,
    keys: &dyn ListKeys,
    now: &str,
) -> Value {
    let mut managed = starting_managed(old, new, subresource);
    let mut result = without_managed_fields(new);
    if managed.is_empty() && old.is_some() {
        return result;
    }
    let before = match old {
        Some(old) => without_managed_fields(old),
        None => keys.empty_object(),
    };
    let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let id = ManagerId::new(manager, operation, subresource, api_version);
    let ignored = ignored_top_field(subresource, keys.status_is_subresource());
    track_update(&mut managed, &before, &result, id, api_version, ignored, keys, now);
    managed.strip_system_fields();
    managed.cap_updaters();
    managed.write_to(&mut result);
    result
}

/// The managedFields an update starts from (the API server's `decodeLiveOrNew`).
fn starting_managed(old: Option<&Value>, new: &Value, subresource: Option<&str>) -> Managed {
    let stored = || old.map(Managed::of).unwrap_or_default();
    if subresource.is_some() {
        return stored();
    }
    let sent = new.pointer("/metadata/managedFields");
    if is_reset(sent) {
        return Managed::default();
    }
    let decoded = Managed::decode(sent);
    if decoded.is_empty() { stored() } else { decoded }
}

/// Whether a client asked to clear managedFields: `[]` or `[{}]`.
fn is_reset(sent: Option<&Value>) -> bool {
    match sent.and_then(Value::as_array) {
        Some(items) if items.is_empty() => true,
        Some(items) => items.len() == 1 && items[0].as_object().is_some_and(|o| o.is_empty()),
        None => false,
    }
}

/// Gives `id` the fields that changed from `before` to `after`, taking them from the other
/// managers along with the fields that went away.
#[allow(clippy::too_many_arguments)]
pub(crate) fn track_update(
    managed: &mut Managed,
    before: &Value,
    after: &Value,
    id: ManagerId,
    api_version: &str,
    ignored: Option<&str>,
    keys: &dyn ListKeys,
    now: &str,
) {
    let mut comparison = compare(before, after, keys);
    if let Some(top) = ignored {
        comparison = comparison.without_top(&field(top));
    }
    let changed = comparison.changed();
    for entry in managed.entries.values_mut() {
        entry.set = entry.set.difference(&changed).difference(&comparison.removed);
    }
    managed.drop_empty();
    let mut mine = Managed::default();
    mine.entries.insert(id.clone(), Entry { api_version: api_version.to_string(), time: None, set: changed });
    mine.strip_system_fields();
    let Some(Entry { set, .. }) = mine.entries.remove(&id) else { return };
    let entry = managed.entries.entry(id).or_insert_with(|| Entry {
        api_version: api_version.to_string(),
        time: None,
        set: FieldSet::new(),
    });
    entry.set = entry.set.union(&set);
    entry.api_version = api_version.to_string();
    entry.time = Some(now.to_string());
}
