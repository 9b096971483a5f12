//! The HTTP client: requests that the host sends, times and records.
//!
//! Every request goes through the host's pooled client. The host records `http_reqs`, `http_req_duration`
//! (and its phases), `http_req_failed`, `data_sent` and `data_received`, tagged by the request's metric
//! [`name`](RequestBuilder::name), method, status and scenario. The URL's origin must be one of the plan's
//! `targets`, otherwise the request fails with [`HttpError::OriginNotAllowed`] without being sent.
//!
//! ```no_run
//! use std::time::Duration;
//! use stampede_sdk::{check, http};
//!
//! # fn run(base: &str, token: &str) -> Result<(), String> {
//! let res = http::get(format!("{base}/products/7"))
//!     .name("product") // group every /products/{id} under one metric name
//!     .bearer(token)
//!     .timeout(Duration::from_secs(5))
//!     .send()?; // an HttpError converts into the String error
//! check("status is 200", res.status == 200);
//! println!("{} in {:.1} ms", res.text(), res.timings.duration_ms);
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::bindings::stampede::scenario::http as wit;

/// Start a `GET` request.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    request("GET", url)
}

/// Start a `POST` request.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    request("POST", url)
}

/// Start a `PUT` request.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    request("PUT", url)
}

/// Start a `DELETE` request.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    request("DELETE", url)
}

/// Start a `PATCH` request.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    request("PATCH", url)
}

/// Start a request with any method. The method is sent upper case (`"head"` becomes `HEAD`).
pub fn request(method: &str, url: impl Into<String>) -> RequestBuilder {
    RequestBuilder {
        req: wit::Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            name: None,
            timeout_ms: None,
            tags: Vec::new(),
        },
        error: None,
    }
}

/// A request being built; finish it with [`send`](RequestBuilder::send).
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    req: wit::Request,
    /// A problem found while building (for example a value that failed to serialize); `send` returns it.
    error: Option<String>,
}

impl RequestBuilder {
    /// Metric name for this request, to group URLs that contain ids (`/products/17` -> `"product"`).
    /// Without it the host uses the URL without its query string.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.req.name = Some(name.into());
        self
    }

    /// Add a request header. Headers are sent in the order they were added.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.req.headers.push((name.into(), value.into()));
        self
    }

    /// Add `Authorization: Bearer <token>`.
    pub fn bearer(self, token: impl fmt::Display) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Set the request body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.req.body = Some(body.into());
        self
    }

    /// Set a JSON body from text you built yourself, and `content-type: application/json` unless a
    /// content type was already set.
    pub fn json_str(self, json: &str) -> Self {
        self.content_type_json().body(json.as_bytes())
    }

    /// Serialize `value` as the JSON body and set `content-type: application/json` unless a content type
    /// was already set. If serialization fails, [`send`](RequestBuilder::send) returns
    /// [`HttpError::InvalidRequest`] without sending anything.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.content_type_json().body(bytes),
            Err(err) => {
                self.error = Some(format!("cannot serialize the JSON body: {err}"));
                self
            }
        }
    }

    /// Give up after `timeout` (from request start to the last body byte), with millisecond resolution.
    /// Without it the plan's `http-timeout` applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.req.timeout_ms = Some(crate::duration_to_ms(timeout));
        self
    }

    /// Add a tag to this request's metric samples.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.req.tags.push((key.into(), value.into()));
        self
    }

    /// Send the request and wait for the whole response. Any status is a [`Response`]; only a missing
    /// response (refused origin, connection failure, timeout, broken HTTP) is an [`HttpError`].
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(message) = self.error {
            return Err(HttpError::InvalidRequest(message));
        }
        wit::send(&self.req)
            .map(Response::from)
            .map_err(HttpError::from)
    }

    /// Send the request from a VU of a shared-isolation scenario (feature `shared`): like
    /// [`send`](RequestBuilder::send), but only this VU waits for the response; the other VUs of the
    /// instance keep running meanwhile.
    #[cfg(feature = "shared")]
    pub async fn send_async(self) -> Result<Response, HttpError> {
        if let Some(message) = self.error {
            return Err(HttpError::InvalidRequest(message));
        }
        crate::bindings::stampede::scenario::http_async::send(self.req)
            .await
            .map(Response::from)
            .map_err(HttpError::from)
    }

    fn content_type_json(self) -> Self {
        let has_type = self
            .req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if has_type {
            self
        } else {
            self.header("content-type", "application/json")
        }
    }
}

/// A response the server sent, whatever its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The headers, names lower case, in the order received.
    pub headers: Headers,
    /// The whole body.
    pub body: Vec<u8>,
    /// How long each phase took, as measured by the host.
    pub timings: Timings,
}

impl Response {
    /// The body as text; invalid UTF-8 sequences become `U+FFFD`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Parse the body as JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl From<wit::Response> for Response {
    fn from(r: wit::Response) -> Self {
        Response {
            status: r.status,
            headers: Headers(r.headers),
            body: r.body,
            timings: r.timings.into(),
        }
    }
}

/// A response's headers, names lower case, in the order received (a header sent twice is there
/// twice).
///
/// The host hands them over as one block of `name: value` lines, which this type keeps and splits
/// only when a header is asked for: a response whose headers nobody reads costs one copy.
/// Collect `(name, value)` pairs into one to build a [`Response`] in a unit test.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Headers(String);

/// Prints the `(name, value)` pairs, as `dbg!(&response)` readers expect, not the host's block.
impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Headers {
    /// The value of the first header called `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of every header called `name` (compared case-insensitively), for example each
    /// `set-cookie`.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header as `(name, value)`.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter(self.0.lines())
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The block as the host sent it: one `name: value` line per header, each ending in `\n`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// The `(name, value)` pairs of [`Headers`], in order.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a>(std::str::Lines<'a>);

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        // The host writes no empty lines; a hand-built block might.
        let line = self.0.find(|line| !line.is_empty())?;
        // Header names hold no `:`; a value may (`http://...`), so the first one splits.
        Some(match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        })
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut block = String::new();
        for (k, v) in pairs {
            block.push_str(&k.as_ref().to_ascii_lowercase());
            block.push_str(": ");
            block.push_str(v.as_ref());
            block.push('\n');
        }
        Headers(block)
    }
}

/// Time spent in each phase of a request, in milliseconds, as measured by the host.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// Request start to last body byte (what `http_req_duration` records).
    pub duration_ms: f64,
    /// Opening a new connection: TCP, plus the TLS handshake for `https://` (the metrics
    /// `http_req_connecting` and `http_req_tls_handshaking` record the two apart); 0 when a pooled
    /// connection was reused.
    pub connecting_ms: f64,
    /// Request start to the first response byte, minus `connecting_ms`.
    pub waiting_ms: f64,
    /// First response byte to last body byte.
    pub receiving_ms: f64,
}

impl From<wit::Timings> for Timings {
    fn from(t: wit::Timings) -> Self {
        Timings {
            duration_ms: t.duration_ms,
            connecting_ms: t.connecting_ms,
            waiting_ms: t.waiting_ms,
            receiving_ms: t.receiving_ms,
        }
    }
}

/// Why no response arrived. The host records every one of these as a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL's origin is not in the plan's `targets`; the request was never sent.
    OriginNotAllowed(String),
    /// The request could not be built (bad URL, method, header or body).
    InvalidRequest(String),
    /// The connection could not be opened or broke (refused, reset, DNS).
    Connect(String),
    /// No complete response within the timeout.
    Timeout,
    /// The server answered with something that is not valid HTTP, or with a body longer than the
    /// plan's `memory-limit`.
    Protocol(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::OriginNotAllowed(m) => {
                write!(f, "origin not allowed by the plan's targets: {m}")
            }
            HttpError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            HttpError::Connect(m) => write!(f, "connection failed: {m}"),
            HttpError::Timeout => f.write_str("request timed out"),
            HttpError::Protocol(m) => write!(f, "HTTP protocol error: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Lets `?` turn an [`HttpError`] into the `String` error that [`Scenario`](crate::Scenario) methods and
/// tasks return: `http::get(url).send()?`.
impl From<HttpError> for String {
    fn from(err: HttpError) -> String {
        err.to_string()
    }
}

impl From<wit::HttpError> for HttpError {
    fn from(e: wit::HttpError) -> Self {
        match e {
            wit::HttpError::OriginNotAllowed(m) => HttpError::OriginNotAllowed(m),
            wit::HttpError::InvalidRequest(m) => HttpError::InvalidRequest(m),
            wit::HttpError::Connect(m) => HttpError::Connect(m),
            wit::HttpError::Timeout => HttpError::Timeout,
            wit::HttpError::Protocol(m) => HttpError::Protocol(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_fills_the_request() {
        let b = request("get", "http://h/x")
            .name("x")
            .bearer("tok")
            .json_str("{}")
            .timeout(Duration::from_millis(1500))
            .tag("k", "v");
        assert_eq!(b.req.method, "GET");
        assert_eq!(b.req.name.as_deref(), Some("x"));
        assert_eq!(
            b.req.headers,
            vec![
                ("authorization".to_owned(), "Bearer tok".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(b.req.body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(b.req.timeout_ms, Some(1500));
        assert_eq!(b.req.tags, vec![("k".to_owned(), "v".to_owned())]);
    }

    #[test]
    fn json_str_keeps_an_explicit_content_type() {
        let b = post("http://h/")
            .header("Content-Type", "application/vnd.x+json")
            .json_str("[]");
        assert_eq!(b.req.headers.len(), 1);
    }

    #[test]
    fn response_helpers() {
        let res = Response {
            status: 204,
            headers: [("Content-Type", "text/plain")].into_iter().collect(),
            body: b"ok\n".to_vec(),
            timings: Timings::default(),
        };
        assert!(res.is_success());
        assert_eq!(res.header("Content-Type"), Some("text/plain"));
        assert_eq!(res.header("x-missing"), None);
        assert_eq!(res.text(), "ok\n");
    }

    #[test]
    fn headers_split_the_hosts_block_on_demand() {
        let h = Headers(
            "content-type: text/plain\nset-cookie: a=1\nset-cookie: b=2; Path=/\nx-empty: \nx-url: http://h:1/\n"
                .into(),
        );
        assert_eq!(h.len(), 5);
        assert!(!h.is_empty());
        assert_eq!(h.get("Content-Type"), Some("text/plain"));
        assert_eq!(
            h.get_all("set-cookie").collect::<Vec<_>>(),
            ["a=1", "b=2; Path=/"]
        );
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(h.get("x-url"), Some("http://h:1/"));
        assert_eq!(h.get("x-missing"), None);
        let names: Vec<&str> = (&h).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "set-cookie",
                "set-cookie",
                "x-empty",
                "x-url"
            ]
        );
        let built: Headers = [("Set-Cookie", "a=1"), ("X-Url", "http://h:1/")]
            .into_iter()
            .collect();
        assert_eq!(built.as_str(), "set-cookie: a=1\nx-url: http://h:1/\n");
        assert!(Headers::default().is_empty());
        assert_eq!(Headers::default().len(), 0);
        // A hand-built block of empty lines holds no header, as `len` says.
        assert!(Headers("\n\n".into()).is_empty());
        assert_eq!(
            format!("{built:?}"),
            r#"[("set-cookie", "a=1"), ("x-url", "http://h:1/")]"#
        );
    }

    #[test]
    fn http_errors_read_well_as_strings() {
        let err: String = HttpError::OriginNotAllowed("http://x:1".into()).into();
        assert_eq!(err, "origin not allowed by the plan's targets: http://x:1");
        assert_eq!(HttpError::Timeout.to_string(), "request timed out");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_round_trip() {
        let b = post("http://h/").json(&[1, 2, 3]);
        assert_eq!(b.req.body.as_deref(), Some(&b"[1,2,3]"[..]));
        let res = Response {
            status: 200,
            headers: Headers::default(),
            body: b"[4,5]".to_vec(),
            timings: Timings::default(),
        };
        assert_eq!(res.json::<Vec<u32>>().unwrap(), vec![4, 5]);
    }
}
