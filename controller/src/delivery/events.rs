//! Publishing Kubernetes events on a Canary (events.k8s.io/v1). Every distinct message is its
//! own event, as client-go's recorder does for Flagger: kube-runtime's `Recorder` folds events
//! of the same reason into one series that keeps the first message, which would show
//! "Advance podinfo.test canary weight 10" for every step. Does I/O.

use crate::delivery::event_hooks::EventHooks;
use fledge_core::EventType;
use fledge_crds::canary::Canary;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client, Resource, ResourceExt};

/// The reporting controller named on every event.
pub const REPORTER: &str = "fledge.dev/controller";

/// Publishes events for one controller instance, and hands each to the event webhooks.
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    instance: String,
    hooks: Option<EventHooks>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("instance", &self.instance).finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher writing as `instance` (the replica's identity).
    pub fn new(client: Client, instance: impl Into<String>) -> Self {
        Self { client, instance: instance.into(), hooks: None }
    }

    /// Also send every event to the `event` webhooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: EventHooks) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Publish one event, and queue it for the event webhooks with the phase and checksum of
    /// `canary`'s status; a failure is logged, never fatal (events are best effort).
    pub async fn publish(&self, canary: &Canary, type_: EventType, reason: &str, message: &str) {
        self.record(canary, type_, reason, message).await;
        self.forward(canary, type_, message);
    }

    /// Queue an event for the event webhooks only (one already recorded with [`Self::record`]).
    pub fn forward(&self, canary: &Canary, type_: EventType, message: &str) {
        if let Some(hooks) = &self.hooks {
            hooks.send(canary, type_, message);
        }
    }

    /// Write the Kubernetes event only; the event webhooks hear of it through
    /// [`Self::forward`].
    pub async fn record(&self, canary: &Canary, type_: EventType, reason: &str, message: &str) {
        match type_ {
            EventType::Normal => tracing::info!(reason, message, "event"),
            EventType::Warning => tracing::warn!(reason, message, "event"),
        }
        let namespace = canary.namespace().unwrap_or_default();
        let now = Timestamp::now();
        let event = build(canary, type_, reason, message, &self.instance, now);
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, reason, "publishing an event failed");
        }
    }
}

/// The event object. Pure.
pub fn build(canary: &Canary, type_: EventType, reason: &str, message: &str, instance: &str, now: Timestamp) -> Event {
    let reference: ObjectReference = canary.object_ref(&());
    Event {
        metadata: ObjectMeta {
            // Unique per event, like client-go's `<name>.<hex nanoseconds>`, within 253 characters.
            name: Some(format!("{}.{:x}", truncate(&canary.name_any(), 200), now.as_nanosecond())),
            namespace: canary.namespace(),
            ..ObjectMeta::default()
        },
        type_: Some(type_.as_str().to_owned()),
        reason: Some(truncate(reason, 128).to_owned()),
        action: Some(truncate(reason, 128).to_owned()),
        // The API allows 1 kB.
        note: Some(truncate(message, 1024).to_owned()),
        regarding: Some(reference),
        reporting_controller: Some(REPORTER.to_owned()),
        reporting_instance: Some(truncate(instance, 128).to_owned()),
        event_time: Some(MicroTime(now)),
        ..Event::default()
    }
}

/// At most `bytes` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_counts_bytes_and_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("ok", 10), "ok");
    }
}
