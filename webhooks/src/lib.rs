//! Talking to the outside world about a rollout: the webhook client that calls a Canary's
//! gates, rollout checks, rollback and post-rollout hooks and event sinks with the body Flagger
//! sends. [`payload`] is the body (pure); [`client`] makes the calls (HTTP I/O): a timeout on
//! every attempt, retries with backoff, an optional HMAC-SHA256 signature, and an [`Outcome`]
//! whose message a person can act on. Deciding what an outcome means for the rollout is the
//! controller's business. [`notify`] tells people in chat (Slack, Teams, Discord, Rocket.Chat,
//! Google Chat, a generic JSON receiver): the bodies are pure, [`Notifiers`] sends them.

pub mod client;
pub mod notify;
pub mod payload;

pub use client::{Backoff, Error, Failure, Hooks, Outcome, SIGNATURE_HEADER};
pub use notify::{Destination, Message, Notifiers, SendError, Severity};
pub use payload::Payload;
