//! Keep-alive HTTP/1.1 connections: one pool per VU thread, under the worker's `max-connections`.
//!
//! A request takes an idle connection to its origin or opens a new one, and puts it back as soon as
//! it has read the whole response. So a connection is back in the pool before the request's VU can
//! send again, and a request never opens a connection while one of its thread's connections is on
//! its way back (as it could with hyper-util's pool, which takes a connection back in a task of its
//! own).
//!
//! With `max-connections`, each pool has its share of the worker's cap (split evenly over the VU
//! threads, see `stampede_worker`), and every open connection holds one permit of its pool's share
//! until it closes: the cap bounds open connections exactly, and so requests in flight (one per
//! connection). A request that finds its pool's share in use waits for a connection to its origin
//! to come back, or for a permit. With several origins, connections nobody waits for give their
//! permits up to requests that wait: a request that starts waiting closes an idle connection to
//! another origin, and a connection that comes back when nobody waits for its origin but someone
//! waits for another is closed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Sends requests on one connection.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// A connection idle longer than this is closed rather than reused (as hyper-util's pool does).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One VU thread's connections.
pub(crate) struct Pool {
    /// Permits of this pool's share of `max-connections` (none: no cap).
    permits: Option<Arc<Semaphore>>,
    /// Idle connections, by origin.
    origins: Mutex<Vec<Origin>>,
    /// Requests waiting for a connection, to any origin.
    waiting: AtomicUsize,
}

/// The idle connections to one origin, most recently used last.
struct Origin {
    host: Box<str>,
    port: u16,
    idle: Vec<(Sender, Instant)>,
    /// Signalled whenever a connection comes back.
    returned: Arc<Notify>,
    /// Requests of this pool waiting for a connection to this origin.
    waiters: usize,
}

impl Origin {
    fn is(&self, host: &str, port: u16) -> bool {
        self.port == port && *self.host == *host
    }
}

/// A connection to send on: a pooled one, or a permit (when capped) to open a new one.
pub(crate) enum Checkout {
    /// An idle connection, ready.
    Reuse(Sender),
    /// Open a new connection; it keeps the permit while it is open.
    Open(Option<OwnedSemaphorePermit>),
}

impl Pool {
    /// A new, empty pool with at most `max` connections open (none: no cap).
    pub(crate) fn new(max: Option<usize>) -> Pool {
        Pool {
            permits: max.map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
            origins: Mutex::default(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Close every idle connection (their permits free once their connection tasks end).
    pub(crate) fn close_idle(&self) {
        let mut origins = self.origins.lock().expect("pool lock");
        for origin in origins.iter_mut() {
            origin.idle.clear();
        }
    }

    /// An idle connection to `host:port`, or the right to open one; waits while the cap is reached.
    pub(crate) async fn checkout(&self, host: &str, port: u16) -> Checkout {
        if let Ok(sender) = self.take(host, port) {
            return Checkout::Reuse(sender);
        }
        let Some(permits) = &self.permits else {
            return Checkout::Open(None);
        };
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return Checkout::Open(Some(permit));
        }
        // Boxed: only a request that waits needs room for the wait.
        Box::pin(self.wait(host, port, permits)).await
    }

    /// Wait under the cap for a connection to `host:port` to come back, or for a permit.
    async fn wait(&self, host: &str, port: u16, permits: &Arc<Semaphore>) -> Checkout {
        let _waiting = Waiting::new(self, host, port);
        self.close_one_spare(host, port);
        loop {
            let returned = match self.take(host, port) {
                Ok(sender) => return Checkout::Reuse(sender),
                Err(returned) => returned,
            };
            let back = returned.notified();
            tokio::pin!(back);
            back.as_mut().enable();
            // A connection may have come back between `take` and `enable`.
            if let Ok(sender) = self.take(host, port) {
                return Checkout::Reuse(sender);
            }
            tokio::select! {
                biased;
                () = &mut back => {}
                permit = permits.clone().acquire_owned() => {
                    return Checkout::Open(Some(permit.expect("the cap's semaphore is never closed")));
                }
            }
        }
    }

    /// Close one idle connection to another origin than `host:port` that nobody waits for. Its
    /// permit frees once its connection task has ended.
    fn close_one_spare(&self, host: &str, port: u16) {
        let mut origins = self.origins.lock().expect("pool lock");
        let spare = origins
            .iter_mut()
            .find(|o| !o.is(host, port) && o.waiters == 0 && !o.idle.is_empty());
        if let Some(origin) = spare {
            // The oldest; dropping its sender ends its connection task.
            origin.idle.remove(0);
        }
    }

    /// Take an idle, open connection to `host:port`; otherwise the origin's "returned" signal.
    fn take(&self, host: &str, port: u16) -> Result<Sender, Arc<Notify>> {
        let mut origins = self.origins.lock().expect("pool lock");
        let origin = match origins.iter().position(|o| o.is(host, port)) {
            Some(i) => &mut origins[i],
            None => {
                origins.push(Origin {
                    host: host.into(),
                    port,
                    idle: Vec::new(),
                    returned: Arc::default(),
                    waiters: 0,
                });
                return Err(origins.last().expect("just pushed").returned.clone());
            }
        };
        while let Some((sender, since)) = origin.idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Ok(sender);
            }
        }
        Err(origin.returned.clone())
    }

    /// Change the count of requests waiting for `host:port` (an origin `take` has seen).
    fn counts(&self, host: &str, port: u16, change: impl FnOnce(&mut usize)) {
        let mut origins = self.origins.lock().expect("pool lock");
        if let Some(origin) = origins.iter_mut().find(|o| o.is(host, port)) {
            change(&mut origin.waiters);
        }
    }

    /// Put a connection back after its response was read whole (dropped if it closed instead). Its
    /// connection task may still be finishing that response: the next request on it waits for
    /// that (see `HttpClient::exchange`), rather than this one.
    pub(crate) fn put_back(&self, host: &str, port: u16, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut origins = self.origins.lock().expect("pool lock");
        if let Some(origin) = origins.iter_mut().find(|o| o.is(host, port)) {
            if origin.waiters == 0 && self.waiting.load(Ordering::Relaxed) > 0 {
                // Nobody waits for this origin and someone waits for another: its permit goes there.
                return;
            }
            origin.idle.push((sender, Instant::now()));
            origin.returned.notify_one();
        }
    }
}

/// Counts a request as waiting for a connection to `host:port` while it lives.
struct Waiting<'a> {
    pool: &'a Pool,
    host: &'a str,
    port: u16,
}

impl<'a> Waiting<'a> {
    fn new(pool: &'a Pool, host: &'a str, port: u16) -> Self {
        pool.counts(host, port, |n| *n += 1);
        pool.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting { pool, host, port }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.pool.waiting.fetch_sub(1, Ordering::Relaxed);
        self.pool.counts(self.host, self.port, |n| *n -= 1);
    }
}

/// Open a connection to `host:port` (an IP literal or a name, IPv6 without brackets) and start
/// driving it on this thread; `permit` is released when it closes. Also returns how long the TCP
/// connection took to open.
pub(crate) async fn open(
    host: &str,
    port: u16,
    permit: Option<OwnedSemaphorePermit>,
) -> std::io::Result<(Sender, Duration)> {
    let began = Instant::now();
    let tcp = TcpStream::connect((host, port)).await?;
    let took = began.elapsed();
    // Requests are small and written in one go; do not let Nagle hold them back.
    tcp.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _permit = permit;
        if let Err(error) = conn.await {
            tracing::debug!(%error, "an HTTP connection ended with an error");
        }
    });
    Ok((sender, took))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listener() -> (tokio::net::TcpListener, u16) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    /// Accept connections and hold them open without answering: enough for a handshake.
    async fn hold(l: tokio::net::TcpListener) {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    }

    #[tokio::test]
    async fn without_a_cap_a_request_may_always_open() {
        let pool = Pool::new(None);
        assert!(matches!(
            pool.checkout("127.0.0.1", 1).await,
            Checkout::Open(None)
        ));
    }

    #[tokio::test]
    async fn the_cap_makes_requests_wait_for_a_connection_to_come_back() {
        let (l, port) = listener().await;
        tokio::spawn(hold(l));
        let pool = Arc::new(Pool::new(Some(1)));
        let Checkout::Open(permit) = pool.checkout("127.0.0.1", port).await else {
            panic!("the first request opens");
        };
        let (sender, _) = open("127.0.0.1", port, permit).await.unwrap();
        // The cap is reached: a second request waits...
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.checkout("127.0.0.1", port).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...and gets the connection the first one puts back.
        pool.put_back("127.0.0.1", port, sender);
        let got = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken by the returned connection")
            .unwrap();
        assert!(matches!(got, Checkout::Reuse(_)));
    }

    #[tokio::test]
    async fn a_waiting_request_closes_an_idle_connection_to_another_origin() {
        let (l1, port1) = listener().await;
        let (l2, port2) = listener().await;
        for l in [l1, l2] {
            tokio::spawn(hold(l));
        }
        let pool = Pool::new(Some(1));
        let Checkout::Open(permit) = pool.checkout("127.0.0.1", port1).await else {
            panic!("the first request opens");
        };
        let (sender, _) = open("127.0.0.1", port1, permit).await.unwrap();
        pool.put_back("127.0.0.1", port1, sender);
        // The only permit is held by the idle connection to the first origin, which nobody waits
        // for: it is closed so that a request to the second origin can open its own.
        let got = tokio::time::timeout(Duration::from_secs(5), pool.checkout("127.0.0.1", port2))
            .await
            .expect("the idle connection gave its permit up");
        assert!(matches!(got, Checkout::Open(Some(_))));
    }

    #[tokio::test]
    async fn a_connection_nobody_waits_for_goes_to_a_request_for_another_origin() {
        let (l1, port1) = listener().await;
        let (l2, port2) = listener().await;
        for l in [l1, l2] {
            tokio::spawn(hold(l));
        }
        let pool = Arc::new(Pool::new(Some(1)));
        let Checkout::Open(permit) = pool.checkout("127.0.0.1", port1).await else {
            panic!("the first request opens");
        };
        let (sender, _) = open("127.0.0.1", port1, permit).await.unwrap();
        // The connection to the first origin is in use when a request to the second starts
        // waiting...
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.checkout("127.0.0.1", port2).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...and is closed when it comes back, so that the waiting request gets the permit.
        pool.put_back("127.0.0.1", port1, sender);
        let got = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the connection came back and gave its permit up")
            .unwrap();
        assert!(matches!(got, Checkout::Open(Some(_))));
    }
}
