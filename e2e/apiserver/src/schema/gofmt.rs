//! Go's ways of printing values (`fmt` verbs, `strconv.Quote`, `encoding/json`), so messages and
//! cells read byte for byte like kube-apiserver's, which is written in Go.

use serde_json::{Number, Value};

/// A JSON number as Go's unstructured decoding holds it: `int64` when the text is an integer
/// that fits, `float64` otherwise (`1.0` stays a float).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    /// An `int64`.
    Int(i64),
    /// A `float64`.
    Float(f64),
}

impl Num {
    /// Classifies a serde_json number the way Go's decoder would have.
    pub(crate) fn of(n: &Number) -> Num {
        match n.as_i64() {
            Some(i) => Num::Int(i),
            None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    /// The value as a float64, as Go's `valueHelp.asFloat64` gives it.
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// `%v` of the number.
    pub(crate) fn v(self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => float_v(f),
        }
    }
}

/// The shortest decimal digits of |f| and the decimal point position: |f| = 0.d1d2… × 10^dp.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest digits that round-trip, as Go's strconv does.
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn exponent_suffix(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{sign}{:02}", exp.abs())
}

fn fixed(digits: &str, dp: i32) -> String {
    let nd = digits.len() as i32;
    if dp <= 0 {
        format!("0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp >= nd {
        format!("{}{}", digits, "0".repeat((dp - nd) as usize))
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        format!("{int}.{frac}")
    }
}

fn scientific(digits: &str, dp: i32) -> String {
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let mantissa = if rest.is_empty() { first.to_string() } else { format!("{first}.{rest}") };
    format!("{mantissa}{}", exponent_suffix(dp - 1))
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf".into() } else { "-Inf".into() })
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { "-0".into() } else { "0".into() })
    } else {
        None
    }
}

/// `fmt.Sprintf("%v", f)` for a float64: strconv's `'g'` with the shortest digits, which uses
/// the exponent form when the exponent is below -4 or at least 6 (`1e+06`, `1e-05`).
pub(crate) fn float_v(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let (digits, dp) = shortest_digits(f);
    let exp = dp - 1;
    let body = if !(-4..6).contains(&exp) { scientific(&digits, dp) } else { fixed(&digits, dp) };
    if f < 0.0 { format!("-{body}") } else { body }
}

/// `encoding/json`'s text for a float64: fixed notation unless |f| < 1e-6 or >= 1e21, and
/// exponents without a leading zero (`1e-7`, `1e+21`).
pub(crate) fn json_float(f: f64) -> String {
    if let Some(s) = special(f) {
        // JSON cannot hold NaN or infinities; Go's encoder fails, null is the closest.
        return if f == 0.0 { s } else { "null".into() };
    }
    let (digits, dp) = shortest_digits(f);
    let abs = f.abs();
    let body = if !(1e-6..1e21).contains(&abs) {
        let s = scientific(&digits, dp);
        // Go trims one leading zero of a negative two-digit exponent ("e-07" → "e-7").
        match s.rsplit_once("e-0") {
            Some((m, e)) if e.len() == 1 => format!("{m}e-{e}"),
            _ => s,
        }
    } else {
        fixed(&digits, dp)
    };
    if f < 0.0 { format!("-{body}") } else { body }
}

/// Whether Go's `unicode.IsPrint` would print `c` as it is inside a quoted string.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters (Unicode Cf) and unassigned/private ranges Go escapes.
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
        | 0xD800..=0xDFFF | 0xFFFE | 0xFFFF)
}

/// `strconv.Quote(s)`, which is also `%q` and `%#v` of a string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// `%v` of an unstructured value as `fmt.Fprint` prints it (strings bare, maps as `map[k:v]`).
pub(crate) fn value_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => Num::of(n).v(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(value_v).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|k| format!("{k}:{}", value_v(&map[*k]))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// `%#v` of an unstructured value: `map[string]interface {}{"a":1}`, `[]interface {}{"x"}`.
pub(crate) fn sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => Num::of(n).v(),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            format!("[]interface {{}}{{{}}}", items.iter().map(sharp_v).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|k| format!("{}:{}", quote(k), sharp_v(&map[*k]))).collect();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            // Go escapes HTML-sensitive characters and the JS line separators by default.
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match Num::of(n) {
            Num::Int(i) => out.push_str(&i.to_string()),
            Num::Float(f) => out.push_str(&json_float(f)),
        },
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go marshals maps with sorted keys.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                json_into(&map[*k], out);
            }
            out.push('}');
        }
    }
}

/// `json.Marshal(v)` as Go writes it: sorted keys, HTML escaping, Go's float text.
pub(crate) fn json_marshal(v: &Value) -> String {
    let mut out = String::new();
    json_into(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go_v() {
        for (f, want) in [
            (100.0, "100"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
        ] {
            assert_eq!(float_v(f), want, "{f}");
        }
    }

    #[test]
    fn floats_encode_like_go_json() {
        for (f, want) in [(1.0, "1"), (1.5, "1.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (1e20, "100000000000000000000")] {
            assert_eq!(json_float(f), want, "{f}");
        }
    }

    #[test]
    fn quote_escapes_like_strconv() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("\u{1}é"), r#""\x01é""#);
        assert_eq!(quote("\u{a0}"), r#""\u00a0""#);
    }

    #[test]
    fn sharp_v_prints_go_syntax() {
        assert_eq!(sharp_v(&json!({"name": "a", "n": 1})), r#"map[string]interface {}{"n":1, "name":"a"}"#);
        assert_eq!(sharp_v(&json!(["x", 2.5, null])), r#"[]interface {}{"x", 2.5, interface {}(nil)}"#);
    }

    #[test]
    fn json_marshal_sorts_and_escapes() {
        assert_eq!(json_marshal(&json!({"b": [1, 2.0], "a": "<x>"})), r#"{"a":"\u003cx\u003e","b":[1,2]}"#);
    }
}
