//! Python scenarios: `plugins/python-shop`, built with `sdk/python/build.sh` (componentize-py), runs
//! against a demo target with exact request accounting, like the Rust demo in `run.rs`.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// The python-shop component, built by `sdk/python/build.sh` when it is missing or older than any of its
/// sources (the scenario, the SDK, the pinned requirements, the WIT). The first build installs
/// componentize-py into `target/sdk-python/venv` (needs `python3` with venv and pip, and PyPI).
fn python_shop() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = root();
            let out = root.join("target/guest/python/python_shop.wasm");
            let sources = [
                root.join("plugins/python-shop"),
                root.join("sdk/python"),
                root.join("wit"),
            ];
            if !is_fresh(&out, &sources) {
                let _shared = sharing_the_machine();
                let build = std::process::Command::new("bash")
                    .arg(root.join("sdk/python/build.sh"))
                    .arg(root.join("plugins/python-shop"))
                    .arg("python_shop")
                    .arg(&out)
                    .output()
                    .expect("running sdk/python/build.sh");
                assert!(
                    build.status.success(),
                    "sdk/python/build.sh failed (it needs python3 with venv and pip):\n{}",
                    String::from_utf8_lossy(&build.stderr)
                );
            }
            assert!(out.exists(), "{} was not built", out.display());
            out
        })
        .clone()
}

/// Whether `out` exists and is newer than every source file (`*.py`, `*.wit`, `*.txt`, `*.sh`) under
/// `dirs` (`__pycache__` and `tests` skipped: the SDK's host-side tests are not in the component).
fn is_fresh(out: &Path, dirs: &[PathBuf]) -> bool {
    let Ok(built) = std::fs::metadata(out).and_then(|m| m.modified()) else {
        return false;
    };
    dirs.iter().all(|dir| newest_source(dir) <= built)
}

fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return newest;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let time = if meta.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "__pycache__" || n == "tests")
            {
                continue;
            }
            newest_source(&path)
        } else if path
            .extension()
            .is_some_and(|e| ["py", "wit", "txt", "sh"].iter().any(|x| e == *x))
        {
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
        } else {
            continue;
        };
        newest = newest.max(time);
    }
    newest
}

/// python-shop with 10 VUs for 10 s: every VU starts, every check passes, and the requests Stampede
/// counted equal the requests the target saw.
#[tokio::test(flavor = "multi_thread")]
async fn python_shop_counts_exactly_what_the_target_saw() {
    let wasm = python_shop();
    let (run, _) = run_plugin_exactly(
        "python-shop",
        "../../target/guest/python/python_shop.wasm",
        &wasm,
        &["--vus", "10", "--duration", "10s"],
    )
    .await;
    // A Python component instantiates ~14 core wasm instances; the host's pool must leave room for them,
    // or VUs beyond the pool fail to start (vu_init_errors) while the run still "passes".
    assert_eq!(
        run.metric("vu_init_errors", "count"),
        0.0,
        "stderr:\n{}",
        run.stderr()
    );
    assert_eq!(run.metric("vus_max", "max"), 10.0, "{}", run.stdout());
    assert_eq!(
        run.metric("iteration_errors", "count"),
        0.0,
        "{}",
        run.stdout()
    );
    assert!(
        run.metric("cart_items_added", "count") > 0.0,
        "{}",
        run.stdout()
    );
}
