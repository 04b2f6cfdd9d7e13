//! Syntax of names and addresses that end up in Kubernetes objects, Istio routes or HTTP calls.

/// Checks a DNS-1035 label (a Service name): lower-case letters, digits and '-', starting with
/// a letter, ending with a letter or digit, at most `max` characters.
pub(super) fn dns_label(name: &str, max: usize) -> Result<(), String> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let first_ok = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let last_ok = name.bytes().last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if name.is_empty() {
        Err("must not be empty".to_owned())
    } else if !(ok_chars && first_ok && last_ok) {
        Err(format!(
            "{name:?} is not a valid name: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
        ))
    } else if name.len() > max {
        Err(format!("{name:?} is {} characters long; at most {max} are allowed", name.len()))
    } else {
        Ok(())
    }
}

/// Checks an absolute http(s) URL.
pub(super) fn http_url(text: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(format!("{text:?} has scheme {other:?}; use http or https")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(parsed)
}

/// Checks an RE2-style regular expression (Istio's and Envoy's syntax).
pub(super) fn re2(pattern: &str) -> Result<(), String> {
    regex::Regex::new(pattern).map(|_| ()).map_err(|e| {
        let first_line = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
        format!("{pattern:?} is not a valid regular expression ({first_line})")
    })
}

/// Checks an IANA service name (a named container port): at most 15 lower-case letters,
/// digits and '-', with at least one letter.
pub(super) fn port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a port name: at most 15 lower-case letters, digits and '-', with a letter"))
    }
}

/// Checks a cookie name: an RFC 6265 token.
pub(super) fn cookie_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if ok { Ok(()) } else { Err(format!("{name:?} is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns_label("podinfo", 55).is_ok());
        assert!(dns_label("Podinfo", 55).is_err());
        assert!(dns_label("9pod", 55).is_err());
        assert!(dns_label("pod-", 55).is_err());
        assert!(dns_label(&"a".repeat(56), 55).is_err());
        assert!(port_name("http").is_ok());
        assert!(port_name("8080").is_err());
        assert!(http_url("http://flagger-loadtester.test/").is_ok());
        assert!(http_url("flagger-loadtester.test/").is_err());
        assert!(http_url("ftp://x/").is_err());
        assert!(re2("^.*(X-Canary=always)(;.*)?$").is_ok());
        assert!(re2("(unclosed").is_err());
        assert!(cookie_name("flagger-cookie").is_ok());
        assert!(cookie_name("bad cookie").is_err());
    }
}
