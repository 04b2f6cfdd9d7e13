//! What the Prometheus and Loki clients share: an HTTP client for one endpoint under a base
//! address, with a timeout on every request, and the credentials and headers sent with each.

use crate::prometheus::Auth;
use std::time::Duration;

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
