//! A rollout run's first interval: no traffic has reached the canary yet, so nothing is judged;
//! the pre-rollout hooks run and the first step (by the kind of run) is taken. Pure.

use super::Draft;
use crate::time::stamp;
use crate::{EventType, Stage, all_pass};

impl Draft<'_, '_> {
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

    /// The run's first interval: no traffic has reached the canary yet, so there is nothing
    /// to judge. As in Flagger, the pre-rollout hooks run (once: when a rollout window holds
    /// the run at weight 0, when it opens) and the first step is taken unjudged; the canary is
    /// first judged an interval later, on the traffic that step sent it.
    pub(super) fn first_interval(&mut self) {
        if self.window_open() && !self.pre_rollout_passed() {
            let Some(pre) = self.results(Stage::PreRollout) else { return };
            self.record(pre);
            if !all_pass(pre) {
                self.failed_check(pre);
                return;
            }
        }
        self.start_analysis();
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

    /// The run's first step is taken: from now on the canary has traffic to be judged on.
    pub(super) fn first_step(&mut self) {
        self.d.status.analysis_start_time = Some(stamp(self.i.now));
        self.d.status.strategy = Some(self.strategy());
    }
}
