//! `per-vu-iterations`: every VU runs exactly `iterations` iterations, within `max-duration`.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_plan::{Executor, PerVuIterations};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn per_vu(vus: u64, iterations: u64, max_duration: f64) -> Executor {
    Executor::PerVuIterations(PerVuIterations {
        vus,
        iterations,
        max_duration: secs(max_duration),
    })
}

#[tokio::test(start_paused = true)]
async fn every_vu_runs_exactly_its_iterations() {
    let h = Harness::new();
    // VU n takes n seconds per iteration: fast VUs do not run more.
    let factory = Arc::new(FakeFactory::new(h.t0, |id, _| sleeps(secs(id as f64))));
    let (took, m) = h.run(&factory, scenario(per_vu(3, 4, 600.0))).await;

    assert_eq!(count(&m, "iterations"), 3 * 4);
    assert_eq!(
        factory.log.per_vu(),
        BTreeMap::from([(1, 4), (2, 4), (3, 4)])
    );
    assert_eq!(
        took,
        secs(3.0 * 4.0),
        "the scenario ends with its slowest VU"
    );
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 3);
    assert_eq!(h.vus(), (0, 3));
}

#[tokio::test(start_paused = true)]
async fn max_duration_cuts_the_iterations_short() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let (took, m) = h.run(&factory, scenario(per_vu(2, 100, 5.0))).await;

    assert_eq!(count(&m, "iterations"), 2 * 5);
    assert_eq!(took, secs(5.0));
    assert_eq!(h.vus(), (0, 2));
}
