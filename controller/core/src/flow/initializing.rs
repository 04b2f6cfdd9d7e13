//! A new Canary: the primary is created from the target and traffic moves to it once it can
//! serve; waiting on the primary, here and at promotion. Pure.

use super::{Draft, POLL};
use crate::conditions::{self, PROMOTED};
use crate::manual::Refusal;
use crate::time::{deadline, elapsed, progress_since};
use crate::{EventType, NoticeKind};
use fledge_crds::canary::Phase;

impl Draft<'_, '_> {
    pub(super) fn initializing(&mut self) {
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
    pub(super) fn primary_wait(&mut self, why: &str, deadline_exceeded: bool) -> bool {
        // From the last progress: the phase change, or a step-weight promotion's last step, so
        // a promotion slower than the deadline is not taken for a stuck one.
        let since = progress_since(&self.d.status).unwrap_or(self.i.now);
        let primary = self.primary_id();
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
}
