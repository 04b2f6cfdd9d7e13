//! Times as Kubernetes writes and reads them (RFC 3339, UTC), through jiff. Pure.

use k8s_openapi::jiff::Timestamp;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-22T04:37:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    Timestamp::from_second(seconds).map(|t| t.to_string()).unwrap_or_default()
}

/// `2026-11-22T04:37:00.123456Z`, for log timestamps and micro-times.
pub fn rfc3339_micros(time: SystemTime) -> String {
    let micros = time.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or_default();
    Timestamp::from_microsecond(micros).map(|t| t.to_string()).unwrap_or_default()
}

/// Parses an RFC 3339 time.
pub fn parse(text: &str) -> Option<SystemTime> {
    let t: Timestamp = text.parse().ok()?;
    let nanos = u64::try_from(t.as_nanosecond()).ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}
