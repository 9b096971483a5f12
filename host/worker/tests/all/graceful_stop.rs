//! Graceful stop: iterations running at the scenario's end may finish within `graceful-stop`; past it
//! they are interrupted and counted in `interrupted_iterations`, not `iterations`.

use crate::fake::{FakeFactory, Harness, Step, count, scenario, secs, sleeps};
use stampede_plan::{ConstantVus, Executor, PerVuIterations};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn constant(vus: u64, duration: f64, graceful_stop: f64) -> stampede_plan::Scenario {
    let mut s = scenario(Executor::ConstantVus(ConstantVus {
        vus,
        duration: secs(duration),
    }));
    s.graceful_stop = secs(graceful_stop);
    s
}

#[tokio::test(start_paused = true)]
async fn iterations_finish_within_graceful_stop() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(3.0))));
    let (took, m) = h.run(&factory, constant(2, 10.0, 5.0)).await;

    // Started at 0, 3, 6 and 9s; the last ends at 12s, within 10s + 5s.
    assert_eq!(count(&m, "iterations"), 2 * 4);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(took, secs(12.0));
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 2);
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn iterations_past_graceful_stop_are_interrupted() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(4.0))));
    let (took, m) = h.run(&factory, constant(3, 10.0, 1.0)).await;

    // Started at 0, 4 and 8s; the last would end at 12s but is cut at 10s + 1s.
    assert_eq!(count(&m, "iterations"), 3 * 2);
    assert_eq!(count(&m, "interrupted_iterations"), 3);
    assert_eq!(count(&m, "interrupted_iterations{scenario:main}"), 3);
    assert_eq!(took, secs(11.0));
    assert_eq!(
        factory.log.closed.load(Ordering::Relaxed),
        0,
        "interrupted VUs are dropped, not closed"
    );
    assert_eq!(h.vus(), (0, 3));
}

#[tokio::test(start_paused = true)]
async fn hanging_iterations_are_interrupted() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, n| {
        if n == 0 {
            sleeps(secs(1.0))
        } else {
            Step::Hang
        }
    }));
    let mut s = scenario(Executor::PerVuIterations(PerVuIterations {
        vus: 2,
        iterations: 5,
        max_duration: secs(5.0),
    }));
    s.graceful_stop = secs(2.0);
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(count(&m, "iterations"), 2);
    assert_eq!(count(&m, "interrupted_iterations"), 2);
    assert_eq!(took, secs(7.0));
    assert_eq!(h.vus(), (0, 2));
}
