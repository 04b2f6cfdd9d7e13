//! Tests of the patchers against real Kubernetes behaviour.

mod apply;
mod fieldset;
mod json;
mod keys;
mod strategic;
mod update;

use serde_json::{Value, json};

/// A Deployment as kubectl would send it.
pub(super) fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

/// The managedFields entry of `manager` (and operation) in `object`.
pub(super) fn entry<'v>(object: &'v Value, manager: &str, operation: &str) -> Option<&'v Value> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

/// The managers recorded on `object`, in order.
pub(super) fn managers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|e| e["manager"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

/// Takes `metadata.labels` off `object`.
pub(super) fn remove_labels(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("labels");
    }
}
