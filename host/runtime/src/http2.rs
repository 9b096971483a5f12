//! HTTP/2 connections, for `https://` servers that choose it in the TLS handshake (ALPN `h2`), as
//! browsers, Go's client and so k6 use it: many requests at once on one connection, each a stream.
//!
//! Unlike an HTTP/1.1 connection ([`crate::conn`]), which the request that holds it drives, an
//! HTTP/2 connection is shared by every request of its VU thread to that origin at the same time, so
//! it is driven by a task of its own (the `h2` crate's `Connection`), and requests hold a handle.
//! The pool ([`crate::pool`]) keeps the handles by origin and opens another connection when every
//! open one carries as many streams as its server allows.
//!
//! `data_sent` and `data_received` count the connection's bytes as HTTP/2 frames (compressed
//! headers, `DATA`, and the connection's own frames), before encryption, as HTTP/1.1 counts its
//! bytes: each request that ends takes what the connection has carried since the last one ended, so
//! one request's share is approximate when streams overlap (and the bytes after a connection's last
//! response are not counted).

use crate::client::RequestError;
use crate::conn::{ExchangeError, Exchanged};
use crate::h1::{MAX_HEAD, ResponseHeaders};
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use h2::Reason;
use h2::client::SendRequest;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

/// Flow-control window per stream: what a server may send ahead of the client's reading. Larger
/// than the protocol's 64 KiB default, which would cap a large download at one window per round
/// trip (Go's client allows 4 MiB).
const STREAM_WINDOW: u32 = 4 << 20;
/// Flow-control window of the whole connection.
const CONNECTION_WINDOW: u32 = 16 << 20;

/// A handle to one HTTP/2 connection. Cheap to clone; the connection closes when the last handle
/// and stream are gone (or the server closes it).
#[derive(Clone)]
pub(crate) struct H2Conn {
    send: SendRequest<Bytes>,
    state: Arc<State>,
}

/// What the connection's task and its requests share.
#[derive(Default)]
struct State {
    /// Streams open now.
    active: AtomicUsize,
    /// Told when a stream ends, for requests waiting for one.
    freed: tokio::sync::Notify,
    /// The connection's task has ended: nothing more goes on it.
    closed: AtomicBool,
    /// Bytes since the last request that ended took them.
    counts: Counts,
    /// The server refused the client's certificate (or its lack of one) after the TLS handshake,
    /// as TLS 1.3 servers do: what to tell the user, kept from the read that failed (the `h2`
    /// crate hands its requests only the error's text).
    refused: std::sync::OnceLock<String>,
}

#[derive(Default)]
struct Counts {
    read: AtomicU64,
    written: AtomicU64,
}

impl H2Conn {
    /// The HTTP/2 handshake on `io` (a TLS stream whose ALPN chose `h2`), and the task that drives
    /// the connection on this thread from then on; the task holds `permit` (under
    /// `max-connections`) until the connection closes.
    pub(crate) async fn handshake<T>(
        io: T,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<H2Conn, h2::Error>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = Arc::new(State::default());
        let io = Counted {
            io,
            state: state.clone(),
        };
        let (send, connection) = h2::client::Builder::new()
            // Until the server's settings say otherwise (`h2` would assume no limit).
            .initial_max_send_streams(100)
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_header_list_size(MAX_HEAD as u32)
            // No server push: a load test asks for what it measures.
            .enable_push(false)
            .handshake(io)
            .await?;
        let closed = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection.await;
            closed.closed.store(true, Ordering::Release);
        });
        Ok(H2Conn { send, state })
    }

    /// Whether `other` is a handle to the same connection.
    pub(crate) fn same(&self, other: &H2Conn) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    /// Whether the connection has closed (or was retired: it takes no more requests).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.closed.load(Ordering::Acquire)
    }

    /// Streams open on it now.
    pub(crate) fn active(&self) -> usize {
        self.state.active.load(Ordering::Relaxed)
    }

    /// Whether another stream may open now without waiting (the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; 100 until its settings arrive, as Go and hyper assume).
    pub(crate) fn has_room(&self) -> bool {
        self.active() < self.send.current_max_send_streams()
    }

    /// Take no more requests: the connection failed one before sending it or before any answer
    /// (the server is going away, or the connection broke), so the pool stops choosing it; the
    /// streams already on it finish.
    fn retire(&self) {
        self.state.closed.store(true, Ordering::Release);
    }

    /// A stream of this connection, once the server's limit on open streams allows one more
    /// (`h2` itself would queue the request inside its response future, where the wait could not
    /// be told apart from the server's time).
    async fn admit(&self) -> Active<'_> {
        let state = &*self.state;
        loop {
            // Registered before the check: a stream that ends after it wakes this one.
            let freed = state.freed.notified();
            let open = state.active.load(Ordering::Acquire);
            if open >= self.send.current_max_send_streams() {
                freed.await;
                continue;
            }
            // (Another request of this thread may have taken the stream meanwhile: look again.)
            if state
                .active
                .compare_exchange(open, open + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Active(state);
            }
        }
    }

    /// Send `request` (with `body`) as a stream of its own and read the whole response; a body
    /// longer than `max_body` fails as soon as that is known, unless `discard` (then it is read and
    /// counted, not kept). Also returns how long the request waited for the server to allow
    /// another stream (left out of its timings, as the wait for a connection is).
    pub(crate) async fn exchange(
        &self,
        request: http::Request<()>,
        body: Option<Bytes>,
        max_body: u64,
        discard: bool,
    ) -> Result<(Exchanged, Duration), ExchangeError> {
        let began = Instant::now();
        let _stream = self.admit().await;
        let mut send = self
            .send
            .clone()
            .ready()
            .await
            .map_err(|e| self.unsent(e))?;
        let queued = began.elapsed();
        let head_only = request.method() == http::Method::HEAD;
        let body = body.filter(|b| !b.is_empty());
        let (response, upload) = send
            .send_request(request, body.is_none())
            .map_err(|e| self.unsent(e))?;
        // The upload goes on while the response comes: a server may answer before it has read it
        // all (a `413`, and then reset the stream), or answer its head first and read on.
        let mut sending = std::pin::pin!(async move {
            match body {
                Some(body) => send_body(upload, body).await,
                None => Ok(()),
            }
        });
        let mut upload_done = false;
        let mut response = std::pin::pin!(response);
        let response = loop {
            tokio::select! {
                biased;
                r = &mut response => break r,
                sent = &mut sending, if !upload_done => {
                    upload_done = true;
                    if let Err(e) = sent {
                        // The server may have answered and reset the upload: its answer counts.
                        match response.as_mut().now_or_never() {
                            Some(r) => break r,
                            None => return Err(self.failed(e)),
                        }
                    }
                }
            }
        }
        .map_err(|e| {
            if e.reason() == Some(Reason::REFUSED_STREAM) || e.is_go_away() {
                // Refused, or beyond the last stream a GOAWAY says the server processed: not
                // processed, so safe to send again whatever the method.
                self.unsent(e)
            } else if e.is_io() {
                self.retire();
                self.closed(e)
            } else {
                self.failed(e)
            }
        })?;
        let head_at = Instant::now();
        let (parts, mut recv) = response.into_parts();
        let status = parts.status.as_u16();
        let limit = if discard { u64::MAX } else { max_body };
        let too_long = || {
            ExchangeError::Failed(RequestError::BodyTooLong {
                limit: max_body,
                status,
            })
        };
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if !crate::h1::bodiless(head_only, status) && declared.is_some_and(|n| n > limit) {
            // Dropping the stream resets it (CANCEL): the connection carries on.
            return Err(too_long());
        }
        let mut kept = BytesMut::new();
        let mut length = 0u64;
        loop {
            let chunk = tokio::select! {
                biased;
                chunk = recv.data() => chunk,
                // The rest of an upload the server reads after answering its head; if it stops
                // reading, its reset ends the response too.
                _ = &mut sending, if !upload_done => {
                    upload_done = true;
                    continue;
                }
            };
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|e| self.failed(e))?;
            let n = chunk.len();
            length += n as u64;
            let _ = recv.flow_control().release_capacity(n);
            if length > limit {
                return Err(too_long());
            }
            if !discard {
                if kept.is_empty() {
                    kept = BytesMut::from(chunk);
                } else {
                    kept.extend_from_slice(&chunk);
                }
            }
        }
        let (sent, received) = self.state.counts.take();
        Ok((
            Exchanged {
                status,
                headers: ResponseHeaders::from_map(&parts.headers),
                body: kept.freeze(),
                head_at,
                received,
                sent,
                reusable: true,
                proto: crate::client::Proto::Http2,
            },
            queued,
        ))
    }
}

impl H2Conn {
    /// The connection broke before any response to the request: an idempotent request may go
    /// again on another connection.
    fn closed(&self, e: h2::Error) -> ExchangeError {
        match self.state.refused.get() {
            Some(message) => refused(message),
            None => ExchangeError::NoResponse(format!("the HTTP/2 connection closed: {e}")),
        }
    }

    /// The request was not sent, or the server did not process it (`REFUSED_STREAM`, or a
    /// `GOAWAY` that leaves it out): it may go again on another connection whatever its method.
    /// The connection takes no more requests.
    fn unsent(&self, e: h2::Error) -> ExchangeError {
        self.retire();
        match self.state.refused.get() {
            Some(message) => refused(message),
            None if e.reason() == Some(Reason::REFUSED_STREAM) => {
                ExchangeError::Unsent(format!("the HTTP/2 server refused the stream: {e}"))
            }
            None => ExchangeError::Unsent(format!("the HTTP/2 connection is closing: {e}")),
        }
    }

    /// A stream that failed once its response had begun, or that the server reset.
    fn failed(&self, e: h2::Error) -> ExchangeError {
        if let Some(message) = self.state.refused.get() {
            return refused(message);
        }
        ExchangeError::Failed(if e.is_io() {
            RequestError::Connect(format!("the HTTP/2 connection broke: {e}"))
        } else if let Some(reason) = e.reason() {
            // The code too (`INTERNAL_ERROR`), which the server's logs and docs use.
            RequestError::Protocol(format!("HTTP/2: {e} ({reason:?})"))
        } else {
            RequestError::Protocol(format!("HTTP/2: {e}"))
        })
    }
}

/// The server refused the client's certificate.
fn refused(message: &str) -> ExchangeError {
    ExchangeError::Failed(RequestError::Tls {
        message: message.to_owned(),
        certificate: false,
    })
}

impl Counts {
    /// Bytes written and read since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.written.swap(0, Ordering::Relaxed),
            self.read.swap(0, Ordering::Relaxed),
        )
    }
}

/// A stream counted open for as long as this lives.
struct Active<'a>(&'a State);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

/// Send `body` on `upload` as the server's flow control allows, ending the stream with it.
async fn send_body(mut upload: h2::SendStream<Bytes>, mut body: Bytes) -> Result<(), h2::Error> {
    while !body.is_empty() {
        // At most 1 MiB asked at a time (`h2` keeps the request in 32 bits).
        upload.reserve_capacity(body.len().min(1 << 20));
        let granted = match std::future::poll_fn(|cx| upload.poll_capacity(cx)).await {
            Some(granted) => granted?,
            None => return Err(h2::Error::from(Reason::STREAM_CLOSED)),
        };
        if granted == 0 {
            continue;
        }
        let part = body.split_to(granted.min(body.len()));
        upload.send_data(part, body.is_empty())?;
    }
    Ok(())
}

/// Headers that belong to one HTTP/1.1 connection and have no place in HTTP/2 (RFC 9113 8.2.2):
/// a request's own are left out rather than refused, as browsers and Go's client do.
/// (`Transfer-Encoding` is one too, but [`crate::h1::check_request`] refuses it on either protocol.)
fn connection_specific(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "upgrade"
    )
}

/// The request as HTTP/2 sends it: `method`, `https://authority` with `target` (path and query),
/// and `headers` (a `Host` header becomes the authority; `Content-Length` is set for a body, or a
/// POST, PUT or PATCH without one, and one the caller wrote must match it; `TE` only as
/// `trailers`). The request must pass [`crate::h1::check_request`], as on HTTP/1.1; errors say what
/// is wrong with it.
pub(crate) fn request(
    method: &str,
    target: &str,
    authority: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<http::Request<()>, String> {
    let checked = crate::h1::check_request(method, authority, headers, body.len())?;
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("bad method `{method}`"))?;
    let mut authority = std::borrow::Cow::Borrowed(authority);
    let mut map = http::HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("bad header name `{name}`"))?;
        let bad_value = || format!("bad value for header `{name}`");
        if header == http::header::HOST {
            authority = std::borrow::Cow::Owned(value.trim().to_owned());
            continue;
        }
        if header == http::header::CONTENT_LENGTH {
            // Checked against the body above; set below.
            continue;
        }
        if connection_specific(&header)
            || (header == http::header::TE && !value.trim().eq_ignore_ascii_case("trailers"))
        {
            continue;
        }
        let value = http::HeaderValue::from_str(value).map_err(|_| bad_value())?;
        map.append(header, value);
    }
    if !body.is_empty()
        || checked.has_length
        || matches!(
            method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        )
    {
        map.insert(http::header::CONTENT_LENGTH, body.len().into());
    }
    let uri = http::Uri::builder()
        .scheme("https")
        .authority(&*authority)
        .path_and_query(target)
        .build()
        .map_err(|e| format!("bad URL for HTTP/2 (`{authority}`, `{target}`): {e}"))?;
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_2;
    *request.headers_mut() = map;
    Ok(request)
}

/// A connection's I/O, counting the bytes that go through it.
struct Counted<T> {
    io: T,
    state: Arc<State>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.state
            .counts
            .read
            .fetch_add(n as u64, Ordering::Relaxed);
        if let Poll::Ready(Err(e)) = &polled
            && let Some(message) = crate::tls::refused_after_handshake(e)
        {
            let _ = self.state.refused.set(message);
        }
        polled
    }
}

impl<T> Counted<T> {
    /// Count what a write wrote.
    fn wrote(&self, polled: &Poll<std::io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled {
            self.state
                .counts
                .written
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_request_leaves_out_connection_headers_and_takes_host_as_its_authority() {
        let r = request(
            "GET",
            "/a?b=1",
            "127.0.0.1:8443",
            &headers(&[
                ("Connection", "keep-alive"),
                ("Keep-Alive", "5"),
                ("Host", "shop.test:8443"),
                ("X-Trace", "1"),
                ("TE", "gzip"),
            ]),
            b"",
        )
        .unwrap();
        assert_eq!(r.uri().to_string(), "https://shop.test:8443/a?b=1");
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-trace"]);
        assert_eq!(r.version(), http::Version::HTTP_2);
    }

    #[test]
    fn a_body_or_a_post_gets_its_length_and_a_wrong_one_is_refused() {
        let r = request("POST", "/", "h", &[], b"").unwrap();
        assert_eq!(r.headers()["content-length"], "0");
        let r = request(
            "PUT",
            "/",
            "h",
            &headers(&[("content-length", "3")]),
            b"abc",
        )
        .unwrap();
        assert_eq!(r.headers()["content-length"], "3");
        let e = request(
            "PUT",
            "/",
            "h",
            &headers(&[("Content-Length", "4")]),
            b"abc",
        );
        assert_eq!(
            e.unwrap_err(),
            "header `Content-Length: 4` does not match the body's 3 bytes; leave it out and Stampede sets it"
        );
        let r = request("GET", "/", "h", &[], b"").unwrap();
        assert!(r.headers().get("content-length").is_none());
    }

    #[test]
    fn a_request_is_refused_as_on_http_1_1_with_the_same_words() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8]);
        let cases: [Case; 11] = [
            ("GE T", &[], b""),
            ("", &[], b""),
            ("GET", &[("x y", "1")], b""),
            ("GET", &[("x", "a\r\nevil: 1")], b""),
            ("POST", &[("content-length", "3")], b"hi"),
            ("POST", &[("content-length", "+2")], b"hi"),
            ("POST", &[("transfer-encoding", "chunked")], b"hi"),
            ("GET", &[("host", "a"), ("Host", "b")], b""),
            ("GET", &[("Content-Length", "x")], b""),
            ("GET", &[("Host", "a b")], b""),
            ("GET", &[("Host", "")], b""),
        ];
        for (method, h, body) in cases {
            let on_h1 = crate::h1::encode_request(method, "/", "h", &headers(h), body).unwrap_err();
            let on_h2 = request(method, "/", "h", &headers(h), body).unwrap_err();
            assert_eq!(on_h2, on_h1, "{method} {h:?}");
        }
        // And what passes on HTTP/1.1 passes here.
        assert!(
            request(
                "POST",
                "/",
                "h",
                &headers(&[("content-length", " 2 ")]),
                b"hi"
            )
            .is_ok()
        );
        assert!(request("GET", "/", "h", &headers(&[("x", "a\tcafé")]), b"").is_ok());
    }

    #[test]
    fn bad_methods_and_headers_are_named() {
        assert_eq!(
            request("GE T", "/", "h", &[], b"").unwrap_err(),
            "bad method `GE T`"
        );
        assert_eq!(
            request("GET", "/", "h", &headers(&[("x y", "1")]), b"").unwrap_err(),
            "bad header name `x y`"
        );
        assert_eq!(
            request("GET", "/", "h", &headers(&[("x", "a\nb")]), b"").unwrap_err(),
            "bad value for header `x`"
        );
    }
}
