use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::Server;

#[tokio::test]
async fn root_and_healthz_say_ok() {
    let server = Server::start().await;
    for path in ["/", "/healthz"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), b"ok\n");
    }
}

#[tokio::test]
async fn json_is_a_fixed_kibibyte_document() {
    let server = Server::start().await;
    let first = server.get("/json").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[CONTENT_TYPE], "application/json");
    let first = first.bytes().await.unwrap();
    assert!((900..=1200).contains(&first.len()), "{}", first.len());
    serde_json::from_slice::<serde_json::Value>(&first).unwrap();
    let second = server.get("/json").await.bytes().await.unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn delay_waits_and_rejects_non_numbers() {
    let server = Server::start().await;
    let started = std::time::Instant::now();
    let response = server.get("/delay/50").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    assert_eq!(response.text().await.unwrap(), "ok\n");

    for bad in ["/delay/abc", "/delay/-5", "/delay/1.5"] {
        let response = server.get(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("milliseconds"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn bytes_sends_n_bytes_with_a_content_length_and_rejects_non_numbers() {
    let server = Server::start().await;
    for n in [0usize, 1, 65_536, 200_000] {
        let response = server.get(&format!("/bytes/{n}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.content_length(), Some(n as u64));
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), n);
        assert!(body.iter().all(|&b| b == b'x'));
    }
    for bad in ["/bytes/abc", "/bytes/-1"] {
        let response = server.get(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("bytes"), "{body}");
    }
    // Capped at 1 GiB: the length says so before any byte is read.
    let huge = server.get("/bytes/99999999999").await;
    assert_eq!(huge.content_length(), Some(1 << 30));
}

#[tokio::test]
async fn status_answers_with_the_requested_code_for_any_method() {
    let server = Server::start().await;
    for code in [200u16, 201, 302, 404, 418, 500, 503, 599] {
        let response = server.get(&format!("/status/{code}")).await;
        assert_eq!(response.status().as_u16(), code);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .starts_with(&code.to_string())
        );
    }
    let response = server
        .client
        .post(server.url("/status/201"))
        .body("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = server
        .client
        .delete(server.url("/status/204"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
}

/// A client that hands back redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn redirect_chains_n_hops_and_redirect_to_sends_where_asked() {
    let server = Server::start().await;
    let raw = no_redirects();
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let hop = raw.get(server.url("/redirect/3")).send().await.unwrap();
    assert_eq!(hop.status(), StatusCode::FOUND);
    assert_eq!(location(&hop).as_deref(), Some("/redirect/2"));
    let last = raw.get(server.url("/redirect/1")).send().await.unwrap();
    assert_eq!(location(&last).as_deref(), Some("/"));
    let none = raw.get(server.url("/redirect/0")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::OK);
    assert_eq!(none.text().await.unwrap(), "ok\n");
    // A client that follows them ends at `/`.
    let followed = server.get("/redirect/3").await;
    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(followed.text().await.unwrap(), "ok\n");
    for bad in ["/redirect/101", "/redirect/x", "/redirect/-1"] {
        let r = raw.get(server.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    let to = raw
        .post(server.url("/redirect-to?url=/json&status=307"))
        .send()
        .await
        .unwrap();
    assert_eq!(to.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&to).as_deref(), Some("/json"));
    let default = raw
        .get(server.url("/redirect-to?url=http%3A%2F%2F127.0.0.1%3A9%2Fx"))
        .send()
        .await
        .unwrap();
    assert_eq!(default.status(), StatusCode::FOUND);
    assert_eq!(location(&default).as_deref(), Some("http://127.0.0.1:9/x"));
    for bad in [
        "/redirect-to",
        "/redirect-to?url=/x&status=200",
        "/redirect-to?url=",
    ] {
        let r = raw.get(server.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn cookies_set_redirects_and_cookies_shows_what_came_back() {
    let server = Server::start().await;
    let raw = no_redirects();
    let set = raw
        .get(server.url("/cookies/set?a=1&b=two"))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::FOUND);
    assert_eq!(set.headers()["location"], "/cookies");
    let cookies: Vec<&str> = set
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=two; Path=/"]);
    let shown = raw
        .get(server.url("/cookies"))
        .header("cookie", "a=1; b=two")
        .send()
        .await
        .unwrap();
    assert_eq!(
        shown.text().await.unwrap(),
        r#"{"cookies":{"a":"1","b":"two"}}"#
    );
    let none = raw.get(server.url("/cookies")).send().await.unwrap();
    assert_eq!(none.text().await.unwrap(), r#"{"cookies":{}}"#);
}

#[tokio::test]
async fn status_refuses_informational_and_out_of_range_codes() {
    let server = Server::start().await;
    for bad in [
        "/status/100",
        "/status/101",
        "/status/600",
        "/status/99",
        "/status/teapot",
    ] {
        let response = server.get(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let server = Server::start().await;
    let response = server.get("/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("/nope"), "{body}");

    let response = server
        .client
        .post(server.url("/json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}
