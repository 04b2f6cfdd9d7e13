//! The JSON body Fledge POSTs to a webhook, field for field the one Flagger sends
//! (`CanaryWebhookPayload`), so receivers written for Flagger (its load tester, gates, event
//! sinks) work unchanged. Pure: the caller passes the time.

use fledge_crds::Phase;
use fledge_crds::canary::CanaryWebhook;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The body of a webhook call:
/// `{"name","namespace","phase","checksum","metadata"}`, with `metadata` left out when empty
/// (Flagger's `omitempty`). Keys of `metadata` are sorted, as Go's encoder sorts map keys.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Name of the Canary.
    pub name: String,
    /// Namespace of the Canary.
    pub namespace: String,
    /// The phase the call is made in (Flagger's exact names).
    pub phase: Phase,
    /// The canary's revision checksum, so a receiver can tell one rollout from the next.
    pub checksum: String,
    /// The hook's `metadata`, plus the event fields for `event` hooks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Payload {
    /// The body of a gate, rollout, rollback or post-rollout call: the hook's own `metadata`
    /// passed through as written.
    pub fn hook(name: &str, namespace: &str, phase: Phase, checksum: &str, hook: &CanaryWebhook) -> Self {
        Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            phase,
            checksum: checksum.to_owned(),
            metadata: hook.metadata.clone().unwrap_or_default(),
        }
    }

    /// The body of an `event` hook call: the hook body plus `eventMessage`, `eventType`
    /// (`Normal` or `Warning`, as on the Kubernetes event) and `timestamp` (Unix milliseconds,
    /// as a string). As in Flagger, these three win over hook metadata of the same name.
    /// Build it as `Payload::hook(..).with_event(message, "Normal", now)`.
    pub fn with_event(mut self, message: &str, event_type: &str, at: SystemTime) -> Self {
        let payload = &mut self;
        let millis = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        payload.metadata.insert("eventMessage".to_owned(), message.to_owned());
        payload.metadata.insert("eventType".to_owned(), event_type.to_owned());
        payload.metadata.insert("timestamp".to_owned(), millis.to_string());
        self
    }
}
