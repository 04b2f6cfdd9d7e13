//! The `format` keyword: which formats a CRD schema keeps (the apiextensions server strips the
//! rest) and the strfmt checks of kube-openapi for the string formats it keeps.

use super::timefmt;
use regex::Regex;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::OnceLock;

/// String formats the API server validates (`supportedVersionedFormats`), without dashes as
/// go-openapi normalizes their names.
const STRING_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "quantity",
];

fn normalize(format: &str) -> String {
    format.replace('-', "")
}

/// The format that survives `StripUnsupportedFormatsPostProcess`: string formats from the
/// supported list, `int32`/`int64` on integers, `float`/`double` on numbers; `types` are the
/// schema's types after int-or-string expansion.
pub(crate) fn effective(format: &str, types: &[&str]) -> String {
    if format.is_empty() {
        return String::new();
    }
    let single = if types.len() == 1 { types[0] } else { "" };
    let keep = match single {
        "" | "string" => STRING_FORMATS.contains(&normalize(format).as_str()),
        "integer" => format == "int32" || format == "int64",
        "number" => format == "float" || format == "double",
        _ => false,
    };
    if keep { format.to_string() } else { String::new() }
}

/// Whether strfmt's registry knows the format, i.e. whether it is checked on strings.
pub(crate) fn is_string_format(format: &str) -> bool {
    !format.is_empty() && STRING_FORMATS.contains(&normalize(format).as_str())
}

fn re(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, s: &str) -> bool {
    re(cell, pattern).is_some_and(|r| r.is_match(s))
}

fn is_base64(s: &str) -> bool {
    // base64.StdEncoding: padded, standard alphabet; Go skips CR and LF.
    let clean: Vec<u8> = s.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect();
    if !clean.len().is_multiple_of(4) {
        return false;
    }
    let pad = clean.iter().rev().take_while(|b| **b == b'=').count();
    pad <= 2 && clean[..clean.len() - pad].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

fn isbn10(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| *c != b'-' && *c != b' ').collect();
    if b.len() != 10 || !b[..9].iter().all(u8::is_ascii_digit) || !(b[9].is_ascii_digit() || b[9] == b'X') {
        return false;
    }
    let sum: u32 =
        b.iter().enumerate().map(|(i, c)| (10 - i as u32) * if *c == b'X' { 10 } else { u32::from(c - b'0') }).sum();
    sum.is_multiple_of(11)
}

fn isbn13(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| *c != b'-' && *c != b' ').collect();
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b.iter().enumerate().map(|(i, c)| u32::from(c - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    sum.is_multiple_of(10)
}

fn is_duration(s: &str) -> bool {
    static GO: OnceLock<Option<Regex>> = OnceLock::new();
    static WORDS: OnceLock<Option<Regex>> = OnceLock::new();
    // time.ParseDuration ("1h30m", "-1.5s") or strfmt's "3 days"-style durations.
    matches(&GO, r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", s)
        || s == "0"
        || matches(
            &WORDS,
            r"^(\s*[0-9]+\s*(ns|us|µs|ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|wk|wks|week|weeks)\s*)+$",
            s,
        )
}

/// strfmt's check of a string against a kept format.
pub(crate) fn check(format: &str, s: &str) -> bool {
    static UUID: OnceLock<Option<Regex>> = OnceLock::new();
    static UUID3: OnceLock<Option<Regex>> = OnceLock::new();
    static UUID4: OnceLock<Option<Regex>> = OnceLock::new();
    static UUID5: OnceLock<Option<Regex>> = OnceLock::new();
    static HOSTNAME: OnceLock<Option<Regex>> = OnceLock::new();
    static EMAIL: OnceLock<Option<Regex>> = OnceLock::new();
    static MAC: OnceLock<Option<Regex>> = OnceLock::new();
    static HEX: OnceLock<Option<Regex>> = OnceLock::new();
    static RGB: OnceLock<Option<Regex>> = OnceLock::new();
    static SSN: OnceLock<Option<Regex>> = OnceLock::new();
    static CARD: OnceLock<Option<Regex>> = OnceLock::new();
    static QUANTITY: OnceLock<Option<Regex>> = OnceLock::new();
    static URI: OnceLock<Option<Regex>> = OnceLock::new();
    match normalize(format).as_str() {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => matches(&URI, r"^([a-zA-Z][a-zA-Z0-9+.\-]*:|/)[^\s]*$", s),
        "email" => matches(&EMAIL, r"^([^<>@\s]+\s*<)?[^<>@\s]+@[^<>@\s]+>?$", s),
        "hostname" => {
            s.len() <= 255
                && matches(
                    &HOSTNAME,
                    r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
                    s,
                )
        }
        "ipv4" => s.parse::<IpAddr>().is_ok() && s.contains('.'),
        "ipv6" => s.parse::<IpAddr>().is_ok() && s.contains(':'),
        "cidr" => s
            .split_once('/')
            .and_then(|(ip, len)| {
                let ip: IpAddr = ip.parse().ok()?;
                let len: u8 = len.parse().ok()?;
                Some(len <= if ip.is_ipv4() { 32 } else { 128 })
            })
            .unwrap_or(false),
        "mac" => matches(
            &MAC,
            r"^([0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){7}|[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){19}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){3}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){9})$",
            s,
        ),
        "uuid" => matches(&UUID, r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", s),
        "uuid3" => matches(&UUID3, r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", s),
        "uuid4" => matches(&UUID4, r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", s),
        "uuid5" => matches(&UUID5, r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", s),
        "isbn" => isbn10(s) || isbn13(s),
        "isbn10" => isbn10(s),
        "isbn13" => isbn13(s),
        "creditcard" => {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            matches(
                &CARD,
                r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$",
                &digits,
            )
        }
        "ssn" => matches(&SSN, r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", s),
        "hexcolor" => matches(&HEX, r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", s),
        "rgbcolor" => matches(
            &RGB,
            r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
            s,
        ),
        "byte" => is_base64(s),
        "date" => timefmt::parse_date(s).is_some(),
        "datetime" => timefmt::is_strfmt_datetime(s),
        "duration" => is_duration(s),
        "quantity" => {
            matches(&QUANTITY, r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$", s)
        }
        // password and anything else: any string.
        _ => true,
    }
}

/// The data's JSON type as kube-openapi infers it, with the Go format of numbers.
pub(crate) fn json_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.as_i64().is_some() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_formats_are_stripped() {
        assert_eq!(effective("date-time", &["string"]), "date-time");
        assert_eq!(effective("int32", &["integer"]), "int32");
        assert_eq!(effective("int32", &["string"]), "");
        assert_eq!(effective("k8s-short-name", &["string"]), "");
        assert_eq!(effective("double", &["number"]), "double");
        assert_eq!(effective("date-time", &["integer", "string"]), "date-time");
    }

    #[test]
    fn string_formats_check() {
        assert!(check("date-time", "2024-05-01T10:00:00Z"));
        assert!(!check("date-time", "2024-05-01"));
        assert!(check("date", "2024-05-01"));
        assert!(check("uuid", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(check("ipv4", "10.0.0.1") && !check("ipv4", "::1"));
        assert!(check("ipv6", "::1"));
        assert!(check("cidr", "10.0.0.0/8") && !check("cidr", "10.0.0.0/33"));
        assert!(check("byte", "aGVsbG8=") && !check("byte", "aGVsbG8"));
        assert!(check("hostname", "podinfo.test.svc") && !check("hostname", "-bad-"));
        assert!(check("duration", "1h30m") && check("duration", "3 days") && !check("duration", "soon"));
        assert!(check("quantity", "500m") && check("quantity", "1Gi") && !check("quantity", "1 GB"));
    }
}
