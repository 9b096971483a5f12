//! A connector that times TCP connection set-up, so `http_req_connecting` is measured.
//!
//! It wraps hyper-util's `HttpConnector`; each new connection carries a [`ConnectTiming`] that the
//! client puts into every response's extensions. The first response on a connection reports the
//! connect time; later ones (pooled reuse) report zero.

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tower_service::Service;

/// How long one connection took to open; reported once.
#[derive(Debug)]
pub(crate) struct ConnectTiming {
    took: Duration,
    reported: AtomicBool,
}

impl ConnectTiming {
    /// The connect time the first time it is asked for, zero afterwards.
    pub(crate) fn take(&self) -> Duration {
        if self.reported.swap(true, Ordering::Relaxed) {
            Duration::ZERO
        } else {
            self.took
        }
    }
}

/// `HttpConnector` plus timing.
#[derive(Clone)]
pub(crate) struct TimedConnector(pub(crate) HttpConnector);

/// A TCP connection that knows how long it took to open.
pub(crate) struct TimedConn {
    io: TokioIo<TcpStream>,
    timing: Arc<ConnectTiming>,
}

impl Service<http::Uri> for TimedConnector {
    type Response = TimedConn;
    type Error = <HttpConnector as Service<http::Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<TimedConn, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let start = Instant::now();
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            let timing = Arc::new(ConnectTiming {
                took: start.elapsed(),
                reported: AtomicBool::new(false),
            });
            Ok(TimedConn { io, timing })
        })
    }
}

impl Connection for TimedConn {
    fn connected(&self) -> Connected {
        self.io.connected().extra(self.timing.clone())
    }
}

impl Read for TimedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for TimedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
