//! The end of a failed rollout run: rolled back (a check, a deadline, a hook) or aborted. Pure.

use super::Draft;
use crate::{EventType, Notice, NoticeKind, TargetScale, manual};
use fledge_crds::canary::Phase;

impl Draft<'_, '_> {
    pub(super) fn abort(&mut self) {
        let id = self.id();
        self.notice(NoticeKind::Manual, format!("Rollout of {id} aborted by annotation."));
        self.reason = Some("Aborted");
        self.rollback("Aborted", format!("Rolling back {id}: aborted by {}", manual::ABORT));
    }

    pub(super) fn rollback(&mut self, reason: &'static str, message: String) {
        let id = self.id();
        self.set_phase(Phase::Failed);
        self.set_weight(0);
        self.d.status.mirrored = None;
        self.end_cookies();
        // The notice says how many checks failed: taken before the counters are zeroed.
        let mut facts = self.facts(NoticeKind::Failed);
        self.zero_counters();
        self.d.post_rollout = true;
        // The target is scaled to zero once traffic has drained from it (see `idle`).
        self.d.target = TargetScale::Keep;
        self.requeue(self.drain());
        self.d.promote_primary = false;
        self.d.needs = None;
        self.event(EventType::Warning, "RolledBack", message.clone());
        self.event(EventType::Warning, "Failed", format!("Canary failed! Scaling down {id}"));
        facts.retain(|(key, _)| key != "Canary weight");
        self.d.notices.push(Notice { kind: NoticeKind::Failed, message: message.clone(), facts });
        self.reason.get_or_insert(reason);
        self.message = Some(message);
    }
}
