//! `wasi:http/outgoing-handler`, which a JavaScript `fetch()` (and any other guest's standard HTTP
//! client) calls: its requests take the same path as `http.send`: the VU thread's connection pool,
//! the plan's target allowlist, host-side timing and the same `http_*` / `data_*` samples, tagged
//! with the VU's tags, `name` (the URL without its query) and `method`.
//!
//! wasmtime-wasi-http hands the request over as a streaming body and runs the returned future on
//! its own task, away from the VU's store, so these hooks carry what recording needs (the run's
//! context and the VU's tags) and flush their samples to the collector themselves (one lock per
//! request; `http.send` batches them).

use super::http::{default_name, push_error, push_response, warn_once};
use crate::client::{CompletedResponse, OutgoingRequest, RequestError};
use crate::cookies::VuCookies;
use crate::series::HttpSeries;
use crate::state::{RunContext, VuState};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use stampede_metrics::{SampleBuffer, TagSet};
use std::future::Future;
use std::sync::Arc;
use wasmtime_wasi_http::{
    Error as WasiHttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

/// What a VU's `wasi:http` requests need once they leave the store.
pub(crate) struct FetchHooks {
    run: Arc<RunContext>,
    vu_tags: Arc<TagSet>,
    vu_id: u64,
    /// TLS failures this VU has logged (each distinct message once; `fetch()`'s error codes carry
    /// no message, so the log is where the user reads what to set).
    warned: Arc<std::sync::Mutex<Vec<String>>>,
    /// The VU's cookie jar (the one its `http.send` uses).
    pub(crate) cookies: VuCookies,
}

impl FetchHooks {
    pub(crate) fn new(
        run: Arc<RunContext>,
        vu_tags: Arc<TagSet>,
        vu_id: u64,
        cookies: VuCookies,
    ) -> Self {
        FetchHooks {
            run,
            vu_tags,
            vu_id,
            warned: Arc::default(),
            cookies,
        }
    }
}

/// The `wasi:http` state of a VU's store.
pub(crate) struct FetchState {
    pub(crate) ctx: WasiHttpCtx,
    pub(crate) hooks: FetchHooks,
}

impl WasiHttpView for VuState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.fetch.ctx,
            table: &mut self.table,
            hooks: &mut self.fetch.hooks,
        }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), WasiHttpError>> + Send>;

impl WasiHttpHooks for FetchHooks {
    /// A request without a scheme is `http`; `https` URLs go over TLS (as with `http.send`).
    fn default_scheme(&mut self) -> Option<http::uri::Scheme> {
        Some(http::uri::Scheme::HTTP)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let run = self.run.clone();
        let vu_tags = (*self.vu_tags).clone();
        let vu_id = self.vu_id;
        let warned = self.warned.clone();
        let cookies = self.cookies.clone();
        Box::new(async move {
            let timeout = options
                .and_then(|o| o.first_byte_timeout)
                .unwrap_or(run.http_timeout);
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let method = parts.method.as_str().to_owned();
            let mut tags = vu_tags;
            tags.insert("name", default_name(&url));
            tags.insert("method", method.as_str());
            let body = body.collect().await?.to_bytes();
            let headers = parts
                .headers
                .iter()
                // The body was collected whole: the client frames it with its own Content-Length.
                .filter(|(k, _)| {
                    *k != http::header::HOST
                        && *k != http::header::CONTENT_LENGTH
                        && *k != http::header::TRANSFER_ENCODING
                })
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let outgoing = OutgoingRequest {
                method,
                url,
                headers,
                body: (!body.is_empty()).then(|| body.to_vec()),
                timeout,
                // `discard-response-bodies` is for `http.send`: a `fetch()` caller reads its body.
                discard_body: false,
            };
            // StarlingMonkey's `fetch()` hands a redirect back to the script as is (measured), so
            // the host follows it, as `redirect: "follow"` (the default) asks; so it does for any
            // wasi:http client.
            let mut samples = SampleBuffer::default();
            let result = crate::redirect::send_following(
                &run.client,
                outgoing,
                run.max_redirects,
                &cookies,
                |hop| {
                    let series = HttpSeries::for_response(tags.clone(), &hop);
                    push_response(&mut samples, &series, &hop);
                    // Recorded now: a caller that gives up before the last hop (its iteration
                    // timed out) drops this future, and the hops that reached the server count.
                    run.collector.flush(&mut samples);
                },
            )
            .await;
            match &result {
                Ok(resp) => {
                    push_response(&mut samples, &HttpSeries::for_response(tags, resp), resp)
                }
                Err(err) => {
                    // Logged as for `http.send`: a refused origin too, since the script's
                    // `fetch()` only rejects with a generic NetworkError that does not say why.
                    warn_once(&mut warned.lock().expect("warned lock"), vu_id, &tags, err);
                    push_error(&mut samples, tags, err)
                }
            }
            run.collector.flush(&mut samples);
            let resp = into_response(result?)?;
            Ok((resp, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// A buffered response as the `wasi:http` response the guest reads.
fn into_response(resp: CompletedResponse) -> Result<http::Response<WasiBody>, WasiHttpError> {
    let mut builder = http::Response::builder().status(resp.status);
    if let Some(headers) = builder.headers_mut() {
        *headers = resp.headers.to_header_map();
    }
    builder
        .body(
            Full::new(Bytes::clone(&resp.body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| WasiHttpError::InternalError(Some(e.to_string())))
}

impl From<RequestError> for WasiHttpError {
    fn from(err: RequestError) -> Self {
        match err {
            RequestError::OriginNotAllowed(_) => WasiHttpError::HttpRequestDenied,
            RequestError::Invalid(m) => WasiHttpError::InternalError(Some(m)),
            RequestError::Connect(_) => WasiHttpError::ConnectionRefused,
            RequestError::Tls {
                certificate: true, ..
            } => WasiHttpError::TlsCertificateError,
            RequestError::Tls { .. } => WasiHttpError::TlsProtocolError,
            RequestError::Timeout => WasiHttpError::HttpResponseTimeout,
            RequestError::Protocol(_) => WasiHttpError::HttpProtocolError,
            RequestError::BodyTooLong { limit, .. } => {
                WasiHttpError::HttpResponseBodySize(Some(limit))
            }
        }
    }
}
