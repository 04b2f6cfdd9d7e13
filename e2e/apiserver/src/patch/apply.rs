//! Server-side apply (`application/apply-patch+yaml`): merging an applied configuration into the
//! live object, pruning what the applier stopped applying, detecting conflicts with other
//! managers and recording the applier's fields in `metadata.managedFields`.

use super::compare::compare;
use super::fieldset::{Element, FieldSet, display_path, field};
use super::keys::ListKeys;
use super::managed::{APPLY, Entry, Managed, ManagerId, UPDATE, ignored_top_field, without_managed_fields};
use super::typed::{field_set, remove};
use super::typed_merge::merge;
use super::update::track_update;
use serde_json::{Value, json};

/// The annotation client-side `kubectl apply` keeps its last configuration in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The most bytes all annotations of an object may take.
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
/// Metadata the server sets, never taken from an applied configuration.
const SERVER_METADATA: [&str; 6] =
    ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"];

/// A field an apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// How it came to own the field: `Apply` or `Update`.
    pub operation: String,
    /// The apiVersion it used (only told for `Update`).
    pub api_version: String,
    /// The subresource it wrote through, if any.
    pub subresource: Option<String>,
    /// The field as Kubernetes prints it, e.g. `.spec.replicas`.
    pub field: String,
}

impl Conflict {
    /// The manager as the API server names it: `"kubectl"` for an applier,
    /// `"kubectl-client-side-apply" using apps/v1` for an updater.
    pub fn manager_display(&self) -> String {
        let id = ManagerId::new(&self.manager, &self.operation, self.subresource.as_deref(), &self.api_version);
        id.display()
    }
}

/// The conflicts that failed an apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// The API server's message, e.g. `Apply failed with 1 conflict: conflict with
    /// "kubectl-client-side-apply" using apps/v1: .spec.replicas`.
    pub fn message(&self) -> String {
        if let [one] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager_display(), one.field);
        }
        let mut lines = Vec::new();
        let mut current: Option<String> = None;
        for conflict in &self.0 {
            let manager = conflict.manager_display();
            if current.as_ref() != Some(&manager) {
                lines.push(format!("conflicts with {manager}:"));
                current = Some(manager);
            }
            lines.push(format!("- {}", conflict.field));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }

    /// The `details.causes` of the 409 Status: one `FieldManagerConflict` per field.
    pub fn causes(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|c| {
                    json!({
                        "type": "FieldManagerConflict",
                        "message": format!("conflict with {}", c.manager_display()),
                        "field": c.field,
                    })
                })
                .collect(),
        )
    }
}

impl std::fmt::Display for Conflicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Conflicts {}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the apply would change (HTTP 409 Conflict); retry with force to
    /// take them.
    #[error("{0}")]
    Conflicts(Conflicts),
    /// The applied configuration is not a valid object of the kind: not a map, managedFields set,
    /// a keyed list item without its key, duplicate items. The API server fails such an apply
    /// (`failed to create typed patch object ...`).
    #[error("{0}")]
    Invalid(String),
}

/// Applies `applied` to the main resource as `manager` (server-side apply) and returns the new
/// object with its managedFields; `live` is `None` to create. `now` is the RFC 3339 time recorded.
/// See [`apply_subresource`].
#[cfg(test)]
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    keys: &dyn ListKeys,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_subresource(live, applied, manager, None, force, keys, now)
}

/// Applies `applied` as `manager` through `subresource` (`None` for the main resource,
/// `Some("status")` for the status subresource), following structured-merge-diff:
/// - the configuration is merged into the live object: maps field by field, keyed lists and sets
///   item by item, atomic lists and maps and scalars replaced; null fields are unset;
/// - the applier owns exactly the fields of its configuration (list items as `k:`/`v:` with `.`);
///   identity and server-set metadata, and `status` of the main resource (`spec` through the
///   status subresource), are neither merged nor owned;
/// - fields it applied last time and no longer applies are removed, unless another manager owns
///   them too (then only its ownership goes);
/// - a changed field another manager owns is a conflict: the apply fails listing them all, or with
///   `force` the fields move to the applier. For the manager `kubectl`, conflicts on fields that
///   still hold what the client-side `last-applied-configuration` annotation says are forced, and
///   that annotation is rewritten to the new configuration;
/// - an existing object without managedFields first gets a `before-first-apply` updater owning all
///   it has; managers left owning nothing are dropped.
#[allow(clippy::too_many_arguments)]
pub fn apply_subresource(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    keys: &dyn ListKeys,
    now: &str,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid("the applied configuration must be an object".to_string()));
    }
    if applied.pointer("/metadata/managedFields").is_some_and(|v| !v.is_null()) {
        return Err(ApplyError::Invalid("metadata.managedFields must be nil".to_string()));
    }
    let ignored = ignored_top_field(subresource, keys.status_is_subresource());
    let config = applied_config(applied, ignored);
    let config_set = field_set(&config, keys, true).map_err(|e| ApplyError::Invalid(typed_error(applied, &e)))?;
    let api_version = text(applied, "/apiVersion").or_else(|| live.and_then(|l| text(l, "/apiVersion")));
    let api_version = api_version.unwrap_or_default();

    let live_object = live.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let mut managed = live.map(Managed::of).unwrap_or_default();
    if live.is_some() && managed.is_empty() {
        // The API server gives what an untracked object already has to one updater first.
        let id = ManagerId::new("before-first-apply", UPDATE, subresource, &api_version);
        track_update(&mut managed, &keys.empty_object(), &live_object, id, &api_version, ignored, keys, now);
        managed.strip_system_fields();
    }

    let id = ManagerId::new(manager, APPLY, subresource, &api_version);
    let merged = merge(&live_object, &config, keys);
    let previous = managed.entries.remove(&id);
    let last = previous.as_ref().map(|p| p.set.clone()).unwrap_or_default();
    managed.entries.insert(id.clone(), Entry { api_version: api_version.clone(), time: None, set: config_set });
    let mut result = if last.is_empty() { merged } else { prune(&merged, &managed, &last, keys) };

    let mut comparison = compare(&live_object, &result, keys);
    if let Some(top) = ignored {
        comparison = comparison.without_top(&field(top));
    }
    let changed = comparison.changed();
    let conflicts = find_conflicts(&managed, &id, &changed);
    if !conflicts.is_empty() && !force {
        let allowed = if manager == "kubectl" { allowed_by_last_applied(&live_object, keys) } else { None };
        let remaining: Vec<(ManagerId, Vec<Element>)> = match &allowed {
            Some(allowed) => conflicts.into_iter().filter(|(_, path)| !allowed.has(path)).collect(),
            None => conflicts,
        };
        if !remaining.is_empty() {
            return Err(ApplyError::Conflicts(to_conflicts(remaining)));
        }
    }
    for (other, entry) in managed.entries.iter_mut() {
        if *other != id {
            entry.set = entry.set.difference(&changed).difference(&comparison.removed);
        }
    }
    let time = match previous {
        Some(previous) if result == live_object => previous.time,
        _ => Some(now.to_string()),
    };
    if let Some(entry) = managed.entries.get_mut(&id) {
        entry.time = time;
    }
    managed.drop_empty();
    managed.strip_system_fields();
    managed.cap_updaters();
    if manager == "kubectl" {
        update_last_applied(&mut result, applied);
    }
    managed.write_to(&mut result);
    Ok(result)
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

/// The API server's wording for a configuration that is not a valid typed object.
fn typed_error(applied: &Value, error: &str) -> String {
    let namespace = text(applied, "/metadata/namespace").unwrap_or_default();
    let name = text(applied, "/metadata/name").unwrap_or_default();
    let api_version = text(applied, "/apiVersion").unwrap_or_default();
    let kind = text(applied, "/kind").unwrap_or_default();
    format!("failed to create typed patch object ({namespace}/{name}; {api_version}, Kind={kind}): {error}")
}

/// The applied configuration without what the server ignores in it.
fn applied_config(applied: &Value, ignored: Option<&str>) -> Value {
    let mut config = applied.clone();
    if let Some(object) = config.as_object_mut()
        && let Some(top) = ignored
    {
        object.remove(top);
    }
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        for name in SERVER_METADATA {
            meta.remove(name);
        }
    }
    config
}

/// Removes from `merged` the fields the applier owned last time (`last`) that neither its new
/// configuration nor any other manager owns (structured-merge-diff's prune, with its add-backs).
fn prune(merged: &Value, managed: &Managed, last: &FieldSet, keys: &dyn ListKeys) -> Value {
    let last = last.with_named_fields();
    let first_cut = remove(merged, &last, keys);
    let owned = managed.entries.values().fold(FieldSet::new(), |all, e| all.union(&e.set)).with_named_fields();
    let merged_set = field_set(merged, keys, false).unwrap_or_default().with_named_fields();
    let cut_set = field_set(&first_cut, keys, false).unwrap_or_default().with_named_fields();
    let owned_back = remove(merged, &merged_set.difference(&cut_set.union(&owned)), keys);
    let kept = field_set(&owned_back, keys, false).unwrap_or_default().with_named_fields();
    remove(merged, &merged_set.difference(&kept).intersection(&last), keys)
}

/// Every (manager, path) another manager owns among the `changed` paths.
fn find_conflicts(managed: &Managed, applier: &ManagerId, changed: &FieldSet) -> Vec<(ManagerId, Vec<Element>)> {
    let mut out = Vec::new();
    for (id, entry) in &managed.entries {
        if id != applier {
            for path in entry.set.intersection(changed).paths() {
                out.push((id.clone(), path));
            }
        }
    }
    out
}

fn to_conflicts(found: Vec<(ManagerId, Vec<Element>)>) -> Conflicts {
    Conflicts(
        found
            .into_iter()
            .map(|(id, path)| Conflict {
                field: display_path(&path),
                subresource: (!id.subresource.is_empty()).then(|| id.subresource.clone()),
                manager: id.manager,
                operation: id.operation,
                api_version: id.api_version,
            })
            .collect(),
    )
}

/// The fields the client-side `last-applied-configuration` of `live` sets and that still hold
/// those values: conflicts on them are the user's own earlier intent.
fn allowed_by_last_applied(live: &Value, keys: &dyn ListKeys) -> Option<FieldSet> {
    let annotation = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    let last: Value = serde_json::from_str(annotation).ok()?;
    if last.get("apiVersion") != live.get("apiVersion") {
        return None;
    }
    let set = field_set(&last, keys, true).ok()?;
    let comparison = compare(&last, live, keys);
    Some(set.difference(&comparison.modified).difference(&comparison.added).difference(&comparison.removed))
}

/// Rewrites an existing client-side `last-applied-configuration` of `object` to `applied`, so
/// that client-side apply keeps working after server-side apply.
fn update_last_applied(object: &mut Value, applied: &Value) {
    let present = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !present {
        return;
    }
    let mut config = applied.clone();
    if let Some(annotations) = config.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.remove(LAST_APPLIED);
    }
    let encoded = format!("{config}\n");
    let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) else {
        return;
    };
    annotations.insert(LAST_APPLIED.to_string(), Value::String(encoded));
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
    if size > MAX_ANNOTATIONS_BYTES {
        annotations.remove(LAST_APPLIED);
    }
}
