//! What the control plane does around writes of particular kinds: a CustomResourceDefinition
//! starts (or stops) serving its kind; deleting a namespace deletes what is in it.

use super::Cluster;
use super::errors::ApiError;
use super::objects;
use super::registry::ResourceType;
use serde_json::{Value, json};

fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition"
}

fn is_namespace(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.kind == "Namespace"
}

/// Checks and completes an object about to be created.
pub fn on_create(_cluster: &Cluster, rt: &ResourceType, mut object: Value) -> Result<Value, ApiError> {
    if is_namespace(rt) {
        object["status"] = json!({"phase": "Active"});
        if object.pointer("/spec/finalizers").is_none() {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
    }
    if is_crd(rt) {
        let name = objects::name_of(&object).unwrap_or_default().to_owned();
        let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        let plural = object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
        let mut causes = Vec::new();
        if name != format!("{plural}.{group}") {
            causes.push(json!({"reason": "FieldValueInvalid", "field": "metadata.name",
                "message": format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group")}));
        }
        let versions = object.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
        let storage: Vec<&str> =
            versions.iter().filter(|v| v["storage"] == json!(true)).filter_map(|v| v["name"].as_str()).collect();
        if storage.len() != 1 {
            causes.push(json!({"reason": "FieldValueInvalid", "field": "spec.versions",
                "message": "Invalid value: must have exactly one version marked as storage version"}));
        }
        if !causes.is_empty() {
            let detail: Vec<String> = causes
                .iter()
                .map(|c| format!("{}: {}", c["field"].as_str().unwrap_or(""), c["message"].as_str().unwrap_or("")))
                .collect();
            let message =
                format!("CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: [{}]", detail.join(", "));
            return Err(ApiError::invalid(&rt.qualified_kind(), &name, message, causes));
        }
        let now = objects::now_rfc3339();
        let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now});
        object["status"] = json!({
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": object["spec"]["names"].clone(),
            "storedVersions": storage,
        });
    }
    Ok(object)
}

/// Reacts to an object having been written.
pub fn after_write(cluster: &Cluster, rt: &ResourceType, stored: &Value) {
    if is_crd(rt) {
        let deleting = stored.pointer("/metadata/deletionTimestamp").is_some();
        cluster.registry.sync_crd(stored, !deleting);
    }
}

/// Runs before an object is deleted.
pub fn before_delete(cluster: &Cluster, rt: &ResourceType, object: &Value) {
    if is_crd(rt) {
        let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        let plural = object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
        for (key, _) in cluster.store.snapshot() {
            if key.group == group && key.resource == plural {
                // Custom resources of a deleted definition go, finalizers or not.
                cluster.store.remove(&key);
            }
        }
    }
}

/// Runs after an object was deleted (or marked for deletion).
pub fn after_delete(cluster: &Cluster, rt: &ResourceType, last: &Value) {
    if is_crd(rt) {
        cluster.registry.sync_crd(last, false);
    }
    if rt.group.is_empty() && rt.kind == "Pod" {
        let ns = last.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        cluster.store.drop_logs(ns, objects::name_of(last).unwrap_or_default());
    }
}
