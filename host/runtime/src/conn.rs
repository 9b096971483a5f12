//! One keep-alive HTTP/1.1 connection, driven by the request that holds it: the request writes
//! itself, reads its response and hands the connection back to the pool ([`crate::pool`]). No task
//! of its own and no channels: the VU's task is woken by the socket itself.

use crate::client::RequestError;
use crate::h1::{self, ChunkedDecoder, EncodedRequest, Framing, ResponseHeaders};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

/// Room made in the read buffer before a read.
const READ_CHUNK: usize = 8 * 1024;
/// The most read-buffer capacity a connection keeps between responses.
const KEPT_BUFFER: usize = 64 * 1024;

/// An open connection: its socket, what was read past the last response (nothing, when it is
/// reusable) and, under `max-connections`, the permit it holds until it closes.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    _permit: Option<OwnedSemaphorePermit>,
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
    /// The connection may carry another request.
    pub(crate) reusable: bool,
}

/// Why an exchange failed.
pub(crate) enum ExchangeError {
    /// The connection failed or closed before any byte of a response: on a reused connection the
    /// server most likely closed it while idle, and an idempotent request may go again on another.
    NoResponse(String),
    /// Anything else.
    Failed(RequestError),
}

impl Conn {
    /// Open a TCP connection to `host:port` (an IP literal or a name, IPv6 without brackets); also
    /// returns how long it took. `permit` is held until the connection closes.
    pub(crate) async fn open(
        host: &str,
        port: u16,
        permit: Option<OwnedSemaphorePermit>,
    ) -> std::io::Result<(Conn, Duration)> {
        let began = Instant::now();
        let stream = TcpStream::connect((host, port)).await?;
        let took = began.elapsed();
        // Requests are small and written in one go; do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        let conn = Conn {
            stream,
            buf: BytesMut::new(),
            _permit: permit,
        };
        Ok((conn, took))
    }

    /// Whether an idle connection has closed (or the server sent something unasked): its socket
    /// became readable since the last response was read whole. No system call: the runtime's I/O
    /// driver has already noted the event.
    pub(crate) fn is_closed(&self) -> bool {
        // Unconstrained: with the task's cooperative budget used up, tokio would say "not ready".
        let ready = std::future::poll_fn(|cx| self.stream.poll_read_ready(cx));
        tokio::task::unconstrained(ready).now_or_never().is_some()
    }

    /// Send `req` and read its whole response. A body longer than `max_body` fails as soon as
    /// that is known, unless `discard` (then it is read and counted, not kept).
    pub(crate) async fn exchange(
        &mut self,
        req: &EncodedRequest,
        max_body: u64,
        discard: bool,
    ) -> Result<Exchanged, ExchangeError> {
        use ExchangeError::{Failed, NoResponse};
        // A server may answer before it has read the whole request (a 413 to a large upload) and
        // close: a failed write still looks for that answer.
        let write_error = self.stream.write_all(&req.bytes).await.err();
        let no_response = |what: String| {
            NoResponse(match &write_error {
                Some(e) => format!("the connection broke while sending: {e}"),
                None => what,
            })
        };
        let mut received = 0u64;
        let head = loop {
            if !self.buf.is_empty() {
                let parsed = h1::parse_head(&mut self.buf, req.head)
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
                Ok(0) if received == 0 => {
                    return Err(no_response(
                        "the server closed the connection without responding".into(),
                    ));
                }
                Ok(0) => return Err(Failed(closed_early())),
                Ok(n) => received += n as u64,
                Err(e) if received == 0 => {
                    return Err(no_response(format!(
                        "the connection broke before a response: {e}"
                    )));
                }
                Err(e) => return Err(Failed(broke(e))),
            }
        };
        let head_at = Instant::now();
        let (status, framing, keep_alive) = (head.status, head.framing, head.keep_alive);
        let len = head.len;
        let headers = head.into_headers(self.buf.split_to(len).freeze());
        let limit = if discard { u64::MAX } else { max_body };
        let body = match framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) => {
                self.read_length(n, (limit, status), discard, &mut received)
                    .await?
            }
            Framing::Chunked => {
                self.read_chunked((limit, status), discard, &mut received)
                    .await?
            }
            Framing::UntilClose => {
                self.read_to_end((limit, status), discard, &mut received)
                    .await?
            }
        };
        // Anything past the response (or the server's FIN already here) leaves it unusable.
        let reusable = keep_alive
            && !req.close
            && write_error.is_none()
            && self.buf.is_empty()
            && self.idle_now();
        if self.buf.capacity() > KEPT_BUFFER {
            // An idle connection keeps a small read buffer, not the largest response it saw.
            self.buf = BytesMut::new();
        }
        Ok(Exchanged {
            status,
            headers,
            body,
            head_at,
            received,
            reusable,
        })
    }

    /// Read more into the buffer, with room for at least `want` bytes.
    async fn read(&mut self, want: usize) -> std::io::Result<usize> {
        self.buf.reserve(want);
        self.stream.read_buf(&mut self.buf).await
    }

    async fn read_length(
        &mut self,
        n: u64,
        (limit, status): (u64, u16),
        discard: bool,
        received: &mut u64,
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
                *received += self.read_some(READ_CHUNK).await?;
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
        body.extend_from_slice(&self.buf);
        self.buf.clear();
        while body.len() < len {
            *received += more_of_body(self.stream.read_buf(&mut body).await)?;
        }
        Ok(body.freeze())
    }

    async fn read_chunked(
        &mut self,
        (limit, status): (u64, u16),
        discard: bool,
        received: &mut u64,
    ) -> Result<Bytes, ExchangeError> {
        let mut decoder = ChunkedDecoder::default();
        let mut body = BytesMut::new();
        let mut len = 0u64;
        loop {
            let used = decoder
                .decode(&self.buf, |data| {
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
            *received += self.read_some(READ_CHUNK).await?;
        }
    }

    async fn read_to_end(
        &mut self,
        (limit, status): (u64, u16),
        discard: bool,
        received: &mut u64,
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
                Ok(n) => *received += n as u64,
                Err(e) => return Err(ExchangeError::Failed(broke(e))),
            }
        }
    }

    /// Read more of a body whose end is still to come: the connection closing now is an error.
    async fn read_some(&mut self, want: usize) -> Result<u64, ExchangeError> {
        more_of_body(self.read(want).await)
    }

    /// After a response read whole: true when nothing more is there to read, as far as the socket's
    /// readiness tells: a `read` system call unless tokio already knows the socket is drained (its
    /// last read came back short). Either way the readiness is clear afterwards, and
    /// [`Conn::is_closed`] watches for the next event. A FIN that came with the response's last
    /// bytes is not lost either way: tokio never clears a socket's read-closed readiness, which
    /// `is_closed` sees.
    fn idle_now(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
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
