//! Where access-log lines come from: the Kubernetes pod log API (read by `pod_logs` through
//! kube, against the sandbox API server) and Loki (read by `analysis::loki`, against the
//! sandbox's Loki stand-in over the same logs). Both must hand over exactly the lines a
//! workload's pods wrote in the window: none of another workload, none before `since`, none
//! twice, however the pages are cut.

mod common;

use common::{client, kubectl_ok, sandbox};
use fledge_analysis::loki::{self, Auth, Loki, Settings};
use fledge_apiserver::store::Store;
use fledge_controller::checks::pod_logs::{self, Source};
use fledge_sandbox_cluster::loki::{Loki as LokiStandIn, Options as LokiOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.1}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo, namespace: test}
spec:
  selector: {app: podinfo}
  ports: [{name: http, port: 9898, targetPort: 9898}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo-primary, namespace: test}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo-primary}}
  template:
    metadata: {labels: {app: podinfo-primary}}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-primary, namespace: test}
spec:
  selector: {app: podinfo-primary}
  ports: [{name: http, port: 9898, targetPort: 9898}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: loadtester, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: loadtester}}
  template:
    metadata:
      labels: {app: loadtester}
      annotations:
        sandbox.fledge.dev/load: "http://podinfo.test:9898/api/info rps=150\nhttp://podinfo-primary.test:9898/api/info rps=150"
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
"#;

/// The store's `istio-proxy` lines of the pods of `workload`, by line, with their times.
fn stored_lines(store: &Store, workload: &str) -> BTreeMap<String, SystemTime> {
    let mut lines = BTreeMap::new();
    for (namespace, pod, container) in store.log_keys() {
        if namespace == "test" && container == "istio-proxy" && pod_of(&pod) == workload {
            for (time, line) in store.logs(&namespace, &pod, &container, None, None) {
                assert!(lines.insert(line, time).is_none(), "every access log line is unique (request_id)");
            }
        }
    }
    lines
}

/// `podinfo-primary` of `podinfo-primary-<hash>-<suffix>`.
fn pod_of(pod: &str) -> &str {
    pod.rsplitn(3, '-').nth(2).unwrap_or_default()
}

/// An instant on a whole microsecond (the pod log API's resolution) that no line of `lines`
/// shares, so the Kubernetes and the Loki source agree on which side of it each line is.
fn clear_instant(lines: &BTreeMap<String, SystemTime>, near: SystemTime) -> SystemTime {
    let whole_micros = |t: SystemTime| {
        let micros = t.duration_since(UNIX_EPOCH).unwrap().as_micros();
        UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap())
    };
    let mut candidate = whole_micros(near);
    while lines.values().any(|t| whole_micros(*t) == candidate) {
        candidate += Duration::from_micros(1);
    }
    candidate
}

fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::try_from(time).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_log_api_and_loki_give_exactly_the_lines_of_one_workload_in_the_window() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(MANIFEST)).await;
    for d in ["podinfo", "podinfo-primary", "loadtester"] {
        kubectl_ok(&sb, &["rollout", "status", &format!("deployment/{d}"), "-n", "test", "--timeout=30s"], None).await;
    }
    // A few seconds of traffic; the window ends well before now, so no late line can fall in.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let now = SystemTime::now();
    let canary_lines = stored_lines(&sb.cluster.store, "podinfo");
    // A fraction past the half second: kube would round a sinceTime of .7 up to the next
    // second and lose the lines in between, unless the reader asks from the second before.
    let since_near = UNIX_EPOCH
        + Duration::from_secs((now - Duration::from_secs(4)).duration_since(UNIX_EPOCH).unwrap().as_secs())
        + Duration::from_millis(700);
    let since = clear_instant(&canary_lines, since_near);
    let until = clear_instant(&canary_lines, since + Duration::from_millis(2_500));
    let mut expected: Vec<String> =
        canary_lines.iter().filter(|(_, t)| **t > since && **t <= until).map(|(l, _)| l.clone()).collect();
    expected.sort();
    assert!(expected.len() >= 200, "2.5 s at 150 requests a second, got {}", expected.len());

    // The pod log API, through the canary Deployment's selector.
    let kube = client(&sb).await;
    let deployment = Api::<Deployment>::namespaced(kube.clone(), "test").get("podinfo").await.unwrap();
    let source = Source::of_deployment(&deployment, "istio-proxy").unwrap();
    assert_eq!(source.selector, "app=podinfo");
    let mut from_pods = Vec::new();
    let report = pod_logs::read(&kube, &source, timestamp(since), timestamp(until), &mut |line: &[u8]| {
        from_pods.push(String::from_utf8(line.to_vec()).unwrap())
    })
    .await
    .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.pods.len(), 2, "both canary pods and no primary pod are read: {:?}", report.pods);
    assert!(report.pods.iter().all(|p| pod_of(p) == "podinfo"), "{:?}", report.pods);
    assert_eq!(report.lines, from_pods.len() as u64);
    for line in &from_pods {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["start_time", "method", "path", "response_code", "response_flags", "duration", "upstream_host"] {
            assert!(entry.get(key).is_some(), "no {key} in {line}");
        }
        assert_eq!(entry["path"], "/api/info");
        let written = canary_lines.get(line).unwrap_or_else(|| panic!("not a line of a canary pod: {line}"));
        assert!(*written > since && *written <= until, "a line from outside the window: {line}");
    }
    from_pods.sort();
    assert_eq!(from_pods, expected, "the pod log API gives every line of the window once");

    // A pod that went away, or a container that is not there, is a sentence, not a failure.
    let gone = "podinfo-5d8f7c9b4x-zzzzz".to_owned();
    let mut count = 0u64;
    let pods = [report.pods[0].clone(), gone.clone()];
    let partial =
        pod_logs::read_pods(&kube, &source, &pods, timestamp(since), timestamp(until), &mut |_: &[u8]| count += 1)
            .await;
    assert_eq!(partial.pods, [report.pods[0].clone()]);
    assert!(count > 0 && count == partial.lines);
    assert_eq!(partial.problems, [format!("pod {gone} is gone; its istio-proxy log could not be read")]);
    let no_sidecar = Source { container: "envoy".to_owned(), ..source.clone() };
    let missing =
        pod_logs::read_pods(&kube, &no_sidecar, &pods[..1], timestamp(since), timestamp(until), &mut |_: &[u8]| {})
            .await;
    assert!(missing.pods.is_empty());
    assert_eq!(missing.problems.len(), 1);
    assert!(missing.problems[0].contains("envoy"), "{:?}", missing.problems);

    // Loki: the same lines through the default selector, with a tenant and a token.
    let stand_in = LokiStandIn::start(
        sb.cluster.store.clone(),
        LokiOptions { bearer_token: Some("t0ken".to_owned()), ..LokiOptions::default() },
    )
    .await
    .unwrap();
    let query = loki::render_selector(loki::DEFAULT_QUERY, "test", "podinfo").unwrap();
    let mut settings = Settings::new(stand_in.url.clone());
    settings.auth = Some(Auth::Bearer("t0ken".to_owned()));
    settings.headers = vec![("X-Scope-OrgID".to_owned(), "team-a".to_owned())];
    let mut from_loki = Vec::new();
    let report = Loki::new(settings.clone())
        .unwrap()
        .read(&query, since, until, &mut |line: &[u8]| from_loki.push(String::from_utf8(line.to_vec()).unwrap()))
        .await
        .unwrap();
    assert_eq!(report.pages, 1);
    from_loki.sort();
    assert_eq!(from_loki.len(), expected.len(), "Loki and the pod log API count the same lines");
    assert_eq!(from_loki, expected);
    let served = stand_in.served();
    assert!(!served.is_empty());
    for request in &served {
        assert_eq!(request.header("x-scope-orgid"), Some("team-a"));
        assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(request.params.get("direction").map(String::as_str), Some("forward"));
    }

    // Small pages: every line still arrives exactly once.
    settings.page_limit = 17;
    let mut paged = Vec::new();
    let report = Loki::new(settings.clone())
        .unwrap()
        .read(&query, since, until, &mut |line: &[u8]| paged.push(String::from_utf8(line.to_vec()).unwrap()))
        .await
        .unwrap();
    assert!(report.pages as usize >= expected.len() / 17, "{report:?}");
    assert_eq!(report.lines, expected.len() as u64);
    paged.sort();
    assert_eq!(paged, expected);

    // The primary's lines are the primary's: the default selector tells the two apart.
    let primary = loki::render_selector(loki::DEFAULT_QUERY, "test", "podinfo-primary").unwrap();
    let primary_lines = stored_lines(&sb.cluster.store, "podinfo-primary");
    let mut from_primary = 0u64;
    Loki::new(settings).unwrap().read(&primary, since, until, &mut |_: &[u8]| from_primary += 1).await.unwrap();
    let expected_primary = primary_lines.values().filter(|t| **t > since && **t <= until).count() as u64;
    assert!(expected_primary > 0);
    assert_eq!(from_primary, expected_primary);
}

#[tokio::test]
async fn loki_pages_through_many_lines_of_one_nanosecond_exactly_once() {
    let store = Store::new();
    let at = |nanos: u64| UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + nanos);
    // 23 requests logged in the same nanosecond by two pods, between earlier and later lines.
    store.append_logs("shop", "web-7d9f8c6b5-bcdfg", "istio-proxy", (0..3).map(|i| (at(i), format!("early {i}"))));
    for pod in ["web-7d9f8c6b5-bcdfg", "web-7d9f8c6b5-hjklm"] {
        let burst = (0..23).map(|i| (at(500), format!("burst {i}")));
        store.append_logs("shop", pod, "istio-proxy", burst);
    }
    store.append_logs("shop", "web-7d9f8c6b5-hjklm", "istio-proxy", (0..4).map(|i| (at(900 + i), format!("late {i}"))));
    // Not selected: another container, another namespace.
    store.append_logs("shop", "web-7d9f8c6b5-bcdfg", "web", [(at(500), "app line".to_owned())]);
    store.append_logs("other", "web-7d9f8c6b5-npqrs", "istio-proxy", [(at(500), "elsewhere".to_owned())]);
    let stand_in = LokiStandIn::start(store, LokiOptions::default()).await.unwrap();
    let query = loki::render_selector(loki::DEFAULT_QUERY, "shop", "web").unwrap();
    for page_limit in [1, 4, 10, 23, 1000] {
        let mut settings = Settings::new(stand_in.url.clone());
        settings.page_limit = page_limit;
        let mut got = Vec::new();
        let report = Loki::new(settings)
            .unwrap()
            .read(&query, at(0), at(903), &mut |line: &[u8]| got.push(String::from_utf8(line.to_vec()).unwrap()))
            .await
            .unwrap();
        got.sort();
        // (since, until]: "early 0" is at `since` itself and stays out; "late 3" is at `until`.
        let mut want: Vec<String> = (1..3).map(|i| format!("early {i}")).collect();
        want.extend((0..23).flat_map(|i| [format!("burst {i}"), format!("burst {i}")]));
        want.extend((0..4).map(|i| format!("late {i}")));
        want.sort();
        assert_eq!(got, want, "page limit {page_limit}");
        assert_eq!(report.lines, want.len() as u64);
    }
}

#[tokio::test]
async fn a_loki_that_is_down_refuses_the_token_or_rejects_the_query_is_an_error_naming_address_and_query() {
    let query = r#"{namespace="shop", container="istio-proxy"}"#;
    let now = SystemTime::now();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("http://127.0.0.1:{port}");
    let mut settings = Settings::new(address.clone());
    settings.timeout = Duration::from_secs(2);
    let err =
        Loki::new(settings).unwrap().read(query, now - Duration::from_secs(60), now, &mut |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&format!("query {query:?} to {address}: ")), "{text}");

    let stand_in =
        LokiStandIn::start(Store::new(), LokiOptions { bearer_token: Some("right".to_owned()), max_limit: 5000 })
            .await
            .unwrap();
    let mut settings = Settings::new(stand_in.url.clone());
    settings.auth = Some(Auth::Bearer("wrong".to_owned()));
    let err = Loki::new(settings.clone())
        .unwrap()
        .read(query, now - Duration::from_secs(60), now, &mut |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the token is never shown: {err}");

    settings.auth = Some(Auth::Bearer("right".to_owned()));
    let err = Loki::new(settings.clone())
        .unwrap()
        .read("{container=~\".*\"}", now - Duration::from_secs(60), now, &mut |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 400 Bad Request: parse error"), "{err}");
    settings.page_limit = 6000;
    let err =
        Loki::new(settings).unwrap().read(query, now - Duration::from_secs(60), now, &mut |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("max entries limit"), "{err}");
}
