//! Sending a notification: one JSON POST with a timeout, through the destination's proxy when
//! it names one. Does I/O (HTTP).
//!
//! A notification is tried once and not retried: it is best effort, the next event brings a
//! new message, and waiting through retries would hold up whoever sends it. The caller gets a
//! [`SendError`] to log and count.

use super::{Destination, Message, body, provider_name, redacted_address};
use crate::client::{Error, cause};
use fledge_crds::address::redacted;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a notification may take, connecting and answering included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters of an answer quoted in an error.
const QUOTED_BODY_CHARS: usize = 200;

/// Bytes of an answer read to quote it, so a runaway answer cannot take the controller's memory.
const READ_BODY_BYTES: usize = 4096;

/// Why a notification was not delivered. Its message names the provider and the redacted
/// address (never the token, nor the address's secret path or query) and says what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The address is not an http(s) URL; sending again will not help.
    #[error("{provider} notification to {address}: the address is not a valid http(s) URL ({why})")]
    InvalidAddress {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// What is wrong with it.
        why: String,
    },
    /// The `proxy` cannot be used; sending again will not help.
    #[error("{provider} notification to {address}: the proxy {proxy} cannot be used ({why})")]
    InvalidProxy {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// The proxy URL, its credentials redacted.
        proxy: String,
        /// What is wrong with it.
        why: String,
    },
    /// The service answered with a status outside 2xx.
    #[error("{provider} notification to {address} was answered HTTP {status}, {}", said(.body))]
    Status {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// The answer's status.
        status: reqwest::StatusCode,
        /// Up to 200 characters of the answer.
        body: String,
    },
    /// No answer within the timeout.
    #[error("{provider} notification to {address} timed out: no answer within {timeout:?}")]
    Timeout {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The service could not be reached (DNS, connection refused, TLS, the proxy).
    #[error("{provider} notification to {address} could not be sent: {cause}")]
    Unreachable {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// The error and its causes, without any URL.
        cause: String,
    },
    /// Slack's `chat.postMessage` answered 200 with `"ok": false` (a wrong channel or token).
    #[error("{provider} notification to {address} was refused: Slack answered {error:?}")]
    Refused {
        /// The provider type, as in the AlertProvider.
        provider: &'static str,
        /// The address, redacted.
        address: String,
        /// Slack's `error`, for example `channel_not_found`.
        error: String,
    },
}

impl SendError {
    /// A short static name for metric labels and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::InvalidAddress { .. } => "invalid_address",
            Self::InvalidProxy { .. } => "invalid_proxy",
            Self::Status { .. } => "status",
            Self::Timeout { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::Refused { .. } => "refused",
        }
    }
}

fn said(body: &str) -> String {
    if body.is_empty() { "with an empty body".to_owned() } else { format!("saying: {body}") }
}

/// Sends messages. Cheap to clone; hold one for the controller's life so connections are reused.
#[derive(Clone)]
pub struct Notifiers {
    direct: reqwest::Client,
    /// One client per proxy URL, so connections through a proxy are reused too.
    proxied: Arc<Mutex<HashMap<String, reqwest::Client>>>,
    timeout: Duration,
}

impl fmt::Debug for Notifiers {
    // By hand: the cache's keys are proxy URLs, which may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxies = self.proxied.lock().map_or(0, |cache| cache.len());
        f.debug_struct("Notifiers").field("timeout", &self.timeout).field("proxies", &proxies).finish()
    }
}

impl Notifiers {
    /// Notifiers with the default timeout of 10 seconds.
    pub fn new() -> Result<Self, Error> {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// Notifiers giving every request `timeout` (tests use milliseconds).
    pub fn with_timeout(timeout: Duration) -> Result<Self, Error> {
        let direct = reqwest::Client::builder().build().map_err(Error::Build)?;
        Ok(Self { direct, proxied: Arc::default(), timeout })
    }

    /// POSTs the message as the destination's provider expects it, as JSON, with the bearer
    /// token when one is set. Any 2xx is delivered, except a Slack answer of `"ok": false`
    /// when a token is set (`chat.postMessage` reports failures that way). Tried once.
    pub async fn send(&self, dest: &Destination, message: &Message) -> Result<(), SendError> {
        let provider = provider_name(dest.kind);
        let address = redacted_address(&dest.address);
        if dest.address.trim().is_empty() {
            let why = "it is empty; set the AlertProvider's address or its Secret's key address".to_owned();
            return Err(SendError::InvalidAddress { provider, address, why });
        }
        let url = match reqwest::Url::parse(&dest.address) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                let why = format!("its scheme is {:?}", url.scheme());
                return Err(SendError::InvalidAddress { provider, address, why });
            }
            Err(why) => return Err(SendError::InvalidAddress { provider, address, why: why.to_string() }),
        };
        let http = match dest.proxy.as_deref().filter(|p| !p.is_empty()) {
            None => self.direct.clone(),
            Some(proxy) => self.proxied(proxy).map_err(|error| SendError::InvalidProxy {
                provider,
                address: address.clone(),
                proxy: redacted(proxy),
                why: cause(error),
            })?,
        };
        let json = body(dest.kind, dest.channel.as_deref(), dest.username.as_deref(), message);
        let mut request = http
            .post(url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json.to_string());
        if let Some(token) = dest.token.as_deref().filter(|t| !t.is_empty()) {
            request = request.bearer_auth(token);
        }

        let failed = |error: reqwest::Error| match error.is_timeout() {
            true => SendError::Timeout { provider, address: address.clone(), timeout: self.timeout },
            false => SendError::Unreachable { provider, address: address.clone(), cause: cause(error) },
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let check_slack = dest.kind == fledge_crds::AlertProviderType::Slack && dest.token.is_some();
        if status.is_success() && !check_slack {
            return Ok(());
        }
        let answer = read_some(response).await.map_err(failed)?;
        if !status.is_success() {
            return Err(SendError::Status { provider, address, status, body: quote(&answer) });
        }
        match serde_json::from_str::<serde_json::Value>(&answer) {
            Ok(reply) if reply["ok"] == false => {
                let error = quote(reply["error"].as_str().unwrap_or("no error given"));
                Err(SendError::Refused { provider, address, error })
            }
            _ => Ok(()),
        }
    }

    /// The client for `proxy`, built on first use.
    fn proxied(&self, proxy: &str) -> Result<reqwest::Client, reqwest::Error> {
        let mut cache = self.proxied.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = cache.get(proxy) {
            return Ok(client.clone());
        }
        let client = reqwest::Proxy::all(proxy).and_then(|proxy| reqwest::Client::builder().proxy(proxy).build())?;
        cache.insert(proxy.to_owned(), client.clone());
        Ok(client)
    }
}

/// The start of an answer, far enough to quote it.
async fn read_some(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut bytes = Vec::new();
    while bytes.len() < READ_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) if error.is_timeout() => return Err(error),
            // What was read still says something.
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// At most [`QUOTED_BODY_CHARS`] characters of `text`, trimmed, with `…` where it was cut.
fn quote(text: &str) -> String {
    let text = text.trim();
    let mut quoted: String = text.chars().take(QUOTED_BODY_CHARS).collect();
    if text.chars().nth(QUOTED_BODY_CHARS).is_some() {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_are_quoted_in_part() {
        let quoted = quote(&format!("  {}  ", "é".repeat(300)));
        assert_eq!(quoted.chars().count(), QUOTED_BODY_CHARS + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(quote(" no_service \n"), "no_service");
    }
}
