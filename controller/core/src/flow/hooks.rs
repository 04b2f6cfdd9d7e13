//! Hooks and gates as the spec names them: which exist, which ask for no alert, whether the
//! rollback hooks ask for a rollback and the pre-rollout hooks have passed. Pure.

use super::Draft;
use crate::{Stage, first_failure};
use fledge_crds::canary::{CheckKind, CheckResult, Verdict, WebhookType};

impl Draft<'_, '_> {
    /// Whether a rollback hook asks for a rollback (a 2xx answer): `None` after asking the
    /// reconciler to call them, `Some(None)` when none does (or there are none), and
    /// `Some(Some(message))` naming the one that does.
    pub(super) fn rollback_asked(&mut self) -> Option<Option<String>> {
        if !self.has_hooks(WebhookType::Rollback) {
            return Some(None);
        }
        let results = self.results(Stage::Rollback)?;
        let id = self.id();
        Some(
            results
                .iter()
                .find(|r| r.verdict == Verdict::Pass)
                .map(|r| format!("Rolling back {id}: rollback webhook {:?} asked for it", r.name)),
        )
    }

    /// Whether every pre-rollout hook has passed in this run (the run's results are cleared
    /// when it starts): a passed pre-rollout hook (a migration, an acceptance test) is not
    /// called again while a gate or a rollout window holds the run's first step.
    pub(super) fn pre_rollout_passed(&self) -> bool {
        let checks = self.d.status.checks.as_deref().unwrap_or_default();
        self.i.spec.analysis.webhooks.iter().flatten().filter(|h| h.kind() == WebhookType::PreRollout).all(|h| {
            checks.iter().any(|c| c.kind == CheckKind::Webhook && c.name == h.name && c.verdict == Verdict::Pass)
        })
    }

    pub(super) fn has_hooks(&self, kind: WebhookType) -> bool {
        self.i.spec.analysis.webhooks.iter().flatten().any(|h| h.kind() == kind)
    }

    /// Whether the gate that held (the first result that did not pass) asks for no alert.
    pub(super) fn muted(&self, results: &[CheckResult]) -> bool {
        let Some(held) = first_failure(results) else { return false };
        self.i.spec.analysis.webhooks.iter().flatten().any(|h| h.name == held.name && h.mute_alert == Some(true))
    }
}
