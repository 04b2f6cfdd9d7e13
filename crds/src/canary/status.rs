//! The Canary status: Flagger's fields, plus what Fledge needs to continue a rollout after a
//! restart from the status alone and to show why a step passed or failed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Phases of a canary, with Flagger's exact names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, schemars::JsonSchema)]
pub enum Phase {
    /// Not yet seen by the controller.
    #[serde(rename = "")]
    #[default]
    Unset,
    /// Creating the primary and the routes.
    Initializing,
    /// The primary serves all traffic; waiting for a new revision.
    Initialized,
    /// A new revision waits for a confirm-rollout gate (or a rollout window).
    Waiting,
    /// Analysis is running and traffic is moving.
    Progressing,
    /// The analysis passed; waiting for a confirm-promotion gate.
    WaitingPromotion,
    /// Copying the new revision to the primary and moving traffic back to it.
    Promoting,
    /// Scaling the canary down after promotion.
    Finalising,
    /// The new revision is the primary.
    Succeeded,
    /// The new revision was rolled back.
    Failed,
    /// The Canary is being deleted and its changes reverted.
    Terminating,
    /// The Canary's changes were reverted.
    Terminated,
}

impl Phase {
    /// The name as it appears in the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "",
            Self::Initializing => "Initializing",
            Self::Initialized => "Initialized",
            Self::Waiting => "Waiting",
            Self::Progressing => "Progressing",
            Self::WaitingPromotion => "WaitingPromotion",
            Self::Promoting => "Promoting",
            Self::Finalising => "Finalising",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Terminating => "Terminating",
            Self::Terminated => "Terminated",
        }
    }

    /// Whether a rollout is under way (traffic may be on the canary).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Progressing | Self::WaitingPromotion | Self::Promoting | Self::Finalising)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The observed state of a Canary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// Where the rollout stands.
    #[serde(default)]
    #[schemars(transform = crate::schema::no_default)]
    pub phase: Phase,

    /// Percentage of traffic routed to the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<i32>,

    /// Failed checks in the current run (cumulative, as in Flagger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_checks: Option<i32>,

    /// Iterations done in the current run (A/B testing, blue/green).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<i32>,

    /// Content hashes of the ConfigMaps and Secrets the target uses, keyed
    /// `configmap/<name>` and `secret/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked_configs: Option<BTreeMap<String, String>>,

    /// Revision hash of the target's pod template and tracked configs under analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_spec: Option<String>,

    /// Revision hash last promoted to the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promoted_spec: Option<String>,

    /// Flagger's change fence of the target (kept so Flagger statuses load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tracked_revision: Option<String>,

    /// When the phase last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,

    /// Affinity cookie of the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_cookie: Option<String>,

    /// Primary affinity cookie of the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_session_affinity_cookie: Option<String>,

    /// Affinity cookie of the previous run, expired on the next route update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_session_affinity_cookie: Option<String>,

    /// Conditions: `Promoted` as in Flagger, plus Fledge's own (for example `SpecValid`,
    /// `Suspended`, `RolloutWindow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub conditions: Option<Vec<CanaryCondition>>,

    /// Fledge: the `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Fledge: when the last analysis step ran; the next is due one interval later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_time: Option<Time>,

    /// Fledge: when the run's analysis started, that is when traffic (weighted, A/B-matched or
    /// mirrored) first reached the canary, or a blue/green's first iteration began. Unset, the
    /// run's first interval is still to come: it runs the pre-rollout hooks and takes the
    /// first step without judging a canary that has had no traffic yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_start_time: Option<Time>,

    /// Fledge: the kind of run under way (`canary`, `abTesting` or `blueGreen`), recorded at
    /// its first step. A spec that changes the kind mid-run restarts the run from weight 0
    /// rather than reading the weight of one kind as the other's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,

    /// Fledge: since when the canary has been not ready during the run; its progress deadline
    /// counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_unready_since: Option<Time>,

    /// Fledge: since when the checks have had too little data to judge (NoData). The weight
    /// holds and the checks' window reaches back to this time, so the evidence of the step
    /// accumulates; it is judged as soon as there is enough. Unset once an interval is judged.
    /// A canary with too little traffic for the whole progress deadline is rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data_since: Option<Time>,

    /// Fledge: the routes copy requests to the canary now (a mirrored blue/green, or the
    /// mirrored first step of a weighted canary with `analysis.mirror`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrored: Option<bool>,

    /// Fledge: the latest result of every check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub checks: Option<Vec<CheckResult>>,
}

/// How a run moves traffic, as the spec says (Flagger's strategies on Istio).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Weighted steps (`stepWeight` or `stepWeights`), mirrored first with `mirror`.
    Canary,
    /// `iterations` on the requests that match `analysis.match`.
    AbTesting,
    /// `iterations` without a match, mirrored with `mirror`.
    BlueGreen,
}

impl Strategy {
    /// For people: `canary`, `A/B testing`, `blue/green`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canary => "canary",
            Self::AbTesting => "A/B testing",
            Self::BlueGreen => "blue/green",
        }
    }
}

/// Status of a condition, as in Kubernetes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// A condition of the Canary (Flagger's shape).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryCondition {
    /// Type of the condition, for example `Promoted`.
    pub r#type: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// A one-word reason, for example `Progressing` or `Aborted`.
    pub reason: String,
    /// A sentence for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// When the condition was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
}

/// What kind of check produced a result.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CheckKind {
    Readiness,
    Metric,
    AccessLog,
    Webhook,
}

/// The outcome of a check.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not enough data to judge; the step waits.
    NoData,
    /// The check could not run (provider down, bad answer).
    Error,
}

/// The latest result of one check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The metric, webhook or check name.
    pub name: String,
    /// What kind of check it is.
    pub kind: CheckKind,
    /// The outcome.
    pub verdict: Verdict,
    /// The measured value, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// What was measured against what limit, or why there is no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the check ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}
