//! `spec.service`: how Fledge generates the Services, DestinationRules and VirtualService.

use crate::istio::{CorsPolicy, Headers, HttpMatchRequest, HttpRetry, HttpRewrite};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Services, DestinationRules and VirtualService generated for a Canary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.delegation) || !self.delegation || (!has(self.hosts) && !has(self.gateways))").message("a delegate VirtualService (delegation: true) has no hosts and no gateways"))]
pub struct CanaryService {
    /// Name of the apex Service and of the VirtualService; defaults to the target's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub name: Option<String>,

    /// Port of the generated Services.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// Name of the Service port (default `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,

    /// Container port number or name the Services send to; defaults to `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,

    /// Application protocol of the Service port; `tcp` gives a TCP route instead of HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,

    /// Add every container port of the target to the generated Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_discovery: Option<bool>,

    /// Traffic distribution of the generated Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<TrafficDistribution>,

    /// Generate headless Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headless: Option<bool>,

    /// Request timeout on the VirtualService route, for example `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,

    /// Gateway API only (Flagger); reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_timeout: Option<String>,

    /// App Mesh only (Flagger); ignored by Fledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_name: Option<String>,

    /// App Mesh only (Flagger); ignored by Fledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<Vec<String>>,

    /// Hosts of the VirtualService; the apex name is added unless it or `*` is listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,

    /// Generate a delegate VirtualService (no hosts, no gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<bool>,

    /// Istio gateways of the VirtualService (default `mesh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<Vec<String>>,

    /// Gateway API parent references (Flagger); reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub gateway_refs: Option<Vec<GatewayRef>>,

    /// Request match conditions of the VirtualService route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub r#match: Option<Vec<HttpMatchRequest>>,

    /// Retry policy of the VirtualService route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<HttpRetry>,

    /// URI and authority rewrite of the VirtualService route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<HttpRewrite>,

    /// Gateway API request mirror filters (Flagger); reported as unsupported. With Istio,
    /// mirroring is `analysis.mirror`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::open_object_list")]
    pub mirror: Option<Vec<serde_json::Value>>,

    /// Header operations of the VirtualService route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,

    /// Cross-origin resource sharing policy of the VirtualService route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<CorsPolicy>,

    /// Istio `TrafficPolicy` of both DestinationRules (load balancing, connection pool,
    /// outlier detection, TLS, ...), passed to Istio as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::open_object")]
    pub traffic_policy: Option<serde_json::Value>,

    /// Labels and annotations of the apex Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apex: Option<CustomMetadata>,

    /// Labels and annotations of the primary Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<CustomMetadata>,

    /// Labels and annotations of the canary Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CustomMetadata>,

    /// Label and annotation keys other controllers own on the generated objects; Fledge
    /// leaves them alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged_metadata: Option<UnmanagedMetadata>,
}

impl CanaryService {
    /// The Service port name, `http` by default.
    pub fn port_name(&self) -> &str {
        self.port_name.as_deref().filter(|n| !n.is_empty()).unwrap_or("http")
    }

    /// The gateways of the VirtualService: the given ones, or `mesh` unless it is a delegate.
    pub fn gateways(&self) -> Vec<String> {
        match &self.gateways {
            Some(g) if !g.is_empty() => g.clone(),
            _ if self.delegation == Some(true) => Vec::new(),
            _ => vec!["mesh".to_owned()],
        }
    }
}

/// Traffic distribution preference of a Service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum TrafficDistribution {
    PreferClose,
    PreferSameZone,
    PreferSameNode,
}

/// Labels and annotations to set on a generated object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
pub struct CustomMetadata {
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Metadata keys Fledge must not manage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
pub struct UnmanagedMetadata {
    /// Annotation keys owned by others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<String>>,
    /// Label keys owned by others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// A Gateway API parent reference (kept so Flagger manifests load).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Group of the parent, `gateway.networking.k8s.io` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the parent, `Gateway` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the parent.
    pub name: String,
    /// Namespace of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Section (listener) of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Port of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}
