//! Addresses Fledge calls (Prometheus, Loki, webhooks), as they may be shown to people.

/// A URL for messages: credentials written into it (`https://user:secret@host`) and its query
/// (`?token=...`, `?sig=...`) are replaced by `***`, as messages end up in the status, events,
/// logs and chat. The path is kept: it tells people which endpoint answered.
pub fn redacted(address: &str) -> String {
    match url::Url::parse(address) {
        Ok(mut url) => {
            let credentials = !url.username().is_empty() || url.password().is_some();
            let query = url.query().is_some();
            if !credentials && !query {
                return address.to_owned();
            }
            if credentials {
                let _ = url.set_username("***");
                let _ = url.set_password(None);
            }
            if query {
                url.set_query(Some("***"));
            }
            url.to_string()
        }
        // Unparsable: cut at the last `@` before the path, which is where userinfo would end.
        Err(_) => match address.split_once("://") {
            Some((scheme, rest)) => {
                let authority_end = rest.find('/').unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => format!("{scheme}://***{}", &rest[at..]),
                    None => address.to_owned(),
                }
            }
            None => address.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_an_address_are_not_repeated() {
        assert_eq!(redacted("http://fledge:s3cret@hooks:8080/gate"), "http://***@hooks:8080/gate");
        assert_eq!(redacted("http://fledge:s3cret@loki:3100/base"), "http://***@loki:3100/base");
        assert_eq!(redacted("http://hooks:8080/gate"), "http://hooks:8080/gate");
        assert_eq!(redacted("http://a:s3cret@bad host/x"), "http://***@bad host/x");
        assert_eq!(redacted("not a url"), "not a url");
        assert_eq!(redacted("https://hooks/x?token=abc&b=1"), "https://hooks/x?***");
        assert_eq!(redacted("https://u:p@hooks/x?sig=abc"), "https://***@hooks/x?***");
    }
}
