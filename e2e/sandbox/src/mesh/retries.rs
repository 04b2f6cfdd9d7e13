//! Istio's HTTP retries: without `retries` on a route a sidecar retries twice on 503 (and connection failures);
//! a route's `retries` replaces that. Retries pick another endpoint and wait Envoy's jittered back-off.

use fledge_crds::istio::HttpRetry;
use rand::Rng;
use serde_json::Value;

/// Istio's default `retryOn` (pilot's `DefaultPolicy`).
const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// Envoy's retry conditions (router and gRPC) that Istio accepts in `retryOn`.
const CONDITIONS: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Envoy's base back-off interval.
const BASE_BACKOFF_MS: f64 = 25.0;

/// When and how often a sidecar retries a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub attempts: u32,
    /// Envoy retry conditions.
    pub retry_on: Vec<String>,
    /// Status codes retried under `retriable-status-codes`.
    pub status_codes: Vec<u16>,
}

impl RetryPolicy {
    /// What Istio configures for a route without `retries`: 2 retries, on 503 and connection failures.
    pub fn istio_default() -> Self {
        Self {
            attempts: 2,
            retry_on: DEFAULT_RETRY_ON.split(',').map(str::to_owned).collect(),
            status_codes: vec![503],
        }
    }

    /// No retries.
    pub fn none() -> Self {
        Self { attempts: 0, retry_on: Vec::new(), status_codes: Vec::new() }
    }

    /// The policy of a route's `retries`, as Istio converts it: `attempts` 0 (or absent) disables retries; an
    /// explicit `retryOn` replaces the default conditions, and numbers in it are retriable status codes.
    pub fn from_istio(value: &Value) -> Result<Self, String> {
        let retry: HttpRetry = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let attempts = retry.attempts.unwrap_or(0);
        let attempts = u32::try_from(attempts).map_err(|_| format!("attempts: {attempts} is negative"))?;
        let mut policy = Self { attempts, ..Self::istio_default() };
        if let Some(retry_on) = retry.retry_on.filter(|r| !r.trim().is_empty()) {
            policy.retry_on.clear();
            policy.status_codes.clear();
            for condition in retry_on.split(',').map(str::trim) {
                if let Ok(code) = condition.parse::<u16>() {
                    if !(100..=599).contains(&code) {
                        return Err(format!("retryOn: {code} is not an HTTP status code"));
                    }
                    policy.status_codes.push(code);
                } else if CONDITIONS.contains(&condition) {
                    policy.retry_on.push(condition.to_owned());
                } else {
                    return Err(format!("retryOn: {condition:?} is not an Envoy retry condition or a status code"));
                }
            }
            if !policy.status_codes.is_empty() && !policy.retry_on.iter().any(|c| c == "retriable-status-codes") {
                policy.retry_on.push("retriable-status-codes".into());
            }
        }
        if attempts == 0 {
            return Ok(Self::none());
        }
        Ok(policy)
    }

    /// Whether an upstream answer with `status` is retried. Sidecar-to-sidecar failures reach the sender as HTTP
    /// answers (the receiving sidecar answers 503 for its own failures), so only status conditions apply.
    pub fn retries_status(&self, status: u16) -> bool {
        self.retry_on.iter().any(|c| match c.as_str() {
            "5xx" => (500..=599).contains(&status),
            "gateway-error" => matches!(status, 502..=504),
            "retriable-4xx" => status == 409,
            "retriable-status-codes" => self.status_codes.contains(&status),
            _ => false,
        })
    }

    /// Envoy's jittered exponential back-off before retry number `retry` (1 for the first): uniform in
    /// [0, (2^retry - 1) × 25 ms), capped at 250 ms.
    pub fn backoff_ms(retry: u32, rng: &mut impl Rng) -> f64 {
        let ceiling = (f64::from((1u32 << retry.min(10)) - 1) * BASE_BACKOFF_MS).min(10.0 * BASE_BACKOFF_MS);
        rng.random::<f64>() * ceiling
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_retries_503_only() {
        let p = RetryPolicy::istio_default();
        assert_eq!(p.attempts, 2);
        assert!(p.retries_status(503));
        assert!(!p.retries_status(500) && !p.retries_status(404));
    }

    #[test]
    fn a_route_policy_replaces_the_default() {
        let p = RetryPolicy::from_istio(&json!({"attempts": 3, "retryOn": "gateway-error,connect-failure"})).unwrap();
        assert_eq!(p.attempts, 3);
        assert!(p.retries_status(502) && p.retries_status(503) && !p.retries_status(500));
        let p = RetryPolicy::from_istio(&json!({"attempts": 1, "retryOn": "500"})).unwrap();
        assert!(p.retries_status(500) && !p.retries_status(503));
        let p = RetryPolicy::from_istio(&json!({"attempts": 1})).unwrap();
        assert!(p.retries_status(503), "without retryOn the default conditions stay");
        assert_eq!(RetryPolicy::from_istio(&json!({"attempts": 0})).unwrap(), RetryPolicy::none());
        assert_eq!(RetryPolicy::from_istio(&json!({"perTryTimeout": "1s"})).unwrap(), RetryPolicy::none());
    }

    #[test]
    fn invalid_policies_are_rejected() {
        assert!(
            RetryPolicy::from_istio(&json!({"attempts": 1, "retryOn": "sometimes"})).unwrap_err().contains("sometimes")
        );
        assert!(RetryPolicy::from_istio(&json!({"attempts": -1})).unwrap_err().contains("negative"));
        assert!(RetryPolicy::from_istio(&json!({"attempts": "x"})).is_err());
    }
}
