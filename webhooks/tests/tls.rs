//! Hooks and notifications against an HTTPS receiver on 127.0.0.1 whose self-signed
//! certificate no client trusts: `disableTLS` lets a hook through, every other call is refused
//! with a message that names the certificate problem and no secret.

mod https;

mod common;

use common::{fast, mk_payload};
use fledge_crds::Phase;
use fledge_crds::address::redacted;
use fledge_crds::alert_provider::AlertProviderType;
use fledge_crds::canary::{CanaryWebhook, WebhookType};
use fledge_webhooks::{Destination, Failure, Message, Notifiers, SendError, Severity};
use https::HttpsReceiver;
use std::time::{Duration, UNIX_EPOCH};

fn mk_hook(url: &str, disable_tls: Option<bool>) -> CanaryWebhook {
    CanaryWebhook {
        name: "gate".to_owned(),
        r#type: Some(WebhookType::ConfirmRollout),
        url: url.to_owned(),
        disable_tls,
        ..CanaryWebhook::default()
    }
}

#[tokio::test]
async fn a_hook_with_disable_tls_calls_a_self_signed_receiver() {
    let receiver = HttpsReceiver::start().await;
    let hook = mk_hook(&format!("{}/hooks/gate", receiver.base), Some(true));

    let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

    assert!(outcome.passed, "{outcome:?}");
    assert_eq!((outcome.status, outcome.attempts, outcome.failure), (Some(200), 1, None));
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/hooks/gate");
    let body: serde_json::Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!((body["name"].as_str(), body["checksum"].as_str()), (Some("podinfo"), Some("7d9f8c6b5")));
}

/// The receiver's URL with credentials in it, which no message may repeat.
fn with_credentials(receiver: &HttpsReceiver) -> String {
    receiver.base.replacen("https://", "https://fledge:s3cret@", 1) + "/hooks/gate"
}

/// The message says the certificate is the problem, what to do, and shows the URL redacted.
fn assert_refused_for_its_certificate(hook: &CanaryWebhook, message: &str) {
    assert!(message.contains(&redacted(&hook.url)), "{message}");
    assert!(message.contains("https://***@127.0.0.1:"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(message.contains("certificate is not trusted"), "{message}");
    assert!(message.contains("self-signed"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(message.contains("disableTLS: true"), "{message}");
}

#[tokio::test]
async fn a_hook_without_disable_tls_refuses_a_self_signed_receiver() {
    let receiver = HttpsReceiver::start().await;

    for disable_tls in [None, Some(false)] {
        let hook = mk_hook(&with_credentials(&receiver), disable_tls);
        let outcome = fast().call(&hook, &mk_payload(&hook), None).await;

        assert!(!outcome.passed, "{outcome:?}");
        assert_eq!((outcome.status, outcome.attempts, outcome.failure), (None, 1, Some(Failure::Unreachable)));
        assert_refused_for_its_certificate(&hook, &outcome.message);
    }
    assert!(receiver.calls().is_empty(), "no request went past the handshake");
}

#[tokio::test]
async fn disable_tls_on_one_hook_does_not_weaken_the_next() {
    let receiver = HttpsReceiver::start().await;
    let insecure = mk_hook(&with_credentials(&receiver), Some(true));
    let checked = mk_hook(&with_credentials(&receiver), None);
    let hooks = fast();

    let first = hooks.call(&insecure, &mk_payload(&insecure), None).await;
    let second = hooks.call(&checked, &mk_payload(&checked), None).await;
    let third = hooks.call(&insecure, &mk_payload(&insecure), None).await;

    assert!(first.passed, "{first:?}");
    assert!(!second.passed, "{second:?}");
    assert_eq!(second.failure, Some(Failure::Unreachable));
    assert_refused_for_its_certificate(&checked, &second.message);
    assert!(third.passed, "{third:?}");
    assert_eq!(receiver.calls().len(), 2, "only the hooks with disableTLS got through");
}

#[tokio::test]
async fn a_notification_to_a_self_signed_receiver_is_refused_without_its_secret() {
    let receiver = HttpsReceiver::start().await;
    let dest = Destination {
        kind: AlertProviderType::Slack,
        address: format!("{}/services/T000/B000/SECRET", receiver.base),
        token: None,
        proxy: None,
        channel: None,
        username: None,
    };
    let message = Message {
        name: "podinfo".to_owned(),
        namespace: "test".to_owned(),
        phase: Phase::Succeeded,
        severity: Severity::Info,
        title: "podinfo.test promoted".to_owned(),
        text: "Promotion completed".to_owned(),
        fields: Vec::new(),
        time: UNIX_EPOCH + Duration::from_secs(1_772_366_400),
    };

    let error = Notifiers::with_timeout(Duration::from_secs(5)).unwrap().send(&dest, &message).await.unwrap_err();

    let shown = error.to_string();
    assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    assert!(shown.contains(&format!("slack notification to {}/***", receiver.base)), "{shown}");
    assert!(!shown.contains("SECRET") && !shown.contains("T000"), "{shown}");
    assert!(shown.contains("certificate is not trusted"), "{shown}");
    assert!(shown.contains("self-signed"), "{shown}");
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    // A notification has no disableTLS to suggest.
    assert!(!shown.contains("disableTLS"), "{shown}");
    assert!(receiver.calls().is_empty());
}
