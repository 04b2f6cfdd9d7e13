//! `spec.analysis.accessLog`: judging a step on the Envoy access logs of both versions.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The container whose log holds Envoy's access log in an Istio pod.
pub const DEFAULT_CONTAINER: &str = "istio-proxy";
/// Fewer requests than this for a version in an interval is "no data".
pub const DEFAULT_MIN_REQUESTS: i32 = 50;
/// Envoy response flags that mark a failed request even without a 5xx from the application.
pub const DEFAULT_ERROR_RESPONSE_FLAGS: &[&str] = &["UH", "UF", "UO", "URX", "NR", "UC", "DC", "UT", "LR", "UMSDR"];
/// Confidence of the canary-versus-primary comparison.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// Latency increase, in percent, that is tolerated even when it is significant.
pub const DEFAULT_LATENCY_TOLERANCE_PERCENT: f64 = 10.0;

/// Access-log analysis of the canary against the primary.
///
/// At every step Fledge reads the access-log lines each version wrote since the last check,
/// counts requests and errors (5xx, plus `errorResponseFlags`) and collects latencies
/// (`duration`). The canary fails the check when it breaks an absolute limit, or when, compared
/// with the primary, its error rate is significantly higher or its latency is significantly
/// and materially higher. Too few requests is "no data": the step waits, and after `threshold`
/// intervals without data the check counts as failed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.source) || self.source != 'loki' || has(self.loki)").message("source loki needs the loki settings (address)"))]
pub struct AccessLog {
    /// Where lines are read: `kubernetes` (the pod log API, default) or `loki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AccessLogSource>,

    /// `kubernetes` source: the container whose log is read (default `istio-proxy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub container: Option<String>,

    /// `loki` source: where and how to query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<LokiSource>,

    /// Line format: Istio's `json` access log (default) or Envoy's default `text` format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AccessLogFormat>,

    /// Requests each version needs before a step is judged (default 50). With fewer the step
    /// waits and its evidence accumulates over the following intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_requests: Option<i32>,

    /// Envoy response flags counted as errors (default UH, UF, UO, URX, NR, UC, DC, UT, LR,
    /// UMSDR). An empty list counts only 5xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub error_response_flags: Option<Vec<String>>,

    /// Absolute limit: the canary fails when its requests show, at `comparison.confidence`,
    /// that more than this percentage of them fail (a measured rate above it is not enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub max_error_rate: Option<f64>,

    /// Absolute limit: the canary fails when its requests show, at `comparison.confidence`,
    /// that this latency percentile is above the limit (a measured percentile above it is not
    /// enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<LatencyLimit>,

    /// The comparison with the primary (on by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<AccessLogComparison>,
}

/// Where access-log lines come from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogSource {
    /// `GET /api/v1/namespaces/<ns>/pods/<pod>/log?container=<container>&sinceTime=<t>&timestamps=true`
    /// for every running pod of each version.
    #[default]
    Kubernetes,
    /// A LogQL query over HTTP.
    Loki,
}

/// The encoding of access-log lines.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    /// Istio's JSON access log (`meshConfig.accessLogEncoding: JSON`).
    #[default]
    Json,
    /// Envoy's default text format (`accessLogEncoding: TEXT`).
    Text,
}

/// A Loki server to read access logs from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LokiSource {
    /// Base URL of Loki, for example `http://loki.monitoring:3100`.
    #[schemars(length(min = 1))]
    pub address: String,

    /// LogQL stream selector for one version. `{{ namespace }}` and `{{ workload }}` (the
    /// canary or primary Deployment) are filled in; the default selects the `istio-proxy`
    /// container of the workload's pods:
    /// `{namespace="{{ namespace }}", pod=~"{{ workload }}-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}", container="istio-proxy"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,

    /// Secret with `token` (bearer) or `username` and `password` (basic auth) for Loki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<crate::metric_template::SecretRef>,

    /// Extra HTTP headers, for example `X-Scope-OrgID` for a multi-tenant Loki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

/// An absolute latency limit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyLimit {
    /// Which percentile is limited, in (0, 100] (default 99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub percentile: Option<f64>,
    /// The largest passing latency at that percentile, in milliseconds.
    #[schemars(range(min = 0.0))]
    pub milliseconds: f64,
}

/// The statistical comparison of the canary with the primary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogComparison {
    /// Compare at all (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// How sure the judge must be before it calls the canary worse than the primary or above
    /// a limit, in [0.5, 0.999] (default 0.95). It applies to the limits even when the
    /// comparison is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.5, max = 0.999))]
    pub confidence: Option<f64>,

    /// Percentage points by which the canary's error rate may exceed the primary's before a
    /// significant difference fails it (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub error_rate_tolerance: Option<f64>,

    /// Percent by which the canary's typical latency (the Hodges-Lehmann shift against the
    /// primary) may exceed the primary's before a significant difference fails it (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub latency_tolerance: Option<f64>,
}
