//! Load generators: a Running and Ready pod annotated `sandbox.fledge.dev/load` sends a steady stream of
//! requests, like Flagger's load tester running `hey`.
//!
//! The value is `<url> rps=<n> [header=<name>:<value>]... [cookie=<name>=<value>]... [share=<0..1>]
//! [path=<path>] [method=<METHOD>] [jar]`, one target per line. `header` and `cookie` are carried by a `share` of
//! the requests (all of them when `share` is absent), e.g. `http://podinfo.test:9898/ rps=50 header=x-canary:insider
//! share=0.1` sends 50 requests a second of which 10% carry `x-canary: insider`. `path` replaces the URL's path.
//!
//! `jar` makes the target one browser: it keeps the cookies its responses set (`Set-Cookie`, honouring `Max-Age`)
//! and sends them on every later request, after its `cookie=` ones, in one `cookie` header (see
//! [`super::cookies`]). E.g. `http://podinfo.test:9898/ rps=20 path=/sticky jar` follows a session affinity
//! cookie; its `path` tells its requests apart in the access logs.

use super::annotations::{self, AnnotationError, LOAD};
use super::workload::{is_ready, is_running};
use k8s_openapi::api::core::v1::Pod;

/// The most requests a second one target may ask for; more would only slow the sandbox down.
pub const MAX_RPS: f64 = 1000.0;

/// One stream of requests a load generator sends.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    /// Host of the URL.
    pub host: String,
    /// Port of the URL (80 when absent).
    pub port: u16,
    /// The `Host` header sent: host and port as the URL wrote them.
    pub authority: String,
    /// Path and query.
    pub path: String,
    /// Requests per second; fractions carry over so the long-run rate is exact.
    pub rps: f64,
    /// HTTP method.
    pub method: String,
    /// Headers (lower-case names) carried by the `share`.
    pub headers: Vec<(String, String)>,
    /// Cookies carried by the `share`, sent as one `cookie` header.
    pub cookies: Vec<(String, String)>,
    /// Share of the requests carrying `headers` and `cookies`.
    pub share: f64,
    /// Whether the stream keeps the cookies it is given and sends them back, like one browser.
    pub jar: bool,
}

/// Whether the pod sends its load now: phase `Running` and condition `Ready`.
pub fn is_generating(pod: &Pod) -> bool {
    is_running(pod) && is_ready(pod)
}

/// The targets of the pod's `sandbox.fledge.dev/load` annotation; none without the annotation.
pub fn of_pod(pod: &Pod) -> Result<Vec<LoadSpec>, AnnotationError> {
    let Some(text) = annotations::of(pod, LOAD) else { return Ok(Vec::new()) };
    text.lines().filter(|l| !l.trim().is_empty()).map(LoadSpec::parse).collect()
}

impl LoadSpec {
    /// Parses one target, e.g. `http://podinfo.test:9898/ rps=50 header=x-canary:insider share=0.1`.
    pub fn parse(text: &str) -> Result<Self, AnnotationError> {
        parse(text).map_err(|reason| AnnotationError::new(LOAD, text.trim(), reason))
    }

    /// The value of the `cookie` header of the share, if it has cookies.
    pub fn cookie_header(&self) -> Option<String> {
        let pairs: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

fn parse(text: &str) -> Result<LoadSpec, String> {
    let mut words = text.split_whitespace();
    let url = words.next().ok_or("empty; expected <url> rps=<n> ...")?;
    let (host, port, authority, url_path) = parse_url(url)?;
    let mut spec = LoadSpec {
        host,
        port,
        authority,
        path: url_path,
        rps: 0.0,
        method: "GET".into(),
        headers: Vec::new(),
        cookies: Vec::new(),
        share: 1.0,
        jar: false,
    };
    let (mut rps, mut share, mut path, mut method) = (None, None, None, None);
    for word in words {
        if word == "jar" {
            if std::mem::replace(&mut spec.jar, true) {
                return Err("jar is given twice".into());
            }
            continue;
        }
        let (key, value) = word.split_once('=').ok_or_else(|| format!("{word:?} is not <key>=<value>"))?;
        let once = |slot: &Option<String>| match slot {
            Some(_) => Err(format!("{key} is given twice")),
            None => Ok(Some(value.to_owned())),
        };
        match key {
            "rps" => rps = once(&rps)?,
            "share" => share = once(&share)?,
            "path" => path = once(&path)?,
            "method" => method = once(&method)?,
            "header" => spec.headers.push(parse_header(value)?),
            "cookie" => spec.cookies.push(parse_cookie(value)?),
            "jar" => return Err(format!("jar is a flag without a value: write jar, not jar={value}")),
            _ => {
                return Err(format!(
                    "unknown key {key:?}; known: rps, header, cookie, share, path, method (and the flag jar)"
                ));
            }
        }
    }
    let rps = rps.ok_or("rps=<requests per second> is required")?;
    spec.rps = rps.parse().map_err(|_| format!("rps {rps:?} is not a number"))?;
    if !(spec.rps > 0.0 && spec.rps <= MAX_RPS) {
        return Err(format!("rps {rps} must be above 0 and at most {MAX_RPS}"));
    }
    if let Some(share) = share {
        if spec.headers.is_empty() && spec.cookies.is_empty() {
            return Err("share needs a header= or cookie= to apply to".into());
        }
        spec.share = annotations::share(&share, "share")?;
    }
    if let Some(path) = path {
        if !path.starts_with('/') {
            return Err(format!("path {path:?} must start with /"));
        }
        spec.path = path;
    }
    if let Some(method) = method {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("method {method:?} must be an upper-case HTTP method such as GET or POST"));
        }
        spec.method = method;
    }
    Ok(spec)
}

/// Splits `http://host[:port][/path][?query]` into host, port, authority and path.
fn parse_url(url: &str) -> Result<(String, u16, String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            format!("{url:?}: only http:// URLs; inside the mesh the sidecars add mTLS themselves")
        } else {
            format!("{url:?} is not an http:// URL")
        }
    })?;
    let rest = rest.split('#').next().unwrap_or_default();
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.starts_with('?') || path.is_empty() { format!("/{path}") } else { path.to_owned() };
    if authority.contains('@') {
        return Err(format!("{url:?}: user information in the URL is not supported"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => {
            (host, port.parse::<u16>().map_err(|_| format!("{url:?}: port {port:?} is not a number"))?)
        }
        None => (authority, 80),
    };
    if host.is_empty() || port == 0 {
        return Err(format!("{url:?} has no host or a zero port"));
    }
    Ok((host.to_ascii_lowercase(), port, authority.to_ascii_lowercase(), path))
}

fn parse_header(value: &str) -> Result<(String, String), String> {
    let (name, v) = value.split_once(':').ok_or_else(|| format!("header {value:?} is not <name>:<value>"))?;
    let name = name.to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!("header name {name:?} is not a valid HTTP header name"));
    }
    if matches!(name.as_str(), "host" | "cookie") {
        return Err(format!("header {name:?}: give the host in the URL and cookies with cookie="));
    }
    Ok((name, v.to_owned()))
}

fn parse_cookie(value: &str) -> Result<(String, String), String> {
    let (name, v) = value.split_once('=').ok_or_else(|| format!("cookie {value:?} is not <name>=<value>"))?;
    if name.is_empty() || !name.bytes().all(is_token_byte) || v.contains(';') {
        return Err(format!("cookie {value:?} is not a valid <name>=<value>"));
    }
    Ok((name.to_owned(), v.to_owned()))
}

/// RFC 9110 token characters, which header and cookie names are made of.
pub(super) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let spec = LoadSpec::parse("http://podinfo.test:9898/ rps=50 header=x-canary:insider share=0.1").unwrap();
        assert_eq!(
            (spec.host.as_str(), spec.port, spec.authority.as_str()),
            ("podinfo.test", 9898, "podinfo.test:9898")
        );
        assert_eq!((spec.path.as_str(), spec.rps, spec.share), ("/", 50.0, 0.1));
        assert_eq!(spec.headers, [("x-canary".to_owned(), "insider".to_owned())]);
        assert_eq!(spec.method, "GET");
    }

    #[test]
    fn cookies_paths_and_defaults() {
        let spec =
            LoadSpec::parse("http://podinfo?x=1 rps=0.5 cookie=canary=always cookie=a=b path=/api/info method=POST")
                .unwrap();
        assert_eq!((spec.host.as_str(), spec.port, spec.path.as_str()), ("podinfo", 80, "/api/info"));
        assert_eq!(spec.cookie_header().as_deref(), Some("canary=always; a=b"));
        assert_eq!((spec.share, spec.method.as_str(), spec.jar), (1.0, "POST", false));
        assert_eq!(LoadSpec::parse("http://podinfo?x=1 rps=1").unwrap().path, "/?x=1");
    }

    #[test]
    fn jar_makes_the_stream_one_browser() {
        let spec = LoadSpec::parse("http://podinfo.test:9898/ rps=20 path=/sticky jar").unwrap();
        assert_eq!((spec.jar, spec.path.as_str(), spec.rps), (true, "/sticky", 20.0));
        let spec = LoadSpec::parse("http://podinfo.test:9898/ jar rps=1 cookie=canary=always").unwrap();
        assert!(spec.jar && spec.cookie_header().as_deref() == Some("canary=always"));
    }

    #[test]
    fn errors_are_clear_and_name_the_annotation() {
        let cases = [
            ("", "empty"),
            ("podinfo.test rps=1", "not an http:// URL"),
            ("https://podinfo.test rps=1", "only http://"),
            ("http://podinfo:http rps=1", "port \"http\""),
            ("http://podinfo", "rps=<requests per second> is required"),
            ("http://podinfo rps=fast", "not a number"),
            ("http://podinfo rps=0", "above 0"),
            ("http://podinfo rps=5000", "at most 1000"),
            ("http://podinfo rps=1 rps=2", "rps is given twice"),
            ("http://podinfo rps=1 share=0.5", "share needs a header"),
            ("http://podinfo rps=1 header=x share=0.5", "not <name>:<value>"),
            ("http://podinfo rps=1 header=x:y share=2", "outside [0, 1]"),
            ("http://podinfo rps=1 header=host:x", "give the host in the URL"),
            ("http://podinfo rps=1 cookie=x", "not <name>=<value>"),
            ("http://podinfo rps=1 path=api", "must start with /"),
            ("http://podinfo rps=1 method=get", "upper-case"),
            ("http://podinfo rps=1 users=3", "unknown key \"users\""),
            ("http://podinfo rps=1 verbose", "not <key>=<value>"),
            ("http://podinfo rps=1 jar jar", "jar is given twice"),
            ("http://podinfo rps=1 jar=yes", "write jar, not jar=yes"),
            ("http://podinfo rps=1 users=3", "known: rps, header, cookie, share, path, method (and the flag jar)"),
        ];
        for (text, reason) in cases {
            let err = LoadSpec::parse(text).unwrap_err();
            assert!(err.reason.contains(reason), "{text:?}: {err}");
            assert!(err.to_string().starts_with("annotation sandbox.fledge.dev/load="), "{err}");
        }
    }

    #[test]
    fn a_pod_may_carry_several_targets() {
        let mut pod = Pod::default();
        assert_eq!(of_pod(&pod), Ok(Vec::new()));
        pod.metadata.annotations = Some([(LOAD.to_owned(), "http://a rps=1\n\nhttp://b rps=2\n".to_owned())].into());
        let hosts: Vec<_> = of_pod(&pod).unwrap().into_iter().map(|s| s.host).collect();
        assert_eq!(hosts, ["a", "b"]);
        assert!(!is_generating(&pod), "no status: not running");
    }
}
