//! Webhooks in a rollout: the real controller calling a local receiver with Flagger's payload.
//! The pre-rollout and rollout hooks are called with the Canary's name, namespace, phase,
//! checksum and metadata, signed with the Secret's key; a closed confirm-promotion gate holds
//! the canary in WaitingPromotion, and opening it promotes.

mod common;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use common::{client, events, install_crds, kubectl_ok, podinfo, sandbox, wait_for};
use fledge_crds::canary::{Canary, Phase};
use fledge_e2e::controller::ControllerProcess;
use kube::Api;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

/// What the receiver saw and how it answers.
#[derive(Default)]
struct Receiver {
    /// Path, headers, body as sent and as JSON.
    calls: Mutex<Vec<(String, HeaderMap, String, Value)>>,
    gate_open: AtomicBool,
}

async fn record(State(r): State<Arc<Receiver>>, uri: Uri, headers: HeaderMap, body: String) -> StatusCode {
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.calls.lock().unwrap().push((uri.path().to_owned(), headers, body, json));
    match uri.path() {
        "/gate" if !r.gate_open.load(Ordering::SeqCst) => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_called_with_flaggers_payload_and_a_closed_gate_holds_the_promotion() {
    let receiver = Arc::new(Receiver::default());
    let app = Router::new().fallback(post(record)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&format!("{}---{}", podinfo(1), MANIFEST.replace("RECEIVER", &url))))
        .await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller = ControllerProcess::start(sb.kubeconfig(), &log, &["--leader-election=false"]).await.unwrap();
    let canaries: Api<Canary> = Api::namespaced(client(&sb).await, "test");
    wait_for(&canaries, "phase Initialized", |s| s.phase == Phase::Initialized).await;

    let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
    kubectl_ok(&sb, &["-n", "test", "set", "image", "deployment/podinfo", image], None).await;
    let held = wait_for(&canaries, "phase WaitingPromotion", |s| s.phase == Phase::WaitingPromotion).await;
    assert_eq!(held.canary_weight, Some(20), "the gate holds at the last weight");

    {
        let calls = receiver.calls.lock().unwrap();
        let pre: Vec<_> = calls.iter().filter(|c| c.0 == "/pre").collect();
        assert_eq!(pre.len(), 1, "pre-rollout is called once: {calls:?}");
        let (_, _, _, body) = pre[0];
        assert_eq!(body["name"], "podinfo");
        assert_eq!(body["namespace"], "test");
        assert_eq!(body["phase"], "Progressing");
        assert_eq!(
            body["metadata"],
            serde_json::json!({"type": "bash", "cmd": "curl -s http://podinfo-canary.test:9898/"})
        );
        assert!(body["checksum"].as_str().is_some_and(|c| !c.is_empty()), "{body}");

        let rollout: Vec<_> = calls.iter().filter(|c| c.0 == "/rollout").collect();
        assert!(rollout.len() >= 2, "the rollout hook runs every interval: {calls:?}");
        for (_, headers, raw, _) in &rollout {
            let signature = headers.get("x-fledge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert_eq!(signature, format!("sha256={}", hmac_sha256_hex(b"sign-me", raw.as_bytes())), "{raw}");
        }
        assert!(calls.iter().all(|c| c.0 != "/pre" || c.1.get("x-fledge-signature").is_none()));
    }

    // Opening the gate promotes.
    receiver.gate_open.store(true, Ordering::SeqCst);
    let done = wait_for(&canaries, "phase Succeeded", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    let events = events(&sb).await;
    assert!(events.contains("WaitingPromotion"), "{events}");
    assert!(events.contains("webhook approval"), "{events}");
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
