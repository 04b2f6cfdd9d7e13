//! The access-log fixtures (Istio's JSON and Envoy's text format, the same 43 requests to the
//! workload, three outbound requests, a TCP connection, five malformed and two blank lines each)
//! read end to end, against counts worked out by hand.

use fledge_analysis::access_log::{Aggregator, Format, Tally, read_all};
use fledge_crds::canary::access_log::DEFAULT_ERROR_RESPONSE_FLAGS;
use std::fs::File;
use std::io::BufReader;

fn fixture(name: &str, format: Format, flags: &[&str]) -> Tally {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    read_all(BufReader::new(File::open(path).unwrap()), format, flags).unwrap()
}

/// The fixture's requests:
/// - 30 × 200, durations 1..=30 ms (12 written as the string "12" in JSON);
/// - 5 × 503 `UH`, 0 ms (one with the code as the string "503");
/// - 2 × 500, 100 and 120 ms;
/// - 0 `DC` (client went away), no duration;
/// - 200 with duration "-";
/// - 404 `NR`, 1 ms; 429 `RL` (not an error flag by default), 2 ms;
/// - 200, 31 ms, with quotes, a space and a backslash in the path;
/// - 504 `UT`, 15000 ms.
///
/// The 404 `NR` matched no route, so it has no upstream cluster (`null`, `-`): still a request.
/// Not requests: the workload's own calls, through `outbound|9898||backend.test.svc.cluster.local`
/// (200 in 12 ms, and 503 `UF,URX` in 30 ms, which must not count as an error) and
/// `PassthroughCluster` (200 in 250 ms); and a TCP connection to `inbound|5432||` (no protocol,
/// code 0) that lasted 300512 ms, which must not reach the latencies.
///
/// Errors: 5 + 2 + 1 (DC) + 1 (NR) + 1 (504) = 10. Latencies: 41 values, sorted
/// 0×5, 1×2, 2×2, 3..=30, 31, 100, 120, 15000: the 21st (p50) is 14, the 37th (p90) 30, the
/// 41st (p99) 15000, which the histogram reports as the middle of its bucket [14976, 15104).
fn assert_the_requests(t: &Tally) {
    assert_eq!(t.requests, 43);
    assert_eq!((t.outbound, t.tcp), (3, 1));
    assert_eq!(t.errors, 10);
    assert_eq!((t.server_errors, t.flagged), (8, 8));
    let by_flag: Vec<(&str, u64)> = t.by_flag.iter().map(|(f, n)| (f.as_str(), *n)).collect();
    assert_eq!(by_flag, [("DC", 1), ("NR", 1), ("UH", 5), ("UT", 1)]);
    assert_eq!(t.without_duration, 2);
    assert_eq!(t.latencies.count(), 41);
    assert_eq!(t.latencies.percentile(50.0), Some(14.0));
    assert_eq!(t.latencies.percentile(90.0), Some(30.0));
    assert_eq!(t.latencies.percentile(99.0), Some(15039.5));
    assert_eq!(t.malformed, 5);
    assert_eq!(t.first_malformed.as_deref(), Some("2026-12-02T02:59:58.000000Z\tinfo\tEnvoy proxy is ready"));
    let rate = t.error_rate().unwrap();
    assert!((rate - 1000.0 / 43.0).abs() < 1e-9, "{rate}");
}

#[test]
fn json_fixture() {
    assert_the_requests(&fixture("access_log.jsonl", Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS));
}

#[test]
fn text_fixture() {
    assert_the_requests(&fixture("access_log.txt", Format::Text, DEFAULT_ERROR_RESPONSE_FLAGS));
}

#[test]
fn an_empty_flag_list_counts_only_5xx() {
    for (name, format) in [("access_log.jsonl", Format::Json), ("access_log.txt", Format::Text)] {
        let t = fixture(name, format, &[]);
        assert_eq!((t.requests, t.errors, t.flagged, t.outbound, t.tcp), (43, 8, 0, 3, 1), "{name}");
    }
}

#[test]
fn the_wrong_format_makes_every_line_malformed() {
    let t = fixture("access_log.jsonl", Format::Text, DEFAULT_ERROR_RESPONSE_FLAGS);
    // The one text line mixed into the JSON fixture is the only request.
    assert_eq!((t.requests, t.malformed), (1, 51));
}

#[test]
fn pods_merge_into_a_version() {
    let path = format!("{}/tests/fixtures/access_log.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let split = text[text.len() / 2..].find('\n').unwrap() + text.len() / 2 + 1;
    let [mut version, other] = [&text[..split], &text[split..]].map(|pod| {
        let mut a = Aggregator::new(Format::Json, DEFAULT_ERROR_RESPONSE_FLAGS);
        a.push(pod.as_bytes());
        a.finish()
    });
    version.merge(&other);
    assert_the_requests(&version);
}
