//! Serving one stored object at another version: custom resources differ only in their
//! apiVersion (the CRD conversion strategy `None`); events.k8s.io/v1 Events are core v1
//! Events with renamed fields, as in Kubernetes, so `kubectl get events` shows what a
//! controller recorded through either API.

use super::registry::ResourceType;
use serde_json::{Map, Value, json};

/// Field renames between core v1 (left) and events.k8s.io/v1 (right).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn rename(object: Value, from_core: bool) -> Value {
    let Value::Object(map) = object else { return object };
    let mut out = Map::new();
    for (key, value) in map {
        let renamed = EVENT_FIELDS
            .iter()
            .find(|(core, new)| if from_core { core == &key } else { new == &key })
            .map(|(core, new)| if from_core { new.to_string() } else { core.to_string() })
            .unwrap_or(key);
        out.insert(renamed, value);
    }
    Value::Object(out)
}

/// The stored object as served by `rt`.
pub fn to_version(rt: &ResourceType, object: Value) -> Value {
    let mut object = if rt.group == "events.k8s.io" { rename(object, true) } else { object };
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(rt.api_version()));
    }
    object
}

/// An object sent to `rt` as it is stored.
pub fn to_storage(rt: &ResourceType, object: Value) -> Value {
    if rt.group != "events.k8s.io" {
        return object;
    }
    let mut object = rename(object, false);
    let Some(map) = object.as_object_mut() else { return object };
    map.insert("apiVersion".into(), json!("v1"));
    // A core Event always names when it happened.
    if object.get("lastTimestamp").is_none_or(Value::is_null)
        && let Some(time) = object.get("eventTime").cloned()
    {
        object["lastTimestamp"] = time.clone();
        object["firstTimestamp"] = time;
    }
    object
}
