//! Reading the access-log lines of one version from Loki (`/loki/api/v1/query_range`): the
//! stream selector rendered from the spec's template, a timeout on every request, bearer or
//! basic auth and extra headers (such as `X-Scope-OrgID`), and forward pagination that hands
//! every line in the window to a sink exactly once while holding at most one page. Does I/O.
//! Credentials are never logged or shown.
//!
//! # Pagination
//!
//! Loki answers the `limit` oldest entries of `[start, end)`, and several entries may share a
//! nanosecond. A page that is full may therefore end in the middle of the entries of its last
//! timestamp `t`. The next page starts at `t` again (inclusive), so nothing after the cut is
//! lost, and skips what was already delivered at `t`: an entry is identified by its stream's
//! labels and its line, which is unique because Loki itself drops a second entry with the same
//! stream, timestamp and line. The next page asks for `limit` plus the number of entries already
//! seen at `t`, so it always has room for `limit` new ones and makes progress even when more
//! than a page of entries share one timestamp (where a plain `limit` would return the same page
//! forever). Only the lines at that one timestamp are remembered between pages.

use crate::http;
use crate::template::{fill, is_kubernetes_name};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::http::{Auth, QueryError};

/// The stream selector for one version when the spec gives none: the `istio-proxy` container
/// of the workload's pods (`<deployment>-<pod-template-hash>-<suffix>`).
pub const DEFAULT_QUERY: &str = r#"{namespace="{{ namespace }}", pod=~"{{ workload }}-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}", container="istio-proxy"}"#;

/// Lines asked for per request unless the settings say otherwise; Loki's own cap
/// (`max_entries_limit_per_query`) is 5000 by default.
pub const DEFAULT_PAGE_LIMIT: u32 = 1000;

/// The largest answer read for one page (a page of 1000 Envoy lines is about 2 MiB).
pub const MAX_PAGE_BYTES: usize = 64 << 20;

/// Why a stream selector could not be rendered.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SelectorError {
    /// A placeholder Fledge does not fill in.
    #[error("the Loki query uses {{{{ {0} }}}}; known are namespace and workload")]
    Unknown(String),
    /// `{{` without `}}`.
    #[error("the Loki query has an unclosed {{{{ at byte {0}")]
    Unclosed(usize),
    /// A value that is not a Kubernetes name, so it could change the query.
    #[error("{0}: {1:?} is not a valid Kubernetes name")]
    Invalid(&'static str, String),
    /// Something other than a log query.
    #[error("the Loki query {0:?} does not start with a stream selector such as {{namespace=\"...\"}}")]
    NotASelector(String),
}

/// The LogQL query for one version: `template` (usually [`DEFAULT_QUERY`] or the spec's
/// `loki.query`) with `{{ namespace }}` and `{{ workload }}` (or `{{ .namespace }}`) filled in.
/// Both must be Kubernetes names, so neither can close a string or a selector.
pub fn render_selector(template: &str, namespace: &str, workload: &str) -> Result<String, SelectorError> {
    for (field, value) in [("namespace", namespace), ("workload", workload)] {
        if !is_kubernetes_name(value) {
            return Err(SelectorError::Invalid(field, value.to_owned()));
        }
    }
    let value = |key: &str| match key.strip_prefix('.').unwrap_or(key) {
        "namespace" => Ok(namespace),
        "workload" => Ok(workload),
        _ => Err(SelectorError::Unknown(key.to_owned())),
    };
    let out = fill(template, value, SelectorError::Unclosed)?;
    if !out.trim_start().starts_with('{') {
        return Err(SelectorError::NotASelector(out));
    }
    Ok(out)
}

/// How to reach a Loki.
#[derive(Clone)]
pub struct Settings {
    /// Base address, for example `http://loki.monitoring:3100`.
    pub address: String,
    /// Credentials, if any.
    pub auth: Option<Auth>,
    /// Extra headers sent with every request, for example `X-Scope-OrgID`.
    pub headers: Vec<(String, String)>,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
    /// How long one request (one page) may take.
    pub timeout: Duration,
    /// Lines per page (at least 1).
    pub page_limit: u32,
}

impl Settings {
    /// An address with no credentials, a 10 s timeout and pages of [`DEFAULT_PAGE_LIMIT`].
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            auth: None,
            headers: Vec::new(),
            insecure_skip_verify: false,
            timeout: Duration::from_secs(10),
            page_limit: DEFAULT_PAGE_LIMIT,
        }
    }

    /// The settings of a Canary's `accessLog.loki`, with the credentials read from its Secret.
    pub fn from_spec(spec: &fledge_crds::canary::access_log::LokiSource, auth: Option<Auth>) -> Self {
        Self {
            auth,
            headers: spec.headers.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..Self::new(spec.address.clone())
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values can be credentials too (an API key header): names only.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Settings")
            .field("address", &self.address)
            .field("auth", &self.auth)
            .field("headers", &headers)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("timeout", &self.timeout)
            .field("page_limit", &self.page_limit)
            .finish()
    }
}

/// What a read delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Report {
    /// Lines handed to the sink.
    pub lines: u64,
    /// Requests made (pages).
    pub pages: u32,
}

/// A Loki to read from.
#[derive(Clone, Debug)]
pub struct Loki {
    http: reqwest::Client,
    settings: Settings,
    endpoint: url::Url,
}

impl Loki {
    /// A client for `settings`; fails on an address that is not an http(s) URL.
    pub fn new(settings: Settings) -> Result<Self, QueryError> {
        let (http, endpoint) = http::client(
            &settings.address,
            "/loki/api/v1/query_range",
            settings.timeout,
            settings.insecure_skip_verify,
        )
        .map_err(|why| QueryError::new("", &settings.address, why))?;
        Ok(Self { http, settings, endpoint })
    }

    /// Hands `sink` every line `query` selects that was written after `since` and at or before
    /// `until`, oldest first within a stream, each once, without a trailing newline.
    pub async fn read(
        &self,
        query: &str,
        since: SystemTime,
        until: SystemTime,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Report, QueryError> {
        let fail = |why: String| QueryError::new(query, &self.settings.address, why);
        // Loki's range is [start, end); ours is (since, until].
        let mut cursor =
            Cursor::new(nanos(since).saturating_add(1), nanos(until).saturating_add(1), self.settings.page_limit);
        let mut report = Report::default();
        while cursor.start < cursor.end {
            let limit = cursor.request_limit();
            let streams = self.page(query, cursor.start, cursor.end, limit).await.map_err(&fail)?;
            report.pages += 1;
            let taken = cursor.take(streams, limit, sink).map_err(&fail)?;
            report.lines += taken.delivered;
            if !taken.more {
                break;
            }
        }
        Ok(report)
    }

    /// One request.
    async fn page(&self, query: &str, start: u64, end: u64, limit: u64) -> Result<Vec<Stream>, String> {
        let mut request = self.http.get(self.endpoint.clone()).query(&[
            ("query", query),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("limit", &limit.to_string()),
            ("direction", "forward"),
        ]);
        request = http::authorize(request, &self.settings.headers, self.settings.auth.as_ref());
        let response = request.send().await.map_err(|e| http::no_answer(&e, self.settings.timeout))?;
        let status = response.status();
        let body = read_body(response).await?;
        if !status.is_success() {
            // Loki answers a bad query with a plain-text sentence; a proxy may send anything.
            let text = String::from_utf8_lossy(&body);
            let text: String = text.trim().chars().take(300).collect();
            return Err(format!("HTTP {status}: {text}"));
        }
        parse_page(&body)
    }
}

/// The body of an answer, refused past [`MAX_PAGE_BYTES`] so a runaway answer cannot take the
/// controller's memory.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the answer: {e}"))? {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(format!("the answer is larger than {MAX_PAGE_BYTES} bytes; lower the page limit"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Nanoseconds since the epoch (0 before it, saturated after 2554).
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// One stream of a `streams` answer.
#[derive(Deserialize, Debug)]
struct Stream {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Entry>,
}

/// `["<ns>", "<line>"]`, possibly followed by structured metadata, which is ignored.
#[derive(Debug)]
struct Entry(String, String);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an entry [\"<nanoseconds>\", \"<line>\"]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                use serde::de::Error;
                let time: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let line: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Entry(time, line))
            }
        }
        deserializer.deserialize_seq(Visit)
    }
}

/// The streams of a query_range answer, or why it is not one.
fn parse_page(body: &[u8]) -> Result<Vec<Stream>, String> {
    let garbage = |why: &str| {
        let text = String::from_utf8_lossy(body);
        format!("not a Loki query answer ({why}): {}", text.chars().take(200).collect::<String>())
    };
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|e| garbage(&e.to_string()))?;
    match value["status"].as_str() {
        Some("success") => {}
        Some(status) => {
            let error = value["error"].as_str().unwrap_or_default();
            return Err(format!("Loki answered status {status}: {error}"));
        }
        None => return Err(garbage("no status")),
    }
    let data = value.get_mut("data").ok_or_else(|| garbage("no data"))?;
    match data["resultType"].as_str() {
        Some("streams") => {}
        Some(other) => {
            return Err(format!("the query gives a {other} result; a log query (a stream selector) is needed"));
        }
        None => return Err(garbage("no resultType")),
    }
    let result = data.get_mut("result").map(serde_json::Value::take).unwrap_or_default();
    if result.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value(result).map_err(|e| garbage(&e.to_string()))
}

/// Where the next page starts and which lines at that nanosecond were already delivered. Pure.
#[derive(Debug)]
struct Cursor {
    start: u64,
    end: u64,
    limit: u32,
    /// Lines delivered at `start`, by their stream's labels.
    seen: HashMap<String, HashSet<String>>,
    seen_count: u64,
}

/// What one page gave.
#[derive(Debug, PartialEq, Eq)]
struct Taken {
    delivered: u64,
    more: bool,
}

impl Cursor {
    fn new(start: u64, end: u64, limit: u32) -> Self {
        Self { start, end, limit: limit.max(1), seen: HashMap::new(), seen_count: 0 }
    }

    /// Room for a page of new lines besides the ones already seen at `start`.
    fn request_limit(&self) -> u64 {
        u64::from(self.limit).saturating_add(self.seen_count)
    }

    /// Delivers the lines of a page asked with `requested` that were not delivered before, and
    /// moves the cursor to the page's last timestamp when the page was full.
    fn take(
        &mut self,
        streams: Vec<Stream>,
        requested: u64,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Taken, String> {
        let mut entries = 0u64;
        let mut delivered = 0u64;
        let mut newest: Option<u64> = None;
        let mut at_newest: HashMap<String, HashSet<String>> = HashMap::new();
        for stream in streams {
            let labels = labels_key(&stream.stream);
            for Entry(time, line) in stream.values {
                entries += 1;
                let time: u64 =
                    time.parse().map_err(|_| format!("Loki sent the timestamp {time:?}, not nanoseconds"))?;
                if time < self.start || time >= self.end {
                    continue;
                }
                if time == self.start && self.seen.get(&labels).is_some_and(|lines| lines.contains(&line)) {
                    continue;
                }
                // Remembered as Loki sent it (the next page sends it the same way), delivered
                // without a line ending.
                let text = line.strip_suffix('\n').map_or(line.as_str(), |l| l.strip_suffix('\r').unwrap_or(l));
                sink(text.as_bytes());
                delivered += 1;
                if newest.is_none_or(|n| time > n) {
                    newest = Some(time);
                    at_newest.clear();
                }
                if newest == Some(time) {
                    at_newest.entry(labels.clone()).or_default().insert(line);
                }
            }
        }
        if entries < requested {
            return Ok(Taken { delivered, more: false });
        }
        let Some(newest) = newest else {
            return Err(format!("Loki sent a full page of {entries} entries with nothing new in the window"));
        };
        if newest != self.start {
            self.start = newest;
            self.seen.clear();
            self.seen_count = 0;
        }
        for (labels, lines) in at_newest {
            self.seen_count += lines.len() as u64;
            self.seen.entry(labels).or_default().extend(lines);
        }
        Ok(Taken { delivered, more: true })
    }
}

/// The identity of a stream: its labels in order.
fn labels_key(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_selector_names_the_workload_pods_istio_proxy() {
        assert_eq!(
            render_selector(DEFAULT_QUERY, "test", "podinfo-primary").unwrap(),
            r#"{namespace="test", pod=~"podinfo-primary-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}", container="istio-proxy"}"#
        );
        assert_eq!(
            render_selector(r#"{ns="{{.namespace}}", app="{{workload}}"} |= "GET""#, "prod", "shop").unwrap(),
            r#"{ns="prod", app="shop"} |= "GET""#
        );
    }

    #[test]
    fn names_cannot_carry_logql() {
        let e = render_selector(DEFAULT_QUERY, "test\"} or {x=~\".+", "podinfo").unwrap_err();
        assert_eq!(e.to_string(), r#"namespace: "test\"} or {x=~\".+" is not a valid Kubernetes name"#);
        assert!(matches!(
            render_selector(DEFAULT_QUERY, "test", "Podinfo"),
            Err(SelectorError::Invalid("workload", _))
        ));
        assert!(matches!(render_selector(DEFAULT_QUERY, "test", ""), Err(SelectorError::Invalid("workload", _))));
        assert_eq!(
            render_selector("{pod=\"{{ name }}\"}", "test", "podinfo").unwrap_err().to_string(),
            "the Loki query uses {{ name }}; known are namespace and workload"
        );
        assert_eq!(render_selector("{pod=\"{{ workload\"}", "test", "podinfo"), Err(SelectorError::Unclosed(6)));
        assert!(matches!(
            render_selector("sum(rate({namespace=\"{{ namespace }}\"}[1m]))", "test", "podinfo"),
            Err(SelectorError::NotASelector(_))
        ));
    }

    #[test]
    fn a_page_is_read_into_streams() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"pod":"a","container":"istio-proxy"},"values":[["10","{\"code\":200}"],["11","two\n",{"trace":"x"}]]},
            {"stream":{"pod":"b"},"values":[]}
        ],"stats":{"summary":{}}}}"#;
        let streams = parse_page(body).unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].stream["pod"], "a");
        assert_eq!(streams[0].values.len(), 2);
        assert_eq!((streams[0].values[0].0.as_str(), streams[0].values[0].1.as_str()), ("10", r#"{"code":200}"#));
        assert_eq!(streams[0].values[1].1, "two\n");
        let empty = parse_page(br#"{"status":"success","data":{"resultType":"streams","result":[]}}"#).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn answers_that_are_not_log_streams_say_what_came_back() {
        let matrix =
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]]}]}}"#;
        assert_eq!(
            parse_page(matrix).unwrap_err(),
            "the query gives a matrix result; a log query (a stream selector) is needed"
        );
        assert_eq!(
            parse_page(br#"{"status":"error","error":"boom"}"#).unwrap_err(),
            "Loki answered status error: boom"
        );
        assert!(parse_page(b"<html>proxy</html>").unwrap_err().starts_with("not a Loki query answer"));
        let bad_entry =
            br#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["1"]]}]}}"#;
        assert!(parse_page(bad_entry).is_err());
    }

    fn stream(pod: &str, entries: &[(u64, &str)]) -> Stream {
        Stream {
            stream: [("pod".to_owned(), pod.to_owned())].into(),
            values: entries.iter().map(|(t, l)| Entry(t.to_string(), (*l).to_owned())).collect(),
        }
    }

    /// Plays Loki over `log` (forward, [start, end), the oldest `limit` entries, ties in
    /// `order`'s arrangement) until the cursor is done; returns what was delivered.
    fn page_through(
        log: &[(&str, u64, &str)],
        limit: u32,
        order: fn(usize, usize) -> std::cmp::Ordering,
    ) -> Vec<String> {
        let mut cursor = Cursor::new(0, 1_000, limit);
        let mut got = Vec::new();
        for _ in 0..100 {
            let requested = cursor.request_limit();
            let mut window: Vec<(usize, &(&str, u64, &str))> =
                log.iter().enumerate().filter(|(_, e)| e.1 >= cursor.start && e.1 < cursor.end).collect();
            window.sort_by(|a, b| a.1.1.cmp(&b.1.1).then(order(a.0, b.0)));
            window.truncate(usize::try_from(requested).unwrap());
            let mut by_pod: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
            for (_, (pod, t, line)) in window {
                by_pod.entry(pod).or_default().push((*t, line));
            }
            let streams = by_pod.iter().map(|(pod, entries)| stream(pod, entries)).collect();
            let mut sink = |line: &[u8]| got.push(String::from_utf8_lossy(line).into_owned());
            if !cursor.take(streams, requested, &mut sink).unwrap().more {
                return got;
            }
        }
        panic!("no end after 100 pages");
    }

    #[test]
    fn pages_cut_inside_one_timestamp_lose_and_repeat_nothing() {
        // Seven entries share t=5 across two pods; pages of 3 cut them twice.
        let log = [
            ("a", 1, "a1"),
            ("a", 5, "a5x"),
            ("b", 5, "b5x"),
            ("a", 5, "a5y"),
            ("b", 5, "b5y"),
            ("a", 5, "a5z"),
            ("b", 5, "b5z"),
            ("b", 5, "a5x"),
            ("a", 6, "a6"),
            ("b", 9, "b9\n"),
        ];
        let mut want: Vec<String> = log.iter().map(|e| e.2.trim_end().to_owned()).collect();
        want.sort();
        // Loki does not promise an order among equal timestamps: try it both ways.
        for order in [(|a: usize, b: usize| a.cmp(&b)) as fn(usize, usize) -> _, |a: usize, b: usize| b.cmp(&a)] {
            for limit in [1, 2, 3, 4, 100] {
                let mut got = page_through(&log, limit, order);
                got.sort();
                assert_eq!(got, want, "limit {limit}");
            }
        }
    }

    #[test]
    fn a_window_is_half_open_on_the_left_and_closed_on_the_right() {
        let mut cursor = Cursor::new(11, 21, 10);
        let mut got = Vec::new();
        let mut sink = |line: &[u8]| got.push(String::from_utf8_lossy(line).into_owned());
        let streams = vec![stream("a", &[(10, "before"), (11, "first"), (20, "last"), (21, "after")])];
        assert_eq!(cursor.take(streams, 10, &mut sink).unwrap(), Taken { delivered: 2, more: false });
        assert_eq!(got, ["first", "last"]);
    }

    #[test]
    fn a_server_that_ignores_the_window_cannot_loop_forever() {
        let mut cursor = Cursor::new(100, 200, 2);
        let streams = vec![stream("a", &[(1, "x"), (2, "y")])];
        assert!(cursor.take(streams, 2, &mut |_| {}).is_err());
        let garbage_time = vec![Stream { stream: BTreeMap::new(), values: vec![Entry("soon".into(), "x".into())] }];
        assert!(cursor.take(garbage_time, 2, &mut |_| {}).unwrap_err().contains("\"soon\""));
    }

    #[test]
    fn credentials_never_print() {
        let mut settings = Settings::new("http://loki:3100");
        settings.auth = Some(Auth::Bearer("s3cret".into()));
        settings.headers = vec![("X-Api-Key".into(), "k3y".into())];
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("k3y"), "{shown}");
        assert!(shown.contains("X-Api-Key"), "{shown}");
    }

    #[test]
    fn only_http_addresses_are_clients() {
        assert!(Loki::new(Settings::new("loki:3100")).is_err());
        let e = Loki::new(Settings::new("ftp://loki")).unwrap_err();
        assert_eq!(e.to_string(), "query \"\" to ftp://loki: not an http or https address");
        assert!(Loki::new(Settings::new("http://loki.monitoring:3100/")).is_ok());
    }
}
