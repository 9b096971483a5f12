//! Stop requests (threshold abort, Ctrl-C) and start-time.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_plan::{ConstantVus, Executor, PerVuIterations};
use std::sync::Arc;

fn long_constant(vus: u64, graceful_stop: f64) -> stampede_plan::Scenario {
    let mut s = scenario(Executor::ConstantVus(ConstantVus {
        vus,
        duration: secs(600.0),
    }));
    s.graceful_stop = secs(graceful_stop);
    s
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_scenario_and_running_iterations_finish() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(2.0))));
    let task = h.spawn(&factory, long_constant(2, 30.0));
    tokio::time::sleep(secs(5.0)).await;
    h.stop_now();
    task.await.unwrap();

    // Started at 0, 2 and 4s; the one started at 4s finishes at 6s, within graceful stop.
    assert_eq!(h.t0.elapsed(), secs(6.0));
    let m = h.shared.collector.take();
    assert_eq!(count(&m, "iterations"), 2 * 3);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_stop_interrupts_iterations_after_graceful_stop() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(2.0))));
    let task = h.spawn(&factory, long_constant(2, 0.5));
    tokio::time::sleep(secs(5.0)).await;
    h.stop_now();
    task.await.unwrap();

    assert_eq!(h.t0.elapsed(), secs(5.5));
    let m = h.shared.collector.take();
    assert_eq!(count(&m, "iterations"), 2 * 2);
    assert_eq!(count(&m, "interrupted_iterations"), 2);
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn start_time_delays_the_scenario() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(Executor::PerVuIterations(PerVuIterations {
        vus: 2,
        iterations: 1,
        max_duration: secs(60.0),
    }));
    s.start_time = secs(5.0);
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(count(&m, "iterations"), 2);
    assert_eq!(took, secs(6.0));
    let started = factory.log.started.lock().unwrap().clone();
    assert!(
        started.iter().all(|(_, at)| *at == secs(5.0)),
        "{started:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_before_start_time_skips_the_scenario_at_once() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = long_constant(2, 30.0);
    s.start_time = secs(300.0);
    let task = h.spawn(&factory, s);
    tokio::time::sleep(secs(1.0)).await;
    h.stop_now();
    task.await.unwrap();

    assert_eq!(
        h.t0.elapsed(),
        secs(1.0),
        "a stopped run does not wait for scenarios that never start"
    );
    assert_eq!(
        factory
            .log
            .create_calls
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(h.vus(), (0, 0));
}
