//! A Prometheus client for instant queries (`/api/v1/query`): a timeout on every call, bearer
//! or basic auth from a MetricTemplate's Secret, extra headers, and an error that says which
//! query, which address and what came back. Does I/O. Credentials are never logged or shown.

use crate::http;
use crate::promql::{self, Answer};
use fledge_crds::address::redacted;
use std::time::Duration;

/// Credentials from a MetricTemplate's Secret (`token`, or `username` and `password`).
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

/// How to reach a Prometheus.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base address, for example `http://prometheus.istio-system:9090`.
    pub address: String,
    /// Credentials, if any.
    pub auth: Option<Auth>,
    /// Extra headers sent with every query.
    pub headers: Vec<(String, String)>,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
    /// How long a query may take.
    pub timeout: Duration,
}

impl Settings {
    /// An address with no credentials and a 10 s timeout.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            auth: None,
            headers: Vec::new(),
            insecure_skip_verify: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a query gave no answer.
#[derive(thiserror::Error, Debug)]
#[error("query {query:?} to {address}: {why}")]
pub struct QueryError {
    /// The query as sent.
    pub query: String,
    /// The Prometheus address.
    pub address: String,
    /// What went wrong or came back.
    pub why: String,
}

/// A Prometheus to query.
#[derive(Clone, Debug)]
pub struct Prometheus {
    http: reqwest::Client,
    settings: Settings,
    endpoint: url::Url,
}

impl Prometheus {
    /// A client for `settings`; fails on an address that is not an http(s) URL.
    pub fn new(settings: Settings) -> Result<Self, QueryError> {
        let (http, endpoint) =
            http::client(&settings.address, "/api/v1/query", settings.timeout, settings.insecure_skip_verify)
                .map_err(|why| QueryError { query: String::new(), address: redacted(&settings.address), why })?;
        Ok(Self { http, settings, endpoint })
    }

    /// Run an instant query.
    pub async fn query(&self, query: &str) -> Result<Answer, QueryError> {
        let fail = |why: String| QueryError { query: query.to_owned(), address: redacted(&self.settings.address), why };
        let request = self.http.post(self.endpoint.clone()).form(&[("query", query)]);
        let request = http::authorize(request, &self.settings.headers, self.settings.auth.as_ref());
        let response = request.send().await.map_err(|e| fail(http::no_answer(&e, self.settings.timeout)))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| fail(format!("reading the answer: {e}")))?;
        // Prometheus answers errors (400, 422, 503) with its JSON error body; read it either way.
        match promql::read(&body) {
            Ok(answer) => Ok(answer),
            Err(e) if status.is_success() => Err(fail(e.to_string())),
            Err(promql::AnswerError::Failed { error_type, error }) => {
                Err(fail(format!("HTTP {status}, Prometheus answered {error_type}: {error}")))
            }
            Err(_) => Err(fail(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>()))),
        }
    }
}
