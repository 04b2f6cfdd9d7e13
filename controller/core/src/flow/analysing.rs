//! Phases Progressing and WaitingPromotion: each analysis interval, the checks of the canary's
//! traffic judge the step; too little data holds, a failure counts, an unready canary waits. Pure.

use super::{Draft, POLL};
use crate::manual::Refusal;
use crate::time::{deadline, elapsed, remaining, stamp};
use crate::{EventType, Input, Stage, TargetScale, all_pass, describe, describe_failures};
use fledge_crds::canary::{CheckKind, CheckResult, Verdict};

impl Draft<'_, '_> {
    pub(super) fn analysing(&mut self) {
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
    pub(super) fn start_analysis(&mut self) {
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
    pub(super) fn canary_wait(&mut self) {
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
    pub(super) fn no_data(&mut self, results: &[CheckResult]) {
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
    pub(super) fn at_step(&self) -> String {
        let iterations = self.i.spec.analysis.iterations();
        let done = self.d.status.iterations.unwrap_or(0);
        match (iterations, self.d.canary_weight) {
            (0, weight) => format!("at weight {weight}"),
            (n, _) if done < n => format!("at iteration {}/{n}", done + 1),
            (_, 100) if !self.ab_test() => "at full traffic".to_owned(),
            _ => "after its last iteration".to_owned(),
        }
    }

    pub(super) fn failed_check(&mut self, results: &[CheckResult]) {
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

    /// Whether the run's analysis has not started: no traffic has reached the canary yet (no
    /// weight, no iteration, no copies). A status written before `analysisStartTime` existed
    /// counts as started once it has a weight, an iteration or copies.
    pub(super) fn before_first_step(&self) -> bool {
        let status = &self.d.status;
        status.analysis_start_time.is_none()
            && self.d.canary_weight == 0
            && status.iterations.unwrap_or(0) == 0
            && status.mirrored != Some(true)
    }

    /// The run's first step is taken: from now on the canary has traffic to be judged on.
    pub(super) fn first_step(&mut self) {
        self.d.status.analysis_start_time = Some(stamp(self.i.now));
        self.d.status.strategy = Some(self.strategy());
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
