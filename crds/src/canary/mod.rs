//! The `Canary` kind: what to release (a Deployment), how to route it (Istio), and how to
//! judge each step. Field names, types, defaults and meaning follow Flagger's
//! `flagger.app/v1beta1` Canary, so a Flagger manifest only changes its `apiVersion`.

pub mod access_log;
pub mod analysis;
mod service;
mod status;
mod windows;

pub use access_log::{AccessLog, AccessLogComparison, AccessLogFormat, AccessLogSource, LatencyLimit, LokiSource};
pub use analysis::{
    AlertSeverity, CanaryAlert, CanaryAnalysis, CanaryMetric, CanaryWebhook, SameSite, SecretKeyRef, SessionAffinity,
    ThresholdRange, WebhookType,
};
pub use service::{CanaryService, CustomMetadata, GatewayRef, TrafficDistribution, UnmanagedMetadata};
pub use status::{CanaryCondition, CanaryStatus, CheckKind, CheckResult, ConditionStatus, Phase, Strategy, Verdict};
pub use windows::{RolloutWindow, WindowType};

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Flagger's default progress deadline, in seconds.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// A progressive release of a Deployment behind Istio.
///
/// Fledge copies the target Deployment to `<target>-primary`, routes all traffic there, and on
/// each new revision of the target moves traffic to it step by step while its checks pass.
// clippy reads the repeated `type_ = ...` of kube's printcolumn(...) as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "Canary",
    plural = "canaries",
    namespaced,
    status = "CanaryStatus",
    shortname = "cn",
    category = "fledge",
    category = "all",
    derive = "PartialEq",
    doc = "A progressive release of a Deployment behind Istio, judged step by step.",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Weight", type_ = "string", json_path = ".status.canaryWeight"),
    printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspend", priority = 1),
    printcolumn(name = "FailedChecks", type_ = "string", json_path = ".status.failedChecks", priority = 1),
    printcolumn(name = "Interval", type_ = "string", json_path = ".spec.analysis.interval", priority = 1),
    printcolumn(name = "Mirror", type_ = "boolean", json_path = ".spec.analysis.mirror", priority = 1),
    printcolumn(name = "StepWeight", type_ = "string", json_path = ".spec.analysis.stepWeight", priority = 1),
    printcolumn(name = "StepWeights", type_ = "string", json_path = ".spec.analysis.stepWeights", priority = 1),
    printcolumn(name = "MaxWeight", type_ = "string", json_path = ".spec.analysis.maxWeight", priority = 1),
    printcolumn(name = "LastTransitionTime", type_ = "string", json_path = ".status.lastTransitionTime")
)]
#[serde(rename_all = "camelCase")]
pub struct CanarySpec {
    /// Traffic management provider. Fledge drives Istio only: leave it empty or set `istio`.
    /// Other values are accepted so Flagger manifests load, and are reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,

    /// Prometheus address for this canary's built-in metrics, overriding the controller's
    /// `--metrics-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_server: Option<String>,

    /// The workload to release. Fledge supports `apps/v1` `Deployment`.
    pub target_ref: TargetRef,

    /// A HorizontalPodAutoscaler of the target; Fledge gives the primary a copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_ref: Option<AutoscalerRef>,

    /// Flagger's NGINX ingress reference. Not used with Istio; reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_ref: Option<KindedRef>,

    /// Flagger's APISIX route reference. Not used with Istio; reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_ref: Option<KindedRef>,

    /// Flagger's Gloo upstream reference. Not used with Istio; reported as unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_ref: Option<KindedRef>,

    /// The Services, DestinationRules and VirtualService Fledge generates. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<CanaryService>,

    /// How each step is judged and how traffic moves.
    pub analysis: CanaryAnalysis,

    /// Seconds a canary or primary rollout may take to make progress before it is failed
    /// (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub progress_deadline_seconds: Option<i32>,

    /// Promote a new revision at once, without analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_analysis: Option<bool>,

    /// On deletion of the Canary, restore the apex Service and VirtualService as they were and
    /// scale the target back up before the Canary goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_on_deletion: Option<bool>,

    /// Pause everything: no step, no promotion, no rollback, until unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

impl CanarySpec {
    /// The Service and VirtualService name: `service.name`, or the target's name.
    pub fn apex_name(&self) -> &str {
        self.service.as_ref().and_then(|s| s.name.as_deref()).filter(|n| !n.is_empty()).unwrap_or(&self.target_ref.name)
    }

    /// The progress deadline in seconds, with Flagger's default.
    pub fn progress_deadline_seconds(&self) -> i32 {
        self.progress_deadline_seconds.unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }
}

/// Traffic management providers a Flagger Canary may name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Provider {
    #[serde(rename = "istio")]
    Istio,
    #[serde(rename = "apisix")]
    Apisix,
    #[serde(rename = "appmesh")]
    AppMesh,
    #[serde(rename = "appmesh:v1beta2")]
    AppMeshV1beta2,
    #[serde(rename = "contour")]
    Contour,
    #[serde(rename = "gatewayapi:v1")]
    GatewayApiV1,
    #[serde(rename = "gatewayapi:v1beta1")]
    GatewayApiV1beta1,
    #[serde(rename = "gloo")]
    Gloo,
    #[serde(rename = "knative")]
    Knative,
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "kuma")]
    Kuma,
    #[serde(rename = "linkerd")]
    Linkerd,
    #[serde(rename = "nginx")]
    Nginx,
    #[serde(rename = "osm")]
    Osm,
    #[serde(rename = "skipper")]
    Skipper,
    #[serde(rename = "smi:v1alpha1")]
    SmiV1alpha1,
    #[serde(rename = "smi:v1alpha2")]
    SmiV1alpha2,
    #[serde(rename = "smi:v1alpha3")]
    SmiV1alpha3,
    #[serde(rename = "traefik")]
    Traefik,
}

/// The workload a Canary releases.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// API version of the target, `apps/v1`.
    pub api_version: String,
    /// Kind of the target: `Deployment` (Flagger also lists `DaemonSet` and `Service`, which
    /// Fledge reports as unsupported).
    pub kind: TargetKind,
    /// Name of the target in the Canary's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Kinds a Flagger Canary may target.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum TargetKind {
    #[default]
    Deployment,
    DaemonSet,
    Service,
}

/// The autoscaler of the target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerRef {
    /// API version of the autoscaler, for example `autoscaling/v2`.
    pub api_version: String,
    /// `HorizontalPodAutoscaler` (Flagger also lists KEDA's `ScaledObject`, which Fledge
    /// reports as unsupported).
    pub kind: AutoscalerKind,
    /// Name of the autoscaler in the Canary's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// KEDA only (Flagger): queries for the primary's ScaledObject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_queries: Option<BTreeMap<String, String>>,
    /// Replica bounds for the primary's autoscaler, overriding the target autoscaler's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_replicas: Option<ScalerReplicas>,
}

/// Kinds of autoscaler a Flagger Canary may name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum AutoscalerKind {
    HorizontalPodAutoscaler,
    ScaledObject,
}

/// Replica bounds for the primary's autoscaler.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas").message("minReplicas must not be greater than maxReplicas"))]
pub struct ScalerReplicas {
    /// Lower bound of the primary's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    /// Upper bound of the primary's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replicas: Option<i32>,
}

/// A reference to an object of another traffic provider (kept so Flagger manifests load).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindedRef {
    /// API version of the referent.
    pub api_version: String,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to a named object, by default in the Canary's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct LocalRef {
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the Canary's own when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl LocalRef {
    /// The referent's namespace, defaulting to `own`.
    pub fn namespace_or<'a>(&'a self, own: &'a str) -> &'a str {
        self.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(own)
    }
}
