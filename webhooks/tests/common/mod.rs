//! What the webhook client's tests share: the body they send and a client that retries fast.

#![allow(dead_code)]

use fledge_crds::Phase;
use fledge_crds::canary::CanaryWebhook;
use fledge_webhooks::{Backoff, Hooks, Payload};
use std::time::Duration;

/// Flagger's body for `hook`, for Canary podinfo.test in Progressing.
pub fn mk_payload(hook: &CanaryWebhook) -> Payload {
    Payload::hook("podinfo", "test", Phase::Progressing, "7d9f8c6b5", hook)
}

/// A client whose retries wait milliseconds, not seconds.
pub fn fast() -> Hooks {
    Hooks::with_backoff(Backoff { base: Duration::from_millis(1), max: Duration::from_millis(5) }).unwrap()
}
