//! Notifications against receivers on 127.0.0.1 that record every call: the body each service
//! receives (compared with the golden files under `tests/golden/`; `UPDATE_GOLDEN=1` rewrites
//! them), the bearer token, failures that name what went wrong but no secret, and a proxy.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use fledge_crds::Phase;
use fledge_crds::alert_provider::AlertProviderType;
use fledge_webhooks::notify::body;
use fledge_webhooks::{Destination, Message, Notifiers, SendError, Severity};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

const TOKEN: &str = "xoxb-TOKEN-SECRET";
const SECRET: &str = "XXXXSECRETXXXX";

/// One call as the receiver saw it.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// A receiver answering every call with `status` and `answer` after `delay`.
struct Receiver {
    base: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Receiver {
    async fn start(status: u16, answer: &'static str, delay: Duration) -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let recorded = calls.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().unwrap().push(Call { method, uri, headers, body });
                tokio::time::sleep(delay).await;
                (StatusCode::from_u16(status).unwrap(), answer)
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base: format!("http://{address}"), calls }
    }

    async fn ok() -> Self {
        Self::start(200, "ok", Duration::ZERO).await
    }

    /// A Slack-like incoming-webhook address whose last path segment is the secret.
    fn address(&self) -> String {
        format!("{}/services/T000/B000/{SECRET}", self.base)
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// The failed rollout every golden file shows.
fn mk_failed_rollout() -> Message {
    // What the controller sends for a rollback on a metric (its tests build the same message
    // from a decided notice and compare it with these golden files).
    Message {
        name: "podinfo".to_owned(),
        namespace: "test".to_owned(),
        phase: Phase::Failed,
        severity: Severity::Error,
        title: "podinfo.test rolled back".to_owned(),
        text: "Rolling back podinfo.test: failed checks threshold reached 2 (last: metric \
               request-success-rate: request-success-rate 91.300 is below the minimum 99)"
            .to_owned(),
        fields: [
            ("Revision", "7f9c2b"),
            ("Image", "ghcr.io/stefanprodan/podinfo:6.0.1"),
            ("Phase", "Failed"),
            ("Failed checks", "2 of 2"),
            ("Duration", "4m 30s"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect(),
        // 2026-03-01T12:00:00Z
        time: UNIX_EPOCH + Duration::from_secs(1_772_366_400),
    }
}

fn mk_destination(kind: AlertProviderType, address: &str) -> Destination {
    Destination {
        kind,
        address: address.to_owned(),
        token: None,
        proxy: None,
        channel: Some("#releases".to_owned()),
        username: Some("fledge".to_owned()),
    }
}

fn fast() -> Notifiers {
    Notifiers::with_timeout(Duration::from_secs(5)).unwrap()
}

/// Sends the failed rollout as `kind` to a receiver and compares what it received with
/// `tests/golden/<name>.json`, or rewrites that file when `UPDATE_GOLDEN=1`.
async fn assert_golden(kind: AlertProviderType, name: &str) {
    let receiver = Receiver::ok().await;
    let dest = mk_destination(kind, &receiver.address());

    fast().send(&dest, &mk_failed_rollout()).await.unwrap();

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, Method::POST);
    assert_eq!(calls[0].uri.path(), format!("/services/T000/B000/{SECRET}"));
    assert_eq!(calls[0].headers["content-type"], "application/json");
    assert!(calls[0].headers.get("authorization").is_none());
    let received = calls[0].json();

    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", &format!("{name}.json")].iter().collect();
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, serde_json::to_string_pretty(&received).unwrap() + "\n").unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 to write it", path.display()));
    let golden: serde_json::Value = serde_json::from_str(&golden).unwrap();
    assert!(
        received == golden,
        "{name}: the body differs from {}; received:\n{}",
        path.display(),
        serde_json::to_string_pretty(&received).unwrap()
    );
}

#[tokio::test]
async fn slack_receives_the_golden_body() {
    assert_golden(AlertProviderType::Slack, "slack").await;
}

#[tokio::test]
async fn msteams_receives_the_golden_body() {
    assert_golden(AlertProviderType::Msteams, "msteams").await;
}

#[tokio::test]
async fn discord_receives_the_golden_body() {
    assert_golden(AlertProviderType::Discord, "discord").await;
}

#[tokio::test]
async fn rocket_receives_the_golden_body() {
    assert_golden(AlertProviderType::Rocket, "rocket").await;
}

#[tokio::test]
async fn gchat_receives_the_golden_body() {
    assert_golden(AlertProviderType::Gchat, "gchat").await;
}

#[tokio::test]
async fn generic_receives_the_golden_body() {
    assert_golden(AlertProviderType::Generic, "generic").await;
}

#[test]
fn bodies_are_deterministic() {
    let message = mk_failed_rollout();
    for kind in [
        AlertProviderType::Slack,
        AlertProviderType::Msteams,
        AlertProviderType::Discord,
        AlertProviderType::Rocket,
        AlertProviderType::Gchat,
        AlertProviderType::Generic,
    ] {
        let first = body(kind, Some("#releases"), Some("fledge"), &message).to_string();
        assert_eq!(first, body(kind, Some("#releases"), Some("fledge"), &message).to_string(), "{kind:?}");
    }
}

#[tokio::test]
async fn the_token_is_sent_as_a_bearer_header() {
    let receiver = Receiver::ok().await;
    let mut dest = mk_destination(AlertProviderType::Generic, &receiver.address());
    dest.token = Some(TOKEN.to_owned());

    fast().send(&dest, &mk_failed_rollout()).await.unwrap();

    let calls = receiver.calls();
    assert_eq!(calls[0].headers["authorization"], format!("Bearer {TOKEN}"));
}

/// The error's message and Debug name no secret: not the token, not the address's path.
fn assert_no_secret(error: &SendError) {
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
        assert!(!shown.contains(SECRET), "the address leaked: {shown}");
        assert!(!shown.contains("/services/"), "the address's path leaked: {shown}");
    }
}

#[tokio::test]
async fn an_error_answer_is_quoted_without_secrets() {
    let receiver = Receiver::start(500, "internal error: invalid_token for workspace T000", Duration::ZERO).await;
    let mut dest = mk_destination(AlertProviderType::Slack, &receiver.address());
    dest.token = Some(TOKEN.to_owned());

    let error = fast().send(&dest, &mk_failed_rollout()).await.unwrap_err();

    assert_eq!(error.category(), "status");
    assert_eq!(
        error.to_string(),
        format!(
            "slack notification to {}/*** was answered HTTP 500 Internal Server Error, saying: internal error: \
             invalid_token for workspace T000",
            receiver.base
        )
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn a_closed_port_is_unreachable_without_secrets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut dest =
        mk_destination(AlertProviderType::Discord, &format!("http://127.0.0.1:{port}/services/T000/B000/{SECRET}"));
    dest.token = Some(TOKEN.to_owned());

    let error = fast().send(&dest, &mk_failed_rollout()).await.unwrap_err();

    assert_eq!(error.category(), "unreachable");
    let shown = error.to_string();
    assert!(shown.starts_with(&format!("discord notification to http://127.0.0.1:{port}/*** could not be sent: ")));
    assert!(shown.to_lowercase().contains("connect"), "{shown}");
    assert_no_secret(&error);
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let receiver = Receiver::start(200, "ok", Duration::from_secs(5)).await;
    let mut dest = mk_destination(AlertProviderType::Msteams, &receiver.address());
    dest.token = Some(TOKEN.to_owned());

    let error = Notifiers::with_timeout(Duration::from_millis(200)).unwrap().send(&dest, &mk_failed_rollout()).await;

    let error = error.unwrap_err();
    assert_eq!(error.category(), "timeout");
    assert_eq!(
        error.to_string(),
        format!("msteams notification to {}/*** timed out: no answer within 200ms", receiver.base)
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn slack_refusing_a_chat_post_message_is_an_error() {
    let receiver = Receiver::start(200, r#"{"ok":false,"error":"channel_not_found"}"#, Duration::ZERO).await;
    let mut dest = mk_destination(AlertProviderType::Slack, &receiver.address());
    dest.token = Some(TOKEN.to_owned());

    let error = fast().send(&dest, &mk_failed_rollout()).await.unwrap_err();

    assert_eq!(error.category(), "refused");
    assert!(error.to_string().ends_with(r#"was refused: Slack answered "channel_not_found""#), "{error}");
    assert_no_secret(&error);
    // Without a token it is an incoming webhook, whose 200 is delivery whatever the body says.
    dest.token = None;
    fast().send(&dest, &mk_failed_rollout()).await.unwrap();
}

#[tokio::test]
async fn a_proxy_carries_the_request_to_a_host_that_does_not_resolve() {
    // An HTTP proxy sees the absolute-form request for an http:// destination and answers it.
    let proxy = Receiver::ok().await;
    let mut dest = mk_destination(AlertProviderType::Generic, "http://notify.invalid/hook");
    dest.proxy = Some(proxy.base.clone());
    dest.token = Some(TOKEN.to_owned());
    let notifiers = fast();

    notifiers.send(&dest, &mk_failed_rollout()).await.unwrap();
    notifiers.send(&dest, &mk_failed_rollout()).await.unwrap();

    let calls = proxy.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, Method::POST);
    assert_eq!(calls[0].uri.to_string(), "http://notify.invalid/hook");
    assert_eq!(calls[0].headers["host"], "notify.invalid");
    assert_eq!(calls[0].headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(calls[0].json(), body(AlertProviderType::Generic, None, None, &mk_failed_rollout()));
    assert_eq!(format!("{notifiers:?}"), "Notifiers { timeout: 5s, proxies: 1 }");
}

#[tokio::test]
async fn an_invalid_proxy_is_named_redacted() {
    let mut dest = mk_destination(AlertProviderType::Rocket, &format!("http://127.0.0.1:9/hooks/{SECRET}"));
    dest.proxy = Some("http://fledge:pr0xy-pass@proxy.corp:notaport".to_owned());

    let error = fast().send(&dest, &mk_failed_rollout()).await.unwrap_err();

    assert_eq!(error.category(), "invalid_proxy");
    let shown = error.to_string();
    assert!(
        shown.starts_with(
            "rocket notification to http://127.0.0.1:9/***: the proxy http://***@proxy.corp:notaport cannot be used ("
        ),
        "{shown}"
    );
    assert!(!shown.contains("pr0xy-pass"), "{shown}");
    assert_no_secret(&error);
}

#[tokio::test]
async fn only_http_addresses_are_sent_to() {
    for address in ["ftp://hooks.example/x", "hooks.slack.com/services/T000/B000/XXXXSECRETXXXX", ""] {
        let dest = mk_destination(AlertProviderType::Slack, address);
        let error = fast().send(&dest, &mk_failed_rollout()).await.unwrap_err();
        assert_eq!(error.category(), "invalid_address", "{address}: {error}");
        if address.is_empty() {
            assert!(error.to_string().contains("it is empty"), "{error}");
        }
        assert_no_secret(&error);
    }
}

#[test]
fn a_destinations_debug_shows_no_secret() {
    let dest = Destination {
        kind: AlertProviderType::Slack,
        address: format!("https://hooks.slack.com/services/T000/B000/{SECRET}"),
        token: Some(TOKEN.to_owned()),
        proxy: Some("http://fledge:pr0xy-pass@proxy.corp:3128".to_owned()),
        channel: Some("#releases".to_owned()),
        username: Some("fledge".to_owned()),
    };

    assert_eq!(
        format!("{dest:?}"),
        r##"Destination { kind: Slack, address: "https://hooks.slack.com/***", token: Some("<redacted>"), proxy: Some("http://***@proxy.corp:3128/"), channel: Some("#releases"), username: Some("fledge") }"##
    );
}
