use std::time::Duration;

use tokio::sync::oneshot;

#[tokio::test]
async fn non_loopback_addresses_are_refused_before_binding() {
    for addr in ["0.0.0.0:0", "192.0.2.1:80", "[::]:0", "[2001:db8::1]:80"] {
        let addr = addr.parse().unwrap();
        let error = stampede_target::serve(addr, async {}).await.unwrap_err();
        assert!(error.to_string().contains("loopback"), "{addr}: {error:#}");
        let error = stampede_target::spawn(addr).await.unwrap_err();
        assert!(error.to_string().contains("loopback"), "{addr}: {error:#}");
    }
}

#[tokio::test]
async fn serve_stops_when_shutdown_resolves() {
    // Find a free port, then serve on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(stampede_target::serve(addr, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut body = None;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("http://{addr}/healthz")).send().await {
            body = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(body.as_deref(), Some("ok\n"));

    stop.send(()).unwrap();
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
