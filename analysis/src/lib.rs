//! Deciding whether a rollout step is healthy: metric queries and their thresholds (access
//! logs and the statistical judge come with the rest of the analysis issue).

pub mod builtin;
pub mod latency;
pub mod loki;
pub mod prometheus;
pub mod promql;
pub mod template;
pub mod threshold;
