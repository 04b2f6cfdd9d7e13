//! One access-log line in Istio's default JSON or text format, reduced to what the analysis
//! reads: the response code, the response flags, the duration, and the protocol and upstream
//! cluster that tell a request to the workload from the rest of what its sidecar logs. Pure.
//!
//! JSON lines are read by a scanner rather than deserialized: it walks the object once, skips the
//! values of the keys it does not need without decoding them, and decodes only the five it
//! does (through `serde_json` when they hold escapes). On the benchmark's lines that is about
//! 1.1 to 1.5 times as fast as serde into a borrowed struct of the three fields, and 4 to 5 times
//! as fast as a `serde_json::Value` a line, which matters when every pod of both versions logs
//! every request (see `benches/access_log.rs`). Unlike a derived struct, it takes a repeated key
//! (the last one wins, as with `Value`). The scanner checks the structure of the object (quotes, escapes,
//! nesting, commas, nothing after the closing brace), so truncated or concatenated lines are
//! malformed; it does not check the grammar inside values it skips.
//!
//! Text lines are read from the left up to `%DURATION%`, and the upstream cluster from the right:
//! it is the sixth field from the end, after the quoted upstream host. The fields between them
//! (headers) are not needed and are not checked, so a line cut short after its duration still
//! counts, without an upstream cluster unless all six last fields are there.

use fledge_crds::canary::access_log::AccessLogFormat;
use memchr::{memchr, memchr_iter, memrchr, memrchr_iter};
use std::borrow::Cow;
use std::fmt;

/// The encoding of an access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Istio's JSON access log (`meshConfig.accessLogEncoding: JSON`): one object a line.
    #[default]
    Json,
    /// Envoy's default text line (`accessLogEncoding: TEXT`).
    Text,
}

impl From<AccessLogFormat> for Format {
    fn from(format: AccessLogFormat) -> Self {
        match format {
            AccessLogFormat::Json => Format::Json,
            AccessLogFormat::Text => Format::Text,
        }
    }
}

/// What the analysis reads of one logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// `%RESPONSE_CODE%`; 0 when Envoy sent no response (for example the client went away).
    pub response_code: u16,
    /// `%RESPONSE_FLAGS%` as Envoy prints it (`UH,URX`); empty when `-` or missing.
    pub response_flags: Cow<'a, str>,
    /// `%DURATION%` in milliseconds; `None` when Envoy had none.
    pub duration_ms: Option<u64>,
    /// `%PROTOCOL%`: whether the line is an HTTP request at all.
    pub protocol: Protocol<'a>,
    /// `%UPSTREAM_CLUSTER_RAW%` (`inbound|9898||`, `outbound|9898||backend.test.svc.cluster.local`,
    /// `PassthroughCluster`); `None` when `-`, `null` or not in the line.
    pub upstream_cluster: Option<Cow<'a, str>>,
}

/// `%PROTOCOL%` of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol<'a> {
    /// The line has no protocol field (a custom JSON format without `protocol`): nothing is known.
    NotLogged,
    /// `-` or `null`: Envoy saw no HTTP, as on a TCP connection's line.
    Empty,
    /// What Envoy wrote: `HTTP/1.1`, `HTTP/2`, `HTTP/3`.
    Http(Cow<'a, str>),
}

impl Request<'_> {
    /// The response flags one by one (`UH`, `URX`).
    pub fn flags(&self) -> impl Iterator<Item = &str> {
        self.response_flags.split(',').map(str::trim).filter(|f| !f.is_empty() && *f != "-")
    }
}

/// Why a line could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not a single, complete JSON object.
    NotJson,
    /// Not in the shape of Envoy's default text format.
    NotText,
    /// No response code (missing, `null` or `-`).
    NoResponseCode,
    /// The named field holds something that is not what Envoy writes there.
    BadValue(&'static str),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotJson => f.write_str("not a JSON object"),
            Malformed::NotText => f.write_str("not in Envoy's default text format"),
            Malformed::NoResponseCode => f.write_str("no response code"),
            Malformed::BadValue(field) => write!(f, "unexpected value for {field}"),
        }
    }
}

impl std::error::Error for Malformed {}

const RESPONSE_CODE: &str = "response_code";
const RESPONSE_FLAGS: &str = "response_flags";
const DURATION: &str = "duration";
const PROTOCOL: &str = "protocol";
const UPSTREAM_CLUSTER: &str = "upstream_cluster";

/// Reads one line (without its newline) in `format`.
pub fn parse(format: Format, line: &[u8]) -> Result<Request<'_>, Malformed> {
    match format {
        Format::Json => json(line),
        Format::Text => text(line),
    }
}

/// A value as Envoy's JSON formatter writes it, before it is read as a number or flags.
#[derive(Debug, PartialEq)]
enum Scalar<'a> {
    /// `null`, or a key that is not there.
    Null,
    /// A JSON number, as written.
    Number(&'a [u8]),
    /// A JSON string, unescaped.
    Str(Cow<'a, str>),
    /// `true`, `false`, an object or an array: never one of ours.
    Other,
}

/// Reads a line of Istio's JSON access log.
pub fn json(line: &[u8]) -> Result<Request<'_>, Malformed> {
    let mut s = Scanner { bytes: line, at: 0 };
    let (mut code, mut flags, mut duration) = (Scalar::Null, Scalar::Null, Scalar::Null);
    // `None` until the key is seen: a protocol that is not logged is not an empty one.
    let (mut protocol, mut cluster) = (None, Scalar::Null);
    s.skip_ws();
    s.expect(b'{')?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.at += 1;
    } else {
        loop {
            let key = s.key()?;
            s.skip_ws();
            s.expect(b':')?;
            s.skip_ws();
            match key {
                Key::ResponseCode => code = s.scalar()?,
                Key::ResponseFlags => flags = s.scalar()?,
                Key::Duration => duration = s.scalar()?,
                Key::Protocol => protocol = Some(s.scalar()?),
                Key::UpstreamCluster => cluster = s.scalar()?,
                Key::Other => s.skip_value()?,
            }
            s.skip_ws();
            match s.next() {
                Some(b',') => s.skip_ws(),
                Some(b'}') => break,
                _ => return Err(Malformed::NotJson),
            }
        }
    }
    s.skip_ws();
    if s.at != line.len() {
        return Err(Malformed::NotJson);
    }
    Ok(Request {
        response_code: response_code(number(code, RESPONSE_CODE)?)?,
        response_flags: string(flags, RESPONSE_FLAGS)?.unwrap_or(Cow::Borrowed("")),
        duration_ms: number(duration, DURATION)?,
        protocol: match protocol {
            None => Protocol::NotLogged,
            Some(p) => string(p, PROTOCOL)?.map_or(Protocol::Empty, Protocol::Http),
        },
        upstream_cluster: string(cluster, UPSTREAM_CLUSTER)?,
    })
}

/// A string value; `None` for `null`, `"-"` or `""`.
fn string<'a>(value: Scalar<'a>, field: &'static str) -> Result<Option<Cow<'a, str>>, Malformed> {
    match value {
        Scalar::Null => Ok(None),
        Scalar::Str(s) if s.is_empty() || s == "-" => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        _ => Err(Malformed::BadValue(field)),
    }
}

/// A number that may be written as a JSON number or a string; `None` for `null`, `"-"` or `""`.
fn number(value: Scalar<'_>, field: &'static str) -> Result<Option<u64>, Malformed> {
    let digits = match &value {
        Scalar::Null => return Ok(None),
        Scalar::Str(s) if s.is_empty() || s == "-" => return Ok(None),
        Scalar::Str(s) => s.as_bytes(),
        Scalar::Number(n) => n,
        Scalar::Other => return Err(Malformed::BadValue(field)),
    };
    unsigned(digits).map(Some).ok_or(Malformed::BadValue(field))
}

/// A non-negative number: digits, or a JSON number with a fraction or exponent (rounded).
fn unsigned(text: &[u8]) -> Option<u64> {
    if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
        return text.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')));
    }
    // Only the characters of a JSON number: Rust's parser also takes `inf` and `NaN`.
    if !text.first().is_some_and(u8::is_ascii_digit) || !text.iter().all(|b| b"0123456789.eE+-".contains(b)) {
        return None;
    }
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    // Not NaN or infinite, and below 2^64 (`as` would saturate).
    (0.0..18_446_744_073_709_551_616.0).contains(&value).then(|| value.round() as u64)
}

fn response_code(code: Option<u64>) -> Result<u16, Malformed> {
    match code {
        None => Err(Malformed::NoResponseCode),
        Some(c) if c <= 999 => Ok(c as u16),
        Some(_) => Err(Malformed::BadValue(RESPONSE_CODE)),
    }
}

/// The first `"` in `bytes`, eight bytes at a time. Keys and most values are short: memchr costs
/// more to set up than it saves on them (on the benchmark's lines the scanner ran about 1.5
/// times faster with this than with memchr).
fn find_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    let mut words = bytes.chunks_exact(8);
    for (n, word) in words.by_ref().enumerate() {
        let Ok(word) = <[u8; 8]>::try_from(word) else { break };
        // The classic "has a zero byte" test on word XOR quotes; only a byte above a real zero
        // can be flagged falsely, so the lowest flag (first byte, little-endian) is exact.
        let x = u64::from_le_bytes(word) ^ QUOTES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(n * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    tail.iter().position(|b| *b == b'"').map(|i| bytes.len() - tail.len() + i)
}

/// The keys we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    ResponseCode,
    ResponseFlags,
    Duration,
    Protocol,
    UpstreamCluster,
    Other,
}

/// A cursor over one JSON line.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.next() == Some(byte) { Ok(()) } else { Err(Malformed::NotJson) }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// Moves past a string whose opening quote is at the cursor; returns its raw contents.
    fn raw_string(&mut self) -> Result<&'a [u8], Malformed> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            // Strings are most of a line and rarely hold escapes: jump from quote to quote
            // (memchr looks at many bytes at once) and look back for backslashes only there.
            let quote = self.at + find_quote(&self.bytes[self.at..]).ok_or(Malformed::NotJson)?;
            self.at = quote + 1;
            let backslashes = self.bytes[start..quote].iter().rev().take_while(|b| **b == b'\\').count();
            if backslashes % 2 == 0 {
                return Ok(&self.bytes[start..quote]);
            }
        }
    }

    /// An object key at the cursor: one of ours, or another.
    fn key(&mut self) -> Result<Key, Malformed> {
        let start = self.at;
        let raw = self.raw_string()?;
        let key = |name: &[u8]| match name {
            b"response_code" => Key::ResponseCode,
            b"response_flags" => Key::ResponseFlags,
            b"duration" => Key::Duration,
            b"protocol" => Key::Protocol,
            b"upstream_cluster" => Key::UpstreamCluster,
            _ => Key::Other,
        };
        // Ours never need unescaping, and escaped keys are rare: decode only those.
        let found = key(raw);
        if found != Key::Other || !raw.contains(&b'\\') {
            return Ok(found);
        }
        self.at = start;
        Ok(key(self.string()?.as_bytes()))
    }

    /// A string at the cursor, unescaped.
    fn string(&mut self) -> Result<Cow<'a, str>, Malformed> {
        let start = self.at;
        let raw = self.raw_string()?;
        if memchr(b'\\', raw).is_some() {
            // Rare enough (Envoy escapes only quotes, backslashes and control characters) to
            // leave to serde, which knows every escape.
            serde_json::from_slice::<String>(&self.bytes[start..self.at])
                .map(Cow::Owned)
                .map_err(|_| Malformed::NotJson)
        } else {
            std::str::from_utf8(raw).map(Cow::Borrowed).map_err(|_| Malformed::NotJson)
        }
    }

    /// A value we read.
    fn scalar(&mut self) -> Result<Scalar<'a>, Malformed> {
        match self.peek() {
            Some(b'"') => self.string().map(Scalar::Str),
            Some(b'{' | b'[') => self.skip_value().map(|()| Scalar::Other),
            _ => {
                let token = self.token()?;
                match token {
                    b"null" => Ok(Scalar::Null),
                    b"true" | b"false" => Ok(Scalar::Other),
                    _ => Ok(Scalar::Number(token)),
                }
            }
        }
    }

    /// A number or literal at the cursor.
    fn token(&mut self) -> Result<&'a [u8], Malformed> {
        let start = self.at;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                break;
            }
            self.at += 1;
        }
        let token = &self.bytes[start..self.at];
        let number = token.first().is_some_and(|b| *b == b'-' || b.is_ascii_digit())
            && token.iter().all(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'));
        if number || matches!(token, b"null" | b"true" | b"false") { Ok(token) } else { Err(Malformed::NotJson) }
    }

    /// Moves past a value we do not read.
    fn skip_value(&mut self) -> Result<(), Malformed> {
        match self.peek() {
            Some(b'"') => self.raw_string().map(drop),
            Some(b'{' | b'[') => {
                // Nesting never happens in Istio's format; skip it by counting brackets, minding
                // strings, without checking what is inside.
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.raw_string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Ok(());
                            }
                        }
                        Some(_) => {}
                        None => return Err(Malformed::NotJson),
                    }
                    self.at += 1;
                }
            }
            _ => self.token().map(drop),
        }
    }
}

/// How many candidate closing quotes a quoted text field gets before the line is given up on:
/// a line full of quotes must not cost quadratic time.
const MAX_QUOTE_CANDIDATES: usize = 16;

/// Reads a line of Envoy's default text format:
/// `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
/// %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
/// "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ...
/// "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS%
/// %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%`.
///
/// Envoy does not escape quoted fields, so a quote inside the path is possible: the request
/// ends at the first quote that the response code and flags follow, and the failure reason at
/// the first quote that three numbers (bytes received, bytes sent, duration) follow. The path
/// may hold spaces, so the protocol is the request's last word, and must be one Envoy prints.
/// The upstream cluster is read from the end, where no quoted field can confuse it.
pub fn text(line: &[u8]) -> Result<Request<'_>, Malformed> {
    let line = line.trim_ascii();
    let rest = line.strip_prefix(b"[").ok_or(Malformed::NotText)?;
    let close = memchr(b']', rest).ok_or(Malformed::NotText)?;
    let request = rest[close + 1..].strip_prefix(b" \"").ok_or(Malformed::NotText)?;
    memchr_iter(b'"', request)
        .filter(|&q| q == 0 || request[q - 1] != b'\\')
        .take(MAX_QUOTE_CANDIDATES)
        .find_map(|q| after_request(&request[..q], &request[q + 1..]))
        .unwrap_or(Err(Malformed::NotText))
}

/// The rest of a text line after the request's closing quote, `None` when it is not in shape.
fn after_request<'a>(request: &'a [u8], rest: &'a [u8]) -> Option<Result<Request<'a>, Malformed>> {
    // Envoy prints `HTTP/1.0` to `HTTP/3`, or `-` (`"- - -"` on a TCP connection's line): a
    // request ending otherwise ended at a quote inside its path.
    let protocol = match &request[memrchr(b' ', request).map_or(0, |s| s + 1)..] {
        b"-" => Protocol::Empty,
        p if p.starts_with(b"HTTP/") => match std::str::from_utf8(p) {
            Ok(p) => Protocol::Http(Cow::Borrowed(p)),
            Err(_) => return Some(Err(Malformed::BadValue(PROTOCOL))),
        },
        _ => return None,
    };
    let mut fields = Fields(rest.strip_prefix(b" ")?);
    let code = fields.word()?;
    let flags = fields.word()?;
    if flags.contains(&b'"') {
        return None;
    }
    // Response code details and connection termination details are single words in Envoy;
    // allow any number of unquoted words until the quoted failure reason anyway.
    let reason = memchr(b'"', fields.0)?;
    if reason > 0 && fields.0[reason - 1] != b' ' {
        return None;
    }
    let reason = &fields.0[reason + 1..];
    let (duration, tail) = memchr_iter(b'"', reason).take(MAX_QUOTE_CANDIDATES).find_map(|q| {
        let mut fields = Fields(reason[q + 1..].strip_prefix(b" ")?);
        let [received, sent, duration] = [fields.word()?, fields.word()?, fields.word()?];
        // The duration must be followed by another field, or a cut line could show a
        // shortened number.
        fields.0.first()?;
        [received, sent, duration]
            .iter()
            .all(|w| *w == b"-" || w.iter().all(u8::is_ascii_digit))
            .then_some((duration, fields.0))
    })?;
    let flags = match std::str::from_utf8(flags) {
        Ok("-") => "",
        Ok(flags) => flags,
        Err(_) => return Some(Err(Malformed::BadValue(RESPONSE_FLAGS))),
    };
    let code = match code {
        b"-" => return Some(Err(Malformed::NoResponseCode)),
        c if c.iter().all(u8::is_ascii_digit) => {
            unsigned(c).map_or(Err(Malformed::BadValue(RESPONSE_CODE)), |c| response_code(Some(c)))
        }
        _ => return None,
    };
    let duration = match duration {
        b"-" => Ok(None),
        d => unsigned(d).map(Some).ok_or(Malformed::BadValue(DURATION)),
    };
    let upstream_cluster = match text_upstream_cluster(tail).map(std::str::from_utf8) {
        None | Some(Ok("-")) => None,
        Some(Ok(cluster)) => Some(Cow::Borrowed(cluster)),
        Some(Err(_)) => return Some(Err(Malformed::BadValue(UPSTREAM_CLUSTER))),
    };
    Some(code.and_then(|code| {
        Ok(Request {
            response_code: code,
            response_flags: Cow::Borrowed(flags),
            duration_ms: duration?,
            protocol,
            upstream_cluster,
        })
    }))
}

/// `%UPSTREAM_CLUSTER_RAW%` in what follows the duration: the sixth word from the end, after the
/// quoted upstream host. `None` when the line does not end that way (cut short, or a format
/// with other fields at the end), so a cut line never shows a shortened cluster.
fn text_upstream_cluster(tail: &[u8]) -> Option<&[u8]> {
    let mut spaces = memrchr_iter(b' ', tail);
    let after = spaces.nth(4)?;
    let before = spaces.next()?;
    let cluster = &tail[before + 1..after];
    // Addresses, names and `-` never hold a quote; the upstream host is always quoted.
    (!cluster.is_empty() && tail[..before].ends_with(b"\"") && memchr(b'"', &tail[before..]).is_none())
        .then_some(cluster)
}

/// Space-separated words.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// The next word, which must be followed by a space or the end; `None` when empty.
    fn word(&mut self) -> Option<&'a [u8]> {
        let end = memchr(b' ', self.0).unwrap_or(self.0.len());
        let word = &self.0[..end];
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        (!word.is_empty()).then_some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A line as Istio writes it (keys sorted, as Envoy's JSON formatter does).
    const JSON_LINE: &str = r#"{"authority":"podinfo:9898","bytes_received":0,"bytes_sent":12,"connection_termination_details":null,"downstream_local_address":"10.0.0.5:9898","downstream_remote_address":"10.0.0.9:40000","duration":7,"method":"GET","path":"/","protocol":"HTTP/1.1","request_id":"3f1c","requested_server_name":"outbound_.9898_._.podinfo.test.svc.cluster.local","response_code":200,"response_code_details":"via_upstream","response_flags":"-","route_name":"default","start_time":"2026-12-02T03:00:00.123Z","upstream_cluster":"inbound|9898||","upstream_host":"10.0.0.5:9898","upstream_local_address":"127.0.0.6:41111","upstream_service_time":"6","upstream_transport_failure_reason":null,"user_agent":"hey/0.0.1","x_forwarded_for":null}"#;

    /// A line as the sandbox mesh (and Envoy) writes the default text format.
    const TEXT_LINE: &str = "[2024-05-01T12:00:00.123Z] \"GET /api/info?x=1 HTTP/1.1\" 200 - via_upstream - \"-\" 0 400 21 20 \
         \"-\" \"hey/0.0.1\" \"5e1a2b3c-0000-4000-8000-000000000001\" \"podinfo.test:9898\" \"10.244.1.7:9898\" \
         inbound|9898|| 127.0.0.6:41234 10.244.1.7:9898 10.244.2.3:51234 \
         outbound_.9898_._.podinfo-primary.test.svc.cluster.local default";

    /// A line of a format without protocol and upstream cluster.
    fn req(code: u16, flags: &str, duration: Option<u64>) -> Request<'static> {
        Request {
            response_code: code,
            response_flags: Cow::Owned(flags.to_owned()),
            duration_ms: duration,
            protocol: Protocol::NotLogged,
            upstream_cluster: None,
        }
    }

    /// An HTTP/1.1 request through `cluster`.
    fn via(cluster: Option<&str>, r: Request<'static>) -> Request<'static> {
        Request {
            protocol: Protocol::Http(Cow::Borrowed("HTTP/1.1")),
            upstream_cluster: cluster.map(|c| Cow::Owned(c.to_owned())),
            ..r
        }
    }

    /// An HTTP/1.1 request to the workload, as JSON_LINE and TEXT_LINE are.
    fn inbound(code: u16, flags: &str, duration: Option<u64>) -> Request<'static> {
        via(Some("inbound|9898||"), req(code, flags, duration))
    }

    /// A TCP connection's line: no protocol, no response code.
    fn tcp(cluster: &str, duration: u64) -> Request<'static> {
        Request {
            protocol: Protocol::Empty,
            upstream_cluster: Some(Cow::Owned(cluster.to_owned())),
            ..req(0, "", Some(duration))
        }
    }

    /// An inbound TCP connection in the text format, open for five minutes.
    const TCP_TEXT_LINE: &str = "[2024-05-01T12:00:00.123Z] \"- - -\" 0 - - - \"-\" 1830 2210 300512 - \"-\" \"-\" \"-\" \"-\" \
         \"10.244.1.7:5432\" inbound|5432|| 127.0.0.6:40001 10.244.1.7:5432 10.244.2.3:52000 - -";

    fn j(line: &str) -> Result<Request<'_>, Malformed> {
        json(line.as_bytes())
    }

    fn t(line: &str) -> Result<Request<'_>, Malformed> {
        text(line.as_bytes())
    }

    #[test]
    fn json_reads_istios_line() {
        assert_eq!(j(JSON_LINE), Ok(inbound(200, "", Some(7))));
    }

    #[test]
    fn json_reads_the_protocol_and_upstream_cluster() {
        let outbound = JSON_LINE.replace("inbound|9898||", "outbound|9898||backend.test.svc.cluster.local");
        assert_eq!(j(&outbound), Ok(via(Some("outbound|9898||backend.test.svc.cluster.local"), req(200, "", Some(7)))));
        let tcp_line = r#"{"duration":300512,"protocol":null,"response_code":0,"upstream_cluster":"inbound|5432||"}"#;
        assert_eq!(j(tcp_line), Ok(tcp("inbound|5432||", 300512)));
        assert_eq!(j(&tcp_line.replace("null", r#""-""#)), Ok(tcp("inbound|5432||", 300512)));
        // A protocol that is not logged is not an empty one.
        assert_eq!(j(r#"{"response_code":0,"upstream_cluster":"-"}"#), Ok(req(0, "", None)));
        assert_eq!(
            j(r#"{"response_code":200,"upstream_cluster":null,"protocol":"HTTP/2"}"#).unwrap().protocol,
            Protocol::Http("HTTP/2".into())
        );
        // Escaped, and repeated (the last one wins).
        assert_eq!(
            j(
                r#"{"response_code":200,"upstream\u005fcluster":"outbound|80||x","protocol":"HTTP/1.1","protocol":null}"#
            ),
            Ok(Request { protocol: Protocol::Empty, ..via(Some("outbound|80||x"), req(200, "", None)) })
        );
        assert_eq!(j(r#"{"response_code":200,"protocol":2}"#), Err(Malformed::BadValue("protocol")));
        assert_eq!(j(r#"{"response_code":200,"upstream_cluster":[]}"#), Err(Malformed::BadValue("upstream_cluster")));
    }

    #[test]
    fn json_numbers_may_be_strings_and_missing_values_null_or_dash() {
        assert_eq!(j(r#"{"response_code":"503","duration":"12","response_flags":"UH"}"#), Ok(req(503, "UH", Some(12))));
        assert_eq!(j(r#"{"response_code":0,"duration":null,"response_flags":"DC"}"#), Ok(req(0, "DC", None)));
        assert_eq!(j(r#"{"response_code":200,"duration":"-","response_flags":null}"#), Ok(req(200, "", None)));
        assert_eq!(j(r#"{"response_code":200}"#), Ok(req(200, "", None)));
        assert_eq!(j(r#"{"response_code":200,"duration":7.6}"#), Ok(req(200, "", Some(8))));
        assert_eq!(j(r#" { "duration" : 3 , "response_code" : 404 } "#), Ok(req(404, "", Some(3))));
    }

    #[test]
    fn json_without_a_response_code_is_malformed() {
        assert_eq!(j("{}"), Err(Malformed::NoResponseCode));
        assert_eq!(j(r#"{"response_code":null,"duration":1}"#), Err(Malformed::NoResponseCode));
        assert_eq!(j(r#"{"response_code":"-"}"#), Err(Malformed::NoResponseCode));
        assert_eq!(j(r#"{"response_code":true}"#), Err(Malformed::BadValue("response_code")));
        assert_eq!(j(r#"{"response_code":1000}"#), Err(Malformed::BadValue("response_code")));
        assert_eq!(j(r#"{"response_code":-1}"#), Err(Malformed::BadValue("response_code")));
        assert_eq!(j(r#"{"response_code":200,"duration":"soon"}"#), Err(Malformed::BadValue("duration")));
        assert_eq!(j(r#"{"response_code":200,"duration":1e400}"#), Err(Malformed::BadValue("duration")));
        assert_eq!(j(r#"{"response_code":200,"response_flags":3}"#), Err(Malformed::BadValue("response_flags")));
    }

    #[test]
    fn json_strings_with_escapes_and_odd_values_do_not_confuse_the_scanner() {
        // A quoted key name inside a skipped string, escaped quotes and backslashes.
        let line = r#"{"path":"/a\"response_code\":500,\\","user_agent":"x\\\"","response_code":201,"duration":4}"#;
        assert_eq!(j(line), Ok(req(201, "", Some(4))));
        // Our keys and values escaped.
        assert_eq!(
            j(r#"{"response\u005fcode":502,"response_flags":"U\u0048","dur\u0061tion":"1\u0032"}"#),
            Ok(req(502, "UH", Some(12)))
        );
        // Nested values (not Istio's, but valid JSON) are skipped.
        assert_eq!(j(r#"{"a":{"b":[1,"]}",{"c":null}]},"response_code":200,"z":[]}"#), Ok(req(200, "", None)));
        assert_eq!(j(r#"{"a":true,"b":false,"c":-1.5e3,"response_code":200}"#), Ok(req(200, "", None)));
        assert_eq!(j("{\"path\":\"/é\",\"response_code\":200}"), Ok(req(200, "", None)));
    }

    #[test]
    fn json_that_is_cut_or_followed_by_anything_is_malformed() {
        for end in 0..JSON_LINE.len() {
            assert!(j(&JSON_LINE[..end]).is_err(), "{}", &JSON_LINE[..end]);
        }
        assert_eq!(j(&format!("{JSON_LINE}{JSON_LINE}")), Err(Malformed::NotJson));
        assert_eq!(j(&format!("{JSON_LINE} x")), Err(Malformed::NotJson));
        assert_eq!(j("GET / 200"), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"response_code":200,}"#), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"response_code" 200}"#), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"response_code":200 "duration":1}"#), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"a":nope,"response_code":200}"#), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"path":"\"#), Err(Malformed::NotJson));
        assert_eq!(j(r#"{"response_flags":"\x","response_code":200}"#), Err(Malformed::NotJson));
    }

    #[test]
    fn text_reads_envoys_default_line() {
        assert_eq!(t(TEXT_LINE), Ok(inbound(200, "", Some(21))));
        let line =
            TEXT_LINE.replace("200 - via_upstream", "503 UH,URX no_healthy_upstream").replace(" 21 20 ", " 3 - ");
        assert_eq!(t(&line), Ok(inbound(503, "UH,URX", Some(3))));
        let line =
            TEXT_LINE.replace("200 - via_upstream", "0 DC downstream_remote_disconnect").replace(" 21 20 ", " - - ");
        assert_eq!(t(&line), Ok(inbound(0, "DC", None)));
    }

    #[test]
    fn text_reads_the_protocol_and_upstream_cluster() {
        assert_eq!(t(TCP_TEXT_LINE), Ok(tcp("inbound|5432||", 300512)));
        let outbound = TEXT_LINE.replace("inbound|9898||", "outbound|9898||backend.test.svc.cluster.local");
        assert_eq!(
            t(&outbound),
            Ok(via(Some("outbound|9898||backend.test.svc.cluster.local"), req(200, "", Some(21))))
        );
        assert_eq!(t(&TEXT_LINE.replace("inbound|9898||", "-")), Ok(via(None, req(200, "", Some(21)))));
        assert_eq!(t(&TEXT_LINE.replace("HTTP/1.1", "HTTP/2")).unwrap().protocol, Protocol::Http("HTTP/2".into()));
        // A format with more fields at the end: the cluster is not guessed.
        assert_eq!(t(&format!("{TEXT_LINE} \"trace-id\"")), Ok(via(None, req(200, "", Some(21)))));
        assert_eq!(t(&format!("{TEXT_LINE} extra")), Ok(via(None, req(200, "", Some(21)))));
        assert_eq!(t(&TEXT_LINE.replace("HTTP/1.1", "SPDY/3")), Err(Malformed::NotText));
    }

    #[test]
    fn text_survives_spaces_and_quotes_in_quoted_fields() {
        for path in [r#"/a b c"#, r#"/say "hi" 200 - x"#, r#"/esc\"aped"#, r#"/x" 200 - y - "z"#] {
            let line = TEXT_LINE.replace("/api/info?x=1", path);
            assert_eq!(t(&line), Ok(inbound(200, "", Some(21))), "{line}");
        }
        let line = TEXT_LINE.replace("\"-\" 0 400", "\"TLS error: 268435581:SSL routines:\"x\" 1 2 3\" 0 400");
        assert_eq!(t(&line), Ok(inbound(200, "", Some(21))), "{line}");
        let line = TEXT_LINE.replace("via_upstream -", "via upstream with spaces -");
        assert_eq!(t(&line), Ok(inbound(200, "", Some(21))), "{line}");
        // Quotes and spaces in the headers do not move the cluster, read from the end.
        let line = TEXT_LINE.replace("\"hey/0.0.1\"", "\"ua\" \"10.0.0.1:1\" outbound|1||x a b c d e\"");
        assert_eq!(t(&line), Ok(inbound(200, "", Some(21))), "{line}");
    }

    #[test]
    fn text_cut_before_the_field_after_the_duration_is_malformed() {
        let after_duration = TEXT_LINE.find(" 21 20 ").unwrap() + " 21 2".len();
        // The cluster is read once the last field has begun, never cut short.
        let last_field = TEXT_LINE.rfind(' ').unwrap() + 2;
        for end in 0..TEXT_LINE.len() {
            let result = t(&TEXT_LINE[..end]);
            if end < after_duration {
                assert!(result.is_err(), "{}", &TEXT_LINE[..end]);
            } else if end < last_field {
                assert_eq!(result, Ok(via(None, req(200, "", Some(21)))), "{}", &TEXT_LINE[..end]);
            } else {
                assert_eq!(result, Ok(inbound(200, "", Some(21))), "{}", &TEXT_LINE[..end]);
            }
        }
        for end in 0..TCP_TEXT_LINE.len() {
            if let Ok(r) = t(&TCP_TEXT_LINE[..end]) {
                assert!(
                    matches!(r.upstream_cluster.as_deref(), None | Some("inbound|5432||")),
                    "{}",
                    &TCP_TEXT_LINE[..end]
                );
            }
        }
        assert_eq!(t(&TEXT_LINE.replace(" 200 ", " - ")), Err(Malformed::NoResponseCode));
        assert_eq!(t(&TEXT_LINE.replace(" 21 20 ", " 99999999999999999999 20 ")), Err(Malformed::BadValue("duration")));
        assert_eq!(t(JSON_LINE), Err(Malformed::NotText));
        assert_eq!(t("error: something went wrong"), Err(Malformed::NotText));
    }

    #[test]
    fn find_quote_finds_the_first_quote() {
        let mut rng = Rng(3);
        for _ in 0..20_000 {
            let len = rng.below(40);
            let bytes: Vec<u8> = (0..len).map(|_| [b'"', b'a', 0x22 ^ 0x80, 0x21, 0x23, 0xff][rng.below(6)]).collect();
            assert_eq!(find_quote(&bytes), bytes.iter().position(|b| *b == b'"'), "{bytes:?}");
        }
    }

    #[test]
    fn flags_are_split_on_commas() {
        let r = req(503, "UH,URX", None);
        assert_eq!(r.flags().collect::<Vec<_>>(), ["UH", "URX"]);
        assert_eq!(req(200, "", None).flags().count(), 0);
    }

    /// What a line means, read with a full `serde_json::Value`: the reference the scanner must
    /// agree with whenever serde accepts the line.
    fn oracle(line: &[u8]) -> Option<Result<Request<'static>, Malformed>> {
        let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(line) else { return None };
        let scalar = |key: &str| match o.get(key) {
            None | Some(Value::Null) => Scalar::Null,
            Some(Value::String(s)) => Scalar::Str(Cow::Owned(s.clone())),
            Some(Value::Number(n)) => Scalar::Number(n.to_string().into_bytes().leak()),
            Some(_) => Scalar::Other,
        };
        Some((|| {
            Ok(Request {
                response_code: response_code(number(scalar(RESPONSE_CODE), RESPONSE_CODE)?)?,
                response_flags: match scalar(RESPONSE_FLAGS) {
                    Scalar::Null => Cow::Borrowed(""),
                    Scalar::Str(f) if &*f == "-" => Cow::Borrowed(""),
                    Scalar::Str(f) => f,
                    _ => return Err(Malformed::BadValue(RESPONSE_FLAGS)),
                },
                duration_ms: number(scalar(DURATION), DURATION)?,
                protocol: match (o.contains_key(PROTOCOL), scalar(PROTOCOL)) {
                    (false, _) => Protocol::NotLogged,
                    (true, Scalar::Null) => Protocol::Empty,
                    (true, Scalar::Str(p)) if p.is_empty() || p == "-" => Protocol::Empty,
                    (true, Scalar::Str(p)) => Protocol::Http(p),
                    _ => return Err(Malformed::BadValue(PROTOCOL)),
                },
                upstream_cluster: match scalar(UPSTREAM_CLUSTER) {
                    Scalar::Null => None,
                    Scalar::Str(c) if c.is_empty() || c == "-" => None,
                    Scalar::Str(c) => Some(c),
                    _ => return Err(Malformed::BadValue(UPSTREAM_CLUSTER)),
                },
            })
        })())
    }

    /// A small deterministic generator for the property tests (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Mutates a valid line: bytes replaced, inserted or removed, a piece cut off.
    fn mutate(rng: &mut Rng, line: &[u8]) -> Vec<u8> {
        const INTERESTING: &[u8] = b"\"\\{}[],: -0123456789eE.nultrUH\xff\xc3";
        let mut bytes = line.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            let byte = if rng.below(2) == 0 { INTERESTING[rng.below(INTERESTING.len())] } else { rng.next() as u8 };
            match rng.below(4) {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => drop(bytes.remove(at)),
                _ => bytes.truncate(at),
            }
        }
        bytes
    }

    #[test]
    fn the_scanner_agrees_with_serde_and_never_panics() {
        let lines = [
            JSON_LINE.to_owned(),
            r#"{"response_code":"503","duration":"12","response_flags":"UH,URX","path":"/a\"b\\"}"#.to_owned(),
            r#"{"duration":null,"response_code":0,"response_flags":"DC","x":[1,{"y":"}"}]}"#.to_owned(),
            JSON_LINE.replace("inbound|9898||", "outbound|9898||backend.test.svc.cluster.local"),
            r#"{"duration":300512,"protocol":null,"response_code":0,"upstream_cluster":"inbound|5432||"}"#.to_owned(),
            r#"{"protocol":"-","upstream_cluster":"PassthroughCluster","response_code":"0"}"#.to_owned(),
        ];
        let mut rng = Rng(7);
        let mut agreed = 0;
        for i in 0..200_000 {
            let line = mutate(&mut rng, lines[i % lines.len()].as_bytes());
            let ours = json(&line);
            let _ = text(&line);
            if let Some(reference) = oracle(&line) {
                agreed += 1;
                assert_eq!(ours, reference, "{}", String::from_utf8_lossy(&line));
            }
        }
        // Enough of the mutations stay valid JSON for the comparison to mean something.
        assert!(agreed > 20_000, "{agreed}");
    }

    #[test]
    fn text_never_panics_on_mutated_lines() {
        let mut rng = Rng(11);
        for i in 0..100_000 {
            let line = mutate(&mut rng, [TEXT_LINE, TCP_TEXT_LINE][i % 2].as_bytes());
            if let Ok(r) = text(&line) {
                assert!(r.response_code <= 999);
                let cluster = r.upstream_cluster.as_deref().unwrap_or_default();
                assert!(!cluster.contains([' ', '"']), "{}", String::from_utf8_lossy(&line));
            }
        }
    }
}
