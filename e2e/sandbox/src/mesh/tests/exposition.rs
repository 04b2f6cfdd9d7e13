//! The rendered metrics are valid Prometheus text exposition: one TYPE per family before its samples, families
//! contiguous, label values escaped, no duplicate series, histogram buckets cumulative and ending in `+Inf`
//! equal to `_count`.

use super::super::annotations::{ERROR_RATE, RESPONSE_FLAGS};
use super::super::telemetry::{Metrics, Report, Reporter, ServiceLabels};
use super::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

type LabelSet = Vec<(String, String)>;

#[derive(Debug)]
struct Sample {
    name: String,
    labels: LabelSet,
    value: f64,
}

fn is_name(s: &str, colons: bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'))
}

/// Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(LabelSet, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("labels must start with {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut chars = rest[eq + 1..].strip_prefix('"').ok_or("label value must be quoted")?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (i, '"') => break i,
                (_, '\n') => return Err("raw newline in label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} twice"));
        }
        labels.push((name.to_owned(), value));
        rest = &rest[eq + 2 + end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Checks the exposition format rules; returns the samples.
fn validate(text: &str) -> Result<Vec<Sample>, String> {
    if !text.ends_with('\n') {
        return Err("the text must end with a newline".into());
    }
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps = BTreeSet::new();
    let (mut current, mut done) = (None::<String>, BTreeSet::new());
    let mut series = BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let parts: Vec<&str> = comment.splitn(3, ' ').collect();
            match parts.as_slice() {
                ["HELP", name, _] if is_name(name, true) => {
                    if !helps.insert(name.to_string()) {
                        return Err(format!("second HELP for {name}"));
                    }
                }
                ["TYPE", name, kind] if is_name(name, true) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(kind) {
                        return Err(format!("unknown type {kind}"));
                    }
                    if types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(format!("second TYPE for {name}"));
                    }
                    if done.contains(*name) || current.as_deref() == Some(name) {
                        return Err(format!("TYPE of {name} after its samples"));
                    }
                }
                _ => return Err(format!("bad comment line {line:?}")),
            }
            continue;
        }
        let split = line.find(['{', ' ']).ok_or_else(|| format!("bad sample {line:?}"))?;
        let name = &line[..split];
        if !is_name(name, true) {
            return Err(format!("bad metric name {name:?}"));
        }
        let (labels, rest) =
            if line[split..].starts_with('{') { parse_labels(&line[split..])? } else { (Vec::new(), &line[split..]) };
        let value_text =
            rest.strip_prefix(' ').ok_or_else(|| format!("no value in {line:?}"))?.split(' ').next().unwrap_or("");
        let value: f64 = value_text.parse().map_err(|_| format!("bad value {value_text:?}"))?;
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(name)
            .to_owned();
        let kind = types.get(&family).ok_or_else(|| format!("{name} has no TYPE before it"))?;
        if kind == "counter" && value < 0.0 {
            return Err(format!("negative counter {line:?}"));
        }
        if current.as_ref() != Some(&family) {
            if done.contains(&family) {
                return Err(format!("samples of {family} are not together"));
            }
            done.extend(current.replace(family.clone()));
        }
        let mut key = labels.clone();
        key.sort();
        if !series.insert((name.to_owned(), key)) {
            return Err(format!("duplicate series {line:?}"));
        }
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    check_histograms(&types, &samples)?;
    Ok(samples)
}

fn check_histograms(types: &BTreeMap<String, String>, samples: &[Sample]) -> Result<(), String> {
    for family in types.iter().filter(|(_, t)| *t == "histogram").map(|(f, _)| f) {
        let mut buckets: BTreeMap<LabelSet, Vec<(f64, f64)>> = BTreeMap::new();
        let mut sums = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for s in samples {
            let without_le: LabelSet = s.labels.iter().filter(|(k, _)| k != "le").cloned().collect();
            if s.name == format!("{family}_bucket") {
                let le = s.labels.iter().find(|(k, _)| k == "le").ok_or("bucket without le")?;
                let bound = if le.1 == "+Inf" {
                    f64::INFINITY
                } else {
                    le.1.parse().map_err(|_| format!("bad le {}", le.1))?
                };
                buckets.entry(without_le).or_default().push((bound, s.value));
            } else if s.name == format!("{family}_sum") {
                sums.insert(without_le, s.value);
            } else if s.name == format!("{family}_count") {
                counts.insert(without_le, s.value);
            }
        }
        for (labels, series) in &buckets {
            if !series.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
                return Err(format!("buckets not increasing and cumulative: {series:?}"));
            }
            let last = series.last().ok_or("no buckets")?;
            if last.0 != f64::INFINITY || Some(&last.1) != counts.get(labels) || !sums.contains_key(labels) {
                return Err(format!("+Inf bucket, _count and _sum disagree for {labels:?}"));
            }
        }
        if buckets.len() != counts.len() || buckets.len() != sums.len() {
            return Err(format!("{family}: series without buckets, _sum or _count"));
        }
    }
    Ok(())
}

#[test]
fn rendered_metrics_are_valid_prometheus_text() {
    let mut snapshot = podinfo_with(json!([
        {"match": [{"headers": {"x-canary": {"exact": "insider"}}}], "route": [{"destination": {"host": "podinfo-canary"}}]},
        {"match": [{"uri": {"prefix": "/"}}], "route": [{"destination": {"host": "podinfo-primary"}, "weight": 80}, {"destination": {"host": "podinfo-canary"}, "weight": 20}]}
    ]));
    snapshot.pods = snapshot
        .pods
        .into_iter()
        .map(|p| {
            let p = fixtures::annotated(p, ERROR_RATE, "0.1");
            fixtures::annotated(p, RESPONSE_FLAGS, "UF=0.01,UC=0.01")
        })
        .collect();
    snapshot
        .pods
        .push(fixtures::loadtester(Some("http://podinfo.test:9898/ rps=20 header=x-canary:insider share=0.2")));
    let (mut mesh, mut rng) = (Mesh::new(), rng(30));
    let mut now = t0();
    for _ in 0..30 {
        mesh.tick(&snapshot, now, now + Duration::from_secs(1), &mut rng);
        now += Duration::from_secs(1);
    }
    // A request no route matches, for an `NR` series.
    let mut odd = get(&snapshot, "podinfo:9898", &[]);
    odd.path = "nothing".into();
    send(&mut mesh, &snapshot, &odd, &mut rng);

    let text = mesh.metrics().render();
    let samples = validate(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let count = |name: &str| samples.iter().filter(|s| s.name == name).count();
    assert!(count("istio_requests_total") >= 8, "{text}");
    assert_eq!(count("istio_request_duration_milliseconds_bucket"), 20 * count("istio_requests_total"));
    assert!(
        text.contains("response_flags=\"NR\"")
            && text.contains("response_flags=\"UF\"")
            && text.contains("response_code=\"500\"")
    );
    assert_eq!(text, mesh.metrics().render(), "rendering is stable");
    assert_eq!(text.matches("# TYPE ").count(), 2);
}

#[test]
fn odd_label_values_are_escaped_and_order_does_not_matter() {
    let odd = Workload { pod: "p".into(), namespace: "we\"ird\\ns\nx".into(), name: "w".into(), ..Default::default() };
    let plain = Workload { pod: "q".into(), namespace: "test".into(), name: "v".into(), ..Default::default() };
    let service = ServiceLabels::unknown();
    let report = |w| Report {
        reporter: Reporter::Source,
        source: Some(w),
        destination: None,
        service: &service,
        status: 200,
        flag: None,
        mtls: false,
        duration_ms: 12,
    };
    let (mut a, mut b) = (Metrics::new(), Metrics::new());
    a.record(&report(&odd));
    a.record(&report(&plain));
    b.record(&report(&plain));
    b.record(&report(&odd));
    assert_eq!(a.render(), b.render(), "sorted, whatever the order of recording");
    let samples = validate(&a.render()).unwrap_or_else(|e| panic!("{e}\n{}", a.render()));
    assert!(
        samples.iter().any(|s| s.labels.iter().any(|(k, v)| k == "source_workload_namespace" && v == "we\"ird\\ns\nx"))
    );
    assert!(validate(&Metrics::new().render()).is_ok(), "an empty registry is valid too");
}

#[test]
fn the_validator_catches_broken_text() {
    let cases = [
        "x_total 1\n",
        "# TYPE x counter\nx{a=\"1} 1\n",
        "# TYPE x counter\n# TYPE x counter\nx 1\n",
        "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# TYPE x counter\nx{a=\"\\q\"} 1\n",
        "# TYPE x counter\nx 1",
    ];
    for text in cases {
        assert!(validate(text).is_err(), "{text:?}");
    }
}
