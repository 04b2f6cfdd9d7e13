//! Deciding whether a rollout step is healthy: metric queries and their thresholds, the
//! per-version numbers of Envoy access logs, and the statistical judge of the canary against
//! the primary.

pub mod access_log;
pub mod builtin;
mod http;
pub mod judge;
pub mod latency;
pub mod loki;
pub mod prometheus;
pub mod promql;
pub mod template;
pub mod threshold;
