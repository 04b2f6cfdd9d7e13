//! The `MetricTemplate` kind: a reusable metric query and the provider that answers it.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A query that canaries reference from `analysis.metrics[].templateRef`.
///
/// The query may use `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`,
/// `{{ interval }}` and `{{ variables.<key> }}` (from the metric's `templateVariables`).
// clippy reads the repeated `type_ = ...` of kube's printcolumn(...) as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "MetricTemplate",
    namespaced,
    category = "fledge",
    derive = "PartialEq",
    doc = "A reusable metric query for canary analysis.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider.type"),
    printcolumn(name = "Address", type_ = "string", json_path = ".spec.provider.address", priority = 1)
)]
pub struct MetricTemplateSpec {
    /// Who answers the query.
    pub provider: MetricProvider,
    /// The query, with placeholders.
    #[schemars(length(min = 1))]
    pub query: String,
}

/// A metrics provider.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    /// Kind of provider. Fledge answers `prometheus`; the other Flagger providers are accepted
    /// so Flagger manifests load, and are reported as unsupported.
    pub r#type: MetricProviderType,
    /// API address, for example `http://prometheus.istio-system:9090`; the controller's
    /// `--metrics-server` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Extra HTTP headers sent with every query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// Secret in the template's namespace with `token` (bearer) or `username` and `password`
    /// (basic auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Cloud region (Flagger's CloudWatch and Stackdriver providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Skip TLS certificate verification of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// Metric providers a Flagger MetricTemplate may name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricProviderType {
    #[default]
    Prometheus,
    Influxdb,
    Datadog,
    Externalmetrics,
    Stackdriver,
    Cloudwatch,
    Newrelic,
    Graphite,
    Dynatrace,
    Keptn,
    Splunk,
}

impl MetricProviderType {
    /// The name as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Influxdb => "influxdb",
            Self::Datadog => "datadog",
            Self::Externalmetrics => "externalmetrics",
            Self::Stackdriver => "stackdriver",
            Self::Cloudwatch => "cloudwatch",
            Self::Newrelic => "newrelic",
            Self::Graphite => "graphite",
            Self::Dynatrace => "dynatrace",
            Self::Keptn => "keptn",
            Self::Splunk => "splunk",
        }
    }
}

/// A Secret in the referring object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}
