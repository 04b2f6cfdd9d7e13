//! What leaves the controller for people: Kubernetes events on the Canary, `event` webhooks,
//! notifications to chat, and the ordered, bounded queues they go through, so a slow receiver
//! never holds up a reconcile. Does I/O.

pub mod event_hooks;
pub mod events;
pub mod notifications;
pub mod queue;

use fledge_core::Notice;
use fledge_crds::canary::Canary;
use futures::future::BoxFuture;

/// Tells people. Implementations must not fail the reconcile: they log their own errors.
pub trait Notifier: Send + Sync {
    /// Send one notice about a canary.
    fn notify<'a>(&'a self, canary: &'a Canary, notice: &'a Notice) -> BoxFuture<'a, ()>;
}
