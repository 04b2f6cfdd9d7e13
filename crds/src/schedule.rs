//! Parsing the text forms a spec uses for time: Go durations (intervals, timeouts), Prometheus
//! durations (metric windows) and cron schedules (rollout windows). Pure.

use std::str::FromStr;
use std::time::Duration;

/// Parses a Go duration (`time.ParseDuration`), as Flagger reads intervals and timeouts:
/// `30s`, `1m`, `1m30s`, `1.5h`, `500ms`. Negative durations are refused.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let parsed = kube::core::Duration::from_str(text).map_err(|_| {
        format!(
            "{text:?} is not a duration: write numbers with units (ns, us, ms, s, m, h), for example 30s, 1m or 1m30s"
        )
    })?;
    if parsed.is_negative() {
        return Err(format!("{text:?} is negative"));
    }
    Ok(parsed.into())
}

/// Parses a Prometheus duration (the `[5m]` of a range selector): whole numbers with the
/// units `ms`, `s`, `m`, `h`, `d`, `w`, `y`, largest first, for example `1m` or `1h30m`.
pub fn parse_prom_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bad = || format!("{text:?} is not a Prometheus duration such as 30s, 1m or 1h30m");
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut last_unit = None;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let index = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!("{text:?}: units must go from largest to smallest, each once"));
        }
        last_unit = Some(index);
        total_ms = number.checked_mul(UNITS[index].1).and_then(|ms| total_ms.checked_add(ms)).ok_or_else(bad)?;
    }
    if total_ms == 0 {
        return Err(format!("{text:?} is zero"));
    }
    Ok(Duration::from_millis(total_ms))
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Parses a cron schedule of five fields (minute hour day-of-month month day-of-week) or six
/// (seconds first), with standard cron's day-of-week numbers: 0 or 7 is Sunday, 1 Monday.
///
/// The `cron` crate numbers days from 1 = Sunday, so `1-5` would silently mean Sunday to
/// Thursday there; the day-of-week field is rewritten to day names before it is parsed.
pub fn parse_cron(text: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (seconds, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(format!(
                "{text:?} has {n} fields; write five (minute hour day-of-month month day-of-week), for example \"0 9 * * 1-5\""
            ));
        }
    };
    let days = days_of_week(rest[4]).map_err(|e| format!("{text:?}: day-of-week {e}"))?;
    let expr = format!("{seconds} {} {} {} {} {days}", rest[0], rest[1], rest[2], rest[3]);
    cron::Schedule::from_str(&expr).map_err(|e| format!("{text:?} is not a cron schedule ({e})"))
}

/// Rewrites a standard day-of-week field (`*`, `1-5`, `0,6`, `mon-fri`, `*/2`) as day names.
fn days_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".to_owned());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: usize = step.parse().map_err(|_| format!("{part:?}: step {step:?} is not a number"))?;
                if step == 0 {
                    return Err(format!("{part:?}: step must be at least 1"));
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (first, last) = match range {
            "*" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                None if step > 1 => (day_number(range)?, 6),
                None => (day_number(range)?, day_number(range)?),
            },
        };
        // 7 is Sunday too; a range ending at 7 wraps to Sunday.
        if first > last && last != 0 {
            return Err(format!("{range:?} runs backwards"));
        }
        let last = if last == 0 && first > 0 { 7 } else { last };
        for day in (first..=last).step_by(step) {
            days[day % 7] = true;
        }
    }
    Ok(DAY_NAMES.iter().zip(days).filter(|(_, on)| *on).map(|(name, _)| *name).collect::<Vec<_>>().join(","))
}

fn day_number(text: &str) -> Result<usize, String> {
    if let Ok(n) = text.parse::<usize>() {
        return if n <= 7 { Ok(n) } else { Err(format!("{n} is not a day (0-7, 0 and 7 are Sunday)")) };
    }
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("{text:?} is not a day (0-7 or sun-sat)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc, Weekday};

    fn weekdays(expr: &str) -> Vec<Weekday> {
        let schedule = parse_cron(expr).unwrap();
        // 2026-11-01 is a Sunday; a week of daily runs shows which days match.
        let start = Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap();
        let mut days: Vec<Weekday> = schedule.after(&start).take(7).map(|t| t.weekday()).collect();
        days.sort_by_key(|d| d.num_days_from_sunday());
        days.dedup();
        days
    }

    #[test]
    fn day_of_week_numbers_follow_standard_cron() {
        use Weekday::*;
        assert_eq!(weekdays("0 9 * * 1-5"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(weekdays("0 9 * * 0,6"), [Sun, Sat]);
        assert_eq!(weekdays("0 9 * * 7"), [Sun]);
        assert_eq!(weekdays("0 9 * * 5-7"), [Sun, Fri, Sat]);
        assert_eq!(weekdays("0 9 * * mon-fri"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(weekdays("0 9 * * */2"), [Sun, Tue, Thu, Sat]);
        assert_eq!(weekdays("30 0 9 * * Sat"), [Sat]);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert_eq!(
            parse_cron("0 9 * *").unwrap_err(),
            "\"0 9 * *\" has 4 fields; write five (minute hour day-of-month month day-of-week), for example \"0 9 * * 1-5\""
        );
        assert_eq!(
            parse_cron("0 9 * * 8").unwrap_err(),
            "\"0 9 * * 8\": day-of-week 8 is not a day (0-7, 0 and 7 are Sunday)"
        );
        assert!(parse_cron("0 25 * * *").unwrap_err().starts_with("\"0 25 * * *\" is not a cron schedule"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_go_duration("1 minute").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert_eq!(parse_prom_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_prom_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_prom_duration("30m1h").is_err());
        assert!(parse_prom_duration("1.5m").is_err());
        assert!(parse_prom_duration("0s").is_err());
        assert!(parse_prom_duration("").is_err());
    }
}
