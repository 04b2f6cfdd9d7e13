//! Session affinity of a weighted canary: a cookie per rollout run. Pure.

use super::Draft;

impl Draft<'_, '_> {
    /// Session affinity of a weighted canary: fresh cookies for the run that starts. Users who
    /// hold the cookie of an earlier run get it expired.
    pub(super) fn new_cookies(&mut self) {
        let status = &mut self.d.status;
        let affinity =
            self.i.spec.analysis.session_affinity.as_ref().filter(|_| self.i.spec.analysis.iterations() == 0);
        let Some(affinity) = affinity else {
            status.session_affinity_cookie = None;
            status.primary_session_affinity_cookie = None;
            status.previous_session_affinity_cookie = None;
            return;
        };
        if let Some(old) = status.session_affinity_cookie.take() {
            status.previous_session_affinity_cookie = Some(old);
        }
        let token = cookie_token(self.i.namespace, self.i.name, &self.i.observed.revision, self.i.now);
        status.session_affinity_cookie = Some(format!("{}={token}", affinity.cookie_name));
        status.primary_session_affinity_cookie =
            affinity.primary_cookie_name.as_ref().filter(|n| !n.is_empty()).map(|name| format!("{name}={token}"));
    }

    /// The run is over: its cookie is the previous one, expired on its holders' next request.
    pub(super) fn end_cookies(&mut self) {
        let status = &mut self.d.status;
        if let Some(old) = status.session_affinity_cookie.take() {
            status.previous_session_affinity_cookie = Some(old);
        }
        status.primary_session_affinity_cookie = None;
    }
}

/// A cookie value unique to one run: a hash of the Canary, the revision and the start.
fn cookie_token(namespace: &str, name: &str, revision: &str, now: k8s_openapi::jiff::Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("{namespace}/{name}/{revision}/{}", now.as_millisecond()).as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
