//! The webhook client against a receiver on 127.0.0.1 that records every call and answers
//! from a script: the body a receiver sees, what passes and fails, retries, timeouts, signing.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use common::{fast, mk_payload};
use fledge_crds::Phase;
use fledge_crds::canary::{CanaryWebhook, WebhookType};
use fledge_webhooks::client::signature;
use fledge_webhooks::{Failure, Payload, SIGNATURE_HEADER};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One call as the receiver saw it.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the receiver answers one call.
#[derive(Clone, Copy, Debug)]
struct Answer {
    status: u16,
    body: &'static str,
    delay: Duration,
}

fn answer(status: u16, body: &'static str) -> Answer {
    Answer { status, body, delay: Duration::ZERO }
}

/// A receiver answering the n-th call with `script[n]`, and the last entry from then on.
struct Receiver {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Receiver {
    async fn start(script: Vec<Answer>) -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let recorded = calls.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            let script = script.clone();
            async move {
                let index = {
                    let mut calls = recorded.lock().unwrap();
                    calls.push(Call { method, path: uri.path().to_owned(), headers, body });
                    calls.len() - 1
                };
                let answer = script[index.min(script.len() - 1)];
                tokio::time::sleep(answer.delay).await;
                (StatusCode::from_u16(answer.status).unwrap(), answer.body)
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url: format!("http://{address}/hooks/gate"), calls }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

fn mk_hook(url: &str) -> CanaryWebhook {
    CanaryWebhook {
        name: "load-test".to_owned(),
        r#type: Some(WebhookType::Rollout),
        url: url.to_owned(),
        metadata: Some(BTreeMap::from([
            ("type".to_owned(), "cmd".to_owned()),
            ("cmd".to_owned(), "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/".to_owned()),
        ])),
        ..CanaryWebhook::default()
    }
}

#[tokio::test]
async fn a_rollout_hook_receives_flaggers_body() {
    let receiver = Receiver::start(vec![answer(200, "ok")]).await;
    let hook = mk_hook(&receiver.url);

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(outcome.passed, "{outcome:?}");
    assert_eq!((outcome.status, outcome.attempts, outcome.failure), (Some(200), 1, None));
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, Method::POST);
    assert_eq!(calls[0].path, "/hooks/gate");
    assert_eq!(calls[0].headers["content-type"], "application/json");
    // Byte for byte what Flagger's Go encoder writes: struct order, sorted metadata keys.
    assert_eq!(
        std::str::from_utf8(&calls[0].body).unwrap(),
        r#"{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"7d9f8c6b5","metadata":{"cmd":"hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/","type":"cmd"}}"#
    );
}

#[tokio::test]
async fn a_hook_without_metadata_sends_none() {
    let receiver = Receiver::start(vec![answer(200, "")]).await;
    let hook = CanaryWebhook { metadata: None, ..mk_hook(&receiver.url) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(outcome.passed, "{outcome:?}");
    assert_eq!(
        receiver.calls()[0].json(),
        json!({"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "7d9f8c6b5"})
    );
}

#[tokio::test]
async fn an_event_hook_receives_the_event_in_metadata() {
    let receiver = Receiver::start(vec![answer(202, "")]).await;
    let hook = CanaryWebhook {
        r#type: Some(WebhookType::Event),
        // An event field in the hook's metadata is overridden, as in Flagger.
        metadata: Some(BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            ("eventType".to_owned(), "spoofed".to_owned()),
        ])),
        ..mk_hook(&receiver.url)
    };
    let at = UNIX_EPOCH + Duration::from_millis(1_764_650_000_123);
    let payload = Payload::hook("podinfo", "test", Phase::Progressing, "7d9f8c6b5", &hook).with_event(
        "Advance podinfo.test canary weight 10",
        "Normal",
        at,
    );

    let outcome = fast().call(&hook, &payload, None).await;

    assert!(outcome.passed, "{outcome:?}");
    assert_eq!(outcome.status, Some(202));
    assert_eq!(
        receiver.calls()[0].json(),
        json!({
            "name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "7d9f8c6b5",
            "metadata": {
                "eventMessage": "Advance podinfo.test canary weight 10",
                "eventType": "Normal",
                "team": "payments",
                "timestamp": "1764650000123",
            }
        })
    );
}

#[tokio::test]
async fn a_500_fails_quoting_the_status_and_the_body() {
    let receiver = Receiver::start(vec![answer(500, "  load test failed: p99 1.2s > 500ms  ")]).await;
    let hook = mk_hook(&receiver.url);

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert_eq!((outcome.status, outcome.attempts, outcome.failure), (Some(500), 1, Some(Failure::Status)));
    assert!(outcome.message.contains("\"load-test\""), "{}", outcome.message);
    assert!(outcome.message.contains(&receiver.url), "{}", outcome.message);
    assert!(outcome.message.contains("500"), "{}", outcome.message);
    assert!(outcome.message.contains("load test failed: p99 1.2s > 500ms"), "{}", outcome.message);
}

#[tokio::test]
async fn a_long_answer_is_quoted_in_part() {
    const LONG: &str = concat!(
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        "THE-REST-IS-NOT-QUOTED"
    );
    let receiver = Receiver::start(vec![answer(503, LONG)]).await;
    let hook = mk_hook(&receiver.url);

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert!(outcome.message.contains(&LONG[..200]), "{}", outcome.message);
    assert!(!outcome.message.contains("THE-REST"), "{}", outcome.message);
}

#[tokio::test]
async fn a_receiver_failing_twice_passes_with_two_retries() {
    let script = vec![answer(500, "warming up"), answer(502, "warming up"), answer(200, "ok")];
    let receiver = Receiver::start(script.clone()).await;
    let hook = CanaryWebhook { retries: Some(2), ..mk_hook(&receiver.url) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(outcome.passed, "{outcome:?}");
    assert_eq!((outcome.status, outcome.attempts), (Some(200), 3));
    let calls = receiver.calls();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|call| call.body == calls[0].body), "every attempt sends the same body");
}

#[tokio::test]
async fn a_receiver_failing_twice_fails_with_one_retry() {
    let script = vec![answer(500, "warming up"), answer(502, "still warming up"), answer(200, "ok")];
    let receiver = Receiver::start(script).await;
    let hook = CanaryWebhook { retries: Some(1), ..mk_hook(&receiver.url) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert_eq!((outcome.status, outcome.attempts), (Some(502), 2));
    assert!(outcome.message.contains("still warming up"), "{}", outcome.message);
    assert!(outcome.message.contains("2 attempts"), "{}", outcome.message);
    assert_eq!(receiver.calls().len(), 2);
}

#[tokio::test]
async fn a_closed_gate_is_not_asked_again() {
    let receiver = Receiver::start(vec![answer(403, "gate closed"), answer(200, "")]).await;
    let hook = CanaryWebhook { retries: Some(3), ..mk_hook(&receiver.url) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert_eq!((outcome.status, outcome.attempts), (Some(403), 1));
    assert_eq!(receiver.calls().len(), 1);
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_fails_saying_so() {
    let slow = Answer { status: 200, body: "too late", delay: Duration::from_secs(5) };
    let receiver = Receiver::start(vec![slow]).await;
    let hook = CanaryWebhook { timeout: Some("200ms".to_owned()), retries: Some(1), ..mk_hook(&receiver.url) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert_eq!((outcome.status, outcome.attempts, outcome.failure), (None, 2, Some(Failure::Timeout)));
    assert!(outcome.message.contains("timed out"), "{}", outcome.message);
    assert!(outcome.message.contains("200ms"), "{}", outcome.message);
}

#[tokio::test]
async fn the_signature_verifies_with_the_key() {
    let receiver = Receiver::start(vec![answer(200, "")]).await;
    let hook = mk_hook(&receiver.url);
    let key = b"a shared secret";

    let outcome = fast().call(&hook, &mk_payload(&hook), Some(key)).await;

    assert!(outcome.passed, "{outcome:?}");
    let call = &receiver.calls()[0];
    let sent = call.headers[SIGNATURE_HEADER].to_str().unwrap();
    // Recomputed independently of the client, over the bytes the receiver got.
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap();
    hmac::Mac::update(&mut mac, &call.body);
    let hex = sent.strip_prefix("sha256=").expect("sha256= prefix");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    assert_eq!(hex, hex.to_lowercase());
    hmac::Mac::verify_slice(mac, &bytes).expect("the signature verifies");
    assert_eq!(sent, signature(key, &call.body));
    assert!(!format!("{outcome:?}").contains("a shared secret"));
}

#[tokio::test]
async fn without_a_key_there_is_no_signature() {
    let receiver = Receiver::start(vec![answer(200, "")]).await;
    let hook = mk_hook(&receiver.url);

    fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!receiver.calls()[0].headers.contains_key(SIGNATURE_HEADER));
}

#[tokio::test]
async fn an_unreachable_hook_fails_without_repeating_credentials() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hook = CanaryWebhook { retries: Some(1), ..mk_hook(&format!("http://fledge:s3cret@127.0.0.1:{port}/gate")) };

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(!outcome.passed);
    assert_eq!((outcome.attempts, outcome.failure), (2, Some(Failure::Unreachable)));
    assert!(outcome.message.contains(&format!("http://***@127.0.0.1:{port}/gate")), "{}", outcome.message);
    assert!(!outcome.message.contains("s3cret"), "{}", outcome.message);
}

#[tokio::test]
async fn a_hook_that_cannot_be_called_says_what_to_fix() {
    let hook = CanaryWebhook { timeout: Some("ten seconds".to_owned()), ..mk_hook("http://127.0.0.1:1/") };
    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;
    assert_eq!((outcome.passed, outcome.attempts, outcome.failure), (false, 0, Some(Failure::Invalid)));
    assert!(outcome.message.contains("ten seconds"), "{}", outcome.message);

    let hook = mk_hook("ftp://hooks.test/");
    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;
    assert_eq!((outcome.attempts, outcome.failure), (0, Some(Failure::Invalid)));
    assert!(outcome.message.contains("not http or https"), "{}", outcome.message);
}

#[test]
fn timestamps_are_unix_milliseconds() {
    let hook = mk_hook("http://hooks.test/");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
    let payload = mk_payload(&hook).with_event("m", "Warning", at);
    assert_eq!(payload.metadata["timestamp"], "2000");
    assert_eq!(payload.metadata["eventType"], "Warning");
}
