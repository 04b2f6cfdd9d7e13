//! Mirroring end to end: during a mirrored blue/green the canary receives the mirrored share
//! of the users' requests while every user is answered by the primary, and a canary that
//! fails on the copies (judged by a real Prometheus) is rolled back without a single
//! user-visible error. The Envoy access
//! logs of both versions are the evidence: Envoy logs a copy with `-shadow` on its authority.

mod common;

use common::{release, started, started_in};

use common::{client, kubectl_ok, load_generator, podinfo, sandbox, wait_for};
use fledge_crds::canary::{Phase, Verdict};
use fledge_crds::istio::VirtualService;
use fledge_sandbox_cluster::Sandbox;
use fledge_sandbox_cluster::prometheus::Prometheus;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use serde_json::Value;
use std::time::Duration;

/// A mirrored blue/green Canary; `ANALYSIS` is replaced by more analysis fields.
const CANARY: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 2s
    threshold: 2
    mirror: true
    ANALYSIS
"#;

/// The access-log entries the pods labelled `app` wrote since `since`, before `until`.
async fn entries(sb: &Sandbox, app: &str, since: Timestamp, until: Timestamp) -> Vec<Value> {
    let since = since.to_string();
    let entries = common::proxy_log(sb, app, Some(&since)).await;
    let before =
        |e: &Value| e["start_time"].as_str().and_then(|t| t.parse::<Timestamp>().ok()).is_some_and(|at| at < until);
    entries.into_iter().filter(before).collect()
}

fn is_copy(entry: &Value) -> bool {
    entry["authority"].as_str().is_some_and(|a| a.contains("-shadow"))
}

/// podinfo (2 replicas), the mirrored Canary with `analysis`, and users at `rps`.
fn manifest(analysis: &str, rps: u32) -> String {
    let users = load_generator("users", "http://podinfo.test:9898/", rps);
    let canary = CANARY.replace("ANALYSIS", analysis);
    format!("{}---{canary}---{users}", podinfo(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirrored_blue_green_copies_its_share_to_the_canary_and_users_see_only_the_primary() {
    let run = started(&manifest("iterations: 30\n    mirrorWeight: 20", 300), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    release(sb, "6.0.1").await;
    wait_for(canaries, "mirroring", |s| s.mirrored == Some(true)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let since = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let until = Timestamp::now();
    let status = canaries.get("podinfo").await.unwrap().status.unwrap();
    assert_eq!((status.phase, status.mirrored), (Phase::Progressing, Some(true)), "{status:?}");

    let primary = entries(sb, "podinfo-primary", since, until).await;
    let canary = entries(sb, "podinfo", since, until).await;
    let users = primary.iter().filter(|e| !is_copy(e)).count();
    let copies = canary.iter().filter(|e| is_copy(e)).count();
    assert!(users > 4000, "users' requests, all on the primary: {users}");
    assert!(canary.iter().all(is_copy), "no user request reaches the canary");
    let share = copies as f64 * 100.0 / users as f64;
    assert!((share - 20.0).abs() <= 2.0, "{copies} copies of {users} requests: {share:.2}%, mirrorWeight 20");

    let vs = Api::<VirtualService>::namespaced(client(sb).await, "test").get("podinfo").await.unwrap();
    let route = serde_json::to_value(&vs.spec.http[0]).unwrap();
    assert_eq!(route["mirror"]["host"], "podinfo-canary");
    assert_eq!(route["mirrorPercentage"]["value"], 20.0);
    assert_eq!(route["route"][0]["weight"], 100, "{route}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_on_the_copies_is_rolled_back_without_a_user_visible_error() {
    let sb = sandbox().await;
    // Judged by a real Prometheus on the canary's Istio metrics, which count the copies. Every
    // copy fails: the success rate is 0 (not "no data"), so the rollback comes at the threshold.
    let prometheus = Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    let analysis =
        "iterations: 10\n    metrics: [{name: request-success-rate, interval: 10s, thresholdRange: {min: 99}}]";
    let run = started_in(sb, &manifest(analysis, 100), &["--metrics-server", &prometheus.url]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let started = Timestamp::now();
    // A release whose every answer is a 5xx.
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/error-rate":"1"}}}}}"#;
    kubectl_ok(sb, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None).await;
    wait_for(canaries, "mirroring", |s| s.mirrored == Some(true)).await;
    let failed = wait_for(canaries, "phase Failed", |s| matches!(s.phase, Phase::Failed | Phase::Succeeded)).await;
    assert_eq!((failed.phase, failed.mirrored), (Phase::Failed, None), "{failed:?}");
    let checks = failed.checks.clone().unwrap_or_default();
    let check = checks.iter().find(|c| c.name == "request-success-rate").expect("the metric check");
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    assert_eq!(check.value, Some(0.0), "the copies all failed: {check:?}");

    let vs = Api::<VirtualService>::namespaced(client(sb).await, "test").get("podinfo").await.unwrap();
    let route = serde_json::to_value(&vs.spec.http[0]).unwrap();
    assert_eq!(route.get("mirror"), None, "copies stop with the rollback: {route}");
    // Every user request of the whole rollout was answered by the primary, without error.
    let until = Timestamp::now();
    let primary = entries(sb, "podinfo-primary", started, until).await;
    let users: Vec<_> = primary.iter().filter(|e| !is_copy(e)).collect();
    assert!(users.len() > 300, "{}", users.len());
    let errors = users.iter().filter(|e| e["response_code"].as_u64().is_none_or(|c| c >= 500)).count();
    assert_eq!(errors, 0, "a user saw an error");
}
