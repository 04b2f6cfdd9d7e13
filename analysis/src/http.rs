//! What the Prometheus and Loki clients share: an HTTP client for one endpoint under a base
//! address, with a timeout on every request, the credentials and headers sent with each, and
//! the error that says which query went to which address. Credentials are never shown.

use fledge_crds::address::redacted;
use std::time::Duration;

/// Credentials from a Secret (`token`, or `username` and `password`).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself, not even in a Debug print.
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Why a query gave no answer: which query, which server, and what went wrong or came back.
#[derive(thiserror::Error, Debug)]
#[error("query {query:?} to {address}: {why}")]
pub struct QueryError {
    /// The query as sent; empty when the client could not be made.
    pub query: String,
    /// The server's address, its credentials redacted.
    pub address: String,
    /// What went wrong or came back.
    pub why: String,
}

impl QueryError {
    /// The error of `query` to `address` (redacted here).
    pub(crate) fn new(query: &str, address: &str, why: String) -> Self {
        Self { query: query.to_owned(), address: redacted(address), why }
    }
}

/// A client for `path` under `address` (an http or https URL; a path prefix such as
/// `/prometheus` stays). Errors are sentences without the address (the caller says it).
pub(crate) fn client(
    address: &str,
    path: &str,
    timeout: Duration,
    insecure_skip_verify: bool,
) -> Result<(reqwest::Client, url::Url), String> {
    let base = url::Url::parse(address).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err("not an http or https address".to_owned());
    }
    // Appended, not joined: joining would drop the base's own path.
    let endpoint =
        url::Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/'))).map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .danger_accept_invalid_certs(insecure_skip_verify)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((http, endpoint))
}

/// The request with the extra headers and the credentials.
pub(crate) fn authorize(
    mut request: reqwest::RequestBuilder,
    headers: &[(String, String)],
    auth: Option<&Auth>,
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match auth {
        Some(Auth::Bearer(token)) => request.bearer_auth(token),
        Some(Auth::Basic { username, password }) => request.basic_auth(username, Some(password)),
        None => request,
    }
}

/// Why a request got no answer, for people: a timeout says how long was waited.
pub(crate) fn no_answer(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() { format!("no answer within {timeout:?}") } else { error.to_string() }
}
