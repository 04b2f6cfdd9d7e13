//! The phases of a rollout and the moves between them, in the order of Flagger's analysis
//! interval (see FLAGGER.md), with Fledge's differences: manual annotations act at once,
//! deadlines hold in every phase, steps are timed from the status, and a primary that is not
//! ready after promotion never receives the traffic. Pure.

mod advance;
mod affinity;
mod analysing;
mod annotations;
mod ending;
mod first_step;
mod hooks;
mod idle;
mod initializing;
mod no_data;
mod notices;
mod promoting;
mod rollback;
mod strategy;
mod suspend;
mod waiting;

#[cfg(test)]
pub(super) use advance::next_weight;

use super::conditions::{self, PROMOTED, SUSPENDED};
use super::manual::{self, Refusal};
use super::time::{parse_interval, remaining, stamp};
use super::{Decision, Deletion, Event, EventType, Input, Objects, TargetScale};
use crate::{Notice, NoticeKind, Stage};
use fledge_crds::canary::{CheckResult, ConditionStatus, Phase};
use std::ops::ControlFlow;
use std::time::Duration;

/// How often to look while waiting on pods (readiness has no watch of its own here).
const POLL: Duration = Duration::from_secs(2);
/// How long traffic gets to move off the canary before its pods go: Envoy configuration
/// takes a few seconds to reach every proxy. One interval, at most this.
const DRAIN: Duration = Duration::from_secs(10);
/// How often to look at a Canary with nothing under way: every change that matters (the
/// target, its configs, the Canary, the objects Fledge owns) arrives as a watch event, so
/// this is only a safety net.
const IDLE_RESYNC: Duration = Duration::from_secs(300);

/// Where the steps of a phase stand: go on to the next step, or stop (the decision is made,
/// or waits for the results of a check stage).
type Step = ControlFlow<()>;
/// Go on to the next step.
const NEXT: Step = ControlFlow::Continue(());
/// The decision is made (or waits for checks): no further step.
const DONE: Step = ControlFlow::Break(());

/// A step that stops the decision when `done`.
fn stop_if(done: bool) -> Step {
    if done { DONE } else { NEXT }
}

pub(super) fn decide(input: &Input<'_>) -> Decision {
    let mut draft = Draft::new(input);
    // A Canary on its way out, or whose target cannot serve, ends what is under way and
    // nothing else: no phase moves on, no annotation is looked at.
    if input.deletion != Deletion::No {
        draft.deleting(input.deletion);
        return draft.d;
    }
    if let Some(why) = &input.observed.target_unavailable {
        draft.target_unavailable(why);
        return draft.d;
    }
    if input.spec.suspend == Some(true) {
        draft.suspended();
    } else {
        if conditions::get(&draft.d.status, SUSPENDED).is_some() {
            draft.resumed();
        }
        conditions::clear(&mut draft.d.status, SUSPENDED);
        match input.status.phase {
            Phase::Unset | Phase::Initializing => draft.initializing(),
            Phase::Initialized | Phase::Succeeded | Phase::Failed => draft.idle(),
            Phase::Waiting => draft.waiting(),
            Phase::Progressing | Phase::WaitingPromotion => draft.analysing(),
            Phase::Promoting => draft.promoting(),
            Phase::Finalising => draft.finalising(),
            Phase::Terminating | Phase::Terminated => {}
        }
    }
    draft.finish()
}

/// A decision being drafted: each phase's steps (one `impl` block per module) change the
/// decision so far, and [`Draft::finish`] completes it (the `Promoted` condition, refusals of
/// the annotations nobody looked at, the requeue). Not a rollout run: a run spans many
/// decisions, from a new revision to Succeeded or Failed.
struct Draft<'i, 'a> {
    /// What the decision depends on.
    i: &'i Input<'a>,
    /// The decision so far.
    d: Decision,
    /// Manual annotations not yet acted on or refused.
    pending: manual::Pending,
    /// Overrides the `Promoted` condition's reason (for example `Aborted`).
    reason: Option<&'static str>,
    /// Overrides the `Promoted` condition's message.
    message: Option<String>,
}

impl<'i, 'a> Draft<'i, 'a> {
    fn new(i: &'i Input<'a>) -> Self {
        let status = i.status.clone();
        let d = Decision {
            needs: None,
            canary_weight: status.canary_weight.unwrap_or(0),
            mirror: false,
            status,
            objects: Objects::Routed,
            route_apex: true,
            promote_primary: false,
            target: TargetScale::Keep,
            events: Vec::new(),
            notices: Vec::new(),
            post_rollout: false,
            remove_annotations: Vec::new(),
            release_finalizer: false,
            requeue_after: IDLE_RESYNC,
        };
        Self { i, d, pending: manual::Pending::from(i.manual), reason: None, message: None }
    }

    fn id(&self) -> String {
        format!("{}.{}", self.i.name, self.i.namespace)
    }

    /// The primary Deployment, as people read it: `podinfo-primary.test`.
    fn primary_id(&self) -> String {
        format!("{}-primary.{}", self.i.spec.target_ref.name, self.i.namespace)
    }

    fn phase(&self) -> Phase {
        self.d.status.phase
    }

    // ---- building blocks ----

    fn event(&mut self, type_: EventType, reason: &'static str, message: impl Into<String>) {
        self.d.events.push(Event { type_, reason, message: message.into() });
    }

    fn notice(&mut self, kind: NoticeKind, message: impl Into<String>) {
        let facts = self.facts(kind);
        self.d.notices.push(Notice { kind, message: message.into(), facts });
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.d.status.phase != phase {
            self.d.status.phase = phase;
            self.d.status.last_transition_time = Some(stamp(self.i.now));
        }
    }

    fn set_weight(&mut self, weight: i32) {
        self.d.canary_weight = weight;
        self.d.status.canary_weight = Some(weight);
    }

    fn requeue(&mut self, after: Duration) {
        self.d.requeue_after = self.d.requeue_after.min(after.max(Duration::from_millis(200)));
    }

    /// Results of a stage, or `None` after asking the reconciler to run it.
    fn results(&mut self, stage: Stage) -> Option<&'i [CheckResult]> {
        match self.i.results.get(&stage) {
            Some(results) => Some(results.as_slice()),
            None => {
                self.d.needs = Some(stage);
                None
            }
        }
    }

    fn record(&mut self, results: &[CheckResult]) {
        if results.is_empty() {
            return;
        }
        let checks = self.d.status.checks.get_or_insert_with(Vec::new);
        for r in results {
            match checks.iter_mut().find(|c| c.name == r.name && c.kind == r.kind) {
                Some(c) => *c = r.clone(),
                None => checks.push(r.clone()),
            }
        }
    }

    fn step_due(&self) -> Option<Duration> {
        let interval = parse_interval(self.i.spec);
        let left =
            self.d.status.last_step_time.as_ref().map_or(Duration::ZERO, |t| remaining(t.0, interval, self.i.now));
        (!left.is_zero()).then_some(left)
    }

    fn stepped(&mut self) {
        self.d.status.last_step_time = Some(stamp(self.i.now));
        self.requeue(parse_interval(self.i.spec));
    }

    fn zero_counters(&mut self) {
        self.d.status.failed_checks = Some(0);
        self.d.status.iterations = Some(0);
        self.d.status.analysis_start_time = None;
        self.d.status.no_data_since = None;
        self.d.status.canary_unready_since = None;
        self.d.status.strategy = None;
    }

    fn drain(&self) -> Duration {
        parse_interval(self.i.spec).min(DRAIN)
    }

    /// Whether traffic has had time to leave the canary since the last phase change; asks to
    /// be called again when it will have.
    fn drained(&mut self) -> bool {
        let since = self.d.status.last_transition_time.as_ref().map_or(self.i.now, |t| t.0);
        let left = remaining(since, self.drain(), self.i.now);
        if !left.is_zero() {
            self.requeue(left);
        }
        left.is_zero()
    }

    fn finish(mut self) -> Decision {
        // Anything a phase did not look at (a decision that stopped to ask for checks
        // looks again next time).
        if self.d.needs.is_some() {
            return self.d;
        }
        let phase = self.phase();
        self.refuse_all(|_| Refusal::Idle(phase));
        // A canary that stays Failed keeps the reason of its failure (Aborted, ...).
        let unchanged_failure = phase == Phase::Failed
            && self.i.status.phase == Phase::Failed
            && self.reason.is_none()
            && self.message.is_none()
            && conditions::get(&self.d.status, PROMOTED).is_some();
        if !unchanged_failure {
            self.set_promoted();
        }
        self.primary_revision_checked();
        self.d.status.observed_generation = self.i.generation;
        self.d.mirror = self.d.status.mirrored == Some(true);
        if phase.is_active() || phase == Phase::Initializing {
            self.requeue(parse_interval(self.i.spec));
        }
        self.d
    }
}

impl Draft<'_, '_> {
    /// Flagger's `Promoted` condition for the phase, with the reason and message a step gave
    /// (or the phase's own).
    fn set_promoted(&mut self) {
        let phase = self.phase();
        let reason = self.reason.unwrap_or(if phase == Phase::Unset { "Initializing" } else { phase.as_str() });
        let message = self.message.take().unwrap_or_else(|| conditions::promoted_message(phase).to_owned());
        let truth = conditions::promoted_status(phase);
        conditions::set(&mut self.d.status, PROMOTED, truth, reason, &message, self.i.now);
    }

    /// The primary only ever receives a revision the status has recorded (a promotion is
    /// written before the copy); outside the phases that copy, a primary with another revision
    /// was changed by something else. Said in a condition and, once, in a Warning event.
    fn primary_revision_checked(&mut self) {
        let copying = matches!(self.phase(), Phase::Unset | Phase::Initializing | Phase::Promoting | Phase::Finalising);
        let runs = self.i.observed.primary_revision.as_deref();
        let promoted = self.d.status.last_promoted_spec.as_deref();
        let (Some(runs), Some(promoted), false) = (runs, promoted, copying) else {
            conditions::clear(&mut self.d.status, conditions::PRIMARY_REVISION);
            return;
        };
        if runs == promoted {
            conditions::clear(&mut self.d.status, conditions::PRIMARY_REVISION);
            return;
        }
        let primary = self.primary_id();
        let message = format!(
            "Primary {primary} has revision {runs}, but the status records {promoted} as promoted; Fledge did \
             not give it that revision"
        );
        let said = conditions::get(&self.d.status, conditions::PRIMARY_REVISION)
            .is_some_and(|c| c.message.as_deref() == Some(message.as_str()));
        if !said {
            self.event(EventType::Warning, "PrimaryRevisionChanged", message.clone());
        }
        conditions::set(
            &mut self.d.status,
            conditions::PRIMARY_REVISION,
            ConditionStatus::False,
            "Unexpected",
            &message,
            self.i.now,
        );
    }
}
