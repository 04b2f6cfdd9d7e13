//! The Envoy response flags the mesh produces, with the local reply Envoy sends for each.

use std::fmt;

/// An Envoy response flag (`%RESPONSE_FLAGS%`, the `response_flags` metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `NR`: no route matched the request.
    NoRoute,
    /// `NC`: the route's destination cluster does not exist.
    NoClusterFound,
    /// `UH`: no healthy endpoint in the destination cluster.
    NoHealthyUpstream,
    /// `UF`: connecting to the upstream failed.
    UpstreamConnectionFailure,
    /// `UC`: the upstream closed the connection before answering.
    UpstreamConnectionTermination,
    /// `UO`: a circuit breaker (connection pool limit) rejected the request.
    UpstreamOverflow,
    /// `URX`: the last retry also failed; the upstream's answer is passed on.
    UpstreamRetryLimitExceeded,
}

/// The reply Envoy makes itself when it fails a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status.
    pub status: u16,
    /// `%RESPONSE_CODE_DETAILS%`.
    pub details: &'static str,
    /// The body Envoy sends.
    pub body: &'static str,
}

/// The flags a serving pod's annotation may ask for: failures of its own sidecar.
pub const INJECTABLE: [Flag; 4] = [
    Flag::UpstreamConnectionFailure,
    Flag::NoHealthyUpstream,
    Flag::UpstreamConnectionTermination,
    Flag::UpstreamOverflow,
];

impl Flag {
    /// The flag as Envoy prints it, e.g. `UF`.
    pub fn code(self) -> &'static str {
        match self {
            Flag::NoRoute => "NR",
            Flag::NoClusterFound => "NC",
            Flag::NoHealthyUpstream => "UH",
            Flag::UpstreamConnectionFailure => "UF",
            Flag::UpstreamConnectionTermination => "UC",
            Flag::UpstreamOverflow => "UO",
            Flag::UpstreamRetryLimitExceeded => "URX",
        }
    }

    /// The flag printed as `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        [Flag::NoRoute, Flag::NoClusterFound, Flag::UpstreamRetryLimitExceeded]
            .into_iter()
            .chain(INJECTABLE)
            .find(|f| f.code() == code)
    }

    /// What Envoy answers itself; `None` for `URX`, which passes the upstream's answer on.
    pub fn local_reply(self) -> Option<LocalReply> {
        let (status, details, body) = match self {
            Flag::NoRoute => (404, "route_not_found", ""),
            Flag::NoClusterFound => (503, "cluster_not_found", ""),
            Flag::NoHealthyUpstream => (503, "no_healthy_upstream", "no healthy upstream"),
            Flag::UpstreamConnectionFailure => (
                503,
                "upstream_reset_before_response_started{connection_failure}",
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
            ),
            Flag::UpstreamConnectionTermination => (
                503,
                "upstream_reset_before_response_started{connection_termination}",
                "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
            ),
            Flag::UpstreamOverflow => (
                503,
                "upstream_reset_before_response_started{overflow}",
                "upstream connect error or disconnect/reset before headers. reset reason: overflow",
            ),
            Flag::UpstreamRetryLimitExceeded => return None,
        };
        Some(LocalReply { status, details, body })
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How `%RESPONSE_FLAGS%` prints a flag or none: `-` when none.
pub fn label(flag: Option<Flag>) -> &'static str {
    flag.map_or("-", Flag::code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for flag in
            [Flag::NoRoute, Flag::NoClusterFound, Flag::UpstreamRetryLimitExceeded].into_iter().chain(INJECTABLE)
        {
            assert_eq!(Flag::from_code(flag.code()), Some(flag));
        }
        assert_eq!(Flag::from_code("XX"), None);
        assert_eq!(label(None), "-");
    }

    #[test]
    fn local_replies_are_envoys() {
        assert_eq!(Flag::NoRoute.local_reply().map(|r| r.status), Some(404));
        assert_eq!(Flag::NoHealthyUpstream.local_reply().map(|r| r.body), Some("no healthy upstream"));
        assert_eq!(Flag::UpstreamRetryLimitExceeded.local_reply(), None);
    }
}
