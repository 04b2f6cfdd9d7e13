//! Time as the API server reads and prints it: RFC 3339 parsing (Go's `time.RFC3339` layout)
//! and `duration.HumanDuration`, the relative ages (`5m`, `2d3h`) of tables.

use serde_json::Value;

/// A parsed timestamp: seconds since the Unix epoch and the nanoseconds within the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(part.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses `YYYY-MM-DD` (Go's `2006-01-02` layout); the days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses `date T hh:mm:ss[.frac]` followed by a zone (`Z` or `±hh:mm`); `zone_optional`
/// admits the zoneless ISO 8601 local form that strfmt's `date-time` also takes (read as UTC).
fn parse_datetime(s: &str, zone_optional: bool) -> Option<Instant> {
    let b = s.as_bytes();
    let days = parse_date(s.get(..10)?)?;
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut nanos: u32 = 0;
    // Go accepts a fractional second after the seconds even when the layout has none.
    if matches!(b.get(at), Some(b'.') | Some(b',')) {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let frac = &s[start..end];
        let padded: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = padded.parse().ok()?;
        at = end;
    }
    let offset = match &b[at..] {
        [] if zone_optional => 0,
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(Instant { secs: days * 86400 + hour * 3600 + minute * 60 + second - offset, nanos })
}

/// Parses an RFC 3339 timestamp as `time.Parse(time.RFC3339, s)` does.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Instant> {
    parse_datetime(s, false)
}

/// Whether strfmt's `date-time` format accepts `s`: RFC 3339 with or without a fraction, the
/// zoneless local form, or the empty string.
pub(crate) fn is_strfmt_datetime(s: &str) -> bool {
    s.is_empty() || parse_datetime(s, true).is_some()
}

/// `duration.HumanDuration`: ~2–3 significant figures (`45s`, `5m30s`, `2d3h`, `3y`).
pub(crate) fn human_duration(nanos: i128) -> String {
    let seconds = nanos / 1_000_000_000;
    // Go tolerates up to 2 seconds of clock skew before calling a time invalid.
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / 60_000_000_000;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / 3_600_000_000_000;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// The age of `t` at `now`, as HumanDuration prints it.
pub(crate) fn age(t: Instant, now_unix_seconds: i64) -> String {
    let nanos =
        i128::from(now_unix_seconds) * 1_000_000_000 - (i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos));
    human_duration(nanos)
}

/// `translateTimestampSince` of the built-in printers: `<unknown>` for an absent (zero) time.
pub(crate) fn since(t: Option<&Value>, now_unix_seconds: i64) -> String {
    match t.and_then(Value::as_str).and_then(parse_rfc3339) {
        Some(t) => age(t, now_unix_seconds),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_go() {
        let s = |n: i128| human_duration(n * 1_000_000_000);
        assert_eq!(s(-5), "<invalid>");
        assert_eq!(s(-1), "0s");
        assert_eq!(s(0), "0s");
        assert_eq!(s(119), "119s");
        assert_eq!(s(120), "2m");
        assert_eq!(s(5 * 60 + 30), "5m30s");
        assert_eq!(s(10 * 60 + 30), "10m");
        assert_eq!(s(179 * 60), "179m");
        assert_eq!(s(3 * 3600 + 5 * 60), "3h5m");
        assert_eq!(s(8 * 3600), "8h");
        assert_eq!(s(47 * 3600), "47h");
        assert_eq!(s(2 * 86400 + 3 * 3600), "2d3h");
        assert_eq!(s(8 * 86400), "8d");
        assert_eq!(s(800 * 86400), "2y70d");
        assert_eq!(s(10 * 365 * 86400), "10y");
    }

    #[test]
    fn rfc3339_parses_zones_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(Instant { secs: 0, nanos: 0 }));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.5+01:00").map(|t| (t.secs, t.nanos)),
            Some((1709204400, 500_000_000))
        );
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01 00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00"), None);
        assert!(is_strfmt_datetime("2024-01-01T00:00:00"));
        assert!(is_strfmt_datetime(""));
        assert!(!is_strfmt_datetime("yesterday"));
    }
}
