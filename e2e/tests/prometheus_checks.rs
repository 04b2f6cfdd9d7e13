//! The metric checks' Prometheus client against a real Prometheus scraping the sandbox mesh,
//! with Flagger's built-in queries; and what the client sends and says when things go wrong.

mod common;

use common::{eventually, kubectl_ok, sandbox};
use fledge_analysis::prometheus::{Auth, Prometheus, Settings};
use fledge_analysis::promql::Answer;
use fledge_analysis::template::{Vars, render};
use fledge_analysis::{builtin, threshold};
use fledge_crds::canary::{CanaryMetric, ThresholdRange};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
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
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata:
      labels: {app: podinfo}
      annotations: {sandbox.fledge.dev/error-rate: "0.08", sandbox.fledge.dev/latency-ms: "p50=40,p99=300"}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.1}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-primary, namespace: test}
spec: {selector: {app: podinfo-primary}, ports: [{name: http, port: 9898}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo, namespace: test}
spec: {selector: {app: podinfo-primary}, ports: [{name: http, port: 9898}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-canary, namespace: test}
spec: {selector: {app: podinfo}, ports: [{name: http, port: 9898}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: test}
spec:
  hosts: [podinfo]
  http:
  - route:
    - {destination: {host: podinfo-primary}, weight: 50}
    - {destination: {host: podinfo-canary}, weight: 50}
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
      annotations: {sandbox.fledge.dev/load: "http://podinfo.test:9898/ rps=400"}
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
"#;

fn metric(name: &str, min: Option<f64>, max: Option<f64>) -> CanaryMetric {
    CanaryMetric { name: name.into(), threshold_range: Some(ThresholdRange { min, max }), ..CanaryMetric::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_metrics_read_the_canary_workload_from_a_real_prometheus() {
    let sb = sandbox().await;
    let server =
        fledge_sandbox_cluster::prometheus::Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(MANIFEST)).await;
    kubectl_ok(&sb, &["rollout", "status", "deployment/loadtester", "-n", "test", "--timeout=30s"], None).await;
    let client = Prometheus::new(Settings::new(server.url.clone())).unwrap();
    // The window starts after every series exists (see mesh.rs on rate() and new series).
    tokio::time::sleep(Duration::from_secs(14)).await;
    let value_of = |name: &'static str, target: &'static str| {
        let client = client.clone();
        async move {
            let vars = Vars::new("podinfo", "test", target, "podinfo", "10s", Default::default()).unwrap();
            let query = render(builtin::query(name).unwrap(), &vars).unwrap();
            match client.query(&query).await.unwrap() {
                Answer::Value(v) => Some(v),
                Answer::NoData(_) => None,
            }
        }
    };
    let canary = eventually(Duration::from_secs(20), "the canary's success rate", || {
        value_of("request-success-rate", "podinfo")
    })
    .await;
    assert!((canary - 92.0).abs() < 3.5, "success rate {canary}, configured 8% errors");
    let (passed, message) = threshold::judge(&metric("request-success-rate", Some(99.0), None), canary);
    assert!(!passed, "{message}");
    assert!(message.starts_with("request-success-rate ") && message.ends_with("is below the minimum 99"), "{message}");

    let primary = value_of("request-success-rate", "podinfo-primary").await.unwrap();
    assert_eq!(primary, 100.0, "the primary has no errors");
    assert!(threshold::judge(&metric("request-success-rate", Some(99.0), None), primary).0);

    let p99 = value_of("request-duration", "podinfo").await.unwrap();
    let (passed, message) = threshold::judge(&metric("request-duration", None, Some(200.0)), p99);
    assert!(!passed, "p99 {p99} ms with 300 ms injected should fail a 200 ms limit: {message}");
}

/// A one-request HTTP server that answers `body` and hands back what it received.
async fn capture(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if received.len() >= head_end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&received).into_owned()
    });
    (address, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_headers_reach_the_server() {
    let answer = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
    let (address, request) = capture(answer).await;
    let mut settings = Settings::new(format!("{address}/prometheus"));
    settings.auth = Some(Auth::Bearer("s3cret-token".into()));
    settings.headers = vec![("X-Scope-OrgID".into(), "team-a".into())];
    let client = Prometheus::new(settings).unwrap();
    assert_eq!(client.query("up").await.unwrap(), Answer::Value(42.0));
    let request = request.await.unwrap();
    assert!(request.starts_with("POST /prometheus/api/v1/query HTTP/1.1"), "{request}");
    assert!(request.to_ascii_lowercase().contains("authorization: bearer s3cret-token"), "{request}");
    assert!(request.to_ascii_lowercase().contains("x-scope-orgid: team-a"), "{request}");
    assert!(request.ends_with("query=up"), "{request}");
    assert!(!format!("{client:?}").contains("s3cret"), "credentials never show in Debug output");

    let (address, request) = capture(answer).await;
    let mut settings = Settings::new(address);
    settings.auth = Some(Auth::Basic { username: "fledge".into(), password: "pw".into() });
    Prometheus::new(settings).unwrap().query("up").await.unwrap();
    // base64("fledge:pw")
    assert!(request.await.unwrap().to_ascii_lowercase().contains("authorization: basic zmxlzgdlonb3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_that_is_down_or_answers_garbage_says_which_query_and_address() {
    let port = fledge_e2e::controller::free_port().unwrap();
    let address = format!("http://127.0.0.1:{port}");
    let mut settings = Settings::new(address.clone());
    settings.timeout = Duration::from_secs(2);
    let e = Prometheus::new(settings).unwrap().query("up").await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("query \"up\" to {address}: ")), "{e}");

    let (address, _) = capture("<html>502 Bad Gateway</html>").await;
    let e = Prometheus::new(Settings::new(address)).unwrap().query("up").await.unwrap_err().to_string();
    assert!(e.contains("not a Prometheus query answer") && e.contains("502 Bad Gateway"), "{e}");

    assert!(Prometheus::new(Settings::new("prometheus:9090")).is_err());
}
