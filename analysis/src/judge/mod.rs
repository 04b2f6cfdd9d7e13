//! The statistical judge of a rollout step on access logs: the canary's requests, errors and
//! latencies against absolute limits and against the primary's. Pure.

pub mod proportions;
pub mod ranks;
