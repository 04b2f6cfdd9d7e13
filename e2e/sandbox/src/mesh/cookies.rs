//! A browser's cookie jar, for load targets marked `jar`: it keeps the cookies of `Set-Cookie` response headers
//! (RFC 6265 §5.2, for one host) and sends the live ones back in the `cookie` header. Pure: time is an argument.
//!
//! Only `Max-Age` is read among the attributes: a positive one gives the cookie that many seconds, zero or less
//! deletes it, and without one the cookie lives as long as the jar. `Expires`, `Path`, `Domain`, `HttpOnly`,
//! `Secure`, `SameSite`, `Partitioned` and unknown attributes are accepted and ignored: one stream talks to one
//! host over plain HTTP, and Flagger's cookies carry `Max-Age`, which takes precedence over `Expires` anyway.

use std::time::{Duration, SystemTime};

/// The cookies one load stream has been given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jar {
    /// In the order first set, which is the order they are sent in (RFC 6265 §5.4 for equal paths).
    cookies: Vec<Cookie>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// When it stops being sent; `None` for a session cookie.
    expires: Option<SystemTime>,
}

impl Cookie {
    fn is_live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

impl Jar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one `Set-Cookie` value received at `now`. A value without `name=` is ignored, as browsers do; a
    /// cookie of a name already held replaces it in place.
    pub fn store(&mut self, set_cookie: &str, now: SystemTime) {
        self.cookies.retain(|c| c.is_live(now));
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else { return };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        // The last Max-Age counts; a malformed one is ignored (RFC 6265 §5.2.2).
        let max_age = parts
            .filter_map(|attr| attr.split_once('='))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("max-age"))
            .filter_map(|(_, v)| max_age(v.trim()))
            .next_back();
        let expires = match max_age {
            None => None,
            Some(seconds) if seconds <= 0 => {
                self.cookies.retain(|c| c.name != name);
                return;
            }
            // Too far away to represent: as good as never.
            Some(seconds) => now.checked_add(Duration::from_secs(seconds.unsigned_abs())),
        };
        let cookie = Cookie { name: name.to_owned(), value: value.to_owned(), expires };
        match self.cookies.iter_mut().find(|c| c.name == cookie.name) {
            Some(old) => *old = cookie,
            None => self.cookies.push(cookie),
        }
    }

    /// The live cookies at `now`, as `(name, value)` in the order they are sent.
    pub fn cookies(&self, now: SystemTime) -> Vec<(&str, &str)> {
        self.cookies.iter().filter(|c| c.is_live(now)).map(|c| (c.name.as_str(), c.value.as_str())).collect()
    }

    /// The `cookie` header of a request sent at `now`: the `fixed` cookies first (the load target's `cookie=`
    /// ones, which the jar never drops), then the live stored ones, as `name=value` joined by `; `; `None` when
    /// there is no cookie at all.
    pub fn header(&self, fixed: &[(String, String)], now: SystemTime) -> Option<String> {
        let fixed = fixed.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let pairs: Vec<String> = fixed.chain(self.cookies(now)).map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// RFC 6265's `delta-seconds`: an optional `-` and digits; a number too large saturates.
fn max_age(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let negative = digits.len() != text.len();
    Some(match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) if negative => i64::MIN,
        Err(_) => i64::MAX,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    #[test]
    fn stores_cookies_and_sends_them_in_the_order_set() {
        let mut jar = Jar::new();
        assert_eq!(jar.header(&[], t(0)), None);
        jar.store("flagger-cookie=A1B2C3; Max-Age=21600; Path=/; HttpOnly", t(0));
        jar.store("primary-cookie=X9; Max-Age=86400", t(1));
        jar.store(
            "theme=dark; Domain=podinfo.test; Secure; SameSite=Lax; Partitioned; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            t(1),
        );
        assert_eq!(jar.header(&[], t(2)).as_deref(), Some("flagger-cookie=A1B2C3; primary-cookie=X9; theme=dark"));
        // A new value replaces the old one in place.
        jar.store("flagger-cookie=D4E5F6; Max-Age=21600", t(3));
        assert_eq!(jar.cookies(t(3))[0], ("flagger-cookie", "D4E5F6"));
        assert_eq!(jar.cookies(t(3)).len(), 3);
    }

    #[test]
    fn max_age_zero_or_negative_deletes() {
        let mut jar = Jar::new();
        jar.store("flagger-cookie=A1B2C3; Max-Age=21600", t(0));
        jar.store("other=1", t(0));
        jar.store("flagger-cookie=A1B2C3; Max-Age=-1", t(5));
        assert_eq!(jar.header(&[], t(5)).as_deref(), Some("other=1"));
        jar.store("other=1; Max-Age=0", t(6));
        assert_eq!(jar.header(&[], t(6)), None);
        // Deleting what is not there is no error.
        jar.store("gone=1; max-age=-100", t(7));
        assert_eq!(jar, Jar::new());
    }

    #[test]
    fn max_age_expires_with_the_clock() {
        let mut jar = Jar::new();
        jar.store("short=1; Max-Age=60", t(0));
        jar.store("session=1", t(0));
        jar.store("huge=1; Max-Age=99999999999999999999999", t(0));
        assert_eq!(jar.header(&[], t(59)).as_deref(), Some("short=1; session=1; huge=1"));
        assert_eq!(jar.header(&[], t(60)).as_deref(), Some("session=1; huge=1"), "expired at 60 s");
        // A malformed Max-Age is ignored, so the cookie is a session cookie; the last valid one counts.
        jar.store("odd=1; Max-Age=ten", t(0));
        jar.store("twice=1; Max-Age=10; Max-Age=1000", t(0));
        assert_eq!(jar.cookies(t(500)), [("session", "1"), ("huge", "1"), ("odd", "1"), ("twice", "1")]);
    }

    #[test]
    fn fixed_cookies_come_first_and_are_kept() {
        let mut jar = Jar::new();
        let fixed = [("canary".to_owned(), "always".to_owned())];
        assert_eq!(jar.header(&fixed, t(0)).as_deref(), Some("canary=always"));
        jar.store("flagger-cookie=A1B2C3; Max-Age=10", t(0));
        assert_eq!(jar.header(&fixed, t(1)).as_deref(), Some("canary=always; flagger-cookie=A1B2C3"));
        jar.store("canary=never; Max-Age=-1", t(2));
        assert_eq!(jar.header(&fixed, t(20)).as_deref(), Some("canary=always"));
    }

    #[test]
    fn malformed_set_cookies_are_ignored() {
        let mut jar = Jar::new();
        for bad in ["", "novalue", "=nameless", " ; Max-Age=10"] {
            jar.store(bad, t(0));
        }
        assert_eq!(jar, Jar::new());
        jar.store(" spaced = out ; Max-Age = 10 ", t(0));
        assert_eq!(jar.cookies(t(9)), [("spaced", "out")]);
        assert!(jar.cookies(t(10)).is_empty(), "Max-Age with spaces around it counts");
    }
}
