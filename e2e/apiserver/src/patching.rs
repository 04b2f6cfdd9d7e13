//! The API server's use of the patch module: which list keys a type merges by, and each kind
//! of PATCH turned into the object to store, with errors as the server answers them.

use super::errors::ApiError;
use super::patch::{
    self, ApplyError, BuiltinListKeys, ListKeys, PatchError, SchemaListKeys, apply_subresource, record_update,
};
use super::registry::ResourceType;
use serde_json::Value;

pub use super::patch::PatchKind;

/// The patch kind a request's content type selects.
pub fn kind_from_content_type(content_type: &str) -> Option<PatchKind> {
    patch::apply_patch_type_from_content_type(content_type)
}

fn keys(rt: &ResourceType) -> Box<dyn ListKeys> {
    match &rt.schema {
        Some(schema) if rt.custom => Box::new(SchemaListKeys::new(schema.clone()).with_status_subresource(rt.status)),
        _ => Box::new(BuiltinListKeys::new(rt.kind.clone())),
    }
}

fn patch_error(e: PatchError) -> ApiError {
    match e {
        PatchError::BadRequest(message) => ApiError::bad_request(message),
        PatchError::Unprocessable(message) => ApiError { code: 422, reason: "Invalid", message, details: None },
    }
}

fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(conflicts) => {
            let causes = match conflicts.causes() {
                Value::Array(causes) => causes,
                other => vec![other],
            };
            ApiError::apply_conflict(conflicts.message(), causes)
        }
        ApplyError::Invalid(message) => ApiError { code: 422, reason: "Invalid", message, details: None },
    }
}

/// Applies a patch to an object that is not stored as such (a Scale).
pub fn patch_plain(object: &Value, kind: PatchKind, body: &Value) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Json => patch::json_patch(object, body).map_err(patch_error),
        _ => {
            let mut out = object.clone();
            patch::json_merge_patch(&mut out, body);
            Ok(out)
        }
    }
}

/// Applies a patch to a stored object (as served); server-side apply also updates its managed
/// fields.
pub fn patch(
    rt: &ResourceType,
    current: &Value,
    kind: PatchKind,
    body: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Strategic if rt.custom => Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json (custom resources take merge, JSON and apply patches)",
        )),
        PatchKind::Strategic => patch::strategic_merge_patch(current, body, keys(rt).as_ref()).map_err(patch_error),
        PatchKind::Apply => {
            let now = super::objects::now_rfc3339();
            apply_subresource(Some(current), body, manager, subresource, force, keys(rt).as_ref(), &now)
                .map_err(apply_error)
        }
        PatchKind::Json | PatchKind::Merge => patch_plain(current, kind, body),
    }
}

/// Server-side apply of an object that does not exist yet: the object to create, owned by
/// `manager`.
pub fn apply_new(rt: &ResourceType, applied: &Value, manager: &str) -> Result<Value, ApiError> {
    let now = super::objects::now_rfc3339();
    apply_subresource(None, applied, manager, None, false, keys(rt).as_ref(), &now).map_err(apply_error)
}

/// Records the managed fields of a write that is not an apply.
pub fn record(
    rt: &ResourceType,
    old: Option<&Value>,
    object: Value,
    manager: &str,
    operation: &str,
    subresource: Option<&str>,
) -> Value {
    let now = super::objects::now_rfc3339();
    record_update(old, &object, manager, operation, subresource, keys(rt).as_ref(), &now)
}
