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

/// The js-shop component, built first when it is missing or older than its sources.
fn js_shop() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = root();
            let out = root.join(JS_SHOP);
            let sources = [
                "plugins/js-shop",
                "sdk/js/stampede.js",
                "sdk/js/build.mjs",
                "sdk/js/package-lock.json",
                "wit",
            ];
            let stale = match std::fs::metadata(&out).and_then(|m| m.modified()) {
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
                        .args(["sdk/js/build.mjs", "plugins/js-shop/scenario.js", JS_SHOP])
                        .current_dir(&root),
                    "node sdk/js/build.mjs",
                );
            }
            assert!(out.exists(), "{} was not built", out.display());
            out
        })
        .clone()
}

/// Passes of the check `name` in the summary's `checks` list.
fn check_passes(run: &Run, name: &str) -> u64 {
    run.summary()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["passes"].as_u64())
        .unwrap_or(0)
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
    assert_eq!(run.metric("vus_max", "max"), 10.0);
    assert_eq!(
        run.metric("iteration_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
    // Every VU logged in once in its constructor, and each weighted task ran.
    assert!(check_passes(&run, "logged in") >= 10, "{}", run.stdout());
    for name in ["status is 200", "products listed", "cart has items"] {
        assert!(
            check_passes(&run, name) > 0,
            "check {name}: {}",
            run.stdout()
        );
    }
    assert!(run.metric("cart_items_added", "count") > 0.0);
}
