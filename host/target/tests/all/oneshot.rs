use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use stampede_target::{TargetState, app};
use tower::ServiceExt as _;

async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn app_serves_without_a_socket() {
    let state = Arc::new(TargetState::new());
    let app = app(state.clone());

    assert_eq!(
        call(&app, "GET", "/", "").await,
        (StatusCode::OK, "ok\n".into())
    );
    let (status, json) = call(&app, "GET", "/json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(json.len() > 900);
    assert_eq!(
        call(&app, "PUT", "/status/409", "").await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(&app, "GET", "/missing", "").await.0,
        StatusCode::NOT_FOUND
    );

    let (status, body) = call(
        &app,
        "POST",
        "/login",
        r#"{"username": "ada", "password": "secret"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(token["token"].as_str().unwrap().len(), 32);
    assert_eq!(state.active_sessions(), 1);

    assert_eq!(state.requests_total(), 5);
    let (status, metrics) = call(&app, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("\ntarget_requests_total 5\n"), "{metrics}");
    assert_eq!(state.requests_total(), 5);
}
