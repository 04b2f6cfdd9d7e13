//! Nothing under way (Initialized, Succeeded, Failed): a new revision is released (through the
//! confirm-rollout gates), or retried, and a rollout run starts. Pure.

use super::Draft;
use crate::manual::{self, Refusal};
use crate::time::stamp;
use crate::{EventType, NoticeKind, Stage, TargetScale, all_pass, describe, first_failure};
use fledge_crds::canary::Phase;

impl Draft<'_, '_> {
    pub(super) fn idle(&mut self) {
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
    pub(super) fn new_revision(&mut self) {
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
    pub(super) fn restart(&mut self, message: String) {
        self.start_run();
        self.event(EventType::Normal, "RevisionRestarted", message);
        let id = self.id();
        let what = self.revision_shown(&self.i.observed.revision);
        self.notice(NoticeKind::Started, format!("New revision {what} of {id} detected, restarting the analysis."));
    }

    pub(super) fn start_run(&mut self) {
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
}
