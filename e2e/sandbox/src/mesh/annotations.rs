//! The `sandbox.fledge.dev/*` pod annotations that steer the simulated mesh, and the error a bad value gives.

use k8s_openapi::api::core::v1::Pod;
use thiserror::Error;

/// Makes a Running and Ready pod a load generator: `<url> rps=<n> [header=<name>:<value>] ...` (see [`super::load`]).
pub const LOAD: &str = "sandbox.fledge.dev/load";
/// Share of the requests a serving pod answers with 500 or 503, e.g. `"0.05"`.
pub const ERROR_RATE: &str = "sandbox.fledge.dev/error-rate";
/// Latency of a serving pod as two quantiles in milliseconds, e.g. `"p50=20,p99=120"`.
pub const LATENCY_MS: &str = "sandbox.fledge.dev/latency-ms";
/// Shares of requests failing in a serving pod's sidecar with an Envoy response flag, e.g. `"UF=0.01,UH=0.002"`.
pub const RESPONSE_FLAGS: &str = "sandbox.fledge.dev/response-flags";
/// Encoding of a pod's `istio-proxy` access log: `json` (the default) or `text`.
pub const ACCESS_LOG_FORMAT: &str = "sandbox.fledge.dev/access-log-format";

/// An annotation whose value cannot be used; says which annotation, its value and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("annotation {annotation}={value:?}: {reason}")]
pub struct AnnotationError {
    /// The annotation's name.
    pub annotation: &'static str,
    /// Its value as written.
    pub value: String,
    /// What is wrong and what is expected instead.
    pub reason: String,
}

impl AnnotationError {
    /// An error of `annotation` with `value`.
    pub fn new(annotation: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self { annotation, value: value.to_owned(), reason: reason.into() }
    }
}

/// The value of a pod's annotation, if set.
pub fn of<'a>(pod: &'a Pod, name: &str) -> Option<&'a str> {
    pod.metadata.annotations.as_ref()?.get(name).map(String::as_str)
}

/// Parses a share in [0, 1], naming `what` in the error.
pub(super) fn share(text: &str, what: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{what} {text:?} is not a number"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{what} {value} is outside [0, 1]"));
    }
    Ok(value)
}
