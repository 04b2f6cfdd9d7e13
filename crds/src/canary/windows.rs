//! `spec.analysis.windows`: when a rollout may start and advance.

use serde::{Deserialize, Serialize};

/// A recurring window of time, opening on a cron schedule and lasting `duration`.
///
/// With any `allow` window, a rollout starts and advances only while one is open; a `deny`
/// window stops it while open, and wins over allow windows. Outside, the canary holds its
/// weight, keeps running its checks once it has traffic, and says in a condition when the
/// next window opens.
/// Abort and rollback are never held; promotion by annotation overrides windows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutWindow {
    /// A name quoted in the status, for example `business-hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub name: Option<String>,

    /// `allow` (default) or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<WindowType>,

    /// When the window opens: a cron expression of five fields (minute hour day-of-month month
    /// day-of-week, for example `0 9 * * Mon-Fri`) or six with seconds first.
    #[schemars(length(min = 1, max = 256))]
    pub schedule: String,

    /// How long the window stays open, a Go duration such as `8h` or `30m`.
    #[schemars(length(min = 1, max = 64))]
    pub duration: String,

    /// IANA time zone of the schedule, for example `Europe/Berlin` (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub time_zone: Option<String>,
}

/// Whether a window allows or denies progress.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WindowType {
    #[default]
    Allow,
    Deny,
}
