//! Deciding whether a rollout step is healthy: metric queries and their thresholds, and the
//! per-version numbers of Envoy access logs (the statistical judge comes with the rest of the
//! analysis issue).

pub mod access_log;
pub mod builtin;
pub mod latency;
pub mod prometheus;
pub mod promql;
pub mod template;
pub mod threshold;
