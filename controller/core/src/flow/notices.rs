//! What people are told beside an event or a notice: the revision as they read it and the facts
//! of a rollout (image, phase, weight, failed checks, how long it took). Pure.

use super::Draft;
use crate::NoticeKind;
use crate::conditions::{self, PROMOTED};
use crate::time::elapsed;
use fledge_crds::canary::ConditionStatus;
use std::time::Duration;

impl Draft<'_, '_> {
    /// A revision as people read it: its hash and, when it is the target's, its images.
    pub(super) fn revision_shown(&self, revision: &str) -> String {
        match self.i.observed.images.as_slice() {
            images if !images.is_empty() && revision == self.i.observed.revision => {
                format!("{revision} ({})", images.join(", "))
            }
            _ => revision.to_owned(),
        }
    }

    /// What a person wants to see beside a notice: which revision and image, how far the
    /// rollout got, and for an ending how long it took.
    pub(super) fn facts(&self, kind: NoticeKind) -> Vec<(String, String)> {
        let status = &self.d.status;
        let mut facts = Vec::new();
        let revision = match kind {
            NoticeKind::Promoted => status.last_promoted_spec.as_deref(),
            // A gate holding a release that has not started: the release is the target's.
            NoticeKind::Waiting => Some(self.i.observed.revision.as_str()),
            _ => status.last_applied_spec.as_deref(),
        };
        let revision = revision.filter(|r| !r.is_empty()).unwrap_or(self.i.observed.revision.as_str());
        if !revision.is_empty() {
            facts.push(("Revision".to_owned(), revision.to_owned()));
        }
        if !self.i.observed.images.is_empty() {
            facts.push(("Image".to_owned(), self.i.observed.images.join(", ")));
        }
        facts.push(("Phase".to_owned(), status.phase.as_str().to_owned()));
        if status.phase.is_active() {
            facts.push(("Canary weight".to_owned(), format!("{}%", self.d.canary_weight)));
        }
        let failed = status.failed_checks.unwrap_or(0);
        if failed > 0 {
            facts.push(("Failed checks".to_owned(), format!("{failed} of {}", self.i.spec.analysis.threshold())));
        }
        if matches!(kind, NoticeKind::Promoted | NoticeKind::Failed) {
            // The `Promoted` condition turned Unknown when the release was detected.
            let began = conditions::get(status, PROMOTED)
                .filter(|c| c.status == ConditionStatus::Unknown)
                .and_then(|c| c.last_transition_time.as_ref());
            if let Some(began) = began {
                facts.push(("Duration".to_owned(), human_duration(elapsed(began.0, self.i.now))));
            }
        }
        facts
    }
}

/// `1h 2m 3s`, `2m 5s`, `40s`: how long, for people.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m {sec}s"),
        (h, min, sec) => format!("{h}h {min}m {sec}s"),
    }
}
