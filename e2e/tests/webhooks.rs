//! Webhooks in a rollout: the real controller calling a local receiver with Flagger's payload.
//! The pre-rollout and rollout hooks are called with the Canary's name, namespace, phase,
//! checksum and metadata, signed with the Secret's key; a closed confirm-promotion gate holds
//! the canary in WaitingPromotion, and opening it promotes.

mod common;

use common::{release, started};

use common::receiver::Receiver;
use common::{client, events, podinfo, wait_for};
use fledge_crds::canary::Phase;
use fledge_crds::istio::VirtualService;
use kube::Api;

/// What follows `podinfo(1)`.
const MANIFEST: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: hook-key, namespace: test}
stringData: {key: sign-me}
---
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
    maxWeight: 20
    stepWeight: 10
    webhooks:
    - name: acceptance
      type: pre-rollout
      url: RECEIVER/pre
      metadata: {type: bash, cmd: "curl -s http://podinfo-canary.test:9898/"}
    - name: load-test
      url: RECEIVER/rollout
      secretRef: {name: hook-key}
    - name: approval
      type: confirm-promotion
      url: RECEIVER/gate
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_called_with_flaggers_payload_and_a_closed_gate_holds_the_promotion() {
    let receiver = Receiver::start().await;
    receiver.answer("/gate", 403);
    let url = receiver.url.clone();

    let run = started(&format!("{}---{}", podinfo(1), MANIFEST.replace("RECEIVER", &url)), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);

    release(sb, "6.0.1").await;
    let held = wait_for(canaries, "phase WaitingPromotion", |s| s.phase == Phase::WaitingPromotion).await;
    assert_eq!(held.canary_weight, Some(20), "the gate holds at the last weight");

    {
        let calls = receiver.calls();
        let pre = receiver.calls_to("/pre");
        assert_eq!(pre.len(), 1, "pre-rollout is called once: {calls:?}");
        let body = &pre[0].body;
        assert_eq!(body["name"], "podinfo");
        assert_eq!(body["namespace"], "test");
        assert_eq!(body["phase"], "Progressing");
        assert_eq!(
            body["metadata"],
            serde_json::json!({"type": "bash", "cmd": "curl -s http://podinfo-canary.test:9898/"})
        );
        assert!(body["checksum"].as_str().is_some_and(|c| !c.is_empty()), "{body}");

        let rollout = receiver.calls_to("/rollout");
        assert!(rollout.len() >= 2, "the rollout hook runs every interval: {calls:?}");
        for call in &rollout {
            let signature = call.headers.get("x-fledge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let raw = &call.raw;
            assert_eq!(signature, format!("sha256={}", hmac_sha256_hex(b"sign-me", raw.as_bytes())), "{raw}");
        }
        assert!(pre.iter().all(|c| c.headers.get("x-fledge-signature").is_none()));
    }

    // Opening the gate promotes.
    receiver.answer("/gate", 200);
    let done = wait_for(canaries, "phase Succeeded", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    let events = events(sb).await;
    assert!(events.contains("WaitingPromotion"), "{events}");
    assert!(events.contains("webhook approval"), "{events}");
}

/// A Canary whose every webhook type calls the receiver at `/<type>`.
const EVERY_TYPE: &str = r#"
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
    maxWeight: 20
    stepWeight: 10
    webhooks:
    - {name: approve-rollout, type: confirm-rollout, url: RECEIVER/confirm-rollout}
    - {name: acceptance, type: pre-rollout, url: RECEIVER/pre-rollout}
    - {name: load-test, type: rollout, url: RECEIVER/rollout}
    - {name: approve-traffic, type: confirm-traffic-increase, url: RECEIVER/confirm-traffic-increase}
    - {name: approve-promotion, type: confirm-promotion, url: RECEIVER/confirm-promotion}
    - {name: notify-done, type: post-rollout, url: RECEIVER/post-rollout}
    - {name: stop, type: rollback, url: RECEIVER/rollback}
    - {name: audit, type: event, url: RECEIVER/event, metadata: {team: checkout}}
"#;

/// The `eventMessage`s a receiver got, in order.
fn event_messages(calls: &[common::receiver::Call]) -> Vec<String> {
    calls.iter().filter_map(|c| c.body["metadata"]["eventMessage"].as_str().map(str::to_owned)).collect()
}

fn position(messages: &[String], text: &str) -> usize {
    messages.iter().position(|m| m.contains(text)).unwrap_or_else(|| panic!("no event {text:?} in {messages:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hook_type_is_called_at_its_moment_and_every_event_is_sent() {
    let receiver = Receiver::start().await;
    // A rollback hook answers 2xx only to ask for a rollback.
    receiver.answer("/rollback", 404);
    let url = receiver.url.clone();
    let global = format!("{url}/global");
    let manifest = format!("{}---{}", podinfo(1), EVERY_TYPE.replace("RECEIVER", &url));
    let run = started(&manifest, &["--event-webhook", global.as_str()]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();

    release(sb, "6.0.1").await;
    let done = wait_for(canaries, "phase Succeeded", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    // The post-rollout hook and the last events are sent just after the status is written.
    common::eventually(std::time::Duration::from_secs(20), "the post-rollout call", || async {
        (!receiver.calls_to("/post-rollout").is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let calls = receiver.calls();

    // Each type's first call, in the order of the rollout.
    let mut firsts: Vec<&str> = Vec::new();
    for call in calls.iter().filter(|c| !matches!(c.path.as_str(), "/event" | "/global")) {
        if !firsts.contains(&call.path.as_str()) {
            firsts.push(&call.path);
        }
    }
    assert_eq!(
        firsts,
        [
            "/confirm-rollout",
            "/rollback",
            "/pre-rollout",
            // The run's first step is not judged: the load test starts with the first
            // analysis, once the canary has traffic.
            "/confirm-traffic-increase",
            "/rollout",
            "/confirm-promotion",
            "/post-rollout"
        ],
        "{calls:#?}"
    );
    let phase_of = |path: &str| receiver.calls_to(path).iter().map(|c| c.body["phase"].clone()).collect::<Vec<_>>();
    assert_eq!(phase_of("/confirm-rollout"), ["Initialized"], "asked once, before the canary is scaled up");
    assert_eq!(phase_of("/pre-rollout"), ["Progressing"], "once, when the analysis starts");
    assert_eq!(phase_of("/post-rollout"), ["Succeeded"], "once, after the run");
    assert_eq!(receiver.calls_to("/confirm-traffic-increase").len(), 2, "before 10% and before 20%");
    let post = &receiver.calls_to("/post-rollout")[0].body;
    assert_eq!(post["name"], "podinfo");
    assert_eq!(post["namespace"], "test");
    assert_eq!(post["checksum"], serde_json::json!(done.last_applied_spec.clone().unwrap()));
    assert!(post.get("metadata").is_none(), "no metadata, no key (as Flagger's omitempty): {post}");

    // Event hooks: every event, in order, with the event's fields and the hook's metadata.
    let event_calls = receiver.calls_to("/event");
    let messages = event_messages(&event_calls);
    let new = position(&messages, "New revision detected! Scaling up podinfo.test");
    let advanced = position(&messages, "Advance podinfo.test canary weight 10");
    let promoted = position(&messages, "Promotion completed! Scaling down podinfo.test");
    assert!(new < advanced && advanced < promoted, "{messages:#?}");
    let last = &event_calls[promoted].body;
    assert_eq!(last["phase"], "Succeeded");
    assert_eq!(last["metadata"]["eventType"], "Normal");
    assert_eq!(last["metadata"]["team"], "checkout");
    let at: u128 = last["metadata"]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(at >= started && at <= started + 120_000, "milliseconds since the epoch: {at}");
    // The global event webhook gets every Canary's events, Initialized included.
    let global = event_messages(&receiver.calls_to("/global"));
    position(&global, "Initialization done! podinfo.test");
    position(&global, "Promotion completed! Scaling down podinfo.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_hook_answering_200_rolls_back_and_post_rollout_hooks_hear_of_it() {
    let receiver = Receiver::start().await;
    receiver.answer("/rollback", 404);
    let url = receiver.url.clone();
    let manifest = EVERY_TYPE.replace("maxWeight: 20", "maxWeight: 50").replace("RECEIVER", &url);
    let run = started(&format!("{}---{}", podinfo(1), manifest), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let kube = client(sb).await;
    release(sb, "6.0.1").await;
    wait_for(canaries, "canary weight 10", |s| s.canary_weight == Some(10)).await;

    receiver.answer("/rollback", 200);
    let failed = wait_for(canaries, "phase Failed", |s| matches!(s.phase, Phase::Failed | Phase::Succeeded)).await;
    assert_eq!(failed.phase, Phase::Failed, "{failed:?}");
    let vs = Api::<VirtualService>::namespaced(kube, "test").get("podinfo").await.unwrap();
    let weights: Vec<_> = vs.spec.http[0].route.iter().map(|r| r.weight).collect();
    assert_eq!(weights, [Some(100), Some(0)], "all traffic back on the primary");
    let events = events(sb).await;
    assert!(events.contains("Rolling back podinfo.test: rollback webhook \"stop\" asked for it"), "{events}");
    common::eventually(std::time::Duration::from_secs(20), "the post-rollout call", || async {
        let phases: Vec<_> = receiver.calls_to("/post-rollout").iter().map(|c| c.body["phase"].clone()).collect();
        (phases == ["Failed"]).then_some(())
    })
    .await;
    let messages = event_messages(&receiver.calls_to("/event"));
    let rolled = position(&messages, "rollback webhook \"stop\" asked for it");
    let warning = &receiver.calls_to("/event")[rolled].body;
    assert_eq!(warning["metadata"]["eventType"], "Warning");
    assert_eq!(warning["phase"], "Failed");
}

/// HMAC-SHA256 (RFC 2104) of `body` under `key`, in lowercase hex: what a receiver computes.
fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(body).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}
