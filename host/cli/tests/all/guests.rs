//! Guests that misbehave: each gets a precise message, and the run (other VUs, metrics) carries on.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn requests_outside_targets_are_never_sent() {
    let target = Target::start().await;
    let other = Target::start().await;
    let params = format!("forbidden_url = \"{}/\"", other.origin());
    let plan = fixture_plan(&target, "forbidden", &params, &constant(2, "1s"));
    let before = target.requests().await;
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        other.requests().await,
        0,
        "a refused request reached the other origin"
    );
    let iters = run.metric("iterations", "count");
    assert!(iters > 0.0);
    assert_eq!(
        run.metric("http_req_failed", "passes"),
        iters,
        "every refused request is a failed request"
    );
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        target.requests().await - before
    );
    assert!(
        run.stdout().contains("✓ forbidden refused"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("is not in the plan's targets"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trapping_vu_is_recreated_and_others_carry_on() {
    let target = Target::start().await;
    let run = run_plan(&fixture_plan(&target, "trap", "", &constant(2, "1s")), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.metric("iteration_errors", "count") > 0.0);
    assert!(
        run.metric("http_reqs", "count") > 0.0,
        "iterations between traps still run"
    );
    assert!(run.stderr().contains("trap on purpose"), "{}", run.stderr());
}

/// What a VU prints to stdout is printed, a line at a time, as k6 prints `console.log`; a guest
/// warning that every iteration of every VU repeats is printed once.
#[tokio::test(flavor = "multi_thread")]
async fn guest_output_is_printed_and_repeated_warnings_once() {
    let target = Target::start().await;
    let run = run_plan(&fixture_plan(&target, "print", "", &constant(2, "1s")), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let iterations = run.metric("iterations", "count");
    assert!(iterations >= 4.0, "{iterations}");
    let stderr = run.stderr();
    for vu in [1, 2] {
        for n in 0..2 {
            assert!(
                stderr.contains(&format!("printed by VU {vu} in iteration {n}")),
                "{stderr}"
            );
        }
    }
    let printed = stderr.matches("printed by VU").count();
    assert_eq!(
        printed as f64, iterations,
        "one line per iteration\n{stderr}"
    );
    assert_eq!(
        stderr
            .matches("the same warning in every iteration")
            .count(),
        1,
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_loop_is_interrupted_after_the_cpu_budget() {
    let target = Target::start().await;
    let rest = format!("[options]\ncpu-budget = \"100ms\"\n\n{}", constant(1, "1s"));
    let started = std::time::Instant::now();
    let run = run_plan(&fixture_plan(&target, "busy", "", &rest), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(started.elapsed().as_secs() < 20);
    assert!(run.metric("iteration_errors", "count") >= 2.0);
    assert!(
        run.stderr().contains("exceeded the CPU budget"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_hits_the_memory_limit() {
    let target = Target::start().await;
    let rest = format!(
        "[options]\nmemory-limit = \"16MiB\"\n\n{}",
        constant(1, "1s")
    );
    let run = run_plan(&fixture_plan(&target, "membomb", "", &rest), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.metric("iteration_errors", "count") >= 1.0);
    assert!(
        run.stderr().contains("exceeded the memory limit"),
        "{}",
        run.stderr()
    );
}

/// A Rust guest's memory (one of Stampede's own, `linear_memory`) moves to a larger reservation as
/// it grows, within an iteration and between them: 12 iterations of 4 VUs each keep one more 1 MiB
/// block filled with a pattern (128 KiB -> 12 MiB: several moves) and find every block intact.
#[tokio::test(flavor = "multi_thread")]
async fn a_guests_memory_keeps_its_contents_as_it_grows_and_moves() {
    let target = Target::start().await;
    let rest = "[options]\nmemory-limit = \"32MiB\"\n\n[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 4\niterations = 12\nmax-duration = \"20s\"\n";
    let run = run_plan(&fixture_plan(&target, "grow", "", rest), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("iterations", "count"), 48.0, "{}", run.stdout());
    assert_eq!(run.metric("checks", "passes"), 48.0, "{}", run.stdout());
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_call_times_out() {
    let target = Target::start().await;
    let rest = format!(
        "[options]\nhttp-timeout = \"200ms\"\niteration-timeout = \"500ms\"\n\n{}",
        constant(1, "1s")
    );
    let run = run_plan(&fixture_plan(&target, "hang", "", &rest), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.metric("iteration_errors", "count") >= 1.0);
    assert!(
        run.stderr().contains("did not finish within"),
        "{}",
        run.stderr()
    );
}

/// A VU's requests share one timer (reset for each): every one of them still times out on its own.
#[tokio::test(flavor = "multi_thread")]
async fn each_request_of_a_vu_times_out_on_its_own() {
    let target = Target::start().await;
    let rest = format!(
        "[options]\nhttp-timeout = \"100ms\"\n\n[thresholds]\n\"http_req_failed{{error_code:timeout}}\" = [\"rate == 1\"]\n\n{}",
        constant(1, "1s")
    );
    let plan = fixture_plan_for("fixture_basic", &target, "get", "/delay/1000", "", &rest);
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    // About ten in the second, each failed at 100 ms (not after the 1 s the target takes).
    let requests = run.metric("http_reqs", "count");
    assert!(requests >= 5.0, "{requests} requests: {}", run.stdout());
    let failed = &run.summary()["metrics"]["http_req_failed{error_code:timeout}"];
    assert_eq!(
        failed["passes"].as_f64(),
        Some(requests),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_constructor_is_reported_and_retried() {
    let target = Target::start().await;
    let run = run_plan(
        &fixture_plan(&target, "init-trap", "", &constant(2, "2s")),
        &[],
    )
    .await;
    // Retried (two VUs, a retry a second), and a run in which no VU ever started does not pass.
    assert!(run.metric("vu_init_errors", "count") >= 3.0);
    assert!(
        run.stderr().contains("init trap on purpose"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("no VU could be initialised"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("NO VU STARTED"), "{}", run.stdout());
}

/// An iteration executor waits up to its `max-duration` (10 minutes by default) for its VUs: a
/// scenario whose VUs can never start stops 10 s after the first failure instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_vus_never_start_stops_after_ten_seconds() {
    let target = Target::start().await;
    let scenario = "[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 3\n";
    let started = std::time::Instant::now();
    let run = run_plan(&fixture_plan(&target, "init-trap", "", scenario), &[]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        run.summary()["run"]["aborted"],
        "no VU could be initialised in the 10s after the first failure"
    );
    assert!(run.stdout().contains("NO VU STARTED"), "{}", run.stdout());
    assert!(run.metric("vu_init_errors", "count") >= 10.0);
}

/// The plan's options for the two tests below: every sleep of 100 ms or more gives back the stack
/// pages below the VU's parked call.
const RELEASE_EARLY: &str = "[options]\nrelease-stack-after = \"100ms\"\n";

/// A VU that sleeps in its iteration gives back the fiber stack pages below its parked call
/// (`fiber_stack` in stampede-runtime; `release-stack-after`); its next request and sleep run on
/// fresh pages, iteration after iteration.
#[tokio::test(flavor = "multi_thread")]
async fn vus_that_sleep_in_their_iteration_keep_working() {
    let target = Target::start().await;
    let rest = format!("{RELEASE_EARLY}{}", constant(4, "2s"));
    let plan = fixture_plan(&target, "think", "sleep_ms = \"150\"", &rest);
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let iterations = run.metric("iterations", "count");
    // 4 VUs, ~150 ms an iteration, 2 s: ~13 each.
    assert!((40.0..=56.0).contains(&iterations), "{}", run.stdout());
    assert_eq!(run.metric("http_reqs", "count"), iterations);
}

/// The same with the sleep reached ~440 KiB deep in the guest's native stack (4,200 calls of ~110
/// bytes; 4,750 exhaust the 512 KiB wasmtime allows), so the pages given back reach ~570 KiB below
/// the top of the VU's 1 MiB stack: every VU's frames survive its sleep (the recursion's result is
/// the same with and without it), and its neighbours', whose stacks lie next to its own, too.
#[tokio::test(flavor = "multi_thread")]
async fn vus_that_sleep_deep_in_their_stack_keep_their_frames() {
    let target = Target::start().await;
    let rest = format!("{RELEASE_EARLY}{}", constant(6, "2s"));
    let plan = fixture_plan(
        &target,
        "deep-think",
        "sleep_ms = \"150\"\ndepth = \"4200\"",
        &rest,
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let iterations = run.metric("iterations", "count");
    assert!((60.0..=84.0).contains(&iterations), "{}", run.stdout());
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
    assert_eq!(run.metric("checks", "passes"), 2.0 * iterations);
    assert_eq!(run.metric("http_reqs", "count"), iterations);
}

#[tokio::test(flavor = "multi_thread")]
async fn iteration_errors_are_counted_not_fatal() {
    let target = Target::start().await;
    let run = run_plan(&fixture_plan(&target, "error", "", &constant(1, "1s")), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.metric("iteration_errors", "count") > 0.0);
    assert_eq!(
        run.metric("iteration_errors", "count"),
        run.metric("iterations", "count")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_setup_stops_the_run_with_its_message() {
    let target = Target::start().await;
    let run = run_plan(
        &fixture_plan(&target, "setup-fail", "", &constant(1, "1s")),
        &[],
    )
    .await;
    // k6's code for an exception in setup or teardown (its ScriptException).
    assert_eq!(run.code(), 107, "{}", run.stderr());
    assert!(
        run.stderr().contains("setup failed on purpose"),
        "{}",
        run.stderr()
    );
    assert_eq!(target.requests().await, 0);
}

/// A teardown that fails does not change the run's metrics or verdict, but it is not a pass: the
/// summary and every report say so, and the exit code is 107 (99 when a threshold failed too).
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_teardown_is_reported_and_fails_the_exit_code() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let plan = fixture_plan(&target, "teardown-fail", "", &constant(1, "500ms"));
    let run = run_plan(&plan, &["--summary-junit", junit.to_str().unwrap()]).await;
    assert_eq!(run.code(), 107, "{}", run.stderr());
    assert!(run.metric("http_reqs", "count") > 0.0);
    assert!(
        run.stdout()
            .contains("teardown failed: teardown failed on purpose")
            && run.stdout().contains(": passed"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains(
            "error: the scenario's teardown failed: teardown failed on purpose (the run itself passed"
        ),
        "{}",
        run.stderr()
    );
    assert_eq!(
        run.summary()["run"]["teardown_failed"].as_str(),
        Some("teardown failed on purpose")
    );
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains("teardown failed: teardown failed on purpose"),
        "{junit}"
    );

    // With a failed threshold too, the threshold's code.
    let rest = format!(
        "{}\n[thresholds]\nhttp_req_duration = [\"p(95) < 0.001ms\"]\n",
        constant(1, "500ms")
    );
    let run = run_plan(&fixture_plan(&target, "teardown-fail", "", &rest), &[]).await;
    assert_eq!(run.code(), 99, "{}", run.stderr());
}

/// A response body longer than `memory-limit` could never reach the guest: the host stops reading
/// it, closes the connection and fails the request with a `protocol` error that names the limit and
/// the response's status (which the guest's iteration error carries to the log). A body within the
/// limit arrives whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_body_longer_than_memory_limit_is_a_protocol_error() {
    let target = Target::start().await;
    let plan = |bytes: u64, thresholds: &str| body_plan(&target, bytes, "", thresholds);
    let whole = run_plan(&plan(1 << 20, ""), &[]).await;
    assert_eq!(whole.code(), 0, "{}", whole.stderr());
    assert_eq!(whole.metric("http_req_failed", "passes"), 0.0);
    assert_eq!(whole.check_passes("status is 200"), 6);
    assert!(whole.metric("data_received", "count") > 6.0 * (1 << 20) as f64);

    let thresholds = "[thresholds]\n\"http_req_failed{error_code:protocol}\" = [\"rate == 1\"]\n";
    let long = run_plan(&plan(8 << 20, thresholds), &[]).await;
    assert_eq!(long.code(), 0, "{}", long.stderr());
    let failed = &long.summary()["metrics"]["http_req_failed{error_code:protocol}"];
    assert_eq!(failed["passes"].as_f64(), Some(6.0), "{}", long.stdout());
    assert_eq!(long.metric("iteration_errors", "count"), 6.0);
    let err = long.stderr();
    assert!(
        err.contains("(status 200) has a body longer than 4 MiB")
            && err.contains("raise memory-limit"),
        "{err}"
    );
    // Logged once by the host (the request's failure) and once as the iteration's error, not once
    // per iteration.
    assert_eq!(err.matches("longer than 4 MiB").count(), 2, "{err}");
    assert_eq!(
        err.matches("WARN request failed: the response (status 200) has a body longer")
            .count(),
        1,
        "{err}"
    );
}

/// `rust_get` GETting `/bytes/{bytes}` three times per VU with 2 VUs, `memory-limit = "4MiB"` plus
/// `options` and `thresholds`.
fn body_plan(target: &Target, bytes: u64, options: &str, thresholds: &str) -> String {
    format!(
        r#"component = "{wasm}"
targets = ["{origin}"]

[options]
memory-limit = "4MiB"
{options}

[params]
url = "{origin}/bytes/{bytes}"

[scenarios.get]
executor = "per-vu-iterations"
vus = 2
iterations = 3

{thresholds}
"#,
        wasm = guest("rust_get").display(),
        origin = target.origin(),
    )
}

/// `discard-response-bodies = true`: bodies are read to the end and counted, but the guest gets
/// none, so a body far above `memory-limit` is no error.
#[tokio::test(flavor = "multi_thread")]
async fn discarded_response_bodies_are_counted_but_never_reach_the_guest() {
    let target = Target::start().await;
    let plan = body_plan(&target, 8 << 20, "discard-response-bodies = true", "");
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("http_req_failed", "passes"), 0.0);
    assert_eq!(run.check_passes("status is 200"), 6);
    assert!(run.metric("data_received", "count") > 6.0 * (8 << 20) as f64);
}

/// `per-vu-iterations` of 1,000 VUs x 1 iteration of `mode` GETting `path`, with `params` and
/// `options`: in a process with that many VUs a VU's requests are polled off its guest call's fiber
/// (the runtime's `offload`).
fn many_vus(target: &Target, mode: &str, path: &str, params: &str, options: &str) -> String {
    fixture_plan_for(
        "fixture_basic",
        target,
        mode,
        path,
        params,
        &format!(
            "[options]\n{options}\n\n[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 1000\niterations = 1\nmax-duration = \"60s\"\n"
        ),
    )
}

/// With 1,000 VUs, requests run off the fibers: each still times out on its own, and an iteration
/// that times out with its request in flight ends (the request dropped with it).
#[tokio::test(flavor = "multi_thread")]
async fn requests_off_the_fiber_time_out_and_end_with_their_iteration() {
    let target = Target::start().await;
    let run = run_plan(
        &many_vus(
            &target,
            "get",
            "/delay/1000",
            "",
            "http-timeout = \"100ms\"",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("http_reqs", "count"), 1000.0, "{}", run.stdout());
    assert_eq!(run.metric("http_req_failed", "passes"), 1000.0);
    // Each failed at its 100 ms, not after the 1 s the target takes.
    assert!(
        run.metric("iteration_duration", "max") < 900.0,
        "{}",
        run.stdout()
    );

    // Sleeps 100 ms, then GETs for 240 ms: the iteration's 300 ms run out with the request in
    // flight.
    let run = run_plan(
        &many_vus(
            &target,
            "deep-think",
            "/delay/240",
            "depth = \"10\"\nsleep_ms = \"100\"",
            "http-timeout = \"250ms\"\niteration-timeout = \"300ms\"",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.metric("iteration_errors", "count"),
        1000.0,
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("did not finish within 300ms"),
        "{}",
        run.stderr()
    );
}

/// The `rust_get` plugin thinks `sleep_ms` after each GET when given it (bench/memory.py's idle
/// VUs), and says what is wrong with a value that is no number.
#[tokio::test(flavor = "multi_thread")]
async fn rust_get_thinks_for_its_sleep_ms() {
    let target = Target::start().await;
    let plan = |sleep_ms: &str| {
        format!(
            "component = \"{wasm}\"\ntargets = [\"{origin}\"]\n\n[params]\nurl = \"{origin}/\"\nsleep_ms = \"{sleep_ms}\"\n\n[scenarios.get]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 3\nmax-duration = \"3s\"\n",
            wasm = guest("rust_get").display(),
            origin = target.origin(),
        )
    };
    let run = run_plan(&plan("300"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.check_passes("status is 200"), 3);
    assert!(
        run.metric("iteration_duration", "min") >= 300.0,
        "{}",
        run.stdout()
    );

    // The VU's constructor fails, and is retried until the scenario's `max-duration`.
    let run = run_plan(&plan("soon"), &[]).await;
    assert!(
        run.stderr()
            .contains("the param `sleep_ms` must be a whole number of milliseconds"),
        "{}",
        run.stderr()
    );
}

/// A component with little data (rust-get's ~4 KiB) has it copied into each instance's memory
/// (`MemoryInit::Copy`), which is then one of Stampede's own (`linear_memory`): a VU costs four
/// memory mappings (its fiber stack and guard page; its memory's accessible part, and the rest of
/// its reservation with the guard region after it) instead of up to seven with a copy-on-write
/// image, which is what `vm.max_map_count` caps and the capacity check counts on
/// (`capacity::maps_per_vu`: 5 with one more for margin). Counted in /proc/PID/maps of runs with 10
/// and 210 VUs parked in a sleep.
#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::await_holding_lock)]
async fn a_vu_of_a_component_with_little_data_costs_four_memory_mappings() {
    assert_eq!(
        load_component(&guest("rust_get")).memory_init(),
        stampede_runtime::MemoryInit::Copy
    );
    let target = Target::start().await;
    let _shared = sharing_the_machine();
    let dir = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    for vus in [10, 210] {
        let plan = dir.path().join(format!("plan-{vus}.toml"));
        std::fs::write(
            &plan,
            format!(
                "component = \"{wasm}\"\ntargets = [\"{origin}\"]\n\n[params]\nurl = \"{origin}/\"\nsleep_ms = \"4000\"\n\n[scenarios.idle]\nexecutor = \"per-vu-iterations\"\nvus = {vus}\niterations = 1\nmax-duration = \"8s\"\n",
                wasm = guest("rust_get").display(),
                origin = target.origin(),
            ),
        )
        .unwrap();
        let before = target.requests().await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .arg("run")
            .arg(&plan)
            .arg("--quiet")
            .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let maps = format!("/proc/{}/maps", child.id().unwrap());
        // Every VU has started and is parked in its 4 s sleep once its request was counted.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while target.requests().await < before + vus {
            assert!(
                std::time::Instant::now() < deadline,
                "the VUs did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        counts.push(std::fs::read_to_string(&maps).unwrap().lines().count());
        child.kill().await.unwrap();
    }
    let per_vu = (counts[1] - counts[0]) as f64 / 200.0;
    assert!(
        (3.0..=4.5).contains(&per_vu),
        "{per_vu} mappings per VU ({counts:?})"
    );
}
