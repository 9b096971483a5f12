//! Runs that work: the demo plan, exact request accounting, thresholds, custom metrics.

use crate::common::*;

/// The README's demo: the rust-shop plan with 50 VUs for 10 s. Nothing lost, nothing invented: the
/// requests Stampede counted equal the requests the target saw.
#[tokio::test(flavor = "multi_thread")]
async fn demo_plan_counts_exactly_what_the_target_saw() {
    let wasm = guest("rust_shop");
    let (run, reqs) = run_plugin_exactly(
        "rust-shop",
        "../../target/guest/wasm32-wasip2/release/rust_shop.wasm",
        &wasm,
        &["--vus", "50", "--duration", "10s"],
    )
    .await;
    assert_eq!(run.metric("vus_max", "max"), 50.0);
    // Every response has a connect time; new connections a positive one, reused ones zero.
    assert_eq!(run.metric("http_req_connecting", "count"), reqs);
    assert!(run.metric("http_req_connecting", "max") > 0.0);
    assert_eq!(
        run.metric("http_req_connecting", "med"),
        0.0,
        "keep-alive connections are reused"
    );
    // Plain HTTP records no TLS handshakes (not even zeros).
    assert!(run.summary()["metrics"]["http_req_tls_handshaking"].is_null());
    let ts = run.summary()["timeseries"].as_array().unwrap();
    assert!(ts.len() >= 9, "one point per second: {ts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unmeetable_threshold_exits_99() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "get",
        "",
        &format!(
            "{}\n[thresholds]\nhttp_req_duration = [\"p(95) < 0.001ms\"]\n",
            constant(2, "1s")
        ),
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 99, "{}", run.stderr());
    assert_eq!(run.summary()["run"]["status"], "thresholds_failed");
    assert_eq!(run.summary()["thresholds"][0]["ok"], false);
    assert!(
        run.stdout().contains("✗ http_req_duration"),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_on_fail_stops_the_run_early() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "get",
        "",
        &format!(
            "{}\n[thresholds]\nhttp_reqs = [{{ threshold = \"count < 5\", abort-on-fail = true }}]\n",
            constant(1, "20s")
        ),
    );
    let started = std::time::Instant::now();
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 99, "{}", run.stderr());
    assert!(
        started.elapsed().as_secs() < 15,
        "the run was not stopped early"
    );
    assert!(
        run.summary()["run"]["aborted"]
            .as_str()
            .unwrap()
            .contains("count < 5")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn iteration_executors_run_exact_counts() {
    let target = Target::start().await;
    let scenarios = "[scenarios.each]\nexecutor = \"per-vu-iterations\"\nvus = 3\niterations = 7\n\n\
                     [scenarios.pool]\nexecutor = \"shared-iterations\"\nvus = 4\niterations = 50\n";
    let plan = fixture_plan(&target, "get", "", scenarios);
    let before = target.requests().await;
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("iterations", "count"), 71.0);
    assert_eq!(run.metric("http_reqs", "count"), 71.0);
    assert_eq!(target.requests().await - before, 71);
    // Usually over before the first delta of the run (a second): its VUs still show.
    assert!(run.metric("vus", "max") >= 1.0, "{}", run.stdout());
    assert!(run.metric("vus_max", "max") >= 1.0, "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_metrics_and_tags_reach_the_summary() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "custom-metrics",
        "",
        &format!(
            "{}\n[thresholds]\n\"fixture_trend{{kind:tagged}}\" = [\"max < 8\"]\nfixture_counter = [\"count > 0\"]\n",
            constant(1, "1s")
        ),
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    let iters = run.metric("iterations", "count");
    assert!(iters > 0.0);
    assert_eq!(run.metric("fixture_counter", "count"), 3.0 * iters);
    assert_eq!(run.metric("fixture_rate", "rate"), 0.5);
    assert_eq!(run.metric("fixture_trend{kind:tagged}", "max"), 7.0);
    assert_eq!(run.summary()["metrics"]["fixture_gauge"]["type"], "gauge");
}

/// The host grants a component no WASI environment, arguments, stdin or preopened directories. The
/// Rust SDK's allocator (`fast-alloc`, on in `fixture_wasi`) relies on it: wasi-libc frees what those
/// calls return with its own `free` (sdk/rust/src/alloc.rs). A host change that grants one of them
/// fails here, with what it granted, before it can corrupt a guest's heap. The fixture also draws
/// random bytes through wasi-libc (`getentropy`, `arc4random_buf`) between allocations of every size
/// and checks each block's contents: before the SDK gave wasi-libc its own source of random bytes,
/// wasi-libc freed the host's `list<u8>` with its own `free` and the VUs trapped here.
#[tokio::test(flavor = "multi_thread")]
async fn the_host_grants_no_wasi_environment_arguments_stdin_or_files() {
    let target = Target::start().await;
    let scenario = "[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 3\n";
    let plan = fixture_plan_for("fixture_wasi", &target, "-", "/", "", scenario);
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.stdout());
    assert_eq!(
        run.metric("iteration_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
    assert_eq!(run.metric("iterations", "count"), 6.0);
    assert_eq!(run.metric("http_reqs", "count"), 6.0);
}

/// The Rust SDK gives wasi-libc its source of random bytes (feature `libc-random`) as a library the
/// linker takes only when something draws them: a component whose C code draws random bytes
/// (`fixture_wasi`) gets the SDK's function, which imports `get-random-u64`, not wasi-libc's, which
/// imports `get-random-bytes`; one without (`rust_get`, `fixture_basic`) imports nothing from
/// `wasi:random`, since each import costs an instance ~2 KiB per VU (BENCHMARKS.md).
#[test]
fn the_sdks_random_bytes_cost_an_import_only_where_used() {
    const RANDOM: &str = "wasi:random/random@0.2.0";
    let wasi = Imports::of("fixture_wasi");
    assert!(
        wasi.core
            .contains(&(RANDOM.into(), "get-random-u64".into())),
        "{:?}",
        wasi.core
    );
    assert!(
        !wasi.core.iter().any(|(_, name)| name == "get-random-bytes"),
        "wasi-libc's own random bytes were linked: {:?}",
        wasi.core
    );
    for name in ["rust_get", "fixture_basic"] {
        let imports = Imports::of(name);
        let random = |import: &String| import.starts_with("wasi:random/");
        assert!(
            !imports.interfaces.iter().any(random),
            "{name}: {:?}",
            imports.interfaces
        );
        assert!(
            !imports.core.iter().any(|(module, _)| random(module)),
            "{name}: {:?}",
            imports.core
        );
    }
}

/// What a guest component (`common::guest`) imports.
struct Imports {
    /// The interfaces the component imports (`wasi:random/random@0.2.6`, ...).
    interfaces: Vec<String>,
    /// The functions its core modules import, as (module, name).
    core: Vec<(String, String)>,
}

impl Imports {
    fn of(name: &str) -> Imports {
        let bytes = std::fs::read(guest(name)).expect("reading a guest component");
        let mut imports = Imports {
            interfaces: Vec::new(),
            core: Vec::new(),
        };
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            match payload.expect("a component") {
                wasmparser::Payload::ComponentImportSection(section) => {
                    for import in section {
                        let import = import.expect("an import");
                        imports.interfaces.push(import.name.name.to_string());
                    }
                }
                wasmparser::Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        let import = import.expect("an import");
                        imports
                            .core
                            .push((import.module.to_string(), import.name.to_string()));
                    }
                }
                _ => {}
            }
        }
        imports
    }
}

/// A run that sent nothing does not pass thresholds that expect traffic: a counter without samples
/// counted 0, and a rate nothing recorded fails (as in k6), while a counter threshold that wants
/// few still holds.
#[tokio::test(flavor = "multi_thread")]
async fn thresholds_on_metrics_without_samples_are_judged_at_the_end() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "error",
        "",
        &format!(
            "{}\n[thresholds]\nhttp_reqs = [\"count > 1000\"]\nhttp_req_failed = [\"rate < 0.01\"]\ndropped_iterations = [\"count < 1\"]\n",
            constant(1, "1s")
        ),
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 99, "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("✗ http_reqs: count > 1000  (observed 0.0000)"),
        "{out}"
    );
    assert!(
        out.contains(
            "✗ http_req_failed: rate < 0.01  (observed no samples: nothing recorded this metric)"
        ),
        "{out}"
    );
    assert!(
        out.contains("✓ dropped_iterations: count < 1  (observed 0.0000)"),
        "{out}"
    );
    assert_eq!(target.requests().await, 0);
}
