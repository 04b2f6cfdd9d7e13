//! The kind of rollout run the spec asks for (weighted canary, A/B test, blue/green, mirrored)
//! and a change of kind during a run. Pure.

use super::Draft;
use crate::EventType;
use fledge_crds::canary::Strategy;

impl Draft<'_, '_> {
    /// The kind of run the spec asks for now.
    pub(super) fn strategy(&self) -> Strategy {
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
    pub(super) fn strategy_changed(&mut self) -> bool {
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

    /// Requests are copied to the canary (`analysis.mirror`, never with an A/B match).
    pub(super) fn mirroring(&self) -> bool {
        let analysis = &self.i.spec.analysis;
        analysis.mirror == Some(true) && !self.ab_test()
    }

    /// An A/B test: iterations on the requests that match `analysis.match`.
    pub(super) fn ab_test(&self) -> bool {
        let analysis = &self.i.spec.analysis;
        analysis.iterations() > 0 && analysis.r#match.as_ref().is_some_and(|m| !m.is_empty())
    }
}
