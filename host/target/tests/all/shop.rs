use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::Server;

/// How a test presents its session.
#[derive(Clone, Copy, Debug)]
enum Auth {
    Bearer,
    Cookie,
}

struct Session {
    token: String,
    cookie: String,
}

impl Session {
    fn apply(&self, auth: Auth, request: RequestBuilder) -> RequestBuilder {
        match auth {
            Auth::Bearer => request.header(AUTHORIZATION, format!("Bearer {}", self.token)),
            Auth::Cookie => request.header(COOKIE, &self.cookie),
        }
    }
}

async fn login(server: &Server) -> Session {
    let response = server
        .client
        .post(server.url("/login"))
        .json(&json!({"username": "ada", "password": "secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(set_cookie, format!("session={token}; Path=/; HttpOnly"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    Session { token, cookie }
}

#[tokio::test]
async fn login_issues_unique_tokens() {
    let server = Server::start().await;
    let a = login(&server).await;
    let b = login(&server).await;
    assert_ne!(a.token, b.token);
    assert!(
        server
            .metrics()
            .await
            .contains("\ntarget_active_sessions 2\n")
    );
}

#[tokio::test]
async fn login_refuses_bad_credentials_and_bodies() {
    let server = Server::start().await;
    let post = |body: Value| server.client.post(server.url("/login")).json(&body).send();

    let response = post(json!({"username": "ada", "password": "hunter2"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(SET_COOKIE).is_none());

    let response = post(json!({"username": " ", "password": "secret"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = post(json!({"username": "ada"})).await.unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());

    let response = server
        .client
        .post(server.url("/login"))
        .body("username=ada")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn products_list_and_lookup() {
    let server = Server::start().await;
    let products: Vec<Value> = server.get("/products").await.json().await.unwrap();
    assert_eq!(products.len(), 20);
    for product in &products {
        assert!(product["id"].is_u64() && product["name"].is_string());
        assert!(product["price_cents"].as_u64().unwrap() > 0);
    }

    let one: Value = server.get("/products/7").await.json().await.unwrap();
    assert_eq!(one, products[6]);
    assert_eq!(
        server.get("/products/0").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/products/21").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/products/x").await.status(),
        StatusCode::BAD_REQUEST
    );
}

async fn cart_flow(auth: Auth) {
    let server = Server::start().await;
    let session = login(&server).await;
    let products: Vec<Value> = server.get("/products").await.json().await.unwrap();
    let price = |id: usize| products[id - 1]["price_cents"].as_u64().unwrap();

    let add = |product_id: u64, quantity: u64| {
        session
            .apply(auth, server.client.post(server.url("/cart")))
            .json(&json!({"product_id": product_id, "quantity": quantity}))
            .send()
    };
    let response = add(3, 2).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = add(1, 1).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = add(3, 1).await.unwrap();
    let cart: Value = response.json().await.unwrap();
    let expected = json!({
        "items": [{"product_id": 1, "quantity": 1}, {"product_id": 3, "quantity": 3}],
        "total_cents": price(1) + 3 * price(3),
    });
    assert_eq!(cart, expected, "{auth:?}");

    assert_eq!(add(99, 1).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(add(1, 0).await.unwrap().status(), StatusCode::BAD_REQUEST);

    let get_cart = || {
        session
            .apply(auth, server.client.get(server.url("/cart")))
            .send()
    };
    let response = get_cart().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), expected);

    // Another session has its own, empty cart.
    let other = login(&server).await;
    let response = other
        .apply(auth, server.client.get(server.url("/cart")))
        .send()
        .await
        .unwrap();
    let empty: Value = response.json().await.unwrap();
    assert_eq!(empty, json!({"items": [], "total_cents": 0}));

    let response = session
        .apply(auth, server.client.post(server.url("/logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(
        server
            .metrics()
            .await
            .contains("\ntarget_active_sessions 1\n")
    );

    // The session is gone.
    assert_eq!(get_cart().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let response = session
        .apply(auth, server.client.post(server.url("/logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cart_flow_with_bearer_token() {
    cart_flow(Auth::Bearer).await;
}

#[tokio::test]
async fn cart_flow_with_session_cookie() {
    cart_flow(Auth::Cookie).await;
}

#[tokio::test]
async fn cart_requires_a_valid_session() {
    let server = Server::start().await;
    let session = login(&server).await;
    let body = json!({"product_id": 1, "quantity": 1});
    let forged = format!("{}0", &session.token[..31]);
    let forged = if forged == session.token {
        format!("{}1", &session.token[..31])
    } else {
        forged
    };

    let attempts = [
        server.client.get(server.url("/cart")),
        server.client.post(server.url("/cart")).json(&body),
        server.client.post(server.url("/logout")),
        server
            .client
            .get(server.url("/cart"))
            .header(AUTHORIZATION, "Bearer not-a-token"),
        server
            .client
            .get(server.url("/cart"))
            .header(AUTHORIZATION, format!("Bearer {forged}")),
        server
            .client
            .post(server.url("/cart"))
            .header(COOKIE, format!("session={forged}"))
            .json(&body),
        server
            .client
            .get(server.url("/cart"))
            .header(COOKIE, format!("other={}", session.token)),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("log in"), "{body}");
    }
}
