//! One Istio `HTTPMatchRequest`: checked against Istio's schema (as Istio's validation webhook would) and compiled,
//! then evaluated against requests. All conditions of one match must hold; regexes are RE2 and match in full.

use super::router::Request;
use fledge_crds::istio::{HttpMatchRequest, StringMatch};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;

/// The fields of Istio's `HTTPMatchRequest`.
const MATCH_FIELDS: [&str; 14] = [
    "name",
    "uri",
    "scheme",
    "method",
    "authority",
    "headers",
    "withoutHeaders",
    "queryParams",
    "port",
    "sourceLabels",
    "sourceNamespace",
    "gateways",
    "ignoreUriCase",
    "statPrefix",
];

/// A compiled string condition.
#[derive(Debug)]
enum Cond {
    /// No kind set: for headers and query parameters, "is present"; elsewhere, anything.
    Present,
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

impl Cond {
    fn compile(m: &StringMatch, field: &str) -> Result<Self, String> {
        if m.suffix.is_some() {
            return Err(format!("{field}: suffix is not an Istio field (Istio has exact, prefix and regex)"));
        }
        if m.set_count() > 1 {
            return Err(format!("{field}: set only one of exact, prefix and regex"));
        }
        Ok(match (&m.exact, &m.prefix, &m.regex) {
            (Some(e), _, _) => Cond::Exact(e.clone()),
            (_, Some(p), _) => Cond::Prefix(p.clone()),
            (_, _, Some(r)) => Cond::Regex(
                Regex::new(&format!("^(?:{r})$")).map_err(|e| format!("{field}: regex {r:?} is not valid RE2: {e}"))?,
            ),
            _ => Cond::Present,
        })
    }

    fn is_match(&self, value: &str, ignore_case: bool) -> bool {
        match self {
            Cond::Present => true,
            Cond::Exact(e) if ignore_case => value.eq_ignore_ascii_case(e),
            Cond::Exact(e) => value == e,
            Cond::Prefix(p) if ignore_case => {
                value.len() >= p.len() && value.is_char_boundary(p.len()) && value[..p.len()].eq_ignore_ascii_case(p)
            }
            Cond::Prefix(p) => value.starts_with(p.as_str()),
            Cond::Regex(r) => r.is_match(value),
        }
    }

    /// Whether a possibly absent value matches: an absent one never does.
    fn matches_opt(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| self.is_match(v, false))
    }
}

/// A compiled `HTTPMatchRequest`.
#[derive(Debug)]
pub(super) struct Matcher {
    uri: Option<Cond>,
    scheme: Option<Cond>,
    method: Option<Cond>,
    authority: Option<Cond>,
    headers: Vec<(String, Cond)>,
    without_headers: Vec<(String, Cond)>,
    query_params: Vec<(String, Cond)>,
    port: Option<u16>,
    source_labels: BTreeMap<String, String>,
    source_namespace: Option<String>,
    gateways: Option<Vec<String>>,
    ignore_uri_case: bool,
}

impl Matcher {
    /// Checks and compiles one item of an http route's `match`; `at` names it in errors.
    pub(super) fn compile(value: &Value, at: &str) -> Result<Self, String> {
        let object = value.as_object().ok_or_else(|| format!("{at}: must be an object"))?;
        for (key, field) in object {
            if !MATCH_FIELDS.contains(&key.as_str()) {
                return Err(format!("{at}: unknown field {key:?}"));
            }
            check_string_matches(key, field, &format!("{at}.{key}"))?;
        }
        let m: HttpMatchRequest = serde_json::from_value(value.clone()).map_err(|e| format!("{at}: {e}"))?;
        let cond = |field: &Option<StringMatch>, name: &str| {
            field.as_ref().map(|s| Cond::compile(s, &format!("{at}.{name}"))).transpose()
        };
        let conds = |map: &Option<BTreeMap<String, StringMatch>>, name: &str| -> Result<Vec<(String, Cond)>, String> {
            map.iter()
                .flatten()
                .map(|(k, s)| Ok((k.to_ascii_lowercase(), Cond::compile(s, &format!("{at}.{name}.{k}"))?)))
                .collect()
        };
        let port = match m.port {
            None => None,
            Some(p) => {
                Some(u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| format!("{at}.port: {p} is not a port"))?)
            }
        };
        Ok(Self {
            uri: cond(&m.uri, "uri")?,
            scheme: cond(&m.scheme, "scheme")?,
            method: cond(&m.method, "method")?,
            authority: cond(&m.authority, "authority")?,
            headers: conds(&m.headers, "headers")?,
            without_headers: conds(&m.without_headers, "withoutHeaders")?,
            query_params: conds(&m.query_params, "queryParams")?,
            port,
            source_labels: m.source_labels.unwrap_or_default(),
            source_namespace: m.source_namespace,
            gateways: m.gateways,
            ignore_uri_case: m.ignore_uri_case.unwrap_or(false),
        })
    }

    /// Whether `req`, sent to Service port `port` from a sidecar (the `mesh` gateway), meets every condition.
    pub(super) fn matches(&self, req: &Request, port: u16) -> bool {
        if self.gateways.as_ref().is_some_and(|g| !g.is_empty() && !g.iter().any(|g| g == "mesh")) {
            return false;
        }
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        let whole = |c: &Option<Cond>, v: &str| c.as_ref().is_none_or(|c| c.is_match(v, false));
        self.uri.as_ref().is_none_or(|c| c.is_match(path, self.ignore_uri_case))
            && whole(&self.scheme, "http")
            && whole(&self.method, &req.method)
            && whole(&self.authority, &req.authority)
            && self.headers.iter().all(|(name, c)| c.matches_opt(header(req, name)))
            && self.without_headers.iter().all(|(name, c)| !c.matches_opt(header(req, name)))
            && self.query_params.iter().all(|(name, c)| c.matches_opt(query_param(query, name)))
            && self.port.is_none_or(|p| p == port)
            && self.source_labels.iter().all(|(k, v)| req.source.labels.get(k) == Some(v))
            && self.source_namespace.as_ref().is_none_or(|ns| *ns == req.source.namespace)
    }
}

/// Rejects keys other than `exact`, `prefix` and `regex` in the string matches of `field`.
fn check_string_matches(key: &str, field: &Value, at: &str) -> Result<(), String> {
    let check = |m: &Value, at: &str| match m.as_object() {
        Some(o) => match o.keys().find(|k| !matches!(k.as_str(), "exact" | "prefix" | "regex")) {
            Some(k) if k == "suffix" => {
                Err(format!("{at}: suffix is not an Istio field (Istio has exact, prefix and regex)"))
            }
            Some(k) => Err(format!("{at}: unknown field {k:?}; a string match has exact, prefix or regex")),
            None => Ok(()),
        },
        None => Err(format!("{at}: must be an object with exact, prefix or regex")),
    };
    match key {
        "uri" | "scheme" | "method" | "authority" => check(field, at),
        "headers" | "withoutHeaders" | "queryParams" => match field.as_object() {
            Some(map) => map.iter().try_for_each(|(k, m)| check(m, &format!("{at}.{k}"))),
            None => Err(format!("{at}: must be a map of name to string match")),
        },
        _ => Ok(()),
    }
}

/// A request header by lower-case name; HTTP/2 pseudo-headers name the request line.
fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    match name {
        ":authority" | "host" => Some(&req.authority),
        ":path" => Some(&req.path),
        ":method" => Some(&req.method),
        ":scheme" => Some("http"),
        _ => req.headers.get(name).map(String::as_str),
    }
}

/// The first value of a query parameter, as Envoy's query parameter matcher reads it (without decoding).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').filter(|p| !p.is_empty()).find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::super::workload::Workload;
    use super::*;
    use serde_json::json;

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        let source = Workload {
            namespace: "test".into(),
            labels: [("app".to_owned(), "loadtester".to_owned())].into(),
            ..Default::default()
        };
        let mut r = Request::new(source, "podinfo.test:9898", path);
        for (k, v) in headers {
            r.headers.insert((*k).to_owned(), (*v).to_owned());
        }
        r
    }

    fn check(m: Value, r: &Request) -> bool {
        Matcher::compile(&m, "match[0]").unwrap().matches(r, 9898)
    }

    #[test]
    fn header_conditions() {
        let insider = req("/", &[("x-canary", "an insider here")]);
        assert!(check(json!({"headers": {"x-canary": {"regex": ".*insider.*"}}}), &insider));
        assert!(!check(json!({"headers": {"x-canary": {"regex": "insider"}}}), &insider), "regex matches in full");
        assert!(check(json!({"headers": {"X-Canary": {"prefix": "an "}}}), &insider));
        assert!(!check(json!({"headers": {"x-canary": {"exact": "an"}}}), &insider));
        assert!(check(json!({"headers": {"x-canary": {}}}), &insider), "empty means present");
        assert!(!check(json!({"headers": {"x-other": {}}}), &insider));
        assert!(check(json!({"withoutHeaders": {"x-other": {}}}), &insider));
        assert!(!check(json!({"withoutHeaders": {"x-canary": {"prefix": "an"}}}), &insider));
        assert!(check(json!({"withoutHeaders": {"x-canary": {"exact": "no"}}}), &insider));
    }

    #[test]
    fn cookie_regex_as_flagger_writes_it() {
        let m = json!({"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}});
        assert!(check(m.clone(), &req("/", &[("cookie", "canary=always")])));
        assert!(check(m.clone(), &req("/", &[("cookie", "session=1;canary=always; theme=dark")])));
        // The regex is taken literally: after `;` a browser's space does not match `canary`.
        assert!(!check(m.clone(), &req("/", &[("cookie", "session=1; canary=always")])));
        assert!(!check(m.clone(), &req("/", &[("cookie", "canary=never")])));
        assert!(!check(m, &req("/", &[])));
    }

    #[test]
    fn uri_method_authority_query_port_and_source() {
        let r = req("/api/Info?user=1&debug", &[]);
        assert!(check(json!({"uri": {"prefix": "/api"}}), &r));
        assert!(check(json!({"uri": {"exact": "/api/Info"}}), &r), "the query is not part of the path");
        assert!(!check(json!({"uri": {"exact": "/api/info"}}), &r));
        assert!(check(json!({"uri": {"exact": "/api/info"}, "ignoreUriCase": true}), &r));
        assert!(check(json!({"uri": {"regex": "/api/[A-Z]nfo"}}), &r));
        assert!(check(json!({"method": {"exact": "GET"}, "scheme": {"exact": "http"}}), &r));
        assert!(check(json!({"authority": {"prefix": "podinfo.test"}}), &r));
        assert!(check(json!({"queryParams": {"user": {"exact": "1"}, "debug": {}}}), &r));
        assert!(!check(json!({"queryParams": {"user": {"exact": "2"}}}), &r));
        assert!(check(json!({"port": 9898, "sourceNamespace": "test", "sourceLabels": {"app": "loadtester"}}), &r));
        assert!(!check(json!({"port": 80}), &r));
        assert!(!check(json!({"sourceNamespace": "prod"}), &r));
        assert!(!check(json!({"sourceLabels": {"app": "other"}}), &r));
        assert!(!check(json!({"gateways": ["public-gateway"]}), &r));
        assert!(check(json!({"gateways": ["public-gateway", "mesh"]}), &r));
    }

    #[test]
    fn invalid_matches_are_rejected_like_istio_validation() {
        let cases = [
            (json!({"headers": {"x": {"suffix": "y"}}}), "suffix is not an Istio field"),
            (json!({"uri": {"exact": "/", "prefix": "/"}}), "only one of"),
            (json!({"uri": {"regex": "("}}), "not valid RE2"),
            (json!({"urls": {"exact": "/"}}), "unknown field \"urls\""),
            (json!({"uri": {"exactly": "/"}}), "unknown field \"exactly\""),
            (json!({"port": 70000}), "not a port"),
            (json!("uri"), "must be an object"),
        ];
        for (m, reason) in cases {
            let err = Matcher::compile(&m, "match[0]").unwrap_err();
            assert!(err.contains(reason) && err.starts_with("match[0]"), "{m}: {err}");
        }
    }
}
