//! `ramping-vus`: the running VUs follow the plan's stages; VUs a ramp-down removes get
//! `graceful-ramp-down` to finish their iteration, then are interrupted.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_plan::{Executor, RampingVus, Segment, Stage};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

fn ramping(start_vus: u64, stages: &[Stage], graceful_ramp_down: f64) -> RampingVus {
    RampingVus {
        start_vus,
        stages: stages.to_vec(),
        graceful_ramp_down: secs(graceful_ramp_down),
        segment: Segment::full(),
    }
}

/// Sample (running, allocated) VUs at `at` from the start: just past it, so that what happens at `at`
/// has happened.
async fn vus_at(h: &Harness, at: Duration) -> (u64, u64) {
    tokio::time::sleep_until(h.t0 + at + Duration::from_millis(1)).await;
    h.vus()
}

#[tokio::test(start_paused = true)]
async fn running_vus_follow_the_stages() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(0.1))));
    let c = ramping(
        0,
        &[Stage::secs(10, 20), Stage::secs(5, 20), Stage::secs(10, 0)],
        30.0,
    );
    assert_eq!(c.max_vus(), 20);
    let task = h.spawn(&factory, scenario(Executor::RampingVus(c.clone())));

    // Every 250ms (so every whole second), within one VU of the plan; never more allocated than the most
    // the plan runs at once.
    let mut off = Vec::new();
    for quarter in 0..=25 * 4 {
        let at = Duration::from_millis(250 * quarter);
        let (active, allocated) = vus_at(&h, at).await;
        let planned = c.vus_at(at + Duration::from_millis(1));
        if active.abs_diff(planned) > 1 || allocated > c.max_vus() || active > allocated {
            off.push((at, active, allocated, planned));
        }
        if quarter % 4 == 0 {
            let s = quarter / 4;
            let expected = match s {
                0..=10 => 2 * s,
                11..=15 => 20,
                _ => 20 - 2 * (s - 15),
            };
            assert!(active.abs_diff(expected) <= 1, "{s}s: {active} running");
        }
    }
    assert!(off.is_empty(), "(at, active, allocated, planned): {off:?}");
    assert!(task.is_finished(), "the last VUs leave by 25s");
    task.await.unwrap();

    let m = h.shared.collector.take();
    assert_eq!(count(&m, "interrupted_iterations"), 0, "100ms fits in 30s");
    assert!(count(&m, "iterations") > 0);
    assert_eq!(
        factory.log.ids(),
        (1..=20).collect::<Vec<_>>(),
        "one VU per id, ids from first_vu_id"
    );
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 20);
    assert_eq!(h.vus(), (0, 20));
}

/// 4 VUs for 5s, then 2 until 8s; every iteration takes 4s, so VUs 3 and 4 are in their second
/// iteration (4s to 8s) when they are removed at 5s.
fn step_down(graceful_ramp_down: f64) -> Executor {
    Executor::RampingVus(ramping(
        4,
        &[Stage::secs(5, 4), Stage::secs(0, 2), Stage::secs(3, 2)],
        graceful_ramp_down,
    ))
}

#[tokio::test(start_paused = true)]
async fn removed_vus_are_interrupted_after_graceful_ramp_down() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(4.0))));
    let task = h.spawn(&factory, scenario(step_down(1.0)));

    assert_eq!(vus_at(&h, secs(4.0)).await, (4, 4));
    assert_eq!(
        vus_at(&h, secs(5.0)).await,
        (2, 4),
        "removed VUs stop counting at once, while they finish"
    );
    assert_eq!(
        vus_at(&h, secs(6.0)).await,
        (2, 2),
        "interrupted at 5s + 1s, and their instances dropped"
    );
    task.await.unwrap();

    let m = h.shared.collector.take();
    // VUs 1 and 2: 0-4s, 4-8s; VUs 3 and 4: 0-4s, then cut at 6s.
    assert_eq!(count(&m, "iterations"), 2 * 2 + 2);
    assert_eq!(count(&m, "interrupted_iterations"), 2);
    assert_eq!(count(&m, "interrupted_iterations{scenario:main}"), 2);
    assert_eq!(h.t0.elapsed(), secs(8.0));
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 2);
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn removed_vus_finish_within_graceful_ramp_down() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(4.0))));
    let task = h.spawn(&factory, scenario(step_down(10.0)));

    assert_eq!(vus_at(&h, secs(5.0)).await, (2, 4));
    assert_eq!(vus_at(&h, secs(7.0)).await, (2, 4), "still finishing");
    task.await.unwrap();

    let m = h.shared.collector.take();
    assert_eq!(count(&m, "iterations"), 4 * 2);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(factory.log.per_vu().values().sum::<u64>(), 4 * 2);
    assert_eq!(h.t0.elapsed(), secs(8.0), "nothing starts after a removal");
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 4);
    assert_eq!(h.vus(), (0, 4));
}

/// 4 VUs for 2s, 1 from 2s to 4s, 4 again from 4s to 5.8s. VU 1 iterates 290ms, the others 300ms, so
/// at 2s VUs 2 to 4 are in their 1.8s iteration, and at the end (5.8s) no iteration is running.
fn down_and_up(t0: Instant, graceful_ramp_down: f64) -> (Executor, FakeFactory) {
    let hold = |ms, target| Stage {
        duration: Duration::from_millis(ms),
        target,
    };
    let c = ramping(
        4,
        &[
            hold(2000, 4),
            hold(0, 1),
            hold(2000, 1),
            hold(0, 4),
            hold(1800, 4),
        ],
        graceful_ramp_down,
    );
    let script = |id, _| sleeps(Duration::from_millis(if id == 1 { 290 } else { 300 }));
    (Executor::RampingVus(c), FakeFactory::new(t0, script))
}

#[tokio::test(start_paused = true)]
async fn a_target_that_rises_again_reactivates_the_idle_vus() {
    let h = Harness::new();
    let (executor, factory) = down_and_up(h.t0, 30.0);
    let factory = Arc::new(factory);
    let task = h.spawn(&factory, scenario(executor));

    assert_eq!(vus_at(&h, secs(1.0)).await, (4, 4));
    // VUs 2 to 4 finish their 1.8s iteration at 2.1s, then wait, initialised.
    assert_eq!(vus_at(&h, secs(3.0)).await, (1, 4));
    assert_eq!(vus_at(&h, secs(5.0)).await, (4, 4));
    task.await.unwrap();

    let m = h.shared.collector.take();
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(
        factory.log.ids(),
        [1, 2, 3, 4],
        "the same instances run again"
    );
    let started = factory.log.started.lock().unwrap().clone();
    for id in 2..=4 {
        let runs = |from: f64, to: f64| {
            started
                .iter()
                .filter(|&&(v, at)| v == id && at >= secs(from) && at < secs(to))
                .count()
        };
        assert_eq!(
            (runs(0.0, 2.0), runs(2.0, 4.0), runs(4.0, 6.0)),
            (7, 0, 6),
            "VU {id}: from 0 to 2.1s, then from 4s to 5.8s"
        );
    }
    assert_eq!(count(&m, "iterations"), 20 + 3 * (7 + 6));
    assert_eq!(h.t0.elapsed(), Duration::from_millis(5800));
    assert_eq!(factory.log.closed.load(Ordering::Relaxed), 4);
    assert_eq!(h.vus(), (0, 4));
}

#[tokio::test(start_paused = true)]
async fn interrupted_vus_are_created_afresh_when_the_target_rises() {
    let h = Harness::new();
    let (executor, factory) = down_and_up(h.t0, 0.05);
    let factory = Arc::new(factory);
    let task = h.spawn(&factory, scenario(executor));

    assert_eq!(vus_at(&h, secs(1.0)).await, (4, 4));
    assert_eq!(
        vus_at(&h, secs(3.0)).await,
        (1, 1),
        "cut at 2.05s: their instances are dropped"
    );
    assert_eq!(vus_at(&h, secs(5.0)).await, (4, 4));
    task.await.unwrap();

    let m = h.shared.collector.take();
    assert_eq!(count(&m, "interrupted_iterations"), 3);
    assert_eq!(count(&m, "iterations"), 20 + 3 * (6 + 6));
    let created = factory.log.created.lock().unwrap().clone();
    assert_eq!(
        created.iter().filter(|&&(_, at)| at == secs(4.0)).count(),
        3,
        "recreated when the target rises"
    );
    assert_eq!(
        factory.log.ids(),
        [1, 2, 2, 3, 3, 4, 4],
        "a new instance keeps the VU's id"
    );
    assert_eq!(
        factory.log.closed.load(Ordering::Relaxed),
        4,
        "only the instances that were not interrupted are closed"
    );
    assert_eq!(h.vus(), (0, 4));
}

/// The end of the stages is not a ramp-down: iterations running then get `graceful-stop` (as in k6,
/// and as `RampingVus::max_duration` documents), not the shorter `graceful-ramp-down`.
#[tokio::test(start_paused = true)]
async fn iterations_running_at_the_end_get_graceful_stop() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(4.0))));
    let c = ramping(2, &[Stage::secs(5, 2)], 1.0);
    let mut s = scenario(Executor::RampingVus(c));
    s.graceful_stop = secs(10.0);
    let (took, m) = h.run(&factory, s).await;

    // Started at 0 and 4s; the second ends at 8s, within 5s + 10s.
    assert_eq!(count(&m, "iterations"), 2 * 2);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(took, secs(8.0));
    assert_eq!(h.vus(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn iterations_past_graceful_stop_at_the_end_are_interrupted() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(4.0))));
    let c = ramping(2, &[Stage::secs(5, 2)], 30.0);
    let mut s = scenario(Executor::RampingVus(c));
    s.graceful_stop = secs(1.0);
    let (took, m) = h.run(&factory, s).await;

    assert_eq!(count(&m, "iterations"), 2);
    assert_eq!(count(&m, "interrupted_iterations"), 2);
    assert_eq!(took, secs(6.0));
    assert_eq!(h.vus(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_ramp_without_waiting_for_its_end() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(secs(1.0))));
    // 0 -> 10 VUs over 100s: 2 VUs at 25s, 8 more waiting for their turn.
    let c = ramping(0, &[Stage::secs(100, 10)], 30.0);
    let task = h.spawn(&factory, scenario(Executor::RampingVus(c)));
    assert_eq!(vus_at(&h, secs(25.0)).await, (2, 2));
    tokio::time::sleep_until(h.t0 + secs(25.5)).await;
    h.stop_now();
    task.await.unwrap();

    // The iterations started at 25s finish at 26s, within graceful-stop; the waiting VUs leave at once.
    assert_eq!(h.t0.elapsed(), secs(26.0));
    let m = h.shared.collector.take();
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    assert_eq!(factory.log.ids(), [1, 2]);
    assert_eq!(h.vus(), (0, 2));
}
