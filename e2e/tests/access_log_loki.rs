//! Access-log analysis through Loki: the real controller querying the sandbox's Loki stand-in,
//! which serves the pods' Envoy access logs in Envoy's default text format, with a bearer token
//! from a Secret and a tenant header. A good release is promoted with its p99 latency in the
//! status; a release answering slowly breaks the p99 limit and is rolled back, the event quotes
//! the latency, and every query Loki saw carried the token and the tenant.

mod common;

use common::{access_log_check, client, events, install_crds, kubectl_ok, load_generator, sandbox, wait_for};
use fledge_crds::canary::{Canary, Phase, Verdict};
use fledge_e2e::controller::ControllerProcess;
use fledge_sandbox_cluster::loki::{Loki, Options as LokiOptions};
use kube::Api;

const TOKEN: &str = "l0ki-t0ken";

/// `LOKI_ADDRESS` and `LOKI_TOKEN` are filled in once the stand-in listens.
///
/// The Canary keeps the default query: the sandbox names pods `<deployment>-<template
/// hash>-<5-char suffix>` from Kubernetes' alphabet without vowels, as Kubernetes does, so
/// the default selects the canary's pods and not the primary's (`podinfo-primary-...` has one
/// dash too many) nor another workload's such as `podinfo-migrate-x1abc`.
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
    metadata:
      labels: {app: podinfo}
      annotations: {sandbox.fledge.dev/access-log-format: "text"}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}]}
---
apiVersion: v1
kind: Secret
metadata: {name: loki-credentials, namespace: test}
stringData: {token: LOKI_TOKEN}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 2
    maxWeight: 50
    stepWeight: 25
    accessLog:
      source: loki
      loki:
        address: LOKI_ADDRESS
        secretRef: {name: loki-credentials}
        headers: {X-Scope-OrgID: team-a}
      format: text
      minRequests: 50
      maxLatency: {percentile: 99, milliseconds: 200}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_slow_in_its_loki_access_logs_is_rolled_back() {
    let sb = sandbox().await;
    let loki = Loki::start(
        sb.cluster.store.clone(),
        LokiOptions { bearer_token: Some(TOKEN.to_owned()), ..LokiOptions::default() },
    )
    .await
    .unwrap();
    install_crds(&sb).await;
    let users = load_generator("users", "http://podinfo.test:9898/", 150);
    let loadtester = load_generator("loadtester", "http://podinfo-canary.test:9898/", 100);
    let manifest =
        format!("{MANIFEST}---{users}---{loadtester}").replace("LOKI_ADDRESS", &loki.url).replace("LOKI_TOKEN", TOKEN);
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifest)).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller = ControllerProcess::start(sb.kubeconfig(), &log, &["--leader-election=false"]).await.unwrap();
    let canaries: Api<Canary> = Api::namespaced(client(&sb).await, "test");
    wait_for(&canaries, "phase Initialized", |s| s.phase == Phase::Initialized).await;

    // A good release: judged on its Loki logs at every step, and promoted.
    let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
    kubectl_ok(&sb, &["-n", "test", "set", "image", "deployment/podinfo", image], None).await;
    wait_for(&canaries, "phase Progressing", |s| s.phase == Phase::Progressing).await;
    let done =
        wait_for(&canaries, "the end of release 1", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let check = access_log_check(&done);
    assert_eq!((done.phase, check.verdict), (Phase::Succeeded, Verdict::Pass), "{check:?}\n{}", log_tail(&log));
    assert_eq!(check.name, "access-log");
    let message = check.message.unwrap();
    // "error rate 0% vs primary 0%, p99 19ms vs 21ms (limit 200ms) "
    let p99 = message.split_once(", p99 ").and_then(|(_, rest)| rest.split_once("ms vs ")).expect(&message).0;
    let p99: f64 = p99.parse().expect(&message);
    assert!(p99 > 0.0 && p99 <= 200.0, "{message}");
    assert!(message.contains("(limit 200ms)"), "{message}");

    // A slow release: its p99 is 600 ms against a limit of 200 ms (8% of its requests take
    // longer than 200 ms, so every step's sample breaks the limit, not only most of them).
    let patch =
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/latency-ms":"p50=40,p99=600"}}}}}"#;
    kubectl_ok(&sb, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None).await;
    wait_for(&canaries, "phase Progressing", |s| s.phase == Phase::Progressing).await;
    let done =
        wait_for(&canaries, "the end of release 2", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let check = access_log_check(&done);
    assert_eq!((done.phase, done.canary_weight), (Phase::Failed, Some(0)), "{check:?}\n{}", log_tail(&log));
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    let message = check.message.clone().unwrap();
    // "p99 latency 314ms above limit 200ms (8.1% of 308 requests slower than 200ms, p<0.0001 at
    // confidence 0.95); canary latency 720% above primary (36ms on median 5ms), ..."
    let quoted = message.split_once("p99 latency ").and_then(|(_, m)| m.split_once("ms above limit 200ms"));
    let p99: f64 = quoted.expect(&message).0.parse().expect(&message);
    assert!(p99 > 200.0, "{message}");

    // The event says the same, with the numbers.
    let events = events(&sb).await;
    let halted = format!("Halt advancement podinfo.test: access log access-log: {message}");
    let quoted = events.lines().any(|line| line.starts_with("Halted ") && line.trim_end().ends_with(&halted));
    assert!(quoted, "no Halted event saying {halted:?} in\n{events}");
    let primary = kubectl_ok(
        &sb,
        &["-n", "test", "get", "deployment/podinfo-primary", "-o", "jsonpath={.spec.template.metadata.annotations}"],
        None,
    )
    .await;
    assert!(!primary.contains("latency-ms"), "the primary keeps the good release: {primary}");

    // Loki was asked for both versions, every time as the tenant and with the Secret's token.
    let served = loki.served();
    assert!(!served.is_empty());
    for request in &served {
        assert_eq!(request.header("X-Scope-OrgID"), Some("team-a"), "{request:?}");
        assert_eq!(request.header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()), "{request:?}");
        assert_eq!(request.status, 200, "{request:?}");
    }
    for workload in ["podinfo", "podinfo-primary"] {
        let selector = fledge_analysis::loki::render_selector(fledge_analysis::loki::DEFAULT_QUERY, "test", workload);
        let selector = selector.unwrap();
        let asked = served.iter().any(|r| r.params.get("query") == Some(&selector));
        assert!(asked, "no query for {workload}: {served:?}");
    }
}

fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
