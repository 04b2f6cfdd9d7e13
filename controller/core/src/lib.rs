//! The rollout state machine: from the spec, the last status, what was observed of the
//! workloads, the results of the checks run so far and `now`, the next status and what to do.
//! Pure: no I/O and no clock; every rule of the lifecycle lives here and is unit-tested.
//!
//! The reconciler calls [`decide`] and, when the decision [`needs`](Decision::needs) the
//! results of a check stage, runs that stage and calls it again with the results added. A
//! decision is complete for a given input, so a controller killed between acting and writing
//! the status makes the same decision again after a restart: the status is the memory.

pub mod conditions;
mod flow;
mod manual;
mod notice;
mod results;
pub mod spec_valid;
mod stage;
mod time;
mod windows;

#[cfg(test)]
mod tests;

pub use notice::{Notice, NoticeKind};
pub use stage::Stage;
pub use time::{deadline, parse_interval};

use results::{all_pass, describe, describe_failures, first_failure};

use fledge_crds::canary::{CanarySpec, CanaryStatus, CheckResult};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// The annotations a person sets on a Canary to act now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Manual {
    /// `fledge.dev/promote: "true"`.
    pub promote: bool,
    /// `fledge.dev/abort: "true"`.
    pub abort: bool,
    /// `fledge.dev/retry: "true"`.
    pub retry: bool,
}

/// How a Deployment is doing, as far as the lifecycle cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// Its current template is rolled out and enough of its pods are ready.
    pub ready: bool,
    /// Kubernetes gave up on its rollout (`ProgressDeadlineExceeded`).
    pub deadline_exceeded: bool,
    /// Why it is not ready, for people (`1 of 2 updated replicas are available`).
    pub message: String,
}

/// What the reconciler read from the cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Why the target cannot serve, when it cannot: it does not exist, or Fledge cannot select
    /// its pods. Nothing else about it was read then (the fields below are empty).
    pub target_unavailable: Option<String>,
    /// Revision of the target: its pod template and the tracked configs it uses.
    pub revision: String,
    /// The images of the target's containers, for people (notifications).
    pub images: Vec<String>,
    /// Content hashes of the tracked ConfigMaps and Secrets, `configmap/<name>` to hash.
    pub tracked_configs: BTreeMap<String, String>,
    /// The target Deployment (the canary).
    pub canary: Workload,
    /// The primary Deployment, when it exists.
    pub primary: Option<Workload>,
    /// The revision the primary was last given by Fledge (its `fledge.dev/revision`).
    pub primary_revision: Option<String>,
}

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// Name of the Canary.
    pub name: &'a str,
    /// Namespace of the Canary.
    pub namespace: &'a str,
    /// The Canary's `metadata.generation`.
    pub generation: Option<i64>,
    /// The spec.
    pub spec: &'a CanarySpec,
    /// The last status written (default when none).
    pub status: &'a CanaryStatus,
    /// The annotations present now.
    pub manual: Manual,
    /// Whether the Canary is being deleted, and whether Fledge holds it to revert first.
    pub deletion: Deletion,
    /// The workloads.
    pub observed: &'a Observed,
    /// Results of the stages run in this reconcile so far.
    pub results: &'a BTreeMap<Stage, Vec<CheckResult>>,
    /// The time of this reconcile.
    pub now: Timestamp,
}

/// Whether the Canary is being deleted (it has a `deletionTimestamp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Deletion {
    /// It is not.
    #[default]
    No,
    /// It is, and nothing holds it for Fledge (no `revertOnDeletion` finalizer): the objects
    /// Fledge owns go with it, and nothing is decided.
    LetGo,
    /// It is, and Fledge's finalizer holds it (`revertOnDeletion`): the traffic goes back to
    /// the target before the finalizer is released.
    Revert,
}

/// Which of Fledge's objects to write, and where their routes send users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Objects {
    /// None of them: suspended, or nothing can or need be written.
    #[default]
    Untouched,
    /// All of them (Services, DestinationRules, the VirtualService, the primary's autoscaler),
    /// the routes at [`Decision::canary_weight`]; the apex Service and the VirtualService only
    /// with [`Decision::route_apex`], the primary only with [`Decision::promote_primary`].
    Routed,
    /// Only the VirtualService, every request to the primary: the target cannot serve, and
    /// Fledge's other objects are built from it.
    PrimaryOnly,
    /// Given back to the target (`revertOnDeletion`): the apex Service selects the target's pods
    /// and outlives the Canary, and the VirtualService is what it was before the Canary, or
    /// sends every request to the apex.
    Reverted,
}

/// How many replicas the target (the canary) should run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetScale {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Scale it to zero: nothing is being analysed.
    Zero,
    /// Scale it up (to the primary's replicas) when it is at zero: a run is under way, or the
    /// traffic is about to go back to it (`revertOnDeletion`).
    Up,
}

/// Kubernetes event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something went as planned.
    Normal,
    /// Something a person should look at.
    Warning,
}

impl EventType {
    /// The name Kubernetes and Flagger's event webhooks use (`Normal`, `Warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// An event to publish on the Canary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// A one-word reason people filter on (`Advanced`, `RolledBack`, ...).
    pub reason: &'static str,
    /// The sentence.
    pub message: String,
}

/// What to do, and the status to write afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Run this stage's checks and decide again with their results; nothing else in this
    /// decision should be acted on.
    pub needs: Option<Stage>,
    /// The status to write once the actions are done.
    pub status: CanaryStatus,
    /// Canary weight to put on the routes (the primary gets the rest).
    pub canary_weight: i32,
    /// Whether the routes also copy requests to the canary (mirroring).
    pub mirror: bool,
    /// Which of Fledge's objects to write.
    pub objects: Objects,
    /// Whether the apex Service and the VirtualService are written; false while the primary is
    /// being created, so traffic never moves to a primary without ready pods.
    pub route_apex: bool,
    /// Copy the target's template into the primary (bootstrap and promotion).
    pub promote_primary: bool,
    /// The target's replicas.
    pub target: TargetScale,
    /// Events to publish.
    pub events: Vec<Event>,
    /// Notices for people (the notification hook point).
    pub notices: Vec<Notice>,
    /// The run ended (Succeeded or Failed): call the post-rollout hooks once the status is
    /// written, with the phase it ended in.
    pub post_rollout: bool,
    /// Annotations to remove from the Canary (acted on, or refused with an event).
    pub remove_annotations: Vec<&'static str>,
    /// Remove Fledge's finalizer, once the status is written: the deleted Canary may go.
    pub release_finalizer: bool,
    /// When to look again at the latest, if nothing changes before.
    pub requeue_after: Duration,
}

/// Decide the next step. See the module documentation.
pub fn decide(input: &Input<'_>) -> Decision {
    flow::decide(input)
}
