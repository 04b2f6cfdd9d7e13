//! A Prometheus client for instant queries (`/api/v1/query`): a timeout on every call, bearer
//! or basic auth from a MetricTemplate's Secret, extra headers, and an error that says which
//! query, which address and what came back. Does I/O. Credentials are never logged or shown.

use crate::http;
pub use crate::http::{Auth, QueryError};
use crate::promql::{self, Answer};
use std::time::Duration;

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
                .map_err(|why| QueryError::new("", &settings.address, why))?;
        Ok(Self { http, settings, endpoint })
    }

    /// Run an instant query.
    pub async fn query(&self, query: &str) -> Result<Answer, QueryError> {
        let fail = |why: String| QueryError::new(query, &self.settings.address, why);
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
