use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::{Server, sample};

#[tokio::test]
async fn metrics_has_help_type_and_the_prometheus_content_type() {
    let server = Server::start().await;
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for (name, kind) in [
        ("target_requests_total", "counter"),
        ("target_requests_by_route_total", "counter"),
        ("target_active_sessions", "gauge"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{text}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{text}");
    }
    assert_eq!(sample(&text, "target_requests_total"), 0);
    assert_eq!(sample(&text, "target_active_sessions"), 0);
}

#[tokio::test]
async fn every_request_except_metrics_is_counted_once() {
    let server = Server::start().await;
    let client = &server.client;
    let mut sent = 0u64;

    for path in [
        "/",
        "/",
        "/json",
        "/healthz",
        "/delay/0",
        "/delay/zero",
        "/bytes/3",
        "/status/500",
        "/status/101",
        "/products",
        "/products/1",
        "/products/42",
        "/cart",
        "/nope",
        "/json/",
        "/metrics",
        "/metrics",
    ] {
        server.get(path).await;
        sent += u64::from(path != "/metrics");
    }
    // Wrong method, bad body, wrong password, a login, a logout.
    client.post(server.url("/json")).send().await.unwrap();
    client
        .post(server.url("/login"))
        .body("{")
        .send()
        .await
        .unwrap();
    let bad = json!({"username": "a", "password": "b"});
    client
        .post(server.url("/login"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    let good = json!({"username": "a", "password": "secret"});
    let login: serde_json::Value = client
        .post(server.url("/login"))
        .json(&good)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client
        .post(server.url("/logout"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    client.post(server.url("/metrics")).send().await.unwrap();
    sent += 5;

    let metrics = server.metrics().await;
    assert_eq!(sample(&metrics, "target_requests_total"), sent, "{metrics}");
    let by_route = |route: &str| {
        sample(
            &metrics,
            &format!("target_requests_by_route_total{{route=\"{route}\"}}"),
        )
    };
    assert_eq!(by_route("/"), 2);
    assert_eq!(by_route("/json"), 2);
    assert_eq!(by_route("/healthz"), 1);
    assert_eq!(by_route("/delay/{ms}"), 2);
    assert_eq!(by_route("/status/{code}"), 2);
    assert_eq!(by_route("/products"), 1);
    assert_eq!(by_route("/products/{id}"), 2);
    assert_eq!(by_route("/cart"), 1);
    assert_eq!(by_route("/login"), 3);
    assert_eq!(by_route("/logout"), 1);
    assert_eq!(by_route("unmatched"), 2);
    assert!(!metrics.contains("route=\"/metrics\""));
    assert_eq!(sample(&metrics, "target_active_sessions"), 0);
}

#[tokio::test]
async fn concurrent_requests_are_all_counted() {
    let server = Server::start().await;
    let requests = (0..200).map(|i| {
        let path = if i % 2 == 0 { "/" } else { "/json" };
        server.client.get(server.url(path)).send()
    });
    for response in spawn_all(requests).await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    let metrics = server.metrics().await;
    assert_eq!(sample(&metrics, "target_requests_total"), 200);
}

/// Runs the futures concurrently on the current task's runtime.
async fn spawn_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
