//! `ramping-vus`: the number of running VUs follows the plan's stages. Every VU the executor may
//! need is a task from the start; VU `i` runs iterations while the target is above `i`. When the
//! target drops, the VUs above it finish their iteration within `graceful-ramp-down`, then are
//! interrupted; they wait (initialised) in case the target rises again.

use super::{Clock, Pauses, Retire, RunShared, ScenarioRun, create_vu, join_all, run_iteration};
use crate::vu::{Vu, VuFactory, VuSpec};
use stampede_plan::RampingVus;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often the target VU count is re-read from the plan's timeline. Ramps change by at most a
/// few VUs in this time; the `vus` series is sampled once per second.
const RETARGET_EVERY: Duration = Duration::from_millis(10);

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &RampingVus,
) {
    let duration = c.max_duration();
    let start = Instant::now();
    let (target_tx, target_rx) = watch::channel(c.vus_at(Duration::ZERO));
    let mut tasks = tokio::task::JoinSet::new();
    let clock = Clock::starting_now(&run, &shared, duration);
    for i in 0..c.max_vus() {
        let clock = clock.clone();
        let (factory, shared, run, target) = (
            factory.clone(),
            shared.clone(),
            run.clone(),
            target_rx.clone(),
        );
        let grace = c.graceful_ramp_down;
        tasks.spawn(
            async move { ramping_vu(&*factory, &shared, &run, i, clock, target, grace).await },
        );
    }
    let mut tick = tokio::time::interval(RETARGET_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while clock.may_start() {
        tick.tick().await;
        let elapsed = start.elapsed();
        // The end of the stages (or a stop) is not a ramp-down: running iterations get
        // `graceful-stop`, not `graceful-ramp-down`.
        if elapsed >= duration || !clock.may_start() {
            break;
        }
        target_tx.send_if_modified(|t| {
            let new = c.vus_at(elapsed);
            std::mem::replace(t, new) != new
        });
    }
    // Closing the channel releases the VUs waiting for their turn at once (also on a stop, before
    // the planned end); running ones stop after their iteration.
    drop(target_tx);
    join_all(tasks).await;
}

async fn ramping_vu<F: VuFactory>(
    factory: &F,
    shared: &RunShared,
    run: &ScenarioRun,
    i: u64,
    clock: Clock,
    mut target: watch::Receiver<u64>,
    grace: Duration,
) {
    let mut vu: Option<F::Vu> = None;
    let mut pauses = Pauses::new(run, run.first_vu_id + i);
    let mut interrupt = clock.interrupt();
    loop {
        // Wait for this VU's turn (or the end).
        let active = tokio::select! {
            t = target.wait_for(|t| *t > i) => t.is_ok(),
            _ = tokio::time::sleep_until(clock.stop_at()) => false,
        };
        if !active || !clock.may_start() {
            break;
        }
        // Brought (back) in by the stages: it starts at once, like a VU that was never out.
        pauses.restart();
        if vu.is_none() {
            let spec = VuSpec {
                id: run.first_vu_id + i,
                scenario: run.index,
            };
            vu = create_vu(factory, shared, run, &spec, &clock).await;
        }
        let Some(v) = vu.as_mut() else { break };
        shared.vu_active();
        let rx = target.clone();
        let retired = move || *rx.borrow() <= i;
        let mut lost = false;
        let mut counted_out = false;
        while clock.may_start() && *target.borrow() > i {
            let mut down = target.clone();
            let retired_now = async move {
                // A closed channel is the end of the stages: the clock ends the pause then.
                if down.wait_for(|t| *t <= i).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            if !pauses.before_iteration(&clock, retired_now).await || *target.borrow() <= i {
                break;
            }
            let mut retire = Retire {
                retired: &retired,
                changed: target.clone(),
                grace,
                counted_out: &mut counted_out,
                shared,
            };
            if !run_iteration(v, &mut interrupt, Some(&mut retire), shared, run, None).await {
                lost = true;
                break;
            }
        }
        if !counted_out {
            shared.active.fetch_sub(1, Ordering::Relaxed);
        }
        if lost {
            // An interrupted VU's instance is in an unknown state: start a fresh one next time.
            vu = None;
            shared.allocated.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if let Some(v) = vu {
        v.close().await;
    }
}
