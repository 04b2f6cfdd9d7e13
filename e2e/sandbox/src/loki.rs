//! A Loki stand-in for tests: `GET /loki/api/v1/query_range` over the sandbox's pod logs, as if
//! a Promtail had shipped every container log with the labels `namespace`, `pod` and
//! `container`. It understands the part of LogQL that Fledge sends, a stream selector with
//! `=`, `!=`, `=~` and `!~` (regexes anchored as in Loki), and answers in Loki's JSON shape, or
//! 400 with a plain-text error as Loki does. It records the headers of every request and can
//! demand a bearer token. Does I/O: an HTTP server on a free port of 127.0.0.1.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fledge_apiserver::store::Store;
use regex::Regex;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Answer 401 unless `Authorization: Bearer <token>` comes with the request.
    pub bearer_token: Option<String>,
    /// The largest `limit` accepted (Loki's `max_entries_limit_per_query`, 5000 by default).
    pub max_limit: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { bearer_token: None, max_limit: 5000 }
    }
}

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Served {
    /// The query parameters.
    pub params: HashMap<String, String>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The status it was answered with.
    pub status: u16,
}

impl Served {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Shared {
    store: Store,
    options: Options,
    served: Mutex<Vec<Served>>,
}

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct Loki {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Loki {
    /// Serves the logs of `store` (the sandbox's `cluster.store`).
    pub async fn start(store: Store, options: Options) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared { store, options, served: Mutex::new(Vec::new()) });
        let app = axum::Router::new()
            .route("/loki/api/v1/query_range", axum::routing::get(query_range))
            .route("/ready", axum::routing::get(|| async { "ready" }))
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the Loki stand-in stopped");
            }
        });
        Ok(Self { url, shared, shutdown: Some(tx), task })
    }

    /// Every request answered so far, oldest first.
    pub fn served(&self) -> Vec<Served> {
        self.shared.served.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops serving; the address then refuses connections.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Loki {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn query_range(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let response = answer(&shared, &headers, &params);
    let served = Served {
        params,
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        status: response.status().as_u16(),
    };
    shared.served.lock().unwrap_or_else(|e| e.into_inner()).push(served);
    response
}

fn bad_request(text: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, [("content-type", "text/plain; charset=utf-8")], text.into()).into_response()
}

fn answer(shared: &Shared, headers: &HeaderMap, params: &HashMap<String, String>) -> Response {
    if let Some(token) = &shared.options.bearer_token {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(format!("Bearer {token}").as_str()) {
            return (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
        }
    }
    let request = match Request::parse(params, shared.options.max_limit, SystemTime::now()) {
        Ok(request) => request,
        Err(text) => return bad_request(text),
    };
    axum::Json(request.run(&shared.store)).into_response()
}

/// Which way entries are ordered and cut by the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A parsed query_range request.
#[derive(Debug)]
struct Request {
    selector: Vec<Matcher>,
    /// Nanoseconds, inclusive.
    start: u128,
    /// Nanoseconds, exclusive.
    end: u128,
    limit: usize,
    direction: Direction,
}

impl Request {
    fn parse(params: &HashMap<String, String>, max_limit: u64, now: SystemTime) -> Result<Self, String> {
        let query = params.get("query").map(String::as_str).unwrap_or_default();
        let selector = parse_selector(query)?;
        let end = match params.get("end") {
            Some(text) => parse_time(text).ok_or_else(|| format!("invalid end parameter: cannot parse {text:?}"))?,
            None => nanos(now),
        };
        let start = match params.get("start") {
            Some(text) => parse_time(text).ok_or_else(|| format!("invalid start parameter: cannot parse {text:?}"))?,
            None => end.saturating_sub(3_600 * 1_000_000_000),
        };
        if end <= start {
            return Err("end timestamp must not be before or equal to start time".to_owned());
        }
        let limit = match params.get("limit") {
            Some(text) => text.parse::<i64>().map_err(|_| format!("invalid limit parameter: cannot parse {text:?}"))?,
            None => 100,
        };
        if limit <= 0 {
            return Err("limit must be a positive value".to_owned());
        }
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        if limit > max_limit {
            return Err(format!(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max_limit})"
            ));
        }
        let direction = match params.get("direction").map(|d| d.to_ascii_lowercase()).as_deref() {
            None | Some("backward") => Direction::Backward,
            Some("forward") => Direction::Forward,
            Some(other) => return Err(format!("invalid direction {other:?}: expected forward or backward")),
        };
        Ok(Self { selector, start, end, limit: usize::try_from(limit).unwrap_or(usize::MAX), direction })
    }

    /// The answer over the store's logs.
    fn run(&self, store: &Store) -> serde_json::Value {
        let mut streams: Vec<BTreeMap<&'static str, String>> = Vec::new();
        // (time, stream, position in its log, line)
        let mut entries: Vec<(u128, usize, usize, String)> = Vec::new();
        let from = UNIX_EPOCH + Duration::from_nanos(u64::try_from(self.start).unwrap_or(u64::MAX));
        for (namespace, pod, container) in store.log_keys() {
            let labels: BTreeMap<&'static str, String> =
                [("container", container), ("namespace", namespace), ("pod", pod)].into();
            if !self.selector.iter().all(|m| m.matches(labels.get(m.label.as_str()).map_or("", String::as_str))) {
                continue;
            }
            let index = streams.len();
            let lines = store.logs(&labels["namespace"], &labels["pod"], &labels["container"], Some(from), None);
            for (position, (time, line)) in lines.into_iter().enumerate() {
                let time = nanos(time);
                if time >= self.start && time < self.end {
                    entries.push((time, index, position, line));
                }
            }
            streams.push(labels);
        }
        entries.sort_by_key(|e| (e.0, e.1, e.2));
        if self.direction == Direction::Backward {
            entries.reverse();
        }
        entries.truncate(self.limit);
        let mut values: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
        for (time, index, _, line) in entries {
            values.entry(index).or_default().push(json!([time.to_string(), line]));
        }
        let result: Vec<_> =
            values.into_iter().map(|(index, values)| json!({"stream": streams[index], "values": values})).collect();
        json!({"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}})
    }
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Nanoseconds since the epoch, float seconds (`1700000000.5`), or RFC 3339.
fn parse_time(text: &str) -> Option<u128> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1e9) as u128);
    }
    fledge_apiserver::time::parse(text).map(nanos)
}

/// A label matcher of a stream selector.
#[derive(Debug)]
struct Matcher {
    label: String,
    op: Op,
    value: String,
    regex: Option<Regex>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl Matcher {
    fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (Op::Eq, _) => value == self.value,
            (Op::Ne, _) => value != self.value,
            (Op::Re, Some(re)) => re.is_match(value),
            (Op::NotRe, Some(re)) => !re.is_match(value),
            (_, None) => false,
        }
    }
}

/// Parses `{label op "value", ...}`, answering errors as Loki words them.
fn parse_selector(query: &str) -> Result<Vec<Matcher>, String> {
    let mut parser = Parser { text: query, at: 0 };
    parser.skip_space();
    parser.expect('{')?;
    let mut matchers = Vec::new();
    loop {
        parser.skip_space();
        if parser.eat('}') {
            break;
        }
        if !matchers.is_empty() {
            parser.expect(',')?;
            parser.skip_space();
        }
        let label = parser.ident()?;
        parser.skip_space();
        let op = parser.op()?;
        parser.skip_space();
        let value = parser.string()?;
        let regex = match op {
            Op::Re | Op::NotRe => Some(
                // Loki anchors regexes at both ends.
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("parse error : error parsing regexp: {e}"))?,
            ),
            Op::Eq | Op::Ne => None,
        };
        matchers.push(Matcher { label, op, value, regex });
    }
    parser.skip_space();
    if parser.at < query.len() {
        return Err(format!(
            "parse error at line 1, col {}: the sandbox's Loki reads stream selectors only, not {:?}",
            parser.at + 1,
            &query[parser.at..]
        ));
    }
    if !matchers.iter().any(|m| !m.matches("")) {
        return Err("parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will".to_owned());
    }
    Ok(matchers)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn unexpected(&self) -> String {
        match self.rest().chars().next() {
            Some(c) => format!("parse error at line 1, col {}: syntax error: unexpected {c:?}", self.at + 1),
            None => format!("parse error at line 1, col {}: syntax error: unexpected end of query", self.at + 1),
        }
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.rest().starts_with(c);
        if found {
            self.at += c.len_utf8();
        }
        found
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(self.unexpected()) }
    }

    fn ident(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .take_while(|&(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
            .count();
        if len == 0 {
            return Err(self.unexpected());
        }
        self.at += len;
        Ok(rest[..len].to_owned())
    }

    fn op(&mut self) -> Result<Op, String> {
        for (text, op) in [("=~", Op::Re), ("!~", Op::NotRe), ("!=", Op::Ne), ("=", Op::Eq)] {
            if self.rest().starts_with(text) {
                self.at += text.len();
                return Ok(op);
            }
        }
        Err(self.unexpected())
    }

    /// A `"..."` string with Go escapes, or a raw `` `...` `` string.
    fn string(&mut self) -> Result<String, String> {
        if self.eat('`') {
            let end = self.rest().find('`').ok_or_else(|| self.unexpected())?;
            let value = self.rest()[..end].to_owned();
            self.at += end + 1;
            return Ok(value);
        }
        self.expect('"')?;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((j, other)) => {
                        return Err(format!(
                            "parse error at line 1, col {}: invalid char escape \\{other}",
                            self.at + j + 1
                        ));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(format!("parse error at line 1, col {}: unterminated string", self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(query: &str, labels: &[(&str, &str)]) -> bool {
        let selector = parse_selector(query).unwrap();
        let get = |name: &str| labels.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v);
        selector.iter().all(|m| m.matches(get(&m.label)))
    }

    #[test]
    fn selectors_match_as_loki_does() {
        let pod = [("namespace", "test"), ("pod", "podinfo-7d9f8-abcde"), ("container", "istio-proxy")];
        assert!(matching(r#"{namespace="test", pod=~"podinfo-[a-z0-9]+-[a-z0-9]+", container="istio-proxy"}"#, &pod));
        assert!(!matching(r#"{namespace="test", pod=~"podinfo-primary-[a-z0-9]+-[a-z0-9]+"}"#, &pod));
        // Anchored: a regex that matches part of the value does not match.
        assert!(!matching(r#"{pod=~"podinfo"}"#, &pod));
        assert!(matching(r#"{pod!~"podinfo-primary.*",namespace!="prod",container="istio-proxy"}"#, &pod));
        assert!(matching("{ pod =~ `podinfo-.+` }", &pod));
        assert!(matching(r#"{namespace="te\"st"} "#, &[("namespace", "te\"st")]));
    }

    #[test]
    fn bad_queries_are_plain_text_errors() {
        let err = |q: &str| parse_selector(q).unwrap_err();
        assert_eq!(err(""), "parse error at line 1, col 1: syntax error: unexpected end of query");
        assert_eq!(err("{pod=\"a\" x}"), "parse error at line 1, col 10: syntax error: unexpected 'x'");
        assert!(err("{pod=~\"(\"}").starts_with("parse error : error parsing regexp"));
        assert!(err("{pod=~\".*\"}").contains("empty-compatible"));
        assert!(err("{pod=\"a\"} |= \"GET\"").contains("stream selectors only"));
        assert!(err("{pod=\"a").contains("unterminated string"));
    }

    #[test]
    fn parameters_have_loki_defaults_and_limits() {
        let now = UNIX_EPOCH + Duration::from_secs(7_200);
        let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let r = Request::parse(&params(&[("query", "{pod=\"a\"}")]), 5000, now).unwrap();
        assert_eq!(
            (r.start, r.end, r.limit, r.direction),
            (3_600_000_000_000, 7_200_000_000_000, 100, Direction::Backward)
        );
        let r = Request::parse(
            &params(&[
                ("query", "{pod=\"a\"}"),
                ("start", "1970-01-01T00:00:01Z"),
                ("end", "2.5"),
                ("direction", "forward"),
            ]),
            5000,
            now,
        )
        .unwrap();
        assert_eq!((r.start, r.end, r.direction), (1_000_000_000, 2_500_000_000, Direction::Forward));
        let fail = |pairs: &[(&str, &str)]| Request::parse(&params(pairs), 5000, now).unwrap_err();
        assert!(fail(&[("query", "{pod=\"a\"}"), ("limit", "0")]).contains("positive"));
        assert!(fail(&[("query", "{pod=\"a\"}"), ("limit", "5001")]).contains("(5001 > 5000)"));
        assert!(fail(&[("query", "{pod=\"a\"}"), ("start", "5"), ("end", "5")]).contains("before or equal"));
        assert!(fail(&[("query", "{pod=\"a\"}"), ("start", "yesterday")]).contains("start"));
    }

    #[test]
    fn entries_come_oldest_or_newest_first_cut_at_the_limit() {
        let store = Store::new();
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        store.append_logs("test", "a-1", "istio-proxy", [(at(1), "a1".to_owned()), (at(3), "a3".to_owned())]);
        store.append_logs("test", "b-1", "istio-proxy", [(at(2), "b2".to_owned()), (at(4), "b4".to_owned())]);
        store.append_logs("test", "a-1", "app", [(at(2), "app".to_owned())]);
        let request = |direction, limit| Request {
            selector: parse_selector(r#"{container="istio-proxy"}"#).unwrap(),
            start: 1_000_000_000,
            end: 4_000_000_000,
            limit,
            direction,
        };
        let lines = |answer: serde_json::Value| -> Vec<String> {
            let mut out = Vec::new();
            for stream in answer["data"]["result"].as_array().unwrap() {
                for v in stream["values"].as_array().unwrap() {
                    out.push(format!("{}@{}", v[1].as_str().unwrap(), v[0].as_str().unwrap()));
                }
            }
            out
        };
        // b4 is at the exclusive end.
        assert_eq!(lines(request(Direction::Forward, 2).run(&store)), ["a1@1000000000", "b2@2000000000"]);
        assert_eq!(lines(request(Direction::Backward, 2).run(&store)), ["a3@3000000000", "b2@2000000000"]);
        let answer = request(Direction::Forward, 100).run(&store);
        assert_eq!(
            answer["data"]["result"][0]["stream"],
            json!({"namespace": "test", "pod": "a-1", "container": "istio-proxy"})
        );
    }
}
