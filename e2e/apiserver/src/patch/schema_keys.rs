//! Merge metadata of a custom resource, read from its CRD's `openAPIV3Schema`:
//! `x-kubernetes-list-type` (`map` with `x-kubernetes-list-map-keys`, `set`, default `atomic`) and
//! `x-kubernetes-map-type: atomic`.

use super::keys::{ListKeys, ListType, MapKey, object_meta_rules};
use serde_json::Value;

/// The merge metadata of a custom resource, from the CRD version's `openAPIV3Schema`.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaListKeys {
    schema: Value,
    status_subresource: bool,
}

impl SchemaListKeys {
    /// Reads `schema` (the `openAPIV3Schema` of one CRD version). The version is taken to have
    /// a status subresource; see [`SchemaListKeys::with_status_subresource`].
    pub fn new(schema: Value) -> Self {
        Self { schema, status_subresource: true }
    }

    /// Says whether the CRD version has `subresources.status`. Without it `status` is an ordinary
    /// field of the main resource.
    pub fn with_status_subresource(mut self, enabled: bool) -> Self {
        self.status_subresource = enabled;
        self
    }

    /// The schema node of the value at `path` (array schemas stepped through into `items`).
    fn node(&self, path: &[&str]) -> Option<&Value> {
        let mut node = &self.schema;
        for name in path {
            node = items_of(node);
            node = match node.get("properties").and_then(|p| p.get(*name)) {
                Some(child) => child,
                None => match node.get("additionalProperties") {
                    Some(child @ Value::Object(_)) => child,
                    _ => return None,
                },
            };
        }
        Some(node)
    }
}

/// The schema of the items of an array schema (through nested arrays), or the schema itself.
fn items_of(mut node: &Value) -> &Value {
    while node.get("type").and_then(Value::as_str) == Some("array") {
        match node.get("items") {
            Some(items) => node = items,
            None => break,
        }
    }
    node
}

impl ListKeys for SchemaListKeys {
    fn merge_key(&self, path: &[&str]) -> Option<Vec<String>> {
        match self.list_type(path) {
            ListType::Atomic => None,
            ListType::Set => Some(Vec::new()),
            ListType::Map(keys) => Some(keys.into_iter().map(|k| k.name).collect()),
        }
    }

    fn list_type(&self, path: &[&str]) -> ListType {
        if path.first() == Some(&"metadata") {
            return object_meta_rules().list_type(path);
        }
        let Some(node) = self.node(path) else { return ListType::Atomic };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => {
                let Some(names) = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array) else {
                    return ListType::Atomic;
                };
                let item_props = node.get("items").and_then(|i| i.get("properties"));
                let keys: Vec<MapKey> = names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|name| MapKey {
                        name: name.to_string(),
                        default: item_props.and_then(|p| p.get(name)).and_then(|p| p.get("default")).cloned(),
                    })
                    .collect();
                if keys.is_empty() { ListType::Atomic } else { ListType::Map(keys) }
            }
            _ => ListType::Atomic,
        }
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        if path.first() == Some(&"metadata") {
            return object_meta_rules().is_atomic_map(path);
        }
        let Some(node) = self.node(path) else { return false };
        items_of(node).get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
    }

    fn status_is_subresource(&self) -> bool {
        self.status_subresource
    }
}
