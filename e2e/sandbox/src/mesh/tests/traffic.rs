//! Traffic over time: mirroring, behaviour, retries, load generators and what the sidecars report.

use super::super::annotations::{ACCESS_LOG_FORMAT, ERROR_RATE, LATENCY_MS, RESPONSE_FLAGS};
use super::super::flags::Flag;
use super::*;
use serde_json::{Value, json};

/// `snapshot` with every pod whose name starts with `prefix` annotated `key: value`.
fn annotate(mut snapshot: Snapshot, prefix: &str, key: &str, value: &str) -> Snapshot {
    snapshot.pods = snapshot
        .pods
        .into_iter()
        .map(|p| {
            if p.metadata.name.as_deref().is_some_and(|n| n.starts_with(prefix)) {
                fixtures::annotated(p, key, value)
            } else {
                p
            }
        })
        .collect();
    snapshot
}

const CANARY_PODS: &str = "podinfo-7d9f8b6c5";

#[test]
fn mirrored_copies_follow_the_percentage_and_never_reach_the_caller() {
    let snapshot = podinfo_with(json!([{
        "route": [{"destination": {"host": "podinfo-primary"}, "weight": 100}, {"destination": {"host": "podinfo-canary"}, "weight": 0}],
        "mirror": {"host": "podinfo-canary"},
        "mirrorPercentage": {"value": 50.0}
    }]));
    // The canary fails every request it gets; the caller must never see it.
    let snapshot = annotate(snapshot, CANARY_PODS, ERROR_RATE, "1");
    let (mut mesh, mut rng) = (Mesh::new(), rng(20));
    let req = get(&snapshot, "podinfo.test:9898", &[]);
    let mut mirrored = 0u64;
    for _ in 0..10_000 {
        let outcome = send(&mut mesh, &snapshot, &req, &mut rng);
        assert_eq!((version(&outcome), outcome.status), ("primary", 200));
        if let Some(copy) = &outcome.mirror {
            mirrored += 1;
            assert!(copy.pod.name.starts_with(CANARY_PODS) && copy.status >= 500);
        }
    }
    let share = mirrored as f64 / 10_000.0;
    assert!((share - 0.5).abs() <= 0.02, "mirrored share {share}");
    // The canary's sidecar reports the copies, with the shadow authority in its log; the sender reports none.
    let metrics = mesh.metrics();
    let canary = [("reporter", "destination"), ("destination_workload", "podinfo")];
    assert_eq!(metrics.requests_total(&canary), mirrored);
    assert_eq!(metrics.requests_total(&[("reporter", "source"), ("destination_workload", "podinfo")]), 0);
    let outcome =
        (0..20).map(|_| send(&mut mesh, &snapshot, &req, &mut rng)).find(|o| o.mirror.is_some()).expect("a copy");
    let line = outcome.logs.iter().find(|l| l.pod.starts_with(CANARY_PODS)).expect("the canary logged the copy");
    let v: Value = serde_json::from_str(&line.line).unwrap();
    assert_eq!(v["authority"], "podinfo.test-shadow:9898");
}

#[test]
fn a_mirror_without_percentage_copies_everything() {
    let snapshot = podinfo_with(
        json!([{"route": [{"destination": {"host": "podinfo-primary"}}], "mirror": {"host": "podinfo-canary"}}]),
    );
    let (mut mesh, mut rng) = (Mesh::new(), rng(21));
    let req = get(&snapshot, "podinfo:9898", &[]);
    assert!((0..500).all(|_| send(&mut mesh, &snapshot, &req, &mut rng).mirror.is_some()));
}

#[test]
fn the_configured_error_rate_is_what_the_destination_reports() {
    let snapshot = annotate(
        podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-primary"}}]}])),
        "podinfo-primary",
        ERROR_RATE,
        "0.05",
    );
    let (mut mesh, mut rng) = (Mesh::new(), rng(22));
    let req = get(&snapshot, "podinfo:9898", &[]);
    let mut seen_5xx = 0;
    for _ in 0..10_000 {
        if send(&mut mesh, &snapshot, &req, &mut rng).status >= 500 {
            seen_5xx += 1;
        }
    }
    let m = mesh.metrics();
    let dest = [("reporter", "destination"), ("destination_workload", "podinfo-primary")];
    let total = m.requests_total(&dest);
    let errors: u64 = ["500", "503"].iter().map(|c| m.requests_total(&[dest[0], dest[1], ("response_code", c)])).sum();
    let rate = errors as f64 / total as f64;
    assert!((rate - 0.05).abs() <= 0.01, "destination error rate {rate}");
    // Istio retries 503s twice by default, so callers see fewer errors than the pods make: only the 500s and
    // the few 503s that fail three times.
    let caller = f64::from(seen_5xx) / 10_000.0;
    assert!(caller < rate && (caller - 0.025).abs() <= 0.01, "caller error rate {caller}");
    assert!(total > 10_000, "retries reach the destination too");
}

#[test]
fn retries_run_out_with_urx_and_a_route_can_disable_them() {
    let always_503 = |retries: Option<Value>| {
        let mut route = json!({"route": [{"destination": {"host": "podinfo-primary"}}]});
        if let Some(r) = retries {
            route["retries"] = r;
        }
        let snapshot = annotate(podinfo_with(json!([route])), "podinfo-primary", RESPONSE_FLAGS, "UF=1");
        let mut mesh = Mesh::new();
        let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng(23));
        (outcome, mesh)
    };
    let (outcome, mesh) = always_503(None);
    assert_eq!(
        (outcome.status, outcome.attempts, outcome.response_flags),
        (503, 3, Some(Flag::UpstreamRetryLimitExceeded))
    );
    assert_eq!(mesh.metrics().requests_total(&[("reporter", "destination"), ("response_flags", "UF")]), 3);
    assert_eq!(
        mesh.metrics().requests_total(&[("reporter", "source"), ("response_flags", "URX"), ("response_code", "503")]),
        1
    );
    let (outcome, _) = always_503(Some(json!({"attempts": 0})));
    assert_eq!((outcome.status, outcome.attempts, outcome.response_flags), (503, 1, None));
    let (outcome, _) = always_503(Some(json!({"attempts": 5, "retryOn": "5xx"})));
    assert_eq!(outcome.attempts, 6);
}

#[test]
fn load_generators_send_exactly_their_rate_across_uneven_ticks() {
    let mut snapshot = podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-primary"}}]}]));
    snapshot.pods.retain(|p| !p.metadata.name.as_deref().is_some_and(|n| n.starts_with("flagger-loadtester")));
    snapshot.pods.push(fixtures::loadtester(Some("http://podinfo.test:9898/ rps=3.3")));
    let (mut mesh, mut rng) = (Mesh::new(), rng(24));
    let mut now = t0();
    for i in 0..100 {
        let next = now + Duration::from_millis(if i % 2 == 0 { 400 } else { 1000 });
        let logs = mesh.tick(&snapshot, now, next, &mut rng);
        assert!(logs.windows(2).all(|w| w[0].time <= w[1].time), "lines come in time order");
        now = next;
    }
    // 70 seconds at 3.3 requests a second.
    assert_eq!(mesh.metrics().requests_total(&[("reporter", "source")]), 231);
    assert!(mesh.problems().is_empty(), "{:?}", mesh.problems());
}

#[test]
fn a_share_of_the_load_carries_the_header() {
    let snapshot = podinfo_with(json!([
        {"match": [{"headers": {"x-canary": {"exact": "insider"}}}], "route": [{"destination": {"host": "podinfo-canary"}}]},
        {"route": [{"destination": {"host": "podinfo-primary"}}]}
    ]));
    let mut snapshot = snapshot;
    snapshot
        .pods
        .push(fixtures::loadtester(Some("http://podinfo.test:9898/ rps=50 header=x-canary:insider share=0.1")));
    snapshot.pods.remove(3); // the load tester without load
    let (mut mesh, mut rng) = (Mesh::new(), rng(25));
    mesh.tick(&snapshot, t0(), t0() + Duration::from_secs(200), &mut rng);
    let m = mesh.metrics();
    let total = m.requests_total(&[("reporter", "source")]);
    let canary = m.requests_total(&[("reporter", "source"), ("destination_workload", "podinfo")]);
    assert_eq!(total, 10_000);
    assert!((canary as f64 / total as f64 - 0.1).abs() <= 0.02, "canary {canary} of {total}");
}

#[test]
fn only_running_and_ready_pods_generate_load_and_bad_annotations_are_reported() {
    let mut snapshot = fixtures::podinfo();
    let mut idle = fixtures::annotated(
        fixtures::pod("test", "idle", "idle", false),
        super::super::annotations::LOAD,
        "http://podinfo rps=10",
    );
    idle.metadata.name = Some("idle".into());
    let broken = fixtures::annotated(
        fixtures::pod("test", "broken", "broken", true),
        super::super::annotations::LOAD,
        "http://podinfo rps=lots",
    );
    let lost = fixtures::annotated(
        fixtures::pod("test", "lost", "lost", true),
        super::super::annotations::LOAD,
        "http://nowhere rps=1",
    );
    snapshot.pods.extend([idle, broken, lost]);
    let (mut mesh, mut rng) = (Mesh::new(), rng(26));
    let logs = mesh.tick(&snapshot, t0(), t0() + Duration::from_secs(10), &mut rng);
    assert!(logs.is_empty());
    assert_eq!(mesh.metrics().requests_total(&[]), 0);
    let problems = mesh.problems();
    assert!(
        problems["Pod test/broken"].contains("sandbox.fledge.dev/load") && problems["Pod test/broken"].contains("rps")
    );
    assert!(problems["Pod test/lost"].contains("\"nowhere\" does not resolve"));
}

#[test]
fn access_logs_go_to_the_serving_pods_proxy_in_its_format() {
    let snapshot = podinfo_with(
        json!([{"route": [{"destination": {"host": "podinfo-primary"}, "weight": 50}, {"destination": {"host": "podinfo-canary"}, "weight": 50}]}]),
    );
    let snapshot = annotate(snapshot, CANARY_PODS, ACCESS_LOG_FORMAT, "text");
    let snapshot = annotate(snapshot, CANARY_PODS, LATENCY_MS, "p50=200,p99=201");
    let (mut mesh, mut rng) = (Mesh::new(), rng(27));
    let req = get(&snapshot, "podinfo.test:9898", &[("user-agent", "curl/8.0")]);
    let outcomes: Vec<Outcome> = (0..50).map(|_| send(&mut mesh, &snapshot, &req, &mut rng)).collect();
    for outcome in &outcomes {
        let served = outcome.served_by.as_ref().expect("served");
        let line = outcome.logs.iter().find(|l| l.pod == served.name).expect("the serving pod logs");
        assert_eq!((line.container.as_str(), line.namespace.as_str()), ("istio-proxy", "test"));
        if version(outcome) == "canary" {
            assert!(
                line.line.starts_with("[2023-11-14T22:13:20.")
                    && line.line.contains("\"GET / HTTP/1.1\" 200 - via_upstream - \"-\" 0 "),
                "{}",
                line.line
            );
            assert!(
                line.line.contains("\"curl/8.0\"") && line.line.contains(" inbound|9898|| 127.0.0.6:"),
                "{}",
                line.line
            );
            assert!(
                line.line.ends_with(" outbound_.9898_._.podinfo-canary.test.svc.cluster.local default"),
                "{}",
                line.line
            );
            assert!(outcome.duration_ms >= 199, "the canary's latency");
        } else {
            let v: Value = serde_json::from_str(&line.line).expect("JSON by default");
            assert_eq!(
                (v["response_code"].as_u64(), v["upstream_cluster"].as_str()),
                (Some(200), Some("inbound|9898||"))
            );
            assert_eq!(v["requested_server_name"], "outbound_.9898_._.podinfo-primary.test.svc.cluster.local");
        }
        // The sender's sidecar logs the request too, with the same request id.
        let ids: std::collections::BTreeSet<String> = outcome
            .logs
            .iter()
            .map(|l| match serde_json::from_str::<Value>(&l.line) {
                Ok(v) => v["request_id"].as_str().unwrap_or_default().to_owned(),
                // In text, the request id is the fifth quoted field.
                Err(_) => l.line.split('"').nth(9).unwrap_or_default().to_owned(),
            })
            .collect();
        assert_eq!((outcome.logs.len(), ids.len()), (2, 1), "{:?}", outcome.logs);
    }
    assert!(outcomes.iter().any(|o| version(o) == "canary") && outcomes.iter().any(|o| version(o) == "primary"));
}

#[test]
fn metrics_name_the_deployments_and_services() {
    let snapshot = podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-canary"}}]}]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(28));
    send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    let labels: Vec<_> = mesh.metrics().requests().map(|(l, _)| l.clone()).collect();
    let dest = labels.iter().find(|l| l.get("reporter") == Some("destination")).expect("destination series");
    let expect = [
        ("source_workload", "flagger-loadtester"),
        ("source_workload_namespace", "test"),
        ("source_app", "flagger-loadtester"),
        ("destination_workload", "podinfo"),
        ("destination_workload_namespace", "test"),
        ("destination_app", "podinfo"),
        ("destination_service", "podinfo-canary.test.svc.cluster.local"),
        ("destination_service_name", "podinfo-canary"),
        ("destination_service_namespace", "test"),
        ("destination_principal", "spiffe://cluster.local/ns/test/sa/default"),
        ("connection_security_policy", "mutual_tls"),
        ("response_code", "200"),
        ("response_flags", "-"),
    ];
    assert!(dest.matches(&expect), "{dest:?}");
}
