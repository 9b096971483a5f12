//! `https://` targets: load traffic over TLS to the demo target's TLS mode (a self-signed
//! certificate), trusted through `options.tls-ca-file`, refused without it, or unverified with
//! `options.insecure-skip-tls-verify`.

use crate::common::*;
use stampede_target::TlsTarget;
use std::path::Path;
use std::process::Stdio;

/// A demo target over TLS in this process, with its certificate written to `ca.pem` in `dir`.
async fn tls_target(dir: &Path) -> TlsTarget {
    let t = stampede_target::spawn_tls("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    std::fs::write(dir.join("ca.pem"), &t.tls.cert_pem).unwrap();
    t
}

/// A plan for `fixture_basic` GETting `https://{addr}/` with 2 VUs for 1 s, with `options` and
/// `thresholds` (TOML lines of those tables).
fn get_plan(addr: &str, options: &str, thresholds: &str) -> String {
    format!(
        "component = {wasm:?}\ntargets = [\"https://{addr}\"]\n[params]\nmode = \"get\"\nurl = \"https://{addr}/\"\n[options]\n{options}\n{scenario}\n[thresholds]\n{thresholds}\n",
        wasm = guest("fixture_basic").display().to_string(),
        scenario = constant(2, "1s"),
    )
}

/// The rust-shop plugin's own plan, pointed at `https://` `origin` with `options` added.
fn shop_plan(origin: &str, options: &str) -> String {
    let wasm = guest("rust_shop");
    let plan = std::fs::read_to_string(root().join("plugins/rust-shop/plan.toml"))
        .unwrap()
        .replace("http://127.0.0.1:18080", origin)
        .replace(
            "../../target/guest/wasm32-wasip2/release/rust_shop.wasm",
            &wasm.display().to_string(),
        );
    assert!(
        plan.contains(origin) && plan.contains("\n[options]\n"),
        "{plan}"
    );
    plan.replacen("\n[options]\n", &format!("\n[options]\n{options}\n"), 1)
}

/// The rust-shop flow over TLS: every check passes, every request is one the target saw, each
/// connection's first response carries its handshake and the others reuse it.
#[tokio::test(flavor = "multi_thread")]
async fn the_shop_flow_over_https_counts_exactly_what_the_target_saw() {
    let dir = tempfile::tempdir().unwrap();
    let t = tls_target(dir.path()).await;
    let origin = format!("https://{}", t.addr);
    let ca = dir.path().join("ca.pem");
    let plan = shop_plan(
        &origin,
        &format!("tls-ca-file = {:?}", ca.display().to_string()),
    );
    let run = run_plan(&plan, &["--vus", "10", "--duration", "3s"]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_shop_flow(&run);
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 100.0, "{}", run.stdout());
    assert_eq!(reqs as u64, t.state.requests_total());
    // The target offers HTTP/2, and Stampede takes it by default.
    assert_eq!(reqs as u64, t.state.http2_requests_total());
    assert_eq!(run.metric("http_req_failed", "passes"), 0.0);
    // One handshake per connection, at most one connection per VU.
    let connections = t.state.connections_total();
    assert!((1..=10).contains(&connections), "{connections} connections");
    assert_eq!(run.metric("http_req_tls_handshaking", "count"), reqs);
    assert!(run.metric("http_req_tls_handshaking", "max") > 0.0);
    assert_eq!(run.metric("http_req_tls_handshaking", "med"), 0.0);
    assert!(
        run.stdout().contains("http_req_tls_handshaking"),
        "{}",
        run.stdout()
    );
    t.task.abort();
}

/// `http2 = false` keeps to HTTP/1.1 with a server that offers HTTP/2; with HTTP/2 (the default)
/// and `max-connections = 1`, the VUs' requests share one connection as streams. The `proto` tag
/// says which (selected by a threshold, which gives it a summary entry of its own).
#[tokio::test(flavor = "multi_thread")]
async fn http2_is_taken_when_offered_and_shares_a_connection_between_vus() {
    let dir = tempfile::tempdir().unwrap();
    let t = tls_target(dir.path()).await;
    let origin = format!("https://{}", t.addr);
    let ca = format!(
        "tls-ca-file = {:?}",
        dir.path().join("ca.pem").display().to_string()
    );

    let by_proto = |plan: String| {
        plan.replacen(
            "\n[thresholds]\n",
            "\n[thresholds]\n\"http_reqs{proto:HTTP/1.1}\" = [\"count >= 0\"]\n\"http_reqs{proto:HTTP/2.0}\" = [\"count >= 0\"]\n",
            1,
        )
    };
    let plan = by_proto(shop_plan(&origin, &format!("{ca}\nhttp2 = false")));
    let run = run_plan(&plan, &["--vus", "10", "--duration", "1s"]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_shop_flow(&run);
    let h1 = t.state.requests_total();
    assert_eq!(h1, run.metric("http_reqs", "count") as u64);
    assert_eq!(t.state.http2_requests_total(), 0);
    assert_eq!(run.metric("http_reqs{proto:HTTP/1.1}", "count") as u64, h1);
    assert!(
        run.summary()["metrics"]
            .get("http_reqs{proto:HTTP/2.0}")
            .is_none(),
        "{}",
        run.stdout()
    );

    let connections = t.state.connections_total();
    let plan = by_proto(shop_plan(&origin, &format!("{ca}\nmax-connections = 1")));
    let run = run_plan(
        &plan,
        &["--vus", "10", "--duration", "2s", "--threads", "1"],
    )
    .await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_shop_flow(&run);
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
    let h2 = t.state.requests_total() - h1;
    assert_eq!(h2, run.metric("http_reqs", "count") as u64);
    assert_eq!(t.state.http2_requests_total(), h2);
    assert_eq!(run.metric("http_reqs{proto:HTTP/2.0}", "count") as u64, h2);
    assert!(
        run.summary()["metrics"]
            .get("http_reqs{proto:HTTP/1.1}")
            .is_none(),
        "{}",
        run.stdout()
    );
    assert_eq!(t.state.connections_total() - connections, 1);
    // Counted as HTTP/2 frames: every request has its bytes.
    assert!(run.metric("data_received", "count") > 0.0);
    assert!(run.metric("data_sent", "count") > 0.0);

    // A redirect that sets a cookie: the next hop, on the same HTTP/2 connection, carries it.
    let before = (t.state.requests_total(), t.state.http2_requests_total());
    let listen = t.addr.to_string();
    let plan = get_plan(&listen, &ca, r#"checks = ["rate == 1"]"#).replace(
        &format!("url = \"https://{listen}/\""),
        &format!(
            "url = \"https://{listen}/cookies/set?flavour=oat\"\nexpect_body = '\"flavour\":\"oat\"'"
        ),
    );
    assert!(plan.contains("expect_body"), "{plan}");
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    let reqs = run.metric("http_reqs", "count");
    assert_eq!(
        reqs,
        2.0 * run.metric("iterations", "count"),
        "{}",
        run.stdout()
    );
    assert!(
        run.check_passes("body has expect_body") > 0,
        "{}",
        run.stdout()
    );
    let after = (t.state.requests_total(), t.state.http2_requests_total());
    assert_eq!(after.0 - before.0, reqs as u64);
    assert_eq!(after.1 - before.1, reqs as u64);
    t.task.abort();
}

/// Without a way to trust the self-signed certificate, every request fails with a TLS error that
/// says what to set, no request reaches the target, and the run itself goes on with its metrics.
/// (A scenario that logs in while its VUs start, as rust-shop does, ends the run at once instead:
/// no VU could start.)
#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_fails_each_request_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let t = tls_target(dir.path()).await;
    let run = run_plan(&get_plan(&t.addr.to_string(), "", ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let failed = run.metric("http_req_failed", "passes");
    assert!(failed > 0.0, "{}", run.stdout());
    assert_eq!(failed, run.metric("http_reqs", "count"));
    assert_eq!(run.metric("http_req_failed", "fails"), 0.0);
    let stderr = run.stderr();
    for part in [
        "the TLS handshake failed",
        "UnknownIssuer",
        "options.tls-ca-file",
        "options.insecure-skip-tls-verify",
    ] {
        assert!(stderr.contains(part), "{part} in {stderr}");
    }
    assert_eq!(t.state.requests_total(), 0);
    t.task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_skip_tls_verify_accepts_the_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let t = tls_target(dir.path()).await;
    let plan = shop_plan(
        &format!("https://{}", t.addr),
        "insecure-skip-tls-verify = true",
    );
    let run = run_plan(&plan, &["--vus", "2", "--duration", "1s"]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        t.state.requests_total()
    );
    t.task.abort();
}

/// `stampede target --tls --tls-cert-out FILE` as its own process: it writes its certificate, and a
/// plan that trusts that file passes.
#[tokio::test(flavor = "multi_thread")]
async fn the_target_command_serves_https_with_the_certificate_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("target-ca.pem");
    let (listen, mut target) = target_process(&ca, &[]).await;
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let plan = shop_plan(
        &format!("https://{listen}"),
        &format!("tls-ca-file = {:?}", ca.display().to_string()),
    );
    let run = run_plan(&plan, &["--vus", "2", "--duration", "1s"]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert!(run.metric("http_reqs", "count") > 0.0);
    assert_eq!(run.metric("http_req_failed", "passes"), 0.0);
    target.kill().await.unwrap();
}

/// `stampede target --tls` on a free loopback port as its own process, with `extra` arguments; it
/// writes its certificate to `ca` and is up when this returns. The address, and the process (killed
/// on drop).
async fn target_process(ca: &Path, extra: &[&str]) -> (String, tokio::process::Child) {
    // A free port: bound, read and released (the target binds it again at once).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["target", "--listen", &listen, "--tls", "--tls-cert-out"])
        .arg(ca)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // It writes the certificate once bound; wait for both (bounded).
    for _ in 0..100 {
        if ca.exists() && tokio::net::TcpStream::connect(&listen).await.is_ok() {
            return (listen, child);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the target did not come up on {listen}");
}

/// Mutual TLS: a target that asks for a client certificate (`--tls-client-ca`) answers a plan that
/// names one it trusts (`tls-client-cert`, `tls-client-key`), and refuses one without a
/// certificate or with another: their requests fail with `error_code=tls` and a log line that says
/// which options to set.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_is_presented_to_a_server_that_asks_for_one() {
    let dir = tempfile::tempdir().unwrap();
    // Writes a new self-signed client identity as NAME.pem and NAME-key.pem; the options naming it.
    let identity = |name: &str| {
        let id = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let (cert, key) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}-key.pem")),
        );
        std::fs::write(&cert, id.cert.pem()).unwrap();
        std::fs::write(&key, id.signing_key.serialize_pem()).unwrap();
        let options = format!(
            "tls-client-cert = {:?}\ntls-client-key = {:?}",
            cert.display().to_string(),
            key.display().to_string()
        );
        (cert, options)
    };
    let (trusted_cert, trusted) = identity("client");
    let (_, stranger) = identity("stranger");
    let ca = dir.path().join("ca.pem");
    let (listen, _target) =
        target_process(&ca, &["--tls-client-ca", trusted_cert.to_str().unwrap()]).await;
    let trusting_ca = format!("tls-ca-file = {:?}", ca.display().to_string());
    let plan = |options: &str, thresholds: &str| {
        get_plan(&listen, &format!("{trusting_ca}\n{options}"), thresholds)
    };
    let run = run_plan(&plan(&trusted, r#"http_req_failed = ["rate == 0"]"#), &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert!(run.metric("http_reqs", "count") > 0.0, "{}", run.stdout());

    // Every request failed, and each as `tls` (the threshold's selector).
    let refused = r#""http_req_failed{error_code:tls}" = ["rate == 1"]
http_req_failed = ["rate == 1"]"#;
    for (options, says) in [
        ("", "asks for a client certificate"),
        (stranger.as_str(), "refused the client certificate"),
    ] {
        let run = run_plan(&plan(options, refused), &[]).await;
        assert_eq!(run.code(), 0, "{says}: {}\n{}", run.stderr(), run.stdout());
        let tls = &run.summary()["metrics"]["http_req_failed{error_code:tls}"];
        assert!(tls["passes"].as_f64() > Some(0.0), "{tls}");
        let stderr = run.stderr();
        assert!(
            stderr.contains(says) && stderr.contains("options.tls-client-cert"),
            "{says} in {stderr}"
        );
    }
}

/// `stampede validate` reads the CA file and names what is wrong with it.
#[tokio::test(flavor = "multi_thread")]
async fn validate_refuses_a_ca_file_without_certificates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let plan = shop_plan(
        "https://127.0.0.1:8443",
        &format!(
            "tls-ca-file = {:?}",
            dir.path().join("ca.pem").display().to_string()
        ),
    );
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    let out = stampede(&["validate", path.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("options.tls-ca-file holds no PEM certificate"),
        "{stderr}"
    );
    assert!(stderr.contains("ca.pem"), "{stderr}");
}
