//! `http.send`: the guest's requests go through the VU thread's connection pool; the host times
//! them and records the `http_*` and `data_*` metrics. Failures come back as `http-error`, never as
//! traps.

use crate::bindings::http::{Host, HttpError, Request, Response, Timings};
use crate::client::{CompletedResponse, OutgoingRequest, RequestError, ResponseHeaders};
use crate::offload::{Parked, Submitted, Work, park};
use crate::once::{Once, Seen};
use crate::redirect::Followed;
use crate::series::HttpSeries;
use crate::state::{RunContext, VuState};
use stampede_metrics::{MetricKind, SampleBuffer, SeriesKey, TagSet, names};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A duration in milliseconds, as metrics and the guest get it.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A request's metric `name` when the scenario gives none: its URL without query or fragment.
pub(crate) fn default_name(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

/// k6's default `expected_response`: statuses 200 to 399.
pub(crate) fn expected(status: u16) -> bool {
    (200..400).contains(&status)
}

impl Host for VuState {
    async fn send(&mut self, req: Request) -> Result<Response, HttpError> {
        self.send_here(req).await
    }
}

/// A VU's `http.send` whose requests go off the guest call's fiber (see `offload`): the import
/// the linker gives a process with many VUs ([`linker`](super::linker)).
pub(crate) struct Offloaded<'a>(pub(crate) &'a mut VuState);

impl Host for Offloaded<'_> {
    async fn send(&mut self, req: Request) -> Result<Response, HttpError> {
        self.0.send_off(req).await
    }
}

/// Where a request is between the hops of its redirects.
struct Hops {
    /// Redirects it may still follow.
    left: u32,
    /// The URL of the last redirect followed.
    from: Option<String>,
    /// True when the VU's cookie jar added the request's cookies.
    jar_cookie: bool,
}

/// What a response leads to.
enum Next {
    /// The guest's result.
    Done(Result<Response, HttpError>),
    /// A redirect, followed by this request.
    Follow(OutgoingRequest),
}

/// A VU's requests, run by its [`Offload`](crate::offload::Offload) off the guest call's fiber.
pub(crate) struct Requests(pub(crate) Arc<RunContext>);

/// What a request hands back: the request (a redirect builds the next one from it), the VU's
/// request timer and the outcome.
pub(crate) type Sent = (
    OutgoingRequest,
    Pin<Box<tokio::time::Sleep>>,
    Result<CompletedResponse, RequestError>,
);

impl Work for Requests {
    type Input = (OutgoingRequest, Pin<Box<tokio::time::Sleep>>);
    type Output = Sent;
    // Not inlined: the future is made in this function's frame before it is boxed (~1.4 KiB),
    // which would otherwise be a frame of `Offload::submit` on the fiber, though it runs there
    // only when nothing drives the call.
    #[inline(never)]
    fn start(&self, (outgoing, mut deadline): Self::Input) -> Parked<Sent> {
        let run = self.0.clone();
        park(async move {
            let result = run.client.send_within(&outgoing, deadline.as_mut()).await;
            (outgoing, deadline, result)
        })
    }
}

/// A request on its way: what [`VuState::finish_request`] needs to record its outcome.
pub(crate) struct Pending {
    shape: usize,
    /// The shape's tags, kept in case the series cache starts over before the response arrives.
    base: Arc<TagSet>,
}

impl Pending {
    /// Record the outcome (and the redirects before it) straight into the collector, when the store
    /// that sent the request is gone (its shared instance ended while the request was in flight).
    pub(crate) fn record_orphan(self, run: &RunContext, followed: &Followed) {
        let mut buf = SampleBuffer::default();
        for hop in &followed.hops {
            let series = HttpSeries::for_response((*self.base).clone(), hop);
            push_response(&mut buf, &series, hop);
        }
        match &followed.result {
            Ok(resp) => {
                let series = HttpSeries::for_response((*self.base).clone(), resp);
                push_response(&mut buf, &series, resp);
            }
            Err(err) => push_error(&mut buf, (*self.base).clone(), err),
        }
        run.collector.flush(&mut buf);
    }
}

impl VuState {
    /// The guest's request, prepared.
    #[inline(always)]
    fn begin(&mut self, req: Request) -> (Pending, Hops, OutgoingRequest) {
        let (pending, outgoing) = self.prepare_request(req);
        let hops = Hops {
            left: self.run.max_redirects,
            from: None,
            jar_cookie: false,
        };
        (pending, hops, outgoing)
    }

    /// `http.send` polling its requests where it is: on the guest call's fiber (one instance per
    /// VU, fewer than 1,000 VUs per process), or where wasmtime polls the imports of a component
    /// that needs the component model's concurrency.
    async fn send_here(&mut self, req: Request) -> Result<Response, HttpError> {
        let (pending, mut hops, mut outgoing) = self.begin(req);
        loop {
            hops.jar_cookie = self.cookies.add_to(&mut outgoing);
            let deadline = self
                .request_deadline
                .get_or_insert_with(|| Box::pin(crate::timer::unset()));
            let result = self
                .run
                .client
                .send_within(&outgoing, deadline.as_mut())
                .await;
            match self.received(&pending, &mut hops, |_| (outgoing, result)) {
                Next::Done(result) => return result,
                Next::Follow(next) => outgoing = next,
            }
        }
    }

    /// `http.send` handing its requests to the VU task, to be polled off the fiber ([`Offloaded`]).
    /// This future is polled on the fiber, whose pages stay resident while the VU thinks: what is
    /// done here before and after a request is in functions of their own, so that no large value
    /// is kept in this frame.
    async fn send_off(&mut self, req: Request) -> Result<Response, HttpError> {
        let (pending, mut hops, mut outgoing) = self.begin_off(req);
        loop {
            let submitted = self.submit(outgoing, &mut hops);
            let job = self.offloaded().finished(submitted).await;
            match self.received_off(&pending, &mut hops, job) {
                Next::Done(result) => return result,
                Next::Follow(next) => outgoing = next,
            }
        }
    }

    /// The store's [`Offload`](crate::offload::Offload), which [`Offloaded`]'s stores have.
    fn offloaded(&self) -> &crate::offload::Offload<Requests> {
        self.offload
            .as_ref()
            .expect("the offloaded `http.send` is linked only for stores with an Offload")
    }

    /// Hand `outgoing` over, with the VU's cookies and its request timer (made by its first
    /// request).
    fn submit(&mut self, mut outgoing: OutgoingRequest, hops: &mut Hops) -> Submitted<Sent> {
        hops.jar_cookie = self.cookies.add_to(&mut outgoing);
        let deadline = self
            .request_deadline
            .take()
            .unwrap_or_else(|| Box::pin(crate::timer::unset()));
        self.offloaded().submit((outgoing, deadline))
    }

    /// [`begin`](Self::begin) in a frame of its own, off the frame of `send_off`'s future.
    #[inline(never)]
    fn begin_off(&mut self, req: Request) -> (Pending, Hops, OutgoingRequest) {
        self.begin(req)
    }

    /// [`received`](Self::received) for a job done off the fiber, in a frame of its own, off the
    /// frame of `send_off`'s future.
    #[inline(never)]
    fn received_off(&mut self, pending: &Pending, hops: &mut Hops, job: Parked<Sent>) -> Next {
        self.received(pending, hops, |s| s.take_job(job))
    }

    /// The request and outcome of a job done off the fiber; the VU's request timer back.
    fn take_job(
        &mut self,
        mut job: Parked<Sent>,
    ) -> (OutgoingRequest, Result<CompletedResponse, RequestError>) {
        let (outgoing, deadline, result) =
            job.as_mut().take().expect("a finished request's outcome");
        self.request_deadline = Some(deadline);
        (outgoing, result)
    }

    /// The end of a request's exchange (`exchanged` has the request and its outcome): the guest's
    /// result, or the next request when it is a redirect to follow (this hop recorded).
    #[inline(always)]
    fn received(
        &mut self,
        pending: &Pending,
        hops: &mut Hops,
        exchanged: impl FnOnce(&mut Self) -> (OutgoingRequest, Result<CompletedResponse, RequestError>),
    ) -> Next {
        let (mut outgoing, mut result) = exchanged(self);
        crate::redirect::name_refusal(&mut result, hops.from.as_deref());
        if let Ok(resp) = &result {
            self.cookies.keep_from(&outgoing.url, resp);
        }
        // Each hop of a redirect is a request of its own in the metrics; the guest gets the last
        // response.
        if hops.left > 0
            && let Ok(resp) = &result
            && let Some(next) = crate::redirect::next_request(&mut outgoing, resp, hops.jar_cookie)
        {
            hops.left -= 1;
            self.record_response(pending, resp);
            hops.from = Some(outgoing.url);
            return Next::Follow(next);
        }
        Next::Done(self.finish_request(pending, result))
    }

    /// The request's metric series and the client's form of it. Split from the send so a shared
    /// instance can release its state while the request is in flight.
    pub(crate) fn prepare_request(&mut self, req: Request) -> (Pending, OutgoingRequest) {
        let name = request_name(req.name.as_deref(), &req.tags, &req.url);
        let mut series = self.who.series();
        let shape = series.shape(name, &req.method, &req.tags, || {
            let mut tags = VuState::merge_tags(&self.who.tags, &req.tags);
            tags.insert("name", name);
            tags.insert("method", req.method.to_ascii_uppercase());
            tags
        });
        let base = series.base(shape).clone();
        drop(series);
        let timeout = req.timeout_ms.map_or(self.run.http_timeout, |t| {
            Duration::from_millis(u64::from(t))
        });
        let outgoing = OutgoingRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout,
            discard_body: self.run.discard_response_bodies,
        };
        (Pending { shape, base }, outgoing)
    }

    /// Record the redirects a request followed, then its outcome, and turn that into the guest's
    /// result.
    pub(crate) fn finish_followed(
        &mut self,
        pending: Pending,
        followed: Followed,
    ) -> Result<Response, HttpError> {
        for hop in &followed.hops {
            self.record_response(&pending, hop);
        }
        self.finish_request(&pending, followed.result)
    }

    /// Record a request's outcome and turn it into the guest's result.
    pub(crate) fn finish_request(
        &mut self,
        pending: &Pending,
        result: Result<CompletedResponse, RequestError>,
    ) -> Result<Response, HttpError> {
        match result {
            Ok(resp) => {
                self.record_response(pending, &resp);
                Ok(Response {
                    status: resp.status,
                    headers: header_block(&resp.headers),
                    body: resp.body.to_vec(),
                    timings: Timings {
                        duration_ms: ms(resp.timings.duration),
                        // The record has no field of its own for the TLS handshake (world
                        // 0.2.0): the guest sees the whole of opening the connection.
                        connecting_ms: ms(resp.timings.connecting
                            + resp.timings.tls_handshaking.unwrap_or_default()),
                        waiting_ms: ms(resp.timings.waiting),
                        receiving_ms: ms(resp.timings.receiving),
                    },
                })
            }
            Err(err) => {
                self.record_error(pending, &err);
                Err(match err {
                    RequestError::OriginNotAllowed(m) => HttpError::OriginNotAllowed(m),
                    RequestError::Invalid(m) => HttpError::InvalidRequest(m),
                    RequestError::Connect(m) | RequestError::Tls { message: m, .. } => {
                        HttpError::Connect(m)
                    }
                    RequestError::Timeout => HttpError::Timeout,
                    RequestError::Protocol(m) => HttpError::Protocol(m),
                    RequestError::BodyTooLong { limit, status } => {
                        HttpError::Protocol(crate::client::body_too_long_message(limit, status))
                    }
                })
            }
        }
    }
}

impl VuState {
    fn record_response(&mut self, pending: &Pending, resp: &CompletedResponse) {
        let s = self
            .who
            .series()
            .series_of(pending.shape, &pending.base, resp);
        push_response(&mut self.samples, &s, resp);
        self.flush_if_full();
    }

    fn record_error(&mut self, pending: &Pending, err: &RequestError) {
        let tags = (*pending.base).clone();
        push_error(&mut self.samples, tags, err);
        self.flush_if_full();
        warn_once(&mut self.warned, self.who.id, &pending.base, err);
    }
}

/// The most distinct messages a VU (or a shared instance) remembers having logged.
const MAX_WARNED: usize = 32;
/// The most distinct request failures a process logs; further ones are only counted (in
/// `http_req_failed`, tagged with their `error_code`).
const MAX_LOGGED: usize = 100;

/// The request failures this process has logged (see [`warn_once`]).
pub(crate) static LOGGED: Once = Once::new(MAX_LOGGED);

/// Log why a request got no response the first time this process sees that reason (a refused
/// origin, a failed TLS handshake, a refused connection, a timeout...): once per distinct message
/// (they carry no times of day), not per request or per VU, so a scenario that only checks
/// statuses still shows why its requests failed. `tags` are the request's (its `method` and
/// `name`, the URL unless the scenario named it). The VU's own list of what it logged keeps the
/// process-wide one (behind a lock) off the path of a failure it already reported.
pub(crate) fn warn_once(warned: &mut Vec<String>, vu: u64, tags: &TagSet, err: &RequestError) {
    let message = failure_message(err);
    if warned.contains(&message) || warned.len() >= MAX_WARNED {
        return;
    }
    warned.push(message.clone());
    match LOGGED.first(&message) {
        Seen::Again => {}
        Seen::Full => tracing::warn!(
            "{MAX_LOGGED} distinct request failures logged; further ones are only counted in \
             http_req_failed (tagged with their error_code)"
        ),
        Seen::First => {
            let request = format!(
                "{} {}",
                tags.get("method").unwrap_or("?"),
                loggable_url(tags.get("name").unwrap_or("?"))
            );
            tracing::warn!(vu, error_code = err.code(), "{message} ({request})");
        }
    }
}

/// `url` without what may hold a credential and has no place in a log: its query
/// (`?api_key=...`), its fragment, and a `user:password@` before the host.
fn loggable_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..host_end];
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{}", &rest[host_end..])
        }
        None => url.to_owned(),
    }
}

/// What a failed request's warning says.
fn failure_message(err: &RequestError) -> String {
    match err {
        RequestError::OriginNotAllowed(m) => format!("request refused: {m}"),
        RequestError::Invalid(m) => format!("request not sent: {m}"),
        RequestError::Tls { message, .. } => format!("TLS failed: {message}"),
        RequestError::Connect(m) => format!("request failed: {m}"),
        RequestError::Timeout => "request failed: no complete response within its timeout \
                                  (options.http-timeout, or the request's own timeout-ms)"
            .to_owned(),
        RequestError::Protocol(m) => format!("request failed: {m}"),
        RequestError::BodyTooLong { limit, status } => format!(
            "request failed: {}",
            crate::client::body_too_long_message(*limit, *status)
        ),
    }
}

/// The response headers as the guest gets them: one `name: value\n` line per header line received,
/// in the order received. One string is one `cabi_realloc` into the guest; a list of pairs took two
/// more per header, and cost ~2,150 instructions per header more than it costs hyper itself
/// (BENCHMARKS.md). Header values are nearly always ASCII: one UTF-8 check of the whole block is
/// cheaper than one per value, and the lossy conversion only runs for the odd invalid byte (names
/// and separators are ASCII, so it replaces exactly what a per-value conversion would).
pub(crate) fn header_block(headers: &ResponseHeaders) -> String {
    let len = headers.iter().map(|(k, v)| k.len() + v.len() + 3).sum();
    let mut block = Vec::with_capacity(len);
    for (k, v) in headers.iter() {
        block.extend_from_slice(k);
        block.extend_from_slice(b": ");
        block.extend_from_slice(v);
        block.push(b'\n');
    }
    String::from_utf8(block)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// The samples of one answered request: `http_reqs`, the four phase trends (five for `https://`), `http_req_failed` and
/// the two `data_*` counters.
pub(crate) fn push_response(b: &mut SampleBuffer, s: &HttpSeries, resp: &CompletedResponse) {
    b.push_group(&s.group, HttpSeries::values(resp));
    if let Some(tls) = resp.timings.tls_handshaking {
        b.push_shared(s.tls_handshaking(), MetricKind::Trend, ms(tls));
    }
}

/// The samples of a request without a response, tagged `status=0` and its `error_code`: it counts
/// in `http_reqs` only if it reached the network, and always as failed.
pub(crate) fn push_error(b: &mut SampleBuffer, mut tags: TagSet, err: &RequestError) {
    // No response, no protocol (a `proto` the scenario set itself gives way, as with the others).
    tags.remove("proto");
    tags.insert("status", "0");
    tags.insert("expected_response", "false");
    tags.insert("error_code", err.code());
    if err.was_sent() {
        b.push(
            SeriesKey::new(names::HTTP_REQS, tags.clone()),
            MetricKind::Counter,
            1.0,
        );
    }
    b.push(
        SeriesKey::new(names::HTTP_REQ_FAILED, tags),
        MetricKind::Rate,
        1.0,
    );
}

/// A request's metric name (its `name` tag): the name the scenario gave it, else a `name` among
/// its tags (k6 names requests with `tags: { name }`), else its URL.
fn request_name<'a>(name: Option<&'a str>, tags: &'a [(String, String)], url: &'a str) -> &'a str {
    name.or_else(|| {
        tags.iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.as_str())
    })
    .unwrap_or_else(|| default_name(url))
}

#[cfg(test)]
mod tests {
    use super::{default_name, header_block, loggable_url, request_name};

    #[test]
    fn a_request_is_named_by_its_name_else_its_name_tag_else_its_url() {
        let tags = vec![
            ("page".to_owned(), "1".to_owned()),
            ("name".to_owned(), "products".to_owned()),
        ];
        let url = "http://127.0.0.1:8080/products?page=1";
        assert_eq!(request_name(Some("list"), &tags, url), "list");
        assert_eq!(request_name(None, &tags, url), "products");
        assert_eq!(request_name(None, &tags[..1], url), default_name(url));
    }

    #[test]
    fn a_logged_url_keeps_no_credential() {
        assert_eq!(
            loggable_url("http://user:secret@127.0.0.1:8080/a/b?api_key=1#frag"),
            "http://127.0.0.1:8080/a/b"
        );
        assert_eq!(loggable_url("https://127.0.0.1/x"), "https://127.0.0.1/x");
        assert_eq!(loggable_url("login"), "login");
        assert_eq!(loggable_url("http://[::1]:80"), "http://[::1]:80");
    }
    use crate::h1::parse_head;

    #[test]
    fn headers_reach_the_guest_as_one_line_each_in_the_order_received() {
        let text = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nX-Empty: \r\nset-cookie: b=2; Path=/\r\nX-Name: caf\xe9\r\n\r\n";
        let mut buf = text.to_vec();
        let head = parse_head(&mut buf, false).unwrap().unwrap();
        let headers = head.into_headers(bytes::Bytes::from(buf));
        assert_eq!(
            header_block(&headers),
            "content-type: text/plain\nset-cookie: a=1\nx-empty: \nset-cookie: b=2; Path=/\nx-name: caf\u{FFFD}\n"
        );
        assert_eq!(header_block(&Default::default()), "");
    }
}
