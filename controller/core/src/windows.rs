//! Rollout windows (`spec.analysis.windows`): whether a rollout may start or advance at an
//! instant, why, and when that answer next changes. Pure: `now` is an argument.
//!
//! A window is open at `t` when some occurrence `s` of its schedule (read in its time zone) has
//! `s <= t < s + duration`. Progress is allowed when no deny window is open and either there
//! is no allow window or one of them is open; deny wins over allow.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;
use fledge_crds::canary::{RolloutWindow, WindowType};
use fledge_crds::schedule::{parse_cron, parse_go_duration};
use k8s_openapi::jiff::Timestamp;

/// How far ahead the next change is looked for. A year covers any schedule people write for
/// windows (weekly, monthly, a yearly freeze); past it the answer is "not within a year".
const HORIZON_DAYS: i64 = 366;

/// Bound on the occurrences visited per question, so a schedule firing every second with a
/// long duration costs a bounded amount of work instead of hanging a reconcile.
const MAX_STEPS: usize = 100_000;

/// Whether a rollout may progress now, for the condition and the requeue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowState {
    /// The rollout may start or advance now.
    pub open: bool,
    /// Why, for people: which window holds or lets it go, and until when.
    pub reason: String,
    /// When `open` next changes; `None` when it never does (no windows) or not within a year.
    pub next_change: Option<Timestamp>,
}

/// A window the spec got wrong, named by its field so the user can find it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidWindow {
    /// For example `spec.analysis.windows[1].timeZone`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Whether the rollout may progress at `now` under `windows`, and when that next changes.
///
/// A window that does not parse is an error naming its field (validation refuses such specs
/// first; this keeps a slipped-through one from panicking or being silently ignored).
pub fn state(windows: &[RolloutWindow], now: Timestamp) -> Result<WindowState, InvalidWindow> {
    let windows = windows.iter().enumerate().map(|(i, w)| Window::parse(i, w)).collect::<Result<Vec<_>, _>>()?;
    let now = to_chrono(now);
    if windows.is_empty() {
        return Ok(WindowState {
            open: true,
            reason: "no rollout windows: the rollout may progress at any time".to_owned(),
            next_change: None,
        });
    }
    let horizon = now + TimeDelta::days(HORIZON_DAYS);
    let open = allowed(&windows, now);
    let next_change = next_change(&windows, now, horizon, open);
    let reason =
        if open { open_reason(&windows, now, next_change) } else { closed_reason(&windows, now, horizon, next_change) };
    Ok(WindowState { open, reason, next_change: next_change.map(to_jiff) })
}

/// A parsed window.
struct Window {
    name: String,
    deny: bool,
    schedule: cron::Schedule,
    duration: TimeDelta,
    zone: Tz,
}

/// How a window stands at an instant.
enum Span {
    Closed,
    /// Open until this instant (when occurrences overlap or touch, until the last one ends).
    Until(DateTime<Utc>),
    /// Open past the horizon.
    Beyond,
}

impl Window {
    fn parse(index: usize, window: &RolloutWindow) -> Result<Self, InvalidWindow> {
        let field = |name: &str, message: String| InvalidWindow {
            field: format!("spec.analysis.windows[{index}].{name}"),
            message,
        };
        let schedule = parse_cron(&window.schedule).map_err(|e| field("schedule", e))?;
        let duration = parse_go_duration(&window.duration).map_err(|e| field("duration", e))?;
        let duration = TimeDelta::from_std(duration).ok().filter(|d| *d > TimeDelta::zero()).ok_or_else(|| {
            field("duration", format!("{:?} must be longer than zero and shorter than a century", window.duration))
        })?;
        let zone = match window.time_zone.as_deref() {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                field("timeZone", format!("{name:?} is not an IANA time zone such as Europe/Berlin or UTC"))
            })?,
        };
        let name = window.name.clone().unwrap_or_else(|| format!("windows[{index}]"));
        Ok(Self { name, deny: window.r#type == Some(WindowType::Deny), schedule, duration, zone })
    }

    /// Occurrences strictly after `t`, in UTC.
    fn occurrences_after(&self, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.schedule.after(&t.with_timezone(&self.zone)).map(|s| s.with_timezone(&Utc)).take(MAX_STEPS)
    }

    /// Whether the window is open at `t`, and until when. Occurrences that started before `t`
    /// are at most `duration` old, so the search starts just before `t - duration`.
    fn span(&self, t: DateTime<Utc>, horizon: DateTime<Utc>) -> Span {
        let mut end: Option<DateTime<Utc>> = None;
        for start in self.occurrences_after(t - self.duration - TimeDelta::seconds(1)) {
            if start > horizon {
                return end.map_or(Span::Closed, |end| if end > horizon { Span::Beyond } else { Span::Until(end) });
            }
            let covers = start <= t && t < start + self.duration;
            // An occurrence starting before the current one ends keeps the window open.
            let extends = start > t && end.is_some_and(|end| start <= end);
            if covers || extends {
                end = end.max(Some(start + self.duration));
            } else if start > t {
                break;
            }
        }
        match end {
            None => Span::Closed,
            Some(end) if end > horizon => Span::Beyond,
            Some(end) => Span::Until(end),
        }
    }

    fn is_open(&self, t: DateTime<Utc>, horizon: DateTime<Utc>) -> bool {
        !matches!(self.span(t, horizon), Span::Closed)
    }

    /// The next opening after `t`, within the horizon.
    fn next_opening(&self, t: DateTime<Utc>, horizon: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences_after(t).next().filter(|s| *s <= horizon)
    }

    /// When the window next opens or closes after `t`, within the horizon.
    fn next_edge(&self, t: DateTime<Utc>, horizon: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.span(t, horizon) {
            Span::Closed => self.next_opening(t, horizon),
            Span::Until(end) => Some(end),
            Span::Beyond => None,
        }
    }

    /// `2026-12-24T18:00:00+01:00 (Europe/Berlin)`, or `2026-12-24T17:00:00Z` in UTC.
    fn show(&self, t: DateTime<Utc>) -> String {
        if self.zone == Tz::UTC {
            show_utc(t)
        } else {
            format!("{} ({})", t.with_timezone(&self.zone).to_rfc3339_opts(SecondsFormat::Secs, false), self.zone)
        }
    }

    fn kind(&self) -> &'static str {
        if self.deny { "deny" } else { "allow" }
    }
}

fn show_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether progress is allowed at `t`: no deny window open, and an allow window open if any.
fn allowed(windows: &[Window], t: DateTime<Utc>) -> bool {
    // Past the horizon nothing is asked; the horizon only bounds the chaining of occurrences.
    let horizon = t + TimeDelta::days(HORIZON_DAYS);
    let denied = windows.iter().filter(|w| w.deny).any(|w| w.is_open(t, horizon));
    let mut allows = windows.iter().filter(|w| !w.deny).peekable();
    !denied && (allows.peek().is_none() || allows.any(|w| w.is_open(t, horizon)))
}

/// The first instant after `now` at which [`allowed`] differs from `open`: the answer only
/// changes where some window opens or closes, so those instants are visited in order.
fn next_change(windows: &[Window], now: DateTime<Utc>, horizon: DateTime<Utc>, open: bool) -> Option<DateTime<Utc>> {
    let mut t = now;
    for _ in 0..MAX_STEPS {
        t = windows.iter().filter_map(|w| w.next_edge(t, horizon)).min()?;
        if t > horizon {
            return None;
        }
        if allowed(windows, t) != open {
            return Some(t);
        }
    }
    None
}

fn names(windows: &[&Window]) -> String {
    windows.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn open_reason(windows: &[Window], now: DateTime<Utc>, next_change: Option<DateTime<Utc>>) -> String {
    let horizon = now + TimeDelta::days(HORIZON_DAYS);
    let open_allows: Vec<&Window> = windows.iter().filter(|w| !w.deny && w.is_open(now, horizon)).collect();
    let mut reason = match open_allows.as_slice() {
        [] => "no deny window is open".to_owned(),
        [one] => format!("inside the allow window {}", one.name),
        many => format!("inside the allow windows {}", names(many)),
    };
    match next_change {
        None => reason.push_str(&format!("; nothing holds the rollout in the next {HORIZON_DAYS} days")),
        Some(change) => {
            let later = change + TimeDelta::days(HORIZON_DAYS);
            // The change is a deny window opening, or the last open allow window closing.
            match windows.iter().find(|w| w.deny && w.is_open(change, later)) {
                Some(deny) => {
                    reason.push_str(&format!("; {} window {} opens at {}", deny.kind(), deny.name, deny.show(change)))
                }
                None => {
                    let zone = open_allows.first().map_or_else(|| show_utc(change), |w| w.show(change));
                    reason.push_str(&format!("; it closes at {zone}"));
                }
            }
        }
    }
    reason
}

fn closed_reason(
    windows: &[Window],
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    next_change: Option<DateTime<Utc>>,
) -> String {
    let when = |w: Option<&Window>, t: DateTime<Utc>| w.map_or_else(|| show_utc(t), |w| w.show(t));
    // A deny window open now: name the one that stays open longest.
    let deny = windows
        .iter()
        .filter(|w| w.deny)
        .filter_map(|w| match w.span(now, horizon) {
            Span::Closed => None,
            Span::Until(end) => Some((w, Some(end))),
            Span::Beyond => Some((w, None)),
        })
        .max_by_key(|(_, end)| end.unwrap_or(DateTime::<Utc>::MAX_UTC));
    if let Some((deny, end)) = deny {
        let mut reason = match end {
            Some(end) => format!("deny window {} is open until {}", deny.name, deny.show(end)),
            None => format!("deny window {} stays open for more than {HORIZON_DAYS} days", deny.name),
        };
        match next_change {
            Some(change) if Some(change) != end => {
                let allow = windows.iter().find(|w| !w.deny && w.is_open(change, change + TimeDelta::days(1)));
                reason.push_str(&format!("; the rollout may progress from {}", when(allow, change)));
            }
            Some(_) => {}
            None if end.is_some() => {
                reason.push_str(&format!("; no allow window opens outside it in the next {HORIZON_DAYS} days"))
            }
            None => {}
        }
        return reason;
    }
    let allows: Vec<&Window> = windows.iter().filter(|w| !w.deny).collect();
    let mut reason = match allows.as_slice() {
        [one] => format!("outside the allow window {}", one.name),
        many => format!("outside the allow windows {}", names(many)),
    };
    let first = allows.iter().filter_map(|w| w.next_opening(now, horizon).map(|t| (*w, t))).min_by_key(|(_, t)| *t);
    match (first, next_change) {
        (None, _) => reason.push_str(&format!("; none opens in the next {HORIZON_DAYS} days")),
        (Some((allow, opens)), Some(change)) if change == opens => {
            reason.push_str(&format!("; it opens at {}", allow.show(opens)));
        }
        (Some((allow, opens)), change) => {
            let deny = windows.iter().find(|w| w.deny && w.is_open(opens, horizon));
            let held = deny.map_or_else(String::new, |d| format!(" while deny window {} is open", d.name));
            reason.push_str(&format!("; it opens at {}{held}", allow.show(opens)));
            match change {
                Some(change) => {
                    let open = allows.iter().copied().find(|w| w.is_open(change, horizon));
                    reason.push_str(&format!("; the rollout may progress from {}", when(open, change)));
                }
                None => {
                    reason.push_str(&format!("; deny windows cover every allow window in the next {HORIZON_DAYS} days"))
                }
            }
        }
    }
    reason
}

fn to_chrono(t: Timestamp) -> DateTime<Utc> {
    let nanos = t.as_nanosecond();
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    // Every jiff Timestamp (years -9999..=9999) is within chrono's range.
    DateTime::from_timestamp(seconds, subsec).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn to_jiff(t: DateTime<Utc>) -> Timestamp {
    let nanos = i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
    // Instants come from the horizon of a jiff `now`, so they are within jiff's range.
    Timestamp::from_nanosecond(nanos).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(name: &str, kind: WindowType, schedule: &str, duration: &str, zone: Option<&str>) -> RolloutWindow {
        RolloutWindow {
            name: Some(name.to_owned()),
            r#type: Some(kind),
            schedule: schedule.to_owned(),
            duration: duration.to_owned(),
            time_zone: zone.map(str::to_owned),
        }
    }

    fn business_hours() -> RolloutWindow {
        window("business-hours", WindowType::Allow, "0 9 * * Mon-Fri", "8h", Some("Europe/Berlin"))
    }

    #[test]
    fn no_windows_is_always_open() {
        let s = state(&[], at("2026-12-02T04:50:00Z")).unwrap();
        assert!(s.open);
        assert_eq!(s.next_change, None);
    }

    #[test]
    fn business_hours_follow_the_local_clock_across_daylight_saving() {
        let windows = [business_hours()];
        // Friday 2026-03-27, CET (+01:00): 09:00 local is 08:00Z.
        let before = state(&windows, at("2026-03-27T07:59:59Z")).unwrap();
        assert!(!before.open);
        assert_eq!(before.next_change, Some(at("2026-03-27T08:00:00Z")));
        assert_eq!(
            before.reason,
            "outside the allow window business-hours; it opens at 2026-03-27T09:00:00+01:00 (Europe/Berlin)"
        );
        let friday = state(&windows, at("2026-03-27T08:00:00Z")).unwrap();
        assert!(friday.open);
        assert_eq!(friday.next_change, Some(at("2026-03-27T16:00:00Z")));
        // Clocks go forward on Sunday 2026-03-29; Monday 09:00 CEST (+02:00) is 07:00Z.
        let weekend = state(&windows, at("2026-03-28T12:00:00Z")).unwrap();
        assert!(!weekend.open);
        assert_eq!(weekend.next_change, Some(at("2026-03-30T07:00:00Z")));
        assert_eq!(
            weekend.reason,
            "outside the allow window business-hours; it opens at 2026-03-30T09:00:00+02:00 (Europe/Berlin)"
        );
        let monday = state(&windows, at("2026-03-30T07:00:00Z")).unwrap();
        assert!(monday.open);
        assert_eq!(monday.next_change, Some(at("2026-03-30T15:00:00Z")));
        // The controller's clock has sub-second precision; the opening is still exact.
        let just_before = state(&windows, at("2026-03-30T06:59:59.5Z")).unwrap();
        assert!(!just_before.open);
        assert_eq!(just_before.next_change, Some(at("2026-03-30T07:00:00Z")));
        assert!(state(&windows, at("2026-03-30T14:59:59.999Z")).unwrap().open);
    }

    #[test]
    fn a_window_closes_mid_rollout() {
        let windows = [business_hours()];
        let start = at("2026-12-07T10:30:00Z"); // Monday 11:30 in Berlin (+01:00).
        let open = state(&windows, start).unwrap();
        assert!(open.open);
        let closes = at("2026-12-07T16:00:00Z");
        assert_eq!(open.next_change, Some(closes));
        assert_eq!(
            open.reason,
            "inside the allow window business-hours; it closes at 2026-12-07T17:00:00+01:00 (Europe/Berlin)"
        );
        let closed = state(&windows, closes).unwrap();
        assert!(!closed.open);
        assert_eq!(closed.next_change, Some(at("2026-12-08T08:00:00Z")));
    }

    #[test]
    fn deny_wins_over_allow_and_the_rollout_waits_for_it_to_close() {
        // A freeze from Monday 2026-12-07 12:00 Berlin for two days, inside business hours.
        let windows =
            [business_hours(), window("freeze", WindowType::Deny, "0 12 7 12 *", "48h", Some("Europe/Berlin"))];
        let open = state(&windows, at("2026-12-07T09:00:00Z")).unwrap();
        assert!(open.open);
        assert_eq!(open.next_change, Some(at("2026-12-07T11:00:00Z")));
        assert_eq!(
            open.reason,
            "inside the allow window business-hours; deny window freeze opens at 2026-12-07T12:00:00+01:00 (Europe/Berlin)"
        );

        let frozen = state(&windows, at("2026-12-07T12:00:00Z")).unwrap();
        assert!(!frozen.open);
        // The freeze ends Wednesday 12:00 Berlin, inside business hours: progress resumes then.
        assert_eq!(frozen.next_change, Some(at("2026-12-09T11:00:00Z")));
        assert_eq!(frozen.reason, "deny window freeze is open until 2026-12-09T12:00:00+01:00 (Europe/Berlin)");

        // Tuesday's business hours open during the freeze: the next time allowed is still its end.
        let night = state(&windows, at("2026-12-07T20:00:00Z")).unwrap();
        assert!(!night.open);
        assert_eq!(night.next_change, Some(at("2026-12-09T11:00:00Z")));
    }

    #[test]
    fn an_allow_window_opening_under_a_deny_window_waits_for_both() {
        // The freeze covers Tuesday 09:00 Berlin and ends at 10:00; the rollout waits until then.
        let windows =
            [business_hours(), window("freeze", WindowType::Deny, "0 20 7 12 *", "14h", Some("Europe/Berlin"))];
        let evening = state(&windows, at("2026-12-07T17:00:00Z")).unwrap();
        assert!(!evening.open);
        assert_eq!(evening.next_change, Some(at("2026-12-08T09:00:00Z")));
        assert_eq!(
            evening.reason,
            "outside the allow window business-hours; it opens at 2026-12-08T09:00:00+01:00 (Europe/Berlin) \
             while deny window freeze is open; the rollout may progress from 2026-12-08T10:00:00+01:00 (Europe/Berlin)"
        );
    }

    #[test]
    fn a_deny_window_alone_holds_only_while_open() {
        let windows = [window("nightly", WindowType::Deny, "0 22 * * *", "2h", None)];
        let day = state(&windows, at("2026-12-02T12:00:00Z")).unwrap();
        assert!(day.open);
        assert_eq!(day.next_change, Some(at("2026-12-02T22:00:00Z")));
        let night = state(&windows, at("2026-12-02T23:00:00Z")).unwrap();
        assert!(!night.open);
        assert_eq!(night.next_change, Some(at("2026-12-03T00:00:00Z")));
        assert_eq!(night.reason, "deny window nightly is open until 2026-12-03T00:00:00Z");
    }

    #[test]
    fn six_fields_put_seconds_first() {
        let windows = [window("half-past", WindowType::Allow, "30 0 9 * * *", "10s", None)];
        assert!(!state(&windows, at("2026-12-02T09:00:29Z")).unwrap().open);
        let open = state(&windows, at("2026-12-02T09:00:30Z")).unwrap();
        assert!(open.open);
        assert_eq!(open.next_change, Some(at("2026-12-02T09:00:40Z")));
        assert!(!state(&windows, at("2026-12-02T09:00:40Z")).unwrap().open);
    }

    #[test]
    fn overlapping_occurrences_keep_a_window_open() {
        // Every hour for 90 minutes: open from the first occurrence without a gap.
        let windows = [window("hourly", WindowType::Deny, "0 * * * *", "90m", None)];
        let s = state(&windows, at("2026-12-02T12:15:00Z")).unwrap();
        assert!(!s.open);
        assert_eq!(s.next_change, None);
        assert_eq!(s.reason, "deny window hourly stays open for more than 366 days");
    }

    #[test]
    fn a_window_that_never_opens_says_so() {
        // February 30th does not exist.
        let windows = [window("never", WindowType::Allow, "0 9 30 2 *", "1h", None)];
        let s = state(&windows, at("2026-12-02T12:00:00Z")).unwrap();
        assert!(!s.open);
        assert_eq!(s.next_change, None);
        assert_eq!(s.reason, "outside the allow window never; none opens in the next 366 days");
    }

    #[test]
    fn invalid_windows_name_their_field() {
        let now = at("2026-12-02T12:00:00Z");
        let zone = window("z", WindowType::Allow, "0 9 * * *", "1h", Some("Europe/Atlantis"));
        let err = state(&[business_hours(), zone], now).unwrap_err();
        assert_eq!(err.field, "spec.analysis.windows[1].timeZone");
        assert_eq!(
            err.to_string(),
            "spec.analysis.windows[1].timeZone: \"Europe/Atlantis\" is not an IANA time zone such as Europe/Berlin or UTC"
        );
        let cron = window("c", WindowType::Allow, "0 9 * *", "1h", None);
        assert_eq!(state(&[cron], now).unwrap_err().field, "spec.analysis.windows[0].schedule");
        let duration = window("d", WindowType::Allow, "0 9 * * *", "1 hour", None);
        assert_eq!(state(&[duration], now).unwrap_err().field, "spec.analysis.windows[0].duration");
        let zero = window("d", WindowType::Allow, "0 9 * * *", "0s", None);
        assert_eq!(state(&[zero], now).unwrap_err().field, "spec.analysis.windows[0].duration");
    }
}
