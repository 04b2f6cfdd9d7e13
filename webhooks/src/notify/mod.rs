//! Notifications: telling people in chat what a rollout did. A [`Message`] is provider-neutral
//! data the controller fills in; [`body`] writes it as the JSON one service expects (pure, one
//! file per service); [`Notifiers`] POSTs it to a [`Destination`] (HTTP I/O, in `send.rs`).
//!
//! The bodies, and why each looks the way it does:
//!
//! - **Slack** (`slack.rs`): an incoming-webhook message with Block Kit blocks (a header, the
//!   text as mrkdwn, the facts as two-column fields, a context line), and a top-level `text`
//!   that Slack shows in notifications and where blocks cannot be drawn. The same body works
//!   for `chat.postMessage` when a token is set.
//! - **Microsoft Teams** (`msteams.rs`): a message carrying an Adaptive Card, the format of the
//!   Workflows (Power Automate) "post to a channel when a webhook request is received"
//!   webhooks. Office 365 connectors and their MessageCard format were retired, so the old
//!   `@type: MessageCard` body is not sent.
//! - **Discord** (`discord.rs`): Discord's native webhook with one embed (title, description,
//!   a colour bar, inline fields, a timestamp), within Discord's limits.
//! - **Rocket.Chat** (`rocket.rs`): its Slack-compatible incoming webhook with one attachment,
//!   which Rocket.Chat draws with a colour bar and short fields.
//! - **Google Chat** (`gchat.rs`): a `cardsV2` card (header, a paragraph, one decorated text
//!   per fact) and a plain `text` for notifications; the old `cards` (v1) format is deprecated.
//! - **Generic** (`generic.rs`): the message as plain JSON, for receivers of one's own.
//!
//! Text longer than a service accepts is cut between characters and marked with `…`, so a
//! long message is shortened rather than refused.

mod discord;
mod gchat;
mod generic;
mod msteams;
mod rocket;
mod send;
mod slack;
mod text;

pub use send::{DEFAULT_TIMEOUT, Notifiers, SendError};

use fledge_crds::Phase;
use fledge_crds::address::redacted;
use fledge_crds::alert_provider::AlertProviderType;
use k8s_openapi::jiff::Timestamp;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// How serious a message is (Flagger's alert severities).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Progress: a rollout started, advanced or succeeded.
    Info,
    /// Something needs a look but the rollout goes on (a gate waits, a check failed once).
    Warn,
    /// The rollout failed or was rolled back.
    Error,
}

impl Severity {
    /// `info`, `warn` or `error`, as in an alert's `severity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    /// The colour bar of services that draw one: Slack's own `good`, `warning` and `danger`
    /// colours, so messages look like the rest of a Slack-style channel.
    fn rgb(self) -> u32 {
        match self {
            Self::Info => 0x2EB886,
            Self::Warn => 0xDAA038,
            Self::Error => 0xA30200,
        }
    }

    /// The colour as `#rrggbb`.
    fn hex(self) -> String {
        format!("#{:06x}", self.rgb())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification, provider-neutral. Pure data.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Name of the Canary.
    pub name: String,
    /// Namespace of the Canary.
    pub namespace: String,
    /// The phase after the event.
    pub phase: Phase,
    /// How serious it is: chooses the colour and is shown.
    pub severity: Severity,
    /// One line, for example `podinfo.test rolled back`.
    pub title: String,
    /// The sentence people act on.
    pub text: String,
    /// Ordered facts shown as a table, for example `("Revision", "7f9c2b")`.
    pub fields: Vec<(String, String)>,
    /// When it happened.
    pub time: SystemTime,
}

impl Message {
    /// The title, or `name.namespace` when the title is empty (every service wants one).
    fn heading(&self) -> String {
        if self.title.trim().is_empty() { format!("{}.{}", self.name, self.namespace) } else { self.title.clone() }
    }

    /// `namespace/name`, as `kubectl` names the Canary.
    fn subject(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `time` as RFC 3339 in UTC, for example `2026-03-01T12:00:00Z`.
    fn timestamp(&self) -> String {
        rfc3339(self.time)
    }
}

/// RFC 3339 in UTC; a time outside what can be written is written as the Unix epoch.
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let nanos = i32::try_from(since.subsec_nanos()).unwrap_or(0);
    Timestamp::new(seconds, nanos).unwrap_or(Timestamp::UNIX_EPOCH).to_string()
}

/// Where a message goes, resolved by the controller from an AlertProvider and its Secret.
///
/// Its Debug never shows the token, and shows the address and proxy only redacted: an
/// incoming-webhook URL is a credential.
#[derive(Clone)]
pub struct Destination {
    /// Which service, and so which body.
    pub kind: AlertProviderType,
    /// The incoming-webhook URL (a credential).
    pub address: String,
    /// Sent as `Authorization: Bearer <token>` when set (Slack `chat.postMessage`, generic
    /// receivers).
    pub token: Option<String>,
    /// An http(s) proxy URL for the call.
    pub proxy: Option<String>,
    /// Channel to post to, where the service takes it from the body (Slack, Rocket.Chat).
    pub channel: Option<String>,
    /// Name the message appears from, where the service takes it from the body (Slack,
    /// Rocket.Chat, Discord).
    pub username: Option<String>,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("kind", &self.kind)
            .field("address", &redacted_address(&self.address))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("proxy", &self.proxy.as_deref().map(redacted))
            .field("channel", &self.channel)
            .field("username", &self.username)
            .finish()
    }
}

/// A notification address as it may be shown to people: the scheme, host and port only.
///
/// [`redacted`] hides credentials written as `user:password@`, but an incoming webhook's
/// secret is its path (Slack `/services/T…/B…/<secret>`, Discord `/api/webhooks/<id>/<token>`,
/// Rocket.Chat `/hooks/<id>/<token>`) or its query (Teams `sig=`, Google Chat `key=` and
/// `token=`), so those are replaced by `***` too.
pub fn redacted_address(address: &str) -> String {
    let shown = redacted(address);
    let Some((scheme, rest)) = shown.split_once("://") else {
        return "***".to_owned();
    };
    match rest.find(['/', '?', '#']) {
        Some(end) if rest[end..] != *"/" => format!("{scheme}://{}/***", &rest[..end]),
        Some(_) | None => shown,
    }
}

/// The provider's name as written in an AlertProvider's `type`.
pub fn provider_name(kind: AlertProviderType) -> &'static str {
    match kind {
        AlertProviderType::Slack => "slack",
        AlertProviderType::Msteams => "msteams",
        AlertProviderType::Discord => "discord",
        AlertProviderType::Rocket => "rocket",
        AlertProviderType::Gchat => "gchat",
        AlertProviderType::Generic => "generic",
    }
}

/// The JSON body for a provider. Pure and deterministic: the same message gives the same
/// bytes. `channel` and `username` are used where the service reads them from the body and
/// ignored elsewhere.
pub fn body(
    dest_kind: AlertProviderType,
    channel: Option<&str>,
    username: Option<&str>,
    message: &Message,
) -> serde_json::Value {
    let channel = channel.filter(|c| !c.is_empty());
    let username = username.filter(|u| !u.is_empty());
    match dest_kind {
        AlertProviderType::Slack => slack::body(channel, username, message),
        AlertProviderType::Msteams => msteams::body(message),
        AlertProviderType::Discord => discord::body(username, message),
        AlertProviderType::Rocket => rocket::body(channel, username, message),
        AlertProviderType::Gchat => gchat::body(message),
        AlertProviderType::Generic => generic::body(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn addresses_are_shown_without_their_secret_path_or_query() {
        let cases = [
            ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/***"),
            ("https://discord.com/api/webhooks/1/abc", "https://discord.com/***"),
            ("https://chat.googleapis.com/v1/spaces/S/messages?key=K&token=T", "https://chat.googleapis.com/***"),
            ("https://x.logic.azure.com:443/workflows/1/triggers?sig=S", "https://x.logic.azure.com/***"),
            ("http://u:p@hooks:8080/x", "http://***@hooks:8080/***"),
            ("http://hooks:8080?token=T", "http://hooks:8080/***"),
            ("http://hooks:8080/", "http://hooks:8080/"),
            ("http://hooks:8080", "http://hooks:8080"),
            ("hooks.slack.com/services/T000/B000/XXXX", "***"),
        ];
        for (address, shown) in cases {
            assert_eq!(redacted_address(address), shown, "{address}");
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_772_366_400)), "2026-03-01T12:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_772_366_400_250)), "2026-03-01T12:00:00.25Z");
        assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn colours_are_slacks() {
        assert_eq!(Severity::Error.hex(), "#a30200");
        assert_eq!(Severity::Warn.hex(), "#daa038");
        assert_eq!(Severity::Info.hex(), "#2eb886");
    }
}
