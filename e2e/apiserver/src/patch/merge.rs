//! JSON merge patch (RFC 7386, `application/merge-patch+json`): objects merge, `null` deletes,
//! anything else replaces.

use serde_json::{Map, Value};

/// Applies the merge patch `patch` to `target` in place.
pub fn json_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            json_merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
