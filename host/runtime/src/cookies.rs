//! A VU's cookie jar (RFC 6265, as a non-browser user agent keeps one): cookies a response sets
//! are sent back with the VU's later requests to the same site, as k6's per-VU jar and Locust's
//! `HttpUser` session do.
//!
//! Kept: `Domain` (host-only without it), `Path` (the request's directory without it), `Expires`
//! and `Max-Age` (`Max-Age` wins; a past expiry deletes), `Secure` (sent over `https://` only).
//! Ignored, as they only matter to browsers: `HttpOnly`, `SameSite`, `Partitioned`. Not kept: a
//! public-suffix list (the plan's targets already limit which hosts a VU talks to; a `Domain` must
//! still match the host that set it). Time is a parameter, so all of it is tested without clocks.

use crate::client::{CompletedResponse, OutgoingRequest};
use http::Uri;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// At most this many cookies per VU; a new one past it replaces the least recently set.
pub const MAX_COOKIES: usize = 300;
/// Longer `Set-Cookie` values are ignored (RFC 6265 asks user agents for at least 4096 bytes).
const MAX_COOKIE_LEN: usize = 8192;

/// The parts of a request URL a jar looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieUrl {
    https: bool,
    /// Lower case, without brackets for IPv6.
    host: String,
    path: String,
}

impl CookieUrl {
    /// The parts of an absolute URL; `None` for one without a host.
    pub fn parse(url: &str) -> Option<CookieUrl> {
        let uri: Uri = url.parse().ok()?;
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        Some(CookieUrl {
            https: uri
                .scheme_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("https")),
            host: host.to_ascii_lowercase(),
            path: uri.path().to_owned(),
        })
    }

    fn is_ip(&self) -> bool {
        self.host.parse::<std::net::IpAddr>().is_ok()
    }

    /// RFC 6265 5.1.4: the path up to its last `/`, or `/`.
    fn default_path(&self) -> &str {
        match self.path.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &self.path[..i],
        }
    }
}

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    /// Lower case, no leading dot.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    expires: Option<SystemTime>,
    /// When it was first set (RFC 6265 orders cookies of equal path length by it).
    created: u64,
}

impl Cookie {
    fn matches(&self, url: &CookieUrl, now: SystemTime) -> bool {
        self.expires.is_none_or(|e| e > now)
            && (!self.secure || url.https)
            && if self.host_only {
                url.host == self.domain
            } else {
                domain_matches(&url.host, &self.domain, url.is_ip())
            }
            && path_matches(&url.path, &self.path)
    }
}

/// RFC 6265 5.1.3: the host is the domain, or ends with `.domain` (never for IP addresses).
fn domain_matches(host: &str, domain: &str, host_is_ip: bool) -> bool {
    host == domain
        || (!host_is_ip
            && host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// RFC 6265 5.1.4: the cookie's path is the request's, or a prefix of it ending at a `/`.
fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// One VU's cookies.
#[derive(Debug, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
    /// Counts cookies set, for their creation order.
    sets: u64,
}

impl CookieJar {
    /// Nothing stored: requests go out as the scenario wrote them.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// How many cookies are stored (expired ones until the next store or lookup drops them).
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Store what a `Set-Cookie` header of a response to `url` says, at `now`. A header the RFC
    /// says to ignore (no `=`, an empty name, a `Domain` that does not cover the host) is ignored.
    pub fn store(&mut self, url: &CookieUrl, set_cookie: &str, now: SystemTime) {
        if set_cookie.len() > MAX_COOKIE_LEN {
            return;
        }
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let mut expires = None;
        let mut max_age = None;
        let mut domain = None;
        let mut path = None;
        let mut secure = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim(), val.trim());
            if key.eq_ignore_ascii_case("expires") {
                if let Ok(t) = httpdate::parse_http_date(val) {
                    expires = Some(t);
                }
            } else if key.eq_ignore_ascii_case("max-age") {
                // RFC 6265 5.2.2: digits, optionally negative; anything else is ignored.
                let digits = val.strip_prefix('-').unwrap_or(val);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    let seconds: i64 = val.parse().unwrap_or(if val.starts_with('-') {
                        i64::MIN
                    } else {
                        i64::MAX
                    });
                    max_age = Some(if seconds <= 0 {
                        SystemTime::UNIX_EPOCH
                    } else {
                        now.checked_add(Duration::from_secs(seconds as u64))
                            .unwrap_or(now + Duration::from_secs(400 * 24 * 3600))
                    });
                }
            } else if key.eq_ignore_ascii_case("domain") {
                let d = val.trim_start_matches('.').to_ascii_lowercase();
                if !d.is_empty() {
                    domain = Some(d);
                }
            } else if key.eq_ignore_ascii_case("path") {
                path = val.starts_with('/').then(|| val.to_owned());
            } else if key.eq_ignore_ascii_case("secure") {
                secure = true;
            }
        }
        let (domain, host_only) = match domain {
            Some(d) if domain_matches(&url.host, &d, url.is_ip()) => (d, false),
            Some(_) => return,
            None => (url.host.clone(), true),
        };
        let path = path.unwrap_or_else(|| url.default_path().to_owned());
        let expires = max_age.or(expires);
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let existing = self
            .cookies
            .iter()
            .position(|c| c.name == name && c.domain == domain && c.path == path);
        if expires.is_some_and(|e| e <= now) {
            // An expiry in the past deletes the cookie.
            if let Some(i) = existing {
                self.cookies.remove(i);
            }
            return;
        }
        self.sets += 1;
        let cookie = Cookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain,
            host_only,
            path,
            secure,
            expires,
            created: existing.map_or(self.sets, |i| self.cookies[i].created),
        };
        match existing {
            Some(i) => self.cookies[i] = cookie,
            None => {
                if self.cookies.len() >= MAX_COOKIES {
                    self.cookies.remove(0);
                }
                self.cookies.push(cookie);
            }
        }
    }

    /// The `Cookie` header for a request to `url` at `now`: matching cookies, longer paths first,
    /// then in the order they were first set; `None` when no cookie matches.
    pub fn header(&mut self, url: &CookieUrl, now: SystemTime) -> Option<String> {
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.matches(url, now))
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let mut out = String::new();
        for c in matching {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
    }
}

/// A VU's jar as its host calls share it (`http.send` on the VU's store, `fetch()` on tasks of its
/// own); off (`None`) with the plan's `cookies = false` and in shared instances, whose host calls
/// do not say which VU made them.
#[derive(Clone, Debug, Default)]
pub(crate) struct VuCookies(Option<Arc<Mutex<CookieJar>>>);

impl VuCookies {
    /// An empty jar, or none when `enabled` is false.
    pub(crate) fn new(enabled: bool) -> Self {
        VuCookies(enabled.then(Arc::default))
    }

    fn lock(jar: &Mutex<CookieJar>) -> MutexGuard<'_, CookieJar> {
        // Every change leaves the jar consistent: a panic elsewhere cannot break it.
        jar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Add the jar's cookies for `req`'s URL as its `Cookie` header, unless the scenario wrote one
    /// itself (then it is sent as written, as Python's `requests` does).
    pub(crate) fn add_to(&self, req: &mut OutgoingRequest) {
        let Some(jar) = &self.0 else { return };
        let mut jar = Self::lock(jar);
        if jar.is_empty()
            || req
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        {
            return;
        }
        let Some(url) = CookieUrl::parse(&req.url) else {
            return;
        };
        if let Some(header) = jar.header(&url, SystemTime::now()) {
            req.headers.push(("cookie".to_owned(), header));
        }
    }

    /// Keep the cookies `resp` sets (its `Set-Cookie` headers).
    pub(crate) fn keep_from(&self, resp: &CompletedResponse) {
        let Some(jar) = &self.0 else { return };
        let mut set_cookies = resp
            .headers
            .iter()
            .filter(|(name, _)| *name == b"set-cookie")
            .peekable();
        if set_cookies.peek().is_none() {
            return;
        }
        let Some(url) = CookieUrl::parse(&resp.url) else {
            return;
        };
        let now = SystemTime::now();
        let mut jar = Self::lock(jar);
        for (_, value) in set_cookies {
            if let Ok(value) = std::str::from_utf8(value) {
                jar.store(&url, value, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> CookieUrl {
        CookieUrl::parse(u).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn jar(sets: &[(&str, &str)]) -> CookieJar {
        let mut j = CookieJar::default();
        for (u, h) in sets {
            j.store(&url(u), h, at(0));
        }
        j
    }

    #[test]
    fn cookies_go_back_to_the_host_that_set_them() {
        let mut j = jar(&[(
            "http://127.0.0.1:8080/login",
            "session=abc123; Path=/; HttpOnly",
        )]);
        assert_eq!(
            j.header(&url("http://127.0.0.1:8080/cart"), at(1))
                .as_deref(),
            Some("session=abc123")
        );
        assert_eq!(
            j.header(&url("http://127.0.0.1:9/x"), at(1)).as_deref(),
            Some("session=abc123"),
            "any port, as RFC 6265"
        );
        assert_eq!(
            j.header(&url("http://127.0.0.2/cart"), at(1)),
            None,
            "another host"
        );
        assert_eq!(j.header(&url("http://localhost/cart"), at(1)), None);
    }

    #[test]
    fn the_default_path_is_the_directory_of_the_request() {
        let mut j = jar(&[("http://h/api/v1/login", "t=1")]);
        assert_eq!(
            j.header(&url("http://h/api/v1/items"), at(1)).as_deref(),
            Some("t=1")
        );
        assert_eq!(
            j.header(&url("http://h/api/v1"), at(1)).as_deref(),
            Some("t=1")
        );
        assert_eq!(
            j.header(&url("http://h/api/v10"), at(1)),
            None,
            "a prefix that is not a directory"
        );
        assert_eq!(j.header(&url("http://h/other"), at(1)), None);
        let mut root = jar(&[("http://h/login", "t=1"), ("http://h", "u=2")]);
        assert_eq!(
            root.header(&url("http://h/anything"), at(1)).as_deref(),
            Some("t=1; u=2")
        );
    }

    #[test]
    fn domain_cookies_cover_subdomains_and_must_cover_the_host() {
        let mut j = jar(&[
            ("http://www.shop.test/", "a=1; Domain=.Shop.Test"),
            ("http://www.shop.test/", "b=2"),
            ("http://www.shop.test/", "c=3; Domain=other.test"),
            ("http://www.shop.test/", "d=4; Domain=hop.test"),
        ]);
        assert_eq!(
            j.header(&url("http://api.shop.test/"), at(1)).as_deref(),
            Some("a=1")
        );
        assert_eq!(
            j.header(&url("http://shop.test/"), at(1)).as_deref(),
            Some("a=1")
        );
        assert_eq!(
            j.header(&url("http://www.shop.test/"), at(1)).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            j.len(),
            2,
            "a Domain that does not cover the host is refused"
        );
        // An IP address matches only itself, with or without Domain.
        let mut ip = jar(&[("http://127.0.0.1/", "a=1; Domain=0.0.1")]);
        assert!(ip.is_empty());
        ip.store(&url("http://127.0.0.1/"), "b=2; Domain=127.0.0.1", at(0));
        assert_eq!(
            ip.header(&url("http://127.0.0.1/"), at(1)).as_deref(),
            Some("b=2")
        );
        assert_eq!(ip.header(&url("http://[::1]/"), at(1)), None);
    }

    #[test]
    fn secure_cookies_go_over_https_only() {
        let mut j = jar(&[("https://h/", "s=1; Secure"), ("https://h/", "p=2")]);
        assert_eq!(
            j.header(&url("https://h/"), at(1)).as_deref(),
            Some("s=1; p=2")
        );
        assert_eq!(j.header(&url("http://h/"), at(1)).as_deref(), Some("p=2"));
    }

    #[test]
    fn max_age_wins_over_expires_and_the_past_deletes() {
        let mut j = jar(&[
            (
                "http://h/",
                "short=1; Max-Age=10; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
            ),
            ("http://h/", "long=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT"),
            ("http://h/", "session=3"),
            ("http://h/", "bad=4; Max-Age=soon"),
        ]);
        assert_eq!(
            j.header(&url("http://h/"), at(9)).as_deref(),
            Some("short=1; long=2; session=3; bad=4")
        );
        assert_eq!(
            j.header(&url("http://h/"), at(10)).as_deref(),
            Some("long=2; session=3; bad=4")
        );
        assert_eq!(j.len(), 3, "expired cookies are dropped");
        j.store(&url("http://h/"), "session=; Max-Age=0", at(11));
        j.store(
            &url("http://h/"),
            "long=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            at(11),
        );
        assert_eq!(
            j.header(&url("http://h/"), at(12)).as_deref(),
            Some("bad=4")
        );
        j.store(&url("http://h/"), "never=1; Max-Age=-5", at(12));
        assert_eq!(j.len(), 1, "a cookie born expired is not stored");
    }

    #[test]
    fn a_cookie_is_replaced_by_name_domain_and_path_keeping_its_place() {
        let mut j = jar(&[
            ("http://h/", "a=1"),
            ("http://h/", "b=2"),
            ("http://h/", "a=3"),
            ("http://h/", "a=4; Path=/x"),
        ]);
        assert_eq!(
            j.header(&url("http://h/"), at(1)).as_deref(),
            Some("a=3; b=2")
        );
        assert_eq!(
            j.header(&url("http://h/x/y"), at(1)).as_deref(),
            Some("a=4; a=3; b=2"),
            "longer paths first"
        );
    }

    #[test]
    fn what_the_rfc_ignores_is_ignored() {
        let j = jar(&[
            ("http://h/", "no-equals-sign"),
            ("http://h/", "=value-without-name"),
            ("http://h/", " ; a=1"),
        ]);
        assert!(j.is_empty(), "{j:?}");
        let mut v = jar(&[(
            "http://h/",
            "  spaced  =  value with spaces ; Path=relative",
        )]);
        assert_eq!(
            v.header(&url("http://h/"), at(1)).as_deref(),
            Some("spaced=value with spaces")
        );
        let long = format!("big={}", "x".repeat(MAX_COOKIE_LEN));
        assert!(jar(&[("http://h/", long.as_str())]).is_empty());
    }

    fn request(url: &str, headers: &[(&str, &str)]) -> OutgoingRequest {
        OutgoingRequest {
            method: "GET".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: None,
            timeout: Duration::from_secs(1),
            discard_body: false,
        }
    }

    #[test]
    fn a_request_gets_the_jar_unless_it_has_a_cookie_header_of_its_own() {
        let cookies = VuCookies::new(true);
        let mut empty = request("http://h/", &[]);
        cookies.add_to(&mut empty);
        assert!(empty.headers.is_empty(), "an empty jar adds nothing");
        VuCookies::lock(cookies.0.as_ref().unwrap()).store(
            &url("http://h/"),
            "s=1",
            SystemTime::now(),
        );
        let mut plain = request("http://h/a", &[("accept", "*/*")]);
        cookies.add_to(&mut plain);
        assert_eq!(plain.headers[1], ("cookie".to_owned(), "s=1".to_owned()));
        let mut own = request("http://h/a", &[("Cookie", "mine=2")]);
        cookies.add_to(&mut own);
        assert_eq!(
            own.headers.len(),
            1,
            "the scenario's own Cookie header wins: {:?}",
            own.headers
        );
        let mut elsewhere = request("http://other/", &[]);
        cookies.add_to(&mut elsewhere);
        assert!(elsewhere.headers.is_empty());
        let off = VuCookies::new(false);
        let mut req = request("http://h/", &[]);
        off.add_to(&mut req);
        assert!(req.headers.is_empty());
    }

    #[test]
    fn a_jar_holds_at_most_max_cookies() {
        let mut j = CookieJar::default();
        for i in 0..MAX_COOKIES + 5 {
            j.store(&url("http://h/"), &format!("c{i}=v"), at(0));
        }
        assert_eq!(j.len(), MAX_COOKIES);
        let header = j.header(&url("http://h/"), at(1)).unwrap();
        assert!(
            header.starts_with("c5=v; c6=v"),
            "the oldest went first: {header}"
        );
    }
}
