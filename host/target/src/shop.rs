//! The stateful flow: `/login`, `/logout`, `/products`, `/products/{id}` and `/cart`.
//!
//! A script typically logs in, lists products, adds a few to the cart, reads the cart back and
//! logs out. Authenticated routes take the [`Authed`] extractor, which accepts the token either as
//! `Authorization: Bearer <token>` or as the `session` cookie.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use crate::TargetState;
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::sessions::{Cart, Token};

/// The only password `/login` accepts. It is a demo.
const DEMO_PASSWORD: &str = "secret";

/// The cookie `/login` sets and authenticated routes read.
const SESSION_COOKIE: &str = "session";

type AppState = State<Arc<TargetState>>;

#[derive(Deserialize)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
}

/// `POST /login`.
pub(crate) async fn login(
    State(state): AppState,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(request) = body?;
    if request.username.trim().is_empty() {
        return Err(ApiError::bad_request("username must not be empty"));
    }
    if request.password != DEMO_PASSWORD {
        return Err(ApiError::unauthorized(format!(
            "wrong password (the demo target accepts {DEMO_PASSWORD:?} for any username)"
        )));
    }
    let token = state.sessions.create().to_string();
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly");
    Ok(([(SET_COOKIE, cookie)], Json(LoginResponse { token })))
}

/// `POST /logout`: ends the session and clears the cookie.
pub(crate) async fn logout(State(state): AppState, Authed(token): Authed) -> impl IntoResponse {
    state.sessions.remove(token);
    (
        StatusCode::NO_CONTENT,
        [(
            SET_COOKIE,
            HeaderValue::from_static("session=; Path=/; Max-Age=0; HttpOnly"),
        )],
    )
}

/// `GET /products`.
pub(crate) async fn products(State(state): AppState) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        state.catalog.list_json(),
    )
}

/// `GET /products/{id}`.
pub(crate) async fn product(
    State(state): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Path(raw) = id?;
    let id: u32 = raw.parse().map_err(|_| {
        ApiError::bad_request(format!("product id must be a whole number, got {raw:?}"))
    })?;
    let product = state.catalog.get(id).ok_or_else(|| unknown_product(id))?;
    Ok(Json(product))
}

#[derive(Deserialize)]
pub(crate) struct AddToCart {
    product_id: u32,
    quantity: u32,
}

#[derive(Serialize)]
pub(crate) struct CartView {
    items: Vec<CartItem>,
    total_cents: u64,
}

#[derive(Serialize)]
pub(crate) struct CartItem {
    product_id: u32,
    quantity: u32,
}

/// `GET /cart`.
pub(crate) async fn cart(
    State(state): AppState,
    Authed(token): Authed,
) -> Result<Json<CartView>, ApiError> {
    state
        .sessions
        .with_cart(token, |cart| Json(view(&state.catalog, cart)))
        .ok_or_else(session_gone)
}

/// `POST /cart`: adds to the quantity of one product.
pub(crate) async fn add_to_cart(
    State(state): AppState,
    Authed(token): Authed,
    body: Result<Json<AddToCart>, JsonRejection>,
) -> Result<Json<CartView>, ApiError> {
    let Json(request) = body?;
    if request.quantity == 0 {
        return Err(ApiError::bad_request("quantity must be at least 1"));
    }
    if state.catalog.get(request.product_id).is_none() {
        return Err(unknown_product(request.product_id));
    }
    state
        .sessions
        .with_cart(token, |cart| {
            let line = cart.entry(request.product_id).or_default();
            *line = line.saturating_add(request.quantity);
            Json(view(&state.catalog, cart))
        })
        .ok_or_else(session_gone)
}

fn view(catalog: &Catalog, cart: &Cart) -> CartView {
    let items = cart
        .iter()
        .map(|(&product_id, &quantity)| CartItem {
            product_id,
            quantity,
        })
        .collect();
    // Cannot overflow: 20 lines of at most u32::MAX items at prices below 2^20 cents.
    let total_cents = cart
        .iter()
        .filter_map(|(&id, &quantity)| Some(catalog.get(id)?.price_cents * u64::from(quantity)))
        .sum();
    CartView { items, total_cents }
}

fn unknown_product(id: u32) -> ApiError {
    ApiError::not_found(format!(
        "no product with id {id}; GET /products lists the valid ids"
    ))
}

/// The session ended between authentication and use (a concurrent logout or eviction).
fn session_gone() -> ApiError {
    ApiError::unauthorized("the session has ended; log in again")
}

/// A request that carries the token of a live session.
pub(crate) struct Authed(Token);

impl FromRequestParts<Arc<TargetState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<TargetState>,
    ) -> Result<Self, ApiError> {
        let raw = bearer_token(parts)
            .or_else(|| session_cookie(parts))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "log in first: POST /login, then send `Authorization: Bearer <token>` \
                     or the `session` cookie",
                )
            })?;
        let token: Token = raw
            .parse()
            .map_err(|_| ApiError::unauthorized("malformed session token; log in again"))?;
        if !state.sessions.contains(token) {
            return Err(ApiError::unauthorized(
                "unknown or expired session; log in again",
            ));
        }
        Ok(Authed(token))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == SESSION_COOKIE).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn finds_the_bearer_token() {
        assert_eq!(
            bearer_token(&parts(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&parts(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&parts(&[("authorization", "Basic abc")])),
            None
        );
        assert_eq!(bearer_token(&parts(&[])), None);
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let p = parts(&[
            ("cookie", "theme=dark; session=abc; x=y"),
            ("cookie", "a=b"),
        ]);
        assert_eq!(session_cookie(&p), Some("abc"));
        let p = parts(&[("cookie", "a=b"), ("cookie", "session=def")]);
        assert_eq!(session_cookie(&p), Some("def"));
        let p = parts(&[("cookie", "mysession=abc")]);
        assert_eq!(session_cookie(&p), None);
    }

    #[test]
    fn the_cart_total_uses_catalog_prices() {
        let catalog = Catalog::new();
        let cart = Cart::from([(1, 2), (3, 1)]);
        let view = view(&catalog, &cart);
        assert_eq!(view.items.len(), 2);
        assert_eq!(view.total_cents, 2 * 2_450 + 650);
    }
}
