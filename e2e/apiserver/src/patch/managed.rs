//! `metadata.managedFields`: reading and writing its entries, telling managers apart the way the
//! API server does, and the upkeep it does on them (fields nobody may own, the cap on updaters).

use super::fieldset::{FieldSet, field};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The operation of an apply entry.
pub(crate) const APPLY: &str = "Apply";
/// The operation of an update entry.
pub(crate) const UPDATE: &str = "Update";
/// The most update entries kept; older ones are folded into one.
const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager older update entries are folded into.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Who a managedFields entry belongs to. Appliers are one manager whatever apiVersion they used;
/// updaters are told apart by apiVersion too.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ManagerId {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) subresource: String,
    pub(crate) api_version: String,
}

impl ManagerId {
    /// The identity of `manager` doing `operation` through `subresource` at `api_version`.
    pub(crate) fn new(manager: &str, operation: &str, subresource: Option<&str>, api_version: &str) -> Self {
        Self {
            manager: manager.to_string(),
            operation: operation.to_string(),
            subresource: subresource.unwrap_or_default().to_string(),
            api_version: if operation == APPLY { String::new() } else { api_version.to_string() },
        }
    }

    /// The manager as conflict messages name it: `"kubectl"`, or
    /// `"kubectl-client-side-apply" using apps/v1` for an updater.
    pub(crate) fn display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// One managedFields entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
    pub(crate) set: FieldSet,
}

/// The managedFields of an object, by manager.
#[derive(Clone, Debug, Default)]
pub(crate) struct Managed {
    pub(crate) entries: BTreeMap<ManagerId, Entry>,
}

impl Managed {
    /// Reads `metadata.managedFields` of `object`. Entries that do not parse are dropped, and
    /// entries of the same manager are joined.
    pub(crate) fn of(object: &Value) -> Managed {
        Self::decode(object.pointer("/metadata/managedFields"))
    }

    /// Reads a managedFields list.
    pub(crate) fn decode(list: Option<&Value>) -> Managed {
        let mut out = Managed::default();
        let Some(Value::Array(items)) = list else { return out };
        for item in items {
            let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            let operation = text("operation");
            if text("fieldsType") != "FieldsV1" || (operation != APPLY && operation != UPDATE) {
                continue;
            }
            let Ok(set) = FieldSet::from_fields_v1(item.get("fieldsV1").unwrap_or(&json!({}))) else { continue };
            let subresource = text("subresource");
            let api_version = text("apiVersion");
            let id = ManagerId::new(&text("manager"), &operation, Some(&subresource), &api_version);
            let time = item.get("time").and_then(Value::as_str).map(str::to_string);
            match out.entries.get_mut(&id) {
                Some(entry) => entry.set = entry.set.union(&set),
                None => {
                    out.entries.insert(id, Entry { api_version, time, set });
                }
            }
        }
        out
    }

    /// Whether no manager owns anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops managers that own nothing.
    pub(crate) fn drop_empty(&mut self) {
        self.entries.retain(|_, entry| !entry.set.is_empty());
    }

    /// Takes out of every set the fields the API server never records an owner for.
    pub(crate) fn strip_system_fields(&mut self) {
        let stripped = system_fields();
        for entry in self.entries.values_mut() {
            entry.set = entry.set.difference(&stripped);
        }
        self.drop_empty();
    }

    /// Folds the oldest update entries into `ancient-changes` while there are more than ten.
    pub(crate) fn cap_updaters(&mut self) {
        let mut updaters: Vec<ManagerId> = self.entries.keys().filter(|id| id.operation == UPDATE).cloned().collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let time = |id: &ManagerId| self.entries.get(id).and_then(|e| e.time.clone()).unwrap_or_default();
            time(a).cmp(&time(b)).then_with(|| a.cmp(b))
        });
        let mut count = updaters.len();
        let mut first_of_version: BTreeMap<String, ManagerId> = BTreeMap::new();
        for id in updaters {
            if count <= MAX_UPDATE_MANAGERS {
                break;
            }
            let Some(entry) = self.entries.get(&id).cloned() else { continue };
            let bucket = ManagerId::new(ANCIENT_CHANGES, UPDATE, None, &entry.api_version);
            let Some(first) = first_of_version.get(&entry.api_version).cloned() else {
                first_of_version.insert(entry.api_version.clone(), id);
                continue;
            };
            if !self.entries.contains_key(&bucket)
                && let Some(moved) = self.entries.remove(&first)
            {
                self.entries.insert(bucket.clone(), moved);
            }
            self.entries.remove(&id);
            if let Some(target) = self.entries.get_mut(&bucket) {
                target.set = target.set.union(&entry.set);
                target.time = entry.time.clone();
            }
            count -= 1;
        }
    }

    /// The managedFields list, ordered as the API server orders it: by operation, time, manager,
    /// apiVersion and subresource.
    pub(crate) fn encode(&self) -> Value {
        let mut entries: Vec<(&ManagerId, &Entry)> = self.entries.iter().collect();
        entries.sort_by(|(a, ea), (b, eb)| {
            a.operation
                .cmp(&b.operation)
                .then_with(|| ea.time.clone().unwrap_or_default().cmp(&eb.time.clone().unwrap_or_default()))
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| ea.api_version.cmp(&eb.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        Value::Array(
            entries
                .into_iter()
                .map(|(id, entry)| {
                    let mut object = Map::new();
                    object.insert("manager".into(), json!(id.manager));
                    object.insert("operation".into(), json!(id.operation));
                    object.insert("apiVersion".into(), json!(entry.api_version));
                    if let Some(time) = &entry.time {
                        object.insert("time".into(), json!(time));
                    }
                    object.insert("fieldsType".into(), json!("FieldsV1"));
                    object.insert("fieldsV1".into(), entry.set.to_fields_v1());
                    if !id.subresource.is_empty() {
                        object.insert("subresource".into(), json!(id.subresource));
                    }
                    Value::Object(object)
                })
                .collect(),
        )
    }

    /// Writes the entries into `object`'s metadata (removing the list when there are none).
    pub(crate) fn write_to(&self, object: &mut Value) {
        if !object.is_object() {
            return;
        }
        if self.is_empty() {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            return;
        }
        if !object.get("metadata").is_some_and(Value::is_object) {
            object["metadata"] = json!({});
        }
        object["metadata"]["managedFields"] = self.encode();
    }
}

/// The fields nobody is recorded as owning: identity and server-set metadata.
fn system_fields() -> FieldSet {
    let mut set = FieldSet::new();
    set.insert(&[field("apiVersion")]);
    set.insert(&[field("kind")]);
    set.insert(&[field("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

/// `object` without `metadata.managedFields`.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    out
}

/// The top-level field a write through `subresource` neither changes nor owns: `status` for the
/// main resource (when it is a subresource), `spec` for the status subresource.
pub(crate) fn ignored_top_field(subresource: Option<&str>, status_is_subresource: bool) -> Option<&'static str> {
    match subresource {
        None if status_is_subresource => Some("status"),
        Some("status") => Some("spec"),
        _ => None,
    }
}
