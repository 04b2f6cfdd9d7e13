//! Phases Promoting and Finalising: the primary takes the analysed revision, traffic leaves
//! the canary, and the run ends Succeeded. Pure.

use super::Draft;
use crate::manual::Refusal;
use crate::time::stamp;
use crate::{EventType, NoticeKind, TargetScale};
use fledge_crds::canary::Phase;
use std::time::Duration;

impl Draft<'_, '_> {
    pub(super) fn start_promotion(&mut self) {
        let id = self.id();
        let primary = self.primary_id();
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

    /// Phase Promoting: the primary is given the analysed revision and, once it runs it, the
    /// traffic leaves the canary (at once, or by `stepWeightPromotion`).
    pub(super) fn promoting(&mut self) {
        self.refuse_all(|_| Refusal::Promoting);
        let p = self.promotion();
        if p.newer && !p.copied {
            // The target changed before its analysed revision reached the primary: copying
            // now would promote what nobody analysed. Analyse the new one from the start.
            let id = self.id();
            let revision = &self.i.observed.revision;
            self.restart(format!("New revision {revision} of {id} detected before promotion; restarting the analysis"));
            return;
        }
        // Until the primary carries the revision, keep copying (idempotent).
        self.d.promote_primary = !p.copied;
        if p.newer {
            // The canary's pods now run a revision nobody analysed: none of the traffic for them.
            self.set_weight(0);
        }
        if !p.copied || !self.i.observed.primary.as_ref().is_some_and(|w| w.ready) {
            self.primary_rolling(&p);
            return;
        }
        // The primary runs the analysed revision: that is the promotion, whatever comes next (a
        // newer revision, a slow step-weight promotion).
        self.d.status.last_promoted_spec = Some(p.applied);
        if p.newer {
            self.finalise_start();
        } else {
            self.traffic_to_the_primary();
        }
    }

    /// Where the promotion stands.
    fn promotion(&self) -> Promotion {
        let o = self.i.observed;
        let applied = self.d.status.last_applied_spec.clone().unwrap_or_default();
        Promotion {
            copied: o.primary_revision.as_deref() == Some(applied.as_str()),
            newer: o.revision != applied,
            applied,
        }
    }

    /// The primary does not run the analysed revision yet: wait for it, never moving traffic.
    fn primary_rolling(&mut self, p: &Promotion) {
        let (why, exceeded) = match &self.i.observed.primary {
            Some(w) if p.copied => (w.message.clone(), w.deadline_exceeded),
            Some(_) => ("the new template is not yet applied".to_owned(), false),
            None => ("it does not exist".to_owned(), false),
        };
        let stuck = self.primary_wait(&why, exceeded);
        if stuck && p.newer {
            // A fix released while the primary is stuck: analyse it (it replaces the primary
            // at its own promotion) rather than wait forever on a primary that cannot roll.
            let id = self.id();
            let revision = &self.i.observed.revision;
            let message =
                format!("New revision {revision} of {id} detected while the primary is stuck; starting its analysis");
            self.message = None;
            if p.copied {
                // Fledge gave the primary this revision; it is what the primary has.
                self.d.status.last_promoted_spec = Some(p.applied.clone());
            }
            self.restart(message);
        }
    }

    /// The primary runs the revision: the canary's share goes to it, at once or one
    /// `stepWeightPromotion` an interval, then Finalising.
    fn traffic_to_the_primary(&mut self) {
        let step = self.i.spec.analysis.step_weight_promotion.filter(|s| *s > 0);
        let Some(step) = step.filter(|_| self.d.canary_weight > 0) else {
            self.set_weight(0);
            self.finalise_start();
            return;
        };
        if let Some(left) = self.step_due() {
            self.requeue(left);
            return;
        }
        let next = (self.d.canary_weight - step).max(0);
        self.set_weight(next);
        self.stepped();
        let primary = self.primary_id();
        self.event(EventType::Normal, "Advanced", format!("Advance {primary} primary weight {}", 100 - next));
        if next == 0 {
            self.finalise_start();
        }
    }

    pub(super) fn finalise_start(&mut self) {
        self.set_phase(Phase::Finalising);
        self.requeue(self.drain());
    }

    pub(super) fn finalising(&mut self) {
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
}

/// Where a promotion stands.
struct Promotion {
    /// The revision analysed and being promoted (`lastAppliedSpec`).
    applied: String,
    /// The primary carries it.
    copied: bool,
    /// The target has moved on to a revision nobody analysed.
    newer: bool,
}
