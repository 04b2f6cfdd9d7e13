//! `spec.suspend`: nothing moves but an abort, and the time suspended does not count. Pure.

use super::Draft;
use crate::conditions::{self, SUSPENDED};
use crate::time::stamp;
use crate::{Objects, manual};
use fledge_crds::canary::ConditionStatus;

impl Draft<'_, '_> {
    pub(super) fn suspended(&mut self) {
        self.d.objects = Objects::Untouched;
        // The canary's readiness is looked at afresh once resumed.
        self.d.status.canary_unready_since = None;
        let phase = self.phase();
        if self.pending.abort && manual::can_abort(phase) && self.take_abort() {
            // An abort is never held: the routes go back to the primary although suspended.
            self.d.objects = Objects::Routed;
            self.abort();
            return;
        }
        let waiting = self.pending.names().join(", ");
        let message = if waiting.is_empty() {
            "Canary is suspended: nothing moves until spec.suspend is unset.".to_owned()
        } else {
            format!("Canary is suspended: nothing moves until spec.suspend is unset; {waiting} will be acted on then.")
        };
        conditions::set(&mut self.d.status, SUSPENDED, ConditionStatus::True, "Suspended", &message, self.i.now);
        // Annotations other than abort wait for the resume.
        self.pending = manual::Pending::default();
    }

    /// Back from `suspend`: a step waiting for data starts its wait again, so the time
    /// suspended does not count against the canary.
    pub(super) fn resumed(&mut self) {
        if self.d.status.no_data_since.is_some() {
            self.d.status.no_data_since = Some(stamp(self.i.now));
        }
    }
}
