//! Following redirects (the plan's `max-redirects`, k6's `maxRedirects`) for `http.send` and
//! `fetch()`, as Go's HTTP client does for k6 and Python's `requests` for Locust:
//!
//! - `301`, `302` and `303` continue as a `GET` without body (a `HEAD` stays a `HEAD`); `307` and
//!   `308` repeat the method and the body;
//! - the `Location` is resolved against the request's URL (as browsers do, the WHATWG URL rules), and
//!   only `http` and `https` are followed; an empty `Location` is not followed;
//! - the headers go along, but not the body's (`Content-Type`, ...) when the body does not, and, as
//!   Go's client decides, not `Authorization`, `Cookie` or `Host` to a host other than the same one
//!   or one of its subdomains (whatever the scheme and port);
//! - the request's timeout covers the whole chain (as k6's): each hop gets what the hops before it
//!   left (their `duration`), and a chain that runs out times out;
//! - each hop goes through the plan's `targets` like any request: a redirect elsewhere is refused
//!   (`origin-not-allowed`) and never sent.

use crate::client::{CompletedResponse, HttpClient, OutgoingRequest, RequestError};
use crate::cookies::VuCookies;
use url::Url;

/// A request's outcome with the redirects it followed on the way.
pub(crate) struct Followed {
    /// The redirects answered before the last response, in order.
    pub(crate) hops: Vec<CompletedResponse>,
    /// The last response, or why there is none.
    pub(crate) result: Result<CompletedResponse, RequestError>,
}

/// Send `outgoing`, following up to `max` redirects with `cookies` (`fetch()`; and shared instances,
/// whose VUs have no jar but whose `setup` and `teardown` do), handing each redirect answered on
/// the way to `on_hop` as it comes. (`http.send` with a VU of its own has a loop of its own: it
/// reuses the VU's timer and records each hop into the VU's store.)
pub(crate) async fn send_following(
    client: &HttpClient,
    mut outgoing: OutgoingRequest,
    mut max: u32,
    cookies: &VuCookies,
    mut on_hop: impl FnMut(CompletedResponse),
) -> Result<CompletedResponse, RequestError> {
    let mut from = None;
    loop {
        let jar_cookie = cookies.add_to(&mut outgoing);
        let mut result = client.send(&outgoing).await;
        name_refusal(&mut result, from.as_deref());
        if let Ok(resp) = &result {
            cookies.keep_from(&outgoing.url, resp);
        }
        match result {
            Ok(resp) if max > 0 => match next_request(&mut outgoing, &resp, jar_cookie) {
                Some(next) => {
                    max -= 1;
                    on_hop(resp);
                    from = Some(std::mem::replace(&mut outgoing, next).url);
                }
                None => return Ok(resp),
            },
            result => return result,
        }
    }
}

/// [`send_following`], keeping the redirects with the outcome.
pub(crate) async fn send_following_all(
    client: &HttpClient,
    outgoing: OutgoingRequest,
    max: u32,
    cookies: &VuCookies,
) -> Followed {
    let mut hops = Vec::new();
    let result = send_following(client, outgoing, max, cookies, |hop| hops.push(hop)).await;
    Followed { hops, result }
}

/// Headers about the body, dropped when the body is.
const BODY_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
];
/// Credentials and the host name, dropped on the way to another host.
const ORIGIN_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "host"];

/// Make a hop's refusal by the plan's `targets` name the redirect that led there (`from`: the URL
/// that answered with it; `None` for the request the scenario sent, left as it is).
pub(crate) fn name_refusal(
    result: &mut Result<CompletedResponse, RequestError>,
    from: Option<&str>,
) {
    if let (Err(RequestError::OriginNotAllowed(message)), Some(from)) = (result, from) {
        message.push_str(&format!(" (a redirect from {from})"));
    }
}

/// The request to send after `resp`, the response to `previous`, when it is a redirect with a
/// `Location` to follow. Takes the headers and body out of `previous`. `jar_cookie`: `previous`'s
/// last header is the `Cookie` the VU's jar added, which the next hop gets afresh from the jar for
/// its own URL.
pub(crate) fn next_request(
    previous: &mut OutgoingRequest,
    resp: &CompletedResponse,
    jar_cookie: bool,
) -> Option<OutgoingRequest> {
    let (same_method, keep_body) = match resp.status {
        301..=303 => (false, false),
        307 | 308 => (true, true),
        _ => return None,
    };
    let location = std::str::from_utf8(resp.headers.get("location")?)
        .ok()?
        .trim();
    if location.is_empty() {
        // Go and `requests` return such a response as is: joined, it would be the same URL again.
        return None;
    }
    let from = Url::parse(&previous.url).ok()?;
    let to = from.join(location).ok()?;
    if !matches!(to.scheme(), "http" | "https") {
        return None;
    }
    let method = if same_method || previous.method.eq_ignore_ascii_case("HEAD") {
        previous.method.clone()
    } else {
        "GET".to_owned()
    };
    let same_site = match (from.host_str(), to.host_str()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            // A subdomain of a name (never of an IP address, whose `host_str` has no letters
            // that a suffix match could mean anything for).
            a == b || (from.domain().is_some() && b.ends_with(&format!(".{a}")))
        }
        _ => false,
    };
    let mut headers = std::mem::take(&mut previous.headers);
    if jar_cookie {
        debug_assert!(headers.last().is_some_and(|(n, _)| n == "cookie"));
        headers.pop();
    }
    headers.retain(|(name, _)| {
        let dropped = |list: &[&str]| list.iter().any(|h| name.eq_ignore_ascii_case(h));
        let body_header = !keep_body && dropped(&BODY_HEADERS);
        let credential = !same_site && dropped(&ORIGIN_HEADERS);
        !body_header && !credential
    });
    Some(OutgoingRequest {
        method,
        url: to.into(),
        headers,
        body: if keep_body {
            previous.body.take()
        } else {
            None
        },
        // The chain's budget: what is left after this hop.
        timeout: previous.timeout.saturating_sub(resp.timings.duration),
        discard_body: previous.discard_body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Timings;
    use std::time::Duration;

    fn response(status: u16, location: Option<&str>) -> CompletedResponse {
        response_after(status, location, Duration::ZERO)
    }

    fn response_after(status: u16, location: Option<&str>, took: Duration) -> CompletedResponse {
        let mut raw = format!("HTTP/1.1 {status} X\r\n");
        if let Some(l) = location {
            raw.push_str(&format!("Location: {l}\r\n"));
        }
        raw.push_str("\r\n");
        let mut buf = raw.into_bytes();
        let head = crate::h1::parse_head(&mut buf, false).unwrap().unwrap();
        CompletedResponse {
            status,
            headers: head.into_headers(bytes::Bytes::from(buf)),
            body: bytes::Bytes::new(),
            timings: Timings {
                duration: took,
                ..Timings::default()
            },
            bytes_sent: 0,
            bytes_received: 0,
            proto: crate::client::Proto::Http11,
        }
    }

    fn post(url: &str, headers: &[(&str, &str)]) -> OutgoingRequest {
        OutgoingRequest {
            method: "POST".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Some(b"{\"a\":1}".to_vec()),
            timeout: Duration::from_secs(3),
            discard_body: false,
        }
    }

    /// The request after `previous` answered with `status` and `location`.
    fn next(
        mut previous: OutgoingRequest,
        status: u16,
        location: Option<&str>,
        jar_cookie: bool,
    ) -> Option<OutgoingRequest> {
        next_request(&mut previous, &response(status, location), jar_cookie)
    }

    fn names(r: &OutgoingRequest) -> Vec<&str> {
        r.headers.iter().map(|(k, _)| k.as_str()).collect()
    }

    const HEADERS: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer t"),
        ("x-trace", "1"),
        ("cookie", "mine=1"),
    ];

    #[test]
    fn see_other_and_found_continue_as_a_get_without_the_body() {
        for status in [301, 302, 303] {
            let n = next(
                post("http://h:8080/a/b", HEADERS),
                status,
                Some("/done?x=1"),
                false,
            )
            .unwrap();
            assert_eq!(
                (n.method.as_str(), n.url.as_str()),
                ("GET", "http://h:8080/done?x=1")
            );
            assert_eq!(n.body, None);
            assert_eq!(
                names(&n),
                ["Authorization", "x-trace", "cookie"],
                "{status}"
            );
            assert_eq!(n.timeout, Duration::from_secs(3));
        }
    }

    #[test]
    fn temporary_and_permanent_redirects_repeat_method_and_body() {
        for status in [307, 308] {
            let n = next(post("http://h/a/b", HEADERS), status, Some("next"), false).unwrap();
            assert_eq!(
                (n.method.as_str(), n.url.as_str()),
                ("POST", "http://h/a/next")
            );
            assert_eq!(n.body.as_deref(), Some(&b"{\"a\":1}"[..]));
            assert_eq!(
                names(&n),
                ["Content-Type", "Authorization", "x-trace", "cookie"]
            );
        }
        let mut head = post("http://h/", &[]);
        head.method = "HEAD".into();
        assert_eq!(next(head, 302, Some("/x"), false).unwrap().method, "HEAD");
    }

    #[test]
    fn credentials_stay_with_their_host_and_its_subdomains_and_the_jars_cookie_is_asked_again() {
        let n = next(
            post("http://h/a", HEADERS),
            307,
            Some("https://other:9/x"),
            false,
        )
        .unwrap();
        assert_eq!(n.url, "https://other:9/x");
        assert_eq!(names(&n), ["Content-Type", "x-trace"]);
        // As Go decides: the same host on another port or scheme, or a subdomain, keeps them.
        let all = ["Authorization", "x-trace", "cookie"];
        let n = next(
            post("http://h/", HEADERS),
            302,
            Some("https://h:81/"),
            false,
        )
        .unwrap();
        assert_eq!(names(&n), all);
        let sub = next(
            post("http://shop.test/", HEADERS),
            302,
            Some("http://api.shop.test/"),
            false,
        );
        assert_eq!(names(&sub.unwrap()), all);
        let parent = next(
            post("http://api.shop.test/", HEADERS),
            302,
            Some("http://shop.test/"),
            false,
        );
        assert_eq!(
            names(&parent.unwrap()),
            ["x-trace"],
            "a parent domain is another host"
        );
        // An IP address is only ever itself (no subdomains): loopback to loopback, another address.
        let ip = next(
            post("http://127.0.0.1/", HEADERS),
            302,
            Some("http://[::1]/"),
            false,
        );
        assert_eq!(names(&ip.unwrap()), ["x-trace"]);
        let port = next(
            post("http://127.0.0.1:8080/", HEADERS),
            302,
            Some("http://127.0.0.1:9090/"),
            false,
        );
        assert_eq!(names(&port.unwrap()), all);
        let with_jar = [("x-trace", "1"), ("cookie", "session=abc")];
        let n = next(post("http://h/", &with_jar), 302, Some("/x"), true).unwrap();
        assert_eq!(names(&n), ["x-trace"]);
    }

    #[test]
    fn locations_resolve_as_browsers_resolve_them() {
        for (location, url) in [
            ("//other/x", "http://other/x"),
            ("?q=1", "http://h/a/b?q=1"),
            ("../x", "http://h/x"),
            ("c#frag", "http://h/a/c#frag"),
            ("/a b", "http://h/a%20b"),
            ("/caf\u{e9}", "http://h/caf%C3%A9"),
            ("HTTPS://H:443/x", "https://h/x"),
        ] {
            let n = next(post("http://h/a/b", &[]), 302, Some(location), false).unwrap();
            assert_eq!(n.url, url, "{location}");
        }
    }

    #[test]
    fn a_refused_hop_names_the_redirect_that_led_there() {
        let refused = || {
            Err(RequestError::OriginNotAllowed(
                "http://x:9 is not in the plan's targets".into(),
            ))
        };
        let mut named = refused();
        name_refusal(&mut named, Some("http://h/start"));
        assert!(
            matches!(&named, Err(RequestError::OriginNotAllowed(m))
                if m == "http://x:9 is not in the plan's targets (a redirect from http://h/start)"),
            "{named:?}"
        );
        let mut first = refused();
        name_refusal(&mut first, None);
        assert!(
            matches!(&first, Err(RequestError::OriginNotAllowed(m)) if !m.contains("redirect"))
        );
        let mut timeout = Err(RequestError::Timeout);
        name_refusal(&mut timeout, Some("http://h/"));
        assert!(matches!(timeout, Err(RequestError::Timeout)));
    }

    #[test]
    fn the_timeout_covers_the_whole_chain() {
        let mut first = post("http://h/", &[]);
        first.timeout = Duration::from_secs(3);
        let resp = response_after(302, Some("/x"), Duration::from_millis(2500));
        let n = next_request(&mut first, &resp, false).unwrap();
        assert_eq!(n.timeout, Duration::from_millis(500));
        let mut late = n;
        let resp = response_after(302, Some("/y"), Duration::from_secs(1));
        assert_eq!(
            next_request(&mut late, &resp, false).unwrap().timeout,
            Duration::ZERO
        );
    }

    #[test]
    fn only_redirects_with_a_usable_location_are_followed() {
        for (status, location) in [
            (200, Some("/x")),
            (304, Some("/x")),
            (300, Some("/x")),
            (302, None),
            (302, Some("ftp://h/file")),
            (302, Some("http://[::1")),
            (302, Some("")),
            (302, Some("   ")),
        ] {
            assert!(
                next(post("http://h/", &[]), status, location, false).is_none(),
                "{status} {location:?}"
            );
        }
    }
}
