//! A VU's cookie jar (RFC 6265, as a non-browser user agent keeps one): cookies a response sets
//! are sent back with the VU's later requests to the same site, as k6's per-VU jar and Locust's
//! `HttpUser` session do.
//!
//! Kept: `Domain` (host-only without it), `Path` (the request's directory without it), `Expires`
//! (any date RFC 6265's lenient cookie-date algorithm reads) and `Max-Age` (`Max-Age` wins; a past
//! expiry deletes; expiry is capped at 400 days, as RFC 6265bis asks), `Secure` (set by and sent
//! over `https://` only). Ignored, as they only matter to browsers: `HttpOnly`, `SameSite`,
//! `Partitioned`. Not kept: a public-suffix list (the plan's targets already limit which hosts a VU
//! talks to; a `Domain` must still match the host that set it). Time is a parameter, so all of it
//! is tested without clocks.

use crate::client::{CompletedResponse, OutgoingRequest};
use http::Uri;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// At most this many cookies per VU; a new one past it replaces the least recently set.
pub const MAX_COOKIES: usize = 300;
/// The longest a cookie is kept (RFC 6265bis): 400 days.
const MAX_AGE: Duration = Duration::from_secs(400 * 24 * 3600);
/// Longer `Set-Cookie` values are ignored (RFC 6265 asks user agents for at least 4096 bytes).
const MAX_COOKIE_LEN: usize = 8192;

/// The parts of a request URL a jar looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieUrl {
    https: bool,
    /// Lower case, without brackets for IPv6.
    host: String,
    host_is_ip: bool,
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
            host_is_ip: host.parse::<std::net::IpAddr>().is_ok(),
            host: host.to_ascii_lowercase(),
            path: uri.path().to_owned(),
        })
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
                domain_matches(&url.host, &self.domain, url.host_is_ip)
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

/// RFC 6265 5.1.1, the lenient cookie-date algorithm: the first token that reads as a time, a day
/// of the month, a month and a year, in any order and among any other words (a weekday, `GMT`), so
/// `Wed, 21 Oct 2015 07:28:00 GMT`, `Thu, 01-Jan-1970 00:00:00 GMT` and `1 jan 70 0:0:0` all read.
/// Two-digit years are 1970-2069. `None` for a date that does not exist; a date before 1970 is the
/// epoch (it has passed either way).
pub fn parse_cookie_date(text: &str) -> Option<SystemTime> {
    let delimiter = |c: char| matches!(c, '\t' | '\x20'..='\x2f' | '\x3b'..='\x40' | '\x5b'..='\x60' | '\x7b'..='\x7e');
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in text.split(delimiter).filter(|t| !t.is_empty()) {
        if time.is_none()
            && let Some(t) = time_token(token)
        {
            time = Some(t);
        } else if day.is_none()
            && let Some(d) = leading_digits(token, 1, 2)
        {
            day = Some(d);
        } else if month.is_none()
            && let Some(m) = month_token(token)
        {
            month = Some(m);
        } else if year.is_none()
            && let Some(y) = leading_digits(token, 2, 4)
        {
            year = Some(y);
        }
    }
    let ((hour, minute, second), day, month, mut year) = (time?, day?, month?, year?);
    year += match year {
        70..=99 => 1900,
        0..=69 => 2000,
        _ => 0,
    };
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(match u64::try_from(seconds) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => SystemTime::UNIX_EPOCH,
    })
}

/// `min..=max` digits at the start of `token`, followed by anything but a digit.
fn leading_digits(token: &str, min: usize, max: usize) -> Option<u32> {
    let n = token.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max)
        .contains(&n)
        .then(|| token[..n].parse().ok())
        .flatten()
}

/// `h:m:s`, one or two digits each, the seconds followed by anything but a digit.
fn time_token(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.splitn(3, ':');
    let h = parts.next()?;
    let m = parts.next()?;
    let s = parts.next()?;
    let whole = |p: &str| {
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    Some((whole(h)?, whole(m)?, leading_digits(s, 1, 2)?))
}

/// A month by the first three letters of its English name, any case.
fn month_token(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = token.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (negative before).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Count years from March, so that the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
                if let Some(t) = parse_cookie_date(val) {
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
                        now + Duration::from_secs(seconds as u64).min(MAX_AGE)
                    });
                }
            } else if key.eq_ignore_ascii_case("domain") {
                let d = val.strip_prefix('.').unwrap_or(val).to_ascii_lowercase();
                if !d.is_empty() {
                    domain = Some(d);
                }
            } else if key.eq_ignore_ascii_case("path") {
                path = val.starts_with('/').then(|| val.to_owned());
            } else if key.eq_ignore_ascii_case("secure") {
                secure = true;
            }
        }
        if secure && !url.https {
            // RFC 6265bis: only a secure origin sets a secure cookie.
            return;
        }
        let (domain, host_only) = match domain {
            Some(d) if domain_matches(&url.host, &d, url.host_is_ip) => (d, false),
            Some(_) => return,
            None => (url.host.clone(), true),
        };
        let path = path.unwrap_or_else(|| url.default_path().to_owned());
        let expires = max_age.or(expires).map(|e| e.min(now + MAX_AGE));
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
        // The list is in the order cookies were last set: a full jar drops the least recently set
        // (the header's order is by `created`, kept on replacement).
        match existing {
            Some(i) => {
                self.cookies.remove(i);
            }
            None if self.cookies.len() >= MAX_COOKIES => {
                self.cookies.remove(0);
            }
            None => {}
        }
        self.cookies.push(cookie);
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

    /// Add the jar's cookies for `req`'s URL as its `Cookie` header (the last header), unless the
    /// scenario wrote one itself (then it is sent as written, as Python's `requests` does). Whether
    /// it added one.
    pub(crate) fn add_to(&self, req: &mut OutgoingRequest) -> bool {
        let Some(jar) = &self.0 else { return false };
        let mut jar = Self::lock(jar);
        let own = || {
            req.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        };
        if jar.is_empty() || own() {
            return false;
        }
        let Some(url) = CookieUrl::parse(&req.url) else {
            return false;
        };
        match jar.header(&url, SystemTime::now()) {
            Some(header) => {
                req.headers.push(("cookie".to_owned(), header));
                true
            }
            None => false,
        }
    }

    /// Keep the cookies `resp`, the response to a request for `url`, sets (its `Set-Cookie`
    /// headers).
    pub(crate) fn keep_from(&self, url: &str, resp: &CompletedResponse) {
        let Some(jar) = &self.0 else { return };
        let mut set_cookies = resp
            .headers
            .iter()
            .filter(|(name, _)| *name == b"set-cookie")
            .peekable();
        if set_cookies.peek().is_none() {
            return;
        }
        let Some(url) = CookieUrl::parse(url) else {
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
    fn cookie_dates_read_as_leniently_as_rfc_6265_asks() {
        let epoch = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let oct_21_2015 = epoch(1_445_412_480);
        for text in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed, 21-Oct-2015 07:28:00 UTC",
            "Sun, 21 OCT 2015 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "21 october 2015 7:28:0",
        ] {
            assert_eq!(parse_cookie_date(text), Some(oct_21_2015), "{text}");
        }
        assert_eq!(
            parse_cookie_date("Thu, 01-Jan-1970 00:00:00 GMT"),
            Some(epoch(0))
        );
        assert_eq!(
            parse_cookie_date("Thu, 1 Jan 1970 00:00:01 GMT"),
            Some(epoch(1))
        );
        assert_eq!(
            parse_cookie_date("Mon, 01 Jan 1900 00:00:00 GMT"),
            Some(epoch(0)),
            "before 1970"
        );
        assert_eq!(
            parse_cookie_date("29 Feb 2024 12:00:00"),
            Some(epoch(1_709_208_000))
        );
        for bad in [
            "29 Feb 2023 12:00:00",
            "32 Jan 2020 00:00:00",
            "1 Jan 1600 00:00:00",
            "1 Jan 2020 24:00:00",
            "1 Jan 2020",
            "Jan 2020 00:00:00",
            "soon",
            "",
        ] {
            assert_eq!(parse_cookie_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_dashed_expires_in_the_past_deletes_and_expiry_is_capped_at_400_days() {
        let mut j = jar(&[
            ("http://h/", "s=1"),
            ("http://h/", "long=1; Max-Age=999999999"),
        ]);
        j.store(
            &url("http://h/"),
            "s=; Expires=Thu, 01-Jan-1970 00:00:00 GMT",
            at(1),
        );
        assert_eq!(
            j.header(&url("http://h/"), at(2)).as_deref(),
            Some("long=1")
        );
        let day = 24 * 3600;
        assert_eq!(
            j.header(&url("http://h/"), at(400 * day - 1)).as_deref(),
            Some("long=1")
        );
        assert_eq!(j.header(&url("http://h/"), at(400 * day)), None);
    }

    #[test]
    fn only_https_sets_a_secure_cookie() {
        let j = jar(&[("http://h/", "s=1; Secure")]);
        assert!(j.is_empty());
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
