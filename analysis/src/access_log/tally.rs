//! Counting access-log lines as they stream by: requests, errors and latencies of one version.
//! Pure, except [`read_all`], which reads from the reader it is given.
//!
//! A sidecar logs more than the requests to its workload: the requests the workload makes to
//! other services, and TCP connections. Only inbound HTTP requests are counted as requests, as
//! Prometheus' `reporter="destination"` counts them; the others are counted apart (see
//! [`Tally::outbound`] and [`Tally::tcp`]), so that a failing dependency or a long-lived
//! database connection says nothing about the version.
//!
//! Memory does not grow with the log: a [`Tally`] is counters, a latency histogram (at most
//! ~30 KB) and one error counter per configured response flag; an [`Aggregator`] adds at most one
//! unfinished line of [`MAX_LINE_BYTES`].

use super::parse::{Format, Protocol, Request, parse};
use crate::latency::Latencies;
use memchr::memchr;
use std::collections::BTreeMap;
use std::io::{self, BufRead};

/// Lines longer than this are malformed; an Envoy access-log line is under 2 KB unless a client
/// sends huge headers. Also the most an [`Aggregator`] buffers of a line split across chunks.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How much of the first malformed line is kept, in characters.
const EXCERPT_CHARS: usize = 200;

/// The numbers of one version (or one pod) over some access-log lines. Every line that is not
/// blank counts in exactly one of `requests`, `outbound`, `tcp` and `malformed`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Lines that were read as requests to the workload: HTTP, through an inbound cluster. A
    /// line without an upstream cluster (`-`, as when no route matched, or a custom format
    /// without one) counts here too: most custom formats log only inbound traffic.
    pub requests: u64,
    /// Lines of traffic the workload sent out: an upstream cluster that is not inbound
    /// (`outbound|9898||backend.test.svc.cluster.local`, `PassthroughCluster`,
    /// `BlackHoleCluster`). Their errors and latencies are another service's.
    pub outbound: u64,
    /// Lines of TCP connections to the workload: no HTTP protocol (`-` or `null`, not a custom
    /// format without the field) and response code 0. Their duration is the connection's
    /// lifetime, not a request's latency.
    pub tcp: u64,
    /// Requests that failed: a 5xx, or an error response flag, or both.
    pub errors: u64,
    /// Requests answered with a 5xx (with or without a flag).
    pub server_errors: u64,
    /// Requests that carried at least one error response flag (with any code).
    pub flagged: u64,
    /// How many requests carried each error response flag; only configured flags appear, so
    /// this stays as small as the configuration.
    pub by_flag: BTreeMap<String, u64>,
    /// Requests without a duration: counted, but not in [`Tally::latencies`].
    pub without_duration: u64,
    /// Lines that could not be read (blank lines are not counted at all).
    pub malformed: u64,
    /// The beginning of the first malformed line (up to 200 characters), for the status.
    pub first_malformed: Option<String>,
    /// `%DURATION%` of the requests that had one, in milliseconds.
    pub latencies: Latencies,
}

impl Tally {
    /// Adds another tally (another pod's, another chunk's) to this one. The first malformed line
    /// stays this one's when it has one.
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.outbound += other.outbound;
        self.tcp += other.tcp;
        self.errors += other.errors;
        self.server_errors += other.server_errors;
        self.flagged += other.flagged;
        for (flag, n) in &other.by_flag {
            *self.by_flag.entry(flag.clone()).or_default() += n;
        }
        self.without_duration += other.without_duration;
        self.malformed += other.malformed;
        if self.first_malformed.is_none() {
            self.first_malformed.clone_from(&other.first_malformed);
        }
        self.latencies.merge(&other.latencies);
    }

    /// Percentage of requests that failed; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }

    /// Counts a malformed line; `cut` when `line` is only its beginning.
    fn malformed(&mut self, line: &[u8], cut: bool) {
        self.malformed += 1;
        if self.first_malformed.is_none() {
            self.first_malformed = Some(excerpt(line, cut));
        }
    }
}

/// The beginning of a line, cut on a character boundary, with `…` when something was left off
/// (here, or before: `cut`).
fn excerpt(line: &[u8], cut: bool) -> String {
    // Four bytes a character at most: enough bytes for the characters we keep.
    let head = &line[..line.len().min(EXCERPT_CHARS * 4)];
    let mut text = String::from_utf8_lossy(head).into_owned();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => text.truncate(cut),
        None if head.len() == line.len() && !cut => return text,
        None => {}
    }
    text.push('…');
    text
}

/// Feeds access-log lines of one version into a [`Tally`], one line or one chunk at a time.
#[derive(Debug)]
pub struct Aggregator {
    format: Format,
    error_flags: Vec<String>,
    tally: Tally,
    /// The unfinished line of the last chunk given to [`Aggregator::push`].
    partial: Vec<u8>,
    /// The line being read is already too long and counted: skip to its end.
    overlong: bool,
}

impl Aggregator {
    /// Counts lines in `format`; a request is an error when it answered 5xx or carries any of
    /// `error_flags` (an empty list counts only 5xx; Fledge's default is
    /// [`fledge_crds::canary::access_log::DEFAULT_ERROR_RESPONSE_FLAGS`]).
    pub fn new(format: Format, error_flags: &[impl AsRef<str>]) -> Self {
        let error_flags = error_flags.iter().map(|f| f.as_ref().trim().to_owned()).filter(|f| !f.is_empty()).collect();
        Self { format, error_flags, tally: Tally::default(), partial: Vec::new(), overlong: false }
    }

    /// Counts one line, with or without its line ending. Blank lines are skipped.
    pub fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE_BYTES {
            self.tally.malformed(line, true);
            return;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match parse(self.format, line) {
            Ok(request) => self.count(&request),
            Err(_) => self.tally.malformed(line, false),
        }
    }

    /// Counts the lines in the next chunk of a log, which may start or end in the middle of a
    /// line: the unfinished end waits for the next chunk or [`Aggregator::finish`].
    pub fn push(&mut self, mut chunk: &[u8]) {
        while let Some(newline) = memchr(b'\n', chunk) {
            let (head, rest) = (&chunk[..newline], &chunk[newline + 1..]);
            if self.overlong {
                self.overlong = false;
            } else if self.partial.is_empty() {
                self.line(head);
            } else if self.buffer(head) {
                let line = std::mem::take(&mut self.partial);
                self.line(&line);
                self.partial = line;
                self.partial.clear();
            }
            chunk = rest;
        }
        if !self.overlong {
            self.buffer(chunk);
        }
    }

    /// Adds to the unfinished line; when that makes it too long, counts it as malformed, drops
    /// it and skips the rest of it. Returns whether the line is still being kept.
    fn buffer(&mut self, bytes: &[u8]) -> bool {
        if self.partial.len() + bytes.len() > MAX_LINE_BYTES {
            let keep = (EXCERPT_CHARS * 4).saturating_sub(self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..keep]);
            self.tally.malformed(&self.partial, true);
            self.partial.clear();
            self.overlong = true;
            return false;
        }
        // Grow by hand: doubling could take the buffer well past the limit.
        let needed = self.partial.len() + bytes.len();
        if needed > self.partial.capacity() {
            self.partial.reserve_exact((needed * 2).min(MAX_LINE_BYTES) - self.partial.len());
        }
        self.partial.extend_from_slice(bytes);
        true
    }

    fn count(&mut self, request: &Request<'_>) {
        let t = &mut self.tally;
        if request.upstream_cluster.as_deref().is_some_and(|c| !inbound(c)) {
            t.outbound += 1;
            return;
        }
        if request.protocol == Protocol::Empty && request.response_code == 0 {
            t.tcp += 1;
            return;
        }
        t.requests += 1;
        let server_error = (500..=599).contains(&request.response_code);
        let mut flagged = false;
        if !request.response_flags.is_empty() && !self.error_flags.is_empty() {
            for flag in request.flags() {
                if let Some(known) = self.error_flags.iter().find(|f| *f == flag) {
                    flagged = true;
                    match t.by_flag.get_mut(known) {
                        Some(n) => *n += 1,
                        None => {
                            t.by_flag.insert(known.clone(), 1);
                        }
                    }
                }
            }
        }
        t.server_errors += u64::from(server_error);
        t.flagged += u64::from(flagged);
        t.errors += u64::from(server_error || flagged);
        match request.duration_ms {
            Some(ms) => t.latencies.record(ms),
            None => t.without_duration += 1,
        }
    }

    /// The numbers so far (without an unfinished line given to [`Aggregator::push`]).
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Heap memory held: the latency histogram, the unfinished-line buffer and the flags.
    pub fn heap_bytes(&self) -> usize {
        self.tally.latencies.heap_bytes()
            + self.partial.capacity()
            + self.error_flags.iter().map(String::capacity).sum::<usize>()
            + self.tally.by_flag.keys().map(|k| k.capacity() + 3 * std::mem::size_of::<usize>()).sum::<usize>()
    }

    /// The numbers, counting a last line that had no line ending.
    pub fn finish(mut self) -> Tally {
        if !self.overlong && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.tally
    }
}

/// Whether an upstream cluster leads to the workload itself: Istio's inbound clusters are
/// `inbound|<port>|<name>|<host>`, and `InboundPassthroughClusterIpv4` (and `Ipv6`) takes
/// inbound traffic to a port that no Service declares.
fn inbound(cluster: &str) -> bool {
    cluster.starts_with("inbound|") || cluster.starts_with("InboundPassthroughCluster")
}

/// Counts every line `reader` gives until its end, a chunk at a time, without keeping lines.
pub fn read_all(mut reader: impl BufRead, format: Format, error_flags: &[impl AsRef<str>]) -> io::Result<Tally> {
    let mut aggregator = Aggregator::new(format, error_flags);
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        aggregator.push(chunk);
        let n = chunk.len();
        reader.consume(n);
    }
    Ok(aggregator.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_crds::canary::access_log::DEFAULT_ERROR_RESPONSE_FLAGS;

    fn line(code: u16, flags: &str, duration: &str) -> String {
        format!(r#"{{"response_code":{code},"response_flags":"{flags}","duration":{duration}}}"#)
    }

    fn tally(lines: &[String], flags: &[&str]) -> Tally {
        let mut a = Aggregator::new(Format::Json, flags);
        for l in lines {
            a.line(l.as_bytes());
        }
        a.finish()
    }

    #[test]
    fn errors_are_5xx_or_an_error_flag() {
        let lines = [
            line(200, "-", "5"),
            line(503, "UH", "1"),
            line(500, "-", "30"),
            line(0, "DC", "null"),
            line(200, "UH", "2"),
            line(404, "NR", "1"),
            line(0, "-", "1"),
            line(429, "RL", "1"),
        ];
        let t = tally(&lines, DEFAULT_ERROR_RESPONSE_FLAGS);
        assert_eq!((t.requests, t.errors, t.server_errors, t.flagged), (8, 5, 2, 4));
        let by_flag: Vec<(&str, u64)> = t.by_flag.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        assert_eq!(by_flag, [("DC", 1), ("NR", 1), ("UH", 2)]);
        assert_eq!((t.without_duration, t.latencies.count()), (1, 7));
        assert_eq!(t.error_rate(), Some(62.5));

        let only_5xx = tally(&lines, &[] as &[&str]);
        assert_eq!((only_5xx.errors, only_5xx.flagged), (2, 0));
        assert!(only_5xx.by_flag.is_empty());
        let rate_limited = tally(&lines, &["RL"]);
        assert_eq!(rate_limited.errors, 3);
    }

    /// A line of Istio's JSON format, with `protocol` and `upstream_cluster` (`null` unquoted).
    fn istio(code: u16, flags: &str, duration: u64, protocol: &str, cluster: &str) -> String {
        let quote = |v: &str| if v == "null" { v.to_owned() } else { format!("\"{v}\"") };
        let (protocol, cluster) = (quote(protocol), quote(cluster));
        format!(
            r#"{{"duration":{duration},"protocol":{protocol},"response_code":{code},"response_flags":"{flags}","upstream_cluster":{cluster}}}"#
        )
    }

    #[test]
    fn only_inbound_http_requests_are_requests() {
        let lines = [
            istio(200, "-", 5, "HTTP/1.1", "inbound|9898||"),
            istio(200, "-", 6, "HTTP/2", "inbound|9898|http|podinfo.test.svc.cluster.local"),
            istio(200, "-", 7, "HTTP/1.1", "InboundPassthroughClusterIpv4"),
            istio(404, "NR", 1, "HTTP/1.1", "-"),
            istio(0, "DC", 8, "HTTP/1.1", "null"),
            // The workload's own calls, failing or not.
            istio(503, "UF,URX", 30, "HTTP/1.1", "outbound|9898||backend.test.svc.cluster.local"),
            istio(200, "-", 40, "HTTP/1.1", "PassthroughCluster"),
            istio(502, "-", 1, "HTTP/1.1", "BlackHoleCluster"),
            istio(0, "UF", 9, "null", "outbound|5432||db.test.svc.cluster.local"),
            // TCP connections to the workload, open for minutes.
            istio(0, "-", 300_512, "null", "inbound|5432||"),
            istio(0, "-", 120_000, "-", "InboundPassthroughClusterIpv6"),
            // No protocol but a response: not a TCP connection.
            istio(400, "-", 2, "null", "inbound|9898||"),
        ];
        let t = tally(&lines, DEFAULT_ERROR_RESPONSE_FLAGS);
        assert_eq!((t.requests, t.outbound, t.tcp, t.malformed), (6, 4, 2, 0));
        assert_eq!((t.errors, t.server_errors, t.flagged), (2, 0, 2));
        let by_flag: Vec<(&str, u64)> = t.by_flag.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        assert_eq!(by_flag, [("DC", 1), ("NR", 1)]);
        assert_eq!(t.latencies.count(), 6);
        assert_eq!(t.latencies.percentile(100.0), Some(8.0));
    }

    #[test]
    fn a_format_without_protocol_or_cluster_counts_every_line() {
        // `line` has neither field: nothing tells outbound or TCP lines apart, so a code 0 is
        // still a request (a client that went away), as it was before the fields were read.
        let t = tally(&[line(0, "DC", "null"), line(503, "UF", "3")], DEFAULT_ERROR_RESPONSE_FLAGS);
        assert_eq!((t.requests, t.errors, t.outbound, t.tcp), (2, 2, 0, 0));
    }

    #[test]
    fn blank_lines_are_skipped_and_malformed_ones_counted_with_the_first_kept() {
        let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
        for l in ["", "  \r\n", "\n", "not json\r\n", &line(200, "-", "1"), "{\"response_code\":"] {
            a.line(l.as_bytes());
        }
        let t = a.finish();
        assert_eq!((t.requests, t.malformed), (1, 2));
        assert_eq!(t.first_malformed.as_deref(), Some("not json"));
        assert_eq!(Tally::default().error_rate(), None);
    }

    #[test]
    fn the_first_malformed_line_is_cut_on_a_character_boundary() {
        let long = "é".repeat(300);
        let mut a = Aggregator::new(Format::Json, &[] as &[&str]);
        a.line(long.as_bytes());
        let kept = a.finish().first_malformed.unwrap();
        assert_eq!(kept, format!("{}…", "é".repeat(200)));
        assert_eq!(excerpt(b"short \xff", false), "short \u{fffd}");
        assert_eq!(excerpt(&[b'x'; 900], false), format!("{}…", "x".repeat(200)));
    }

    #[test]
    fn chunks_split_anywhere_count_like_lines() {
        let text: String =
            [line(200, "-", "5"), "garbage".into(), line(503, "UH", "\"7\""), String::new(), line(0, "DC", "null")]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                + &line(201, "-", "9"); // the last line has no newline
        let whole = {
            let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
            text.lines().for_each(|l| a.line(l.as_bytes()));
            a.finish()
        };
        assert_eq!((whole.requests, whole.errors, whole.malformed), (4, 2, 1));
        for (i, j) in (0..=text.len()).flat_map(|i| (i..=text.len()).step_by(7).map(move |j| (i, j))) {
            let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
            for chunk in [&text[..i], &text[i..j], &text[j..]] {
                a.push(chunk.as_bytes());
            }
            assert_eq!(a.finish(), whole, "split at {i} and {j}");
        }
        assert_eq!(read_all(text.as_bytes(), Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS).unwrap(), whole);
    }

    #[test]
    fn an_overlong_line_is_one_malformed_line_and_not_kept() {
        let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
        let huge = vec![b'a'; MAX_LINE_BYTES * 3];
        a.push(&line(200, "-", "1").into_bytes());
        a.push(b"\n");
        for piece in huge.chunks(1000) {
            a.push(piece);
        }
        assert!(a.heap_bytes() <= MAX_LINE_BYTES + 1024, "{}", a.heap_bytes());
        a.push(format!("\n{}\n", line(500, "-", "1")).as_bytes());
        let t = a.finish();
        assert_eq!((t.requests, t.errors, t.malformed), (2, 1, 1));
        assert_eq!(t.first_malformed, Some(format!("{}…", "a".repeat(200))));

        let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
        a.line(&huge);
        assert_eq!(a.tally().malformed, 1);
    }

    #[test]
    fn memory_does_not_grow_with_the_number_of_lines() {
        let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
        let chunk: String = (0..1000)
            .map(|i| line([200, 503, 0][i % 3], ["-", "UH", "DC"][i % 3], &(i % 900).to_string()) + "\n")
            .collect();
        a.push(chunk.as_bytes());
        let after_one = a.heap_bytes();
        for _ in 0..50 {
            a.push(chunk.as_bytes());
        }
        assert_eq!(a.heap_bytes(), after_one);
        assert_eq!(a.tally().requests, 51_000);
    }

    #[test]
    fn merging_adds_everything_and_keeps_the_first_malformed_line() {
        let outbound = istio(503, "UF", 3, "HTTP/1.1", "outbound|80||x");
        let tcp = istio(0, "-", 60_000, "null", "inbound|5432||");
        let mut a = tally(&[line(200, "-", "1"), "x".into(), outbound.clone()], DEFAULT_ERROR_RESPONSE_FLAGS);
        let b = tally(
            &[line(503, "UH", "2"), "y".into(), line(0, "DC", "null"), outbound, tcp.clone(), tcp],
            DEFAULT_ERROR_RESPONSE_FLAGS,
        );
        a.merge(&b);
        assert_eq!((a.requests, a.errors, a.server_errors, a.flagged, a.malformed), (3, 2, 1, 2, 2));
        assert_eq!((a.outbound, a.tcp), (2, 2));
        assert_eq!((a.without_duration, a.latencies.count()), (1, 2));
        assert_eq!(a.by_flag.len(), 2);
        assert_eq!(a.first_malformed.as_deref(), Some("x"));
    }
}
