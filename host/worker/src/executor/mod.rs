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
use stampede_plan::{Executor, PauseRng, Scenario};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, oneshot, watch};
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
    /// The most `active` since [`RunShared::take_peaks`] last ran.
    peak_active: AtomicU64,
    /// The most `allocated` since [`RunShared::take_peaks`] last ran.
    peak_allocated: AtomicU64,
    /// When set, the run was asked to stop at that instant (graceful stop applies from there).
    pub stop: watch::Receiver<Option<Instant>>,
    /// Messages already logged, per [`Logged`] kind, so each distinct one is logged once.
    logged: Mutex<[HashSet<String>; 2]>,
    /// What the VU threads share about each scenario, by scenario index.
    siblings: Mutex<HashMap<usize, Arc<Siblings>>>,
}

/// What the VU threads of one worker share about one scenario, so that its VUs form one pool, as
/// a k6 process's do: each thread runs its exact part of the worker's share, and turns to the
/// other threads' parts only where its own falls short (an arrival with no idle VU on its thread,
/// a thread whose part of the shared iterations is done).
#[derive(Default)]
pub(crate) struct Siblings {
    /// `shared-iterations`: each thread's iterations left.
    left: Mutex<Vec<Arc<AtomicU64>>>,
    /// Arrival-rate executors: each thread's idle VUs.
    doors: Mutex<Vec<Arc<arrival_rate::Door>>>,
    /// Arrival-rate executors: whether this worker said that every VU it may have is busy.
    said_busy: AtomicBool,
}

impl Siblings {
    /// Take one of the shared iterations: `mine` first, then any other thread's.
    fn take_iteration(&self, mine: &AtomicU64) -> bool {
        let take = |left: &AtomicU64| {
            left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        };
        take(mine) || lock(&self.left).iter().any(|left| take(left))
    }
}

/// `mutex`'s guard, also after a panic elsewhere (its data stays valid: every update is whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a logged message is about: each kind has its own budget of [`MAX_LOGGED`] messages, so
/// a flood of iteration failures never hides a trap or an init error.
#[derive(Clone, Copy, Debug)]
enum Logged {
    /// The VU is lost or restarted: an init failure, a trap, a limit (logged as errors).
    Abort = 0,
    /// The guest's iteration returned an error (logged as a warning).
    Failure = 1,
}

/// Distinct messages of each [`Logged`] kind logged per worker; past this, they are only counted
/// (messages that carry an id each would otherwise flood the log and grow the set without bound).
const MAX_LOGGED: usize = 100;

impl RunShared {
    /// Shared state reporting into `collector` and stopping when `stop` gets a value.
    pub fn new(collector: Arc<Collector>, stop: watch::Receiver<Option<Instant>>) -> Self {
        RunShared {
            collector,
            active: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            peak_active: AtomicU64::new(0),
            peak_allocated: AtomicU64::new(0),
            stop,
            logged: Mutex::default(),
            siblings: Mutex::default(),
        }
    }

    /// What the VU threads share about scenario `index`.
    pub(crate) fn siblings(&self, index: usize) -> Arc<Siblings> {
        lock(&self.siblings).entry(index).or_default().clone()
    }

    /// One more VU runs (counted in `active` and its peak).
    pub(crate) fn vu_active(&self) {
        let now = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_active.fetch_max(now, Ordering::Relaxed);
    }

    /// One more VU is allocated (counted in `allocated` and its peak).
    pub(crate) fn vu_allocated(&self) {
        let now = self.allocated.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_allocated.fetch_max(now, Ordering::Relaxed);
    }

    /// The most VUs active and allocated at once since the last call (at least the counts now),
    /// and the next period starts from the counts now.
    pub fn take_peaks(&self) -> (u64, u64) {
        let take = |count: &AtomicU64, peak: &AtomicU64| {
            let now = count.load(Ordering::Relaxed);
            peak.swap(now, Ordering::Relaxed).max(now)
        };
        (
            take(&self.active, &self.peak_active),
            take(&self.allocated, &self.peak_allocated),
        )
    }

    /// True the first time `message` of `kind` is seen (up to [`MAX_LOGGED`] distinct messages of
    /// that kind): the caller logs it then.
    fn first_time(&self, kind: Logged, message: &str) -> bool {
        let mut all = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let logged = &mut all[kind as usize];
        if logged.len() >= MAX_LOGGED || logged.contains(message) {
            return false;
        }
        logged.insert(message.to_owned());
        if logged.len() == MAX_LOGGED {
            let what = match kind {
                Logged::Abort => "VU errors",
                Logged::Failure => "iteration failures",
            };
            tracing::warn!(
                "{MAX_LOGGED} distinct messages of {what} logged; further ones are only counted in the metrics"
            );
        }
        true
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
    iteration_delay: Arc<SeriesKey>,
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
            iteration_delay: key(names::ITERATION_DELAY),
            tags,
        }
    }
}

/// The scenario's clock: when iterations may start and when running ones are interrupted. One per
/// scenario, shared by its VUs: the hard deadline is watched by one timer task for the whole
/// scenario, not by a timer per VU and iteration.
#[derive(Clone)]
pub(crate) struct Clock(Arc<Deadlines>);

struct Deadlines {
    end: Instant,
    graceful: Duration,
    stop: watch::Receiver<Option<Instant>>,
    /// Set at the hard deadline, by [`keep_deadline`].
    passed: AtomicBool,
    interrupt: Arc<Notify>,
    /// Dropped with the last clone of the clock, which ends `keep_deadline`.
    _alive: oneshot::Sender<()>,
}

impl Clock {
    /// A clock for a scenario that started now and runs `duration`.
    pub(crate) fn starting_now(run: &ScenarioRun, shared: &RunShared, duration: Duration) -> Clock {
        let (alive, gone) = oneshot::channel();
        let clock = Clock(Arc::new(Deadlines {
            end: Instant::now() + duration,
            graceful: run.scenario.graceful_stop,
            stop: shared.stop.clone(),
            passed: AtomicBool::new(false),
            interrupt: Arc::new(Notify::new()),
            _alive: alive,
        }));
        tokio::spawn(keep_deadline(Arc::downgrade(&clock.0), gone));
        clock
    }

    /// When new iterations stop: the scenario's end, or earlier if the run was stopped.
    pub(crate) fn stop_at(&self) -> Instant {
        // Until the run is stopped (the usual case) the stop switch's value is not read: that takes
        // its lock, shared by every VU thread, on every iteration. Whether a value was ever sent is
        // one atomic load (this clock's receiver never marks a value seen, so once a stop came,
        // `has_changed` stays true).
        if matches!(self.0.stop.has_changed(), Ok(false)) {
            return self.0.end;
        }
        stop_at(self.0.end, &self.0.stop)
    }

    /// Whether a new iteration may start now.
    pub(crate) fn may_start(&self) -> bool {
        Instant::now() < self.stop_at()
    }

    /// Whether the hard deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.0.passed.load(Ordering::Acquire)
    }

    /// A VU's watch on the hard deadline, for the VU's whole life (see [`Interrupt`]).
    pub(crate) fn interrupt(&self) -> Interrupt {
        Interrupt {
            // Created before the flag is first read, so a deadline passing in between is not missed.
            notified: Box::pin(self.0.interrupt.clone().notified_owned()),
            clock: self.clone(),
            registered: None,
        }
    }
}

/// One VU's watch on its scenario's hard deadline: the scenario's stop plus its graceful stop
/// (which moves earlier if the run is stopped meanwhile). It registers with the scenario's one
/// [`Notify`] once, for the VU's life, not once per iteration: that registration takes the lock
/// of the `Notify`, which every VU of the scenario on this thread shares, on the way in and out.
/// Between iterations and while one runs, a look at it is an atomic load (the deadline flag) and a
/// waker comparison.
pub(crate) struct Interrupt {
    clock: Clock,
    notified: Pin<Box<OwnedNotified>>,
    /// The waker the registration holds: polled with another, it registers that one instead.
    registered: Option<Waker>,
}

impl Interrupt {
    /// The scenario's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Resolves at the hard deadline (at once if it has passed).
    pub(crate) fn wait(&mut self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_passed(cx))
    }

    fn poll_passed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.passed() {
            return Poll::Ready(());
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            // `keep_deadline` sets the flag before it wakes the registered waker: this one.
            return Poll::Pending;
        }
        match self.notified.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => {
                self.registered = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A VU's pauses between iterations: the scenario's `pause`, drawn from the VU's own random source.
pub(crate) struct Pauses {
    pause: stampede_plan::Pause,
    rng: PauseRng,
    /// No pause before a VU's first iteration.
    first: bool,
}

impl Pauses {
    pub(crate) fn new(run: &ScenarioRun, vu_id: u64) -> Pauses {
        Pauses {
            pause: run.scenario.pause,
            rng: PauseRng::for_vu(vu_id),
            first: true,
        }
    }

    /// Before an iteration: wait out the pause since the previous one (none before the first, or
    /// without a `pause`). It ends early when the scenario stops (or the run is stopped), or when
    /// `cut` resolves (a ramping VU retired). False when iterations may no longer start.
    pub(crate) async fn before_iteration(
        &mut self,
        clock: &Clock,
        cut: impl Future<Output = ()>,
    ) -> bool {
        if std::mem::take(&mut self.first) || self.pause.is_zero() {
            return true;
        }
        // A pause too long to add to the clock lasts until the scenario's end.
        let until = Instant::now()
            .checked_add(self.pause.draw(&mut self.rng))
            .unwrap_or_else(|| clock.stop_at());
        let mut stop = clock.0.stop.clone();
        // Whether the run's stop switch is still there to watch.
        let mut watching = true;
        tokio::pin!(cut);
        loop {
            let end = until.min(clock.stop_at());
            tokio::select! {
                _ = tokio::time::sleep_until(end) => break,
                _ = &mut cut => break,
                changed = stop.changed(), if watching => watching = changed.is_ok(),
            }
        }
        clock.may_start()
    }

    /// The VU starts (again) after waiting for its turn: no pause before its next iteration.
    pub(crate) fn restart(&mut self) {
        self.first = true;
    }
}

fn stop_at(end: Instant, stop: &watch::Receiver<Option<Instant>>) -> Instant {
    match *stop.borrow() {
        Some(s) if s < end => s,
        _ => end,
    }
}

/// A scenario's one deadline timer: interrupts running iterations at the hard deadline, re-aimed
/// whenever the run is stopped. Ends early once every clone of the clock is gone.
async fn keep_deadline(clock: Weak<Deadlines>, mut gone: oneshot::Receiver<()>) {
    let Some((mut stop, end, graceful)) =
        clock.upgrade().map(|c| (c.stop.clone(), c.end, c.graceful))
    else {
        return;
    };
    let mut watching = true;
    loop {
        let hard = stop_at(end, &stop) + graceful;
        tokio::select! {
            _ = tokio::time::sleep_until(hard) => {
                if let Some(clock) = clock.upgrade() {
                    clock.passed.store(true, Ordering::Release);
                    clock.interrupt.notify_waiters();
                }
                return;
            }
            changed = stop.changed(), if watching => watching = changed.is_ok(),
            _ = &mut gone => return,
        }
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
    let clock = Clock::starting_now(&run, &shared, duration);
    for i in 0..vus {
        let clock = clock.clone();
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
            shared.vu_allocated();
            Some(vu)
        }
        Err(msg) => {
            init_failed(shared, run, spec, msg);
            None
        }
    }
}

fn init_failed(shared: &RunShared, run: &ScenarioRun, spec: &VuSpec, msg: String) {
    record_one(
        shared,
        run,
        names::VU_INIT_ERRORS,
        MetricKind::Counter,
        &[],
        1.0,
    );
    if shared.first_time(Logged::Abort, &msg) {
        tracing::error!(scenario = %run.scenario.name, "VU {} failed to initialise: {msg}", spec.id);
    }
}

pub(crate) async fn vu_loop<F: VuFactory>(
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
    shared.vu_active();
    let mut interrupted = false;
    let mut pauses = Pauses::new(run, spec.id);
    let mut interrupt = clock.interrupt();
    while clock.may_start() && next() {
        if !pauses
            .before_iteration(&clock, std::future::pending())
            .await
        {
            break;
        }
        if !run_iteration(&mut vu, &mut interrupt, None, shared, run, None).await {
            interrupted = true;
            break;
        }
    }
    shared.active.fetch_sub(1, Ordering::Relaxed);
    if !interrupted {
        vu.close().await;
    }
}

/// Run one iteration within the scenario's deadlines (`interrupt`'s, and `retire`'s), record how it
/// ended (with `delay`, how late it started, for the arrival-rate executors), and after a failed
/// re-initialisation wait before the next try. `false` when the iteration was interrupted: the VU's
/// instance is then in an unknown state and must be dropped.
pub(crate) async fn run_iteration<V: Vu>(
    vu: &mut V,
    interrupt: &mut Interrupt,
    retire: Option<&mut Retire<'_>>,
    shared: &RunShared,
    run: &ScenarioRun,
    delay: Option<Duration>,
) -> bool {
    let started = Instant::now();
    let outcome = bounded(vu, interrupt, retire).await;
    let took = started.elapsed();
    let mut retry = false;
    record(shared, |buf| {
        if let Some(delay) = delay {
            buf.push_shared(&run.iteration_delay, MetricKind::Trend, ms(delay));
        }
        match &outcome {
            Some(outcome) => {
                retry = matches!(outcome, IterationOutcome::InitFailed(_));
                record_iteration(buf, shared, run, outcome, took);
            }
            None => push(
                buf,
                run,
                names::INTERRUPTED_ITERATIONS,
                MetricKind::Counter,
                &[],
                1.0,
            ),
        }
    });
    if retry {
        // Boxed: the rare path's timer need not take room in every VU's task.
        Box::pin(init_backoff(interrupt.clock())).await;
    }
    outcome.is_some()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
    /// The run's counters (a VU counted back in raises the `vus` peak as any VU start does).
    pub shared: &'a RunShared,
}

/// Run one iteration, interrupting it when the scenario's hard deadline passes (which moves earlier
/// if the run is stopped meanwhile), or `grace` after the VU is retired.
pub(crate) async fn bounded<V: Vu>(
    vu: &mut V,
    interrupt: &mut Interrupt,
    retire: Option<&mut Retire<'_>>,
) -> Option<IterationOutcome> {
    if interrupt.clock().passed() {
        // Its deadline passed before it started (an arrival-rate VU that got its job late).
        return None;
    }
    match retire {
        // Boxed: only ramping VUs can be retired, and this future is part of every VU's task.
        Some(retire) => Box::pin(bounded_retiring(vu, interrupt, retire)).await,
        None => {
            tokio::select! {
                biased;
                outcome = vu.iteration() => Some(outcome),
                _ = interrupt.wait() => None,
            }
        }
    }
}

async fn bounded_retiring<V: Vu>(
    vu: &mut V,
    interrupt: &mut Interrupt,
    retire: &mut Retire<'_>,
) -> Option<IterationOutcome> {
    // A retired VU's own deadline, `grace` after it was retired.
    let mut grace_timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut watching = true;
    let iteration = vu.iteration();
    tokio::pin!(iteration);
    let interrupted = interrupt.wait();
    tokio::pin!(interrupted);
    loop {
        let retired = (retire.retired)();
        match (retired, &grace_timer) {
            (true, None) => grace_timer = Some(Box::pin(tokio::time::sleep(retire.grace))),
            (false, Some(_)) => grace_timer = None,
            _ => {}
        }
        if retired != *retire.counted_out {
            *retire.counted_out = retired;
            if retired {
                retire.shared.active.fetch_sub(1, Ordering::Relaxed);
            } else {
                retire.shared.vu_active();
            }
        }
        tokio::select! {
            outcome = &mut iteration => return Some(outcome),
            _ = &mut interrupted => return None,
            _ = async { grace_timer.as_mut().expect("guarded").await }, if grace_timer.is_some() => return None,
            changed = retire.changed.changed(), if watching => watching = changed.is_ok(),
        }
    }
}

/// Samples of one finished iteration.
fn record_iteration(
    buf: &mut SampleBuffer,
    shared: &RunShared,
    run: &ScenarioRun,
    outcome: &IterationOutcome,
    took: Duration,
) {
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
            if shared.first_time(Logged::Abort, msg) {
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
            if shared.first_time(Logged::Failure, msg) {
                tracing::warn!(scenario = %run.scenario.name, "iteration failed: {msg}");
            } else {
                tracing::debug!(scenario = %run.scenario.name, "iteration failed: {msg}");
            }
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
            if shared.first_time(Logged::Abort, &format!("{kind}:{message}")) {
                tracing::error!(scenario = %run.scenario.name, "iteration aborted, the VU restarts: {message}");
            }
        }
    }
    buf.push_shared(&run.iterations, MetricKind::Counter, 1.0);
    buf.push_shared(&run.iteration_duration, MetricKind::Trend, ms(took));
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

thread_local! {
    /// Samples on their way to the collector: filled and flushed with no await in between, so VUs
    /// need no buffer of their own.
    static SCRATCH: RefCell<SampleBuffer> = RefCell::default();
}

/// Record the samples `fill` pushes (at once, into the run's collector).
pub(crate) fn record(shared: &RunShared, fill: impl FnOnce(&mut SampleBuffer)) {
    SCRATCH.with_borrow_mut(|buf| {
        // Whatever a panicking `fill` left behind is not this call's.
        buf.clear();
        fill(buf);
        shared.collector.flush(buf);
    });
}

/// Record one sample of `metric`, tagged with the scenario's tags and `extra`.
pub(crate) fn record_one(
    shared: &RunShared,
    run: &ScenarioRun,
    metric: &str,
    kind: MetricKind,
    extra: &[(&str, &str)],
    v: f64,
) {
    record(shared, |buf| push(buf, run, metric, kind, extra, v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_message_is_logged_once_up_to_a_cap_per_kind() {
        let (_tx, stop) = watch::channel(None);
        let shared = RunShared::new(Arc::new(Collector::default()), stop);
        assert!(shared.first_time(Logged::Failure, "boom"));
        assert!(!shared.first_time(Logged::Failure, "boom"));
        for i in 1..MAX_LOGGED {
            assert!(shared.first_time(Logged::Failure, &format!("boom {i}")));
        }
        assert!(!shared.first_time(Logged::Failure, "one too many"));
        assert!(!shared.first_time(Logged::Failure, "boom 1"));
        // Failures used up their budget, not the one of traps and init errors.
        assert!(shared.first_time(Logged::Abort, "boom"));
        assert!(shared.first_time(Logged::Abort, "trap: unreachable"));
        assert!(!shared.first_time(Logged::Abort, "boom"));
    }
}
