//! Phase Waiting: a new revision held by a confirm-rollout gate. Pure.

use super::Draft;
use crate::TargetScale;
use crate::manual::Refusal;
use fledge_crds::canary::Phase;

impl Draft<'_, '_> {
    pub(super) fn waiting(&mut self) {
        let o = self.i.observed;
        self.d.target = TargetScale::Zero;
        self.set_weight(0);
        if self.take_abort() {
            // The aborted revision is not started again by itself; retry starts it.
            self.d.status.last_applied_spec = Some(o.revision.clone());
            self.abort();
            return;
        }
        if self.take_promote() {
            self.d.status.last_applied_spec = Some(o.revision.clone());
            self.d.status.tracked_configs = (!o.tracked_configs.is_empty()).then(|| o.tracked_configs.clone());
            self.start_promotion();
            return;
        }
        self.refuse_all(|_| Refusal::Idle(Phase::Waiting));
        if self.d.status.last_promoted_spec.as_deref() == Some(o.revision.as_str()) {
            self.set_phase(Phase::Succeeded);
            self.d.status.last_applied_spec = Some(o.revision.clone());
            return;
        }
        if let Some(left) = self.step_due() {
            self.requeue(left);
            return;
        }
        match self.rollback_asked() {
            None => {}
            Some(Some(message)) => {
                // As after an abort: this revision is not started again by itself.
                self.d.status.last_applied_spec = Some(o.revision.clone());
                self.rollback("RollbackWebhook", message);
            }
            Some(None) => self.new_revision(),
        }
    }
}
