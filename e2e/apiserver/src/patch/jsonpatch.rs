//! JSON patch (RFC 6902, `application/json-patch+json`) through the `json-patch` crate.

use super::PatchError;
use serde_json::Value;

/// Applies the JSON patch `patch` (an array of operations) to `target` and returns the result;
/// `target` is left as it was. A patch that is not a list of valid operations is a bad request;
/// an operation that fails (a `test` that does not match, a path that does not exist) fails the
/// whole patch as unprocessable, and the message names the operation and its path.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::BadRequest(format!("invalid JSON patch: {e}")))?;
    let mut document = target.clone();
    json_patch::patch(&mut document, &operations).map_err(|e| PatchError::Unprocessable(e.to_string()))?;
    Ok(document)
}
