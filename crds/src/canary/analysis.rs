//! `spec.analysis`: the pace of a rollout and the checks that gate each step.

use super::{AccessLog, LocalRef, RolloutWindow};
use crate::istio::HttpMatchRequest;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Flagger's default analysis interval.
pub const DEFAULT_INTERVAL: &str = "60s";
/// Flagger's default metric query window.
pub const DEFAULT_METRIC_INTERVAL: &str = "1m";
/// The built-in Istio metric: percentage of non-5xx requests to the canary.
pub const METRIC_REQUEST_SUCCESS_RATE: &str = "request-success-rate";
/// The built-in Istio metric: p99 request duration of the canary, in milliseconds.
pub const METRIC_REQUEST_DURATION: &str = "request-duration";

/// How a release is analysed and how traffic moves.
///
/// The strategy follows from the fields, as in Flagger: `iterations` with `match` is A/B
/// testing; `iterations` alone is blue/green (mirrored with `mirror`); otherwise weighted
/// steps by `stepWeight` up to `maxWeight`, or along `stepWeights`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.stepWeight) || has(self.stepWeights) || has(self.iterations)").message("set stepWeight, stepWeights (weighted canary) or iterations (A/B testing, blue/green)"))]
#[x_kube(validation = Rule::new("!has(self.match) || has(self.iterations)").message("match (A/B testing) needs iterations"))]
pub struct CanaryAnalysis {
    /// Time between two steps, a Go duration such as `1m` or `30s` (default `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub interval: Option<String>,

    /// Number of intervals (checks) for A/B testing and blue/green.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub iterations: Option<i32>,

    /// Failed checks tolerated before rollback (default 1; 0 means the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub threshold: Option<i32>,

    /// Highest canary weight, in percent, before promotion (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_weight: Option<i32>,

    /// Weight added to the canary at each step, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step_weight: Option<i32>,

    /// The canary weights to walk, in increasing order, for example `[1, 5, 10, 25, 50]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), inner(range(min = 1, max = 100)))]
    pub step_weights: Option<Vec<i32>>,

    /// Weight moved back to the primary at each promotion step; all at once when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step_weight_promotion: Option<i32>,

    /// Mirror traffic to the canary: blue/green mirrored with `iterations`, or a mirrored first
    /// step before the first weight of a weighted canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<bool>,

    /// Percentage of requests copied to the canary while mirroring (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub mirror_weight: Option<i32>,

    /// Percentage of the primary's pods that must be available to call it ready (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub primary_ready_threshold: Option<i32>,

    /// Percentage of the canary's pods that must be available to call it ready (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub canary_ready_threshold: Option<i32>,

    /// A/B testing: requests matching any of these go to the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub r#match: Option<Vec<HttpMatchRequest>>,

    /// Metric checks run at every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub metrics: Option<Vec<CanaryMetric>>,

    /// Webhooks: gates, load tests, acceptance tests, rollback triggers, event sinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub webhooks: Option<Vec<CanaryWebhook>>,

    /// Where to send notifications about this canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub alerts: Option<Vec<CanaryAlert>>,

    /// Keep a user on the canary once routed there, with a cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,

    /// Fledge: judge each step on the Envoy access logs of the canary and the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLog>,

    /// Fledge: when a rollout may start and advance. Outside an allowed window, or inside a
    /// deny window, the canary holds its weight, keeps running its checks and says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub windows: Option<Vec<RolloutWindow>>,
}

impl CanaryAnalysis {
    /// The interval as written, or the default `60s`.
    pub fn interval(&self) -> &str {
        self.interval.as_deref().filter(|i| !i.is_empty()).unwrap_or(DEFAULT_INTERVAL)
    }

    /// Failed checks tolerated before rollback, at least 1.
    pub fn threshold(&self) -> i32 {
        self.threshold.filter(|t| *t > 0).unwrap_or(1)
    }

    /// The highest canary weight of the analysis: the last of `stepWeights`, else `maxWeight`,
    /// else 100.
    pub fn max_weight(&self) -> i32 {
        match self.step_weights.as_deref() {
            Some([.., last]) => *last,
            _ => self.max_weight.unwrap_or(100),
        }
    }

    /// Iterations as a count; 0 when unset.
    pub fn iterations(&self) -> i32 {
        self.iterations.unwrap_or(0).max(0)
    }
}

/// A metric check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.templateRef) || has(self.query) || self.name == 'request-success-rate' || self.name == 'request-duration'").message("a metric needs templateRef or query, unless it is the built-in request-success-rate or request-duration"))]
pub struct CanaryMetric {
    /// Name of the check; `request-success-rate` and `request-duration` are built in.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Window of the query, a Prometheus duration such as `1m` (default `1m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d|w|y))+$"))]
    pub interval: Option<String>,

    /// Deprecated (Flagger): the least success rate, or the largest other value, that passes.
    /// Use `thresholdRange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,

    /// The values that pass, bounds included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_range: Option<ThresholdRange>,

    /// Inline Prometheus query (the template's placeholders work here too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,

    /// A `MetricTemplate`, by default in the Canary's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<LocalRef>,

    /// Values for `{{ variables.<key> }}` in the template's query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_variables: Option<BTreeMap<String, String>>,
}

/// The accepted range of a metric's value; a check fails below `min` or above `max`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[x_kube(validation = Rule::new("!has(self.min) || !has(self.max) || self.min <= self.max").message("min must not be greater than max"))]
pub struct ThresholdRange {
    /// Least passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// When a webhook is called and what its answer means.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum WebhookType {
    /// Empty means `rollout`, as in Flagger.
    #[serde(rename = "")]
    #[default]
    Unset,
    /// Before the canary is scaled up; a non-2xx answer holds the rollout in Waiting.
    #[serde(rename = "confirm-rollout")]
    ConfirmRollout,
    /// Once, at the run's first interval, before its first (unjudged) step; a non-2xx answer
    /// counts a failed check and the step waits.
    #[serde(rename = "pre-rollout")]
    PreRollout,
    /// Every judged interval (from the one after the first step), before the metrics; a
    /// non-2xx answer counts a failed check.
    #[serde(rename = "rollout")]
    Rollout,
    /// Before each weight increase; a non-2xx answer holds the weight.
    #[serde(rename = "confirm-traffic-increase")]
    ConfirmTrafficIncrease,
    /// At the last step; a non-2xx answer holds the canary in WaitingPromotion.
    #[serde(rename = "confirm-promotion")]
    ConfirmPromotion,
    /// After Succeeded or Failed.
    #[serde(rename = "post-rollout")]
    PostRollout,
    /// Every event Fledge emits.
    #[serde(rename = "event")]
    Event,
    /// Every interval; a 2xx answer rolls back.
    #[serde(rename = "rollback")]
    Rollback,
}

impl WebhookType {
    /// The type with Flagger's default applied: empty is `rollout`.
    pub fn effective(self) -> Self {
        match self {
            Self::Unset => Self::Rollout,
            other => other,
        }
    }
}

/// An HTTP call made at a point of the rollout.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryWebhook {
    /// Name of the webhook, quoted in events.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// When it is called (default `rollout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<WebhookType>,

    /// Where the POST goes.
    #[schemars(length(min = 1))]
    pub url: String,

    /// Request timeout, a Go duration (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub timeout: Option<String>,

    /// Extra attempts after a failed call, with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: Option<i32>,

    /// Skip TLS certificate verification of the URL.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "disableTLS")]
    pub disable_tls: Option<bool>,

    /// Send no alert about this webhook's failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_alert: Option<bool>,

    /// Key-value pairs sent in the body's `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,

    /// Fledge: a Secret in the Canary's namespace whose key `key` signs each call: the body's
    /// HMAC-SHA256 is sent as `X-Fledge-Signature: sha256=<hex>`, so the receiver can trust it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

/// A Secret in the Canary's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

impl CanaryWebhook {
    /// The webhook's type with the default applied.
    pub fn kind(&self) -> WebhookType {
        self.r#type.unwrap_or_default().effective()
    }
}

/// Severity filter of an alert.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, schemars::JsonSchema)]
pub enum AlertSeverity {
    /// Empty means `info`, as in Flagger.
    #[serde(rename = "")]
    Unset,
    #[serde(rename = "info")]
    #[default]
    Info,
    #[serde(rename = "warn")]
    Warn,
    #[serde(rename = "error")]
    Error,
}

/// A notification target of the canary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryAlert {
    /// Name of the alert.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The least severe message sent: `info` (default), `warn` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// The `AlertProvider`, by default in the Canary's namespace.
    pub provider_ref: LocalRef,
}

/// `SameSite` attribute of the affinity cookie.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// Session affinity: a user routed to the canary gets a cookie and stays there.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinity {
    /// Name of the cookie that pins a user to the canary.
    #[schemars(length(min = 1))]
    pub cookie_name: String,
    /// Name of a cookie that pins a user to the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_cookie_name: Option<String>,
    /// `Domain` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `HttpOnly` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Seconds until the cookie expires (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_age: Option<i64>,
    /// `Partitioned` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned: Option<bool>,
    /// `Path` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `SameSite` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<SameSite>,
    /// `Secure` attribute of the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
}

impl SessionAffinity {
    /// The cookie lifetime in seconds, with Flagger's default of one day.
    pub fn max_age(&self) -> i64 {
        self.max_age.unwrap_or(86_400)
    }
}
