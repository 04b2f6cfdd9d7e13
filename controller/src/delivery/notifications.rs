//! Notifications: each [`Notice`] the lifecycle gives out goes to the Canary's
//! `analysis.alerts` whose severity lets it through, or, for a Canary without alerts, to the
//! controller's default provider (its `--alert-*` flags), as Flagger's per-canary alerts
//! override its global Slack or Teams settings. Does I/O (AlertProviders, Secrets, chat).
//!
//! Notices are queued to one worker, in order, so a slow chat service never holds up a
//! reconcile and `aborted` is never posted after `rolled back`. An AlertProvider's address,
//! token and proxy are read from its Secret when the message is sent, so a rotated Secret
//! takes effect at once; none of them is ever logged (addresses are shown redacted).

use crate::checks::credentials::{self, SecretError};
use crate::checks::lookup::{self, LookupError};
use crate::delivery::Notifier;
use crate::delivery::queue::Queue;
use fledge_core::{Notice, NoticeKind};
use fledge_crds::alert_provider::{AlertProvider, AlertProviderType};
use fledge_crds::canary::{AlertSeverity, Canary};
pub use fledge_webhooks::Severity;
use fledge_webhooks::notify::{provider_name, redacted_address};
use fledge_webhooks::{Destination, Message, Notifiers};
use futures::future::BoxFuture;
use kube::{Client, ResourceExt};
use std::time::SystemTime;
use tokio::task::JoinHandle;

/// The provider of Canaries without `analysis.alerts`, from the controller's flags.
#[derive(Clone)]
pub struct DefaultProvider {
    /// Where and how to send.
    pub destination: Destination,
    /// The least severe notice sent.
    pub severity: Severity,
}

impl std::fmt::Debug for DefaultProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destination's Debug redacts the address and the token.
        f.debug_struct("DefaultProvider")
            .field("destination", &self.destination)
            .field("severity", &self.severity)
            .finish()
    }
}

/// One notice to send.
struct Queued {
    canary: Canary,
    message: Message,
}

/// Sends notices to AlertProviders (the production [`Notifier`]).
#[derive(Clone, Debug)]
pub struct AlertNotifier {
    queue: Queue<Queued>,
    /// The `--cluster-name` every message names.
    cluster: Option<String>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued").field("title", &self.message.title).finish_non_exhaustive()
    }
}

impl AlertNotifier {
    /// Start the sending worker (on the current tokio runtime). Every message names `cluster`
    /// when given (`--cluster-name`). The worker ends once every clone of the answer is dropped
    /// and the queue is empty.
    pub fn spawn(
        client: Client,
        notifiers: Notifiers,
        default: Option<DefaultProvider>,
        cluster: Option<String>,
    ) -> (Self, JoinHandle<()>) {
        let (queue, worker) = Queue::spawn("notifications", move |queued: Queued| {
            let (client, notifiers, default) = (client.clone(), notifiers.clone(), default.clone());
            async move { deliver(&client, &notifiers, default.as_ref(), &queued).await }
        });
        (Self { queue, cluster: cluster.filter(|c| !c.trim().is_empty()) }, worker)
    }
}

impl Notifier for AlertNotifier {
    fn notify<'a>(&'a self, canary: &'a Canary, notice: &'a Notice) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let message = message(canary, notice, self.cluster.as_deref(), SystemTime::now());
            tracing::info!(severity = %message.severity, message = %message.text, "notice");
            self.queue.push(Queued { canary: canary.clone(), message });
        })
    }
}

/// The provider-neutral message of a notice about `canary` (its status as decided), with the
/// fact `Cluster` first when the controller was given a `cluster` name (as Flagger's
/// `-cluster-name`), so one channel can hear from several clusters. Pure.
pub fn message(canary: &Canary, notice: &Notice, cluster: Option<&str>, time: SystemTime) -> Message {
    let name = canary.name_any();
    let namespace = canary.namespace().unwrap_or_default();
    let cluster = cluster.map(|c| ("Cluster".to_owned(), c.to_owned()));
    Message {
        title: notice.kind.title(&format!("{name}.{namespace}")),
        name,
        namespace,
        phase: canary.status.as_ref().map(|s| s.phase).unwrap_or_default(),
        severity: severity_of(notice.kind),
        text: notice.message.clone(),
        fields: cluster.into_iter().chain(notice.facts.iter().cloned()).collect(),
        time,
    }
}

/// Flagger's alert severity of a kind of notice.
pub fn severity_of(kind: NoticeKind) -> Severity {
    match kind {
        NoticeKind::Started | NoticeKind::Promoted | NoticeKind::Manual => Severity::Info,
        NoticeKind::Waiting | NoticeKind::Warning => Severity::Warn,
        NoticeKind::Failed => Severity::Error,
    }
}

/// Whether an alert of `wanted` severity is sent a message of `severity`: `info` gets every
/// message, `warn` warnings and errors, `error` errors only (Flagger's filter).
pub fn passes(wanted: Option<AlertSeverity>, severity: Severity) -> bool {
    let least = match wanted.unwrap_or_default() {
        AlertSeverity::Unset | AlertSeverity::Info => Severity::Info,
        AlertSeverity::Warn => Severity::Warn,
        AlertSeverity::Error => Severity::Error,
    };
    severity >= least
}

async fn deliver(client: &Client, notifiers: &Notifiers, default: Option<&DefaultProvider>, queued: &Queued) {
    let canary = &queued.canary;
    let message = &queued.message;
    let alerts = canary.spec.analysis.alerts.as_deref().unwrap_or_default();
    if alerts.is_empty() {
        if let Some(default) = default.filter(|d| message.severity >= d.severity) {
            send(notifiers, "default", &default.destination, message).await;
        }
        return;
    }
    let own = canary.namespace().unwrap_or_default();
    for alert in alerts.iter().filter(|a| passes(a.severity, message.severity)) {
        let namespace = alert.provider_ref.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| own.clone());
        match destination(client, &namespace, &alert.provider_ref.name).await {
            Ok(destination) => send(notifiers, &alert.name, &destination, message).await,
            Err(why) => tracing::warn!(canary = %message.name, alert = %alert.name, error = %why, "alert not sent"),
        }
    }
}

async fn send(notifiers: &Notifiers, alert: &str, destination: &Destination, message: &Message) {
    let provider = provider_name(destination.kind);
    match notifiers.send(destination, message).await {
        Ok(()) => tracing::debug!(
            canary = %message.name, alert, provider, address = %redacted_address(&destination.address), "alert sent"
        ),
        // SendError names the address redacted and never the token.
        Err(e) => tracing::warn!(canary = %message.name, alert, provider, error = %e, "alert not sent"),
    }
}

/// Why an AlertProvider gave no destination; its message names the object that is wrong.
#[derive(thiserror::Error, Debug)]
pub enum DestinationError {
    /// The AlertProvider could not be read, or does not exist.
    #[error(transparent)]
    Provider(#[from] LookupError),
    /// Its Secret could not be read, or does not exist.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Neither the spec nor the Secret gives an address.
    #[error("AlertProvider {namespace}/{name} has no address: set spec.address or the key address of its Secret")]
    NoAddress {
        /// The AlertProvider's namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// Where an AlertProvider sends: its spec, with its Secret's `address`, `token`, `proxy`
/// taking precedence.
pub async fn destination(client: &Client, namespace: &str, name: &str) -> Result<Destination, DestinationError> {
    let provider: AlertProvider = lookup::named(client, namespace, name).await?;
    let spec = provider.spec;
    let mut secret = match &spec.secret_ref {
        Some(secret) => credentials::texts(client, namespace, &secret.name).await?,
        None => Default::default(),
    };
    let mut take = |key: &str| secret.remove(key).filter(|v| !v.is_empty());
    let address = take("address")
        .or(spec.address)
        .ok_or_else(|| DestinationError::NoAddress { namespace: namespace.to_owned(), name: name.to_owned() })?;
    Ok(Destination {
        kind: spec.r#type,
        address,
        token: take("token"),
        proxy: take("proxy").or(spec.proxy),
        channel: spec.channel,
        username: spec.username,
    })
}

/// The provider type named on the command line (`slack`, `msteams`, ...).
pub fn parse_type(text: &str) -> Result<AlertProviderType, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        format!("{text:?} is not an alert provider type: slack, msteams, discord, rocket, gchat or generic")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::mk_canary;

    #[test]
    fn severities_filter_as_in_flagger() {
        use AlertSeverity as A;
        use Severity as S;
        for (wanted, sent) in [
            (None, vec![S::Info, S::Warn, S::Error]),
            (Some(A::Unset), vec![S::Info, S::Warn, S::Error]),
            (Some(A::Info), vec![S::Info, S::Warn, S::Error]),
            (Some(A::Warn), vec![S::Warn, S::Error]),
            (Some(A::Error), vec![S::Error]),
        ] {
            let got: Vec<_> = [S::Info, S::Warn, S::Error].into_iter().filter(|s| passes(wanted, *s)).collect();
            assert_eq!(got, sent, "{wanted:?}");
        }
    }

    /// A rolled-back notice as the lifecycle gives it out (its facts are pinned by the decide
    /// tests) becomes, for each service, exactly the golden body of the webhooks crate.
    #[test]
    fn a_rollback_notice_is_the_golden_message_for_every_service() {
        use fledge_core::NoticeKind;
        use std::time::{Duration, UNIX_EPOCH};
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 1m, stepWeight: 10}
status: {phase: Failed}
",
        );
        let fact = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let notice = Notice {
            kind: NoticeKind::Failed,
            message: "Rolling back podinfo.test: failed checks threshold reached 2 (last: metric \
                      request-success-rate: request-success-rate 91.300 is below the minimum 99)"
                .to_owned(),
            facts: vec![
                fact("Revision", "7f9c2b"),
                fact("Image", "ghcr.io/stefanprodan/podinfo:6.0.1"),
                fact("Phase", "Failed"),
                fact("Failed checks", "2 of 2"),
                fact("Duration", "4m 30s"),
            ],
        };
        // 2026-03-01T12:00:00Z, the golden files' time.
        let sent = message(&canary, &notice, None, UNIX_EPOCH + Duration::from_secs(1_772_366_400));
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../webhooks/tests/golden");
        for kind in [
            AlertProviderType::Slack,
            AlertProviderType::Msteams,
            AlertProviderType::Discord,
            AlertProviderType::Rocket,
            AlertProviderType::Gchat,
            AlertProviderType::Generic,
        ] {
            let file = golden.join(format!("{}.json", provider_name(kind)));
            let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let got = fledge_webhooks::notify::body(kind, Some("#releases"), Some("fledge"), &sent);
            assert_eq!(got, want, "{}", file.display());
        }
    }

    #[test]
    fn the_cluster_name_is_the_first_fact() {
        use fledge_core::NoticeKind;
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {stepWeight: 10}
",
        );
        let notice = Notice {
            kind: NoticeKind::Failed,
            message: "Rolling back podinfo.test".to_owned(),
            facts: vec![("Phase".to_owned(), "Failed".to_owned())],
        };
        let sent = message(&canary, &notice, Some("prod-eu-1"), SystemTime::UNIX_EPOCH);
        let fact = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(sent.fields, [fact("Cluster", "prod-eu-1"), fact("Phase", "Failed")]);
        assert_eq!(message(&canary, &notice, None, SystemTime::UNIX_EPOCH).fields, [fact("Phase", "Failed")]);
    }

    #[test]
    fn provider_types_parse_by_their_spec_names() {
        assert_eq!(parse_type("msteams"), Ok(AlertProviderType::Msteams));
        assert_eq!(parse_type("gchat"), Ok(AlertProviderType::Gchat));
        assert!(parse_type("teams").unwrap_err().contains("slack, msteams"));
    }
}
