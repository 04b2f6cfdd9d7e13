//! The simulated mesh seen from outside, as Fledge will see it: a real Prometheus scraping the
//! sandbox's Istio metrics, and Envoy access logs through the pod log API.

mod common;

use common::{eventually, kubectl_ok, sandbox};
use fledge_sandbox_cluster::prometheus::Prometheus;
use serde_json::Value;
use std::time::Duration;

const NAMESPACE: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n  labels:\n    istio-injection: enabled\n";

/// A Deployment of `name` behaving as `annotations` say, and its Service on port 9898.
fn app(name: &str, app_label: &str, replicas: u32, annotations: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: test}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}, service: {app_label}}}
      annotations: {{{annotations}}}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports: [{{name: http, containerPort: 9898}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: test}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 9898, targetPort: 9898}}]
"#
    )
}

fn load(url: &str, rps: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: loadtester, namespace: test}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: loadtester}}}}
  template:
    metadata:
      labels: {{app: loadtester}}
      annotations: {{sandbox.fledge.dev/load: "{url} rps={rps}"}}
    spec:
      containers: [{{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}}]
"#
    )
}

async fn value(prometheus: &Prometheus, query: &str) -> Option<f64> {
    prometheus.query(query).await.unwrap().filter(|v| v.is_finite())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_measures_the_configured_error_rate_and_the_weighted_split() {
    let sb = sandbox().await;
    let prometheus = Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    // Two versions behind one host, split 90/10 by a VirtualService; the canary fails 8%.
    let manifests = [
        app("podinfo-primary", "podinfo", 2, ""),
        app("podinfo-canary", "podinfo", 1, r#"sandbox.fledge.dev/error-rate: "0.08""#),
        app("podinfo", "podinfo", 0, ""),
        r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: test}
spec:
  hosts: [podinfo]
  http:
  - route:
    - {destination: {host: podinfo-primary}, weight: 90}
    - {destination: {host: podinfo-canary}, weight: 10}
"#
        .to_owned(),
        load("http://podinfo.test:9898/", 1000),
    ];
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifests.join("\n---\n"))).await;
    kubectl_ok(&sb, &["rollout", "status", "deployment/loadtester", "-n", "test", "--timeout=30s"], None).await;

    // The window starts after every series exists: rate() cannot count what a counter held
    // at its first scrape, so a window reaching back to when the 5xx series appeared would
    // undercount errors (as it would against real Istio).
    let errors = r#"sum(rate(istio_requests_total{reporter="destination",destination_workload="podinfo-canary",response_code=~"5.."}[10s]))"#;
    let all_canary =
        r#"sum(rate(istio_requests_total{reporter="destination",destination_workload="podinfo-canary"}[10s]))"#;
    let all = r#"sum(rate(istio_requests_total{reporter="destination",destination_service_name=~"podinfo-(primary|canary)"}[10s]))"#;
    tokio::time::sleep(Duration::from_secs(14)).await;
    let error_rate = eventually(Duration::from_secs(20), "an error rate from Prometheus", || async {
        let e = value(&prometheus, &format!("{errors} / {all_canary}")).await?;
        Some(e)
    })
    .await;
    let share = value(&prometheus, &format!("{all_canary} / {all}")).await.expect("a canary share");
    eprintln!("measured canary error rate {error_rate:.4}, canary share {share:.4}");
    assert!((error_rate - 0.08).abs() < 0.035, "measured canary error rate {error_rate}, configured 0.08");
    assert!((share - 0.10).abs() < 0.02, "measured canary share {share}, VirtualService weight 10");
    let primary_errors = value(
        &prometheus,
        r#"sum(rate(istio_requests_total{reporter="destination",destination_workload="podinfo-primary",response_code=~"5.."}[30s])) or vector(0)"#,
    )
    .await
    .unwrap_or(0.0);
    assert_eq!(primary_errors, 0.0, "the primary is configured without errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_logs_are_envoy_json_lines_of_the_serving_pods() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let manifests =
        [app("podinfo", "podinfo", 2, ""), app("idle", "idle", 1, ""), load("http://podinfo.test:9898/api/info", 50)];
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifests.join("\n---\n"))).await;
    for d in ["podinfo", "idle", "loadtester"] {
        kubectl_ok(&sb, &["rollout", "status", &format!("deployment/{d}"), "-n", "test", "--timeout=30s"], None).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pods = kubectl_ok(
        &sb,
        &["get", "pods", "-n", "test", "-l", "app=podinfo", "-o", "jsonpath={.items[*].metadata.name}"],
        None,
    )
    .await;
    let mut served = 0;
    for pod in pods.split_whitespace() {
        let log = kubectl_ok(&sb, &["logs", pod, "-n", "test", "-c", "istio-proxy", "--since=10s"], None).await;
        for line in log.lines() {
            let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{pod}: not JSON ({e}): {line}"));
            for key in [
                "start_time",
                "method",
                "path",
                "protocol",
                "response_code",
                "response_flags",
                "duration",
                "upstream_host",
                "authority",
                "request_id",
            ] {
                assert!(entry.get(key).is_some(), "{pod}: no {key} in {line}");
            }
            assert_eq!(entry["path"], "/api/info");
            assert!(entry["response_code"].is_number(), "{line}");
            served += 1;
        }
    }
    assert!(served >= 50, "two seconds at 50 requests a second should be logged by the serving pods, got {served}");
    let idle = kubectl_ok(
        &sb,
        &["get", "pods", "-n", "test", "-l", "app=idle", "-o", "jsonpath={.items[0].metadata.name}"],
        None,
    )
    .await;
    let idle_log = kubectl_ok(&sb, &["logs", &idle, "-n", "test", "-c", "istio-proxy"], None).await;
    assert_eq!(idle_log, "", "a pod that served nothing logs nothing");
    let app_log =
        kubectl_ok(&sb, &["logs", pods.split_whitespace().next().unwrap(), "-n", "test", "-c", "podinfod"], None).await;
    assert_eq!(app_log, "", "access logs belong to the istio-proxy container only");
}
