//! `stampede new --lang rust|js|python|c [--shared] NAME`: each scaffolded project builds with its own
//! `build.sh` and its `plan.toml` runs as is against a demo target (only the target's port changes):
//! exit 0, every check passes, and `http_reqs` equals what the target counted.
//!
//! Needs each language's toolchain: cargo with wasm32-wasip2, node and npm, python3 with venv, and
//! clang for wasm32-wasi with wasi-libc (all installed by `scripts/test.sh`).

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// Scaffold `lang` (with `--shared` when `shared`), build it, run its plan for 3 s with 2 VUs
/// against a fresh target.
#[allow(clippy::await_holding_lock)] // the machine lock, see `common::MACHINE`
async fn scaffold_build_and_run(lang: &str, shared: bool) {
    let tmp = tempfile::tempdir().unwrap();
    // Names of their own: Rust projects build into one shared target dir, so two crates of one name
    // would overwrite each other's component when the tests run at the same time.
    let name = if shared {
        format!("demo-{lang}-shared")
    } else {
        format!("demo-{lang}")
    };
    let dir = tmp.path().join(&name);
    let mut args = vec!["new", "--lang", lang, &name, "--dir", dir.to_str().unwrap()];
    if shared {
        args.push("--shared");
    }
    let out = stampede(&args).await;
    assert!(
        out.status.success(),
        "stampede new: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("./build.sh"));
    build(lang, &dir);
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(wasm.exists(), "build.sh did not produce {}", wasm.display());
    // The component is built for the world its plan's isolation needs (`validate` checks).
    let out = stampede(&["validate", dir.join("plan.toml").to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let world = match (lang, shared) {
        ("js", true) => "scenario-shared-futures",
        (_, true) => "scenario-shared",
        _ => "scenario",
    };
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("{name}.wasm for the world `{world}`")),
        "{lang}: {said}"
    );
    let plan = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
    assert_eq!(plan.contains("isolation = \"shared\""), shared, "{plan}");

    let target = Target::start().await;
    let plan_path = dir.join("plan.toml");
    let plan = std::fs::read_to_string(&plan_path)
        .unwrap()
        .replace("http://127.0.0.1:18080", &target.origin());
    std::fs::write(&plan_path, plan).unwrap();
    let summary = dir.join("summary.json");
    let before = target.requests().await;
    let machine = sharing_the_machine();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "run",
            "plan.toml",
            "--quiet",
            "--vus",
            "2",
            "--duration",
            "3s",
        ])
        .arg("--summary-json")
        .arg(&summary)
        .current_dir(&dir)
        .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
        .output()
        .await
        .unwrap();
    drop(machine);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{lang}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let reqs = s["metrics"]["http_reqs"]["count"].as_f64().unwrap();
    assert!(reqs > 0.0, "{stdout}");
    assert_eq!(reqs as u64, target.requests().await - before, "{lang}");
    assert_eq!(
        s["metrics"]["checks"]["fails"].as_f64(),
        Some(0.0),
        "{stdout}"
    );
    assert_eq!(
        s["metrics"]["checks"]["passes"].as_f64(),
        Some(2.0 * reqs),
        "{stdout}"
    );
}

fn build(lang: &str, dir: &Path) {
    let root = root();
    let mut cmd = Command::new("bash");
    cmd.arg("build.sh").current_dir(dir);
    // The host build's flags must not reach guest builds.
    cmd.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    match lang {
        // One shared target dir, so repeated test runs reuse the compiled SDK and wit-bindgen.
        "rust" => {
            cmd.env("CARGO_TARGET_DIR", root.join("target/guest-new"));
        }
        // Reuse the repository's componentize-py venv instead of installing one per project.
        "python" => {
            cmd.env("STAMPEDE_PYTHON_TOOLS", root.join("target/sdk-python"));
        }
        "c" => {
            cmd.env("STAMPEDE", env!("CARGO_BIN_EXE_stampede"));
        }
        _ => {}
    }
    let out = {
        let _shared = sharing_the_machine();
        cmd.output().expect("bash build.sh")
    };
    assert!(
        out.status.success(),
        "{lang}: build.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_rust_project_builds_and_runs() {
    scaffold_build_and_run("rust", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_shared_rust_project_builds_and_runs() {
    scaffold_build_and_run("rust", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_js_project_builds_and_runs() {
    scaffold_build_and_run("js", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_shared_js_project_builds_and_runs() {
    scaffold_build_and_run("js", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_python_project_builds_and_runs() {
    scaffold_build_and_run("python", false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_shared_python_project_builds_and_runs() {
    scaffold_build_and_run("python", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_c_project_builds_and_runs() {
    scaffold_build_and_run("c", false).await;
}

/// A bad name or a non-empty folder is refused with exit 2 and a message saying what to do.
#[tokio::test(flavor = "multi_thread")]
async fn bad_names_and_existing_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stampede(&["new", "--lang", "rust", "Bad Name"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lower-case letters"));
    std::fs::write(tmp.path().join("x"), "").unwrap();
    let out = stampede(&[
        "new",
        "--lang",
        "js",
        "fine",
        "--dir",
        tmp.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
