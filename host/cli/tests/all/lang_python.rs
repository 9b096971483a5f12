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
        .get_or_init(|| build_python("plugins/python-shop", "python_shop"))
        .clone()
}

/// The shared-isolation fixture `tests/fixtures/py-shared` (a `stampede.SharedVu`, world
/// `scenario-shared`), built as [`python_shop`] is.
fn py_shared() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build_python("tests/fixtures/py-shared", "py_shared"))
        .clone()
}

/// `target/guest/python/<module>.wasm`, built from the app folder `app` (relative to the repository)
/// unless it is newer than its sources.
fn build_python(app: &str, module: &str) -> PathBuf {
    let root = root();
    let out = root.join(format!("target/guest/python/{module}.wasm"));
    let sources = [root.join(app), root.join("sdk/python"), root.join("wit")];
    if !is_fresh(&out, &sources) {
        let _shared = sharing_the_machine();
        let build = std::process::Command::new("bash")
            .arg(root.join("sdk/python/build.sh"))
            .arg(root.join(app))
            .arg(module)
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
    // A Python component instantiates 14 core wasm instances; the store's limit (64) must leave room
    // for them, or VUs fail to start (vu_init_errors) while the run still "passes".
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

/// Python VUs as concurrent async calls in shared instances (`stampede.SharedVu`): every request is
/// counted, and after each await a VU still sees its own id and iteration number.
#[tokio::test(flavor = "multi_thread")]
async fn python_vus_share_an_instance_and_every_request_is_counted() {
    let target = Target::start().await;
    // 60 VUs in instances of up to 20 per VU thread (3 or 4 interpreters, not 60).
    let run = run_plan(
        &mode_plan(&py_shared(), &target, "ids", 60, "3s", Some(20)),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 300.0, "only {reqs} requests");
    assert_eq!(reqs as u64, target.requests().await);
    assert_eq!(run.metric("iterations", "count"), reqs);
    assert_eq!(
        run.check_passes("ids seen") as f64,
        reqs,
        "{}",
        run.stdout()
    );
    assert_eq!(run.check_passes("status is 200") as f64, reqs);
    assert_eq!(run.metric("checks", "fails"), 0.0);
    assert_eq!(run.metric("vus_max", "max"), 60.0);
    assert_eq!(
        run.metric("vu_init_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
}

/// An ordinary exception in one Python VU of a shared instance fails only that VU's iteration: its
/// traceback is logged, and the instance and its other VUs carry on.
#[tokio::test(flavor = "multi_thread")]
async fn a_python_exception_in_a_shared_instance_fails_only_its_iteration() {
    let target = Target::start().await;
    let run = run_plan(
        &mode_plan(&py_shared(), &target, "raise", 10, "2s", Some(5)),
        &[],
    )
    .await;
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "Vu.iteration raised RuntimeError: raised on purpose in VU 1 at iteration 1 (mode raise)"
        ) && stderr.contains("Traceback"),
        "{stderr}"
    );
    // Not a terminal: log lines are plain text.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    // No setup request.
    assert_only_one_iteration_failed(&run, &target, 0.0).await;
}

/// A Python VU whose `init` raises fails only its own start (`vu_init_errors`, and a retry a second
/// later); the instance carries on, and the `vu` resource that no VU holds is dropped there.
#[tokio::test(flavor = "multi_thread")]
async fn a_python_init_exception_fails_only_that_start_and_its_object_is_dropped() {
    let target = Target::start().await;
    let plan = mode_plan(&py_shared(), &target, "init-raise", 4, "1500ms", Some(4));
    let run = run_plan_logging(&plan, DROPS_LOGGED).await;
    assert!(run.stderr().contains("Traceback"), "{}", run.stderr());
    assert_only_even_starts_failed(
        &run,
        "Vu.init raised ValueError: init raised on purpose for VU 2",
    );
}

/// A `MemoryError` in one Python VU traps its instance: the VUs in it lose the iteration in flight and
/// are recreated, the other instance carries on, and the traceback is logged. `Fail` only fails the
/// iteration.
#[tokio::test(flavor = "multi_thread")]
async fn a_python_memory_error_ends_only_its_instance_and_fail_only_its_iteration() {
    let target = Target::start().await;
    let run = run_plan(
        &mode_plan(&py_shared(), &target, "trap", 10, "2s", Some(5)),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("a shared instance ended: trapped: Vu.iteration raised MemoryError: trap on purpose in VU 1")
            && stderr.contains("Traceback"),
        "{stderr}"
    );
    let errors = run.metric("iteration_errors", "count");
    assert!((1.0..=5.0).contains(&errors), "{errors} iteration errors");
    assert!(
        run.metric("iterations", "count") > 100.0,
        "{}",
        run.stdout()
    );
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        target.requests().await
    );

    let run = run_plan(
        &mode_plan(&py_shared(), &target, "fail", 4, "1s", Some(4)),
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
    assert!(
        !run.stderr().contains("shared instance ended"),
        "{}",
        run.stderr()
    );
}

/// A Python component for `scenario-shared` runs with the default isolation too (one instance per VU).
#[tokio::test(flavor = "multi_thread")]
async fn a_python_shared_component_runs_with_one_instance_per_vu_by_default() {
    let target = Target::start().await;
    let plan = mode_plan(&py_shared(), &target, "get", 2, "1s", None);
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.metric("http_reqs", "count") > 10.0);
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        target.requests().await
    );
}
