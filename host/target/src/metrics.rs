//! Request counting and the `/metrics` route.
//!
//! Every counted route is wrapped in a [`CountLayer`] that knows its [`RouteId`] up front, so
//! counting a request is one relaxed atomic add: no path matching, no locks. The total is the sum
//! of the per-route counters, computed when `/metrics` is scraped.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use tower::{Layer, Service};

use crate::TargetState;

/// The routes that are counted, one counter each. `/metrics` is deliberately absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RouteId {
    Root,
    Json,
    Delay,
    Bytes,
    Status,
    Redirect,
    RedirectTo,
    SetCookies,
    Cookies,
    Healthz,
    Login,
    Logout,
    Products,
    Product,
    Cart,
    /// Any path no route matches (the `404` fallback).
    Unmatched,
}

impl RouteId {
    const ALL: [RouteId; 16] = [
        RouteId::Root,
        RouteId::Json,
        RouteId::Delay,
        RouteId::Bytes,
        RouteId::Status,
        RouteId::Redirect,
        RouteId::RedirectTo,
        RouteId::SetCookies,
        RouteId::Cookies,
        RouteId::Healthz,
        RouteId::Login,
        RouteId::Logout,
        RouteId::Products,
        RouteId::Product,
        RouteId::Cart,
        RouteId::Unmatched,
    ];

    /// The axum path template, which is also the `route` label.
    pub(crate) fn template(self) -> &'static str {
        match self {
            RouteId::Root => "/",
            RouteId::Json => "/json",
            RouteId::Delay => "/delay/{ms}",
            RouteId::Bytes => "/bytes/{n}",
            RouteId::Status => "/status/{code}",
            RouteId::Redirect => "/redirect/{n}",
            RouteId::RedirectTo => "/redirect-to",
            RouteId::SetCookies => "/cookies/set",
            RouteId::Cookies => "/cookies",
            RouteId::Healthz => "/healthz",
            RouteId::Login => "/login",
            RouteId::Logout => "/logout",
            RouteId::Products => "/products",
            RouteId::Product => "/products/{id}",
            RouteId::Cart => "/cart",
            RouteId::Unmatched => "unmatched",
        }
    }
}

/// An [`AtomicU64`] on its own cache line, so cores hammering different routes do not contend.
#[derive(Default)]
#[repr(align(64))]
struct PaddedCounter(AtomicU64);

/// One counter per [`RouteId`].
#[derive(Default)]
pub(crate) struct RequestCounters {
    by_route: [PaddedCounter; RouteId::ALL.len()],
    /// Of those, the requests that came over HTTP/2.
    http2: PaddedCounter,
}

impl RequestCounters {
    fn record(&self, route: RouteId) {
        self.by_route[route as usize]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, route: RouteId) -> u64 {
        self.by_route[route as usize].0.load(Ordering::Relaxed)
    }

    /// Requests counted on every route.
    pub(crate) fn total(&self) -> u64 {
        RouteId::ALL.iter().map(|&route| self.get(route)).sum()
    }

    /// Requests counted that came over HTTP/2.
    pub(crate) fn http2(&self) -> u64 {
        self.http2.0.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    fn render(&self, active_sessions: usize, connections: u64) -> String {
        let mut out = String::with_capacity(1024);
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP target_requests_total Requests handled by the demo target, excluding /metrics.\n\
             # TYPE target_requests_total counter\n\
             target_requests_total {}",
            self.total()
        );
        out.push_str(
            "# HELP target_requests_by_route_total Requests handled, by route template.\n\
             # TYPE target_requests_by_route_total counter\n",
        );
        for route in RouteId::ALL {
            let _ = writeln!(
                out,
                "target_requests_by_route_total{{route=\"{}\"}} {}",
                route.template(),
                self.get(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP target_http2_requests_total Of target_requests_total, the requests that came over HTTP/2.\n\
             # TYPE target_http2_requests_total counter\n\
             target_http2_requests_total {}",
            self.http2()
        );
        let _ = writeln!(
            out,
            "# HELP target_active_sessions Sessions currently logged in.\n\
             # TYPE target_active_sessions gauge\n\
             target_active_sessions {active_sessions}"
        );
        let _ = writeln!(
            out,
            "# HELP target_connections_total TCP connections accepted.\n\
             # TYPE target_connections_total counter\n\
             target_connections_total {connections}"
        );
        out
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<Arc<TargetState>>) -> impl IntoResponse {
    let body = state
        .counters
        .render(state.sessions.len(), state.connections_total());
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
}

/// Counts each request for one route as it is routed, before the handler runs.
#[derive(Clone)]
pub(crate) struct CountLayer {
    state: Arc<TargetState>,
    route: RouteId,
}

impl CountLayer {
    pub(crate) fn new(state: Arc<TargetState>, route: RouteId) -> Self {
        Self { state, route }
    }
}

impl<S> Layer<S> for CountLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CountLayer`] produces.
#[derive(Clone)]
pub(crate) struct Counted<S> {
    inner: S,
    layer: CountLayer,
}

impl<S, B> Service<axum::http::Request<B>> for Counted<S>
where
    S: Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        self.layer.state.counters.record(self.layer.route);
        if request.version() == axum::http::Version::HTTP_2 {
            self.layer
                .state
                .counters
                .http2
                .0
                .fetch_add(1, Ordering::Relaxed);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_ids_index_their_own_counter() {
        for (index, route) in RouteId::ALL.into_iter().enumerate() {
            assert_eq!(route as usize, index, "{route:?}");
        }
    }

    #[test]
    fn render_lists_every_route_and_the_total() {
        let counters = RequestCounters::default();
        counters.record(RouteId::Root);
        counters.record(RouteId::Root);
        counters.record(RouteId::Unmatched);
        let text = counters.render(7, 3);
        assert!(text.contains("\ntarget_requests_total 3\n"), "{text}");
        assert!(text.contains("target_requests_by_route_total{route=\"/\"} 2\n"));
        assert!(text.contains("target_requests_by_route_total{route=\"unmatched\"} 1\n"));
        assert!(text.contains("target_requests_by_route_total{route=\"/cart\"} 0\n"));
        assert!(text.contains("\ntarget_active_sessions 7\n"), "{text}");
        assert!(text.ends_with("\ntarget_connections_total 3\n"), "{text}");
        for name in [
            "target_requests_total",
            "target_requests_by_route_total",
            "target_http2_requests_total",
            "target_active_sessions",
            "target_connections_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
}
