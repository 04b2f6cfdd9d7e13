//! Istio's header manipulation: the `headers.request` and `headers.response` operations (`set`, `add`,
//! `remove`) of an http route and of each of its destinations, checked as Istio's validation webhook (and
//! Envoy, which would refuse the pushed config) would, then applied to a request or a response. Pure.
//!
//! Envoy applies a destination's operations when that destination is picked, then the route's, so a route's
//! `set` wins over a destination's. Within one level it removes first, then sets, then adds (Istio lists `set`
//! before `add`). Matching happens before any of this: request operations change what the upstream sees, never
//! which route is taken.

use fledge_crds::istio::{Extra, HeaderOperations, Headers};
use serde_json::Value;
use std::collections::BTreeMap;

/// Response headers as the client receives them: lower-case names, in order, a name possibly repeated
/// (`set-cookie` is, once per cookie).
pub type ResponseHeaders = Vec<(String, String)>;

/// The checked operations of one `headers` field (of a route or of a destination).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Manipulation {
    /// Operations on the request the upstream receives.
    pub(super) request: Operations,
    /// Operations on the response the client receives.
    pub(super) response: Operations,
}

/// One side's `set`, `add` and `remove`, with lower-case names and values as Envoy sends them (`%%` read as `%`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Operations {
    remove: Vec<String>,
    set: Vec<(String, String)>,
    add: Vec<(String, String)>,
}

/// Which side an operation works on: they differ in the names Istio allows.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Request,
    Response,
}

impl Manipulation {
    /// Checks and compiles the `headers` field kept in `extra` (absent: nothing to do); `at` names the route or
    /// destination in errors.
    pub(super) fn compile(extra: &Extra, at: &str) -> Result<Self, String> {
        let Some(value) = extra.get("headers") else { return Ok(Self::default()) };
        let at = format!("{at}.headers");
        check_keys(value, &at, &["request", "response"])?;
        for side in ["request", "response"] {
            if let Some(ops) = value.get(side) {
                check_keys(ops, &format!("{at}.{side}"), &["set", "add", "remove"])?;
            }
        }
        let headers: Headers = serde_json::from_value(value.clone()).map_err(|e| format!("{at}: {e}"))?;
        Ok(Self {
            request: Operations::compile(headers.request.as_ref(), Side::Request, &format!("{at}.request"))?,
            response: Operations::compile(headers.response.as_ref(), Side::Response, &format!("{at}.response"))?,
        })
    }

    /// Whether it does nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

impl Operations {
    fn compile(ops: Option<&HeaderOperations>, side: Side, at: &str) -> Result<Self, String> {
        let Some(ops) = ops else { return Ok(Self::default()) };
        let pairs = |map: &Option<BTreeMap<String, String>>, verb: &str| -> Result<Vec<(String, String)>, String> {
            map.iter()
                .flatten()
                .map(|(name, value)| {
                    let at = format!("{at}.{verb}[{name:?}]");
                    check_name(name, side, verb, &at)?;
                    Ok((name.to_ascii_lowercase(), literal(value).map_err(|e| format!("{at}: {e}"))?))
                })
                .collect()
        };
        let remove = ops
            .remove
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, name)| {
                check_name(name, side, "remove", &format!("{at}.remove[{i}]"))?;
                Ok(name.to_ascii_lowercase())
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { remove, set: pairs(&ops.set, "set")?, add: pairs(&ops.add, "add")? })
    }

    fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.add.is_empty()
    }

    /// Applies the operations to request headers (lower-case names, one value each): `add` to a header already
    /// there appends to its value, with `; ` for `cookie` and `,` otherwise, which is how the upstream and Envoy's
    /// header matchers read a repeated header.
    pub(super) fn apply_to_request(&self, headers: &mut BTreeMap<String, String>) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            match headers.get_mut(name) {
                Some(old) => {
                    old.push_str(if name == "cookie" { "; " } else { "," });
                    old.push_str(value);
                }
                None => {
                    headers.insert(name.clone(), value.clone());
                }
            }
        }
    }

    /// Applies the operations to response headers: `set` replaces every value of the name, `add` appends one
    /// more even when the name is there, `remove` drops every value of the name.
    pub(super) fn apply_to_response(&self, headers: &mut ResponseHeaders) {
        headers.retain(|(name, _)| !self.remove.contains(name));
        for (name, value) in &self.set {
            headers.retain(|(n, _)| n != name);
            headers.push((name.clone(), value.clone()));
        }
        headers.extend(self.add.iter().cloned());
    }
}

/// Rejects keys of `value` outside `known`, as the CRD's structural schema would.
fn check_keys(value: &Value, at: &str, known: &[&str]) -> Result<(), String> {
    let object = value.as_object().ok_or_else(|| format!("{at}: must be an object"))?;
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("{at}: unknown field {k:?}; known: {}", known.join(", "))),
        None => Ok(()),
    }
}

/// Istio's name checks: request `set` and `add` may name the authority (which the sandbox does not support),
/// everything else may not touch `Host` or a pseudo-header; Envoy refuses names that are not HTTP tokens.
fn check_name(name: &str, side: Side, verb: &str, at: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{at}: header name cannot be empty"));
    }
    let authority = name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case(":authority");
    if authority && side == Side::Request && verb != "remove" {
        return Err(format!(
            "{at}: setting the authority through headers is not supported by the sandbox mesh; use rewrite.authority"
        ));
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!("{at}: invalid header {name:?}: cannot set Host header"));
    }
    if name.starts_with(':') {
        return Err(format!("{at}: invalid header {name:?}: header cannot have \":\" prefix"));
    }
    if !name.bytes().all(super::load::is_token_byte) {
        return Err(format!("{at}: header name {name:?} is not a valid HTTP header name"));
    }
    Ok(())
}

/// The value Envoy sends for a configured one: control characters are invalid, `%%` is a literal `%`, and
/// `%OPERATOR%` (request or connection data) is valid in Istio but not simulated here.
fn literal(value: &str) -> Result<String, String> {
    if value.chars().any(|c| (c.is_ascii_control() && c != '\t') || c == '\u{7f}') {
        return Err(format!("header value {value:?} contains a control character"));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        return Err(match after.find('%') {
            Some(end) => format!(
                "Envoy's %{}% in a header value is not supported by the sandbox mesh; write %% for a literal %",
                &after[..end]
            ),
            None => format!("header value {value:?} has an unterminated %; write %% for a literal %"),
        });
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(headers: Value) -> Result<Manipulation, String> {
        Manipulation::compile(&[("headers".to_owned(), headers)].into(), "spec.http[0]")
    }

    fn response(ops: Value, start: &[(&str, &str)]) -> Vec<(String, String)> {
        let m = compile(json!({ "response": ops })).unwrap();
        let mut headers: ResponseHeaders = start.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        m.response.apply_to_response(&mut headers);
        headers
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn response_add_appends_set_replaces_remove_deletes() {
        let start = [("set-cookie", "a=1"), ("x-version", "v1")];
        assert_eq!(
            response(json!({"add": {"Set-Cookie": "b=2; Max-Age=60"}}), &start),
            pairs(&[("set-cookie", "a=1"), ("x-version", "v1"), ("set-cookie", "b=2; Max-Age=60")])
        );
        assert_eq!(
            response(json!({"set": {"set-cookie": "c=3"}}), &[("set-cookie", "a=1"), ("set-cookie", "b=2")]),
            pairs(&[("set-cookie", "c=3")])
        );
        assert_eq!(response(json!({"remove": ["X-Version"]}), &start), pairs(&[("set-cookie", "a=1")]));
        // Envoy removes before it adds, so a header can be replaced by remove + add.
        assert_eq!(
            response(json!({"remove": ["x-version"], "add": {"x-version": "v2"}}), &start),
            pairs(&[("set-cookie", "a=1"), ("x-version", "v2")])
        );
    }

    #[test]
    fn request_operations_change_what_the_upstream_sees() {
        let m = compile(json!({"request": {
            "set": {"X-Version": "canary", "user-agent": "fledge"},
            "add": {"cookie": "b=2", "x-trace": "two", "x-new": "1"},
            "remove": ["x-debug"]
        }}))
        .unwrap();
        let mut headers: BTreeMap<String, String> =
            [("cookie", "a=1"), ("x-trace", "one"), ("x-debug", "1"), ("user-agent", "hey/0.0.1")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        m.request.apply_to_request(&mut headers);
        let expected: BTreeMap<String, String> = [
            ("cookie", "a=1; b=2"),
            ("user-agent", "fledge"),
            ("x-new", "1"),
            ("x-trace", "one,two"),
            ("x-version", "canary"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(headers, expected);
        assert!(m.response.is_empty() && !m.is_empty());
    }

    #[test]
    fn values_are_literal_with_double_percent() {
        assert_eq!(response(json!({"set": {"x-share": "100%%"}}), &[]), pairs(&[("x-share", "100%")]));
        assert!(compile(Value::Null).is_err(), "headers must be an object");
        assert_eq!(Manipulation::compile(&Extra::new(), "spec.http[0]"), Ok(Manipulation::default()));
    }

    #[test]
    fn invalid_operations_are_rejected_like_istio_validation() {
        let cases = [
            (json!({"response": {"add": {"": "x"}}}), "header name cannot be empty"),
            (json!({"response": {"set": {"Host": "x"}}}), "cannot set Host header"),
            (json!({"request": {"remove": ["host"]}}), "cannot set Host header"),
            (json!({"response": {"remove": [":status"]}}), "cannot have \":\" prefix"),
            (json!({"request": {"set": {":path": "/"}}}), "cannot have \":\" prefix"),
            (json!({"request": {"set": {":authority": "x"}}}), "use rewrite.authority"),
            (json!({"request": {"add": {"host": "x"}}}), "use rewrite.authority"),
            (json!({"response": {"add": {"set cookie": "x"}}}), "not a valid HTTP header name"),
            (json!({"response": {"add": {"x": "a\nb"}}}), "control character"),
            (json!({"response": {"add": {"x": "50%"}}}), "unterminated %"),
            (json!({"response": {"add": {"x": "%HOSTNAME%"}}}), "%HOSTNAME% in a header value is not supported"),
            (json!({"response": {"append": {"x": "y"}}}), "unknown field \"append\""),
            (json!({"responses": {}}), "unknown field \"responses\""),
            (json!({"response": {"add": {"x": 1}}}), "invalid type"),
            (json!({"response": {"remove": "x"}}), "invalid type"),
        ];
        for (headers, reason) in cases {
            let err = compile(headers.clone()).unwrap_err();
            assert!(err.contains(reason) && err.starts_with("spec.http[0].headers"), "{headers}: {err}");
        }
    }
}
