//! `pause`: a VU's think time between iterations, spent outside the iteration.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_metrics::{Selector, Sink};
use stampede_plan::{
    ConstantVus, Executor, Pause, PerVuIterations, RampingVus, Segment, SharedIterations, Stage,
};
use std::sync::Arc;
use std::time::Duration;

fn constant(vus: u64, duration: f64) -> Executor {
    Executor::ConstantVus(ConstantVus {
        vus,
        duration: secs(duration),
    })
}

fn starts_of(factory: &FakeFactory, vu: u64) -> Vec<Duration> {
    let started = factory.log.started.lock().unwrap();
    started
        .iter()
        .filter(|(id, _)| *id == vu)
        .map(|(_, at)| *at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_fixed_pause_comes_between_iterations_and_not_in_their_duration() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(constant(2, 10.0));
    s.pause = Pause::fixed(secs(1.5));
    let (took, m) = h.run(&factory, s).await;

    // Iterations start at 0, 2.5, 5, 7.5; the pause after the 4th runs into the end at 10s.
    assert_eq!(starts_of(&factory, 1), [0.0, 2.5, 5.0, 7.5].map(secs));
    assert_eq!(took, secs(10.0), "a pause ends with the scenario");
    assert_eq!(count(&m, "iterations"), 2 * 4);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    let Some(Sink::Trend(t)) = m.select(&Selector::metric("iteration_duration")) else {
        panic!("no durations")
    };
    assert_eq!(
        (t.min(), t.max()),
        (1000.0, 1000.0),
        "the pause is not part of an iteration"
    );
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_range_draws_a_different_pause_per_vu_and_iteration_within_it() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(Duration::ZERO)));
    let mut s = scenario(constant(3, 60.0));
    s.pause = Pause {
        min: secs(1.0),
        max: secs(3.0),
    };
    h.run(&factory, s).await;

    let mut gaps = Vec::new();
    for vu in 1..=3 {
        let starts = starts_of(&factory, vu);
        gaps.push(starts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>());
    }
    for g in &gaps {
        assert!(g.len() >= 19, "60s of 1-3s pauses: {}", g.len());
        assert!(
            g.iter().all(|d| (secs(1.0)..=secs(3.0)).contains(d)),
            "{g:?}"
        );
        let mean = g.iter().sum::<Duration>() / g.len() as u32;
        assert!(mean > secs(1.5) && mean < secs(2.5), "mean {mean:?}");
    }
    assert_ne!(gaps[0][..5], gaps[1][..5], "VUs draw their own pauses");
}

#[tokio::test(start_paused = true)]
async fn no_pause_after_the_last_iteration_of_a_vu() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(Executor::PerVuIterations(PerVuIterations {
        vus: 2,
        iterations: 3,
        max_duration: secs(60.0),
    }));
    s.pause = Pause::fixed(secs(2.0));
    let (took, m) = h.run(&factory, s).await;
    assert_eq!(starts_of(&factory, 2), [0.0, 3.0, 6.0].map(secs));
    assert_eq!(took, secs(7.0), "the scenario ends with the last iteration");
    assert_eq!(count(&m, "iterations"), 6);

    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(Executor::SharedIterations(SharedIterations {
        vus: 2,
        iterations: 5,
        max_duration: secs(60.0),
    }));
    s.pause = Pause::fixed(secs(2.0));
    let (took, m) = h.run(&factory, s).await;
    assert_eq!(count(&m, "iterations"), 5);
    assert_eq!(took, secs(7.0), "3 iterations of one VU with 2 pauses");
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_a_pause_at_once() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    let mut s = scenario(constant(4, 600.0));
    s.pause = Pause::fixed(secs(100.0));
    let task = h.spawn(&factory, s);
    tokio::time::sleep(secs(5.0)).await;
    h.stop_now();
    task.await.unwrap();
    assert_eq!(
        h.t0.elapsed(),
        secs(5.0),
        "paused VUs leave when the run stops"
    );
    let m = h.shared.collector.take();
    assert_eq!(count(&m, "iterations"), 4);
    assert_eq!(h.vus(), (0, 4));
}

#[tokio::test(start_paused = true)]
async fn a_ramp_down_ends_the_pause_of_the_vus_it_removes() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    // 4 VUs for 10s, then a drop to 2 that lasts 20s.
    let mut s = scenario(Executor::RampingVus(RampingVus {
        start_vus: 4,
        stages: vec![Stage::secs(10, 4), Stage::secs(0, 2), Stage::secs(20, 2)],
        graceful_ramp_down: secs(30.0),
        segment: Segment::full(),
    }));
    s.pause = Pause::fixed(secs(60.0));
    let task = h.spawn(&factory, s);
    tokio::time::sleep(secs(10.5)).await;
    assert_eq!(
        h.vus(),
        (2, 4),
        "the 2 paused VUs above the target left at once"
    );
    tokio::time::sleep(secs(5.0)).await;
    assert_eq!(h.vus(), (2, 4), "the others still pause");
    task.await.unwrap();
    assert_eq!(h.t0.elapsed(), secs(30.0));
    // One iteration each (the pause outlasts the scenario).
    assert_eq!(factory.log.per_vu().values().sum::<u64>(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_vu_brought_back_by_the_stages_starts_without_a_pause() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    // 4 VUs, down to 2 at 10s, back to 4 at 20s, until 30s.
    let mut s = scenario(Executor::RampingVus(RampingVus {
        start_vus: 4,
        stages: vec![
            Stage::secs(10, 4),
            Stage::secs(0, 2),
            Stage::secs(10, 2),
            Stage::secs(0, 4),
            Stage::secs(10, 4),
        ],
        graceful_ramp_down: secs(30.0),
        segment: Segment::full(),
    }));
    s.pause = Pause::fixed(secs(60.0));
    let task = h.spawn(&factory, s);
    task.await.unwrap();
    // VUs 3 and 4 (ids from 1) ran once at 0s, left at 10s and came back at 20s: their second
    // iteration starts then, not after a 60s pause.
    for vu in [3, 4] {
        let starts = starts_of(&factory, vu);
        assert_eq!(starts.len(), 2, "VU {vu}: {starts:?}");
        assert!(
            starts[1] >= secs(20.0) && starts[1] < secs(20.1),
            "VU {vu}: {starts:?}"
        );
    }
    assert_eq!(
        starts_of(&factory, 1),
        [secs(0.0)],
        "the others still pause"
    );
}
