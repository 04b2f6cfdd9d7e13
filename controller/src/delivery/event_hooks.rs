//! `event` webhooks: every event Fledge publishes on a Canary is POSTed, with Flagger's body
//! plus `eventMessage`, `eventType` and `timestamp`, to the Canary's hooks of type `event` and
//! to the controller's global event webhook (`--event-webhook`). Does I/O.
//!
//! Deliveries go through a [`Queue`](crate::delivery::queue::Queue), so a slow or unreachable receiver never
//! holds up a reconcile, and a receiver sees one controller's events in the order they were
//! published. A full queue drops the event with a warning: event sinks are best effort, the
//! Kubernetes event is the record.

use crate::checks::credentials;
use crate::checks::webhooks::SIGNING_KEY;
use crate::delivery::queue::Queue;
use fledge_core::EventType;
use fledge_crds::canary::{Canary, CanaryWebhook, WebhookType};
use fledge_webhooks::notify::redacted_address;
use fledge_webhooks::{Hooks, Payload};
use kube::{Client, ResourceExt};
use std::time::SystemTime;
use tokio::task::JoinHandle;

/// The name the global event webhook has in logs.
pub const GLOBAL_HOOK: &str = "event-webhook";

/// One event, to be sent to each of `hooks`.
struct Delivery {
    namespace: String,
    hooks: Vec<CanaryWebhook>,
    payload: Payload,
}

/// Hands events to the delivery worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventHooks {
    queue: Queue<Delivery>,
    global: Option<CanaryWebhook>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("hooks", &self.hooks.len()).finish_non_exhaustive()
    }
}

impl EventHooks {
    /// Start the delivery worker (on the current tokio runtime). `global` is the URL of the
    /// controller's event webhook, called for every Canary. The worker ends once every clone
    /// of the answer is dropped and the queue is empty.
    pub fn spawn(client: Client, hooks: Hooks, global: Option<String>) -> (Self, JoinHandle<()>) {
        let (queue, worker) = Queue::spawn("event webhooks", move |delivery| {
            let (client, hooks) = (client.clone(), hooks.clone());
            async move { deliver(&client, &hooks, delivery).await }
        });
        let global = global.filter(|url| !url.is_empty()).map(|url| CanaryWebhook {
            name: GLOBAL_HOOK.to_owned(),
            r#type: Some(WebhookType::Event),
            url,
            ..CanaryWebhook::default()
        });
        (Self { queue, global }, worker)
    }

    /// Queue an event about `canary` (whose status is the one the event belongs to) for its
    /// event hooks and the global one; nothing happens when there are none.
    pub fn send(&self, canary: &Canary, type_: EventType, message: &str) {
        let mut hooks: Vec<CanaryWebhook> = canary
            .spec
            .analysis
            .webhooks
            .iter()
            .flatten()
            .filter(|h| h.kind() == WebhookType::Event)
            .cloned()
            .collect();
        hooks.extend(self.global.clone());
        if hooks.is_empty() {
            return;
        }
        let status = canary.status.clone().unwrap_or_default();
        let type_ = type_.as_str();
        let namespace = canary.namespace().unwrap_or_default();
        // The hook's own metadata is added per hook at delivery.
        let payload = Payload::hook(
            &canary.name_any(),
            &namespace,
            status.phase,
            status.last_applied_spec.as_deref().unwrap_or_default(),
            &CanaryWebhook::default(),
        )
        .with_event(message, type_, SystemTime::now());
        let delivery = Delivery { namespace, hooks, payload };
        self.queue.push(delivery);
    }
}

async fn deliver(client: &Client, hooks: &Hooks, delivery: Delivery) {
    for hook in &delivery.hooks {
        let mut payload = delivery.payload.clone();
        for (key, value) in hook.metadata.iter().flatten() {
            // The event's own fields win, as in Flagger.
            payload.metadata.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let key = match &hook.secret_ref {
            None => None,
            Some(secret) => match credentials::value(client, &delivery.namespace, &secret.name, SIGNING_KEY).await {
                Ok(key) => Some(key),
                Err(why) => {
                    tracing::warn!(webhook = %hook.name, error = %why, "event webhook not called");
                    continue;
                }
            },
        };
        let outcome = hooks.call(hook, &payload, key.as_deref()).await;
        // An event sink's URL may carry its secret in the path (chat-style incoming webhooks),
        // so only its host is logged, with the answer's status.
        let address = redacted_address(&hook.url);
        if outcome.passed {
            tracing::debug!(webhook = %hook.name, %address, "event webhook called");
        } else {
            let failure = outcome.failure.map(|f| f.category()).unwrap_or_default();
            tracing::warn!(webhook = %hook.name, %address, status = ?outcome.status, failure, "event webhook failed");
        }
    }
}
