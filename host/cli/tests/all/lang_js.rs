//! JavaScript scenarios: `plugins/js-shop`, built with the JS SDK (`sdk/js`, componentize-js), runs the
//! rust-shop flow against a demo target, and every request it sends is one the target saw.
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
/// Where the build puts the fetch-only fixture.
const JS_FETCH: &str = "target/guest/js/js_fetch.wasm";

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

/// The component built from `entry` into `out` (both relative to the repository root), rebuilt
/// first when it is missing or older than its sources (`entry`'s folder, the SDK, the WIT).
fn js_component(entry: &str, out: &str) -> PathBuf {
    let root = root();
    let wasm = root.join(out);
    let folder = Path::new(entry).parent().unwrap().to_str().unwrap();
    let sources = [
        folder,
        "sdk/js/stampede.js",
        "sdk/js/build.mjs",
        "sdk/js/package-lock.json",
        "wit",
    ];
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
        run_tool(
            Command::new("node")
                .args(["sdk/js/build.mjs", entry, out])
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
        .get_or_init(|| js_component("plugins/js-shop/scenario.js", JS_SHOP))
        .clone()
}

/// The fetch-only fixture (built once per test process).
fn js_fetch() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| js_component("tests/fixtures/js-fetch/scenario.js", JS_FETCH))
        .clone()
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
}
