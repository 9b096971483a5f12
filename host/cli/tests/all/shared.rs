//! Shared isolation (`isolation = "shared"`): many VUs as concurrent async calls in one instance, with
//! the component `fixture_shared` (world `scenario-shared`).

use crate::common::*;

/// A plan for `fixture_shared` in `mode` with `vus` VUs for `duration`, `per_instance` VUs per
/// instance (`None`: the default isolation, one instance per VU), plus `extra` top-level TOML.
pub fn shared_plan(
    target: &Target,
    mode: &str,
    vus: u64,
    duration: &str,
    per_instance: Option<u32>,
    extra: &str,
) -> String {
    let isolation = match per_instance {
        Some(n) => format!("isolation = \"shared\"\nvus-per-instance = {n}\n"),
        None => String::new(),
    };
    format!(
        r#"component = "{wasm}"
targets = ["{origin}"]
{extra}

[params]
mode = "{mode}"
url = "{origin}/"

[scenarios.main]
executor = "constant-vus"
vus = {vus}
duration = "{duration}"
graceful-stop = "2s"
{isolation}"#,
        wasm = guest("fixture_shared").display(),
        origin = target.origin(),
    )
}

/// `pause` with shared isolation: the VUs of an instance pause between their calls into it.
#[tokio::test(flavor = "multi_thread")]
async fn shared_vus_pause_between_iterations() {
    let target = Target::start().await;
    let plan = shared_plan(&target, "get", 10, "2s", Some(5), "") + "pause = \"400ms\"\n";
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    // Starts at 0, 0.4, 0.8, 1.2, 1.6 s: 5 per VU.
    let iterations = run.metric("iterations", "count");
    assert!((40.0..=50.0).contains(&iterations), "{}", run.stdout());
    assert_eq!(run.metric("http_reqs", "count"), iterations);
}

/// A component of the world `scenario` runs on an engine without the component model's concurrency
/// (its calls are cheaper there); one of `scenario-shared` gets an engine with it.
#[test]
fn only_shared_world_components_get_a_concurrent_engine() {
    let load = |name: &str| load_component(&guest(name));
    assert!(!load("fixture_basic").concurrency_support());
    assert!(!load("rust_get").concurrency_support());
    assert!(load("fixture_shared").concurrency_support());
}

#[tokio::test(flavor = "multi_thread")]
async fn many_vus_share_an_instance_and_every_request_is_counted() {
    let target = Target::start().await;
    // 50 VUs in 3 instances (20 + 20 + 10); `ids` checks that each VU still sees its own id and
    // iteration number after awaiting a request while other VUs ran.
    let run = run_plan(&shared_plan(&target, "ids", 50, "2s", Some(20), ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 500.0, "only {reqs} requests");
    assert_eq!(reqs as u64, target.requests().await);
    assert_eq!(run.metric("iterations", "count"), reqs);
    assert_eq!(run.check_passes("ids seen") as f64, reqs);
    assert_eq!(run.check_passes("status is 200") as f64, reqs);
    assert_eq!(run.metric("checks", "fails"), 0.0);
    assert_eq!(run.metric("vus_max", "max"), 50.0);
    assert!(run.metric("http_req_duration", "count") == reqs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_world_component_runs_with_one_instance_per_vu_by_default() {
    let target = Target::start().await;
    let run = run_plan(&shared_plan(&target, "ids", 4, "1s", None, ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 0.0);
    assert_eq!(reqs as u64, target.requests().await);
    assert_eq!(run.check_passes("ids seen") as f64, reqs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_ends_only_its_instance_whose_vus_are_recreated() {
    let target = Target::start().await;
    // VU 1 traps at its iteration 1: the instance of VUs 1-5 ends, the one of VUs 6-10 carries on.
    let run = run_plan(&shared_plan(&target, "trap", 10, "2s", Some(5), ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("a shared instance ended: trapped:")
            && stderr.contains("trap on purpose in VU 1 at iteration 1"),
        "{stderr}"
    );
    // The VUs that lost their call with the instance are not blamed for the trap one by one.
    assert_eq!(
        stderr
            .matches(
                "iteration aborted, the VU restarts: its shared instance trapped: scenario panicked"
            )
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("restarts: VU"), "{stderr}");
    // Every VU of that instance with a call in flight lost it; nothing else failed.
    let errors = run.metric("iteration_errors", "count");
    assert!((1.0..=5.0).contains(&errors), "{errors} iteration errors");
    let iterations = run.metric("iterations", "count");
    assert!(
        iterations > 200.0,
        "the run went on after the trap: {iterations}"
    );
    // Requests in flight when the instance ended are still recorded, when their response arrives.
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        target.requests().await
    );
    assert_eq!(run.metric("vu_init_errors", "count"), 0.0);
}

/// The trap comes in the VUs' last iteration, so the requests it orphans are still on their way
/// when the executor is done: the VU thread waits for them, and every request the target saw is
/// counted.
#[tokio::test(flavor = "multi_thread")]
async fn requests_orphaned_by_a_trap_at_the_end_are_still_counted() {
    let target = Target::start().await;
    let plan = fixture_plan_for(
        "fixture_shared",
        &target,
        "trap",
        "/delay/1000",
        "sleep_ms = \"400\"",
        "[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 5\niterations = 2\n\
         isolation = \"shared\"\nvus-per-instance = 5\n",
    );
    let run = run_plan(&plan, &["--threads", "1"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("trap on purpose in VU 1"),
        "{}",
        run.stderr()
    );
    // Iteration 0: 5 GETs of 1 s. Iteration 1: VU 1 traps 400 ms in; the 4 others' GETs are
    // orphaned (their iterations fail with the instance) and finish 600 ms after the executor is
    // done.
    assert_eq!(run.metric("iteration_errors", "count"), 5.0);
    assert_eq!(target.requests().await, 9);
    assert_eq!(run.metric("http_reqs", "count"), 9.0, "{}", run.stdout());
}

/// `shared_plan` with the fixture's param `on_drop` (its destructor's behaviour) set.
fn plan_with_destructor(plan: String, on_drop: &str) -> String {
    plan.replace(
        "[params]\n",
        &format!("[params]\non_drop = \"{on_drop}\"\n"),
    )
}

/// A VU that stops drops its `vu` resource, running the guest's destructor, with either isolation:
/// in a shared instance as well as in an instance of its own; a destructor may send a request (a
/// logout).
#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_vu_runs_its_destructor_with_either_isolation() {
    for (per_instance, on_drop) in [(Some(5), "count"), (None, "count"), (Some(5), "request")] {
        let target = Target::start().await;
        let plan = shared_plan(&target, "get", 12, "1s", per_instance, "");
        let run = run_plan(&plan_with_destructor(plan, on_drop), &[]).await;
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert_eq!(
            run.metric("vus_dropped", "count"),
            12.0,
            "{per_instance:?} {on_drop}: {}",
            run.stdout()
        );
        // The destructors' requests (`request`) are counted like any other.
        assert_eq!(
            run.metric("http_reqs", "count") as u64,
            target.requests().await
        );
    }
}

/// The same for a component of the world `scenario`, one instance per VU.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_vu_runs_its_destructor_in_its_own_instance() {
    let target = Target::start().await;
    let plan = fixture_plan(&target, "get", "on_drop = \"count\"", &constant(12, "1s"));
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("vus_dropped", "count"), 12.0, "{}", run.stdout());
}

/// VUs that stop normally wait for their instance to be idle to run their destructors; the call of a
/// VU interrupted at the graceful stop (here VU 1's, which never ends) is left behind, not waited
/// for, and that VU runs no destructor.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_vu_holds_up_no_destructor() {
    let target = Target::start().await;
    let plan = shared_plan(&target, "hang", 4, "1s", Some(4), "")
        .replace("graceful-stop = \"2s\"", "graceful-stop = \"500ms\"");
    let started = std::time::Instant::now();
    let run = run_plan(&plan_with_destructor(plan, "count"), &["--threads", "1"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the run took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.metric("interrupted_iterations", "count"),
        1.0,
        "{}",
        run.stdout()
    );
    assert_eq!(run.metric("vus_dropped", "count"), 3.0, "{}", run.stdout());
}

/// A destructor that traps ends its shared instance, as a trap in any call does: the VUs of the
/// other instance still run theirs, and the run completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_destructor_that_traps_ends_only_its_instance() {
    let target = Target::start().await;
    let plan = shared_plan(&target, "get", 10, "1s", Some(5), "");
    let run = run_plan(&plan_with_destructor(plan, "trap"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("trap on purpose in VU 1's destructor"),
        "{}",
        run.stderr()
    );
    // VUs 6-10 all ran theirs; of VUs 2-5 those that stopped before VU 1 did.
    let dropped = run.metric("vus_dropped", "count");
    assert!(
        (5.0..=9.0).contains(&dropped),
        "{dropped}: {}",
        run.stdout()
    );
    assert!(run.metric("http_reqs", "count") > 10.0);
}

/// A destructor that never returns is interrupted by the CPU budget, as any call is.
#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_destructor_in_a_shared_instance_is_interrupted() {
    let target = Target::start().await;
    let extra = "[options]\ncpu-budget = \"100ms\"";
    let started = std::time::Instant::now();
    let plan = shared_plan(&target, "get", 6, "1s", Some(3), extra);
    let run = run_plan(&plan_with_destructor(plan, "busy"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        run.stderr()
            .contains("a shared instance ended: exceeded the CPU budget of 100ms"),
        "{}",
        run.stderr()
    );
    let dropped = run.metric("vus_dropped", "count");
    assert!(
        (3.0..=5.0).contains(&dropped),
        "{dropped}: {}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_loop_in_a_shared_instance_is_interrupted() {
    let target = Target::start().await;
    let extra = "[options]\ncpu-budget = \"100ms\"";
    let started = std::time::Instant::now();
    let run = run_plan(&shared_plan(&target, "busy", 6, "2s", Some(3), extra), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        run.stderr()
            .contains("a shared instance ended: exceeded the CPU budget of 100ms"),
        "{}",
        run.stderr()
    );
    assert!(run.metric("iteration_errors", "count") >= 1.0);
    assert!(
        run.metric("http_reqs", "count") > 100.0,
        "the other VUs carried on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_vu_times_out_alone() {
    let target = Target::start().await;
    let extra = "[options]\niteration-timeout = \"1s\"\nhttp-timeout = \"500ms\"";
    let run = run_plan(&shared_plan(&target, "hang", 4, "2s", Some(4), extra), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("VU 1 did not finish within 1s (options.iteration-timeout)"),
        "{}",
        run.stderr()
    );
    // Only VU 1's first iteration hangs; the instance and its other VUs are unaffected.
    assert_eq!(run.metric("iteration_errors", "count"), 1.0);
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 100.0);
    assert_eq!(reqs as u64, target.requests().await);
}

/// An `init` that returns an error fails only that VU's start; the resource made for it, which no VU
/// holds, is dropped in the instance.
#[tokio::test(flavor = "multi_thread")]
async fn an_init_error_fails_only_that_vus_start() {
    let target = Target::start().await;
    let run = run_plan_logging(
        &shared_plan(&target, "init-error", 4, "1s", Some(4), ""),
        DROPS_LOGGED,
    )
    .await;
    assert_only_even_starts_failed(
        &run,
        "init returned an error: init failed on purpose for VU 2",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_blocking_send_still_works_in_a_shared_instance() {
    let target = Target::start().await;
    let run = run_plan(&shared_plan(&target, "blocking", 4, "1s", Some(4), ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 0.0);
    assert_eq!(reqs as u64, target.requests().await);
}

/// `Tasks::run_one_async` in a shared instance: async tasks picked by weight (3:1), each VU's picks
/// its own, a task's error fails only that iteration, prefixed with the task's name.
#[tokio::test(flavor = "multi_thread")]
async fn async_tasks_are_picked_by_weight_in_a_shared_instance() {
    let target = Target::start().await;
    let run = run_plan(&shared_plan(&target, "tasks", 8, "2s", Some(8), ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("fail: failed on purpose"),
        "{}",
        run.stderr()
    );
    let iterations = run.metric("iterations", "count");
    let reqs = run.metric("http_reqs", "count");
    let failed = run.metric("iteration_errors", "count");
    assert!(iterations > 400.0, "{}", run.stdout());
    // Every iteration ran exactly one task: a GET, or the failing one.
    assert_eq!(reqs + failed, iterations, "{}", run.stdout());
    assert_eq!(reqs as u64, target.requests().await);
    let share = reqs / iterations;
    assert!(
        (0.68..=0.82).contains(&share),
        "GET share {share}, weight 3 of 4"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_isolation_needs_a_shared_world_component() {
    let target = Target::start().await;
    let rest = format!("{}isolation = \"shared\"\n", constant(2, "1s"));
    let plan = fixture_plan(&target, "get", "", &rest);
    let expected = "scenario \"main\" has isolation = \"shared\", but component fixture_basic.wasm is built for the world `scenario`";
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains(expected), "{}", run.stderr());
    assert_eq!(target.requests().await, 0);
    // `stampede validate` says the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, &plan).unwrap();
    let out = stampede(&["validate", path.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn max_connections_caps_requests_in_flight() {
    let target = Target::start().await;
    // 20 VUs each GET /delay/50 (50 ms); with 2 connections at most 2 requests run at a time, so in
    // 1 s at most about 2 x 20 = 40 complete (without the cap, about 400 would).
    let plan = fixture_plan_for(
        "fixture_shared",
        &target,
        "get",
        "/delay/50",
        "",
        "[options]\nmax-connections = 2\n\n\
         [scenarios.main]\nexecutor = \"constant-vus\"\nvus = 20\nduration = \"1s\"\n\
         graceful-stop = \"0s\"\nisolation = \"shared\"\n",
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!((10.0..=50.0).contains(&reqs), "{reqs} requests");
    // The wait for a connection is not part of the request's duration.
    assert!(run.metric("http_req_duration", "p90") < 200.0);
    // The cap is on connections: no more than 2 were ever opened (keep-alive, and a connection is
    // back in its pool before the next request looks for one).
    let opened = target.connections().await;
    assert!((1..=2).contains(&opened), "{opened} connections opened");
}
