//! Patching objects: JSON merge patch, JSON patch, strategic merge patch and server-side apply. Pure.
//!
//! Objects are `serde_json::Value`s. The patchers follow the Kubernetes API server: strategic
//! merge patch as k8s.io/apimachinery's `strategicpatch` applies it, server-side apply and the
//! `metadata.managedFields` bookkeeping as structured-merge-diff does, with the merge metadata
//! of each kind coming from a [`ListKeys`] ([`BuiltinListKeys`] for built-in kinds,
//! [`SchemaListKeys`] for custom resources).

mod apply;
mod compare;
mod element_order;
mod fieldset;
mod jsonpatch;
mod keys;
mod managed;
mod merge;
mod schema_keys;
mod strategic;
mod typed;
mod typed_merge;
mod update;

#[cfg(test)]
mod tests;

pub use apply::{ApplyError, apply_subresource};
#[cfg(test)]
pub use apply::{Conflicts, apply};
pub use jsonpatch::json_patch;
pub use keys::{BuiltinListKeys, ListKeys};
#[cfg(test)]
pub use keys::{ListType, MapKey};
pub use merge::json_merge_patch;
pub use schema_keys::SchemaListKeys;
pub use strategic::strategic_merge_patch;
pub use update::record_update;

/// Why a JSON patch or strategic merge patch could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch is malformed (HTTP 400 Bad Request).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well-formed but cannot be applied to this object (HTTP 422 Unprocessable
    /// Entity), e.g. a JSON patch `test` that fails.
    #[error("{0}")]
    Unprocessable(String),
}

impl PatchError {
    /// The HTTP status the API server answers with.
    #[cfg(test)]
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable(_) => 422,
        }
    }
}

/// The kinds of PATCH the API server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchKind {
    /// `application/json-patch+json`: RFC 6902, see [`json_patch`].
    Json,
    /// `application/merge-patch+json`: RFC 7386, see [`json_merge_patch`].
    Merge,
    /// `application/strategic-merge-patch+json`: see [`strategic_merge_patch`] (built-in kinds only).
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply, see [`apply`].
    Apply,
}

impl PatchKind {
    /// The content type that selects this kind.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchKind::Json => "application/json-patch+json",
            PatchKind::Merge => "application/merge-patch+json",
            PatchKind::Strategic => "application/strategic-merge-patch+json",
            PatchKind::Apply => "application/apply-patch+yaml",
        }
    }
}

/// The patch kind a PATCH request's `Content-Type` selects (parameters such as `charset` and
/// letter case ignored), or `None` for anything else, which the API server answers with 415
/// Unsupported Media Type. That includes `application/apply-patch+cbor`, which Kubernetes 1.32
/// only serves behind an alpha feature gate.
pub fn apply_patch_type_from_content_type(content_type: &str) -> Option<PatchKind> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    [PatchKind::Json, PatchKind::Merge, PatchKind::Strategic, PatchKind::Apply]
        .into_iter()
        .find(|kind| kind.content_type() == media_type)
}
