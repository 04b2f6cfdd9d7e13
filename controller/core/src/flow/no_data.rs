//! Checks without data: the weight holds and the evidence accumulates, up to the progress
//! deadline. Pure.

use super::Draft;
use crate::time::{deadline, elapsed, remaining, stamp};
use crate::{EventType, describe};
use fledge_crds::canary::{CheckResult, Verdict};

impl Draft<'_, '_> {
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
}
