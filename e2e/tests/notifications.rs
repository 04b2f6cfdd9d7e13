//! Notifications in a rollout: the real controller posting to AlertProviders (a local receiver
//! stands in for Slack, Discord and a generic endpoint), filtered by each alert's severity,
//! said once per condition, with the address and token from the provider's Secret and never
//! in the controller's log. And the default provider of the controller's `--alert-*` flags.

mod common;

use common::{release, started};

use common::receiver::{Call, Receiver};
use common::{eventually, podinfo, wait_for};
use fledge_crds::canary::Phase;
use std::time::Duration;

const TOKEN: &str = "xoxb-TOKEN-never-logged";

/// What follows `podinfo(1)`: three providers and a Canary alerting to them.
const MANIFEST: &str = r##"
apiVersion: v1
kind: Secret
metadata: {name: slack-url, namespace: test}
stringData:
  address: RECEIVER/slack/services/T000/B000/SLACKSECRET
  token: TOKEN
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {name: on-call, namespace: test}
spec: {type: slack, channel: "#releases", username: fledge, secretRef: {name: slack-url}}
---
apiVersion: v1
kind: Secret
metadata: {name: discord-url, namespace: test}
stringData: {address: RECEIVER/discord/api/webhooks/1/DISCORDSECRET}
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {name: broken, namespace: test}
spec: {type: discord, secretRef: {name: discord-url}}
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {name: pager, namespace: test}
spec: {type: generic, address: RECEIVER/generic}
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
    - {name: load-test, type: rollout, url: RECEIVER/load}
    - {name: approval, type: confirm-promotion, url: RECEIVER/gate}
    alerts:
    - {name: team, severity: info, providerRef: {name: on-call}}
    - {name: chat, severity: warn, providerRef: {name: broken}}
    - {name: incidents, severity: error, providerRef: {name: pager}}
"##;

fn headers(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.body["blocks"][0]["text"]["text"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The Slack message whose header is `title`, once it has arrived.
async fn slack_message(receiver: &Receiver, title: &str) -> Call {
    eventually(Duration::from_secs(30), &format!("a Slack message {title:?}"), || async {
        receiver.calls_to(SLACK).into_iter().find(|c| c.body["blocks"][0]["text"]["text"] == title)
    })
    .await
}

const SLACK: &str = "/slack/services/T000/B000/SLACKSECRET";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_tell_each_provider_what_its_severity_asks_for_once_without_leaking_secrets() {
    let receiver = Receiver::start().await;
    receiver.answer("/gate", 403);
    receiver.answer("/discord/api/webhooks/1/DISCORDSECRET", 500);
    // A global event sink whose secret is its path, failing: its failures are logged too.
    receiver.answer("/events/EVENTSECRET", 503);
    let url = receiver.url.clone();
    let manifest = MANIFEST.replace("RECEIVER", &url).replace("TOKEN", TOKEN);
    let sink = format!("{url}/events/EVENTSECRET");
    let run = started(&format!("{}---{}", podinfo(1), manifest), &["--event-webhook", sink.as_str()]).await;
    let (sb, canaries, log) = (&run.sandbox, &run.canaries, &run.log);

    // A release that waits at the closed promotion gate for several intervals.
    release(sb, "6.0.1").await;
    let started = slack_message(&receiver, "podinfo.test: new revision").await;
    assert_eq!(
        started.headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the Secret's token is sent"
    );
    assert_eq!(started.body["channel"], "#releases");
    assert_eq!(started.body["username"], "fledge");
    let facts = started.body["blocks"][2]["fields"].to_string();
    assert!(facts.contains("*Image*\\nghcr.io/stefanprodan/podinfo:6.0.1"), "{facts}");
    assert!(facts.contains("*Revision*"), "{facts}");

    wait_for(canaries, "phase WaitingPromotion", |s| s.phase == Phase::WaitingPromotion).await;
    let waiting = slack_message(&receiver, "podinfo.test is waiting for approval").await;
    let text = waiting.body["blocks"][1]["text"]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Promotion of podinfo.test is waiting for approval: webhook approval"), "{text}");
    // Held for three more intervals: still one message.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let titles = headers(&receiver.calls_to(SLACK));
    assert_eq!(titles.iter().filter(|t| t.contains("waiting")).count(), 1, "said once: {titles:?}");

    receiver.answer("/gate", 200);
    let promoted = slack_message(&receiver, "podinfo.test promoted").await;
    let facts = promoted.body["blocks"][2]["fields"].to_string();
    assert!(facts.contains("*Duration*"), "how long the rollout took: {facts}");
    assert!(receiver.calls_to("/generic").is_empty(), "error-only alerts hear nothing of a success");

    // A release whose load test fails: rolled back, and now every provider hears of it.
    receiver.answer("/load", 500);
    release(sb, "6.0.2").await;
    wait_for(canaries, "phase Failed", |s| s.phase == Phase::Failed).await;
    let failed = slack_message(&receiver, "podinfo.test rolled back").await;
    let text = failed.body["blocks"][1]["text"]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("failed checks threshold reached 2"), "{text}");
    assert!(text.contains("webhook load-test") && text.contains("500"), "which check and what it said: {text}");
    let pager = eventually(Duration::from_secs(30), "the generic alert", || async {
        receiver.calls_to("/generic").into_iter().next()
    })
    .await;
    assert_eq!(receiver.calls_to("/generic").len(), 1, "only the error reaches an error-only alert");
    assert_eq!(pager.body["severity"], "error");
    assert_eq!(pager.body["phase"], "Failed");
    assert_eq!(pager.body["title"], "podinfo.test rolled back");
    assert_eq!(pager.body["fields"]["Image"], "ghcr.io/stefanprodan/podinfo:6.0.2");
    assert_eq!(pager.body["fields"]["Failed checks"], "2 of 2");
    assert!(pager.headers.get("authorization").is_none(), "no token, no header");
    // The warn alert got the waiting and the failure (and answered 500 to both).
    let discord = receiver.calls_to("/discord/api/webhooks/1/DISCORDSECRET");
    let titles: Vec<_> = discord.iter().map(|c| c.body["embeds"][0]["title"].as_str().unwrap_or_default()).collect();
    assert_eq!(titles, ["podinfo.test is waiting for approval", "podinfo.test rolled back"]);

    let logged = std::fs::read_to_string(log).unwrap();
    assert!(logged.contains("alert not sent"), "the failing provider is logged");
    assert!(logged.contains("event webhook failed"), "the failing event sink is logged");
    for secret in [TOKEN, "SLACKSECRET", "DISCORDSECRET", "EVENTSECRET"] {
        assert!(!logged.contains(secret), "{secret} in the controller's log:\n{logged}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_without_alerts_use_the_default_provider_of_the_flags() {
    let receiver = Receiver::start().await;
    receiver.answer("/gate", 403);
    let url = receiver.url.clone();
    let manifest = format!(
        r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: test}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898}}
  analysis:
    interval: 2s
    stepWeight: 50
    webhooks: [{{name: change-freeze, type: confirm-rollout, url: "{url}/gate"}}]
"#
    );
    let address = format!("{url}/default");
    let flags = ["--alert-address", &address, "--alert-type", "generic", "--alert-severity", "warn"];
    let run = started(&format!("{}---{}", podinfo(1), manifest), &flags).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    release(sb, "6.0.1").await;
    wait_for(canaries, "phase Waiting", |s| s.phase == Phase::Waiting).await;
    let waiting = eventually(Duration::from_secs(30), "the default provider's message", || async {
        receiver.calls_to("/default").into_iter().next()
    })
    .await;
    assert_eq!(waiting.body["title"], "podinfo.test is waiting for approval");
    assert_eq!(waiting.body["severity"], "warn");
    assert!(waiting.body["message"].as_str().unwrap().contains("webhook change-freeze"), "{}", waiting.body);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sent: Vec<_> = receiver.calls_to("/default").iter().map(|c| c.body["title"].clone()).collect();
    assert_eq!(sent, ["podinfo.test is waiting for approval"], "info notices filtered out, the wait said once");
}
