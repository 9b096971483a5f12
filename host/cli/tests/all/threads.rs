//! `--threads`: a worker splits its share among single-threaded runtimes the way a fleet splits the
//! load among workers, so counts stay exact whatever the number of threads.

use crate::common::*;
use crate::shared::shared_plan;

/// `fixture_basic` in mode `get` running `scenarios` on `threads` threads.
async fn run_on_threads(target: &Target, scenarios: &str, threads: &str) -> Run {
    let run = run_plan(
        &fixture_plan(target, "get", "", scenarios),
        &["--threads", threads],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    run
}

/// 7 VUs x 5 iterations on 3 threads (2 + 2 + 3 VUs): exactly 35 requests, all counted once.
#[tokio::test(flavor = "multi_thread")]
async fn per_vu_iterations_are_exact_across_threads() {
    let target = Target::start().await;
    let scenario = "[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 7\niterations = 5\n";
    let run = run_on_threads(&target, scenario, "3").await;
    assert_eq!(run.metric("iterations", "count"), 35.0);
    assert_eq!(run.metric("http_reqs", "count"), 35.0);
    assert_eq!(target.requests().await, 35);
    assert_eq!(run.metric("vus_max", "max"), 7.0);
}

/// shared-iterations and an arrival rate split three ways still add up to the plan's totals. (30
/// pre-allocated VUs, 10 per thread: a thread's idle VUs must absorb any stall of that thread.)
#[tokio::test(flavor = "multi_thread")]
async fn shared_iterations_and_arrival_rates_add_up_across_threads() {
    let target = Target::start().await;
    let scenarios = "[scenarios.shared]\nexecutor = \"shared-iterations\"\nvus = 4\niterations = 50\n\n\
         [scenarios.open]\nexecutor = \"constant-arrival-rate\"\nrate = 100\ntime-unit = \"1s\"\n\
         duration = \"2s\"\npre-allocated-vus = 30\ngraceful-stop = \"2s\"\n";
    let run = run_on_threads(&target, scenarios, "3").await;
    assert_eq!(run.metric("dropped_iterations", "count"), 0.0);
    assert_eq!(run.metric("iterations", "count"), 250.0);
    assert_eq!(target.requests().await, 250);
}

/// Shared isolation on two threads: each thread fills instances of its own.
#[tokio::test(flavor = "multi_thread")]
async fn shared_instances_per_thread_count_every_request() {
    let target = Target::start().await;
    let plan = shared_plan(&target, "ids", 30, "1s", Some(10), "");
    let run = run_plan(&plan, &["--threads", "2"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 100.0, "only {reqs} requests");
    assert_eq!(reqs as u64, target.requests().await);
    assert_eq!(run.check_passes("ids seen") as f64, reqs);
    assert_eq!(run.metric("vus_max", "max"), 30.0);
}

/// `max-connections` is split among the threads, and caps them: with 3 connections, `--threads 4`
/// runs 3 threads of one connection each, and never more than 3 connections are opened.
#[tokio::test(flavor = "multi_thread")]
async fn max_connections_is_shared_among_threads_and_caps_them() {
    let target = Target::start().await;
    let rest = "[options]\nmax-connections = 3\n\n\
         [scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 8\niterations = 20\n";
    let run = run_on_threads(&target, rest, "4").await;
    // One per thread: three threads (not four), each keeping its one connection alive.
    assert_eq!(target.connections().await, 3);
    assert_eq!(run.metric("http_reqs", "count"), 160.0);
    assert_eq!(run.metric("http_req_failed", "passes"), 0.0);
    assert_eq!(target.requests().await, 160);
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_threads_is_refused() {
    let out = stampede(&["run", "plan.toml", "--threads", "0"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--threads"), "{stderr}");
}

/// An arrival-rate scenario with a single VU runs on one thread: a second thread would own half
/// the iterations without a VU to run them (10 or more of the 20 dropped; a stall of the machine
/// can drop one or two, as with any single VU).
#[tokio::test(flavor = "multi_thread")]
async fn a_single_vu_arrival_rate_is_not_split() {
    let target = Target::start().await;
    let scenario = "[scenarios.open]\nexecutor = \"constant-arrival-rate\"\nrate = 20\ntime-unit = \"1s\"\n\
         duration = \"1s\"\npre-allocated-vus = 1\nmax-vus = 1\ngraceful-stop = \"2s\"\n";
    let run = run_on_threads(&target, scenario, "4").await;
    let (iterations, dropped) = (
        run.metric("iterations", "count"),
        run.metric("dropped_iterations", "count"),
    );
    assert_eq!(iterations + dropped, 20.0, "{}", run.stdout());
    assert!(dropped <= 2.0, "{}", run.stdout());
}
