//! JavaScript scenarios: `plugins/js-shop`, built with the JS SDK (`sdk/js`, componentize-js), runs the
//! rust-shop flow against a demo target, and every request it sends is one the target saw. The
//! fixture `tests/fixtures/js-shared` (`sdk/js/shared.js`, componentize-qjs) runs many VUs in one
//! QuickJS instance, and `plugins/js-shop-shared` runs the same flow as js-shop that way.
//!
//! Needs `node` and `npm` on the PATH. The component (~12 MB) is rebuilt only when it is missing or
//! older than its sources; its first run compiles it (several seconds) into `target/test-cache`.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Where the build puts js-shop, relative to the repository root.
const JS_SHOP: &str = "target/guest/js/js_shop.wasm";
/// Where the build puts js-shop-shared, relative to the repository root.
const JS_SHOP_SHARED: &str = "target/guest/js/js_shop_shared.wasm";
/// Where the build puts the fetch-only fixture.
const JS_FETCH: &str = "target/guest/js/js_fetch.wasm";
/// Where the build puts the shared-isolation fixture.
const JS_SHARED: &str = "target/guest/js/js_shared.wasm";

/// Modification time of `path`, or of the newest source file (`.js`, `.mjs`, `.wit`) under it when
/// it is a folder (`node_modules` skipped).
fn newest(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !meta.is_dir() {
        return meta.modified().unwrap();
    }
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let source = p
                .extension()
                .is_some_and(|e| e == "js" || e == "mjs" || e == "wit");
            let folder = p.is_dir() && p.file_name().is_some_and(|n| n != "node_modules");
            source || folder
        })
        .map(|p| newest(&p))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn run_tool(command: &mut Command, what: &str) {
    let _shared = sharing_the_machine();
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start it ({e}); are node and npm installed?"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The component built from `entry` into `out` (both relative to the repository root; `--shared`
/// when `shared`), rebuilt first when it is missing or older than its sources (`entry`'s folder,
/// the SDK, the WIT).
fn js_component(entry: &str, out: &str, shared: bool) -> PathBuf {
    let root = root();
    let wasm = root.join(out);
    let folder = Path::new(entry).parent().unwrap().to_str().unwrap();
    let sources = [folder, "sdk/js", "sdk/js/package-lock.json", "wit"];
    let stale = match std::fs::metadata(&wasm).and_then(|m| m.modified()) {
        Ok(built) => sources.iter().any(|s| newest(&root.join(s)) > built),
        Err(_) => true,
    };
    if stale {
        if !root.join("sdk/js/node_modules").exists() {
            run_tool(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--prefix", "sdk/js"])
                    .current_dir(&root),
                "npm ci --prefix sdk/js",
            );
        }
        let flags: &[&str] = if shared { &["--shared"] } else { &[] };
        run_tool(
            Command::new("node")
                .arg("sdk/js/build.mjs")
                .args(flags)
                .args([entry, out])
                .current_dir(&root),
            "node sdk/js/build.mjs",
        );
    }
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

/// The js-shop component (built once per test process).
fn js_shop() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| js_component("plugins/js-shop/scenario.js", JS_SHOP, false))
        .clone()
}

/// The js-shop-shared component (built once per test process).
fn js_shop_shared() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| js_component("plugins/js-shop-shared/scenario.js", JS_SHOP_SHARED, true))
        .clone()
}

/// The fetch-only fixture (built once per test process).
fn js_fetch() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| js_component("tests/fixtures/js-fetch/scenario.js", JS_FETCH, false))
        .clone()
}

/// The shared-isolation fixture (built once per test process).
fn js_shared() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| js_component("tests/fixtures/js-shared/scenario.js", JS_SHARED, true))
        .clone()
}

/// JavaScript VUs as concurrent async calls in shared QuickJS instances: every request is counted
/// (`setup`'s blocking one too), each VU keeps its own object across awaits, and `setup`'s data
/// reaches every VU.
#[tokio::test(flavor = "multi_thread")]
async fn javascript_vus_share_an_instance_and_every_request_is_counted() {
    let target = Target::start().await;
    // 60 VUs in instances of up to 20 per VU thread (3 or 4 QuickJS runtimes, not 60).
    let run = run_plan(
        &mode_plan(&js_shared(), &target, "ids", 60, "3s", Some(20)),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 300.0, "only {reqs} requests");
    assert_eq!(reqs as u64, target.requests().await);
    // One request is setup's.
    let iterations = run.metric("iterations", "count");
    assert_eq!(iterations, reqs - 1.0);
    assert_eq!(
        run.check_passes("ids seen") as f64,
        iterations,
        "{}",
        run.stdout()
    );
    assert_eq!(run.check_passes("status is 200") as f64, iterations);
    // QuickJS has no TextEncoder/TextDecoder: shared.js's stand-ins round-trip text.
    assert_eq!(run.check_passes("text codec") as f64, iterations);
    assert_eq!(run.check_passes("setup saw 200"), 60);
    assert_eq!(run.metric("checks", "fails"), 0.0);
    assert_eq!(run.metric("body_bytes", "count"), iterations);
    assert_eq!(run.metric("vus_max", "max"), 60.0);
    assert_eq!(
        run.metric("vu_init_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
    assert_eq!(
        run.metric("iteration_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
}

/// A JavaScript exception in one VU of a shared instance fails only that VU's iteration: its stack
/// is logged, and the instance and its other VUs carry on.
#[tokio::test(flavor = "multi_thread")]
async fn a_javascript_exception_in_a_shared_instance_fails_only_its_iteration() {
    let target = Target::start().await;
    let run = run_plan(
        &mode_plan(&js_shared(), &target, "raise", 10, "2s", Some(5)),
        &[],
    )
    .await;
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "iteration threw TypeError: cannot read property 'boom' of null (stack logged)"
        ) && stderr.contains("scenario threw in iteration: TypeError")
            && stderr.contains("at iteration"),
        "{stderr}"
    );
    // And setup made one request.
    assert_only_one_iteration_failed(&run, &target, 1.0).await;
}

/// A JavaScript VU whose constructor or `init` throws fails only its own start (`vu_init_errors`,
/// and a retry a second later); the instance carries on, and the `vu` resource is dropped there.
#[tokio::test(flavor = "multi_thread")]
async fn a_javascript_constructor_or_init_exception_fails_only_that_start() {
    let target = Target::start().await;
    for (mode, says) in [
        (
            "init-raise",
            "init threw RangeError: init threw on purpose for VU 2",
        ),
        (
            "ctor-raise",
            "constructor threw Error: constructor threw on purpose for VU 2",
        ),
    ] {
        let plan = mode_plan(&js_shared(), &target, mode, 4, "1500ms", Some(4));
        let run = run_plan_logging(&plan, DROPS_LOGGED).await;
        assert_only_even_starts_failed(&run, says);
    }
}

/// One instance sends more requests than it may hold handles (100,000): each request's future is
/// dropped once read, so the instance never traps, and every request is counted.
#[tokio::test(flavor = "multi_thread")]
async fn a_shared_javascript_instance_sends_more_requests_than_its_handle_limit() {
    let target = Target::start().await;
    let scenario = "[scenarios.main]\nexecutor = \"shared-iterations\"\nvus = 20\niterations = 110000\n\
                    max-duration = \"120s\"\nisolation = \"shared\"\nvus-per-instance = 20\n";
    let plan = component_plan(&js_shared(), &target, "get", "/", "", scenario);
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        !run.stderr().contains("shared instance ended"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        run.metric("iterations", "count"),
        110000.0,
        "{}",
        run.stdout()
    );
    // And setup's request.
    assert_eq!(run.metric("http_reqs", "count"), 110001.0);
    assert_eq!(target.requests().await, 110001);
}

/// `fail()` fails the iteration with its message; a request to an origin outside the plan's targets
/// rejects with an `HttpError` of kind `origin-not-allowed` and is never sent; the blocking client
/// works in an iteration; and a shared JavaScript component also runs with one instance per VU.
#[tokio::test(flavor = "multi_thread")]
async fn javascript_shared_fail_refused_blocking_and_one_instance_per_vu() {
    let target = Target::start().await;
    let run = run_plan(
        &mode_plan(&js_shared(), &target, "fail", 4, "1s", Some(4)),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("iteration failed on purpose"),
        "{}",
        run.stderr()
    );
    let iterations = run.metric("iterations", "count");
    assert!(iterations > 10.0);
    assert_eq!(run.metric("iteration_errors", "count"), iterations);

    let before = target.requests().await;
    let run = run_plan(
        &mode_plan(&js_shared(), &target, "refused", 4, "1s", Some(4)),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let iterations = run.metric("iterations", "count");
    assert!(iterations > 10.0);
    assert_eq!(run.check_passes("refused as HttpError") as f64, iterations);
    let sent = run.metric("http_reqs", "count");
    assert_eq!(
        sent,
        iterations + 1.0,
        "refused requests are not counted as sent"
    );
    assert_eq!(target.requests().await - before, sent as u64);
    assert_eq!(run.metric("http_req_failed", "passes"), iterations);

    for (mode, per_instance) in [("blocking", Some(4)), ("get", None)] {
        let before = target.requests().await;
        let run = run_plan(
            &mode_plan(&js_shared(), &target, mode, 4, "1s", per_instance),
            &[],
        )
        .await;
        assert_eq!(run.code(), 0, "{mode}: {}", run.stderr());
        let reqs = run.metric("http_reqs", "count");
        assert!(reqs > 10.0, "{mode}: {reqs}");
        assert_eq!(target.requests().await - before, reqs as u64, "{mode}");
        assert_eq!(
            run.metric("checks", "fails"),
            0.0,
            "{mode}: {}",
            run.stdout()
        );
        if mode == "blocking" {
            let refused = run.check_passes("blocking refused as HttpError");
            assert_eq!(refused as f64, run.metric("iterations", "count"));
        }
    }
}

/// The js-shop plan, 10 VUs for 10 s: exit 0, every check passes, and `http_reqs` equals what the
/// target counted.
#[tokio::test(flavor = "multi_thread")]
async fn js_shop_plan_counts_exactly_what_the_target_saw() {
    let wasm = js_shop();
    let (run, _) = run_plugin_exactly(
        "js-shop",
        &format!("../../{JS_SHOP}"),
        &wasm,
        &["--vus", "10", "--duration", "10s"],
    )
    .await;
    assert_shop_flow(&run);
}

/// The js-shop-shared plan (js-shop's flow with async weighted tasks, the VUs of each VU thread in
/// one shared QuickJS instance), 10 VUs for 10 s: the same as js-shop must show, and every VU
/// started at its first try.
#[tokio::test(flavor = "multi_thread")]
async fn js_shop_shared_plan_counts_exactly_what_the_target_saw() {
    let plan = std::fs::read_to_string(root().join("plugins/js-shop-shared/plan.toml")).unwrap();
    assert!(plan.contains("isolation = \"shared\""), "{plan}");
    let wasm = js_shop_shared();
    let (run, _) = run_plugin_exactly(
        "js-shop-shared",
        &format!("../../{JS_SHOP_SHARED}"),
        &wasm,
        &["--vus", "10", "--duration", "10s"],
    )
    .await;
    assert_shop_flow(&run);
    assert_eq!(
        run.metric("vu_init_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
}

/// A scenario that only uses the standard `fetch()` (wasi:http) goes through the same client as
/// `http.send`: every fetch the target answered is one `http_reqs` sample with the phase timings,
/// and a fetch to an origin outside the plan's targets is refused before it is sent, counted as a
/// failed request tagged `error_code=origin-not-allowed`, and rejected in the guest.
/// `discard-response-bodies` is for `http.send` only: the fetches still get their bodies.
#[tokio::test(flavor = "multi_thread")]
async fn fetch_only_scenario_is_timed_and_allowlisted() {
    let wasm = js_fetch();
    let target = Target::start().await;
    let origin = target.origin();
    // A port nobody listens on: were the request sent, it would fail with `connect` instead.
    let refused = "http://127.0.0.1:9/elsewhere";
    let plan = format!(
        r#"component = "{wasm}"
targets = ["{origin}"]

[params]
url = "{origin}/products?page=1"
refused_url = "{refused}"

[options]
discard-response-bodies = true

[scenarios.fetch]
executor = "per-vu-iterations"
vus = 4
iterations = 25

[thresholds]
"http_req_failed{{error_code:origin-not-allowed}}" = ["rate == 1"]
"http_req_duration{{name:{origin}/products}}" = ["count == 100"]
"checks" = ["rate == 1"]
"#,
        wasm = wasm.display()
    );
    let before = target.requests().await;
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    // Only the allowed fetches reached the network, and each is one http_reqs sample.
    assert_eq!(run.metric("http_reqs", "count"), 100.0, "{}", run.stdout());
    assert_eq!(target.requests().await - before, 100);
    // The refused ones: failed, never sent.
    assert_eq!(run.metric("http_req_failed", "passes"), 100.0);
    assert_eq!(run.metric("http_req_failed", "fails"), 100.0);
    let refused_sel = &run.summary()["metrics"]["http_req_failed{error_code:origin-not-allowed}"];
    assert_eq!(refused_sel["passes"].as_f64(), Some(100.0), "{refused_sel}");
    // Host-side timings for every answered fetch.
    for phase in [
        "http_req_duration",
        "http_req_waiting",
        "http_req_receiving",
    ] {
        assert_eq!(run.metric(phase, "count"), 100.0, "{phase}");
    }
    assert!(run.metric("http_req_duration", "max") > 0.0);
    assert!(run.metric("data_received", "count") > 0.0);
    assert_eq!(run.check_passes("other origin refused"), 100);
    assert_eq!(run.check_passes("fetch status is 200"), 100);
    assert_eq!(run.check_passes("fetch body is not empty"), 100);
    assert_eq!(run.check_passes("fetch content-type is set"), 100);
    assert_eq!(run.metric("checks", "fails"), 0.0);
    // The script's fetch() only rejects with a NetworkError: the host says why, once.
    let said = "is not in the plan's targets";
    assert_eq!(run.stderr().matches(said).count(), 1, "{}", run.stderr());
}

/// `fetch()` shares the VU's cookie jar: the session cookie a fetched login sets goes back with the
/// VU's later fetches (the cart answers 200 only with it), unless the plan turns cookies off.
#[tokio::test(flavor = "multi_thread")]
async fn fetch_sends_back_the_cookies_the_vu_was_given() {
    let wasm = js_fetch();
    let target = Target::start().await;
    let origin = target.origin();
    let plan = |cookies: bool| {
        format!(
            r#"component = "{wasm}"
targets = ["{origin}"]

[params]
url = "{origin}/cart"
login_url = "{origin}/login"

[options]
cookies = {cookies}

[scenarios.fetch]
executor = "per-vu-iterations"
vus = 2
iterations = 5
"#,
            wasm = wasm.display()
        )
    };
    let run = run_plan(&plan(true), &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(run.check_passes("fetch logged in"), 2, "{}", run.stdout());
    assert_eq!(
        run.check_passes("fetch status is 200"),
        10,
        "{}",
        run.stdout()
    );
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());

    let run = run_plan(&plan(false), &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(run.check_passes("fetch logged in"), 2, "{}", run.stdout());
    assert_eq!(
        run.check_passes("fetch status is 200"),
        0,
        "401 without the cookie"
    );
}

/// StarlingMonkey's `fetch()` hands a redirect back to the script as is, so the host follows it
/// for `fetch()` too (the Fetch standard's default), each hop a request of its own; `max-redirects =
/// 0` leaves redirects to the script.
#[tokio::test(flavor = "multi_thread")]
async fn fetch_follows_redirects_up_to_max_redirects() {
    let wasm = js_fetch();
    let target = Target::start().await;
    let origin = target.origin();
    let plan = |options: &str| {
        format!(
            r#"component = "{wasm}"
targets = ["{origin}"]

[params]
url = "{origin}/redirect/2"

[options]
{options}

[scenarios.fetch]
executor = "per-vu-iterations"
vus = 1
iterations = 3
"#,
            wasm = wasm.display()
        )
    };
    let run = run_plan(&plan(""), &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(
        run.check_passes("fetch status is 200"),
        3,
        "{}",
        run.stdout()
    );
    assert_eq!(
        run.metric("http_reqs", "count"),
        9.0,
        "two redirects and the page, 3 times"
    );
    assert_eq!(target.requests().await, 9);

    let run = run_plan(&plan("max-redirects = 0"), &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(
        run.check_passes("fetch status is 200"),
        0,
        "the script got the 302"
    );
    assert_eq!(run.metric("http_reqs", "count"), 3.0);
}

/// `fetch()` of an `https://` URL goes over TLS (and HTTP/2) like `http.send`: trusted through the plan's
/// `tls-ca-file` every fetch succeeds and reaches the target; without it each fetch rejects, is
/// counted as a failed request tagged `error_code=tls`, and the log says what to set.
#[tokio::test(flavor = "multi_thread")]
async fn fetch_goes_over_https_and_says_what_to_do_when_the_certificate_is_untrusted() {
    let wasm = js_fetch();
    let dir = tempfile::tempdir().unwrap();
    let t = stampede_target::spawn_tls("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &t.tls.cert_pem).unwrap();
    let origin = format!("https://{}", t.addr);
    let plan = |options: &str, thresholds: &str| {
        format!(
            r#"component = "{wasm}"
targets = ["{origin}"]

[params]
url = "{origin}/json"

[options]
{options}

[scenarios.fetch]
executor = "per-vu-iterations"
vus = 2
iterations = 5

[thresholds]
{thresholds}
"#,
            wasm = wasm.display()
        )
    };
    let trusted = plan(
        &format!("tls-ca-file = {:?}", ca.display().to_string()),
        r#""checks" = ["rate == 1"]
"http_reqs{proto:HTTP/2.0}" = ["count == 10"]"#,
    );
    let run = run_plan(&trusted, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(run.metric("http_reqs", "count"), 10.0, "{}", run.stdout());
    assert_eq!(t.state.requests_total(), 10);
    // The target offers HTTP/2, and fetch() takes it as http.send does.
    assert_eq!(t.state.http2_requests_total(), 10);
    assert_eq!(run.metric("http_reqs{proto:HTTP/2.0}", "count"), 10.0);
    assert_eq!(run.metric("http_req_tls_handshaking", "count"), 10.0);

    let untrusted = plan("", r#""http_req_failed{error_code:tls}" = ["rate == 1"]"#);
    let run = run_plan(&untrusted, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(run.metric("http_req_failed", "passes"), 10.0);
    assert_eq!(run.metric("iteration_errors", "count"), 10.0);
    let stderr = run.stderr();
    assert!(
        stderr.contains("TLS failed") && stderr.contains("options.tls-ca-file"),
        "{stderr}"
    );
    assert_eq!(
        t.state.requests_total(),
        10,
        "no untrusted fetch was answered"
    );
    t.task.abort();
}
