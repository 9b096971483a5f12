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
//! until it closes: the cap bounds the connections open while VUs run, and so requests in flight
//! (one per connection). A request that finds its pool's share in use queues for its origin: a
//! connection that comes back goes straight to the longest-waiting request (so a VU that loops
//! cannot take its own connection again ahead of those waiting), and a permit that frees goes to
//! the longest-waiting request for it. With several origins, connections nobody waits for give
//! their permits up to requests that wait: a request that starts waiting closes an idle connection
//! to another origin nobody waits for, and a connection that comes back when nobody waits for its
//! origin but someone waits for another is closed.

use crate::conn::{Conn, OpenError, Opened};
use crate::http2::H2Conn;
use crate::tls::ClientTls;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// A connection idle longer than this is closed rather than reused (as hyper-util's pool does).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// A connection idle this long gives its read buffer back to the allocator (looked for at most
/// this often per origin, when a connection to it comes back, and by the pool's upkeep
/// ([`Pool::tidy`]) this often): connections that carry requests keep theirs, and one that waits in
/// the pool, as most do after a burst of VUs starting, does not hold a page or two of buffer for up
/// to [`IDLE_TIMEOUT`].
pub(crate) const TRIM_AFTER: Duration = Duration::from_secs(1);

/// One VU thread's connections.
pub(crate) struct Pool {
    /// Permits of this pool's share of `max-connections` (none: no cap).
    permits: Option<Arc<Semaphore>>,
    /// Idle connections and waiting requests, by origin.
    origins: Mutex<Vec<Origin>>,
}

/// Where a connection goes: a host (lower case, IPv6 without brackets), a port, and whether the
/// connection speaks TLS (`https://`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) tls: bool,
}

/// One origin's idle connections (oldest first) and the requests waiting for one (longest first).
struct Origin {
    host: Box<str>,
    port: u16,
    tls: bool,
    idle: VecDeque<(Conn, Instant)>,
    waiters: VecDeque<oneshot::Sender<Handoff>>,
    /// HTTP/2 connections (shared by the requests on them) and when each last took a request.
    h2: Vec<(H2Conn, Instant)>,
    /// When idle connections were last looked at for trimming (at first: when the origin was
    /// added). A connection that comes back looks again [`TRIM_AFTER`] later.
    last_trim: Instant,
}

impl Origin {
    fn is(&self, at: Endpoint<'_>) -> bool {
        self.port == at.port && self.tls == at.tls && *self.host == *at.host
    }

    /// Whether a request still waits here (forgetting those at the head of the line that gave
    /// up; the others are skipped when their turn comes).
    fn has_waiters(&mut self) -> bool {
        while self.waiters.front().is_some_and(oneshot::Sender::is_closed) {
            self.waiters.pop_front();
        }
        !self.waiters.is_empty()
    }

    /// Close idle connections that the server closed or that expired, and let go of HTTP/2
    /// connections that closed or went unused that long (freeing their permits once they close);
    /// true if there were any.
    fn prune(&mut self) -> bool {
        let before = self.idle.len() + self.h2.len();
        self.idle.retain(usable);
        self.h2.retain(h2_usable);
        self.idle.len() + self.h2.len() < before
    }

    /// Give back the read buffers of the connections idle at least [`TRIM_AFTER`] at `now`.
    ///
    /// `idle` is in the order connections came back, oldest first. Those already idle that long
    /// when it was last looked at gave theirs back then (they are still where they were; a
    /// connection reused since came back at the end): the walk starts after them and ends at the
    /// first one idle for less, so each connection is visited about once, not once a second.
    fn trim(&mut self, now: Instant) {
        let last = self.last_trim;
        let start = self
            .idle
            .partition_point(|(_, since)| last.saturating_duration_since(*since) >= TRIM_AFTER);
        for (conn, since) in self.idle.range_mut(start..) {
            if now.saturating_duration_since(*since) < TRIM_AFTER {
                break;
            }
            conn.release_buffer();
        }
        self.last_trim = now;
    }

    /// Let go of one HTTP/2 connection that carries no stream now (it closes once the requests
    /// that still hold it are done with it, and frees its permit); true if there was one.
    fn drop_idle_h2(&mut self) -> bool {
        match self.h2.iter().position(|(conn, _)| conn.active() == 0) {
            Some(i) => {
                self.h2.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// Whether an idle connection may still be reused: open, and idle for less than [`IDLE_TIMEOUT`].
fn usable((conn, since): &(Conn, Instant)) -> bool {
    !conn.is_closed() && since.elapsed() < IDLE_TIMEOUT
}

/// Whether an HTTP/2 connection may take more requests: open, not retired, and with a stream or
/// a request less than [`IDLE_TIMEOUT`] ago.
fn h2_usable((conn, since): &(H2Conn, Instant)) -> bool {
    !conn.is_closed() && (conn.active() > 0 || since.elapsed() < IDLE_TIMEOUT)
}

/// A connection to send on: a pooled one, or a permit (when capped) to open a new one.
pub(crate) enum Checkout {
    /// An idle connection.
    Reuse(Conn),
    /// Open a new connection; it keeps the permit while it is open.
    Open(Option<OwnedSemaphorePermit>),
    /// An HTTP/2 connection that opened while the request waited in line.
    Shared(H2Conn),
}

/// What a request waiting in line is handed.
enum Handoff {
    /// A connection that came back.
    Conn(Conn),
    /// A new HTTP/2 connection to the origin, which every request waiting for it can share.
    H2(H2Conn),
}

/// Where a request stands after a look at its origin.
enum Look {
    Ready(Checkout),
    /// Queued: a returning connection arrives here, or a permit frees.
    Wait(oneshot::Receiver<Handoff>, Arc<Semaphore>),
}

impl Pool {
    /// A new, empty pool with at most `max` connections open (none: no cap).
    pub(crate) fn new(max: Option<usize>) -> Pool {
        Pool {
            permits: max.map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
            origins: Mutex::default(),
        }
    }

    /// The pool's upkeep, every [`TRIM_AFTER`] on its VU thread (`HttpClient::tend`): close the
    /// idle connections that expired or that the server closed (freeing their sockets and
    /// permits), and give back the read buffers of those idle at least [`TRIM_AFTER`] at `now`,
    /// also where no connection comes back to look (every VU of the thread in a long sleep, or
    /// done with that origin).
    pub(crate) fn tidy(&self, now: Instant) {
        let mut origins = self.origins.lock().expect("pool lock");
        for origin in origins.iter_mut() {
            origin.prune();
            if now.saturating_duration_since(origin.last_trim) >= TRIM_AFTER {
                origin.trim(now);
            }
        }
    }

    /// Close every idle connection (freeing their permits).
    pub(crate) fn close_idle(&self) {
        let mut origins = self.origins.lock().expect("pool lock");
        for origin in origins.iter_mut() {
            origin.idle.clear();
            origin.h2.retain(|(conn, _)| conn.active() > 0);
        }
    }

    /// An HTTP/2 connection to `at` for a request to go on: the open one with the fewest streams,
    /// if it has room for another; else none, so that the request opens another connection (as
    /// Go's client does), unless `max-connections` leaves no permit for it: then that connection all
    /// the same, where the request waits for a stream. None too when no HTTP/2
    /// connection to `at` is open (the server may not speak it).
    pub(crate) fn h2_conn(&self, at: Endpoint<'_>) -> Option<H2Conn> {
        let mut origins = self.origins.lock().expect("pool lock");
        let origin = origins.iter_mut().find(|o| o.is(at))?;
        if origin.h2.is_empty() {
            return None;
        }
        // Closed ones, and those nobody used for a long time (dropping the handle closes them).
        origin.h2.retain(h2_usable);
        let (conn, since) = origin.h2.iter_mut().min_by_key(|(conn, _)| conn.active())?;
        let room = conn.has_room()
            || self
                .permits
                .as_ref()
                .is_some_and(|p| p.available_permits() == 0);
        if !room {
            return None;
        }
        *since = Instant::now();
        Some(conn.clone())
    }

    /// After a request on HTTP/2 connection `conn` to `at`: under `max-connections`, when requests
    /// wait for a connection to another origin and none for this one, an idle `conn` closes so its
    /// permit goes to them (as an HTTP/1.1 connection that comes back then closes, see
    /// [`Pool::put_back`]).
    pub(crate) fn h2_done(&self, at: Endpoint<'_>, conn: &H2Conn) {
        if self.permits.is_none() || conn.active() > 0 {
            return;
        }
        let mut origins = self.origins.lock().expect("pool lock");
        let Some(i) = origins.iter().position(|o| o.is(at)) else {
            return;
        };
        let others_wait = origins
            .iter_mut()
            .enumerate()
            .any(|(j, o)| j != i && o.has_waiters());
        if others_wait && !origins[i].has_waiters() {
            origins[i]
                .h2
                .retain(|(c, _)| !(c.same(conn) && c.active() == 0));
        }
    }

    /// Keep a new HTTP/2 connection to `at` for the requests that follow, and hand it to the
    /// requests waiting in line for a connection to `at` (under `max-connections`): they share it
    /// rather than wait for a permit that it holds.
    pub(crate) fn add_h2(&self, at: Endpoint<'_>, conn: H2Conn) {
        let mut origins = self.origins.lock().expect("pool lock");
        if let Some(origin) = origins.iter_mut().find(|o| o.is(at)) {
            while let Some(waiter) = origin.waiters.pop_front() {
                let _ = waiter.send(Handoff::H2(conn.clone()));
            }
            origin.h2.push((conn, Instant::now()));
        }
    }

    /// An idle connection to `at`, or the right to open one; waits in line while the cap is
    /// reached.
    pub(crate) async fn checkout(&self, at: Endpoint<'_>) -> Checkout {
        match self.look(at) {
            Look::Ready(checkout) => checkout,
            // Boxed: only a request that waits needs room for the wait.
            Look::Wait(handed, permits) => Box::pin(wait(handed, permits)).await,
        }
    }

    /// Take an idle connection, or a free permit, or join the origin's queue.
    fn look(&self, at: Endpoint<'_>) -> Look {
        let mut origins = self.origins.lock().expect("pool lock");
        let i = match origins.iter().position(|o| o.is(at)) {
            Some(i) => i,
            None => {
                origins.push(Origin {
                    host: at.host.into(),
                    port: at.port,
                    tls: at.tls,
                    idle: VecDeque::new(),
                    waiters: VecDeque::new(),
                    h2: Vec::new(),
                    last_trim: Instant::now(),
                });
                origins.len() - 1
            }
        };
        let origin = &mut origins[i];
        // Idle connections exist only while nobody waits for them (see `put_back`).
        while let Some(entry) = origin.idle.pop_back() {
            if usable(&entry) {
                return Look::Ready(Checkout::Reuse(entry.0));
            }
        }
        let Some(permits) = &self.permits else {
            return Look::Ready(Checkout::Open(None));
        };
        if !origin.has_waiters() {
            if let Ok(permit) = permits.clone().try_acquire_owned() {
                return Look::Ready(Checkout::Open(Some(permit)));
            }
            // Nothing watches idle connections: one the server closed holds its permit until
            // noticed. Let those go (anywhere) and try again.
            let mut freed = false;
            for origin in origins.iter_mut() {
                freed |= origin.prune();
            }
            if freed && let Ok(permit) = permits.clone().try_acquire_owned() {
                return Look::Ready(Checkout::Open(Some(permit)));
            }
        }
        let origin = &mut origins[i];
        let (tx, rx) = oneshot::channel();
        origin.waiters.push_back(tx);
        close_one_spare(&mut origins, at);
        Look::Wait(rx, permits.clone())
    }

    /// Put a connection back after its response was read whole: to the longest-waiting request
    /// for its origin, else idle, unless nobody waits for it but someone waits for another origin
    /// (then it closes, and its permit goes there). Only a connection its response left reusable
    /// comes back, checked the moment that response ended (`Conn::exchange`), so it is not checked
    /// again here.
    pub(crate) fn put_back(&self, at: Endpoint<'_>, mut conn: Conn) {
        let mut origins = self.origins.lock().expect("pool lock");
        let Some(i) = origins.iter().position(|o| o.is(at)) else {
            return;
        };
        while let Some(waiter) = origins[i].waiters.pop_front() {
            match waiter.send(Handoff::Conn(conn)) {
                Ok(()) => return,
                // That request gave up waiting: the next one.
                Err(Handoff::Conn(back)) => conn = back,
                Err(Handoff::H2(_)) => unreachable!("a connection was sent"),
            }
        }
        let others_wait = origins
            .iter_mut()
            .enumerate()
            .any(|(j, o)| j != i && o.has_waiters());
        if !others_wait {
            let origin = &mut origins[i];
            // The oldest ones are never reused while newer ones are: let dead ones go here.
            while origin.idle.front().is_some_and(|entry| !usable(entry)) {
                origin.idle.pop_front();
            }
            let now = Instant::now();
            origin.idle.push_back((conn, now));
            if now.saturating_duration_since(origin.last_trim) >= TRIM_AFTER {
                origin.trim(now);
            }
        }
    }
}

/// Wait in line for a connection handed over by `put_back`, or for a permit, whichever comes first.
async fn wait(mut handed: oneshot::Receiver<Handoff>, permits: Arc<Semaphore>) -> Checkout {
    // One `acquire` for the whole wait: the request keeps its place in the semaphore's queue.
    let acquire = permits.acquire_owned();
    tokio::pin!(acquire);
    tokio::select! {
        biased;
        conn = &mut handed => match conn {
            Ok(handoff) => handoff.into(),
            // Never: the pool only drops a waiter's channel after sending on it.
            Err(_) => Checkout::Open(Some(
                acquire.await.expect("the cap's semaphore is never closed"),
            )),
        },
        permit = &mut acquire => {
            let permit = permit.expect("the cap's semaphore is never closed");
            // A connection may have been handed over at the same time: use it, free the permit.
            match handed.try_recv() {
                Ok(handoff) => handoff.into(),
                Err(_) => Checkout::Open(Some(permit)),
            }
        }
    }
}

impl From<Handoff> for Checkout {
    fn from(handoff: Handoff) -> Checkout {
        match handoff {
            Handoff::Conn(conn) => Checkout::Reuse(conn),
            Handoff::H2(conn) => Checkout::Shared(conn),
        }
    }
}

/// Close one idle connection to an origin other than `at` that nobody waits for (`look` has
/// already closed the dead ones, unless others were waiting before this request).
fn close_one_spare(origins: &mut [Origin], at: Endpoint<'_>) {
    for origin in origins.iter_mut().filter(|o| !o.is(at)) {
        if origin.prune() {
            return;
        }
        if !origin.idle.is_empty() && !origin.has_waiters() {
            // The oldest; dropping it closes it.
            origin.idle.pop_front();
            return;
        }
        if !origin.has_waiters() && origin.drop_idle_h2() {
            return;
        }
    }
}

/// A new connection: HTTP/1.1, or HTTP/2 when the TLS handshake chose it.
pub(crate) enum Connected {
    H1(Conn),
    H2(H2Conn),
}

/// [`Conn::open`] in a task of its own on this thread, so its deep call stack (resolving, connecting,
/// the TLS handshake with `tls` for an endpoint that needs it, and the HTTP/2 handshake when the
/// server chose HTTP/2) is not on the caller's: a VU polls its requests on its fiber stack, whose
/// touched pages stay resident for the VU's life.
pub(crate) async fn open_in_task(
    at: Endpoint<'_>,
    tls: &ClientTls,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<(Connected, Opened), OpenError> {
    /// Aborts the task when the request gives up (a timeout): the connection attempt and its
    /// permit must not outlive it.
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let tls = at.tls.then(|| tls.clone());
    let mut task = AbortOnDrop(spawn_open(at.host.to_owned(), at.port, tls, permit));
    match (&mut task.0).await {
        Ok(opened) => opened,
        Err(e) => Err(OpenError::Connect(std::io::Error::other(e))),
    }
}

/// The task of [`open_in_task`]. Not inlined: the task's future (with the HTTP/2 handshake's, a
/// few KiB) is made in this function's stack frame, not in the requesting VU's, whose native stack
/// keeps the pages its deepest call touched (with one instance per VU, +4 KiB per VU in
/// `bench/memory_breakdown.py` when it was made there).
#[inline(never)]
fn spawn_open(
    host: String,
    port: u16,
    tls: Option<ClientTls>,
    permit: Option<OwnedSemaphorePermit>,
) -> tokio::task::JoinHandle<Result<(Connected, Opened), OpenError>> {
    tokio::spawn(async move {
        let (conn, opened) = Conn::open(&host, port, tls.as_ref(), permit).await?;
        if !conn.speaks_h2() {
            return Ok((Connected::H1(conn), opened));
        }
        let (stream, permit) = conn.into_h2().expect("a new TLS connection");
        let h2 = H2Conn::handshake(*stream, permit).await.map_err(|e| {
            OpenError::Connect(std::io::Error::other(format!(
                "the HTTP/2 handshake failed: {e}"
            )))
        })?;
        Ok((Connected::H2(h2), opened))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain HTTP to `port` on 127.0.0.1.
    fn at(port: u16) -> Endpoint<'static> {
        Endpoint {
            host: "127.0.0.1",
            port,
            tls: false,
        }
    }

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

    /// The port of a new origin on 127.0.0.1 that [`hold`]s its connections.
    async fn held_origin() -> u16 {
        let (l, port) = listener().await;
        tokio::spawn(hold(l));
        port
    }

    /// A request to `port` that finds a free permit opens a connection.
    async fn open_new(pool: &Pool, port: u16) -> Conn {
        let Checkout::Open(permit) = pool.checkout(at(port)).await else {
            panic!("a request under the cap opens");
        };
        Conn::open("127.0.0.1", port, None, permit).await.unwrap().0
    }

    /// Answer every request on every connection accepted by `l` with a 2-byte body (a request
    /// is taken to be one read).
    async fn answer(l: tokio::net::TcpListener) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if n == 0 || s.write_all(ok).await.is_err() {
                        break;
                    }
                }
            });
        }
    }

    /// GET `/` on `conn`: its status, and whether the connection may be reused.
    async fn get(conn: &mut Conn) -> (u16, bool) {
        let req = crate::h1::encode_request("GET", "/", "127.0.0.1", &[], b"").unwrap();
        match conn.exchange(&req, 1 << 20, false).await {
            Ok(x) => (x.status, x.reusable),
            Err(_) => panic!("the exchange failed"),
        }
    }

    /// A request to `port` waiting in its own task (already in line when this returns).
    async fn queued(pool: &Arc<Pool>, port: u16) -> tokio::task::JoinHandle<Checkout> {
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.checkout(at(port)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the request did not wait");
        waiting
    }

    /// `f`'s output, failing with `why` if it takes more than 5 s.
    async fn within<T>(f: impl std::future::Future<Output = T>, why: &str) -> T {
        tokio::time::timeout(Duration::from_secs(5), f)
            .await
            .expect(why)
    }

    #[tokio::test]
    async fn connections_idle_a_while_give_their_read_buffers_back() {
        let (l, port) = listener().await;
        tokio::spawn(answer(l));
        let pool = Pool::new(None);
        let mut conns = Vec::new();
        for _ in 0..3 {
            let mut conn = open_new(&pool, port).await;
            assert_eq!(get(&mut conn).await, (200, true));
            assert!(
                conn.buffer_capacity() > 0,
                "a response was read into the buffer"
            );
            conns.push(conn);
        }
        let (third, second, first) = (
            conns.pop().unwrap(),
            conns.pop().unwrap(),
            conns.pop().unwrap(),
        );
        let capacities = |pool: &Pool| -> Vec<usize> {
            let origins = pool.origins.lock().unwrap();
            origins[0]
                .idle
                .iter()
                .map(|(conn, _)| conn.buffer_capacity())
                .collect()
        };

        // `first` comes back, and (made to look so) has been idle TRIM_AFTER since; the pool
        // last looked just now.
        pool.put_back(at(port), first);
        let back = {
            let mut origins = pool.origins.lock().unwrap();
            let origin = &mut origins[0];
            let back = Instant::now();
            origin.idle[0].1 = back.checked_sub(TRIM_AFTER).unwrap();
            origin.last_trim = back;
            back
        };
        // A connection that comes back before TRIM_AFTER has passed since then does not look.
        pool.put_back(at(port), second);
        if back.elapsed() < TRIM_AFTER {
            assert!(
                capacities(&pool).iter().all(|&c| c > 0),
                "not looked at yet"
            );
        }
        // One that comes back later does: `first` gives its buffer back, `second` (idle less
        // than TRIM_AFTER) and the one just back keep theirs.
        pool.origins.lock().unwrap()[0].last_trim = back.checked_sub(TRIM_AFTER).unwrap();
        pool.put_back(at(port), third);
        let after = capacities(&pool);
        assert_eq!(after[0], 0, "idle TRIM_AFTER: given back");
        assert!(after[1] > 0 && after[2] > 0, "idle less: kept");

        // At exactly TRIM_AFTER too, and a connection without a buffer carries the next request
        // as any other.
        let mut trimmed = {
            let mut origins = pool.origins.lock().unwrap();
            let origin = &mut origins[0];
            let second_back = origin.idle[1].1;
            origin.trim(second_back + TRIM_AFTER);
            assert_eq!(origin.idle[1].0.buffer_capacity(), 0);
            assert!(origin.idle[2].0.buffer_capacity() > 0);
            assert_eq!(origin.last_trim, second_back + TRIM_AFTER);
            origin.idle.pop_front().unwrap().0
        };
        assert_eq!(get(&mut trimmed).await, (200, true));
        assert!(trimmed.buffer_capacity() > 0);
    }

    #[tokio::test]
    async fn the_upkeep_closes_expired_connections_and_trims_idle_ones_without_a_request() {
        let (l, port) = listener().await;
        tokio::spawn(answer(l));
        let pool = Pool::new(Some(3));
        let mut conns = Vec::new();
        for _ in 0..3 {
            let mut conn = open_new(&pool, port).await;
            assert_eq!(get(&mut conn).await, (200, true));
            conns.push(conn);
        }
        for conn in conns {
            pool.put_back(at(port), conn);
        }
        let free = |pool: &Pool| pool.permits.as_ref().unwrap().available_permits();
        assert_eq!(free(&pool), 0);
        // Made to look so: the oldest idle past IDLE_TIMEOUT, the next one TRIM_AFTER, the newest
        // just back; the last look was TRIM_AFTER ago.
        let now = Instant::now();
        {
            let mut origins = pool.origins.lock().unwrap();
            let origin = &mut origins[0];
            origin.idle[0].1 = now.checked_sub(IDLE_TIMEOUT).unwrap();
            origin.idle[1].1 = now.checked_sub(TRIM_AFTER).unwrap();
            origin.last_trim = now.checked_sub(TRIM_AFTER).unwrap();
        }
        pool.tidy(now);
        let origins = pool.origins.lock().unwrap();
        let capacities: Vec<usize> = origins[0]
            .idle
            .iter()
            .map(|(conn, _)| conn.buffer_capacity())
            .collect();
        assert_eq!(capacities.len(), 2, "the expired one is closed");
        assert_eq!(capacities[0], 0, "idle TRIM_AFTER: buffer given back");
        assert!(capacities[1] > 0, "just back: kept");
        assert_eq!(origins[0].last_trim, now);
        drop(origins);
        assert_eq!(free(&pool), 1, "the closed connection's permit is free");
    }

    #[tokio::test]
    async fn without_a_cap_a_request_may_always_open() {
        let pool = Pool::new(None);
        assert!(matches!(pool.checkout(at(1)).await, Checkout::Open(None)));
    }

    #[tokio::test]
    async fn the_cap_makes_requests_wait_for_a_connection_to_come_back() {
        let port = held_origin().await;
        let pool = Arc::new(Pool::new(Some(1)));
        let conn = open_new(&pool, port).await;
        // The cap is reached: a second request waits...
        let waiting = queued(&pool, port).await;
        // ...and gets the connection the first one puts back.
        pool.put_back(at(port), conn);
        let got = within(waiting, "woken by the returned connection")
            .await
            .unwrap();
        assert!(matches!(got, Checkout::Reuse(_)));
    }

    #[tokio::test]
    async fn a_waiting_request_closes_an_idle_connection_to_another_origin() {
        let (port1, port2) = (held_origin().await, held_origin().await);
        let pool = Pool::new(Some(1));
        let conn = open_new(&pool, port1).await;
        pool.put_back(at(port1), conn);
        // The only permit is held by the idle connection to the first origin, which nobody waits
        // for: it is closed so that a request to the second origin can open its own.
        let got = within(
            pool.checkout(at(port2)),
            "the idle connection gave its permit up",
        )
        .await;
        assert!(matches!(got, Checkout::Open(Some(_))));
    }

    #[tokio::test]
    async fn a_connection_nobody_waits_for_goes_to_a_request_for_another_origin() {
        let (port1, port2) = (held_origin().await, held_origin().await);
        let pool = Arc::new(Pool::new(Some(1)));
        let conn = open_new(&pool, port1).await;
        // The connection to the first origin is in use when a request to the second starts
        // waiting...
        let waiting = queued(&pool, port2).await;
        // ...and is closed when it comes back, so that the waiting request gets the permit.
        pool.put_back(at(port1), conn);
        let got = within(waiting, "the connection came back and gave its permit up")
            .await
            .unwrap();
        assert!(matches!(got, Checkout::Open(Some(_))));
    }

    #[tokio::test]
    async fn a_returned_connection_goes_to_the_longest_waiting_request() {
        use futures_util::FutureExt;
        let port = held_origin().await;
        let pool = Arc::new(Pool::new(Some(1)));
        let conn = open_new(&pool, port).await;
        let waiting = queued(&pool, port).await;
        // The connection's own VU puts it back and asks again at once (no yield in between, as
        // in a loop without sleeps): the request that waited gets it, this one waits in line.
        pool.put_back(at(port), conn);
        assert!(
            pool.checkout(at(port)).now_or_never().is_none(),
            "the returning VU jumped the line"
        );
        let got = within(waiting, "handed over").await.unwrap();
        assert!(matches!(got, Checkout::Reuse(_)));
    }

    #[tokio::test]
    async fn a_request_that_gave_up_waiting_is_skipped() {
        use futures_util::FutureExt;
        let (port1, port2) = (held_origin().await, held_origin().await);
        let pool = Arc::new(Pool::new(Some(1)));
        let conn = open_new(&pool, port1).await;
        // A request to the same origin queues and gives up (its iteration was interrupted)...
        assert!(pool.checkout(at(port1)).now_or_never().is_none());
        // ...while one to another origin waits for the permit.
        let waiting = queued(&pool, port2).await;
        // Nobody waits for the first origin any more: the connection closes and frees its permit.
        pool.put_back(at(port1), conn);
        let got = within(waiting, "the permit went to the other origin")
            .await
            .unwrap();
        assert!(matches!(got, Checkout::Open(Some(_))));
    }

    #[tokio::test]
    async fn a_closed_idle_connection_is_passed_over_for_a_live_one() {
        // Origin b closes every connection at once; origins c and a keep theirs open.
        let (lb, b) = listener().await;
        tokio::spawn(async move {
            while let Ok((s, _)) = lb.accept().await {
                drop(s);
            }
        });
        let (c, a) = (held_origin().await, held_origin().await);
        let pool = Pool::new(Some(2));
        let mut conns = Vec::new();
        for port in [b, c] {
            conns.push((port, open_new(&pool, port).await));
        }
        // Both come back idle before b's close is noticed: b's entry is in the pool, dead soon.
        for (port, conn) in conns {
            pool.put_back(at(port), conn);
        }
        within(
            async {
                // (Noticed either in `put_back`, which dropped it, or since.)
                while pool
                    .origins
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|o| o.port == b && o.idle.iter().any(|(conn, _)| !conn.is_closed()))
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            },
            "origin b closed its connection",
        )
        .await;
        // Both permits are held. One request to a takes b's, once b's dead entry is closed; a
        // second must wait, and the permit it gets is c's, whose live idle connection is closed
        // for it.
        let _first = open_new(&pool, a).await;
        let got = within(
            pool.checkout(at(a)),
            "a live idle connection gave its permit up",
        )
        .await;
        assert!(matches!(got, Checkout::Open(Some(_))));
    }

    /// A connection for `http://` is never handed to an `https://` request to the same host and
    /// port, nor the other way round.
    #[tokio::test]
    async fn http_and_https_connections_are_pooled_apart() {
        let port = held_origin().await;
        let pool = Pool::new(None);
        let conn = open_new(&pool, port).await;
        pool.put_back(at(port), conn);
        let secure = Endpoint {
            tls: true,
            ..at(port)
        };
        assert!(matches!(pool.checkout(secure).await, Checkout::Open(_)));
        assert!(matches!(pool.checkout(at(port)).await, Checkout::Reuse(_)));
    }
}
