//! The running half of the executors: one file per executor, named after its config key, over a
//! shared VU loop. The pure half (config, validation, timeline) lives in `stampede_plan::executor`.

mod arrival_rate;
mod constant_arrival_rate;
mod constant_vus;
mod per_vu_iterations;
mod ramping_arrival_rate;
mod ramping_vus;
mod shared_iterations;

use crate::vu::{IterationOutcome, Vu, VuFactory, VuSpec};
use stampede_metrics::{Collector, MetricKind, SampleBuffer, SeriesKey, TagSet, names};
use stampede_plan::{Executor, Scenario};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a VU whose initialisation failed waits before trying again.
const INIT_RETRY: Duration = Duration::from_secs(1);

/// State every scenario of a worker's run shares.
pub struct RunShared {
    /// Where iteration metrics go.
    pub collector: Arc<Collector>,
    /// VUs currently running an iteration loop.
    pub active: AtomicU64,
    /// VUs allocated (running or idle).
    pub allocated: AtomicU64,
    /// When set, the run was asked to stop at that instant (graceful stop applies from there).
    pub stop: watch::Receiver<Option<Instant>>,
    /// Init error messages already logged, so each distinct one is logged once.
    logged: Mutex<HashSet<String>>,
}

impl RunShared {
    /// Shared state reporting into `collector` and stopping when `stop` gets a value.
    pub fn new(collector: Arc<Collector>, stop: watch::Receiver<Option<Instant>>) -> Self {
        RunShared {
            collector,
            active: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            stop,
            logged: Mutex::default(),
        }
    }
}

/// One scenario of this worker's share, ready to run.
pub struct ScenarioRun {
    /// Index in the plan.
    pub index: usize,
    /// The plan scenario (its executor already scaled to this worker's segment).
    pub scenario: Scenario,
    /// VU id of this worker's first VU in this scenario (ids are fleet-unique).
    pub first_vu_id: u64,
    /// Tags of every iteration sample (`scenario` plus the scenario's tags).
    pub tags: TagSet,
    /// The series every completed iteration records into, built once.
    iterations: Arc<SeriesKey>,
    iteration_duration: Arc<SeriesKey>,
}

impl ScenarioRun {
    /// Scenario `index` of the plan (`scenario`, its executor already scaled to this worker's
    /// segment), whose VU ids start at `first_vu_id`, tagging its samples with `tags`.
    pub fn new(index: usize, scenario: Scenario, first_vu_id: u64, tags: TagSet) -> Self {
        let key = |metric: &str| Arc::new(SeriesKey::new(metric, tags.clone()));
        ScenarioRun {
            index,
            scenario,
            first_vu_id,
            iterations: key(names::ITERATIONS),
            iteration_duration: key(names::ITERATION_DURATION),
            tags,
        }
    }
}

/// The scenario's clock: when iterations may start and when running ones are interrupted.
pub(crate) struct Clock {
    pub(crate) end: Instant,
    pub(crate) graceful: Duration,
    pub(crate) stop: watch::Receiver<Option<Instant>>,
}

impl Clock {
    /// A clock for a scenario that started now and runs `duration`.
    pub(crate) fn starting_now(run: &ScenarioRun, shared: &RunShared, duration: Duration) -> Clock {
        Clock {
            end: Instant::now() + duration,
            graceful: run.scenario.graceful_stop,
            stop: shared.stop.clone(),
        }
    }

    /// When new iterations stop: the scenario's end, or earlier if the run was stopped.
    pub(crate) fn stop_at(&self) -> Instant {
        match *self.stop.borrow() {
            Some(s) if s < self.end => s,
            _ => self.end,
        }
    }

    /// Whether a new iteration may start now.
    pub(crate) fn may_start(&self) -> bool {
        Instant::now() < self.stop_at()
    }

    /// When a running iteration is interrupted.
    pub(crate) fn hard_deadline(&self) -> Instant {
        self.stop_at() + self.graceful
    }
}

/// Run one scenario to its end: wait for its start time, then hand over to its executor. A stop
/// before the start time ends it at once.
pub async fn run_scenario<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: ScenarioRun,
    t0: Instant,
) {
    let mut stop = shared.stop.clone();
    let stopped = async move {
        if stop.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::time::sleep_until(t0 + run.scenario.start_time) => {}
        _ = stopped => {}
    }
    if shared.stop.borrow().is_some() {
        return;
    }
    let run = Arc::new(run);
    match &run.scenario.executor {
        Executor::ConstantVus(c) => constant_vus::run(factory, shared, run.clone(), c).await,
        Executor::PerVuIterations(c) => {
            per_vu_iterations::run(factory, shared, run.clone(), c).await
        }
        Executor::SharedIterations(c) => {
            shared_iterations::run(factory, shared, run.clone(), c).await
        }
        Executor::RampingVus(c) => ramping_vus::run(factory, shared, run.clone(), c).await,
        Executor::ConstantArrivalRate(c) => {
            constant_arrival_rate::run(factory, shared, run.clone(), c).await
        }
        Executor::RampingArrivalRate(c) => {
            ramping_arrival_rate::run(factory, shared, run.clone(), c).await
        }
    }
}

/// Spawn `vus` VU loops that share `next` (which says whether VU `i` may start another iteration),
/// and wait for all of them.
pub(crate) async fn spawn_vus<F, N>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    vus: u64,
    duration: Duration,
    next: N,
) where
    F: VuFactory,
    N: Fn(u64) -> bool + Send + Sync + 'static,
{
    let next = Arc::new(next);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..vus {
        let clock = Clock::starting_now(&run, &shared, duration);
        let (factory, shared, run, next) =
            (factory.clone(), shared.clone(), run.clone(), next.clone());
        tasks.spawn(async move {
            let spec = VuSpec {
                id: run.first_vu_id + i,
                scenario: run.index,
            };
            vu_loop(&*factory, &shared, &run, spec, clock, || next(i)).await;
        });
    }
    join_all(tasks).await;
}

/// Wait for every task, logging any that panicked.
pub(crate) async fn join_all(mut tasks: tokio::task::JoinSet<()>) {
    while let Some(res) = tasks.join_next().await {
        if let Err(e) = res {
            tracing::error!("a VU task failed: {e}");
        }
    }
}

/// Create a VU, retrying (after [`INIT_RETRY`]) while iterations may still start; `None` once they
/// may not. Each failure is counted in `vu_init_errors`, each distinct message logged once.
pub(crate) async fn create_vu<F: VuFactory>(
    factory: &F,
    shared: &RunShared,
    run: &ScenarioRun,
    spec: &VuSpec,
    clock: &Clock,
) -> Option<F::Vu> {
    loop {
        if !clock.may_start() {
            return None;
        }
        if let Some(vu) = create_vu_once(factory, shared, run, spec).await {
            return Some(vu);
        }
        init_backoff(clock).await;
    }
}

/// Wait before re-creating a VU whose constructor failed (never past the scenario's stop).
pub(crate) async fn init_backoff(clock: &Clock) {
    tokio::time::sleep_until((Instant::now() + INIT_RETRY).min(clock.stop_at())).await;
}

/// One attempt at creating a VU (counted and logged like [`create_vu`] on failure).
pub(crate) async fn create_vu_once<F: VuFactory>(
    factory: &F,
    shared: &RunShared,
    run: &ScenarioRun,
    spec: &VuSpec,
) -> Option<F::Vu> {
    match factory.create(spec.clone()).await {
        Ok(vu) => {
            shared.allocated.fetch_add(1, Ordering::Relaxed);
            Some(vu)
        }
        Err(msg) => {
            init_failed(shared, run, spec, msg);
            None
        }
    }
}

fn init_failed(shared: &RunShared, run: &ScenarioRun, spec: &VuSpec, msg: String) {
    record(
        shared,
        run,
        names::VU_INIT_ERRORS,
        MetricKind::Counter,
        &[],
        1.0,
    );
    if shared.logged.lock().expect("log lock").insert(msg.clone()) {
        tracing::error!(scenario = %run.scenario.name, "VU {} failed to initialise: {msg}", spec.id);
    }
}

async fn vu_loop<F: VuFactory>(
    factory: &F,
    shared: &RunShared,
    run: &ScenarioRun,
    spec: VuSpec,
    clock: Clock,
    mut next: impl FnMut() -> bool,
) {
    // Boxed: creation is over before the first iteration, so its state need not stay reserved in
    // the VU's task for the VU's whole life.
    let Some(mut vu) = Box::pin(create_vu(factory, shared, run, &spec, &clock)).await else {
        return;
    };
    shared.active.fetch_add(1, Ordering::Relaxed);
    let mut buf = SampleBuffer::default();
    let mut interrupted = false;
    while clock.may_start() && next() {
        if !run_iteration(&mut vu, &clock, None, shared, run, &mut buf).await {
            interrupted = true;
            break;
        }
    }
    shared.collector.flush(&mut buf);
    shared.active.fetch_sub(1, Ordering::Relaxed);
    if !interrupted {
        vu.close().await;
    }
}

/// Run one iteration within the scenario's deadlines (and `retire`'s), record how it ended, and
/// after a failed re-initialisation wait before the next try. `false` when the iteration was
/// interrupted: the VU's instance is then in an unknown state and must be dropped.
pub(crate) async fn run_iteration<V: Vu>(
    vu: &mut V,
    clock: &Clock,
    retire: Option<Retire<'_>>,
    shared: &RunShared,
    run: &ScenarioRun,
    buf: &mut SampleBuffer,
) -> bool {
    let started = Instant::now();
    match bounded(vu, clock, retire).await {
        Some(outcome) => {
            let retry = matches!(outcome, IterationOutcome::InitFailed(_));
            record_iteration(shared, run, buf, outcome, started.elapsed());
            if retry {
                init_backoff(clock).await;
            }
            true
        }
        None => {
            record_interrupted(shared, run, buf);
            false
        }
    }
}

/// A VU's own early stop on top of the scenario's: the VU is interrupted `grace` after `retired`
/// says true (ramping-vus ramping down).
pub(crate) struct Retire<'a> {
    /// Re-evaluated whenever `changed` fires.
    pub retired: &'a (dyn Fn() -> bool + Sync),
    /// Fires when `retired` may have changed.
    pub changed: watch::Receiver<u64>,
    /// Time a retired VU gets to finish its iteration.
    pub grace: Duration,
    /// Set while the VU is retired: it no longer counts as a running VU (the `vus` metric follows
    /// the plan's stages), though it may still finish its iteration.
    pub counted_out: &'a mut bool,
    /// The run's running-VU counter.
    pub active: &'a AtomicU64,
}

/// Run one iteration, interrupting it when the scenario's hard deadline passes (which moves earlier
/// if the run is stopped meanwhile), or `grace` after the VU is retired.
pub(crate) async fn bounded<V: Vu>(
    vu: &mut V,
    clock: &Clock,
    mut retire: Option<Retire<'_>>,
) -> Option<IterationOutcome> {
    let mut stop = clock.stop.clone();
    let mut watching = true;
    let mut retire_at: Option<Instant> = None;
    let iteration = vu.iteration();
    tokio::pin!(iteration);
    loop {
        if let Some(r) = &mut retire {
            let retired = (r.retired)();
            retire_at = match (retired, retire_at) {
                (true, None) => Some(Instant::now() + r.grace),
                (true, at) => at,
                (false, _) => None,
            };
            if retired != *r.counted_out {
                *r.counted_out = retired;
                if retired {
                    r.active.fetch_sub(1, Ordering::Relaxed);
                } else {
                    r.active.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let deadline = retire_at.map_or(clock.hard_deadline(), |at| at.min(clock.hard_deadline()));
        tokio::select! {
            outcome = &mut iteration => return Some(outcome),
            _ = tokio::time::sleep_until(deadline) => return None,
            changed = stop.changed(), if watching => watching = changed.is_ok(),
            changed = async { retire.as_mut().expect("guarded").changed.changed().await }, if retire.is_some() => {
                if changed.is_err() {
                    retire = None;
                }
            }
        }
    }
}

/// Count an iteration interrupted at its deadline.
pub(crate) fn record_interrupted(shared: &RunShared, run: &ScenarioRun, buf: &mut SampleBuffer) {
    push(
        buf,
        run,
        names::INTERRUPTED_ITERATIONS,
        MetricKind::Counter,
        &[],
        1.0,
    );
    shared.collector.flush(buf);
}

pub(crate) fn record_iteration(
    shared: &RunShared,
    run: &ScenarioRun,
    buf: &mut SampleBuffer,
    outcome: IterationOutcome,
    took: Duration,
) {
    let ms = took.as_secs_f64() * 1000.0;
    match outcome {
        IterationOutcome::InitFailed(msg) => {
            push(
                buf,
                run,
                names::VU_INIT_ERRORS,
                MetricKind::Counter,
                &[],
                1.0,
            );
            shared.collector.flush(buf);
            if shared.logged.lock().expect("log lock").insert(msg.clone()) {
                tracing::error!(scenario = %run.scenario.name, "{msg}");
            }
            return;
        }
        IterationOutcome::Completed => {}
        IterationOutcome::Failed(msg) => {
            push(
                buf,
                run,
                names::ITERATION_ERRORS,
                MetricKind::Counter,
                &[("error", "failed")],
                1.0,
            );
            tracing::debug!(scenario = %run.scenario.name, "iteration failed: {msg}");
        }
        IterationOutcome::Aborted { kind, message } => {
            push(
                buf,
                run,
                names::ITERATION_ERRORS,
                MetricKind::Counter,
                &[("error", kind)],
                1.0,
            );
            if shared
                .logged
                .lock()
                .expect("log lock")
                .insert(format!("{kind}:{message}"))
            {
                tracing::error!(scenario = %run.scenario.name, "iteration aborted, the VU restarts: {message}");
            }
        }
    }
    buf.push_shared(&run.iterations, MetricKind::Counter, 1.0);
    buf.push_shared(&run.iteration_duration, MetricKind::Trend, ms);
    shared.collector.flush(buf);
}

pub(crate) fn push(
    buf: &mut SampleBuffer,
    run: &ScenarioRun,
    metric: &str,
    kind: MetricKind,
    extra: &[(&str, &str)],
    v: f64,
) {
    let mut tags = run.tags.clone();
    for (k, val) in extra {
        tags.insert(*k, *val);
    }
    buf.push(
        SeriesKey {
            metric: metric.to_owned(),
            tags,
        },
        kind,
        v,
    );
}

pub(crate) fn record(
    shared: &RunShared,
    run: &ScenarioRun,
    metric: &str,
    kind: MetricKind,
    extra: &[(&str, &str)],
    v: f64,
) {
    let mut buf = SampleBuffer::default();
    push(&mut buf, run, metric, kind, extra, v);
    shared.collector.flush(&mut buf);
}
