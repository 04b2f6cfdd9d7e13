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

    pub(super) fn promoting(&mut self) {
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
