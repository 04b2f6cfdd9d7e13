//! The Fledge controller as a library: the rollout state machine, the objects it writes, and
//! the process that runs it. The `fledge` binary is a thin command line over this.

pub mod access_log_checks;
pub mod act;
pub mod checks;
pub mod credentials;
pub mod decide;
pub mod error;
pub mod event_hooks;
pub mod events;
pub mod leader;
pub mod metric_checks;
pub mod notifications;
pub mod objects;
pub mod observe;
pub mod pod_logs;
pub mod queue;
pub mod reconcile;
pub mod revert;
pub mod revision;
pub mod rules;
pub mod run;
pub mod server;
pub mod takeover;
pub mod telemetry;
pub mod webhook_checks;
pub mod workload;
