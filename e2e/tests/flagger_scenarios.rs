//! Flagger's Istio end-to-end scenarios that are not covered elsewhere: a plain blue/green
//! (iterations without a mirror, the load tester calling the canary Service) and `skipAnalysis`
//! (promoted at once, no check asked). Each asserts what a user sees: the weights on the
//! VirtualService, the phase, the events and the primary's image.

mod common;

use common::{events, image_of, load_generator, podinfo, release, started, wait_for};
use fledge_crds::canary::Phase;
use fledge_crds::istio::VirtualService;
use kube::Api;
use std::time::Duration;

/// Users through the apex Service, and a rollout hook's stand-in: a load tester calling the
/// canary Service directly, as Flagger's blue/green tutorial does with flagger-loadtester.
fn traffic() -> String {
    let users = load_generator("users", "http://podinfo.test:9898/", 40);
    let tester = load_generator("loadtester", "http://podinfo-canary.test:9898/", 40);
    format!("{users}---{tester}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_release_keeps_users_on_the_primary_for_its_iterations_then_switches_them_all() {
    let canary = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 3
    iterations: 3
    accessLog: {maxErrorRate: 5, minRequests: 20}
"#;
    let run = started(&format!("{}---{}---{canary}", podinfo(2), traffic()), &[]).await;
    let kube = common::client(&run.sandbox).await;
    let weights = common::record_weights(Api::namespaced(kube, "test"));
    release(&run.sandbox, "6.0.1").await;
    let status = wait_for(&run.canaries, "the iterations", |s| s.iterations == Some(2)).await;
    assert_eq!((status.phase, status.canary_weight), (Phase::Progressing, Some(0)), "users stay on the primary");
    let status = wait_for(&run.canaries, "promotion", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let events = events(&run.sandbox).await;
    assert_eq!(status.phase, Phase::Succeeded, "{events}");
    assert_eq!(weights.stop(), vec![0, 100, 0], "all users switch at once, then back to the new primary");
    let order = [
        "New revision detected! Scaling up podinfo.test",
        "Starting canary analysis for podinfo.test: 3 iterations",
        "Advance podinfo.test canary iteration 1/3",
        "Advance podinfo.test canary iteration 2/3",
        "Routing all traffic of podinfo.test to the canary",
        "Promotion completed! Scaling down podinfo.test",
    ];
    let mut from = 0;
    for line in order {
        let at = events[from..].find(line).unwrap_or_else(|| panic!("{line:?} missing or out of order in\n{events}"));
        from += at + line.len();
    }
    // The judge compares the load tester's requests to the canary with the users' to the
    // primary: a rare false alarm may halt one interval (threshold 3), never the run.
    assert!(!events.contains("NoData") && !events.contains("RolledBack"), "{events}");
    // The interval at full traffic was judged on the users' requests, without a primary to
    // compare with.
    let last = common::access_log_check(&status);
    assert_eq!(last.verdict, fledge_crds::canary::Verdict::Pass, "{last:?}");
    let message = last.message.unwrap_or_default();
    assert!(message.ends_with("not compared with the primary, which has no users' traffic at weight 100"), "{message}");
    assert_eq!(image_of(&run.sandbox, "podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_analysis_promotes_at_once_without_asking_any_check() {
    // A Prometheus that does not exist: a check asked would fail the rollout.
    let canary = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  skipAnalysis: true
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 1
    stepWeight: 10
    maxWeight: 50
    metrics:
    - name: request-success-rate
      interval: 1m
      thresholdRange: {min: 99}
    webhooks:
    - {name: gate, type: confirm-promotion, url: "http://127.0.0.1:9/closed"}
"#;
    let flags = ["--metrics-server", "http://127.0.0.1:9"];
    let run = started(&format!("{}---{}---{canary}", podinfo(2), traffic()), &flags).await;
    let kube = common::client(&run.sandbox).await;
    let weights = common::record_weights(Api::namespaced(kube, "test"));
    release(&run.sandbox, "6.0.1").await;
    let status = wait_for(&run.canaries, "promotion", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let events = events(&run.sandbox).await;
    assert_eq!(status.phase, Phase::Succeeded, "{events}");
    assert!(events.contains("Skipping the analysis of podinfo.test: spec.skipAnalysis"), "{events}");
    assert_eq!(weights.stop(), vec![0], "no traffic ever moved to the canary");
    assert!(status.checks.unwrap_or_default().is_empty(), "no check or gate was asked");
    assert!(!events.contains("Halted") && !events.contains("Advance podinfo.test canary weight"), "{events}");
    assert_eq!(image_of(&run.sandbox, "podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegate_virtual_service_referenced_from_a_root_one_carries_the_rollout() {
    // The platform team's root VirtualService owns the host and hands its traffic to the
    // delegate Fledge writes (`service.delegation: true`: no hosts, no gateways).
    let manifest = r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: root, namespace: test}
spec:
  hosts: [podinfo]
  http:
  - name: podinfo
    delegate: {name: podinfo, namespace: test}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service: {port: 9898, delegation: true}
  analysis:
    interval: 3s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    accessLog: {minRequests: 20}
"#;
    let users = load_generator("users", "http://podinfo.test:9898/", 60);
    let run = started(&format!("{}---{users}---{manifest}", podinfo(2)), &[]).await;
    let kube = common::client(&run.sandbox).await;
    let api: Api<VirtualService> = Api::namespaced(kube, "test");
    let delegate = api.get("podinfo").await.unwrap();
    assert!(delegate.spec.hosts.is_empty() && delegate.spec.gateways.is_empty(), "{:?}", delegate.spec);
    let weights = common::record_weights(api);
    release(&run.sandbox, "6.0.1").await;
    // While the canary has its last weight, the users' requests reach it through the root and
    // its delegate (read before the canary is scaled down).
    wait_for(&run.canaries, "weight 50", |s| s.canary_weight == Some(50)).await;
    let since = k8s_openapi::jiff::Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let canary_log = common::proxy_log(&run.sandbox, "podinfo", Some(&since)).await;
    let from_users = canary_log.iter().filter(|e| e["authority"] == "podinfo.test:9898").count();
    assert!(from_users > 20, "{from_users} user requests reached the canary in 2s at 50% of 60 a second");
    let status = wait_for(&run.canaries, "promotion", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let events = events(&run.sandbox).await;
    assert_eq!(status.phase, Phase::Succeeded, "{events}");
    assert_eq!(weights.stop(), vec![0, 25, 50, 0]);
    let access_log = common::access_log_check(&status);
    assert_eq!(access_log.verdict, fledge_crds::canary::Verdict::Pass, "judged on them: {access_log:?}");
    assert_eq!(image_of(&run.sandbox, "podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.1");
}
