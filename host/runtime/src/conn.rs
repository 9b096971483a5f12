//! One keep-alive HTTP/1.1 connection (plain TCP, or TLS for `https://`), driven by the request
//! that holds it: the request writes itself, reads its response and hands the connection back to
//! the pool ([`crate::pool`]). No task of its own and no channels: the VU's task is woken by the
//! socket itself.

use crate::client::{Proto, RequestError};
use crate::h1::{self, ChunkedDecoder, EncodedRequest, Framing, ResponseHeaders};
use crate::tls::ClientTls;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::client::TlsStream;

/// Room made in the read buffer before a read.
const READ_CHUNK: usize = 8 * 1024;
/// The most read-buffer capacity a connection keeps between responses.
const KEPT_BUFFER: usize = 64 * 1024;

/// An open connection: its socket, what was read past the last response (nothing, when it is
/// reusable) and, under `max-connections`, the permit it holds until it closes.
pub(crate) struct Conn {
    stream: Stream,
    buf: BytesMut,
    _permit: Option<OwnedSemaphorePermit>,
}

/// The socket of a connection.
enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls's connection state is ~1 KiB, and plain connections need none of it.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

/// How long opening a connection took.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Opened {
    /// Resolving the name and the TCP handshake.
    pub(crate) connecting: Duration,
    /// The TLS handshake (zero for plain HTTP).
    pub(crate) tls_handshaking: Duration,
}

impl std::ops::AddAssign for Opened {
    /// The time of another connection opened for the same request (after the first failed).
    fn add_assign(&mut self, more: Opened) {
        self.connecting += more.connecting;
        self.tls_handshaking += more.tls_handshaking;
    }
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Resolving or connecting failed.
    Connect(std::io::Error),
    /// The TLS handshake failed (the certificate, an alert, no common version); the message
    /// says what failed and, for a certificate, what to do.
    Tls {
        message: String,
        /// The server's certificate was refused (false when the server refused ours).
        certificate: bool,
    },
}

/// A response read whole.
pub(crate) struct Exchanged {
    pub(crate) status: u16,
    pub(crate) headers: ResponseHeaders,
    /// The body (empty when discarded).
    pub(crate) body: Bytes,
    /// When the head was complete.
    pub(crate) head_at: Instant,
    /// Bytes read for this response: head, body and its framing.
    pub(crate) received: u64,
    /// Bytes of the request written: all of it, unless the server answered before it had all.
    pub(crate) sent: u64,
    /// The connection may carry another request.
    pub(crate) reusable: bool,
    /// The protocol that carried it.
    pub(crate) proto: Proto,
}

/// Why an exchange failed.
pub(crate) enum ExchangeError {
    /// The connection failed or closed before any byte of a response: on a reused connection the
    /// server most likely closed it while idle, and an idempotent request may go again on another.
    NoResponse(String),
    /// The request was not sent, or the server did not process it (HTTP/2's `REFUSED_STREAM`, or
    /// a `GOAWAY` that leaves its stream out): it may go again on another connection whatever its
    /// method.
    Unsent(String),
    /// Anything else.
    Failed(RequestError),
}

impl Conn {
    /// Open a connection to `host:port` (an IP literal or a name, IPv6 without brackets), with a
    /// TLS handshake when `tls` is given; also returns how long it took. `permit` is held until the
    /// connection closes.
    pub(crate) async fn open(
        host: &str,
        port: u16,
        tls: Option<&ClientTls>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<(Conn, Opened), OpenError> {
        let began = Instant::now();
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(OpenError::Connect)?;
        let connected = Instant::now();
        // Requests are small and written in one go; do not let Nagle hold them back.
        tcp.set_nodelay(true).map_err(OpenError::Connect)?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(tls) => Stream::Tls(Box::new(tls.handshake(host, tcp).await?)),
        };
        let opened = Opened {
            connecting: connected - began,
            tls_handshaking: match stream {
                Stream::Plain(_) => Duration::ZERO,
                Stream::Tls(_) => connected.elapsed(),
            },
        };
        let conn = Conn {
            stream,
            buf: BytesMut::new(),
            _permit: permit,
        };
        Ok((conn, opened))
    }

    /// Whether the TLS handshake chose HTTP/2 (ALPN `h2`): the connection is then handed to
    /// [`crate::http2`] by [`Conn::into_h2`].
    pub(crate) fn speaks_h2(&self) -> bool {
        matches!(&self.stream, Stream::Tls(tls) if tls.get_ref().1.alpn_protocol() == Some(b"h2"))
    }

    /// The TLS stream and permit of a connection that [`speaks_h2`](Conn::speaks_h2), before any
    /// byte of HTTP went on it.
    pub(crate) fn into_h2(
        self,
    ) -> Option<(Box<TlsStream<TcpStream>>, Option<OwnedSemaphorePermit>)> {
        match self.stream {
            Stream::Tls(tls) if self.buf.is_empty() => Some((tls, self._permit)),
            _ => None,
        }
    }

    /// Whether an idle connection has closed (or the server sent something unasked): its socket
    /// became readable since the last response was read whole. No system call: the runtime's I/O
    /// driver has already noted the event.
    pub(crate) fn is_closed(&self) -> bool {
        // Unconstrained: with the task's cooperative budget used up, tokio would say "not ready".
        // (With TLS, a record the server sends while the connection is idle, such as its
        // close_notify, counts as closing too.)
        let tcp = self.stream.tcp();
        let ready = std::future::poll_fn(|cx| tcp.poll_read_ready(cx));
        tokio::task::unconstrained(ready).now_or_never().is_some()
    }

    /// Send `req` and read its whole response. A body longer than `max_body` fails as soon as
    /// that is known, unless `discard` (then it is read and counted, not kept).
    ///
    /// A request that does not fit the socket's buffer in one write (a large upload) is sent while
    /// its response is read: a server may answer before it has read the whole request (a `413` or
    /// `401` to an upload) and then stop reading, or close. Once that answer is complete the rest
    /// of the request is not sent, and the connection is not reused (RFC 9112, section 9.5). A
    /// server that streams its response while reading the body is read as it goes.
    pub(crate) async fn exchange(
        &mut self,
        req: &EncodedRequest,
        max_body: u64,
        discard: bool,
    ) -> Result<Exchanged, ExchangeError> {
        let limit = if discard { u64::MAX } else { max_body };
        let all = &req.bytes[..];
        let (read, sent, write_error, answered_early) = match &mut self.stream {
            Stream::Plain(tcp) => {
                let (read_half, write_half) = tcp.split();
                let mut reader = Reader {
                    io: read_half,
                    buf: &mut self.buf,
                    received: 0,
                };
                // Usually the whole request goes in this one write, and the response is read after it.
                let (sent, write_error) = match write_half.try_write(all) {
                    Ok(n) => (n, None),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => (0, None),
                    Err(e) => (0, Some(e)),
                };
                if sent == all.len() || write_error.is_some() {
                    let read = reader.response(req.head, limit, discard).await;
                    (read, sent, write_error, false)
                } else {
                    // Boxed: only large uploads come here, and the usual path's future stays small.
                    let rest = &all[sent..];
                    let both = Box::pin(write_while_reading(
                        reader, write_half, rest, req.head, limit, discard,
                    ));
                    let (read, more, failed, early) = both.await;
                    (read, sent + more, failed, early)
                }
            }
            Stream::Tls(tls) => {
                // rustls encrypts as it writes: the whole request goes through the writer, read
                // at the same time (for a server that answers before it has read it all).
                let (read_half, write_half) = tokio::io::split(&mut **tls);
                let reader = Reader {
                    io: read_half,
                    buf: &mut self.buf,
                    received: 0,
                };
                Box::pin(write_while_reading(
                    reader, write_half, all, req.head, limit, discard,
                ))
                .await
            }
        };
        let mut x = read.map_err(|e| match (e, &write_error) {
            // A failed write still looked for an answer; without one, the write's error says more.
            (ExchangeError::NoResponse(_), Some(e)) => {
                ExchangeError::NoResponse(format!("the connection broke while sending: {e}"))
            }
            (e, _) => e,
        })?;
        x.sent = sent as u64;
        if answered_early {
            // What the socket still holds of the request is not sent either: closing resets the
            // connection instead of flushing megabytes to a server that stopped reading.
            let _ = self.stream.tcp().set_zero_linger();
        }
        // Anything past the response (or the server's FIN already here) leaves it unusable.
        x.reusable = x.reusable
            && !req.close
            && !answered_early
            && write_error.is_none()
            && self.buf.is_empty()
            && self.idle_now();
        if self.buf.capacity() > KEPT_BUFFER {
            // An idle connection keeps a small read buffer, not the largest response it saw.
            self.buf = BytesMut::new();
        }
        Ok(x)
    }

    /// Give the read buffer back to the allocator (the next exchange takes another): for a
    /// connection that waits in the pool, where it holds nothing (a reusable connection has read
    /// nothing past its last response).
    pub(crate) fn release_buffer(&mut self) {
        debug_assert!(
            self.buf.is_empty(),
            "an idle connection's buffer holds nothing"
        );
        if self.buf.capacity() != 0 {
            self.buf = BytesMut::new();
        }
    }

    /// After a response read whole: true when nothing more is there to read, as far as the socket's
    /// readiness tells: a `read` system call unless tokio already knows the socket is drained (its
    /// last read came back short). Either way the readiness is clear afterwards, and
    /// [`Conn::is_closed`] watches for the next event. A FIN that came with the response's last
    /// bytes is not lost either way: tokio never clears a socket's read-closed readiness, which
    /// `is_closed` sees.
    ///
    /// With TLS, a read of the TLS stream that would wait: rustls reads the socket until it would
    /// block (taking in records that carry no data, such as session tickets), and has no data
    /// left over.
    fn idle_now(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match &mut self.stream {
            Stream::Plain(tcp) => {
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
            // Unconstrained, as in `is_closed`: with the task's budget used up, the read would
            // say "pending" without looking.
            Stream::Tls(tls) => tokio::task::unconstrained(tls.read(&mut probe))
                .now_or_never()
                .is_none(),
        }
    }
}

#[cfg(test)]
impl Conn {
    /// The read buffer's capacity.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether this is a TLS connection whose handshake resumed an earlier session.
    pub(crate) fn resumed(&self) -> bool {
        matches!(&self.stream, Stream::Tls(tls)
            if tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed))
    }
}

/// Write `rest` of a request while reading its response with `reader`, until the response is
/// complete. Returns the response (or why there is none), how much of `rest` was written, the
/// write's error, and whether the response came before all of `rest` was written (the writing
/// then stopped).
async fn write_while_reading<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut reader: Reader<'_, R>,
    mut w: W,
    rest: &[u8],
    to_head: bool,
    limit: u64,
    discard: bool,
) -> (
    Result<Exchanged, ExchangeError>,
    usize,
    Option<std::io::Error>,
    bool,
) {
    // (With TLS, what rustls took: up to its buffer's worth of it may still be unsent when an early
    // answer ends the writing. `data_sent` counts the request's bytes, not the wire's.)
    let mut written = 0;
    let write = async {
        while written < rest.len() {
            match w.write(&rest[written..]).await {
                Ok(0) => return Some(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) => return Some(e),
            }
        }
        // A no-op for TCP; TLS may still hold records it could not write.
        w.flush().await.err()
    };
    let (read, failed, early) = {
        let mut read = std::pin::pin!(reader.response(to_head, limit, discard));
        let mut write = std::pin::pin!(write);
        tokio::select! {
            biased;
            read = &mut read => (read, None, true),
            failed = &mut write => (read.await, failed, false),
        }
    };
    (read, written, failed, early)
}

/// The reading side of one exchange: the socket's read half and the connection's read buffer.
struct Reader<'a, R> {
    io: R,
    buf: &'a mut BytesMut,
    /// Bytes read for this response: head, body and its framing.
    received: u64,
}

impl<R: AsyncRead + Unpin> Reader<'_, R> {
    /// Read one whole response (skipping interim `1xx` ones) to a request that was a `HEAD` if
    /// `to_head`. The result's `reusable` says only whether the server keeps the connection open, and
    /// its `sent` is 0: [`Conn::exchange`] knows the rest.
    async fn response(
        &mut self,
        to_head: bool,
        limit: u64,
        discard: bool,
    ) -> Result<Exchanged, ExchangeError> {
        use ExchangeError::{Failed, NoResponse};
        let head = loop {
            if !self.buf.is_empty() {
                let parsed = h1::parse_head(self.buf, to_head)
                    .map_err(|m| Failed(RequestError::Protocol(m)))?;
                match parsed {
                    Some(head) if head.is_interim() => {
                        self.buf.advance(head.len);
                        continue;
                    }
                    Some(head) => break head,
                    None => {}
                }
            }
            match self.read(READ_CHUNK).await {
                Ok(0) if self.received == 0 => {
                    return Err(NoResponse(
                        "the server closed the connection without responding".into(),
                    ));
                }
                Ok(0) => return Err(Failed(closed_early())),
                Ok(n) => self.received += n as u64,
                Err(e) => {
                    // With TLS 1.3 a server that refuses the client's certificate (or the lack
                    // of one) says so after the client's handshake is done: at the first read.
                    if let Some(message) = crate::tls::refused_after_handshake(&e) {
                        return Err(Failed(RequestError::Tls {
                            message,
                            // (The server refused ours, not the other way round.)
                            certificate: false,
                        }));
                    }
                    if self.received == 0 {
                        return Err(NoResponse(format!(
                            "the connection broke before a response: {e}"
                        )));
                    }
                    return Err(Failed(broke(e)));
                }
            }
        };
        let head_at = Instant::now();
        let (status, framing, keep_alive) = (head.status, head.framing, head.keep_alive);
        let len = head.len;
        let headers = head.into_headers(self.buf.split_to(len).freeze());
        let body = match framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) => self.read_length(n, (limit, status), discard).await?,
            Framing::Chunked => self.read_chunked((limit, status), discard).await?,
            Framing::UntilClose => self.read_to_end((limit, status), discard).await?,
        };
        Ok(Exchanged {
            status,
            headers,
            body,
            head_at,
            received: self.received,
            sent: 0,
            reusable: keep_alive,
            proto: Proto::Http11,
        })
    }

    /// Read more into the buffer, with room for at least `want` bytes.
    async fn read(&mut self, want: usize) -> std::io::Result<usize> {
        self.buf.reserve(want);
        self.io.read_buf(self.buf).await
    }

    async fn read_length(
        &mut self,
        n: u64,
        (limit, status): (u64, u16),
        discard: bool,
    ) -> Result<Bytes, ExchangeError> {
        if n > limit {
            return Err(too_long(limit, status));
        }
        if discard {
            // Through the read buffer, a chunk at a time.
            let mut left = n;
            loop {
                let have = self.buf.len() as u64;
                if have >= left {
                    self.buf.advance(left as usize);
                    return Ok(Bytes::new());
                }
                left -= have;
                self.buf.clear();
                self.read_some(READ_CHUNK).await?;
            }
        }
        let len = usize::try_from(n).unwrap_or(usize::MAX);
        if self.buf.len() >= len {
            return Ok(self.buf.split_to(len).freeze());
        }
        // Into a buffer of its own, of exactly the body's size: read straight into it (never past
        // the body's end), and nothing of it stays with the connection.
        // (`len` is within the body limit, the VU's memory-limit.)
        let mut body = BytesMut::with_capacity(len);
        body.extend_from_slice(self.buf);
        self.buf.clear();
        while body.len() < len {
            self.received += more_of_body(self.io.read_buf(&mut body).await)?;
        }
        Ok(body.freeze())
    }

    async fn read_chunked(
        &mut self,
        (limit, status): (u64, u16),
        discard: bool,
    ) -> Result<Bytes, ExchangeError> {
        let mut decoder = ChunkedDecoder::default();
        let mut body = BytesMut::new();
        let mut len = 0u64;
        loop {
            let used = decoder
                .decode(self.buf, |data| {
                    len += data.len() as u64;
                    if !discard && len <= limit {
                        body.extend_from_slice(data);
                    }
                })
                .map_err(|m| ExchangeError::Failed(RequestError::Protocol(m)))?;
            self.buf.advance(used);
            if len > limit {
                return Err(too_long(limit, status));
            }
            if decoder.is_done() {
                return Ok(body.freeze());
            }
            self.read_some(READ_CHUNK).await?;
        }
    }

    async fn read_to_end(
        &mut self,
        (limit, status): (u64, u16),
        discard: bool,
    ) -> Result<Bytes, ExchangeError> {
        let mut len = 0u64;
        loop {
            let have = self.buf.len() as u64;
            if len + have > limit {
                return Err(too_long(limit, status));
            }
            if discard {
                len += have;
                self.buf.clear();
            }
            match self.read(READ_CHUNK).await {
                Ok(0) => return Ok(self.buf.split().freeze()),
                Ok(n) => self.received += n as u64,
                // A TLS server that closes without a close_notify ends such a body too (as
                // browsers and curl take it; many servers do close so).
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(self.buf.split().freeze());
                }
                Err(e) => return Err(ExchangeError::Failed(broke(e))),
            }
        }
    }

    /// Read more of a body whose end is still to come: the connection closing now is an error.
    async fn read_some(&mut self, want: usize) -> Result<(), ExchangeError> {
        let n = more_of_body(self.read(want).await)?;
        self.received += n;
        Ok(())
    }
}

/// A read in the middle of a body: the bytes it brought, or the error that the connection closing
/// (or breaking) now is.
fn more_of_body(read: std::io::Result<usize>) -> Result<u64, ExchangeError> {
    match read {
        Ok(0) => Err(ExchangeError::Failed(closed_early())),
        Ok(n) => Ok(n as u64),
        Err(e) => Err(ExchangeError::Failed(broke(e))),
    }
}

/// A body longer than `limit` bytes, in a response with `status`.
fn too_long(limit: u64, status: u16) -> ExchangeError {
    ExchangeError::Failed(RequestError::BodyTooLong { limit, status })
}

fn closed_early() -> RequestError {
    RequestError::Connect("the connection closed before the response was complete".into())
}

fn broke(e: std::io::Error) -> RequestError {
    RequestError::Connect(format!("the connection broke: {e}"))
}
