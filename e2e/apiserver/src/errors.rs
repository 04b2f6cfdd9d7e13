//! API errors as Kubernetes `Status` objects, with the codes and reasons clients act on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub code: u16,
    /// `reason` of the Status, for example `NotFound`.
    pub reason: &'static str,
    /// The sentence kubectl prints after `Error from server (<reason>): `.
    pub message: String,
    /// `details` of the Status (name, group, kind, causes).
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    /// 404: `deployments.apps "podinfo" not found`.
    pub fn not_found(qualified_resource: &str, name: &str) -> Self {
        let (kind, group) = qualified_resource.split_once('.').unwrap_or((qualified_resource, ""));
        Self {
            details: Some(json!({"name": name, "group": group, "kind": kind})),
            ..Self::new(404, "NotFound", format!("{qualified_resource} \"{name}\" not found"))
        }
    }

    /// 404 for a path that serves nothing.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 409: the object exists.
    pub fn already_exists(qualified_resource: &str, name: &str) -> Self {
        let (kind, group) = qualified_resource.split_once('.').unwrap_or((qualified_resource, ""));
        Self {
            details: Some(json!({"name": name, "group": group, "kind": kind})),
            ..Self::new(409, "AlreadyExists", format!("{qualified_resource} \"{name}\" already exists"))
        }
    }

    /// 409: the write was based on a stale resourceVersion.
    pub fn conflict(qualified_resource: &str, name: &str) -> Self {
        let (kind, group) = qualified_resource.split_once('.').unwrap_or((qualified_resource, ""));
        Self {
            details: Some(json!({"name": name, "group": group, "kind": kind})),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {qualified_resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                ),
            )
        }
    }

    /// 409 from server-side apply: fields owned by other managers.
    pub fn apply_conflict(message: String, causes: Vec<Value>) -> Self {
        Self { details: Some(json!({"causes": causes})), ..Self::new(409, "Conflict", message) }
    }

    /// 422 with field causes.
    pub fn invalid(qualified_kind: &str, name: &str, message: String, causes: Vec<Value>) -> Self {
        let (kind, group) = qualified_kind.split_once('.').unwrap_or((qualified_kind, ""));
        Self {
            details: Some(json!({"name": name, "group": group, "kind": kind, "causes": causes})),
            ..Self::new(422, "Invalid", message)
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 410: the resourceVersion is older than the history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    /// 415.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
            ),
        )
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The Status object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, [("content-type", "application/json")], self.status().to_string()).into_response()
    }
}
