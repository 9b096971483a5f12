//! The load traffic's HTTP client: one pooled keep-alive hyper client per worker, shared by every VU,
//! with host-side timing and the plan's target allowlist.
//!
//! Timings use `Instant::now()` reads only (no timers): request start, response head, last body byte.

use crate::connect::{ConnectTiming, TimedConnector};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An origin the plan allows: scheme, lower-case host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP literal, lower case, IPv6 without brackets.
    pub host: String,
    /// Port (default ports filled in).
    pub port: u16,
}

/// A request as the guest asked for it.
#[derive(Debug)]
pub struct OutgoingRequest {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Give up after this long.
    pub timeout: Duration,
}

/// A complete response with its timings.
#[derive(Debug)]
pub struct CompletedResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Whole body.
    pub body: Bytes,
    /// Phase timings.
    pub timings: Timings,
    /// Approximate bytes on the wire for the request (line, headers, body).
    pub bytes_sent: u64,
    /// Approximate bytes on the wire for the response (status line, headers, body).
    pub bytes_received: u64,
}

/// Phase timings of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Request start to last body byte.
    pub duration: Duration,
    /// Opening a new connection for this request; zero when a pooled one was reused.
    pub connecting: Duration,
    /// Request start to response head, minus `connecting`.
    pub waiting: Duration,
    /// Response head to last body byte.
    pub receiving: Duration,
}

/// Why a request has no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Origin not in the plan's targets: never sent.
    OriginNotAllowed(String),
    /// Bad URL, method or header: never sent.
    Invalid(String),
    /// Could not connect, or the connection broke.
    Connect(String),
    /// No complete response within the timeout.
    Timeout,
    /// The peer spoke something other than HTTP.
    Protocol(String),
}

impl RequestError {
    /// Short machine-readable code, used as the `error_code` tag.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::OriginNotAllowed(_) => "origin-not-allowed",
            RequestError::Invalid(_) => "invalid-request",
            RequestError::Connect(_) => "connect",
            RequestError::Timeout => "timeout",
            RequestError::Protocol(_) => "protocol",
        }
    }

    /// Whether the request reached the network.
    pub fn was_sent(&self) -> bool {
        !matches!(
            self,
            RequestError::OriginNotAllowed(_) | RequestError::Invalid(_)
        )
    }
}

/// The shared client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<TimedConnector, Full<Bytes>>,
    allowed: std::sync::Arc<[AllowedOrigin]>,
    /// The plan's `max-connections`: permits for requests in flight.
    in_flight: Option<Arc<tokio::sync::Semaphore>>,
}

impl HttpClient {
    /// A client that only sends to `allowed` origins, with at most `max_connections` requests in
    /// flight (and so connections open) when set.
    pub fn with_max_connections(allowed: Vec<AllowedOrigin>, max_connections: Option<u64>) -> Self {
        let mut client = HttpClient::new(allowed);
        client.in_flight = max_connections.map(|n| {
            let n = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(tokio::sync::Semaphore::MAX_PERMITS);
            Arc::new(tokio::sync::Semaphore::new(n))
        });
        client
    }

    /// A client that only sends to `allowed` origins.
    pub fn new(allowed: Vec<AllowedOrigin>) -> Self {
        HttpClient {
            client: pooled_client(),
            allowed: allowed.into(),
            in_flight: None,
        }
    }

    /// The same client (allowlist, `max-connections` permits) with a connection pool of its own:
    /// one per worker thread, so a connection is driven by the thread whose VUs use it.
    pub fn with_own_pool(&self) -> Self {
        HttpClient {
            client: pooled_client(),
            allowed: self.allowed.clone(),
            in_flight: self.in_flight.clone(),
        }
    }

    /// Check the allowlist, build the request, send it and read the whole response.
    pub async fn send(&self, req: OutgoingRequest) -> Result<CompletedResponse, RequestError> {
        let uri: Uri = req
            .url
            .parse()
            .map_err(|e| RequestError::Invalid(format!("bad URL `{}`: {e}", req.url)))?;
        self.check_origin(&uri, &req.url)?;
        if uri.scheme_str() == Some("https") {
            return Err(RequestError::Invalid(
                "https targets are not supported yet; use an http:// target".into(),
            ));
        }
        let (request, bytes_sent) = build(req.method, uri, req.headers, req.body)?;
        // Held until the body is read: the connection is back in the pool by then.
        let _permit = match &self.in_flight {
            Some(s) => Some(s.acquire().await.expect("the semaphore is never closed")),
            None => None,
        };
        let start = Instant::now();
        let exchange = async {
            let resp = self.client.request(request).await.map_err(classify)?;
            let head_at = Instant::now();
            let connecting = resp
                .extensions()
                .get::<Arc<ConnectTiming>>()
                .map_or(Duration::ZERO, |t| t.take());
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| RequestError::Protocol(e.to_string()))?
                .to_bytes();
            Ok::<_, RequestError>((parts, body, head_at, connecting))
        };
        let (parts, body, head_at, connecting) = tokio::time::timeout(req.timeout, exchange)
            .await
            .map_err(|_| RequestError::Timeout)??;
        let end = Instant::now();
        let mut bytes_received = 17 + body.len() as u64;
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                bytes_received += (k.as_str().len() + v.len() + 4) as u64;
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(CompletedResponse {
            status: parts.status.as_u16(),
            headers,
            body,
            timings: Timings {
                duration: end - start,
                connecting,
                waiting: (head_at - start).saturating_sub(connecting),
                receiving: end - head_at,
            },
            bytes_sent,
            bytes_received,
        })
    }

    fn check_origin(&self, uri: &Uri, url: &str) -> Result<(), RequestError> {
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let Some(host) = uri.host() else {
            return Err(RequestError::Invalid(format!(
                "URL `{url}` is not absolute (http://host:port/path)"
            )));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        if self
            .allowed
            .iter()
            .any(|o| o.scheme == scheme && o.host == host && o.port == port)
        {
            Ok(())
        } else {
            Err(RequestError::OriginNotAllowed(format!(
                "{scheme}://{}:{port} is not in the plan's targets",
                if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                }
            )))
        }
    }
}

fn pooled_client() -> Client<TimedConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.enforce_http(false);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(usize::MAX)
        .build(TimedConnector(connector))
}

fn build(
    method: String,
    uri: Uri,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
) -> Result<(Request<Full<Bytes>>, u64), RequestError> {
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| RequestError::Invalid(format!("bad method `{method}`")))?;
    let mut sent =
        (method.as_str().len() + uri.path_and_query().map_or(1, |p| p.as_str().len()) + 11) as u64;
    let mut builder = Request::builder().method(method).uri(uri.clone());
    let mut has_host = false;
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| RequestError::Invalid(format!("bad header name `{k}`")))?;
        let value = HeaderValue::from_str(&v)
            .map_err(|_| RequestError::Invalid(format!("bad value for header `{k}`")))?;
        has_host |= name == http::header::HOST;
        sent += (name.as_str().len() + value.len() + 4) as u64;
        builder = builder.header(name, value);
    }
    if !has_host && let Some(a) = uri.authority() {
        sent += (a.as_str().len() + 8) as u64;
    }
    let body = Bytes::from(body.unwrap_or_default());
    sent += body.len() as u64;
    let req = builder
        .body(Full::new(body))
        .map_err(|e| RequestError::Invalid(e.to_string()))?;
    Ok((req, sent))
}

fn classify(e: hyper_util::client::legacy::Error) -> RequestError {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if e.is_connect() {
        RequestError::Connect(msg)
    } else {
        RequestError::Protocol(msg)
    }
}
