//! Server-side printing: the `Table` kubectl asks for with `as=Table`.

use super::registry::ResourceType;
use serde_json::{Value, json};

/// A Table of objects of one type.
pub fn table_for(_rt: &ResourceType, objects: &[Value], _now: i64) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": [o["metadata"]["name"], ""], "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}}))
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
        ],
        "rows": rows,
    })
}
