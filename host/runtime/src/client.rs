//! The load traffic's HTTP client: keep-alive HTTP/1.1 connections (over TLS for `https://`, see
//! [`crate::tls`]) in one pool per VU thread (see [`crate::pool`]), with host-side timing, the
//! plan's target allowlist and `max-connections`.
//!
//! Timings use `Instant::now()` reads only (no timers): request start, response head, last body byte.

use crate::conn::{Conn, ExchangeError, Exchanged, OpenError, Opened};
pub use crate::h1::ResponseHeaders;
use crate::h1::{self, EncodedRequest};
use crate::http2::{self, H2Conn};
use crate::pool::{self, Checkout, Connected, Endpoint, Pool};
use crate::timer;
use crate::tls::ClientTls;
use bytes::Bytes;
use http::Uri;
use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Attempts at sending one request when pooled connections turn out closed before it was sent.
const SEND_ATTEMPTS: u32 = 3;

/// An origin the plan allows: scheme, lower-case host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP literal, lower case, IPv6 without brackets.
    pub host: String,
    /// Port (default ports filled in).
    pub port: u16,
}

/// A request as the guest asked for it.
#[derive(Debug)]
pub struct OutgoingRequest {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Read the response body to its end (timed, and counted in `bytes_received`) but return it
    /// empty, so no body is held or copied into the guest; the body limit then does not apply.
    /// `http.send` sets the plan's `discard-response-bodies` here; `fetch()` never does.
    pub discard_body: bool,
}

/// A complete response with its timings.
#[derive(Debug)]
pub struct CompletedResponse {
    /// Status code.
    pub status: u16,
    /// Headers as received, names lower case.
    pub headers: ResponseHeaders,
    /// Whole body.
    pub body: Bytes,
    /// Phase timings.
    pub timings: Timings,
    /// Bytes written for the request (line, headers, body).
    pub bytes_sent: u64,
    /// Bytes read for the response (status line, headers, body and its chunk framing).
    pub bytes_received: u64,
    /// The protocol that carried it (its metrics' `proto` tag).
    pub proto: Proto,
}

/// An HTTP version a response came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1 (`http://`, and `https://` servers that do not choose HTTP/2).
    Http11,
    /// HTTP/2 (`https://` servers that choose it in the TLS handshake).
    Http2,
}

impl Proto {
    /// The value of the `proto` tag: k6's names.
    pub fn tag(self) -> &'static str {
        match self {
            Proto::Http11 => "HTTP/1.1",
            Proto::Http2 => "HTTP/2.0",
        }
    }
}

/// Phase timings of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Request start to last body byte.
    pub duration: Duration,
    /// Opening a new TCP connection for this request; zero when a pooled one was reused.
    pub connecting: Duration,
    /// The TLS handshake of a new `https://` connection; zero when a pooled one was reused. None
    /// for plain HTTP (which records no `http_req_tls_handshaking` sample).
    pub tls_handshaking: Option<Duration>,
    /// Request start to response head, minus `connecting` and `tls_handshaking`.
    pub waiting: Duration,
    /// Response head to last body byte.
    pub receiving: Duration,
}

/// Why a request has no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Origin not in the plan's targets: never sent.
    OriginNotAllowed(String),
    /// Bad URL, method or header: never sent.
    Invalid(String),
    /// Could not connect, or the connection broke.
    Connect(String),
    /// The TLS handshake failed (an untrusted certificate, no common protocol version...): a
    /// `connect` error to the guest, tagged `error_code=tls` in metrics.
    Tls {
        /// What failed and what to do about it.
        message: String,
        /// Whether the server's certificate was refused (false for any other failure, a server
        /// refusing the client's certificate included).
        certificate: bool,
    },
    /// No complete response within the timeout.
    Timeout,
    /// The peer spoke something other than HTTP.
    Protocol(String),
    /// The response body is longer than the client's limit (see [`HttpClient::with_body_limit`]);
    /// a `protocol` error to the guest and in metrics.
    BodyTooLong {
        /// The limit in bytes.
        limit: u64,
        /// The response's status (its head was read whole).
        status: u16,
    },
}

impl RequestError {
    /// Short machine-readable code, used as the `error_code` tag.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::OriginNotAllowed(_) => "origin-not-allowed",
            RequestError::Invalid(_) => "invalid-request",
            RequestError::Connect(_) => "connect",
            RequestError::Tls { .. } => "tls",
            RequestError::Timeout => "timeout",
            RequestError::Protocol(_) | RequestError::BodyTooLong { .. } => "protocol",
        }
    }

    /// Whether the request reached the network.
    pub fn was_sent(&self) -> bool {
        !matches!(
            self,
            RequestError::OriginNotAllowed(_) | RequestError::Invalid(_)
        )
    }
}

/// The client of one VU thread. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    pool: Arc<Pool>,
    allowed: Arc<[AllowedOrigin]>,
    /// How `https://` servers are verified.
    tls: ClientTls,
    /// Longest response body read; a longer one is an error (see [`HttpClient::with_body_limit`]).
    max_body: u64,
}

impl HttpClient {
    /// A client that only sends to `allowed` origins, with at most `max_connections` connections
    /// open (and so requests in flight) at a time.
    pub fn with_max_connections(allowed: Vec<AllowedOrigin>, max_connections: Option<u64>) -> Self {
        HttpClient {
            pool: Arc::new(Pool::new(max_connections.map(to_usize))),
            allowed: allowed.into(),
            tls: ClientTls::default_roots(),
            max_body: u64::MAX,
        }
    }

    /// Verify `https://` servers as `tls` says (the plan's `tls-ca-file` and
    /// `insecure-skip-tls-verify`) instead of against Mozilla's roots only.
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }

    /// Refuse response bodies longer than `max_body` bytes (unless the request discards its body):
    /// such a request fails with [`RequestError::BodyTooLong`] as soon as the length is known (from
    /// `Content-Length`, or once that much has arrived), and its connection is closed. A worker sets
    /// the plan's `memory-limit`, since a longer body could not be held by the guest and would
    /// otherwise be held whole in the host's memory.
    pub fn with_body_limit(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }

    /// A client that only sends to `allowed` origins.
    pub fn new(allowed: Vec<AllowedOrigin>) -> Self {
        HttpClient::with_max_connections(allowed, None)
    }

    /// The same allowlist with a connection pool of its own, of at most `max_connections`
    /// connections: one per VU thread, so a connection is driven by the thread whose VUs use it,
    /// each with its share of the plan's `max-connections`.
    pub fn with_own_pool(&self, max_connections: Option<u64>) -> Self {
        HttpClient {
            pool: Arc::new(Pool::new(max_connections.map(to_usize))),
            allowed: self.allowed.clone(),
            tls: self.tls.clone(),
            max_body: self.max_body,
        }
    }

    /// Close the idle connections (for example setup's, before the VU threads open their own).
    pub fn close_idle(&self) {
        self.pool.close_idle();
    }

    /// Look after the connection pool, once a second until dropped: close idle connections that
    /// expired or that the server closed, and let those idle a second or more give their read
    /// buffers back, even while no request comes back to the pool. A VU thread runs it beside
    /// its VUs.
    pub async fn tend(&self) {
        let mut every = tokio::time::interval(crate::pool::TRIM_AFTER);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.pool.tidy(std::time::Instant::now());
        }
    }

    /// Check the allowlist, build the request, send it and read the whole response.
    pub async fn send(&self, req: &OutgoingRequest) -> Result<CompletedResponse, RequestError> {
        // Set (and registered with the timer) when the request starts.
        let deadline = std::pin::pin!(timer::unset());
        self.send_within(req, deadline).await
    }

    /// [`send`](Self::send), timed out by `deadline`, which is reset to the request's timeout when
    /// the request starts. A VU that sends request after request passes the same timer each time
    /// (see [`crate::timer`]).
    pub async fn send_within(
        &self,
        req: &OutgoingRequest,
        mut deadline: Pin<&mut tokio::time::Sleep>,
    ) -> Result<CompletedResponse, RequestError> {
        let uri: Uri = req
            .url
            .parse()
            .map_err(|e| RequestError::Invalid(format!("bad URL `{}`: {e}", req.url)))?;
        // The allowlist's and the pool's key: lower-case host without brackets, port.
        let (host, port) = host_port(&uri, &req.url)?;
        let host = &*host;
        self.check_origin(&uri, host, port)?;
        // (The allowlist accepts only `http` and `https`.)
        let at = Endpoint {
            host,
            port,
            tls: is_https(&uri),
        };
        if at.tls
            && let Some(h2) = self.pool.h2_conn(at)
        {
            // Boxed: the HTTP/1.1 path's future stays as small as it was.
            return boxed(|| self.send_h2(req, &uri, at, h2, deadline)).await;
        }
        // In a block of its own, so that what it holds is not kept while an HTTP/2 request that
        // it hands over goes on (below, rarely): the usual future stays as small as it was.
        let (h2, reused, opened, queued, start) = {
            let request = build(req, &uri, at)?;
            // Waiting for a connection under `max-connections` is not part of the request's time.
            let checkout = self.pool.checkout(at).await;
            let start = Instant::now();
            deadline.as_mut().reset(timer::after(
                tokio::time::Instant::from_std(start),
                req.timeout,
            ));
            let exchange = std::pin::pin!(self.exchange(at, checkout, &request, req.discard_body));
            match timer::before(deadline.as_mut(), exchange)
                .await
                .ok_or(RequestError::Timeout)??
            {
                Outcome::H1(conn, x, opened, queued) => {
                    let end = Instant::now();
                    if x.reusable {
                        self.pool.put_back(at, conn);
                    }
                    // A retry's wait for a connection is not part of the request's time either.
                    return Ok(completed(at, x, opened, start + queued, end));
                }
                Outcome::H2(h2, reused, opened, queued) => (h2, reused, opened, queued, start),
            }
        };
        let mut rest = boxed(|| self.on_h2(at, h2, reused, opened, queued, req, &uri));
        boxed(|| finish(self, at, start, deadline, rest.as_mut())).await
    }

    /// [`send_within`](Self::send_within) on an open HTTP/2 connection.
    async fn send_h2(
        &self,
        req: &OutgoingRequest,
        uri: &Uri,
        at: Endpoint<'_>,
        h2: H2Conn,
        mut deadline: Pin<&mut tokio::time::Sleep>,
    ) -> Result<CompletedResponse, RequestError> {
        let start = Instant::now();
        deadline.as_mut().reset(timer::after(
            tokio::time::Instant::from_std(start),
            req.timeout,
        ));
        let exchange =
            std::pin::pin!(self.on_h2(at, h2, true, Opened::default(), Duration::ZERO, req, uri));
        finish(self, at, start, deadline, exchange).await
    }

    /// The request `req` (to `uri`) on HTTP/2 connection `h2` (`reused` unless the request opened
    /// it, which took `opened`; it waited `queued` for a connection before). A request the
    /// connection did not send, or whose stream the server did not process (`REFUSED_STREAM`, a
    /// `GOAWAY` that leaves it out), goes again whatever its method, as Go's client does; one whose
    /// reused connection broke before any answer goes again if idempotent (a few attempts at
    /// most): on another open HTTP/2 connection to the origin if one has room, else the usual way
    /// (where an HTTP/1.1 connection may come back, which the result then holds).
    #[allow(clippy::too_many_arguments)]
    async fn on_h2(
        &self,
        at: Endpoint<'_>,
        mut h2: H2Conn,
        mut reused: bool,
        mut opened: Opened,
        mut queued: Duration,
        req: &OutgoingRequest,
        uri: &Uri,
    ) -> Result<(Option<Conn>, Exchanged, Opened, Duration), RequestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.exchange_h2(&h2, req, uri, at).await {
                Ok((x, waited)) => return Ok((None, x, opened, queued + waited)),
                Err(ExchangeError::Unsent(_)) if attempt < SEND_ATTEMPTS => {}
                Err(ExchangeError::NoResponse(_))
                    if reused && h1::idempotent(&req.method) && attempt < SEND_ATTEMPTS => {}
                Err(e) => return Err(h2_error(e, at)),
            }
            if let Some(other) = self.pool.h2_conn(at) {
                (h2, reused) = (other, true);
                continue;
            }
            let began = Instant::now();
            let checkout = self.pool.checkout(at).await;
            queued += began.elapsed();
            let request = build(req, uri, at)?;
            match self
                .exchange(at, checkout, &request, req.discard_body)
                .await?
            {
                Outcome::H1(conn, x, more, waited) => {
                    opened += more;
                    return Ok((Some(conn), x, opened, queued + waited));
                }
                Outcome::H2(other, was_reused, more, waited) => {
                    (h2, reused) = (other, was_reused);
                    opened += more;
                    queued += waited;
                }
            }
        }
    }

    /// One request on an HTTP/2 connection.
    async fn exchange_h2(
        &self,
        h2: &H2Conn,
        req: &OutgoingRequest,
        uri: &Uri,
        at: Endpoint<'_>,
    ) -> Result<(Exchanged, Duration), ExchangeError> {
        let request = match h2_request(req, uri, at) {
            Ok(request) => request,
            Err(e) => {
                self.pool.h2_done(at, h2);
                return Err(ExchangeError::Failed(e));
            }
        };
        let body = req.body.as_deref().map(Bytes::copy_from_slice);
        let result = h2
            .exchange(request, body, self.max_body, req.discard_body)
            .await;
        self.pool.h2_done(at, h2);
        result
    }

    /// Send `request` on the checked-out connection (opening it first if need be) and read its
    /// whole response. When a pooled connection turns out closed before any response came (the
    /// server closed it while idle), an idempotent request goes again on another (a few times at
    /// most); others fail, as they may have reached the server.
    ///
    /// An HTTP/2 connection (handed over while the request waited for a connection, or a new one
    /// to an `https://` server that chose HTTP/2, which joins the pool's) is returned for
    /// [`on_h2`](Self::on_h2) to send the request on.
    async fn exchange(
        &self,
        at: Endpoint<'_>,
        mut checkout: Checkout,
        request: &EncodedRequest,
        discard_body: bool,
    ) -> Result<Outcome, RequestError> {
        let (mut opened, mut queued) = (Opened::default(), Duration::ZERO);
        let (host, port) = (at.host, at.port);
        // A TLS failure, from the handshake or a refusal read after it, says which server.
        let tls_failed = |message: String, certificate| RequestError::Tls {
            message: format!("{}:{port}: {message}", bracketed(host)),
            certificate,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut conn, reused) = match checkout {
                Checkout::Reuse(conn) => (conn, true),
                Checkout::Shared(h2) => return Ok(Outcome::H2(h2, true, opened, queued)),
                Checkout::Open(permit) => {
                    // In a task of its own: off the VU's fiber stack, and a request holds only
                    // the task's handle meanwhile.
                    let (conn, took) =
                        pool::open_in_task(at, &self.tls, permit)
                            .await
                            .map_err(|e| match e {
                                OpenError::Connect(e) => RequestError::Connect(format!(
                                    "could not connect to {}:{port}: {e}",
                                    bracketed(host)
                                )),
                                OpenError::Tls {
                                    message,
                                    certificate,
                                } => tls_failed(message, certificate),
                            })?;
                    opened += took;
                    match conn {
                        Connected::H1(conn) => (conn, false),
                        Connected::H2(h2) => {
                            self.pool.add_h2(at, h2.clone());
                            return Ok(Outcome::H2(h2, false, opened, queued));
                        }
                    }
                }
            };
            match conn.exchange(request, self.max_body, discard_body).await {
                Ok(x) => return Ok(Outcome::H1(conn, x, opened, queued)),
                Err(ExchangeError::NoResponse(_))
                    if reused && request.idempotent && attempt < SEND_ATTEMPTS =>
                {
                    drop(conn);
                    let began = Instant::now();
                    checkout = self.pool.checkout(at).await;
                    queued += began.elapsed();
                }
                Err(ExchangeError::NoResponse(m) | ExchangeError::Unsent(m)) => {
                    return Err(RequestError::Connect(format!(
                        "{m} ({}:{port})",
                        bracketed(host)
                    )));
                }
                Err(ExchangeError::Failed(RequestError::Tls {
                    message,
                    certificate,
                })) => return Err(tls_failed(message, certificate)),
                Err(ExchangeError::Failed(e)) => return Err(e),
            }
        }
    }

    /// Whether `host:port` (as [`host_port`] gives them) with the URL's scheme is a plan target.
    fn check_origin(&self, uri: &Uri, host: &str, port: u16) -> Result<(), RequestError> {
        let scheme = uri.scheme_str().unwrap_or("");
        if self
            .allowed
            .iter()
            .any(|o| o.scheme.eq_ignore_ascii_case(scheme) && o.host == host && o.port == port)
        {
            Ok(())
        } else {
            Err(RequestError::OriginNotAllowed(format!(
                "{}://{}:{port} is not in the plan's targets",
                scheme.to_ascii_lowercase(),
                bracketed(host)
            )))
        }
    }
}

/// The URL's host as origins are compared (lower case, IPv6 without brackets; borrowed unless it
/// had upper case) and its port (the scheme's default when absent or empty). An error for a URL
/// without a host, or with a port that is not a number up to 65535 (`http::Uri` accepts any digits,
/// and its `port_u16` would then fall back to the default port).
fn host_port<'u>(uri: &'u Uri, url: &str) -> Result<(Cow<'u, str>, u16), RequestError> {
    if uri.authority().is_none() {
        return Err(RequestError::Invalid(format!(
            "URL `{url}` is not absolute (http://host:port/path)"
        )));
    }
    let (host, port) = split_host_port(host_and_port(uri));
    if host.is_empty() {
        return Err(RequestError::Invalid(format!(
            "URL `{url}` has no host (http://host:port/path)"
        )));
    }
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    let port = match port {
        None | Some("") => {
            if is_https(uri) {
                443
            } else {
                80
            }
        }
        Some(text) => text.parse().map_err(|_| {
            RequestError::Invalid(format!(
                "bad port `{text}` in URL `{url}` (a number up to 65535)"
            ))
        })?,
    };
    Ok((host, port))
}

/// The URL's authority without user info: `host[:port]` as written (IPv6 in brackets).
fn host_and_port(uri: &Uri) -> &str {
    let authority = uri.authority().map_or("", |a| a.as_str());
    rsplit_once_byte(authority, b'@').map_or(authority, |(_, h)| h)
}

/// `host[:port]` split into the host (an IPv6 literal without its brackets) and the port as written
/// (`Some("")` for `host:`).
fn split_host_port(host_port: &str) -> (&str, Option<&str>) {
    if let Some(literal) = host_port.strip_prefix('[') {
        return match literal.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => (literal, None),
        };
    }
    match rsplit_once_byte(host_port, b':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    }
}

/// `host[:port]` without its port: the host as written (an IPv6 literal keeps its brackets).
fn without_port(host_port: &str) -> &str {
    let literal_end = host_port
        .bytes()
        .rposition(|b| b == b']')
        .map_or(0, |end| end + 1);
    match host_port[literal_end..].bytes().position(|b| b == b':') {
        Some(colon) => &host_port[..literal_end + colon],
        None => host_port,
    }
}

/// `s.rsplit_once(byte)` for an ASCII byte, by a plain loop: on an authority of a few dozen bytes
/// that is several times cheaper than `str`'s searcher, which goes through `memrchr` (~1,000
/// instructions per request for the three searches, by callgrind).
fn rsplit_once_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = s.bytes().rposition(|b| b == byte)?;
    // An ASCII byte is a char boundary on both sides.
    Some((&s[..at], &s[at + 1..]))
}

/// Whether the URL's scheme is `https` (in any case).
fn is_https(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
}

/// `host` as it reads in an address: IPv6 literals in brackets.
fn bracketed(host: &str) -> Cow<'_, str> {
    if host.contains(':') {
        Cow::Owned(format!("[{host}]"))
    } else {
        Cow::Borrowed(host)
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The request in origin form (`GET /path?query`, with a `Host` header as the URL gives it, unless the
/// guest set one). `at.port` is the URL's, as [`host_port`] read it.
fn build(
    req: &OutgoingRequest,
    uri: &Uri,
    at: Endpoint<'_>,
) -> Result<EncodedRequest, RequestError> {
    let (target, host) = target_and_host(uri, at);
    let body = req.body.as_deref().unwrap_or_default();
    h1::encode_request(&req.method, &target, host, &req.headers, body)
        .map_err(RequestError::Invalid)
}

/// The future `make` makes, in a box. Not inlined: the future is made in this function's stack
/// frame, not in its caller's. (Made in the caller's, a future of the HTTP/2 path would widen the
/// frame of every request's `poll`, even one that never takes that path, and so deepen the stack
/// below it: with one instance per VU each VU's native stack keeps the pages its deepest call
/// touched, +~8 KiB per VU as measured with `bench/memory.py`.)
#[inline(never)]
fn boxed<F: std::future::Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::pin(make())
}

/// The end of a request that went on to HTTP/2 connections (`rest`), under the deadline that
/// `start` set: its response, with the connection it ended on put back if that was an HTTP/1.1 one.
async fn finish<F>(
    client: &HttpClient,
    at: Endpoint<'_>,
    start: Instant,
    deadline: Pin<&mut tokio::time::Sleep>,
    rest: Pin<&mut F>,
) -> Result<CompletedResponse, RequestError>
where
    F: std::future::Future<
            Output = Result<(Option<Conn>, Exchanged, Opened, Duration), RequestError>,
        >,
{
    let (conn, x, opened, queued) = timer::before(deadline, rest)
        .await
        .ok_or(RequestError::Timeout)??;
    let end = Instant::now();
    if x.reusable
        && let Some(conn) = conn
    {
        client.pool.put_back(at, conn);
    }
    Ok(completed(at, x, opened, start + queued, end))
}

/// Where [`HttpClient::exchange`] left a request.
enum Outcome {
    /// Answered on an HTTP/1.1 connection (to put back if reusable), with how long opening it
    /// took and how long the request waited for a connection after its first one failed.
    H1(Conn, Exchanged, Opened, Duration),
    /// To go on this HTTP/2 connection (reused unless the request opened it), with the same.
    H2(H2Conn, bool, Opened, Duration),
}

/// What a request on an HTTP/2 connection to `at` failed with, naming the server as the
/// HTTP/1.1 path does.
fn h2_error(e: ExchangeError, at: Endpoint<'_>) -> RequestError {
    let server = format!("{}:{}", bracketed(at.host), at.port);
    match e {
        ExchangeError::NoResponse(m) | ExchangeError::Unsent(m) => {
            RequestError::Connect(format!("{m} ({server})"))
        }
        ExchangeError::Failed(RequestError::Tls {
            message,
            certificate,
        }) => RequestError::Tls {
            message: format!("{server}: {message}"),
            certificate,
        },
        ExchangeError::Failed(e) => e,
    }
}

/// The response and its timings: `start` is when the request started, less any wait for a
/// connection or stream; `opened` how long opening a new connection for it took.
fn completed(
    at: Endpoint<'_>,
    x: Exchanged,
    opened: Opened,
    start: Instant,
    end: Instant,
) -> CompletedResponse {
    CompletedResponse {
        status: x.status,
        headers: x.headers,
        body: x.body,
        timings: Timings {
            duration: end - start,
            connecting: opened.connecting,
            tls_handshaking: at.tls.then_some(opened.tls_handshaking),
            waiting: (x.head_at - start).saturating_sub(opened.connecting + opened.tls_handshaking),
            receiving: end - x.head_at,
        },
        bytes_sent: x.sent,
        bytes_received: x.received,
        proto: x.proto,
    }
}

/// The request as HTTP/2 sends it (see [`http2::request`]), with the authority [`build`] would
/// send as `Host`.
fn h2_request(
    req: &OutgoingRequest,
    uri: &Uri,
    at: Endpoint<'_>,
) -> Result<http::Request<()>, RequestError> {
    let (target, host) = target_and_host(uri, at);
    let body = req.body.as_deref().unwrap_or_default();
    http2::request(&req.method, &target, host, &req.headers, body).map_err(RequestError::Invalid)
}

/// The request target (path and query, `/` at least) and the host as the `Host` header gives it.
fn target_and_host<'u>(uri: &'u Uri, at: Endpoint<'_>) -> (Cow<'u, str>, &'u str) {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    // `http://host?q` has an empty path: the request line needs `/?q`.
    let target = if target.starts_with('/') {
        Cow::Borrowed(target)
    } else {
        Cow::Owned(format!("/{target}"))
    };
    // The URL's host (IPv6 in brackets) and port as written, without user info; without the port
    // when it is the default one (however written: `:80`, `:080`, `:`).
    let host_port = host_and_port(uri);
    let default_port = if at.tls { 443 } else { 80 };
    let host = if at.port == default_port {
        without_port(host_port)
    } else {
        host_port
    };
    (target, host)
}

/// What the guest reads for [`RequestError::BodyTooLong`].
pub fn body_too_long_message(limit: u64, status: u16) -> String {
    format!(
        "the response (status {status}) has a body longer than {}, the most a VU can hold (the plan's memory-limit); raise memory-limit in [options], set discard-response-bodies, or request less",
        human_size(limit)
    )
}

/// `64 MiB`, `1.5 KiB`, `100 bytes`.
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if n.is_multiple_of(size) {
                format!("{} {unit}", n / size)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// How the raw test server answers each request.
    #[derive(Clone, Copy)]
    enum Answer {
        /// `200 ok` with `Connection: close`, then close.
        Close,
        /// Something that is not HTTP.
        Garbage,
        /// Never (on the first connection only; later ones get `200 ok` and stay open).
        SilentFirst,
        /// Never, on any connection.
        Silent,
        /// A body announced as 1 TB, written as fast as it is read, for as long as it is read.
        Endless,
        /// `200 ok` with a header value that is not UTF-8 (Latin-1 `café`).
        Latin1Header,
        /// A 2 MiB body announced by `Content-Length`.
        LongLength,
        /// A 2 MiB body in 64 KiB chunks, length unknown up front.
        LongChunked,
        /// `200 ok`, keeping the connection open.
        KeepAlive,
        /// `200 ok` without `Connection: close`, then close (a server's idle timeout, early).
        IdleClose,
        /// `hello world` in two chunks, with a trailer.
        Chunked,
        /// `100 Continue` and `103 Early Hints` before `200 ok`.
        Interim,
        /// A body without a length, ended by closing the connection.
        UntilClose,
        /// As for a HEAD request: a `Content-Length` and no body.
        Head,
        /// `413` as soon as the head is in, then never another read (the connection stays open).
        RejectEarly,
        /// `413` with `Connection: close` as soon as the head is in, then close, the body unread.
        RejectEarlyAndClose,
        /// The request body echoed in chunks as it arrives (full duplex), `Content-Length` bytes.
        Echo,
        /// Close as soon as the head is in, without an answer, the body unread (so the kernel resets).
        CloseUnread,
    }

    /// A raw HTTP/1.1 server on 127.0.0.1; counts the connections it accepted.
    async fn server(answer: Answer) -> (u16, Arc<AtomicU64>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        let Ok(k) = s.read(&mut buf).await else {
                            return;
                        };
                        if k == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..k]);
                        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        // The head, and whatever of the body came with it.
                        let seen_head = std::mem::take(&mut seen);
                        let reply: &[u8] = match answer {
                            Answer::Close => {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                            }
                            Answer::Garbage => b"garbage\r\n\r\n",
                            Answer::Silent => {
                                std::future::pending::<()>().await;
                                return;
                            }
                            Answer::SilentFirst if n == 0 => {
                                std::future::pending::<()>().await;
                                return;
                            }
                            Answer::SilentFirst => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                            Answer::Latin1Header => {
                                b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 2\r\n\r\nok"
                            }
                            Answer::KeepAlive | Answer::IdleClose => {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            }
                            Answer::Chunked => {
                                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 1\r\n\r\n"
                            }
                            Answer::Interim => {
                                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            }
                            Answer::UntilClose => b"HTTP/1.1 200 OK\r\n\r\nuntil close",
                            Answer::Head => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                            Answer::Endless => {
                                let _ = endless_body(&mut s).await;
                                return;
                            }
                            Answer::RejectEarly => {
                                let _ = s.write_all(REJECTED).await;
                                std::future::pending::<()>().await;
                                return;
                            }
                            Answer::RejectEarlyAndClose => {
                                let _ = s.write_all(REJECTED_CLOSE).await;
                                return;
                            }
                            Answer::Echo => {
                                let _ = echo(&mut s, &seen_head, end + 4).await;
                                return;
                            }
                            Answer::CloseUnread => return,
                            Answer::LongLength | Answer::LongChunked => {
                                let chunked = matches!(answer, Answer::LongChunked);
                                let _ = long_body(&mut s, chunked).await;
                                continue;
                            }
                        };
                        let closes = matches!(
                            answer,
                            Answer::Close | Answer::IdleClose | Answer::UntilClose
                        );
                        if s.write_all(reply).await.is_err() || closes {
                            return;
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    /// Write the head of a 1 TB response, then its body until the client stops reading.
    async fn endless_body(s: &mut tokio::net::TcpStream) -> std::io::Result<()> {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
            .await?;
        let chunk = vec![b'x'; 64 << 10];
        loop {
            s.write_all(&chunk).await?;
        }
    }

    /// The whole answer of [`Answer::RejectEarly`] and [`Answer::RejectEarlyAndClose`].
    const REJECTED: &[u8] = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo long";
    const REJECTED_CLOSE: &[u8] =
        b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo long";

    /// Answer the request whose head (and maybe the start of its body) is `seen[..body_at]`:
    /// its body, echoed in one chunk per read while it arrives.
    async fn echo(
        s: &mut tokio::net::TcpStream,
        seen: &[u8],
        body_at: usize,
    ) -> std::io::Result<()> {
        let head = String::from_utf8_lossy(&seen[..body_at]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await?;
        let mut chunk = seen[body_at..].to_vec();
        let mut left = length;
        let mut buf = vec![0u8; 64 << 10];
        while left > 0 {
            if chunk.is_empty() {
                let n = s.read(&mut buf[..left.min(64 << 10)]).await?;
                if n == 0 {
                    return Ok(());
                }
                chunk.extend_from_slice(&buf[..n]);
            }
            s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            s.write_all(&chunk).await?;
            s.write_all(b"\r\n").await?;
            left -= chunk.len();
            chunk.clear();
        }
        s.write_all(b"0\r\n\r\n").await
    }

    /// Write a 2 MiB response to `s`, with `Content-Length` or chunked.
    async fn long_body(s: &mut tokio::net::TcpStream, chunked: bool) -> std::io::Result<()> {
        let chunk = vec![b'x'; 64 << 10];
        if chunked {
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            for _ in 0..32 {
                s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                s.write_all(&chunk).await?;
                s.write_all(b"\r\n").await?;
            }
            s.write_all(b"0\r\n\r\n").await
        } else {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n")
                .await?;
            for _ in 0..32 {
                s.write_all(&chunk).await?;
            }
            Ok(())
        }
    }

    /// `http://127.0.0.1:{port}` as a plan target.
    fn origin(port: u16) -> AllowedOrigin {
        AllowedOrigin {
            scheme: "http".into(),
            host: "127.0.0.1".into(),
            port,
        }
    }

    /// A client for `origin(port)` with one connection at most.
    fn client(port: u16) -> HttpClient {
        HttpClient::with_max_connections(vec![origin(port)], Some(1))
    }

    fn get(port: u16, timeout: Duration) -> OutgoingRequest {
        OutgoingRequest {
            discard_body: false,
            method: "GET".into(),
            url: format!("http://127.0.0.1:{port}/x?y=1"),
            headers: vec![],
            body: None,
            timeout,
        }
    }

    /// `n` GETs one after the other, each answered `200` with `body`; the connections they took.
    async fn gets(answer: Answer, method: &str, n: u64, body: &[u8]) -> u64 {
        let (port, accepted) = server(answer).await;
        let client = client(port);
        for _ in 0..n {
            let mut req = get(port, Duration::from_secs(5));
            req.method = method.into();
            let resp = client.send(&req).await.unwrap();
            assert_eq!((resp.status, &resp.body[..]), (200, body));
            assert!(resp.bytes_sent > 30 && resp.bytes_received > 17);
        }
        accepted.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn one_keep_alive_connection_carries_every_request() {
        assert_eq!(gets(Answer::KeepAlive, "GET", 5, b"ok").await, 1);
        assert_eq!(gets(Answer::Chunked, "GET", 3, b"hello world").await, 1);
        assert_eq!(gets(Answer::Interim, "GET", 3, b"ok").await, 1);
        assert_eq!(gets(Answer::Head, "HEAD", 3, b"").await, 1);
    }

    #[tokio::test]
    async fn a_body_read_to_the_close_costs_its_connection() {
        assert_eq!(gets(Answer::UntilClose, "GET", 3, b"until close").await, 3);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_costs_no_request() {
        // Closed right after each response: the next request notices before sending, or sends,
        // finds it closed without an answer and goes again on a new one (GET is idempotent).
        assert_eq!(gets(Answer::IdleClose, "GET", 5, b"ok").await, 5);
    }

    #[tokio::test]
    async fn a_post_never_goes_on_a_connection_the_server_has_closed() {
        // The server's FIN often comes with the response's last bytes. tokio keeps a socket's
        // read-closed readiness (unlike its readable readiness, which the short read of those bytes
        // clears), so the pool sees the close before it hands the connection out. A POST cannot
        // go again after finding it closed, so it must not be sent on it.
        assert_eq!(gets(Answer::IdleClose, "POST", 30, b"ok").await, 30);
    }

    #[tokio::test]
    async fn bytes_on_the_wire_are_counted_exactly() {
        let (port, _) = server(Answer::KeepAlive).await;
        let resp = client(port)
            .send(&get(port, Duration::from_secs(5)))
            .await
            .unwrap();
        let sent = format!("GET /x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n");
        assert_eq!(resp.bytes_sent, sent.len() as u64);
        let received = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(resp.bytes_received, received.len() as u64);
    }

    /// A POST of `len` bytes to `port`, within 10 s.
    fn upload(port: u16, len: usize) -> OutgoingRequest {
        OutgoingRequest {
            method: "POST".into(),
            body: Some(vec![b'x'; len]),
            ..get(port, Duration::from_secs(10))
        }
    }

    /// Larger than what loopback's socket buffers hold (a few MiB each way), so the write cannot
    /// finish while the server does not read.
    const LARGE_UPLOAD: usize = 32 << 20;

    #[tokio::test]
    async fn an_answer_before_the_upload_is_read_ends_the_upload() {
        let (port, accepted) = server(Answer::RejectEarly).await;
        let client = client(port);
        let began = Instant::now();
        let resp = client.send(&upload(port, LARGE_UPLOAD)).await.unwrap();
        assert_eq!((resp.status, &resp.body[..]), (413, &b"too long"[..]));
        assert_eq!(resp.bytes_received, REJECTED.len() as u64);
        // What was written, not the whole request: the server stopped reading long before.
        assert!(
            resp.bytes_sent < LARGE_UPLOAD as u64,
            "sent {} bytes",
            resp.bytes_sent
        );
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{:?}",
            began.elapsed()
        );
        // The connection holds the rest of a request: the next request opens another.
        let resp = client.send(&upload(port, LARGE_UPLOAD)).await.unwrap();
        assert_eq!(resp.status, 413);
        assert_eq!(accepted.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_answer_before_the_upload_is_read_survives_the_servers_close() {
        // Closing with the body unread makes the server's kernel reset the connection; the answer
        // that came before the reset is still the request's result.
        let (port, _) = server(Answer::RejectEarlyAndClose).await;
        let client = client(port);
        for _ in 0..3 {
            let resp = client.send(&upload(port, LARGE_UPLOAD)).await.unwrap();
            assert_eq!((resp.status, &resp.body[..]), (413, &b"too long"[..]));
        }
    }

    #[tokio::test]
    async fn an_upload_the_server_drops_unanswered_fails_at_once_as_a_connect_error() {
        let (port, accepted) = server(Answer::CloseUnread).await;
        let client = client(port);
        let began = Instant::now();
        for method in ["POST", "PUT"] {
            let req = OutgoingRequest {
                method: method.into(),
                ..upload(port, LARGE_UPLOAD)
            };
            let err = client.send(&req).await.unwrap_err();
            let RequestError::Connect(msg) = &err else {
                panic!("{method}: {err:?}");
            };
            assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{:?}",
            began.elapsed()
        );
        // A fresh connection is never retried, idempotent or not.
        assert_eq!(accepted.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_response_streamed_while_the_upload_is_read_is_read_as_it_comes() {
        // The server echoes each piece of the body as it reads it, and stops reading while its
        // echo is not read: a client that reads only after writing everything would wait forever.
        let (port, accepted) = server(Answer::Echo).await;
        let client = client(port).with_body_limit(64 << 20);
        let req = upload(port, LARGE_UPLOAD);
        let head_len = format!(
            "POST /x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {LARGE_UPLOAD}\r\n\r\n"
        )
        .len();
        let resp = client.send(&req).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body.len(), LARGE_UPLOAD);
        assert!(resp.body.iter().all(|&b| b == b'x'));
        assert_eq!(resp.bytes_sent, (head_len + LARGE_UPLOAD) as u64);
        assert_eq!(accepted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_server_that_closes_each_connection_costs_no_request() {
        let (port, accepted) = server(Answer::Close).await;
        let client = client(port);
        for _ in 0..5 {
            let resp = client
                .send(&get(port, Duration::from_secs(5)))
                .await
                .unwrap();
            assert_eq!((resp.status, &resp.body[..]), (200, &b"ok"[..]));
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn a_timed_out_request_gives_its_connection_up() {
        let (port, accepted) = server(Answer::SilentFirst).await;
        // One connection at most: the second request can only run if the first one's closed.
        let client = client(port);
        let err = client
            .send(&get(port, Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert_eq!(err, RequestError::Timeout);
        let resp = tokio::time::timeout(
            Duration::from_secs(5),
            client.send(&get(port, Duration::from_secs(5))),
        )
        .await
        .expect("the timed-out request's connection was closed")
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(accepted.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn requests_that_share_one_timer_each_get_their_own_timeout() {
        // As a VU's requests do: the timer is moved later by each request, fires for the one that
        // takes too long, and serves again after it fired.
        let (fast, _) = server(Answer::KeepAlive).await;
        let (silent, _) = server(Answer::Silent).await;
        let client = HttpClient::new(vec![origin(fast), origin(silent)]);
        let mut deadline = std::pin::pin!(crate::timer::unset());
        let timeout = Duration::from_millis(300);
        for round in 0..3 {
            for _ in 0..20 {
                let resp = client
                    .send_within(&get(fast, timeout), deadline.as_mut())
                    .await
                    .unwrap();
                assert_eq!(resp.status, 200);
            }
            let began = Instant::now();
            let err = client
                .send_within(&get(silent, timeout), deadline.as_mut())
                .await
                .unwrap_err();
            let took = began.elapsed();
            assert_eq!(err, RequestError::Timeout, "round {round}");
            assert!(
                took >= timeout && took < Duration::from_secs(3),
                "round {round}: timed out after {took:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out_even_when_it_arrives_faster_than_it_is_read() {
        // Discarded, so no body limit stops it: only the timeout can. Every read finds data, so
        // the exchange uses tokio's cooperative budget up on every poll; the timer must still fire.
        let (port, _) = server(Answer::Endless).await;
        let client = client(port);
        let mut req = get(port, Duration::from_millis(300));
        req.discard_body = true;
        let began = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(10), client.send(&req))
            .await
            .expect("the request's own timeout fired")
            .unwrap_err();
        assert_eq!(err, RequestError::Timeout);
        assert!(
            began.elapsed() < Duration::from_secs(3),
            "{:?}",
            began.elapsed()
        );
    }

    #[tokio::test]
    async fn a_body_longer_than_the_limit_is_refused_and_its_connection_closed() {
        for answer in [Answer::LongLength, Answer::LongChunked] {
            let (port, accepted) = server(answer).await;
            let limited = client(port).with_body_limit(1 << 20);
            let err = limited
                .send(&get(port, Duration::from_secs(5)))
                .await
                .unwrap_err();
            assert_eq!(
                err,
                RequestError::BodyTooLong {
                    limit: 1 << 20,
                    status: 200
                }
            );
            assert_eq!(err.code(), "protocol");
            let msg = body_too_long_message(1 << 20, 200);
            assert!(
                msg.contains("(status 200) has a body longer than 1 MiB"),
                "{msg}"
            );
            assert!(msg.contains("memory-limit"), "{msg}");
            // The connection was not reused (its body was left unread): a second request opens
            // another, and within a limit it may be read whole.
            let whole = client(port).with_body_limit(2 << 20);
            let resp = whole
                .send(&get(port, Duration::from_secs(5)))
                .await
                .unwrap();
            assert_eq!(resp.body.len(), 2 << 20);
            let again = limited.send(&get(port, Duration::from_secs(5))).await;
            assert!(again.is_err());
            assert_eq!(accepted.load(Ordering::Relaxed), 3);
        }
    }

    #[tokio::test]
    async fn a_discarded_body_is_read_whole_and_kept_nowhere() {
        for answer in [Answer::LongLength, Answer::LongChunked] {
            let (port, accepted) = server(answer).await;
            // Above the body limit: discarding, the limit does not apply.
            let client = client(port).with_body_limit(1 << 20);
            for _ in 0..3 {
                let discarded = OutgoingRequest {
                    discard_body: true,
                    ..get(port, Duration::from_secs(5))
                };
                let resp = client.send(&discarded).await.unwrap();
                assert_eq!(resp.status, 200);
                assert!(resp.body.is_empty());
                assert!(resp.bytes_received > 2 << 20, "{}", resp.bytes_received);
            }
            // Read to the end, so the connection was kept for the next request.
            assert_eq!(accepted.load(Ordering::Relaxed), 1);
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(100), "100 bytes");
        assert_eq!(human_size(4 << 30), "4 GiB");
    }

    #[tokio::test]
    async fn header_values_that_are_not_utf8_arrive_as_sent() {
        let (port, _) = server(Answer::Latin1Header).await;
        let resp = client(port)
            .send(&get(port, Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(resp.headers.get("x-name"), Some(&b"caf\xe9"[..]));
        assert_eq!(resp.headers.get("content-length"), Some(&b"2"[..]));
    }

    /// A request that times out while its connection is still opening gives its
    /// `max-connections` permit back at once: the opening task is aborted with it.
    #[tokio::test]
    async fn a_request_that_times_out_while_connecting_frees_its_permit() {
        // A listener whose accept queue is full and never drained: further SYNs are dropped, so a
        // connect to it hangs.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let stuck = socket.listen(0).unwrap();
        let stuck_port = stuck.local_addr().unwrap().port();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) = tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(("127.0.0.1", stuck_port)),
            )
            .await
            {
                fillers.push(s);
            }
        }
        let (port, _) = server(Answer::SilentFirst).await;
        // One connection at most, for both origins.
        let client =
            HttpClient::with_max_connections(vec![origin(stuck_port), origin(port)], Some(1));
        let err = client
            .send(&get(stuck_port, Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert_eq!(err, RequestError::Timeout);
        // The permit is free: the next request opens a connection (the test server's first one
        // stays silent, so the request times out too, but only after it got the permit and sent).
        let err = tokio::time::timeout(
            Duration::from_secs(5),
            client.send(&get(port, Duration::from_millis(300))),
        )
        .await
        .expect("the timed-out request's permit came back")
        .unwrap_err();
        assert_eq!(err, RequestError::Timeout);
        // And the one after that gets the server's answer on a fresh connection.
        let resp = client
            .send(&get(port, Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        drop((stuck, fillers));
    }

    #[tokio::test]
    async fn a_reply_that_is_not_http_is_a_protocol_error() {
        let (port, _) = server(Answer::Garbage).await;
        let err = client(port)
            .send(&get(port, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "protocol", "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_naming_the_address() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let err = client(port)
            .send(&get(port, Duration::from_secs(5)))
            .await
            .unwrap_err();
        match err {
            RequestError::Connect(msg) => {
                assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// The request line's target and the Host headers of a GET of `url`.
    fn built(url: &str, headers: &[(&str, &str)]) -> (String, Vec<String>) {
        let uri: Uri = url.parse().unwrap();
        let req = OutgoingRequest {
            method: "GET".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: None,
            timeout: Duration::from_secs(1),
            discard_body: false,
        };
        let (host, port) = host_port(&uri, url).unwrap();
        let at = Endpoint {
            host: &host,
            port,
            tls: is_https(&uri),
        };
        let text = String::from_utf8(build(&req, &uri, at).unwrap().bytes).unwrap();
        let mut lines = text.split("\r\n");
        let target = lines.next().unwrap().split(' ').nth(1).unwrap().to_owned();
        let hosts = lines
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.to_owned())
            .collect();
        (target, hosts)
    }

    #[test]
    fn requests_go_out_in_origin_form_with_a_host_header() {
        let r = built("http://127.0.0.1:8080/a/b?c=d", &[]);
        assert_eq!(r.0, "/a/b?c=d");
        assert_eq!(r.1[0], "127.0.0.1:8080");
        let r = built("http://127.0.0.1", &[]);
        assert_eq!(r.0, "/");
        assert_eq!(built("http://127.0.0.1?q=1#top", &[]).0, "/?q=1");
        assert_eq!(r.1[0], "127.0.0.1");
        // The default port is left out, as clients do; IPv6 literals keep their brackets.
        assert_eq!(built("http://localhost:80/", &[]).1[0], "localhost");
        assert_eq!(built("http://[::1]:8080/", &[]).1[0], "[::1]:8080");
        assert_eq!(built("http://[::1]:80/", &[]).1[0], "[::1]");
        assert_eq!(built("http://127.0.0.1:080/", &[]).1[0], "127.0.0.1");
        assert_eq!(built("http://127.0.0.1:/", &[]).1[0], "127.0.0.1");
        // User info is not part of Host.
        assert_eq!(
            built("http://me:secret@127.0.0.1:8080/", &[]).1[0],
            "127.0.0.1:8080"
        );
        assert_eq!(
            built("http://me:secret@127.0.0.1:80/", &[]).1[0],
            "127.0.0.1"
        );
        assert_eq!(built("http://[::1]:/", &[]).1[0], "[::1]");
        // https's default port is 443.
        assert_eq!(built("https://localhost:443/", &[]).1[0], "localhost");
        assert_eq!(built("HTTPS://localhost/", &[]).1[0], "localhost");
        assert_eq!(built("https://localhost:80/", &[]).1[0], "localhost:80");
        assert_eq!(built("https://[::1]:8443/", &[]).1[0], "[::1]:8443");
        // A Host the guest set is kept, and not doubled.
        let r = built("http://127.0.0.1:8080/", &[("Host", "shop.test")]);
        assert_eq!(r.1.len(), 1);
        assert_eq!(r.1[0], "shop.test");
    }

    #[test]
    fn hosts_compare_in_lower_case_without_brackets_or_user_info() {
        let host = |url: &str| {
            let uri: Uri = url.parse().unwrap();
            host_port(&uri, url).map(|(h, p)| (h.into_owned(), p))
        };
        assert_eq!(
            host("http://127.0.0.1:8080/x"),
            Ok(("127.0.0.1".into(), 8080))
        );
        assert_eq!(host("http://[::1]:8080/"), Ok(("::1".into(), 8080)));
        assert_eq!(host("http://[::1]/"), Ok(("::1".into(), 80)));
        assert_eq!(
            host("http://u:p@Shop.Test:81/"),
            Ok(("shop.test".into(), 81))
        );
        assert_eq!(host("http://u@[::1]:/"), Ok(("::1".into(), 80)));
        let Err(RequestError::Invalid(msg)) = host("/relative") else {
            panic!("a relative URL was accepted");
        };
        assert!(msg.contains("is not absolute"), "{msg}");
        let Err(RequestError::Invalid(msg)) = host("http://u@:8080/") else {
            panic!("a URL without a host was accepted");
        };
        assert!(msg.contains("has no host"), "{msg}");
    }

    #[test]
    fn many_request_headers_go_out_as_given() {
        // (`http::HeaderMap` panics past 32,768 entries; the request is no longer built in one.)
        let many = vec![("x-a", "1"); 40_000];
        let (_, hosts) = built("http://127.0.0.1:8080/", &many);
        assert_eq!(hosts, ["127.0.0.1:8080"]);
    }

    #[test]
    fn a_port_out_of_range_is_an_invalid_request() {
        let port = |url: &str| host_port(&url.parse().unwrap(), url).map(|(_, p)| p);
        assert_eq!(port("http://127.0.0.1/"), Ok(80));
        assert_eq!(port("https://127.0.0.1/"), Ok(443));
        assert_eq!(port("http://127.0.0.1:/"), Ok(80));
        assert_eq!(port("http://[::1]:8080/"), Ok(8080));
        assert_eq!(port("http://[::1]/"), Ok(80));
        assert_eq!(port("http://u:p@127.0.0.1:81/"), Ok(81));
        for bad in ["http://127.0.0.1:99999/", "http://127.0.0.1:65536/"] {
            let Err(RequestError::Invalid(msg)) = port(bad) else {
                panic!("{bad} was accepted");
            };
            assert!(msg.contains("bad port"), "{msg}");
        }
    }
}
