//! `shared-iterations`: VUs take iterations from one pool until it is empty or `max-duration` passes.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_plan::{Executor, SharedIterations};
use std::collections::BTreeMap;
use std::sync::Arc;

fn shared(vus: u64, iterations: u64, max_duration: f64) -> Executor {
    Executor::SharedIterations(SharedIterations {
        vus,
        iterations,
        max_duration: secs(max_duration),
    })
}

#[tokio::test(start_paused = true)]
async fn runs_exactly_the_pool_across_vus() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let (took, m) = h.run(&factory, scenario(shared(3, 10, 600.0))).await;

    assert_eq!(count(&m, "iterations"), 10);
    assert_eq!(
        factory.log.started.lock().unwrap().len(),
        10,
        "no iteration starts beyond the pool"
    );
    let per_vu = factory.log.per_vu();
    assert_eq!(per_vu.values().sum::<u64>(), 10);
    assert!(per_vu.values().all(|n| (3..=4).contains(n)), "{per_vu:?}");
    assert_eq!(took, secs(4.0));
    assert_eq!(h.vus(), (0, 3));
}

#[tokio::test(start_paused = true)]
async fn fast_vus_take_more_of_the_pool() {
    let h = Harness::new();
    // VU 1: 1s per iteration; VUs 2 and 3: 4.5s. At 4.5s VU 1 has run 5 and the others take the last 2.
    let factory = Arc::new(FakeFactory::new(h.t0, |id, _| {
        sleeps(secs(if id == 1 { 1.0 } else { 4.5 }))
    }));
    let (took, m) = h.run(&factory, scenario(shared(3, 9, 600.0))).await;

    assert_eq!(count(&m, "iterations"), 9);
    assert_eq!(
        factory.log.per_vu(),
        BTreeMap::from([(1, 5), (2, 2), (3, 2)])
    );
    assert_eq!(took, secs(9.0));
}

#[tokio::test(start_paused = true)]
async fn fast_vus_take_more_of_the_pool_across_threads() {
    // Two VU threads with 2 VUs and 10 iterations each. Thread 1's VUs (1, 2) take 1s per
    // iteration, thread 2's (3, 4) 4.5s: when thread 1's part is done (at 5s), its VUs go on with
    // what is left of thread 2's, as one pool of 4 VUs would.
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |id, _| {
        sleeps(secs(if id <= 2 { 1.0 } else { 4.5 }))
    }));
    let (took, m) = h
        .run_split(&factory, scenario(shared(4, 20, 600.0)), 2)
        .await;

    assert_eq!(count(&m, "iterations"), 20);
    assert_eq!(factory.log.started.lock().unwrap().len(), 20);
    // By 9s VUs 3 and 4 started 2 each (at 0s and 4.5s); VUs 1 and 2 ran the other 16: 8 each.
    assert_eq!(
        factory.log.per_vu(),
        BTreeMap::from([(1, 8), (2, 8), (3, 2), (4, 2)])
    );
    assert_eq!(took, secs(9.0));
}

#[tokio::test(start_paused = true)]
async fn max_duration_leaves_the_rest_of_the_pool() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let (took, m) = h.run(&factory, scenario(shared(2, 100, 3.0))).await;

    assert_eq!(count(&m, "iterations"), 2 * 3);
    assert_eq!(took, secs(3.0));
}
