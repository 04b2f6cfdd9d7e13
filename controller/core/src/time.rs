//! Time arithmetic of the lifecycle on the timestamps the status carries. Pure.

use fledge_crds::canary::{CanarySpec, CanaryStatus};
use fledge_crds::schedule::parse_go_duration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// The analysis interval. A spec that does not parse was refused by validation before the
/// lifecycle runs; Flagger's default of 60s stands in should one slip through.
pub fn parse_interval(spec: &CanarySpec) -> Duration {
    parse_go_duration(spec.analysis.interval()).ok().filter(|d| !d.is_zero()).unwrap_or(Duration::from_secs(60))
}

/// The progress deadline.
pub fn deadline(spec: &CanarySpec) -> Duration {
    Duration::from_secs(u64::try_from(spec.progress_deadline_seconds()).unwrap_or(600))
}

/// When the rollout last made progress: the later of the last phase change and the last step.
pub fn progress_since(status: &CanaryStatus) -> Option<Timestamp> {
    let transition = status.last_transition_time.as_ref().map(|t| t.0);
    let step = status.last_step_time.as_ref().map(|t| t.0);
    transition.max(step)
}

/// Time from `since` to `now`, zero when `since` is in the future (a skewed clock).
pub fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    let millis = now.as_millisecond().saturating_sub(since.as_millisecond());
    Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// Time from `now` until `since + after`, zero when already past.
pub fn remaining(since: Timestamp, after: Duration, now: Timestamp) -> Duration {
    after.saturating_sub(elapsed(since, now))
}

/// A status timestamp for `now`.
pub fn stamp(now: Timestamp) -> Time {
    Time(now)
}
