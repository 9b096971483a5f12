//! The demo "system under test" that `stampede target --listen 127.0.0.1:PORT` serves.
//!
//! It gives examples, tests and benchmarks something realistic to hit without depending on a
//! third-party service: a couple of very cheap routes for raw throughput comparisons (against `wrk`,
//! say), a few knobs (latency, status codes) and a small stateful login + shopping-cart flow for
//! scripted scenarios. It counts what it handled in Prometheus format, so a test can compare the
//! server's count with what the load tool reported.
//!
//! The server only listens on loopback addresses (`127.0.0.0/8` or `::1`): it is a test target,
//! not something to expose. [`serve`] and [`spawn`] refuse any other address before binding.
//!
//! With `--tls` ([`serve_tls`], [`spawn_tls`]) it serves the same routes over `https://` with a
//! self-signed certificate made at start ([`SelfSigned`]), for testing TLS load traffic.
//!
//! # Routes
//!
//! | Method | Path | Response |
//! |---|---|---|
//! | `GET` | `/` | `200`, `ok\n` (`text/plain`, 3 bytes); static, the cheapest route |
//! | `GET` | `/json` | `200`, a fixed JSON document of about 1 KiB (`application/json`), static bytes |
//! | `GET` | `/delay/{ms}` | waits `ms` milliseconds (to within ~0.1 ms, capped at 60 000), then `200`, `ok\n`; `400` if `ms` is not a whole number |
//! | `GET` | `/bytes/{n}` | `200`, `n` bytes of `x` (`application/octet-stream`, with `Content-Length`), streamed from one static chunk, capped at 1 GiB; `400` if `n` is not a whole number |
//! | any | `/status/{code}` | responds with status `code` (`200..=599`) and a short body such as `418 I'm a teapot\n` (empty for `204`, `205`, `304`); `400` for `1xx` or anything else |
//! | `GET` | `/redirect/{n}` | `302` to `/redirect/{n-1}`, and `/redirect/1` to `/`: `n` redirects (at most 100), then `ok\n` (`/redirect/0`: `ok\n` at once); `400` otherwise |
//! | any | `/redirect-to?url=U&status=S` | status `S` (`301`, `302`, `303`, `307` or `308`; default `302`) with `Location: U` as given; `400` without `url` or for another status |
//! | `GET` | `/cookies/set?NAME=VALUE&...` | sets each cookie (`Path=/`) and redirects (`302`) to `/cookies` |
//! | `GET` | `/cookies` | `200`, the cookies the request carried: `{"cookies": {"NAME": "VALUE"}}` |
//! | `GET` | `/healthz` | `200`, `ok\n` |
//! | `POST` | `/login` | JSON `{"username": "...", "password": "secret"}` -> `200` `{"token": "..."}` plus `Set-Cookie: session=<token>; Path=/; HttpOnly`; `401` for a wrong password, `400` for an empty username or a malformed body |
//! | `POST` | `/logout` | *(auth)* drops the session, `204`, and clears the cookie |
//! | `GET` | `/products` | `200`, JSON list of 20 products `[{"id", "name", "price_cents"}]` |
//! | `GET` | `/products/{id}` | `200`, one product; `404` for an unknown id, `400` if `id` is not a number |
//! | `POST` | `/cart` | *(auth)* JSON `{"product_id": N, "quantity": M}` adds `M` (at least 1) to the cart, `200` with the cart as for `GET /cart`; `404` for an unknown product |
//! | `GET` | `/cart` | *(auth)* `200`, `{"items": [{"product_id", "quantity"}], "total_cents"}` |
//! | `GET` | `/metrics` | Prometheus text format (`text/plain; version=0.0.4`), see below |
//!
//! *(auth)* routes need the token from `POST /login`, either as `Authorization: Bearer <token>` or as
//! the `session` cookie; without a valid one they answer `401`. Sessions live in memory; at most
//! 1 000 000 exist at once, and a new login beyond that evicts the oldest session. Tokens are
//! unique and hard to guess, but this is a demo: they are not meant to protect anything.
//!
//! Any other path answers `404`, and a known path with the wrong method answers `405`. Errors have a
//! JSON body `{"error": "..."}` that says what to fix.
//!
//! # Metrics
//!
//! `GET /metrics` reports:
//!
//! - `target_requests_total` (counter): every request the server handled, **except requests to
//!   `/metrics` itself**. That includes `/healthz`, `404`s for unknown paths, `405`s and requests
//!   rejected for a bad body or missing credentials. A request is counted when it is routed, before
//!   its handler runs, so a `/delay` request still waiting is already counted.
//! - `target_requests_by_route_total{route="..."}` (counter): the same, split by route template
//!   (`/delay/{ms}`, not `/delay/250`); unknown paths are `route="unmatched"`.
//! - `target_http2_requests_total` (counter): of those, the requests that came over HTTP/2 (with
//!   TLS, to clients that chose it).
//! - `target_active_sessions` (gauge): sessions currently logged in.
//! - `target_connections_total` (counter): TCP connections accepted (a load generator that keeps
//!   connections alive opens few).
//!
//! Requests the HTTP layer rejects before routing (malformed HTTP) are not counted.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let addr = "127.0.0.1:8080".parse()?;
//! stampede_target::serve(addr, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

mod basic;
mod catalog;
mod error;
mod metrics;
mod sessions;
mod shop;
mod timer;
mod tls;

pub use tls::SelfSigned;

use std::future::{Future, pending};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::handler::Handler as _;
use axum::routing::{MethodRouter, any, get, post};
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;

use crate::catalog::Catalog;
use crate::metrics::{CountLayer, RequestCounters, RouteId};
use crate::sessions::{MAX_SESSIONS, SessionStore};

/// Everything the demo server remembers: request counters, sessions and the product catalog.
///
/// One per server; [`app`] takes it behind an [`Arc`]. There is no global state, so several
/// servers (one per test, say) can run in one process without seeing each other.
pub struct TargetState {
    counters: RequestCounters,
    sessions: SessionStore,
    catalog: Catalog,
    connections: AtomicU64,
}

impl TargetState {
    /// A fresh state: zero counters, no sessions.
    pub fn new() -> Self {
        Self {
            counters: RequestCounters::default(),
            sessions: SessionStore::new(MAX_SESSIONS),
            catalog: Catalog::new(),
            connections: AtomicU64::new(0),
        }
    }

    /// What `target_requests_total` reports: requests handled, excluding `/metrics`.
    pub fn requests_total(&self) -> u64 {
        self.counters.total()
    }

    /// What `target_http2_requests_total` reports: of `requests_total`, those over HTTP/2.
    pub fn http2_requests_total(&self) -> u64 {
        self.counters.http2()
    }

    /// What `target_active_sessions` reports: sessions currently logged in.
    pub fn active_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// What `target_connections_total` reports: connections accepted.
    pub fn connections_total(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Default for TargetState {
    fn default() -> Self {
        Self::new()
    }
}

/// The router with every route listed in the [crate docs](crate), ready to serve or to drive with
/// `tower::ServiceExt::oneshot`.
pub fn app(state: Arc<TargetState>) -> Router {
    type State = Arc<TargetState>;
    let count = |route: RouteId| CountLayer::new(state.clone(), route);
    let counted = |router: Router<State>, route: RouteId, method_router: MethodRouter<State>| {
        router.route(route.template(), method_router.layer(count(route)))
    };

    let mut router = Router::new();
    router = counted(router, RouteId::Root, get(basic::root));
    router = counted(router, RouteId::Json, get(basic::json));
    router = counted(router, RouteId::Delay, get(basic::delay));
    router = counted(router, RouteId::Bytes, get(basic::bytes));
    router = counted(router, RouteId::Status, any(basic::status));
    router = counted(router, RouteId::Redirect, get(basic::redirect));
    router = counted(router, RouteId::RedirectTo, any(basic::redirect_to));
    router = counted(router, RouteId::SetCookies, get(basic::set_cookies));
    router = counted(router, RouteId::Cookies, get(basic::cookies));
    router = counted(router, RouteId::Healthz, get(basic::healthz));
    router = counted(router, RouteId::Login, post(shop::login));
    router = counted(router, RouteId::Logout, post(shop::logout));
    router = counted(router, RouteId::Products, get(shop::products));
    router = counted(router, RouteId::Product, get(shop::product));
    router = counted(
        router,
        RouteId::Cart,
        get(shop::cart).post(shop::add_to_cart),
    );
    router
        // Deliberately not counted, so scraping does not change what is being measured.
        .route("/metrics", get(metrics::metrics))
        .fallback(basic::not_found.layer(count(RouteId::Unmatched)))
        .with_state(state)
}

/// Bind `addr` and serve [`app`] until `shutdown` resolves, then finish in-flight requests and
/// return.
///
/// Refuses (returns an error, without binding) any `addr` that is not loopback (`127.0.0.0/8` or
/// `::1`): this server is a test target.
pub async fn serve(
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_announced(addr, |_| {}, shutdown).await
}

/// [`serve`], calling `listening` with the bound address once the socket is bound (and not for
/// an address that is refused or taken).
pub async fn serve_announced(
    addr: SocketAddr,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = bind(addr).await?;
    listening(listener.local_addr().unwrap_or(addr));
    serve_on(listener, None, Arc::default(), shutdown).await
}

/// [`serve`] over `https://`, with a new self-signed certificate for `addr`'s address (and
/// `localhost`, `127.0.0.1`, `::1`). Once the socket is bound, `listening` gets the bound address
/// and the certificate (to write it out, say); then serving starts.
/// With `client_ca_pem`, clients must present a certificate signed by one of its certificates.
pub async fn serve_tls(
    addr: SocketAddr,
    client_ca_pem: Option<&str>,
    listening: impl FnOnce(SocketAddr, &SelfSigned) -> anyhow::Result<()>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = bind(addr).await?;
    let mut tls = SelfSigned::generate(addr.ip())?;
    if let Some(ca) = client_ca_pem {
        tls.require_client_certificates(ca)?;
    }
    listening(listener.local_addr().unwrap_or(addr), &tls)?;
    serve_on(listener, Some(&tls), Arc::default(), shutdown).await
}

/// A demo target serving `https://` in this process ([`spawn_tls`]), for tests.
pub struct TlsTarget {
    /// The bound address.
    pub addr: SocketAddr,
    /// Its certificate (`cert_pem` is what a client trusts).
    pub tls: SelfSigned,
    /// Its counters.
    pub state: Arc<TargetState>,
    /// The server; it runs until this is aborted.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// [`spawn`] over `https://`, with a new self-signed certificate. Meant for tests.
pub async fn spawn_tls(addr: SocketAddr) -> anyhow::Result<TlsTarget> {
    let listener = bind(addr).await?;
    let tls = SelfSigned::generate(addr.ip())?;
    let bound = listener
        .local_addr()
        .context("reading the bound address of the demo target")?;
    let state = Arc::new(TargetState::new());
    let task = tokio::spawn({
        let (tls, state) = (tls.clone(), state.clone());
        async move { serve_on(listener, Some(&tls), state, pending()).await }
    });
    Ok(TlsTarget {
        addr: bound,
        tls,
        state,
        task,
    })
}

/// Like [`serve`], but returns once the socket is bound: the bound address (useful with port 0)
/// and the server task. The server runs until the task is aborted. Meant for tests.
pub async fn spawn(
    addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let listener = bind(addr).await?;
    let bound = listener
        .local_addr()
        .context("reading the bound address of the demo target")?;
    Ok((
        bound,
        tokio::spawn(serve_on(listener, None, Arc::default(), pending())),
    ))
}

/// Checks that `addr` is loopback, then binds it.
async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    check_loopback(addr)?;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the demo target to {addr}"))
}

fn check_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!(
            "refusing to serve the demo target on {addr}: it only listens on loopback \
             addresses (127.0.0.0/8 or ::1), for example 127.0.0.1:8080"
        );
    }
    Ok(())
}

async fn serve_on(
    listener: TcpListener,
    tls: Option<&SelfSigned>,
    state: Arc<TargetState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, tls = tls.is_some(), "demo target listening");
    if let Some(tls) = tls {
        let listener = tls::TlsListener::new(listener, tls, state.clone());
        return axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving the demo target");
    }
    let counted = state.clone();
    // Responses are small and written in one go; do not let Nagle hold them back.
    let listener = listener.tap_io(move |tcp| {
        counted.connections.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the demo target")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        for ok in ["127.0.0.1:80", "127.1.2.3:0", "[::1]:8080"] {
            assert!(check_loopback(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "0.0.0.0:80",
            "192.0.2.1:80",
            "[::]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            let error = check_loopback(bad.parse().unwrap()).unwrap_err();
            assert!(error.to_string().contains("loopback"), "{bad}: {error}");
        }
    }
}
