//! The webhooks that gate or check a rollout (`analysis.webhooks` of types confirm-rollout,
//! pre-rollout, rollout, confirm-traffic-increase and confirm-promotion), called with Flagger's
//! payload at the stage the lifecycle asks for. A 2xx answer passes; anything else is a result
//! that did not pass, which the lifecycle reads as a closed gate or a failed check depending on
//! the stage. Does I/O (the hooks, their signing Secret).

use crate::checks::credentials::{self, SecretError};
use crate::checks::{CheckContext, Checks};
use fledge_core::Stage;
use fledge_crds::canary::{CanaryWebhook, CheckKind, CheckResult, Verdict, WebhookType};
use fledge_webhooks::{Hooks, Payload};
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Client, ResourceExt};

/// The key of a webhook's Secret that signs its calls.
pub const SIGNING_KEY: &str = "key";

/// Calls the gate and check webhooks of each stage.
#[derive(Clone)]
pub struct WebhookChecks {
    client: Client,
    hooks: Hooks,
}

impl std::fmt::Debug for WebhookChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChecks").finish_non_exhaustive()
    }
}

/// The webhook type called at a stage.
fn type_of(stage: Stage) -> WebhookType {
    match stage {
        Stage::ConfirmRollout => WebhookType::ConfirmRollout,
        Stage::PreRollout => WebhookType::PreRollout,
        Stage::Analysis => WebhookType::Rollout,
        Stage::ConfirmTrafficIncrease => WebhookType::ConfirmTrafficIncrease,
        Stage::ConfirmPromotion => WebhookType::ConfirmPromotion,
        Stage::Rollback => WebhookType::Rollback,
        Stage::PostRollout => WebhookType::PostRollout,
    }
}

impl WebhookChecks {
    /// Webhook checks reading signing Secrets with `client`.
    pub fn new(client: Client, hooks: Hooks) -> Self {
        Self { client, hooks }
    }

    async fn call(&self, hook: &CanaryWebhook, ctx: &CheckContext<'_>) -> CheckResult {
        let canary = ctx.canary;
        let status = canary.status.clone().unwrap_or_default();
        let payload = Payload::hook(
            &canary.name_any(),
            &canary.namespace().unwrap_or_default(),
            status.phase,
            status.last_applied_spec.as_deref().unwrap_or_default(),
            hook,
        );
        let (verdict, message) = match self.signing_key(hook, ctx).await {
            Ok(key) => {
                let outcome = self.hooks.call(hook, &payload, key.as_deref()).await;
                (if outcome.passed { Verdict::Pass } else { Verdict::Fail }, outcome.message)
            }
            Err(why) => (Verdict::Error, why.to_string()),
        };
        CheckResult {
            name: hook.name.clone(),
            kind: CheckKind::Webhook,
            verdict,
            value: None,
            message: Some(message),
            time: Some(Time(ctx.now)),
        }
    }

    /// The key of the hook's Secret, when it names one.
    async fn signing_key(&self, hook: &CanaryWebhook, ctx: &CheckContext<'_>) -> Result<Option<Vec<u8>>, SecretError> {
        let Some(secret) = &hook.secret_ref else { return Ok(None) };
        let namespace = ctx.canary.namespace().unwrap_or_default();
        credentials::value(&self.client, &namespace, &secret.name, SIGNING_KEY).await.map(Some)
    }
}

impl Checks for WebhookChecks {
    fn check<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async move {
            let wanted = type_of(stage);
            let hooks = ctx.canary.spec.analysis.webhooks.clone().unwrap_or_default();
            let mut results = Vec::new();
            for hook in hooks.iter().filter(|h| h.kind() == wanted) {
                let result = self.call(hook, ctx).await;
                tracing::info!(webhook = %hook.name, stage = %stage, verdict = ?result.verdict, "webhook");
                results.push(result);
            }
            results
        })
    }
}
