//! `constant-arrival-rate` and `ramping-arrival-rate`: iterations start on the plan's schedule, on an
//! idle VU or not at all (`dropped_iterations`); VUs are created on demand up to `max-vus`.

use crate::fake::{FakeFactory, Harness, count, scenario, secs, sleeps};
use stampede_metrics::{Aggregate, Selector, Sink};
use stampede_plan::{ConstantArrivalRate, Executor, RampingArrivalRate, Segment, Stage};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn constant(rate: u64, time_unit: Duration, secs_: u64, pre: u64, max: u64) -> ConstantArrivalRate {
    ConstantArrivalRate {
        rate,
        time_unit,
        duration: Duration::from_secs(secs_),
        pre_allocated_vus: pre,
        max_vus: max,
        segment: Segment::full(),
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// When iterations started, in order.
fn starts(factory: &FakeFactory) -> Vec<Duration> {
    let mut at: Vec<Duration> = factory
        .log
        .started
        .lock()
        .unwrap()
        .iter()
        .map(|&(_, at)| at)
        .collect();
    at.sort();
    at
}

/// How many of `at` fall in each whole second, up to `secs_`.
fn per_second(at: &[Duration], secs_: u64) -> Vec<usize> {
    let mut counts = vec![0; secs_ as usize];
    for t in at {
        counts[t.as_secs() as usize] += 1;
    }
    counts
}

/// The most iterations of length `d` running at once, for iterations started at `at` (sorted).
fn most_at_once(at: &[Duration], d: Duration) -> usize {
    at.iter()
        .map(|&s| at.iter().filter(|&&o| o <= s && s < o + d).count())
        .max()
        .unwrap_or(0)
}

/// (count, max) of `iteration_delay`, in ms.
fn delays(m: &Aggregate) -> (u64, f64) {
    match m.select(&Selector::metric("iteration_delay")) {
        Some(Sink::Trend(t)) => (t.count(), t.max()),
        other => panic!("iteration_delay: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn constant_rate_starts_every_iteration_on_time() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(10))));
    let c = constant(50, secs(1.0), 10, 5, 5);
    assert_eq!(c.total_arrivals(), 500);
    let (_, m) = h
        .run(&factory, scenario(Executor::ConstantArrivalRate(c)))
        .await;

    assert_eq!(count(&m, "iterations"), 500);
    assert_eq!(count(&m, "iterations{scenario:main}"), 500);
    assert_eq!(count(&m, "dropped_iterations"), 0);
    assert_eq!(count(&m, "interrupted_iterations"), 0);
    let at = starts(&factory);
    assert_eq!(per_second(&at, 10), [50; 10]);
    let due: Vec<Duration> = (0..500).map(|j| ms(20 * j)).collect();
    assert_eq!(at, due, "iteration j starts at j * 20ms exactly");
    assert_eq!(delays(&m), (500, 0.0));
    assert_eq!(factory.log.ids(), [1, 2, 3, 4, 5], "pre-allocated only");
    assert!(
        factory
            .log
            .created
            .lock()
            .unwrap()
            .iter()
            .all(|&(_, at)| at == Duration::ZERO)
    );
    assert_eq!(h.vus(), (0, 5));
}

#[tokio::test(start_paused = true)]
async fn arrivals_without_an_idle_vu_are_dropped() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(1010))));
    let task = h.spawn(
        &factory,
        scenario(Executor::ConstantArrivalRate(constant(
            50,
            secs(1.0),
            10,
            10,
            10,
        ))),
    );
    let mut samples = Vec::new();
    for n in 0..100 {
        tokio::time::sleep_until(h.t0 + ms(100 * n + 5)).await;
        samples.push(h.vus());
    }
    task.await.unwrap();
    let m = h.shared.collector.take();

    // Each VU takes an arrival, is busy for 1010ms and takes the next one 1020ms later: 10 in 10s.
    let at = starts(&factory);
    assert_eq!(at.len(), 100);
    assert_eq!(count(&m, "dropped_iterations"), 500 - 100);
    assert_eq!(
        count(&m, "iterations"),
        100,
        "every started iteration finishes in graceful-stop"
    );
    assert_eq!(most_at_once(&at, ms(1010)), 10);
    assert!(
        samples
            .iter()
            .all(|&(active, allocated)| active <= 10 && allocated == 10),
        "{samples:?}"
    );
    assert_eq!(delays(&m), (100, 0.0), "started iterations start on time");
    assert_eq!(factory.log.ids(), (1..=10).collect::<Vec<_>>());
}

/// A VU that finishes exactly when the next arrival is due takes it: an arrival is dropped only
/// after every task that was ready (here, the VU finishing) has run. On a loaded machine this is what
/// keeps a stalled thread's backlog of finished VUs from turning into drops.
#[tokio::test(start_paused = true)]
async fn a_vu_finishing_when_an_arrival_is_due_takes_it() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(100))));
    let (_, m) = h
        .run(
            &factory,
            scenario(Executor::ConstantArrivalRate(constant(
                10,
                secs(1.0),
                2,
                1,
                1,
            ))),
        )
        .await;
    assert_eq!(count(&m, "dropped_iterations"), 0);
    assert_eq!(count(&m, "iterations"), 20);
    let due: Vec<Duration> = (0..20).map(|j| ms(100 * j)).collect();
    assert_eq!(starts(&factory), due);
}

#[tokio::test(start_paused = true)]
async fn vus_are_created_on_demand_up_to_max_vus() {
    let h = Harness::new();
    // 110ms iterations every 20ms need 6 VUs; only 4 may exist.
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(110))));
    let c = constant(50, secs(1.0), 10, 1, 4);
    let task = h.spawn(&factory, scenario(Executor::ConstantArrivalRate(c)));
    let mut allocated = Vec::new();
    for n in 0..1000 {
        tokio::time::sleep_until(h.t0 + ms(10 * n + 5)).await;
        allocated.push(h.vus().1);
    }
    task.await.unwrap();
    let m = h.shared.collector.take();

    assert_eq!(allocated[0], 1, "one pre-allocated VU at the start");
    assert!(allocated.windows(2).all(|w| w[0] <= w[1]), "{allocated:?}");
    assert!(allocated.iter().all(|&a| a <= 4));
    assert_eq!(*allocated.last().unwrap(), 4);
    assert_eq!(factory.log.ids(), [1, 2, 3, 4]);
    let created = factory.log.created.lock().unwrap().clone();
    assert!(
        created[1..].iter().all(|&(_, at)| at > Duration::ZERO),
        "{created:?}"
    );
    let at = starts(&factory);
    let dropped = count(&m, "dropped_iterations");
    assert!(dropped > 0);
    assert_eq!(at.len() as u64 + dropped, 500);
    assert_eq!(count(&m, "iterations"), at.len() as u64);
    assert!(most_at_once(&at, ms(110)) <= 4);
    assert_eq!(delays(&m).1, 0.0);
}

#[tokio::test(start_paused = true)]
async fn time_unit_sets_the_period_of_the_rate() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(100))));
    let c = constant(120, secs(60.0), 10, 1, 1);
    assert_eq!(c.total_arrivals(), 20);
    let (_, m) = h
        .run(&factory, scenario(Executor::ConstantArrivalRate(c)))
        .await;

    assert_eq!(count(&m, "iterations"), 20);
    assert_eq!(count(&m, "dropped_iterations"), 0);
    let at = starts(&factory);
    assert_eq!(per_second(&at, 10), [2; 10]);
    assert_eq!(at, (0..20).map(|j| ms(500 * j)).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn ramping_rate_follows_the_schedule() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(5))));
    let c = RampingArrivalRate {
        start_rate: 0,
        time_unit: secs(1.0),
        stages: vec![Stage::secs(10, 100)],
        pre_allocated_vus: 2,
        max_vus: 2,
        segment: Segment::full(),
    };
    // N(t) = 5t^2 arrivals by t; the first is due when one has built up: ceil(500) - 1.
    assert_eq!(c.total_arrivals(), 499);
    let planned: Vec<Duration> = c.arrivals().map(|(_, at)| at).collect();
    let (_, m) = h
        .run(&factory, scenario(Executor::RampingArrivalRate(c)))
        .await;

    assert_eq!(count(&m, "iterations"), 499);
    assert_eq!(count(&m, "dropped_iterations"), 0);
    // Paused time is in whole ms: each start is its due offset, rounded up to the ms.
    let at = starts(&factory);
    let due: Vec<Duration> = planned
        .iter()
        .map(|d| ms(d.as_nanos().div_ceil(1_000_000) as u64))
        .collect();
    assert_eq!(at, due);
    // Second k runs N(k + 1) - N(k) = 10k + 5 (the first one less: no arrival at 0).
    let expected: Vec<usize> = (0..10).map(|k| 10 * k + 5 - usize::from(k == 0)).collect();
    assert_eq!(per_second(&planned, 10), expected);
    assert_eq!(per_second(&at, 10), expected);
    assert_eq!(delays(&m).0, 499);
}

#[tokio::test(start_paused = true)]
async fn segment_shares_add_up_to_the_whole() {
    let fleet = Executor::ConstantArrivalRate(constant(50, secs(1.0), 10, 9, 9));
    let mut all = Vec::new();
    let mut total = 0;
    for seg in Segment::split_even(3) {
        let h = Harness::new();
        let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(10))));
        let share = fleet.for_segment(&seg);
        let (_, m) = h.run(&factory, scenario(share)).await;
        let n = count(&m, "iterations");
        assert_eq!(count(&m, "dropped_iterations"), 0, "{seg}");
        assert!(n.abs_diff(500 / 3) <= 5, "{seg}: {n} iterations");
        assert_eq!(factory.log.ids(), [1, 2, 3], "{seg}: 9 VUs split in 3");
        total += n;
        all.extend(starts(&factory));
    }
    assert_eq!(total, 500);
    all.sort();
    assert_eq!(
        all,
        (0..500).map(|j| ms(20 * j)).collect::<Vec<_>>(),
        "each arrival runs once"
    );
}

/// A worker's VU threads each run their part of the schedule with their part of the VUs, but an
/// arrival that finds its thread's VUs busy goes to another thread's idle VU: the worker's VUs are
/// one pool, as a k6 process's are. Here 2 VUs serve 10/s of 150ms iterations without a drop,
/// split in two threads of one VU each (each thread, alone, would get every other arrival, and its
/// one VU is busy 150ms of every 100ms... whenever two of its arrivals come in a row).
#[tokio::test(start_paused = true)]
async fn an_arrival_goes_to_an_idle_vu_of_another_thread() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(150))));
    let c = constant(10, secs(1.0), 5, 2, 2);
    let (took, m) = h
        .run_split(&factory, scenario(Executor::ConstantArrivalRate(c)), 2)
        .await;

    assert_eq!(count(&m, "dropped_iterations"), 0);
    assert_eq!(count(&m, "iterations"), 50);
    assert_eq!(
        starts(&factory),
        (0..50).map(|j| ms(100 * j)).collect::<Vec<_>>(),
        "every arrival starts on time"
    );
    assert_eq!(delays(&m), (50, 0.0));
    // The two VUs alternate, whichever thread each arrival was planned on.
    assert_eq!(factory.log.ids(), [1, 2]);
    assert_eq!(factory.log.per_vu(), BTreeMap::from([(1, 25), (2, 25)]));
    assert_eq!(
        took,
        ms(5050),
        "the last, due at 4.9s, ends in its graceful stop"
    );
}

#[tokio::test(start_paused = true)]
async fn arrivals_between_timer_ticks_at_the_end_still_start() {
    // 5000/s: arrivals every 0.2 ms, but tokio's timers fire on whole milliseconds. The last
    // arrivals (due at 999.2 .. 999.8 ms) fire at 1000 ms, when the scenario's time is up: they were
    // due before the end, so they must start (or be counted as dropped), never vanish.
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| {
        sleeps(Duration::from_micros(100))
    }));
    let c = constant(5000, secs(1.0), 1, 20, 20);
    assert_eq!(c.total_arrivals(), 5000);
    let (_, m) = h
        .run(&factory, scenario(Executor::ConstantArrivalRate(c)))
        .await;
    assert_eq!(
        count(&m, "iterations") + count(&m, "dropped_iterations"),
        5000,
        "every scheduled arrival is accounted for"
    );
    assert_eq!(count(&m, "dropped_iterations"), 0);
}

/// As in k6, an arrival-rate scenario lasts its whole duration, also when its last arrival comes
/// before the end (a rate ramping down to 0): the run's duration is the plan's.
#[tokio::test(start_paused = true)]
async fn a_rate_ramping_down_to_zero_still_lasts_its_stages() {
    let h = Harness::new();
    let factory = Arc::new(FakeFactory::new(h.t0, |_, _| sleeps(ms(10))));
    let c = RampingArrivalRate {
        start_rate: 10,
        time_unit: secs(1.0),
        stages: vec![Stage::secs(2, 0)],
        pre_allocated_vus: 2,
        max_vus: 2,
        segment: Segment::full(),
    };
    let last = c.arrivals().map(|(_, at)| at).last().unwrap();
    assert!(last < ms(1900), "{last:?}");
    let arrivals = c.total_arrivals();
    let (took, m) = h
        .run(&factory, scenario(Executor::RampingArrivalRate(c)))
        .await;
    assert_eq!(count(&m, "iterations"), arrivals);
    assert!(took >= secs(2.0), "{took:?}");
    assert!(took < secs(2.1), "{took:?}");
}
