//! `constant-vus`: `vus` VUs loop for `duration`.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_metrics::{Selector, Sink};
use stampede_plan::{ConstantVus, Executor};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn constant(vus: u64, duration: f64) -> Executor {
    Executor::ConstantVus(ConstantVus {
        vus,
        duration: secs(duration),
    })
}

#[tokio::test(start_paused = true)]
async fn runs_vus_for_the_duration() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(2.0))));
    let task = h.spawn(&factory, scenario(constant(3, 10.0)));

    tokio::time::sleep(secs(1.0)).await;
    assert_eq!(h.vus(), (3, 3), "all VUs run during the scenario");
    task.await.unwrap();

    assert_eq!(
        h.t0.elapsed(),
        secs(10.0),
        "10s divide into whole iterations: nothing runs on"
    );
    assert_eq!(h.vus(), (0, 3), "active VUs go back to 0, allocated stay");
    let m = h.shared.collector.take();
    assert_eq!(count(&m, "iterations"), 3 * 5);
    assert_eq!(
        count(&m, "iterations{scenario:main}"),
        3 * 5,
        "samples carry the scenario tag"
    );
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    let Some(Sink::Trend(t)) = m.select(&Selector::metric("iteration_duration")) else {
        panic!("no durations")
    };
    assert_eq!((t.count(), t.min(), t.max()), (15, 2000.0, 2000.0));

    assert_eq!(factory.log.ids(), [1, 2, 3], "ids start at first_vu_id");
    assert!(
        factory
            .log
            .started
            .lock()
            .unwrap()
            .iter()
            .all(|(_, at)| *at < secs(10.0))
    );
    assert_eq!(
        factory.log.closed.load(Ordering::Relaxed),
        3,
        "VUs that stop normally are closed"
    );
}

#[tokio::test(start_paused = true)]
async fn counts_whole_iterations_that_fit_in_the_duration() {
    // 10s / 3s: each VU completes floor(10 / 3) = 3 iterations; the 4th, started at 9s, cannot finish
    // without graceful stop.
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(3.0))));
    let mut s = scenario(constant(2, 10.0));
    s.graceful_stop = Duration::ZERO;
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(took, secs(10.0));
    assert_eq!(count(&m, "iterations"), 2 * 3);
    assert_eq!(count(&m, "interrupted_iterations"), 2);
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn the_duration_counts_from_the_scenario_start() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(constant(2, 4.0));
    s.start_time = secs(5.0);
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(took, secs(9.0));
    assert_eq!(count(&m, "iterations"), 2 * 4);
    let created = factory.log.created.lock().unwrap().clone();
    assert_eq!(
        created,
        [(1, secs(5.0)), (2, secs(5.0))],
        "no VU exists before start-time"
    );
}
