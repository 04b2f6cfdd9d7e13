//! `spec.service.unmanagedMetadata`: labels and annotations that someone else writes (with
//! kubectl, under its own field manager) on the apex Service, the VirtualService and the primary
//! survive every write of a whole rollout, a takeover and a `revertOnDeletion` restore; and a
//! listed key is never written by Fledge, not even from `service.apex.labels` or the target.

mod common;

use common::{eventually, kubectl_ok, podinfo, release, started};
use fledge_crds::canary::Phase;
use fledge_sandbox_cluster::Sandbox;
use serde_json::{Value, json};
use std::time::Duration;

/// The VirtualService a team wrote by hand before adopting Fledge, with its own `team` label.
const THEIRS: &str = r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: podinfo
  namespace: test
  labels: {team: hand-written}
spec:
  hosts: [podinfo]
  http:
  - route:
    - destination: {host: podinfo}
"#;

const CANARY: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  revertOnDeletion: true
  service:
    port: 9898
    apex:
      labels: {team: from-the-canary, tier: front}
    unmanagedMetadata:
      labels: [team, owner]
      annotations: [argocd.argoproj.io/tracking-id]
  analysis: {interval: 2s, threshold: 2, maxWeight: 50, stepWeight: 10}
"#;

/// The object as `kubectl get -o json` prints it.
async fn get(sb: &Sandbox, kind: &str, name: &str) -> Value {
    let text = kubectl_ok(sb, &["-n", "test", "get", kind, name, "-o", "json"], None).await;
    serde_json::from_str(&text).unwrap()
}

fn label<'a>(object: &'a Value, key: &str) -> &'a Value {
    &object["metadata"]["labels"][key]
}

fn annotation<'a>(object: &'a Value, key: &str) -> &'a Value {
    &object["metadata"]["annotations"][key]
}

/// What someone else writes: `kubectl label` and `kubectl annotate`, under their own managers.
async fn theirs(sb: &Sandbox, kind: &str, name: &str) {
    let target = ["-n", "test", kind, name];
    let label = [&["label"][..], &target[..], &["team=web", "owner=alice", "--overwrite"]].concat();
    kubectl_ok(sb, &label, None).await;
    let annotate = [&["annotate"][..], &target[..], &["argocd.argoproj.io/tracking-id=t-1", "--overwrite"]].concat();
    kubectl_ok(sb, &annotate, None).await;
}

fn assert_theirs(object: &Value, what: &str) {
    assert_eq!(label(object, "team"), "web", "{what}: {object}");
    assert_eq!(label(object, "owner"), "alice", "{what}: {object}");
    assert_eq!(annotation(object, "argocd.argoproj.io/tracking-id"), "t-1", "{what}: {object}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_and_annotations_others_own_survive_a_whole_rollout_and_the_restore() {
    // The target carries an `owner` label too: a listed key is not copied to the primary.
    let target = podinfo(1).replace(
        "metadata: {name: podinfo, namespace: test}",
        "metadata: {name: podinfo, namespace: test, labels: {owner: from-the-target}}",
    );
    let run = started(&format!("{target}---{THEIRS}---{CANARY}"), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);

    // Fledge wrote neither `team` (although it is in service.apex.labels) nor `owner`.
    let apex = get(sb, "service", "podinfo").await;
    assert_eq!(label(&apex, "tier"), "front", "{apex}");
    assert_eq!(label(&apex, "team"), &Value::Null, "a listed key is not written from service.apex: {apex}");
    let primary = get(sb, "deployment", "podinfo-primary").await;
    assert_eq!(label(&primary, "owner"), &Value::Null, "a listed key is not copied from the target: {primary}");
    // The taken-over VirtualService keeps the label its team wrote.
    let vs = get(sb, "virtualservice", "podinfo").await;
    assert_eq!(vs["spec"]["http"][0]["route"][0]["destination"]["host"], "podinfo-primary", "taken over: {vs}");
    assert_eq!(label(&vs, "team"), "hand-written", "{vs}");

    for (kind, name) in [("service", "podinfo"), ("virtualservice", "podinfo"), ("deployment", "podinfo-primary")] {
        theirs(sb, kind, name).await;
    }

    // A whole rollout: the weights move five times, then the primary is rewritten and the
    // traffic goes back to it.
    release(sb, "6.0.1").await;
    let seen = std::cell::RefCell::new(Vec::new());
    eventually(Duration::from_secs(90), "the rollout to succeed", || async {
        let vs = get(sb, "virtualservice", "podinfo").await;
        let weight = vs["spec"]["http"][0]["route"][1]["weight"].as_i64().unwrap_or_default();
        if seen.borrow().last() != Some(&weight) {
            seen.borrow_mut().push(weight);
        }
        assert_theirs(&vs, "the VirtualService mid-rollout");
        let status = canaries.get("podinfo").await.ok()?.status?;
        (status.phase == Phase::Succeeded).then_some(())
    })
    .await;
    let seen = seen.into_inner();
    assert!(seen.len() >= 4, "the weights moved several times and back to 0: {seen:?}");
    assert_eq!(seen.last(), Some(&0), "{seen:?}");
    assert_theirs(&get(sb, "virtualservice", "podinfo").await, "the VirtualService after the rollout");
    assert_theirs(&get(sb, "service", "podinfo").await, "the apex Service after the rollout");
    let primary = get(sb, "deployment", "podinfo-primary").await;
    assert_eq!(primary["spec"]["template"]["spec"]["containers"][0]["image"], "ghcr.io/stefanprodan/podinfo:6.0.1");
    assert_theirs(&primary, "the primary after its promotion");
    assert_eq!(label(&get(sb, "service", "podinfo").await, "tier"), "front", "Fledge's own label stays");

    // Deleted with revertOnDeletion: the original comes back, but not its old `team` value.
    kubectl_ok(sb, &["-n", "test", "delete", "canary", "podinfo", "--wait=false"], None).await;
    eventually(Duration::from_secs(60), "the Canary gone", || async {
        canaries.get_opt("podinfo").await.ok()?.is_none().then_some(())
    })
    .await;
    let vs = get(sb, "virtualservice", "podinfo").await;
    assert_eq!(vs["spec"]["http"], json!([{"route": [{"destination": {"host": "podinfo"}}]}]), "restored: {vs}");
    assert_theirs(&vs, "the restored VirtualService");
    assert_theirs(&get(sb, "service", "podinfo").await, "the apex Service after the revert");
}
