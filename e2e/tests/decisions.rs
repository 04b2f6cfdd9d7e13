//! Decisions a person watching would call wrong, end to end: an abort that makes the write of
//! a decided promotion conflict never sends users to the rejected revision, and an A/B test
//! whose `match` is removed mid-run starts again as what the spec now says, without putting
//! every user on the canary.

mod common;

use common::receiver::Receiver;
use common::{events, kubectl_ok, podinfo, proxy_log, release, started, wait_for};
use fledge_crds::canary::Phase;
use fledge_crds::istio::VirtualService;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every image the Deployment `name` carried, in order, until the task is aborted.
fn record_images(api: Api<Deployment>, name: &'static str) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Ok(Some(d)) = api.get_opt(name).await {
                let image = d.spec.and_then(|s| s.template.spec).and_then(|s| s.containers[0].image.clone());
                let mut seen = out.lock().unwrap();
                if let Some(image) = image.filter(|i| seen.last() != Some(i)) {
                    seen.push(image);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (seen, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_that_makes_a_decided_promotion_conflict_leaves_the_primary_and_the_users_on_the_old_revision() {
    let receiver = Receiver::start().await;
    let canary = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service: {port: 9898}
  analysis:
    interval: 2s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    webhooks:
    - {name: load-test, type: rollout, url: RECEIVER/rollout, timeout: 30s}
"#
    .replace("RECEIVER", &receiver.url);
    let run = started(&format!("{}---{canary}", podinfo(2)), &[]).await;
    let kube = common::client(&run.sandbox).await;
    let (images, task) = record_images(Api::namespaced(kube.clone(), "test"), "podinfo-primary");
    let promoted = run.canaries.get("podinfo").await.unwrap().status.unwrap().last_promoted_spec;
    release(&run.sandbox, "6.0.1").await;
    wait_for(&run.canaries, "the last weight", |s| s.canary_weight == Some(50)).await;

    // The last interval's load test is slow; while it runs, the promotion is about to be
    // decided, and a person aborts: the annotation changes the Canary under the decision.
    receiver.delay("/rollout", Duration::from_secs(4));
    let before = receiver.calls_to("/rollout").len();
    common::eventually(Duration::from_secs(10), "the slow load test", || async {
        (receiver.calls_to("/rollout").len() > before).then_some(())
    })
    .await;
    kubectl_ok(&run.sandbox, &["-n", "test", "annotate", "canary", "podinfo", "fledge.dev/abort=true"], None).await;

    let status = wait_for(&run.canaries, "the end", |s| matches!(s.phase, Phase::Failed | Phase::Succeeded)).await;
    // Whatever comes after the abort, the primary has had time to be given anything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    task.abort();
    let events = events(&run.sandbox).await;
    assert_eq!(status.phase, Phase::Failed, "{events}");
    assert_eq!(
        *images.lock().unwrap(),
        ["ghcr.io/stefanprodan/podinfo:6.0.0"],
        "the primary never received the aborted revision:\n{events}"
    );
    assert_eq!(status.last_promoted_spec, promoted, "the status still names the old revision as promoted");
    let vs = Api::<VirtualService>::namespaced(kube, "test").get("podinfo").await.unwrap();
    let route = &vs.spec.http[0].route;
    assert_eq!((route[0].weight, route[1].weight), (Some(100), Some(0)), "all users on the old revision");
    assert!(events.contains("Rolling back podinfo.test: aborted by fledge.dev/abort"), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ab_test_whose_match_is_removed_mid_run_never_sends_other_users_to_the_canary() {
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: users, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: users}}
  template:
    metadata:
      labels: {app: users}
      annotations:
        sandbox.fledge.dev/load: |
          http://podinfo.test:9898/ rps=60 path=/public
          http://podinfo.test:9898/ rps=20 path=/insider header=x-canary:insider
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 2
    iterations: 6
    match:
    - headers: {x-canary: {exact: insider}}
"#;
    let run = started(&format!("{}---{manifest}", podinfo(2)), &[]).await;
    release(&run.sandbox, "6.0.1").await;
    wait_for(&run.canaries, "the A/B route", |s| s.canary_weight == Some(100)).await;

    // The match goes: with its iterations left, the spec now asks for a blue/green, whose
    // users stay on the primary until it is promoted.
    let patch = r#"[{"op": "remove", "path": "/spec/analysis/match"}]"#;
    kubectl_ok(&run.sandbox, &["-n", "test", "patch", "canary", "podinfo", "--type", "json", "-p", patch], None).await;
    common::eventually(Duration::from_secs(20), "the restart", || async {
        events(&run.sandbox).await.contains("StrategyChanged").then_some(())
    })
    .await;
    let restarted = run.canaries.get("podinfo").await.unwrap().status.unwrap();
    assert_eq!((restarted.phase, restarted.canary_weight), (Phase::Progressing, Some(0)), "{restarted:?}");
    // From a second after the restart, for a few intervals of the blue/green.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let since = k8s_openapi::jiff::Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let status = run.canaries.get("podinfo").await.unwrap().status.unwrap();
    assert_eq!((status.phase, status.canary_weight), (Phase::Progressing, Some(0)), "{status:?}");

    let users = |entries: Vec<serde_json::Value>| {
        entries.iter().filter(|e| e["authority"] == "podinfo.test:9898" && e["path"].is_string()).count()
    };
    let canary = users(proxy_log(&run.sandbox, "podinfo", Some(&since)).await);
    let primary = users(proxy_log(&run.sandbox, "podinfo-primary", Some(&since)).await);
    assert_eq!(canary, 0, "no user request reached the canary after the match was removed");
    assert!(primary > 200, "the primary served them all: {primary}");
    let events = events(&run.sandbox).await;
    assert!(
        events.contains(
            "The analysis of podinfo.test changed from A/B testing to blue/green during the run; restarting the run \
             at weight 0"
        ),
        "{events}"
    );
}
