//! Phases Progressing and WaitingPromotion: each analysis interval, the checks of the canary's
//! traffic judge the step; too little data holds, a failure counts, an unready canary waits. Pure.

use super::{DONE, Draft, NEXT, POLL, Step, stop_if};
use crate::manual::Refusal;
use crate::time::{deadline, elapsed, remaining, stamp};
use crate::{EventType, Input, Stage, TargetScale, describe_failures};
use fledge_crds::canary::{CheckKind, CheckResult, Verdict};

impl Draft<'_, '_> {
    /// One analysis interval: what may end it before the checks, then the checks.
    pub(super) fn analysing(&mut self) {
        self.d.target = TargetScale::Up;
        if self.before_checks().is_break() {
            return;
        }
        if self.before_first_step() {
            self.first_interval();
        } else {
            self.judge_interval();
        }
    }

    /// What comes before an interval's checks, in order; each step may end the decision.
    fn before_checks(&mut self) -> Step {
        self.newer_revision()?;
        self.annotations_while_analysing()?;
        // Before readiness: the routes of this decision are drawn from the spec as it is now,
        // so a weight of the old kind must not be drawn as the new kind's, even while the
        // canary is not ready.
        stop_if(self.strategy_changed())?;
        self.canary_ready()?;
        self.threshold_reached()?;
        self.mirror_turned_off();
        self.analysis_skipped()?;
        self.interval_due()?;
        self.rollback_hooks()
    }

    /// A revision other than the one under analysis: its analysis starts from the beginning.
    fn newer_revision(&mut self) -> Step {
        let o = self.i.observed;
        if self.d.status.last_applied_spec.as_deref() == Some(o.revision.as_str()) {
            return NEXT;
        }
        let id = self.id();
        let from = self.d.status.last_applied_spec.clone().unwrap_or_default();
        let message = format!(
            "New revision {} of {id} detected during the analysis of {from}; restarting the analysis",
            o.revision
        );
        self.restart(message);
        DONE
    }

    /// Abort and promote act at once; retry makes no sense while analysing.
    fn annotations_while_analysing(&mut self) -> Step {
        if self.take_abort() {
            self.abort();
            return DONE;
        }
        if self.take_promote() {
            self.start_promotion();
            return DONE;
        }
        self.refuse_all(Refusal::Busy);
        NEXT
    }

    /// A canary that is not ready waits (or is rolled back at its deadline); one ready again
    /// during a wait for data starts that wait afresh.
    fn canary_ready(&mut self) -> Step {
        if !self.i.observed.canary.ready {
            self.canary_wait();
            return DONE;
        }
        if self.d.status.canary_unready_since.take().is_some() && self.d.status.no_data_since.is_some() {
            // The time it could not serve does not count.
            self.d.status.no_data_since = Some(stamp(self.i.now));
        }
        NEXT
    }

    /// Flagger rolls back once the failed checks reach the threshold, also when it is the
    /// threshold that was lowered.
    fn threshold_reached(&mut self) -> Step {
        let failed = self.d.status.failed_checks.unwrap_or(0);
        let threshold = self.i.spec.analysis.threshold();
        if failed <= 0 || failed < threshold {
            return NEXT;
        }
        let id = self.id();
        self.rollback(
            "FailedChecks",
            format!("Rolling back {id}: failed checks threshold reached {failed} (threshold is now {threshold})"),
        );
        DONE
    }

    /// `mirror` turned off mid-run: the copies stop now.
    fn mirror_turned_off(&mut self) {
        if self.d.status.mirrored != Some(true) || self.mirroring() {
            return;
        }
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

    /// `spec.skipAnalysis`: promoted once the canary is ready.
    fn analysis_skipped(&mut self) -> Step {
        if self.i.spec.skip_analysis != Some(true) {
            return NEXT;
        }
        let id = self.id();
        self.event(EventType::Normal, "SkipAnalysis", format!("Skipping the analysis of {id}: spec.skipAnalysis"));
        self.start_promotion();
        DONE
    }

    /// Steps are an interval apart, timed from the status.
    fn interval_due(&mut self) -> Step {
        match self.step_due() {
            Some(left) => {
                self.requeue(left);
                DONE
            }
            None => NEXT,
        }
    }

    /// A rollback hook answering 2xx rolls back.
    fn rollback_hooks(&mut self) -> Step {
        match self.rollback_asked() {
            None => DONE,
            Some(Some(message)) => {
                self.rollback("RollbackWebhook", message);
                DONE
            }
            Some(None) => NEXT,
        }
    }

    /// The checks judge the traffic of the last interval: a failure counts, too little data
    /// holds, and a pass advances.
    fn judge_interval(&mut self) {
        let Some(analysis) = self.results(Stage::Analysis) else { return };
        self.record(analysis);
        if analysis.iter().any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)) {
            self.failed_check(analysis);
        } else if analysis.iter().any(|r| r.verdict == Verdict::NoData) {
            self.no_data(analysis);
        } else {
            self.d.status.no_data_since = None;
            self.advance();
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
