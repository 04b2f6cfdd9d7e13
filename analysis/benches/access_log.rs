//! Access-log aggregation throughput, on ~64 MB of generated Istio JSON lines (and the same
//! requests in Envoy's text format), with the alternatives the scanner was chosen over: serde
//! into a borrowed struct of the three fields, and a full `serde_json::Value` a line.
//!
//! `cargo bench -p fledge-analysis --bench access_log`. Set `FLEDGE_BENCH_WRITE=<dir>` to also
//! write the generated logs there (`access_log.jsonl`, `access_log.txt`) for comparison with
//! other tools, for example jq.

use criterion::{Criterion, Throughput};
use fledge_analysis::access_log::{Aggregator, Format, read_all};
use fledge_crds::canary::access_log::DEFAULT_ERROR_RESPONSE_FLAGS;
use serde::Deserialize;
use std::hint::black_box;

const TARGET_BYTES: usize = 64 << 20;

/// splitmix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated request: most succeed in tens of milliseconds, a few fail in Envoy's usual ways.
struct Req {
    code: u16,
    flags: &'static str,
    details: &'static str,
    duration: Option<u64>,
    path: String,
    i: u64,
}

fn request(rng: &mut Rng, i: u64) -> Req {
    // A long tail: mostly 2..60 ms, sometimes up to seconds.
    let duration = match rng.below(100) {
        0 => 500 + rng.below(5000),
        1..=9 => 60 + rng.below(400),
        _ => 2 + rng.below(58),
    };
    let (code, flags, details, duration) = match rng.below(1000) {
        0..=19 => (503, "UH", "no_healthy_upstream", Some(0)),
        20..=39 => (500, "-", "via_upstream", Some(duration)),
        40..=49 => (0, "DC", "downstream_remote_disconnect", None),
        50..=59 => (404, "NR", "route_not_found", Some(1)),
        60..=64 => (503, "UF,URX", "upstream_reset_before_response_started{connection_failure}", Some(duration)),
        _ => (200, "-", "via_upstream", Some(duration)),
    };
    let path = match rng.below(50) {
        0 => format!("/search?q=\"{}\" now", rng.below(1000)),
        _ => format!("/api/items/{}?page={}", rng.below(100_000), rng.below(20)),
    };
    Req { code, flags, details, duration, path, i }
}

fn json_line(r: &Req, out: &mut String) {
    let duration = r.duration.map_or("null".to_owned(), |d| d.to_string());
    let ust = r.duration.filter(|d| *d > 0 && r.code != 503).map_or("null".to_owned(), |d| format!("\"{}\"", d - 1));
    let path = serde_json::to_string(&r.path).unwrap();
    let i = r.i;
    out.push_str(&format!(
        r#"{{"authority":"podinfo.test:9898","bytes_received":0,"bytes_sent":{},"connection_termination_details":null,"downstream_local_address":"10.244.1.7:9898","downstream_remote_address":"10.244.2.{}:{}","duration":{duration},"method":"GET","path":{path},"protocol":"HTTP/1.1","request_id":"5e1a2b3c-{:04x}-4000-8000-{i:012x}","requested_server_name":"outbound_.9898_._.podinfo-canary.test.svc.cluster.local","response_code":{},"response_code_details":"{}","response_flags":"{}","route_name":"default","start_time":"2026-12-02T03:{:02}:{:02}.{:03}Z","upstream_cluster":"inbound|9898||","upstream_host":"10.244.1.7:9898","upstream_local_address":"127.0.0.6:{}","upstream_service_time":{ust},"upstream_transport_failure_reason":null,"user_agent":"hey/0.0.1","x_forwarded_for":null}}"#,
        if r.code == 200 { 412 } else { 19 },
        i % 250,
        30000 + i % 30000,
        i % 65536,
        r.code,
        r.details,
        r.flags,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        40000 + i % 20000,
    ));
    out.push('\n');
}

fn text_line(r: &Req, out: &mut String) {
    let duration = r.duration.map_or("-".to_owned(), |d| d.to_string());
    let ust = r.duration.filter(|d| *d > 0 && r.code != 503).map_or("-".to_owned(), |d| (d - 1).to_string());
    let i = r.i;
    out.push_str(&format!(
        "[2026-12-02T03:{:02}:{:02}.{:03}Z] \"GET {} HTTP/1.1\" {} {} {} - \"-\" 0 {} {duration} {ust} \"-\" \"hey/0.0.1\" \
         \"5e1a2b3c-{:04x}-4000-8000-{i:012x}\" \"podinfo.test:9898\" \"10.244.1.7:9898\" inbound|9898|| 127.0.0.6:{} \
         10.244.1.7:9898 10.244.2.{}:{} outbound_.9898_._.podinfo-canary.test.svc.cluster.local default\n",
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        r.path,
        r.code,
        r.flags,
        r.details,
        if r.code == 200 { 412 } else { 19 },
        i % 65536,
        40000 + i % 20000,
        i % 250,
        30000 + i % 30000,
    ));
}

/// The same requests in both formats, about [`TARGET_BYTES`] of JSON.
fn generate() -> (String, String) {
    let mut rng = Rng(42);
    let (mut json, mut text) = (String::with_capacity(TARGET_BYTES + 4096), String::new());
    let mut i = 0;
    while json.len() < TARGET_BYTES {
        let r = request(&mut rng, i);
        json_line(&r, &mut json);
        text_line(&r, &mut text);
        i += 1;
    }
    (json, text)
}

/// What serde would read: the three fields, borrowed, numbers as numbers or strings.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    response_code: Option<NumOrStr<'a>>,
    #[serde(borrow, default)]
    response_flags: Option<&'a str>,
    #[serde(borrow, default)]
    duration: Option<NumOrStr<'a>>,
}

enum NumOrStr<'a> {
    Num(u64),
    Str(&'a str),
}

impl<'de: 'a, 'a> Deserialize<'de> for NumOrStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NumOrStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumOrStr::Num(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(NumOrStr::Str(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl NumOrStr<'_> {
    fn get(&self) -> Option<u64> {
        match self {
            NumOrStr::Num(n) => Some(*n),
            NumOrStr::Str(s) => s.parse().ok(),
        }
    }
}

/// The borrowed-serde alternative: requests, errors (5xx or an error flag), latency sum.
fn serde_borrowed(data: &str) -> (u64, u64, u64, u64) {
    let (mut requests, mut errors, mut malformed, mut sum) = (0, 0, 0, 0);
    for line in data.lines() {
        let Ok(f) = serde_json::from_str::<Fields<'_>>(line) else {
            malformed += 1;
            continue;
        };
        let Some(code) = f.response_code.as_ref().and_then(NumOrStr::get) else {
            malformed += 1;
            continue;
        };
        requests += 1;
        let flagged =
            f.response_flags.is_some_and(|fl| fl.split(',').any(|fl| DEFAULT_ERROR_RESPONSE_FLAGS.contains(&fl)));
        errors += u64::from((500..600).contains(&code) || flagged);
        sum += f.duration.as_ref().and_then(NumOrStr::get).unwrap_or(0);
    }
    (requests, errors, malformed, sum)
}

/// The naive alternative: a full `Value` a line.
fn serde_value(data: &str) -> (u64, u64) {
    let (mut requests, mut errors) = (0, 0);
    for line in data.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let Some(code) = v["response_code"].as_u64() else { continue };
        requests += 1;
        let flagged = v["response_flags"]
            .as_str()
            .is_some_and(|fl| fl.split(',').any(|fl| DEFAULT_ERROR_RESPONSE_FLAGS.contains(&fl)));
        errors += u64::from((500..600).contains(&code) || flagged);
    }
    (requests, errors)
}

fn main() {
    let (json, text) = generate();
    if let Some(dir) = std::env::var_os("FLEDGE_BENCH_WRITE") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join("access_log.jsonl"), &json).unwrap();
        std::fs::write(dir.join("access_log.txt"), &text).unwrap();
    }

    // What the aggregation found, and what it holds: the same however long the log.
    let mut aggregator = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
    aggregator.push(json.as_bytes());
    let t = aggregator.tally();
    println!(
        "json: {} bytes, {} requests, {} errors, {} malformed, p50 {:?} ms, p99 {:?} ms; \
         aggregator heap {} bytes (histogram {} bytes)",
        json.len(),
        t.requests,
        t.errors,
        t.malformed,
        t.latencies.percentile(50.0),
        t.latencies.percentile(99.0),
        aggregator.heap_bytes(),
        t.latencies.heap_bytes(),
    );
    let (requests, errors, malformed, _) = serde_borrowed(&json);
    assert_eq!((requests, errors, malformed), (t.requests, t.errors, t.malformed), "serde disagrees");
    let text_tally = read_all(text.as_bytes(), Format::Text, DEFAULT_ERROR_RESPONSE_FLAGS).unwrap();
    assert_eq!((text_tally.requests, text_tally.errors), (t.requests, t.errors), "text disagrees");
    assert_eq!(text_tally.latencies, t.latencies);
    println!("text: {} bytes, same requests", text.len());

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut group = c.benchmark_group("access_log");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json/scanner", |b| {
        b.iter(|| read_all(black_box(json.as_bytes()), Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS).unwrap())
    });
    group.bench_function("json/serde_borrowed", |b| b.iter(|| serde_borrowed(black_box(&json))));
    group.bench_function("json/serde_value", |b| b.iter(|| serde_value(black_box(&json))));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("text", |b| {
        b.iter(|| read_all(black_box(text.as_bytes()), Format::Text, DEFAULT_ERROR_RESPONSE_FLAGS).unwrap())
    });
    group.finish();
    c.final_summary();
}
