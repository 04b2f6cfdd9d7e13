//! Routing as a user sees it: weights, matches, hosts, bindings and the failures Istio gives.

use super::super::flags::Flag;
use super::super::router::SendError;
use super::*;
use serde_json::json;

fn weighted(primary: i32, canary: i32) -> serde_json::Value {
    json!([{"route": [
        {"destination": {"host": "podinfo-primary"}, "weight": primary},
        {"destination": {"host": "podinfo-canary"}, "weight": canary}
    ]}])
}

#[test]
fn a_90_10_split_holds_within_2_points() {
    let snapshot = podinfo_with(weighted(90, 10));
    let (mut mesh, mut rng) = (Mesh::new(), rng(1));
    let req = get(&snapshot, "podinfo.test:9898", &[]);
    let canary = (0..10_000).filter(|_| version(&send(&mut mesh, &snapshot, &req, &mut rng)) == "canary").count();
    let share = canary as f64 / 10_000.0;
    assert!((share - 0.10).abs() <= 0.02, "canary share {share}");
}

#[test]
fn weight_zero_is_never_picked_and_a_lone_destination_takes_all() {
    let (mut mesh, mut rng) = (Mesh::new(), rng(2));
    let snapshot = podinfo_with(weighted(100, 0));
    let req = get(&snapshot, "podinfo:9898", &[]);
    assert!((0..2000).all(|_| version(&send(&mut mesh, &snapshot, &req, &mut rng)) == "primary"));
    let snapshot = podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-canary"}}]}]));
    assert!((0..200).all(|_| version(&send(&mut mesh, &snapshot, &req, &mut rng)) == "canary"));
}

/// Flagger's A/B routes: header or cookie to the canary, everything else to the primary.
fn ab_testing() -> Snapshot {
    podinfo_with(json!([
        {"match": [
            {"headers": {"x-canary": {"regex": ".*insider.*"}}},
            {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}
         ],
         "route": [{"destination": {"host": "podinfo-canary"}}]},
        {"route": [{"destination": {"host": "podinfo-primary"}}]}
    ]))
}

#[test]
fn header_matched_requests_all_reach_the_canary_and_others_never() {
    let snapshot = ab_testing();
    let (mut mesh, mut rng) = (Mesh::new(), rng(3));
    let insider = get(&snapshot, "podinfo.test:9898", &[("X-Canary", "yes-insider-1")]);
    let outsider = get(&snapshot, "podinfo.test:9898", &[("x-canary", "outsider")]);
    let plain = get(&snapshot, "podinfo.test:9898", &[]);
    for _ in 0..1000 {
        assert_eq!(version(&send(&mut mesh, &snapshot, &insider, &mut rng)), "canary");
        assert_eq!(version(&send(&mut mesh, &snapshot, &outsider, &mut rng)), "primary");
        assert_eq!(version(&send(&mut mesh, &snapshot, &plain, &mut rng)), "primary");
    }
}

#[test]
fn cookie_regex_routes_only_the_cookie_holders() {
    let snapshot = ab_testing();
    let (mut mesh, mut rng) = (Mesh::new(), rng(4));
    let cases = [
        ("canary=always", "canary"),
        ("session=abc;canary=always", "canary"),
        // Flagger's regex wants the cookie right after `;`, so the space browsers put there misses it, in
        // Istio as here.
        ("session=abc; canary=always", "primary"),
        ("canary=always; theme=dark", "canary"),
        ("canary=never", "primary"),
        ("mycanary=always", "primary"),
        ("canary=alwaysx", "primary"),
    ];
    for (cookie, expected) in cases {
        let req = get(&snapshot, "podinfo:9898", &[("cookie", cookie)]);
        for _ in 0..50 {
            assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), expected, "cookie {cookie:?}");
        }
    }
}

#[test]
fn without_a_virtual_service_the_service_itself_answers() {
    let snapshot = fixtures::podinfo();
    let (mut mesh, mut rng) = (Mesh::new(), rng(5));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo-canary:9898", &[]), &mut rng);
    assert_eq!((version(&outcome), outcome.status, outcome.virtual_service.as_deref()), ("canary", 200, None));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    assert_eq!(version(&outcome), "primary", "the apex Service selects the primary pods");
    // Both primary pods take turns.
    let req = get(&snapshot, "podinfo-primary:9898", &[]);
    let pods: std::collections::BTreeSet<_> =
        (0..100).filter_map(|_| send(&mut mesh, &snapshot, &req, &mut rng).served_by).collect();
    assert_eq!(pods.len(), 2);
}

#[test]
fn every_host_form_reaches_the_service() {
    let snapshot = podinfo_with(weighted(0, 100));
    let (mut mesh, mut rng) = (Mesh::new(), rng(6));
    for host in ["podinfo", "podinfo.test", "podinfo.test.svc", "podinfo.test.svc.cluster.local"] {
        let outcome = send(&mut mesh, &snapshot, &get(&snapshot, &format!("{host}:9898"), &[]), &mut rng);
        assert_eq!((version(&outcome), outcome.virtual_service.as_deref()), ("canary", Some("test/podinfo")), "{host}");
    }
    let mut elsewhere = get(&snapshot, "podinfo:9898", &[]);
    elsewhere.source.namespace = "other".into();
    assert_eq!(
        mesh.send(&snapshot, &elsewhere, t0(), &mut rng),
        Err(SendError::UnknownHost { host: "podinfo".into(), namespace: "other".into() })
    );
    elsewhere.authority = "podinfo.test:9898".into();
    assert_eq!(version(&send(&mut mesh, &snapshot, &elsewhere, &mut rng)), "canary");
    let wrong_port = get(&snapshot, "podinfo:80", &[]);
    assert!(matches!(mesh.send(&snapshot, &wrong_port, t0(), &mut rng), Err(SendError::NoSuchPort { port: 80, .. })));
}

#[test]
fn no_matching_route_is_a_404_with_nr() {
    let snapshot = podinfo_with(json!([{
        "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        "route": [{"destination": {"host": "podinfo-canary"}}]
    }]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(7));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    assert_eq!((outcome.status, outcome.response_flags, outcome.served_by), (404, Some(Flag::NoRoute), None));
    let metrics = mesh.metrics();
    assert_eq!(
        metrics.requests_total(&[("reporter", "source"), ("response_flags", "NR"), ("destination_service", "unknown")]),
        1
    );
    assert_eq!(metrics.requests_total(&[("reporter", "destination")]), 0);
    // Logged by the sender's sidecar, since no pod served it.
    let [line] = outcome.logs.as_slice() else { panic!("one line: {:?}", outcome.logs) };
    assert!(line.pod.starts_with("flagger-loadtester") && line.line.contains("\"response_flags\":\"NR\""), "{line:?}");
}

#[test]
fn a_destination_without_ready_pods_is_a_503_with_uh() {
    let mut snapshot = podinfo_with(weighted(0, 100));
    snapshot.pods.retain(|p| !p.metadata.name.as_deref().is_some_and(|n| n.starts_with("podinfo-7d9f8b6c5")));
    let (mut mesh, mut rng) = (Mesh::new(), rng(8));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    assert_eq!((outcome.status, outcome.response_flags, outcome.attempts), (503, Some(Flag::NoHealthyUpstream), 0));
    assert_eq!(
        mesh.metrics().requests_total(&[
            ("response_flags", "UH"),
            ("destination_service", "podinfo-canary.test.svc.cluster.local"),
            ("destination_workload", "unknown"),
        ]),
        1
    );
}

#[test]
fn a_destination_host_istio_cannot_find_is_a_503_with_nc() {
    // Istio takes a host with a dot as fully qualified, so `podinfo-canary.test` names no Service.
    let snapshot = podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-canary.test"}}]}]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(9));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    assert_eq!((outcome.status, outcome.response_flags), (503, Some(Flag::NoClusterFound)));
    let problem = &mesh.problems()["VirtualService test/podinfo"];
    assert!(
        problem.contains("spec.http[0].route[0].destination.host \"podinfo-canary.test\" names no Service"),
        "{problem}"
    );
    let fqdn = podinfo_with(json!([{"route": [{"destination": {"host": "podinfo-canary.test.svc.cluster.local"}}]}]));
    assert_eq!(version(&send(&mut mesh, &fqdn, &get(&fqdn, "podinfo:9898", &[]), &mut rng)), "canary");
}

#[test]
fn bindings_follow_hosts_gateways_and_export() {
    let (mut mesh, mut rng) = (Mesh::new(), rng(10));
    let vs = |name: &str, ns: &str, spec: serde_json::Value| {
        fixtures::virtual_service(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec}))
    };
    let to = |host: &str| json!([{"route": [{"destination": {"host": format!("{host}.test.svc.cluster.local")}}]}]);
    let mut snapshot = fixtures::podinfo();
    let req = get(&snapshot, "podinfo:9898", &[]);

    snapshot.virtual_services =
        vec![vs("gw", "test", json!({"hosts": ["podinfo"], "gateways": ["public"], "http": to("podinfo-canary")}))];
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "primary", "a gateway-only VirtualService");

    snapshot.virtual_services =
        vec![vs("wild", "istio-system", json!({"hosts": ["*.test.svc.cluster.local"], "http": to("podinfo-canary")}))];
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "canary", "a wildcard host");

    snapshot.virtual_services.push(vs(
        "exact",
        "other",
        json!({"hosts": ["podinfo.test.svc.cluster.local"], "http": to("podinfo-primary")}),
    ));
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "primary", "an exact host beats a wildcard");

    snapshot.virtual_services = vec![vs(
        "private",
        "other",
        json!({"hosts": ["podinfo.test.svc.cluster.local"], "exportTo": ["."], "http": to("podinfo-canary")}),
    )];
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "primary", "exported to its own namespace only");

    snapshot.virtual_services = vec![vs("short", "other", json!({"hosts": ["podinfo"], "http": to("podinfo-canary")}))];
    assert_eq!(
        version(&send(&mut mesh, &snapshot, &req, &mut rng)),
        "primary",
        "a short host names a Service of the VirtualService's namespace"
    );
}

#[test]
fn source_conditions_and_uris_select_routes() {
    let snapshot = podinfo_with(json!([
        {"match": [{"sourceLabels": {"app": "flagger-loadtester"}, "uri": {"prefix": "/api"}, "method": {"exact": "GET"}}],
         "route": [{"destination": {"host": "podinfo-canary"}}]},
        {"route": [{"destination": {"host": "podinfo-primary"}}]}
    ]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(11));
    let mut req = get(&snapshot, "podinfo:9898", &[]);
    req.path = "/api/info?x=1".into();
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "canary");
    req.method = "POST".into();
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "primary");
    req.method = "GET".into();
    req.source.labels.insert("app".into(), "curl".into());
    assert_eq!(version(&send(&mut mesh, &snapshot, &req, &mut rng)), "primary");
}

#[test]
fn a_virtual_service_istio_would_reject_is_ignored_and_reported() {
    let snapshot = podinfo_with(json!([{
        "match": [{"headers": {"x-canary": {"suffix": "insider"}}}],
        "route": [{"destination": {"host": "podinfo-canary"}}]
    }]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(12));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[("x-canary", "insider")]), &mut rng);
    assert_eq!((version(&outcome), outcome.virtual_service), ("primary", None));
    let problem = mesh.problems().get("VirtualService test/podinfo").expect("reported");
    assert!(problem.contains("spec.http[0].match[0].headers.x-canary: suffix is not an Istio field"), "{problem}");
}

#[test]
fn a_pod_without_sidecar_ignores_virtual_services() {
    let mut snapshot = podinfo_with(weighted(0, 100));
    let mut req = get(&snapshot, "podinfo:9898", &[]);
    req.source.sidecar = false;
    snapshot.pods.push(fixtures::pod("test", "curl", "curl", true));
    req.source.pod = "curl".into();
    let (mut mesh, mut rng) = (Mesh::new(), rng(13));
    let outcome = send(&mut mesh, &snapshot, &req, &mut rng);
    assert_eq!(version(&outcome), "primary", "kube-proxy balances over the apex Service's own pods");
    let metrics = mesh.metrics();
    assert_eq!(metrics.requests_total(&[("reporter", "source")]), 0);
    assert_eq!(
        metrics.requests_total(&[
            ("reporter", "destination"),
            ("source_workload", "unknown"),
            ("connection_security_policy", "none")
        ]),
        1
    );
}
