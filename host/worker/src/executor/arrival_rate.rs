//! The open model shared by `constant-arrival-rate` and `ramping-arrival-rate`: iterations start on
//! the plan's schedule whether or not earlier ones finished. Each scheduled start goes to an idle
//! VU (one that finished its iteration at that very moment included): one of this thread's, else
//! one of the worker's other VU threads' (their [`Door`]s), so a worker's VUs form one pool as in
//! k6. When none is idle the iteration is counted in `dropped_iterations` (never silently) and,
//! below `max-vus`, one more VU is initialised in the background for later arrivals. How late each
//! iteration actually started is recorded in `iteration_delay`, so coordinated omission shows.

use super::{
    Clock, RunShared, ScenarioRun, create_vu, create_vu_once, join_all, record_one, run_iteration,
};
use crate::vu::{Vu, VuFactory, VuSpec};
use stampede_metrics::{MetricKind, names};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::time::Instant;

/// An iteration to start, and when it was due.
struct Job {
    due: Instant,
}

/// A thread's VUs of one arrival-rate scenario as the worker's other VU threads see them: an
/// arrival that finds no idle VU on its own thread goes to one idle here.
pub(crate) struct Door {
    /// One permit per VU waiting for a job.
    idle: Semaphore,
    /// Where the other threads send a job; `None` once this thread's part of the scenario ended.
    jobs: std::sync::Mutex<Option<mpsc::UnboundedSender<Job>>>,
    /// When this thread's part of the scenario ends: arrivals due later are not taken.
    end: Instant,
    /// VUs created or being created on this thread (at most `max_vus`).
    spawned: AtomicU64,
    /// This thread's share of `max-vus`.
    max_vus: u64,
}

impl Door {
    /// Give the iteration due at `due` to one of this door's idle VUs, if one is idle.
    fn take(&self, due: Instant) -> bool {
        // Without an idle VU (what an overloaded run sees at every arrival) nothing is locked.
        if due >= self.end || self.idle.available_permits() == 0 {
            return false;
        }
        let jobs = super::lock(&self.jobs);
        let Some(jobs) = jobs.as_ref() else {
            return false;
        };
        let Ok(permit) = self.idle.try_acquire() else {
            return false;
        };
        permit.forget();
        // The receiver lives until after this door is closed (`jobs` set to `None`).
        jobs.send(Job { due }).is_ok()
    }
}

/// What every VU task of one arrival-rate scenario on this thread shares.
struct Pool<F> {
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    jobs: Mutex<mpsc::UnboundedReceiver<Job>>,
    /// This thread's idle VUs and how many it created (and how other threads reach them).
    door: Arc<Door>,
    /// The next VU id offset for a VU created on demand.
    next_id: AtomicU64,
    /// The scenario's clock (started once pre-allocated VUs are ready).
    clock: Clock,
}

/// Run `schedule` (offsets from now of this worker's iterations, in order) with between
/// `pre_allocated` and `max_vus` VUs, for `duration`.
pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    schedule: impl Iterator<Item = Duration>,
    pre_allocated: u64,
    max_vus: u64,
    duration: Duration,
) {
    // Initialise the pre-allocated VUs before the clock starts, as k6 does, so the first arrivals
    // find them ready. One attempt each: a VU that fails here is created on demand later.
    let mut ready = Vec::new();
    let mut inits = tokio::task::JoinSet::new();
    for n in 0..pre_allocated.min(max_vus) {
        let (factory, shared, run) = (factory.clone(), shared.clone(), run.clone());
        inits.spawn(async move {
            let spec = VuSpec {
                id: run.first_vu_id + n,
                scenario: run.index,
            };
            create_vu_once(&*factory, &shared, &run, &spec).await
        });
    }
    while let Some(vu) = inits.join_next().await {
        if let Ok(Some(vu)) = vu {
            ready.push(vu);
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let clock = Clock::starting_now(&run, &shared, duration);
    let door = Arc::new(Door {
        idle: Semaphore::new(0),
        jobs: std::sync::Mutex::new(Some(tx.clone())),
        end: clock.stop_at(),
        spawned: AtomicU64::new(0),
        max_vus,
    });
    let siblings = shared.siblings(run.index);
    super::lock(&siblings.doors).push(door.clone());
    let pool = Arc::new(Pool {
        factory,
        shared: shared.clone(),
        run: run.clone(),
        jobs: Mutex::new(rx),
        door,
        next_id: AtomicU64::new(pre_allocated.min(max_vus)),
        clock,
    });
    let mut tasks = tokio::task::JoinSet::new();
    // Ready VUs are idle from the first arrival on, before their tasks first run.
    pool.door.idle.add_permits(ready.len());
    for vu in ready {
        spawn_vu(&pool, &mut tasks, Some(vu));
    }
    let clock = &pool.clock;
    let start = Instant::now();
    for offset in schedule {
        let due = start + offset;
        if due >= clock.stop_at() {
            break;
        }
        let mut stop = shared.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = stop.wait_for(|s| s.is_some()) => break,
        }
        // Judged by when the arrival was due, not when the timer fired: timers fire on whole
        // milliseconds, so the last arrivals of a scenario often fire just after its end. Only a
        // stop that came before `due` cancels the arrival.
        if due >= clock.stop_at() {
            break;
        }
        let mut permit = pool.door.idle.try_acquire();
        if permit.is_err() {
            // A VU may have finished already, its wake-up not yet run: when this thread was busy or
            // descheduled, due arrivals and finished iterations pile up together. Every ready task
            // runs once before the arrival counts as dropped.
            tokio::task::yield_now().await;
            permit = pool.door.idle.try_acquire();
        }
        match permit {
            Ok(permit) => {
                permit.forget();
                let _ = tx.send(Job { due });
            }
            // An idle VU of another VU thread of this worker takes it.
            Err(_) if lend(&siblings.doors, &pool.door, due) => {}
            Err(_) => {
                record_one(
                    &shared,
                    &run,
                    names::DROPPED_ITERATIONS,
                    MetricKind::Counter,
                    &[],
                    1.0,
                );
                if pool.door.spawned.load(Ordering::Relaxed) < max_vus {
                    spawn_vu(&pool, &mut tasks, None);
                } else if all_full(&siblings.doors)
                    && !siblings.said_busy.swap(true, Ordering::Relaxed)
                {
                    // As k6 says "Insufficient VUs": once per worker and scenario.
                    tracing::warn!(
                        "scenario `{}`: every VU it may have (`max-vus`) is busy, so iterations \
                         are dropped (counted in `dropped_iterations`); raise `max-vus` for the \
                         planned rate, or make iterations shorter",
                        run.scenario.name
                    );
                }
            }
        }
    }
    // As in k6, the scenario lasts its whole duration when its last arrival comes earlier (a rate
    // ramping down to 0, or the last one of a constant rate, 1/rate before the end): the run's
    // duration, and every per-second rate the summary divides by it, are the plan's.
    let mut stop = shared.stop.clone();
    tokio::select! {
        _ = tokio::time::sleep_until(clock.stop_at()) => {}
        _ = stop.wait_for(|s| s.is_some()) => {}
    }
    // No more jobs from the other threads: the VUs end once the jobs sent are done.
    *super::lock(&pool.door.jobs) = None;
    drop(tx);
    join_all(tasks).await;
}

/// Whether every thread has all the VUs its share of `max-vus` allows (a thread still below it
/// creates one when its own arrival finds none idle).
fn all_full(doors: &std::sync::Mutex<Vec<Arc<Door>>>) -> bool {
    super::lock(doors)
        .iter()
        .all(|door| door.spawned.load(Ordering::Relaxed) >= door.max_vus)
}

/// Give the iteration due at `due` to an idle VU behind one of `doors` other than `own`.
fn lend(doors: &std::sync::Mutex<Vec<Arc<Door>>>, own: &Arc<Door>, due: Instant) -> bool {
    super::lock(doors)
        .iter()
        .any(|door| !Arc::ptr_eq(door, own) && door.take(due))
}

/// Start a VU task with `vu`, or one that first creates its VU (ids continue after the existing ones).
fn spawn_vu<F: VuFactory>(
    pool: &Arc<Pool<F>>,
    tasks: &mut tokio::task::JoinSet<()>,
    vu: Option<F::Vu>,
) {
    pool.door.spawned.fetch_add(1, Ordering::Relaxed);
    let n = if vu.is_some() {
        0
    } else {
        pool.next_id.fetch_add(1, Ordering::Relaxed)
    };
    let pool = pool.clone();
    tasks.spawn(async move { vu_task(&pool, n, vu).await });
}

async fn vu_task<F: VuFactory>(pool: &Pool<F>, n: u64, vu: Option<F::Vu>) {
    let (shared, run, clock) = (&*pool.shared, &*pool.run, &pool.clock);
    let vu = match vu {
        Some(vu) => Some(vu),
        None => {
            let spec = VuSpec {
                id: run.first_vu_id + n,
                scenario: run.index,
            };
            let vu = create_vu(&*pool.factory, shared, run, &spec, clock).await;
            if vu.is_some() {
                pool.door.idle.add_permits(1);
            }
            vu
        }
    };
    let Some(mut vu) = vu else { return };
    let mut interrupt = clock.interrupt();
    loop {
        // Holding a permit (counted as idle) from here: the next job is ours.
        let job = pool.jobs.lock().await.recv().await;
        let Some(job) = job else { break };
        let delay = Instant::now() - job.due;
        shared.vu_active();
        let completed =
            run_iteration(&mut vu, &mut interrupt, None, shared, run, Some(delay)).await;
        shared.active.fetch_sub(1, Ordering::Relaxed);
        if !completed {
            return;
        }
        pool.door.idle.add_permits(1);
    }
    vu.close().await;
}
