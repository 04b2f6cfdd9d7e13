//! What ends a rollout from outside it: a target that can no longer serve (its traffic goes
//! to the primary at once and the run fails), and a deleted Canary whose changes are reverted
//! (`revertOnDeletion`: the target scaled up and given the traffic back, then the finalizer
//! released). Pure.

use super::{Draft, POLL};
use crate::time::{deadline, elapsed, remaining};
use crate::{Deletion, EventType, Notice, NoticeKind, Objects, TargetScale, spec_valid};
use fledge_crds::canary::Phase;

impl Draft<'_, '_> {
    /// The target vanished or became unusable: a spec problem (`SpecValid`); and while traffic
    /// is on the canary, everything goes to the primary at once rather than to a Service
    /// without pods, and the run is Failed.
    pub(super) fn target_unavailable(&mut self, why: &str) {
        // Fledge's other objects are built from the target.
        self.d.objects = Objects::Untouched;
        if self.phase().is_active() {
            let id = self.id();
            let message = format!("Rolling back {id}: all traffic to the primary, the canary cannot serve ({why})");
            self.set_phase(Phase::Failed);
            self.set_weight(0);
            self.d.status.mirrored = None;
            self.end_cookies();
            self.zero_counters();
            self.d.objects = Objects::PrimaryOnly;
            self.d.post_rollout = true;
            self.event(EventType::Warning, "RolledBack", message.clone());
            let facts = vec![("Phase".to_owned(), Phase::Failed.as_str().to_owned())];
            self.d.notices.push(Notice { kind: NoticeKind::Failed, message: message.clone(), facts });
            self.reason = Some("TargetUnavailable");
            self.message = Some(message);
            self.set_promoted();
        }
        if let Some(event) = spec_valid::refused(&mut self.d.status, self.i.generation, why, self.i.now) {
            self.d.events.push(event);
        }
    }

    /// The Canary is being deleted. Held by Fledge's finalizer, it is Terminating while the
    /// target is scaled up; once the target is ready (or its progress deadline has passed) the
    /// traffic goes back to it, it is Terminated and the finalizer is released.
    pub(super) fn deleting(&mut self, deletion: Deletion) {
        self.d.objects = Objects::Untouched;
        if deletion != Deletion::Revert {
            return;
        }
        if self.phase() == Phase::Terminated {
            // Reverted already; only the release is left (it failed last time).
            self.d.release_finalizer = true;
            return;
        }
        let id = self.id();
        if self.phase() != Phase::Terminating {
            self.set_phase(Phase::Terminating);
            self.event(EventType::Normal, "Terminating", format!("Reverting {id}: scaling up the target"));
        }
        self.revert();
        self.set_promoted();
    }

    /// Give the traffic back to the target once it can serve it.
    fn revert(&mut self) {
        let id = self.id();
        if let Some(why) = &self.i.observed.target_unavailable {
            // Nothing to give the traffic back to: let the Canary go.
            self.event(EventType::Warning, "RevertSkipped", why.clone());
            self.d.release_finalizer = true;
            return;
        }
        self.d.target = TargetScale::Up;
        let target = &self.i.observed.canary;
        let since = self.d.status.last_transition_time.as_ref().map_or(self.i.now, |t| t.0);
        let limit = deadline(self.i.spec);
        if !target.ready && elapsed(since, self.i.now) < limit {
            self.requeue(POLL.min(remaining(since, limit, self.i.now)));
            return;
        }
        if !target.ready {
            let message = format!(
                "Reverting {id} although the target is not ready after {}s: {}",
                limit.as_secs(),
                target.message
            );
            self.event(EventType::Warning, "RevertDeadlineExceeded", message);
        }
        self.d.objects = Objects::Reverted;
        self.set_phase(Phase::Terminated);
        self.event(EventType::Normal, "Terminated", format!("Reverted {id}: traffic goes to the target"));
        self.d.release_finalizer = true;
    }
}
