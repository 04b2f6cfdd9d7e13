//! The manual annotations in a decision: acted on (and traced in the `ManualAction`
//! condition) or refused with a Warning that says why. Pure.

use super::Draft;
use crate::conditions::{self, MANUAL_ACTION};
use crate::manual::{self, Refusal};
use crate::{EventType, NoticeKind};
use fledge_crds::canary::{ConditionStatus, Phase};

impl Draft<'_, '_> {
    /// Act on a pending annotation: it is no longer pending and will be removed.
    /// The condition records it, so the status shows who stepped in and when.
    pub(super) fn take(
        &mut self,
        flag: fn(&mut manual::Pending) -> &mut bool,
        annotation: &'static str,
        reason: &str,
    ) -> bool {
        let taken = std::mem::take(flag(&mut self.pending));
        if taken {
            self.d.remove_annotations.push(annotation);
            let message = format!("{annotation}=true acted on in phase {}", self.phase());
            self.manual_trace(reason, &message);
        }
        taken
    }

    pub(super) fn manual_trace(&mut self, reason: &str, message: &str) {
        // A new instant per action, so a repeated action shows as a new transition.
        if let Some(c) =
            self.d.status.conditions.as_mut().and_then(|c| c.iter_mut().find(|c| c.r#type == MANUAL_ACTION))
        {
            c.status = ConditionStatus::Unknown;
        }
        conditions::set(&mut self.d.status, MANUAL_ACTION, ConditionStatus::True, reason, message, self.i.now);
    }

    pub(super) fn take_abort(&mut self) -> bool {
        self.take(|p| &mut p.abort, fledge_crds::ANNOTATION_ABORT, "Aborted")
    }

    pub(super) fn take_retry(&mut self) -> bool {
        self.take(|p| &mut p.retry, fledge_crds::ANNOTATION_RETRY, "Retried")
    }

    pub(super) fn take_promote(&mut self) -> bool {
        let taken = self.take(|p| &mut p.promote, fledge_crds::ANNOTATION_PROMOTE, "Promoted");
        if taken {
            let id = self.id();
            self.event(
                EventType::Normal,
                "ManualPromotion",
                format!("Promoting {id} now, as asked by {}", manual::PROMOTE),
            );
            self.notice(
                NoticeKind::Manual,
                format!("{id} is being promoted by annotation, skipping the remaining steps."),
            );
        }
        taken
    }

    /// Annotations that make no sense now: removed, with a Warning that says why.
    pub(super) fn refuse_all(&mut self, why: impl Fn(Phase) -> Refusal) {
        let phase = self.phase();
        for (annotation, which) in self.pending.take_all() {
            let message = why(phase).message(which, &self.id());
            self.d.remove_annotations.push(annotation);
            self.manual_trace("Ignored", &message);
            self.event(EventType::Warning, "AnnotationIgnored", message);
        }
    }
}
