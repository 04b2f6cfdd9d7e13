//! Calling one webhook: a signed JSON POST with a timeout on every attempt, retried with
//! exponential backoff, and an outcome a person can read. Does I/O (HTTP).

use crate::payload::Payload;
use fledge_crds::address::redacted;
use fledge_crds::canary::CanaryWebhook;
use fledge_crds::schedule::parse_go_duration;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;
use std::time::Duration;

/// Flagger's default when a hook names no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The header carrying the body's HMAC-SHA256 when the hook names a `secretRef`.
pub const SIGNATURE_HEADER: &str = "X-Fledge-Signature";

/// Characters of an answer quoted in a failure message.
const QUOTED_BODY_CHARS: usize = 200;

/// Bytes of an answer read to quote it: enough for the quote, bounded so a runaway answer
/// cannot take the controller's memory.
const READ_BODY_BYTES: usize = 4096;

/// The most extra attempts a hook may ask for (the CRD's bound; a larger value is clamped).
const MAX_RETRIES: u32 = 10;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client (its TLS backend) could not be initialised.
    #[error("building the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

impl Error {
    /// A short static name for metric labels and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Build(_) => "build",
        }
    }
}

/// The wait between attempts: `base`, then doubled after each failed retry, never above `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1s, 2s, 4s ... up to 30s, as Flagger's retrying client waits.
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Why a call did not pass, for metric labels and for deciding what to tell people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The hook answered with a status outside 2xx.
    Status,
    /// No answer within the hook's timeout.
    Timeout,
    /// The hook could not be reached (DNS, connection refused, TLS, a broken answer).
    Unreachable,
    /// The hook's spec cannot be called (its URL or timeout); retrying will not help.
    Invalid,
}

impl Failure {
    /// A short static name for metric labels and event reasons.
    pub fn category(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Invalid => "invalid",
        }
    }
}

/// What came of calling a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The hook answered 2xx. What that means is the hook type's business: a gate opens, a
    /// rollout check passes, a rollback hook asks for a rollback.
    pub passed: bool,
    /// The status of the last answer, if there was one.
    pub status: Option<u16>,
    /// Requests made (0 when the spec could not be called at all).
    pub attempts: u32,
    /// Why it did not pass, `None` when it passed.
    pub failure: Option<Failure>,
    /// A sentence for events, conditions and logs, naming the hook and its (redacted) URL.
    pub message: String,
}

/// Calls webhooks. Cheap to clone; hold one for the controller's life so connections are reused.
#[derive(Clone, Debug)]
pub struct Hooks {
    http: reqwest::Client,
    /// For hooks with `disableTLS`: a client of its own, so skipping verification for one
    /// hook never weakens the others.
    insecure: reqwest::Client,
    backoff: Backoff,
}

/// How one attempt ended.
enum Attempt {
    Answered {
        status: reqwest::StatusCode,
        body: String,
    },
    Timeout,
    /// No answer: why, and whether it was the receiver's certificate that was refused.
    Unreachable {
        why: String,
        certificate: bool,
    },
}

impl Hooks {
    /// A client with the default backoff (1s, doubling, at most 30s).
    pub fn new() -> Result<Self, Error> {
        Self::with_backoff(Backoff::default())
    }

    /// A client waiting `backoff` between attempts (tests use milliseconds).
    pub fn with_backoff(backoff: Backoff) -> Result<Self, Error> {
        let http = reqwest::Client::builder().build().map_err(Error::Build)?;
        let insecure = reqwest::Client::builder().danger_accept_invalid_certs(true).build().map_err(Error::Build)?;
        Ok(Self { http, insecure, backoff })
    }

    /// POSTs `payload` as JSON to the hook's URL, with the hook's timeout on every attempt and
    /// up to `retries` extra attempts. Any 2xx passes. With `signing_key`, the header
    /// `X-Fledge-Signature: sha256=<hex HMAC-SHA256 of the exact body>` is sent.
    ///
    /// A 4xx other than 429 is not retried: it is the receiver's answer (a closed gate, a
    /// refused request), and asking again would only delay the rollout, as Flagger's retrying
    /// client does not retry it either. Timeouts, unreachable hooks, 429 and 5xx are retried.
    pub async fn call(&self, hook: &CanaryWebhook, payload: &Payload, signing_key: Option<&[u8]>) -> Outcome {
        let shown = redacted(&hook.url);
        let name = &hook.name;
        let invalid = |why: String| Outcome {
            passed: false,
            status: None,
            attempts: 0,
            failure: Some(Failure::Invalid),
            message: format!("webhook {name:?} at {shown} cannot be called: {why}"),
        };

        let timeout = match hook.timeout.as_deref().filter(|t| !t.is_empty()).map(parse_go_duration) {
            None => DEFAULT_TIMEOUT,
            Some(Ok(timeout)) if !timeout.is_zero() => timeout,
            Some(Ok(_)) => return invalid("its timeout is zero; give it one such as 10s".to_owned()),
            Some(Err(why)) => return invalid(format!("its timeout {why}")),
        };
        let url = match reqwest::Url::parse(&hook.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(_) => return invalid("the URL is not http or https".to_owned()),
            Err(why) => return invalid(format!("the URL is not valid ({why})")),
        };
        let body = match serde_json::to_vec(payload) {
            Ok(body) => body,
            Err(why) => return invalid(format!("the body could not be written as JSON ({why})")),
        };
        let signature = signing_key.map(|key| signature(key, &body));
        let retries = u32::try_from(hook.retries.unwrap_or(0)).unwrap_or(0).min(MAX_RETRIES);
        let http = if hook.disable_tls.unwrap_or(false) { &self.insecure } else { &self.http };

        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut request = http
                .post(url.clone())
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(signature) = &signature {
                request = request.header(SIGNATURE_HEADER, signature.as_str());
            }
            let attempt = send(request).await;
            let retryable = match &attempt {
                Attempt::Answered { status, .. } if status.is_success() => false,
                Attempt::Answered { status, .. } => {
                    status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
                }
                Attempt::Timeout | Attempt::Unreachable { .. } => true,
            };
            if retryable && attempts <= retries {
                tokio::time::sleep(self.backoff.delay(attempts)).await;
                continue;
            }
            return outcome(name, &shown, timeout, attempts, attempt);
        }
    }
}

/// One request, its answer read far enough to quote it.
async fn send(request: reqwest::RequestBuilder) -> Attempt {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => return Attempt::Timeout,
        Err(error) => {
            let certificate = matches!(tls_error(&error), Some(rustls::Error::InvalidCertificate(_)));
            return Attempt::Unreachable { why: cause(error), certificate };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Answered { status, body: String::new() };
    }
    let mut bytes = Vec::new();
    while bytes.len() < READ_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) if error.is_timeout() => return Attempt::Timeout,
            // The status is the answer; a body cut short still says something.
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut body: String = text.trim().chars().take(QUOTED_BODY_CHARS).collect();
    if text.trim().chars().nth(QUOTED_BODY_CHARS).is_some() {
        body.push('…');
    }
    Attempt::Answered { status, body }
}

/// The outcome of the last attempt, told for people.
fn outcome(name: &str, shown: &str, timeout: Duration, attempts: u32, last: Attempt) -> Outcome {
    let tries = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
    let (passed, status, failure, message) = match last {
        Attempt::Answered { status, .. } if status.is_success() => {
            (true, Some(status.as_u16()), None, format!("webhook {name:?} at {shown} answered HTTP {status} ({tries})"))
        }
        Attempt::Answered { status, body } => {
            let said = if body.is_empty() { "with an empty body".to_owned() } else { format!("saying: {body}") };
            let message = format!("webhook {name:?} at {shown} answered HTTP {status} ({tries}), {said}");
            (false, Some(status.as_u16()), Some(Failure::Status), message)
        }
        Attempt::Timeout => {
            let message = format!(
                "webhook {name:?} at {shown} timed out: no answer within {timeout:?} ({tries}); \
                 check the receiver, or raise the hook's timeout if its work takes longer"
            );
            (false, None, Some(Failure::Timeout), message)
        }
        Attempt::Unreachable { why, certificate } => {
            // Only the verifying client refuses certificates, so the hook has no disableTLS.
            let advice = match certificate {
                true => {
                    "; give the receiver a certificate from a public authority, add your authority to the \
                         controller's system trust store, or set disableTLS: true on the hook to skip the check"
                }
                false => "",
            };
            let message = format!("webhook {name:?} at {shown} could not be reached ({tries}): {why}{advice}");
            (false, None, Some(Failure::Unreachable), message)
        }
    };
    Outcome { passed, status, attempts, failure, message }
}

/// The error and its causes, without the URL reqwest writes into it (it may hold credentials;
/// the message names the redacted URL already). When TLS failed, it starts with what that
/// means for a person, as the causes alone (`invalid peer certificate: UnknownIssuer`) do not.
pub(crate) fn cause(error: reqwest::Error) -> String {
    let error = error.without_url();
    let problem = tls_error(&error).map(tls_problem);
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            let _ = write!(text, ": {inner_text}");
        }
        source = inner.source();
    }
    match problem {
        Some(problem) => format!("{problem} ({text})"),
        None => text,
    }
}

/// The TLS error among `error`'s causes, if TLS is why it failed. rustls' error comes wrapped
/// in `io::Error`s, whose `source()` skips the error they wrap, so those are opened instead.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut source = Some(error);
    while let Some(inner) = source {
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        source = match inner.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|wrapped| wrapped as &(dyn std::error::Error + 'static)),
            None => inner.source(),
        };
    }
    None
}

/// A TLS failure, said so a person knows where to look.
fn tls_problem(error: &rustls::Error) -> &'static str {
    use rustls::CertificateError as Certificate;
    let rustls::Error::InvalidCertificate(refused) = error else {
        return "the TLS handshake with the receiver failed";
    };
    match refused {
        // Fledge trusts the Mozilla roots reqwest is built with and the system's trust store.
        Certificate::UnknownIssuer => {
            "the receiver's certificate is not trusted: it is self-signed or signed by an authority \
             that is neither a public one nor in the controller's system trust store"
        }
        Certificate::Expired | Certificate::ExpiredContext { .. } => "the receiver's certificate has expired",
        Certificate::NotValidYet | Certificate::NotValidYetContext { .. } => {
            "the receiver's certificate is not valid yet (is a clock wrong?)"
        }
        Certificate::NotValidForName | Certificate::NotValidForNameContext { .. } => {
            "the receiver's certificate is not for the host in the URL"
        }
        Certificate::Revoked => "the receiver's certificate has been revoked",
        _ => "the receiver's certificate was refused",
    }
}

/// `sha256=<lowercase hex of HMAC-SHA256(key, body)>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut text = String::with_capacity(7 + 2 * digest.len());
    text.push_str("sha256=");
    for byte in digest {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff::default();
        let waits: Vec<u64> = (1..=7).map(|retry| backoff.delay(retry).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff.delay(100), Duration::from_secs(30));
    }

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
