//! VU init failures and failed or aborted iterations.

use crate::fake::{FakeFactory, Harness, Step, count, scenario, secs, sleeps};
use stampede_plan::{ConstantVus, Executor, PerVuIterations};
use stampede_worker::IterationOutcome;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn constant(vus: u64, duration: f64) -> stampede_plan::Scenario {
    scenario(Executor::ConstantVus(ConstantVus {
        vus,
        duration: secs(duration),
    }))
}

#[tokio::test(start_paused = true)]
async fn init_failures_are_counted_and_retried() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))).failing_init(3));
    let (took, m) = h.run(&factory, constant(1, 10.0)).await;

    assert_eq!(count(&m, "vu_init_errors"), 3);
    assert_eq!(count(&m, "vu_init_errors{scenario:main}"), 3);
    assert_eq!(factory.log.create_calls.load(Ordering::Relaxed), 4);
    // Retried every second: the VU exists from 3s on and iterates until 10s.
    assert_eq!(
        factory.log.created.lock().unwrap().clone(),
        [(1, secs(3.0))]
    );
    assert_eq!(count(&m, "iterations"), 7);
    assert_eq!(took, secs(10.0));
    assert_eq!(h.vus(), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_vu_that_never_initialises_gives_up_at_the_end() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))).failing_init(u64::MAX));
    let (took, m) = h.run(&factory, constant(2, 3.5)).await;

    // Each VU tries at 0, 1, 2 and 3s; the retry due at 4s is cut to the end, 3.5s.
    assert_eq!(count(&m, "vu_init_errors"), 2 * 4);
    assert_eq!(count(&m, "iterations"), 0);
    assert_eq!(took, secs(3.5));
    assert_eq!(
        h.vus(),
        (0, 0),
        "a VU that never initialised was never allocated"
    );
}

#[tokio::test(start_paused = true)]
async fn failed_and_aborted_iterations_count_as_errors_with_their_kind() {
    let h = Harness::new();
    let outcomes = [
        IterationOutcome::Completed,
        IterationOutcome::Failed("boom".into()),
        IterationOutcome::Aborted {
            kind: "trap",
            message: "unreachable".into(),
        },
        IterationOutcome::Aborted {
            kind: "timeout",
            message: "too slow".into(),
        },
        IterationOutcome::Failed("again".into()),
        IterationOutcome::Aborted {
            kind: "cpu-budget",
            message: "spin".into(),
        },
    ];
    let script = move |_, n: u64| Step::After(secs(1.0), outcomes[n as usize].clone());
    let factory = Arc::new(FakeFactory::new(h.t0, script));
    let s = scenario(Executor::PerVuIterations(PerVuIterations {
        vus: 1,
        iterations: 6,
        max_duration: secs(60.0),
    }));
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(
        count(&m, "iterations"),
        6,
        "failed iterations still count as iterations"
    );
    assert_eq!(count(&m, "iteration_errors"), 5);
    assert_eq!(count(&m, "iteration_errors{error:failed}"), 2);
    assert_eq!(count(&m, "iteration_errors{error:trap}"), 1);
    assert_eq!(count(&m, "iteration_errors{error:timeout}"), 1);
    assert_eq!(
        count(&m, "iteration_errors{error:cpu-budget,scenario:main}"),
        1
    );
    assert_eq!(took, secs(6.0));
    assert_eq!(
        factory.log.created.lock().unwrap().len(),
        1,
        "the executor keeps the VU; resetting it is the VU's job"
    );
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 1);
}
