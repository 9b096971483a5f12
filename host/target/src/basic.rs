//! The stateless routes: `/`, `/json`, `/delay/{ms}`, `/bytes/{n}`, `/status/{code}`,
//! `/redirect/{n}`, `/redirect-to`, `/healthz` and the `404` fallback.
//!
//! `/` and `/json` are the benchmark routes: they answer with `'static` bytes, so a request costs
//! no allocation for the body and touches no shared state beyond its counter.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The body of `/`, `/delay/{ms}` and `/healthz`.
const OK: &str = "ok\n";

/// The `/json` document, about 1 KiB: big enough to be a realistic small API response, small enough
/// to stay a throughput benchmark.
const DEMO_JSON: &str = include_str!("demo.json");

/// The longest `/delay/{ms}` waits: long enough to exercise client timeouts, short enough that a
/// typo does not hold a connection for hours.
pub(crate) const MAX_DELAY_MS: u64 = 60_000;

/// The longest `/bytes/{n}` body: enough to test clients' body limits, not enough to tie up the
/// machine.
pub(crate) const MAX_BYTES: u64 = 1 << 30;

/// What `/bytes/{n}` repeats: one static chunk, so a large body costs no allocation.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// `GET /`.
pub(crate) async fn root() -> &'static str {
    OK
}

/// `GET /healthz`.
pub(crate) async fn healthz() -> &'static str {
    OK
}

/// `GET /json`.
pub(crate) async fn json() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        DEMO_JSON,
    )
}

/// `GET /delay/{ms}`: sleeps (to well under a millisecond, see [`crate::timer`]), capped at
/// [`MAX_DELAY_MS`].
pub(crate) async fn delay(
    ms: Result<Path<String>, PathRejection>,
) -> Result<&'static str, ApiError> {
    let Path(raw) = ms?;
    let ms: u64 = raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "delay must be a whole number of milliseconds (0 to {MAX_DELAY_MS}), got {raw:?}"
        ))
    })?;
    crate::timer::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
    Ok(OK)
}

/// `GET /bytes/{n}`: `n` bytes of `x`, capped at [`MAX_BYTES`].
pub(crate) async fn bytes(n: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(raw) = n?;
    let n: u64 = raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "the length must be a whole number of bytes (0 to {MAX_BYTES}), got {raw:?}"
        ))
    })?;
    let body = Body::new(Repeated {
        left: n.min(MAX_BYTES),
    });
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        body,
    )
        .into_response())
}

/// A body of `left` more bytes of [`CHUNK`], with its exact length known up front (so the
/// response has a `Content-Length`).
struct Repeated {
    left: u64,
}

impl http_body::Body for Repeated {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
            &CHUNK[..n],
        )))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// `ANY /status/{code}`: answers with that status.
pub(crate) async fn status(
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = code?;
    let status = parse_status(&raw).map_err(ApiError::bad_request)?;
    if matches!(status.as_u16(), 204 | 205 | 304) {
        // These statuses must not have a body.
        return Ok(status.into_response());
    }
    let body = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    Ok((status, body).into_response())
}

/// The most hops `/redirect/{n}` chains.
pub(crate) const MAX_REDIRECTS: u32 = 100;

/// `GET /redirect/{n}`: `302` to `/redirect/{n-1}`, and from `/redirect/1` to `/`: `n` redirects
/// in a row, then `ok` (`/redirect/0` answers `ok` at once).
pub(crate) async fn redirect(n: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(raw) = n?;
    let n: u32 = raw
        .parse()
        .ok()
        .filter(|n| *n <= MAX_REDIRECTS)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "n must be a whole number from 0 to {MAX_REDIRECTS}, got {raw:?}"
            ))
        })?;
    let location = match n {
        0 => return Ok(OK.into_response()),
        1 => "/".to_owned(),
        n => format!("/redirect/{}", n - 1),
    };
    Ok((StatusCode::FOUND, [(LOCATION, location)]).into_response())
}

/// `any /redirect-to?url=U&status=S`: status `S` (301, 302, 303, 307 or 308; 302 when absent) with
/// `Location: U`, as given (absolute or relative).
pub(crate) async fn redirect_to(
    query: Result<Query<std::collections::HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let url = query.get("url").filter(|u| !u.is_empty()).ok_or_else(|| {
        ApiError::bad_request("give the target as ?url=... (absolute or relative)")
    })?;
    let status = match query.get("status").map(String::as_str) {
        None => StatusCode::FOUND,
        Some(raw @ ("301" | "302" | "303" | "307" | "308")) => {
            StatusCode::from_bytes(raw.as_bytes())
                .map_err(|e| ApiError::bad_request(e.to_string()))?
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "status must be 301, 302, 303, 307 or 308, got {other:?}"
            )));
        }
    };
    let location = HeaderValue::from_str(url)
        .map_err(|_| ApiError::bad_request("url must be a valid header value"))?;
    Ok((status, [(LOCATION, location)]).into_response())
}

/// `GET /cookies/set?NAME=VALUE&...`: sets each cookie (`Path=/`) and redirects (`302`) to
/// `/cookies`, which shows what came back.
pub(crate) async fn set_cookies(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut response = (StatusCode::FOUND, [(LOCATION, "/cookies")]).into_response();
    for (name, value) in pairs {
        let cookie = HeaderValue::from_str(&format!("{name}={value}; Path=/"))
            .map_err(|_| ApiError::bad_request("cookie names and values must be header text"))?;
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /cookies`: the cookies the request carried, as `{"cookies": {"NAME": "VALUE", ...}}`.
pub(crate) async fn cookies(headers: HeaderMap) -> Response {
    let mut cookies = serde_json::Map::new();
    for header in headers.get_all(COOKIE) {
        for pair in header.to_str().unwrap_or_default().split(';') {
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.trim().to_owned(), value.trim().into());
            }
        }
    }
    axum::Json(serde_json::json!({ "cookies": cookies })).into_response()
}

fn parse_status(raw: &str) -> Result<StatusCode, String> {
    let code: u16 = raw
        .parse()
        .map_err(|_| format!("status must be a number from 200 to 599, got {raw:?}"))?;
    match code {
        100..=199 => Err(format!(
            "status {code} is informational (1xx) and cannot be a final response; use 200 to 599"
        )),
        200..=599 => StatusCode::from_u16(code).map_err(|error| error.to_string()),
        _ => Err(format!("status must be from 200 to 599, got {code}")),
    }
}

/// Any path no route matches.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route for {}; the demo target serves /, /json, /delay/{{ms}}, /bytes/{{n}}, /status/{{code}}, \
         /healthz, /login, /logout, /products, /products/{{id}}, /cart and /metrics",
        uri.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_json_is_valid_and_about_a_kibibyte() {
        let value: serde_json::Value = serde_json::from_str(DEMO_JSON).unwrap();
        assert!(value.is_object());
        assert!(
            (900..=1200).contains(&DEMO_JSON.len()),
            "{}",
            DEMO_JSON.len()
        );
    }

    #[test]
    fn statuses_outside_200_to_599_are_refused() {
        assert_eq!(parse_status("200").unwrap(), StatusCode::OK);
        assert_eq!(parse_status("599").unwrap().as_u16(), 599);
        assert_eq!(parse_status("418").unwrap(), StatusCode::IM_A_TEAPOT);
        for bad in [
            "100", "101", "199", "99", "600", "0", "abc", "-1", "", "70000",
        ] {
            assert!(parse_status(bad).is_err(), "{bad:?}");
        }
        assert!(parse_status("101").unwrap_err().contains("informational"));
    }
}
