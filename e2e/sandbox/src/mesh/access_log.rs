//! Envoy access log lines of an `istio-proxy` container, in Istio's default formats: JSON
//! (`meshConfig.accessLogEncoding: JSON`, pilot's `EnvoyJSONLogFormatIstio`) or text (`TEXT`, pilot's
//! `EnvoyTextLogFormat`). Both are produced from the same command operators, so they always agree; a value
//! Envoy does not have prints as `-` in text and `null` in JSON.

use super::annotations::{self, ACCESS_LOG_FORMAT, AnnotationError};
use super::flags::{self, Flag};
use super::time_format;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Istio's default text access log format.
pub const TEXT_FORMAT: &str = concat!(
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" ",
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ",
    "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% ",
    "%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" ",
    "\"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" ",
    "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ",
    "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n",
);

/// Istio's default JSON access log format: key and command operator.
pub const JSON_FORMAT: [(&str, &str); 24] = [
    ("authority", "%REQ(:AUTHORITY)%"),
    ("bytes_received", "%BYTES_RECEIVED%"),
    ("bytes_sent", "%BYTES_SENT%"),
    ("connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"),
    ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
    ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
    ("duration", "%DURATION%"),
    ("method", "%REQ(:METHOD)%"),
    ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ("protocol", "%PROTOCOL%"),
    ("request_id", "%REQ(X-REQUEST-ID)%"),
    ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
    ("response_code", "%RESPONSE_CODE%"),
    ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
    ("response_flags", "%RESPONSE_FLAGS%"),
    ("route_name", "%ROUTE_NAME%"),
    ("start_time", "%START_TIME%"),
    ("upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"),
    ("upstream_host", "%UPSTREAM_HOST%"),
    ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
    ("upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
    ("upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"),
    ("user_agent", "%REQ(USER-AGENT)%"),
    ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
];

/// The encoding of a pod's access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON object a line.
    #[default]
    Json,
    /// Envoy's text line.
    Text,
}

impl Format {
    /// Parses `json` or `text`.
    pub fn parse(text: &str) -> Result<Self, AnnotationError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "text" => Ok(Format::Text),
            _ => Err(AnnotationError::new(ACCESS_LOG_FORMAT, text, "expected json or text")),
        }
    }

    /// The format of the pod's `sandbox.fledge.dev/access-log-format` annotation (JSON without one).
    pub fn of_pod(pod: &Pod) -> Result<Self, AnnotationError> {
        annotations::of(pod, ACCESS_LOG_FORMAT).map_or(Ok(Format::Json), Self::parse)
    }
}

/// What Envoy knows about one request when it logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When the request started.
    pub start_time: SystemTime,
    /// HTTP method.
    pub method: String,
    /// Path with query, as the sender wrote it.
    pub path: String,
    /// `HTTP/1.1`.
    pub protocol: String,
    /// Status sent downstream (0 when none was).
    pub response_code: u16,
    /// Envoy's response flag, if any.
    pub response_flags: Option<Flag>,
    /// Why Envoy answered as it did, e.g. `via_upstream`.
    pub response_code_details: Option<String>,
    /// Request body size.
    pub bytes_received: u64,
    /// Response body size.
    pub bytes_sent: u64,
    /// Milliseconds from the first byte received to the last byte sent.
    pub duration_ms: u64,
    /// `x-envoy-upstream-service-time`: milliseconds the upstream took, when it answered.
    pub upstream_service_time_ms: Option<u64>,
    /// `x-forwarded-for`.
    pub x_forwarded_for: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// `:authority`.
    pub authority: Option<String>,
    /// The upstream address used.
    pub upstream_host: Option<String>,
    /// The upstream cluster's name.
    pub upstream_cluster: Option<String>,
    /// Local address of the upstream connection.
    pub upstream_local_address: Option<String>,
    /// Local address of the downstream connection.
    pub downstream_local_address: Option<String>,
    /// Remote address of the downstream connection.
    pub downstream_remote_address: Option<String>,
    /// SNI of the downstream TLS connection.
    pub requested_server_name: Option<String>,
    /// Name of the route that matched.
    pub route_name: Option<String>,
}

/// A command operator's value: typed as Envoy's JSON formatter types it.
enum Val {
    Str(String),
    Num(u64),
}

impl Entry {
    /// The value of command operator `op` (with its `%`s), `None` when Envoy has none.
    fn operator(&self, op: &str) -> Option<Val> {
        let s = |v: &Option<String>| v.clone().map(Val::Str);
        match op {
            "%START_TIME%" => Some(Val::Str(time_format::start_time(self.start_time))),
            "%REQ(:METHOD)%" => Some(Val::Str(self.method.clone())),
            "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%" => Some(Val::Str(self.path.clone())),
            "%PROTOCOL%" => Some(Val::Str(self.protocol.clone())),
            "%RESPONSE_CODE%" => Some(Val::Num(u64::from(self.response_code))),
            "%RESPONSE_FLAGS%" => Some(Val::Str(flags::label(self.response_flags).to_owned())),
            "%RESPONSE_CODE_DETAILS%" => s(&self.response_code_details),
            "%BYTES_RECEIVED%" => Some(Val::Num(self.bytes_received)),
            "%BYTES_SENT%" => Some(Val::Num(self.bytes_sent)),
            "%DURATION%" => Some(Val::Num(self.duration_ms)),
            "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%" => self.upstream_service_time_ms.map(|t| Val::Str(t.to_string())),
            "%REQ(X-FORWARDED-FOR)%" => s(&self.x_forwarded_for),
            "%REQ(USER-AGENT)%" => s(&self.user_agent),
            "%REQ(X-REQUEST-ID)%" => s(&self.request_id),
            "%REQ(:AUTHORITY)%" => s(&self.authority),
            "%UPSTREAM_HOST%" => s(&self.upstream_host),
            "%UPSTREAM_CLUSTER_RAW%" => s(&self.upstream_cluster),
            "%UPSTREAM_LOCAL_ADDRESS%" => s(&self.upstream_local_address),
            "%DOWNSTREAM_LOCAL_ADDRESS%" => s(&self.downstream_local_address),
            "%DOWNSTREAM_REMOTE_ADDRESS%" => s(&self.downstream_remote_address),
            "%REQUESTED_SERVER_NAME%" => s(&self.requested_server_name),
            "%ROUTE_NAME%" => s(&self.route_name),
            // Connection termination details and TLS failure reasons never arise in the simulation.
            _ => None,
        }
    }

    /// The log line, without its trailing newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => self.render_json(),
            Format::Text => self.render_text(),
        }
    }

    fn render_json(&self) -> String {
        let object: BTreeMap<&str, Value> = JSON_FORMAT
            .iter()
            .map(|(key, op)| {
                let value = match self.operator(op) {
                    Some(Val::Str(s)) => Value::String(s),
                    Some(Val::Num(n)) => Value::from(n),
                    None => Value::Null,
                };
                (*key, value)
            })
            .collect();
        serde_json::to_string(&object).unwrap_or_default()
    }

    fn render_text(&self) -> String {
        let mut out = String::new();
        let mut rest = TEXT_FORMAT.trim_end_matches('\n');
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(len) = after.find('%') else { break };
            match self.operator(&rest[start..start + len + 2]) {
                Some(Val::Str(s)) => out.push_str(&s),
                Some(Val::Num(n)) => out.push_str(&n.to_string()),
                None => out.push('-'),
            }
            rest = &after[len + 1..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry() -> Entry {
        Entry {
            start_time: UNIX_EPOCH + Duration::from_millis(1_714_564_800_123),
            method: "GET".into(),
            path: "/api/info?x=1".into(),
            protocol: "HTTP/1.1".into(),
            response_code: 200,
            response_flags: None,
            response_code_details: Some("via_upstream".into()),
            bytes_received: 0,
            bytes_sent: 400,
            duration_ms: 21,
            upstream_service_time_ms: Some(20),
            x_forwarded_for: None,
            user_agent: Some("hey/0.0.1".into()),
            request_id: Some("5e1a2b3c-0000-4000-8000-000000000001".into()),
            authority: Some("podinfo.test:9898".into()),
            upstream_host: Some("10.244.1.7:9898".into()),
            upstream_cluster: Some("inbound|9898||".into()),
            upstream_local_address: Some("127.0.0.6:41234".into()),
            downstream_local_address: Some("10.244.1.7:9898".into()),
            downstream_remote_address: Some("10.244.2.3:51234".into()),
            requested_server_name: Some("outbound_.9898_._.podinfo-primary.test.svc.cluster.local".into()),
            route_name: Some("default".into()),
        }
    }

    #[test]
    fn text_follows_istios_default_format() {
        assert_eq!(
            entry().render(Format::Text),
            "[2024-05-01T12:00:00.123Z] \"GET /api/info?x=1 HTTP/1.1\" 200 - via_upstream - \"-\" 0 400 21 20 \"-\" \
             \"hey/0.0.1\" \"5e1a2b3c-0000-4000-8000-000000000001\" \"podinfo.test:9898\" \"10.244.1.7:9898\" \
             inbound|9898|| 127.0.0.6:41234 10.244.1.7:9898 10.244.2.3:51234 \
             outbound_.9898_._.podinfo-primary.test.svc.cluster.local default"
        );
    }

    #[test]
    fn json_has_istios_keys_types_and_nulls() {
        let e = Entry {
            response_code: 503,
            response_flags: Some(Flag::NoHealthyUpstream),
            upstream_service_time_ms: None,
            ..entry()
        };
        let v: Value = serde_json::from_str(&e.render(Format::Json)).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, JSON_FORMAT.map(|(k, _)| k));
        assert_eq!(v["response_code"], 503);
        assert_eq!(v["response_flags"], "UH");
        assert_eq!(v["duration"], 21);
        assert_eq!(v["upstream_service_time"], Value::Null);
        assert_eq!(v["x_forwarded_for"], Value::Null);
        assert_eq!(v["start_time"], "2024-05-01T12:00:00.123Z");
        assert_eq!(entry().render(Format::Json).lines().count(), 1);
        assert_eq!(
            serde_json::from_str::<Value>(&entry().render(Format::Json)).unwrap()["upstream_service_time"],
            "20"
        );
    }

    #[test]
    fn the_format_comes_from_the_annotation() {
        assert_eq!(Format::of_pod(&Pod::default()), Ok(Format::Json));
        assert_eq!(Format::parse("TEXT"), Ok(Format::Text));
        assert!(Format::parse("yaml").unwrap_err().to_string().contains(ACCESS_LOG_FORMAT));
    }
}
