//! The phases of a rollout and the moves between them, in the order of Flagger's analysis
//! interval (see FLAGGER.md), with Fledge's differences: manual annotations act at once,
//! deadlines hold in every phase, steps are timed from the status, and a primary that is not
//! ready after promotion never receives the traffic. Pure.

use super::conditions::{self, MANUAL_ACTION, PROMOTED, SUSPENDED};
use super::manual::{self, Refusal};
use super::time::{deadline, elapsed, parse_interval, progress_since, remaining, stamp};
use super::windows::state as window_state;
use super::{Decision, Event, EventType, Input, TargetScale};
use crate::{Notice, NoticeKind, Stage, all_pass, describe, describe_failures, first_failure};
use fledge_crds::canary::{CheckKind, CheckResult, ConditionStatus, Phase, Strategy, Verdict, WebhookType};
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

pub(super) fn decide(input: &Input<'_>) -> Decision {
    let mut run = Run::new(input);
    if input.spec.suspend == Some(true) {
        run.suspended();
    } else {
        if conditions::get(&run.d.status, SUSPENDED).is_some() {
            run.resumed();
        }
        conditions::clear(&mut run.d.status, SUSPENDED);
        match input.status.phase {
            Phase::Unset | Phase::Initializing => run.initializing(),
            Phase::Initialized | Phase::Succeeded | Phase::Failed => run.idle(),
            Phase::Waiting => run.waiting(),
            Phase::Progressing | Phase::WaitingPromotion => run.analysing(),
            Phase::Promoting => run.promoting(),
            Phase::Finalising => run.finalising(),
            Phase::Terminating | Phase::Terminated => {}
        }
    }
    run.finish()
}

/// One decision being made.
struct Run<'i, 'a> {
    i: &'i Input<'a>,
    d: Decision,
    /// Manual annotations not yet acted on or refused.
    pending: manual::Pending,
    /// Overrides the `Promoted` condition's reason (for example `Aborted`).
    reason: Option<&'static str>,
    /// Overrides the `Promoted` condition's message.
    message: Option<String>,
}

impl<'i, 'a> Run<'i, 'a> {
    fn new(i: &'i Input<'a>) -> Self {
        let status = i.status.clone();
        let d = Decision {
            needs: None,
            canary_weight: status.canary_weight.unwrap_or(0),
            mirror: false,
            status,
            ensure_objects: true,
            route_apex: true,
            promote_primary: false,
            target: TargetScale::Keep,
            events: Vec::new(),
            notices: Vec::new(),
            post_rollout: false,
            remove_annotations: Vec::new(),
            requeue_after: IDLE_RESYNC,
        };
        Self { i, d, pending: manual::Pending::from(i.manual), reason: None, message: None }
    }

    fn id(&self) -> String {
        format!("{}.{}", self.i.name, self.i.namespace)
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

    /// A revision as people read it: its hash and, when it is the target's, its images.
    fn revision_shown(&self, revision: &str) -> String {
        match self.i.observed.images.as_slice() {
            images if !images.is_empty() && revision == self.i.observed.revision => {
                format!("{revision} ({})", images.join(", "))
            }
            _ => revision.to_owned(),
        }
    }

    /// What a person wants to see beside a notice: which revision and image, how far the
    /// rollout got, and for an ending how long it took.
    fn facts(&self, kind: NoticeKind) -> Vec<(String, String)> {
        let status = &self.d.status;
        let mut facts = Vec::new();
        let revision = match kind {
            NoticeKind::Promoted => status.last_promoted_spec.as_deref(),
            // A gate holding a release that has not started: the release is the target's.
            NoticeKind::Waiting => Some(self.i.observed.revision.as_str()),
            _ => status.last_applied_spec.as_deref(),
        };
        let revision = revision.filter(|r| !r.is_empty()).unwrap_or(self.i.observed.revision.as_str());
        if !revision.is_empty() {
            facts.push(("Revision".to_owned(), revision.to_owned()));
        }
        if !self.i.observed.images.is_empty() {
            facts.push(("Image".to_owned(), self.i.observed.images.join(", ")));
        }
        facts.push(("Phase".to_owned(), status.phase.as_str().to_owned()));
        if status.phase.is_active() {
            facts.push(("Canary weight".to_owned(), format!("{}%", self.d.canary_weight)));
        }
        let failed = status.failed_checks.unwrap_or(0);
        if failed > 0 {
            facts.push(("Failed checks".to_owned(), format!("{failed} of {}", self.i.spec.analysis.threshold())));
        }
        if matches!(kind, NoticeKind::Promoted | NoticeKind::Failed) {
            // The `Promoted` condition turned Unknown when the release was detected.
            let began = conditions::get(status, PROMOTED)
                .filter(|c| c.status == ConditionStatus::Unknown)
                .and_then(|c| c.last_transition_time.as_ref());
            if let Some(began) = began {
                facts.push(("Duration".to_owned(), human_duration(elapsed(began.0, self.i.now))));
            }
        }
        facts
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

    /// Whether the run's analysis has not started: no traffic has reached the canary yet (no
    /// weight, no iteration, no copies). A status written before `analysisStartTime` existed
    /// counts as started once it has a weight, an iteration or copies.
    fn before_first_step(&self) -> bool {
        let status = &self.d.status;
        status.analysis_start_time.is_none()
            && self.d.canary_weight == 0
            && status.iterations.unwrap_or(0) == 0
            && status.mirrored != Some(true)
    }

    /// The run's first step is taken: from now on the canary has traffic to be judged on.
    fn first_step(&mut self) {
        self.d.status.analysis_start_time = Some(stamp(self.i.now));
        self.d.status.strategy = Some(self.strategy());
    }

    /// The kind of run the spec asks for now.
    fn strategy(&self) -> Strategy {
        if self.ab_test() {
            Strategy::AbTesting
        } else if self.i.spec.analysis.iterations() > 0 {
            Strategy::BlueGreen
        } else {
            Strategy::Canary
        }
    }

    /// Whether the spec now asks for another kind of run than the one under way (`match`
    /// removed from an A/B test, `iterations` set on a weighted canary, ...). The run starts
    /// again from weight 0 as the new kind: an A/B test's weight of 100 (all matching
    /// requests) read as a weighted canary's would send every user to the canary.
    fn strategy_changed(&mut self) -> bool {
        let now = self.strategy();
        let Some(was) = self.d.status.strategy else {
            // A run under way without a record (a status from before it was kept): its
            // first step was taken under the spec as it is.
            if !self.before_first_step() {
                self.d.status.strategy = Some(now);
            }
            return false;
        };
        if was == now {
            return false;
        }
        let id = self.id();
        self.start_run();
        self.event(
            EventType::Warning,
            "StrategyChanged",
            format!(
                "The analysis of {id} changed from {} to {} during the run; restarting the run at weight 0",
                was.as_str(),
                now.as_str()
            ),
        );
        true
    }

    // ---- phases ----

    fn suspended(&mut self) {
        self.d.ensure_objects = false;
        // The canary's readiness is looked at afresh once resumed.
        self.d.status.canary_unready_since = None;
        let phase = self.phase();
        if self.pending.abort && manual::can_abort(phase) && self.take_abort() {
            // An abort is never held: the routes go back to the primary although suspended.
            self.d.ensure_objects = true;
            self.abort();
            return;
        }
        let waiting = self.pending.names().join(", ");
        let message = if waiting.is_empty() {
            "Canary is suspended: nothing moves until spec.suspend is unset.".to_owned()
        } else {
            format!("Canary is suspended: nothing moves until spec.suspend is unset; {waiting} will be acted on then.")
        };
        conditions::set(&mut self.d.status, SUSPENDED, ConditionStatus::True, "Suspended", &message, self.i.now);
        // Annotations other than abort wait for the resume.
        self.pending = manual::Pending::default();
    }

    /// Back from `suspend`: a step waiting for data starts its wait again, so the time
    /// suspended does not count against the canary.
    fn resumed(&mut self) {
        if self.d.status.no_data_since.is_some() {
            self.d.status.no_data_since = Some(stamp(self.i.now));
        }
    }

    fn initializing(&mut self) {
        self.refuse_all(|_| Refusal::NotStarted);
        self.set_phase(Phase::Initializing);
        self.set_weight(0);
        self.d.promote_primary = true;
        // The apex Service and the VirtualService move to the primary only once it can serve.
        self.d.route_apex = false;
        match &self.i.observed.primary {
            Some(primary) if primary.ready => {
                let o = self.i.observed;
                self.d.route_apex = true;
                self.set_phase(Phase::Initialized);
                self.d.status.last_applied_spec = Some(o.revision.clone());
                self.d.status.last_promoted_spec = Some(o.revision.clone());
                self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
                self.d.status.failed_checks = Some(0);
                self.d.status.iterations = Some(0);
                // Scaled to zero once the routes have moved (see `drained`).
                self.requeue(self.drain());
                let id = self.id();
                self.event(EventType::Normal, "Initialized", format!("Initialization done! {id}"));
            }
            primary => {
                let why = primary.as_ref().map_or_else(|| "it does not exist yet".to_owned(), |p| p.message.clone());
                self.primary_wait(&why, primary.as_ref().is_some_and(|p| p.deadline_exceeded));
            }
        }
    }

    /// Waiting on the primary, past its deadline or not (the answer). Never moves traffic.
    fn primary_wait(&mut self, why: &str, deadline_exceeded: bool) -> bool {
        // From the last progress: the phase change, or a step-weight promotion's last step, so
        // a promotion slower than the deadline is not taken for a stuck one.
        let since = progress_since(&self.d.status).unwrap_or(self.i.now);
        let primary = format!("{}-primary.{}", self.i.spec.target_ref.name, self.i.namespace);
        if deadline_exceeded || elapsed(since, self.i.now) >= deadline(self.i.spec) {
            let message = format!(
                "Primary {primary} is not ready after {}s ({why}); traffic stays where it is until it is.",
                self.i.spec.progress_deadline_seconds()
            );
            // Said once: the event and notice go out when the message first appears.
            let said = conditions::get(&self.d.status, PROMOTED).and_then(|c| c.message.as_deref()) == Some(&message);
            if !said {
                self.event(EventType::Warning, "PrimaryNotReady", message.clone());
                self.notice(NoticeKind::Warning, message.clone());
            }
            self.message = Some(message);
            self.requeue(POLL);
            true
        } else {
            self.message = Some(format!("Waiting for primary {primary} to be ready: {why}."));
            self.requeue(POLL);
            false
        }
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

    fn idle(&mut self) {
        let phase = self.phase();
        let o = self.i.observed;
        if self.drained() {
            self.d.target = TargetScale::Zero;
        }
        self.set_weight(0);
        if phase == Phase::Failed && self.take_retry() {
            let id = self.id();
            self.event(
                EventType::Normal,
                "Retry",
                format!("Retrying the analysis of {id} as asked by {}", manual::RETRY),
            );
            self.start_run();
            self.notice(NoticeKind::Manual, format!("Retrying the analysis of {id}, as asked by annotation."));
        } else if self.d.status.last_applied_spec.as_deref() != Some(o.revision.as_str()) {
            if self.d.status.last_promoted_spec.as_deref() == Some(o.revision.as_str()) {
                // Back to what the primary runs: nothing to release.
                self.d.status.last_applied_spec = Some(o.revision.clone());
                self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
                let id = self.id();
                self.event(
                    EventType::Normal,
                    "RevisionUnchanged",
                    format!("{id} is back to the promoted revision {}; nothing to release", o.revision),
                );
            } else {
                self.new_revision();
            }
        }
        if matches!(self.phase(), Phase::Progressing | Phase::Waiting) && self.take_promote() {
            // With the new revision (a closed confirm-rollout gate included: promote skips
            // the gates), as in Waiting.
            let o = self.i.observed;
            self.d.status.last_applied_spec = Some(o.revision.clone());
            self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
            self.start_promotion();
        }
        let phase = self.phase();
        self.refuse_all(|_| Refusal::Idle(phase));
    }

    /// A revision that is neither under analysis nor promoted: ask the confirm-rollout gates.
    fn new_revision(&mut self) {
        let Some(results) = self.results(Stage::ConfirmRollout) else { return };
        self.record(results);
        if all_pass(results) {
            let id = self.id();
            // The run first, so the notice shows the revision and phase it starts.
            self.start_run();
            self.event(EventType::Normal, "NewRevision", format!("New revision detected! Scaling up {id}"));
            let what = self.revision_shown(&self.i.observed.revision);
            self.notice(NoticeKind::Started, format!("New revision {what} of {id} detected, starting the analysis."));
        } else {
            let id = self.id();
            let why = first_failure(results).map(describe).unwrap_or_default();
            if self.phase() != Phase::Waiting {
                self.event(EventType::Normal, "Waiting", format!("Waiting for approval of {id}: {why}"));
                if !self.muted(results) {
                    self.notice(NoticeKind::Waiting, format!("Rollout of {id} is waiting for approval: {why}"));
                }
            }
            self.set_phase(Phase::Waiting);
            self.d.target = TargetScale::Zero;
            self.stepped();
        }
    }

    /// A newer revision replaces the one under way: its analysis starts from the beginning,
    /// and people hear of it as of any new revision.
    fn restart(&mut self, message: String) {
        self.start_run();
        self.event(EventType::Normal, "RevisionRestarted", message);
        let id = self.id();
        let what = self.revision_shown(&self.i.observed.revision);
        self.notice(NoticeKind::Started, format!("New revision {what} of {id} detected, restarting the analysis."));
    }

    fn start_run(&mut self) {
        let o = self.i.observed;
        self.set_phase(Phase::Progressing);
        self.d.status.last_applied_spec = Some(o.revision.clone());
        self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
        self.zero_counters();
        // The canary is scaled up now: not ready until its pods are, its deadline from here.
        self.d.status.canary_unready_since = Some(stamp(self.i.now));
        self.set_weight(0);
        self.d.status.mirrored = None;
        self.d.status.checks = None;
        self.new_cookies();
        self.d.target = TargetScale::Up;
        // The analysis starts one interval after the canary is scaled up, as in Flagger.
        self.stepped();
    }

    fn waiting(&mut self) {
        let o = self.i.observed;
        self.d.target = TargetScale::Zero;
        self.set_weight(0);
        if self.take_abort() {
            // The aborted revision is not started again by itself; retry starts it.
            self.d.status.last_applied_spec = Some(o.revision.clone());
            self.abort();
            return;
        }
        if self.take_promote() {
            self.d.status.last_applied_spec = Some(o.revision.clone());
            self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
            self.start_promotion();
            return;
        }
        self.refuse_all(|_| Refusal::Idle(Phase::Waiting));
        if self.d.status.last_promoted_spec.as_deref() == Some(o.revision.as_str()) {
            self.set_phase(Phase::Succeeded);
            self.d.status.last_applied_spec = Some(o.revision.clone());
            return;
        }
        if let Some(left) = self.step_due() {
            self.requeue(left);
            return;
        }
        match self.rollback_asked() {
            None => {}
            Some(Some(message)) => {
                // As after an abort: this revision is not started again by itself.
                self.d.status.last_applied_spec = Some(o.revision.clone());
                self.rollback("RollbackWebhook", message);
            }
            Some(None) => self.new_revision(),
        }
    }

    /// Whether a rollback hook asks for a rollback (a 2xx answer): `None` after asking the
    /// reconciler to call them, `Some(None)` when none does (or there are none), and
    /// `Some(Some(message))` naming the one that does.
    fn rollback_asked(&mut self) -> Option<Option<String>> {
        if !self.has_hooks(WebhookType::Rollback) {
            return Some(None);
        }
        let results = self.results(Stage::Rollback)?;
        let id = self.id();
        Some(
            results
                .iter()
                .find(|r| r.verdict == Verdict::Pass)
                .map(|r| format!("Rolling back {id}: rollback webhook {:?} asked for it", r.name)),
        )
    }

    /// Whether every pre-rollout hook has passed in this run (the run's results are cleared
    /// when it starts): a passed pre-rollout hook (a migration, an acceptance test) is not
    /// called again while a gate or a rollout window holds the run's first step.
    fn pre_rollout_passed(&self) -> bool {
        let checks = self.d.status.checks.as_deref().unwrap_or_default();
        self.i.spec.analysis.webhooks.iter().flatten().filter(|h| h.kind() == WebhookType::PreRollout).all(|h| {
            checks.iter().any(|c| c.kind == CheckKind::Webhook && c.name == h.name && c.verdict == Verdict::Pass)
        })
    }

    /// Session affinity of a weighted canary: fresh cookies for the run that starts. Users who
    /// hold the cookie of an earlier run get it expired.
    fn new_cookies(&mut self) {
        let status = &mut self.d.status;
        let affinity =
            self.i.spec.analysis.session_affinity.as_ref().filter(|_| self.i.spec.analysis.iterations() == 0);
        let Some(affinity) = affinity else {
            status.session_affinity_cookie = None;
            status.primary_session_affinity_cookie = None;
            status.previous_session_affinity_cookie = None;
            return;
        };
        if let Some(old) = status.session_affinity_cookie.take() {
            status.previous_session_affinity_cookie = Some(old);
        }
        let token = cookie_token(self.i.namespace, self.i.name, &self.i.observed.revision, self.i.now);
        status.session_affinity_cookie = Some(format!("{}={token}", affinity.cookie_name));
        status.primary_session_affinity_cookie =
            affinity.primary_cookie_name.as_ref().filter(|n| !n.is_empty()).map(|name| format!("{name}={token}"));
    }

    /// The run is over: its cookie is the previous one, expired on its holders' next request.
    fn end_cookies(&mut self) {
        let status = &mut self.d.status;
        if let Some(old) = status.session_affinity_cookie.take() {
            status.previous_session_affinity_cookie = Some(old);
        }
        status.primary_session_affinity_cookie = None;
    }

    /// Requests are copied to the canary (`analysis.mirror`, never with an A/B match).
    fn mirroring(&self) -> bool {
        let analysis = &self.i.spec.analysis;
        analysis.mirror == Some(true) && !self.ab_test()
    }

    /// An A/B test: iterations on the requests that match `analysis.match`.
    fn ab_test(&self) -> bool {
        let analysis = &self.i.spec.analysis;
        analysis.iterations() > 0 && analysis.r#match.as_ref().is_some_and(|m| !m.is_empty())
    }

    fn has_hooks(&self, kind: WebhookType) -> bool {
        self.i.spec.analysis.webhooks.iter().flatten().any(|h| h.kind() == kind)
    }

    /// Whether the gate that held (the first result that did not pass) asks for no alert.
    fn muted(&self, results: &[CheckResult]) -> bool {
        let Some(held) = first_failure(results) else { return false };
        self.i.spec.analysis.webhooks.iter().flatten().any(|h| h.name == held.name && h.mute_alert == Some(true))
    }

    fn analysing(&mut self) {
        let o = self.i.observed;
        self.d.target = TargetScale::Up;
        if self.d.status.last_applied_spec.as_deref() != Some(o.revision.as_str()) {
            let id = self.id();
            let from = self.d.status.last_applied_spec.clone().unwrap_or_default();
            let message = format!(
                "New revision {} of {id} detected during the analysis of {from}; restarting the analysis",
                o.revision
            );
            self.restart(message);
            return;
        }
        if self.take_abort() {
            self.abort();
            return;
        }
        if self.take_promote() {
            self.start_promotion();
            return;
        }
        self.refuse_all(Refusal::Busy);
        // First: the routes of this decision are drawn from the spec as it is now, so a weight
        // of the old kind must not be drawn as the new kind's, even while the canary is not
        // ready.
        if self.strategy_changed() {
            return;
        }
        if !o.canary.ready {
            self.canary_wait();
            return;
        }
        if self.d.status.canary_unready_since.take().is_some() && self.d.status.no_data_since.is_some() {
            // Ready again during a wait for data: the time it could not serve does not count.
            self.d.status.no_data_since = Some(stamp(self.i.now));
        }
        // Flagger rolls back once the failed checks reach the threshold, also when it is the
        // threshold that was lowered.
        let failed = self.d.status.failed_checks.unwrap_or(0);
        let threshold = self.i.spec.analysis.threshold();
        if failed > 0 && failed >= threshold {
            let id = self.id();
            self.rollback(
                "FailedChecks",
                format!("Rolling back {id}: failed checks threshold reached {failed} (threshold is now {threshold})"),
            );
            return;
        }
        if self.d.status.mirrored == Some(true) && !self.mirroring() {
            // `mirror` was turned off mid-run: the copies stop now.
            self.d.status.mirrored = None;
            if self.d.canary_weight == 0 && self.d.status.iterations.unwrap_or(0) == 0 {
                // Nothing reaches the canary any more: its first step is still to be taken.
                self.d.status.analysis_start_time = None;
            }
            let id = self.id();
            self.event(
                EventType::Normal,
                "MirroringStopped",
                format!("Stopped mirroring {id}'s requests: analysis.mirror is off"),
            );
        }
        if self.i.spec.skip_analysis == Some(true) {
            let id = self.id();
            self.event(EventType::Normal, "SkipAnalysis", format!("Skipping the analysis of {id}: spec.skipAnalysis"));
            self.start_promotion();
            return;
        }
        if let Some(left) = self.step_due() {
            self.requeue(left);
            return;
        }
        match self.rollback_asked() {
            None => return,
            Some(Some(message)) => {
                self.rollback("RollbackWebhook", message);
                return;
            }
            Some(None) => {}
        }
        // The run's first interval: no traffic has reached the canary yet, so there is nothing
        // to judge. As in Flagger, the pre-rollout hooks run (once: when a rollout window
        // holds the run at weight 0, when it opens) and the first step is taken unjudged; the
        // canary is first judged an interval later, on the traffic that step sent it.
        let first = self.before_first_step();
        if first && self.window_open() && !self.pre_rollout_passed() {
            let Some(pre) = self.results(Stage::PreRollout) else { return };
            self.record(pre);
            if !all_pass(pre) {
                self.failed_check(pre);
                return;
            }
        }
        if first {
            self.start_analysis();
            return;
        }
        let Some(analysis) = self.results(Stage::Analysis) else { return };
        self.record(analysis);
        let failed = analysis.iter().any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error));
        if failed {
            self.failed_check(analysis);
            return;
        }
        if analysis.iter().any(|r| r.verdict == Verdict::NoData) {
            self.no_data(analysis);
            return;
        }
        self.d.status.no_data_since = None;
        self.advance();
    }

    /// The first step of a run, by its kind: the A/B test's matching requests move to the
    /// canary, or the copies of a mirrored run start, or the first weight (through the
    /// confirm-traffic-increase gate and the rollout windows), or a blue/green's iterations
    /// start. None of them is judged: the canary has had no traffic yet.
    fn start_analysis(&mut self) {
        let id = self.id();
        if !self.window_open() {
            // Held at weight 0 until the window opens; `advance` says why.
            self.advance();
            return;
        }
        if self.ab_test() {
            self.first_step();
            self.set_weight(100);
            self.event(
                EventType::Normal,
                "Advanced",
                format!("Routing the requests that match {id}'s A/B test to the canary"),
            );
            self.stepped();
        } else if self.mirroring() {
            // A blue/green keeps the copies for all its iterations; a weighted canary moves on
            // to its first weight after one mirrored step.
            self.first_step();
            self.d.status.mirrored = Some(true);
            let percent = self.i.spec.analysis.mirror_weight.unwrap_or(100);
            self.event(
                EventType::Normal,
                "Mirroring",
                format!("Mirroring {percent}% of {id}'s requests to the canary"),
            );
            self.stepped();
        } else if self.i.spec.analysis.iterations() > 0 {
            // A blue/green without copies: its users stay on the primary, and its iterations
            // judge the traffic its rollout hooks (load tests) send the canary from now on.
            self.first_step();
            let iterations = self.i.spec.analysis.iterations();
            self.event(
                EventType::Normal,
                "Started",
                format!("Starting canary analysis for {id}: {iterations} iterations"),
            );
            self.stepped();
        } else {
            // The first weight, unless a gate holds it; the run starts when it moves.
            self.advance();
            if self.d.canary_weight > 0 {
                self.first_step();
            }
        }
    }

    /// The canary is not ready: wait, or roll back once it is past its deadline.
    fn canary_wait(&mut self) {
        let c = &self.i.observed.canary;
        // From when it became unready (an eviction, an autoscaler adding pods after a weight
        // increase), not from the last step: a step an interval of 15 minutes ago leaves no
        // grace otherwise.
        let since = self.d.status.canary_unready_since.as_ref().map_or(self.i.now, |t| t.0);
        self.d.status.canary_unready_since = Some(stamp(since));
        let limit = deadline(self.i.spec);
        let id = self.id();
        if c.deadline_exceeded || elapsed(since, self.i.now) >= limit {
            let message = format!(
                "Canary {id} has not made progress for {}s: {}; rolling back",
                self.i.spec.progress_deadline_seconds(),
                c.message
            );
            self.record(&[readiness("canary", Verdict::Fail, &c.message, self.i)]);
            self.rollback("ProgressDeadlineExceeded", message);
            return;
        }
        let message = format!("Waiting for {id} rollout to finish: {}", c.message);
        self.message = Some(message);
        self.requeue(POLL.min(remaining(since, limit, self.i.now)));
    }

    /// Checks without data (too little traffic to judge): the weight holds and the evidence
    /// accumulates (the next checks' window reaches back to when it started to be short), so
    /// the step is judged once there is enough. Missing evidence is never a failed check: a
    /// canary is rolled back for it only when it had too little traffic for the whole
    /// progress deadline, and the message says so.
    fn no_data(&mut self, results: &[CheckResult]) {
        // This interval's window started where the evidence started to be short, or at the
        // last step.
        let waiting = self.d.status.no_data_since.is_some();
        let since = self.d.status.no_data_since.as_ref().or(self.d.status.last_step_time.as_ref()).map(|t| t.0);
        let since = since.filter(|t| *t <= self.i.now).unwrap_or(self.i.now);
        self.d.status.no_data_since = Some(stamp(since));
        let waited = elapsed(since, self.i.now);
        let limit = deadline(self.i.spec);
        let id = self.id();
        let why = results.iter().filter(|r| r.verdict == Verdict::NoData).map(describe).collect::<Vec<_>>().join("; ");
        let at = self.at_step();
        if waited >= limit {
            let message = format!(
                "Rolling back {id}: too little data to judge the canary {at} for {}s, its progress deadline \
                 ({why})",
                self.i.spec.progress_deadline_seconds()
            );
            self.rollback("NoData", message);
            return;
        }
        self.stepped();
        self.requeue(remaining(since, limit, self.i.now));
        let message = format!(
            "Waiting for data for {id} {at} ({}s of {}s): {why}",
            waited.as_secs(),
            self.i.spec.progress_deadline_seconds()
        );
        // Said when the wait starts (events whose text changes every interval are never
        // merged); the `Promoted` condition carries how long it has waited meanwhile.
        if !waiting {
            self.event(EventType::Warning, "NoData", message.clone());
        }
        self.message = Some(message);
    }

    /// Where the run is, for messages: `at weight 10`, `at iteration 2/5`.
    fn at_step(&self) -> String {
        let iterations = self.i.spec.analysis.iterations();
        let done = self.d.status.iterations.unwrap_or(0);
        match (iterations, self.d.canary_weight) {
            (0, weight) => format!("at weight {weight}"),
            (n, _) if done < n => format!("at iteration {}/{n}", done + 1),
            (_, 100) if !self.ab_test() => "at full traffic".to_owned(),
            _ => "after its last iteration".to_owned(),
        }
    }

    fn failed_check(&mut self, results: &[CheckResult]) {
        self.d.status.no_data_since = None;
        let failed = self.d.status.failed_checks.unwrap_or(0) + 1;
        self.d.status.failed_checks = Some(failed);
        self.stepped();
        let id = self.id();
        let why = describe_failures(results);
        self.event(EventType::Warning, "Halted", format!("Halt advancement {id}: {why}"));
        let threshold = self.i.spec.analysis.threshold();
        if failed >= threshold {
            self.rollback(
                "FailedChecks",
                format!("Rolling back {id}: failed checks threshold reached {failed} (last: {why})"),
            );
        }
    }

    /// Every check passed this interval: the next weight or iteration, or promotion.
    fn advance(&mut self) {
        if self.window_holds() {
            return;
        }
        let analysis = &self.i.spec.analysis;
        let id = self.id();
        let iterations = analysis.iterations();
        let at_end = if iterations > 0 {
            // Never past the spec's count: intervals held at the end (a closed promotion gate,
            // a blue/green's interval at full traffic) are not iterations.
            let done = (self.d.status.iterations.unwrap_or(0) + 1).min(iterations);
            self.d.status.iterations = Some(done);
            done >= iterations
        } else {
            self.d.canary_weight >= analysis.max_weight()
        };
        if !at_end && iterations > 0 {
            let done = self.d.status.iterations.unwrap_or(0);
            self.event(EventType::Normal, "Advanced", format!("Advance {id} canary iteration {done}/{iterations}"));
            self.stepped();
            return;
        }
        if !at_end {
            let Some(gate) = self.results(Stage::ConfirmTrafficIncrease) else { return };
            // A weighted canary's mirrored step is over once it may take real requests.
            if all_pass(gate) {
                self.d.status.mirrored = None;
            }
            self.record(gate);
            self.stepped();
            if !all_pass(gate) {
                let why = first_failure(gate).map(describe).unwrap_or_default();
                let message = format!("Traffic increase of {id} held: {why}");
                // Said once a hold: the `Promoted` condition carries the message meanwhile.
                let said =
                    conditions::get(&self.d.status, PROMOTED).and_then(|c| c.message.as_deref()) == Some(&message);
                if !said {
                    self.event(EventType::Normal, "WaitingTrafficIncrease", message.clone());
                    if !self.muted(gate) {
                        self.notice(
                            NoticeKind::Waiting,
                            format!("Traffic increase of {id} is waiting for approval: {why}"),
                        );
                    }
                }
                self.message = Some(message);
                return;
            }
            let next = next_weight(self.i.spec, self.d.canary_weight);
            self.set_weight(next);
            self.event(EventType::Normal, "Advanced", format!("Advance {id} canary weight {next}"));
            return;
        }
        let blue_green = iterations > 0 && !self.ab_test();
        if blue_green && self.d.canary_weight == 100 {
            // A blue/green's interval at full traffic passed: the primary takes the version
            // every user now runs.
            self.start_promotion();
            return;
        }
        let Some(gate) = self.results(Stage::ConfirmPromotion) else { return };
        self.record(gate);
        if all_pass(gate) {
            if blue_green {
                // Blue/green: every user moves to the checked version at once, and it is
                // judged one more interval on their traffic (as in Flagger) before the primary
                // takes it; a failure then rolls every user back to the primary.
                self.d.status.mirrored = None;
                self.set_weight(100);
                self.event(EventType::Normal, "Advanced", format!("Routing all traffic of {id} to the canary"));
                self.set_phase(Phase::Progressing);
                self.stepped();
                return;
            }
            self.start_promotion();
        } else {
            self.stepped();
            if self.phase() != Phase::WaitingPromotion {
                let why = first_failure(gate).map(describe).unwrap_or_default();
                self.event(EventType::Normal, "WaitingPromotion", format!("Waiting for the promotion of {id}: {why}"));
                if !self.muted(gate) {
                    self.notice(NoticeKind::Waiting, format!("Promotion of {id} is waiting for approval: {why}"));
                }
            }
            self.set_phase(Phase::WaitingPromotion);
        }
    }

    /// Whether the rollout windows let the rollout advance now (no windows: always).
    fn window_open(&self) -> bool {
        let windows = self.i.spec.analysis.windows.as_deref().unwrap_or_default();
        windows.is_empty() || window_state(windows, self.i.now).is_ok_and(|s| s.open)
    }

    /// Outside the rollout windows the weight holds (the checks go on every interval), with
    /// the `RolloutWindow` condition saying when it may go on. Abort, rollback and promotion by
    /// annotation never come here.
    fn window_holds(&mut self) -> bool {
        let windows = self.i.spec.analysis.windows.as_deref().unwrap_or_default();
        if windows.is_empty() {
            conditions::clear(&mut self.d.status, conditions::ROLLOUT_WINDOW);
            return false;
        }
        let now = self.i.now;
        let (reason, why, next) = match window_state(windows, now) {
            Ok(state) if state.open => {
                conditions::set(
                    &mut self.d.status,
                    conditions::ROLLOUT_WINDOW,
                    ConditionStatus::True,
                    "Open",
                    &state.reason,
                    now,
                );
                return false;
            }
            Ok(state) => ("OutsideWindow", state.reason, state.next_change),
            Err(e) => ("InvalidWindow", e.to_string(), None),
        };
        let was_held = conditions::get(&self.d.status, conditions::ROLLOUT_WINDOW)
            .is_some_and(|c| c.status == ConditionStatus::False);
        conditions::set(&mut self.d.status, conditions::ROLLOUT_WINDOW, ConditionStatus::False, reason, &why, now);
        let id = self.id();
        if !was_held {
            self.event(EventType::Normal, "Held", format!("Advancement of {id} held: {why}"));
        }
        self.message = Some(format!("Advancement of {id} held: {why}"));
        self.stepped();
        if let Some(next) = next {
            self.requeue(Duration::from_secs_f64(next.duration_since(now).as_secs_f64().max(0.0)));
        }
        true
    }

    fn start_promotion(&mut self) {
        let id = self.id();
        let primary = format!("{}-primary.{}", self.i.spec.target_ref.name, self.i.namespace);
        self.set_phase(Phase::Promoting);
        // The primary is not given the revision in this decision: only once the status that
        // says Promoting is written (the next reconcile, at once). A decision whose status
        // write fails (an annotation changed the Canary meanwhile, a crash) has then changed
        // nothing, and an abort that comes with it still finds the primary as it was.
        self.d.promote_primary = false;
        // However it was reached (the last iteration, a promote annotation, skipAnalysis), no
        // more copies: they would go to a canary about to be scaled down.
        self.d.status.mirrored = None;
        self.d.status.no_data_since = None;
        self.d.status.canary_unready_since = None;
        self.event(EventType::Normal, "Promoting", format!("Copying {id} template spec to {primary}"));
        self.d.status.last_step_time = Some(stamp(self.i.now));
        self.requeue(Duration::ZERO);
    }

    fn promoting(&mut self) {
        let o = self.i.observed;
        self.refuse_all(|_| Refusal::Promoting);
        let applied = self.d.status.last_applied_spec.clone().unwrap_or_default();
        let copied = o.primary_revision.as_deref() == Some(applied.as_str());
        let newer = o.revision != applied;
        let id = self.id();
        if newer && !copied {
            // The target changed before its analysed revision reached the primary: copying
            // now would promote what nobody analysed. Analyse the new one from the start.
            let message =
                format!("New revision {} of {id} detected before promotion; restarting the analysis", o.revision);
            self.restart(message);
            return;
        }
        // Until the primary carries the revision, keep copying (idempotent).
        self.d.promote_primary = !copied;
        if newer {
            // The canary's pods now run a revision nobody analysed: none of the traffic for them.
            self.set_weight(0);
        }
        let ready = copied && o.primary.as_ref().is_some_and(|p| p.ready);
        if !ready {
            let (why, exceeded) = match &o.primary {
                Some(p) if copied => (p.message.clone(), p.deadline_exceeded),
                Some(_) => ("the new template is not yet applied".to_owned(), false),
                None => ("it does not exist".to_owned(), false),
            };
            let stuck = self.primary_wait(&why, exceeded);
            if stuck && newer {
                // A fix released while the primary is stuck: analyse it (it replaces the primary
                // at its own promotion) rather than wait forever on a primary that cannot roll.
                let message = format!(
                    "New revision {} of {id} detected while the primary is stuck; starting its analysis",
                    o.revision
                );
                self.message = None;
                if copied {
                    // Fledge gave the primary this revision; it is what the primary has.
                    self.d.status.last_promoted_spec = Some(applied.clone());
                }
                self.restart(message);
            }
            return;
        }
        // The primary runs the analysed revision: that is the promotion, whatever comes next (a
        // newer revision, a slow step-weight promotion).
        self.d.status.last_promoted_spec = Some(applied);
        if newer {
            self.finalise_start();
            return;
        }
        match self.i.spec.analysis.step_weight_promotion.filter(|s| *s > 0) {
            Some(step) if self.d.canary_weight > 0 => {
                if let Some(left) = self.step_due() {
                    self.requeue(left);
                    return;
                }
                let next = (self.d.canary_weight - step).max(0);
                self.set_weight(next);
                self.stepped();
                let primary = format!("{}-primary.{}", self.i.spec.target_ref.name, self.i.namespace);
                self.event(EventType::Normal, "Advanced", format!("Advance {primary} primary weight {}", 100 - next));
                if next == 0 {
                    self.finalise_start();
                }
            }
            _ => {
                self.set_weight(0);
                self.finalise_start();
            }
        }
    }

    fn finalise_start(&mut self) {
        self.set_phase(Phase::Finalising);
        self.requeue(self.drain());
    }

    fn finalising(&mut self) {
        self.refuse_all(|_| Refusal::Promoting);
        self.set_weight(0);
        if !self.drained() {
            return;
        }
        self.d.target = TargetScale::Zero;
        let id = self.id();
        self.set_phase(Phase::Succeeded);
        self.d.status.last_promoted_spec = self.d.status.last_applied_spec.clone();
        self.d.status.failed_checks = Some(0);
        self.d.post_rollout = true;
        self.end_cookies();
        self.event(EventType::Normal, "Promoted", format!("Promotion completed! Scaling down {id}"));
        let what = self.revision_shown(self.d.status.last_promoted_spec.as_deref().unwrap_or_default());
        let took = self.facts(NoticeKind::Promoted).into_iter().find(|(k, _)| k == "Duration");
        let took = took.map(|(_, d)| format!(" after {d}")).unwrap_or_default();
        self.notice(NoticeKind::Promoted, format!("{id} promoted revision {what}{took}."));
    }

    fn abort(&mut self) {
        let id = self.id();
        self.notice(NoticeKind::Manual, format!("Rollout of {id} aborted by annotation."));
        self.reason = Some("Aborted");
        self.rollback("Aborted", format!("Rolling back {id}: aborted by {}", manual::ABORT));
    }

    fn rollback(&mut self, reason: &'static str, message: String) {
        let id = self.id();
        self.set_phase(Phase::Failed);
        self.set_weight(0);
        self.d.status.mirrored = None;
        self.end_cookies();
        // The notice says how many checks failed: taken before the counters are zeroed.
        let mut facts = self.facts(NoticeKind::Failed);
        self.zero_counters();
        self.d.post_rollout = true;
        // The target is scaled to zero once traffic has drained from it (see `idle`).
        self.d.target = TargetScale::Keep;
        self.requeue(self.drain());
        self.d.promote_primary = false;
        self.d.needs = None;
        self.event(EventType::Warning, "RolledBack", message.clone());
        self.event(EventType::Warning, "Failed", format!("Canary failed! Scaling down {id}"));
        facts.retain(|(key, _)| key != "Canary weight");
        self.d.notices.push(Notice { kind: NoticeKind::Failed, message: message.clone(), facts });
        self.reason.get_or_insert(reason);
        self.message = Some(message);
    }

    /// Act on a pending annotation: it is no longer pending and will be removed.
    /// The condition records it, so the status shows who stepped in and when.
    fn take(&mut self, flag: fn(&mut manual::Pending) -> &mut bool, annotation: &'static str, reason: &str) -> bool {
        let taken = std::mem::take(flag(&mut self.pending));
        if taken {
            self.d.remove_annotations.push(annotation);
            let message = format!("{annotation}=true acted on in phase {}", self.phase());
            self.manual_trace(reason, &message);
        }
        taken
    }

    fn manual_trace(&mut self, reason: &str, message: &str) {
        // A new instant per action, so a repeated action shows as a new transition.
        if let Some(c) =
            self.d.status.conditions.as_mut().and_then(|c| c.iter_mut().find(|c| c.r#type == MANUAL_ACTION))
        {
            c.status = ConditionStatus::Unknown;
        }
        conditions::set(&mut self.d.status, MANUAL_ACTION, ConditionStatus::True, reason, message, self.i.now);
    }

    fn take_abort(&mut self) -> bool {
        self.take(|p| &mut p.abort, fledge_crds::ANNOTATION_ABORT, "Aborted")
    }

    fn take_retry(&mut self) -> bool {
        self.take(|p| &mut p.retry, fledge_crds::ANNOTATION_RETRY, "Retried")
    }

    fn take_promote(&mut self) -> bool {
        let taken = self.take(|p| &mut p.promote, fledge_crds::ANNOTATION_PROMOTE, "Promoted");
        if taken {
            let id = self.id();
            self.event(
                EventType::Normal,
                "ManualPromotion",
                format!("Promoting {id} now, as asked by {}", manual::PROMOTE),
            );
            self.notice(
                NoticeKind::Manual,
                format!("{id} is being promoted by annotation, skipping the remaining steps."),
            );
        }
        taken
    }

    /// Annotations that make no sense now: removed, with a Warning that says why.
    fn refuse_all(&mut self, why: impl Fn(Phase) -> Refusal) {
        let phase = self.phase();
        for (annotation, which) in self.pending.take_all() {
            let message = why(phase).message(which, &self.id());
            self.d.remove_annotations.push(annotation);
            self.manual_trace("Ignored", &message);
            self.event(EventType::Warning, "AnnotationIgnored", message);
        }
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
            let reason = self.reason.unwrap_or(if phase == Phase::Unset { "Initializing" } else { phase.as_str() });
            let message = self.message.take().unwrap_or_else(|| conditions::promoted_message(phase).to_owned());
            let truth = conditions::promoted_status(phase);
            conditions::set(&mut self.d.status, PROMOTED, truth, reason, &message, self.i.now);
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

impl Run<'_, '_> {
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
        let primary = format!("{}-primary.{}", self.i.spec.target_ref.name, self.i.namespace);
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

/// The weight after `current` along `stepWeights`, or by `stepWeight`, capped at the maximum.
pub(super) fn next_weight(spec: &fledge_crds::canary::CanarySpec, current: i32) -> i32 {
    let analysis = &spec.analysis;
    let max = analysis.max_weight();
    let next = match analysis.step_weights.as_deref() {
        Some(steps) if !steps.is_empty() => steps.iter().copied().find(|w| *w > current).unwrap_or(max),
        _ => match analysis.step_weight.filter(|s| *s > 0) {
            Some(step) => current + step,
            None => max,
        },
    };
    next.min(max).clamp(0, 100)
}

/// A cookie value unique to one run: a hash of the Canary, the revision and the start.
fn cookie_token(namespace: &str, name: &str, revision: &str, now: k8s_openapi::jiff::Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("{namespace}/{name}/{revision}/{}", now.as_millisecond()).as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `1h 2m 3s`, `2m 5s`, `40s`: how long, for people.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m {sec}s"),
        (h, min, sec) => format!("{h}h {min}m {sec}s"),
    }
}

fn readiness(name: &str, verdict: Verdict, message: &str, i: &Input<'_>) -> CheckResult {
    CheckResult {
        name: name.to_owned(),
        kind: CheckKind::Readiness,
        verdict,
        value: None,
        message: (!message.is_empty()).then(|| message.to_owned()),
        time: Some(stamp(i.now)),
    }
}
