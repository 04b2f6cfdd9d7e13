//! The Fledge controller as a library: the I/O around the pure rollout state machine
//! ([`fledge_core`]). The folders follow the path of a reconcile:
//!
//! - [`cluster`]: the Kubernetes side: observe the Canary's world, reconcile, act on the
//!   objects Fledge owns (Services, routes, the primary), take over and revert.
//! - [`checks`]: what a decision asks to run: metrics, access logs, webhooks and gates, and the
//!   pod logs and credentials they read.
//! - [`delivery`]: what leaves the controller for people: events, event webhooks,
//!   notifications, and the queues that send them.
//! - [`process`]: the `fledge controller` process: the kube-runtime controller, leader
//!   election, the HTTP endpoints and the process's metrics.
//!
//! [`cli`] is the `fledge` command line; the `fledge` binary only calls it.

pub mod checks;
pub mod cli;
mod cluster;
mod delivery;
mod error;
pub mod process;
