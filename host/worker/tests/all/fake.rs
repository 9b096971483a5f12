//! A fake [`VuFactory`] whose VUs sleep on tokio's clock and end as scripted, and a harness that runs
//! one scenario with it and reads back the metrics.

use stampede_metrics::{Aggregate, Collector, Selector, Sink, TagSet};
use stampede_plan::{DEFAULT_GRACEFUL_STOP, Executor, Scenario};
use stampede_worker::{
    IterationOutcome, RunShared, ScenarioRun, Vu, VuFactory, VuSpec, run_scenario,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// What one iteration does.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sleep this long, then end with the outcome.
    After(Duration, IterationOutcome),
    /// Never end (only a graceful-stop deadline gets the VU out).
    Hang,
}

/// Every iteration of every VU sleeps `d` and completes.
pub fn sleeps(d: Duration) -> Step {
    Step::After(d, IterationOutcome::Completed)
}

/// Decides each iteration from the VU id and the VU's iteration number (from 0).
type Script = dyn Fn(u64, u64) -> Step + Send + Sync;

/// What the fake VUs did, as offsets from the harness's `t0`.
#[derive(Debug, Default)]
pub struct Log {
    /// Every `create` call, failed or not.
    pub create_calls: AtomicU64,
    /// VUs created: id and when.
    pub created: Mutex<Vec<(u64, Duration)>>,
    /// Iterations started: VU id and when.
    pub started: Mutex<Vec<(u64, Duration)>>,
    /// VUs closed normally.
    pub closed: AtomicU64,
}

impl Log {
    /// Iterations started per VU id.
    pub fn per_vu(&self) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for (id, _) in self.started.lock().unwrap().iter() {
            *m.entry(*id).or_default() += 1;
        }
        m
    }

    /// VU ids created, sorted.
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .created
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }
}

/// Creates [`FakeVu`]s; the first `init_failures` calls of `create` fail.
pub struct FakeFactory {
    script: Arc<Script>,
    init_failures: AtomicU64,
    t0: Instant,
    pub log: Arc<Log>,
}

impl FakeFactory {
    /// VUs that follow `script`; `t0` is the origin of the log's offsets.
    pub fn new(t0: Instant, script: impl Fn(u64, u64) -> Step + Send + Sync + 'static) -> Self {
        FakeFactory {
            script: Arc::new(script),
            init_failures: AtomicU64::new(0),
            t0,
            log: Arc::default(),
        }
    }

    /// Make the first `n` calls of `create` fail.
    pub fn failing_init(self, n: u64) -> Self {
        self.init_failures.store(n, Ordering::Relaxed);
        self
    }
}

impl VuFactory for FakeFactory {
    type Vu = FakeVu;

    async fn create(&self, spec: VuSpec) -> Result<FakeVu, String> {
        self.log.create_calls.fetch_add(1, Ordering::Relaxed);
        let failing = self
            .init_failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err("constructor failed".into());
        }
        self.log
            .created
            .lock()
            .unwrap()
            .push((spec.id, self.t0.elapsed()));
        Ok(FakeVu {
            id: spec.id,
            n: 0,
            script: self.script.clone(),
            log: self.log.clone(),
            t0: self.t0,
        })
    }
}

/// A VU that sleeps on tokio's clock.
pub struct FakeVu {
    id: u64,
    n: u64,
    script: Arc<Script>,
    log: Arc<Log>,
    t0: Instant,
}

impl Vu for FakeVu {
    async fn iteration(&mut self) -> IterationOutcome {
        let step = (self.script)(self.id, self.n);
        self.n += 1;
        self.log
            .started
            .lock()
            .unwrap()
            .push((self.id, self.t0.elapsed()));
        match step {
            Step::After(d, outcome) => {
                tokio::time::sleep(d).await;
                outcome
            }
            Step::Hang => std::future::pending().await,
        }
    }

    async fn close(self) {
        self.log.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The plan scenario `main` with default settings around `executor`.
pub fn scenario(executor: Executor) -> Scenario {
    Scenario {
        name: "main".into(),
        exec: "main".into(),
        executor,
        start_time: Duration::ZERO,
        graceful_stop: DEFAULT_GRACEFUL_STOP,
        tags: TagSet::empty(),
        isolation: Default::default(),
        vus_per_instance: stampede_plan::DEFAULT_VUS_PER_INSTANCE,
        pause: Default::default(),
    }
}

/// Shared run state, its stop switch and the run's start.
pub struct Harness {
    pub shared: Arc<RunShared>,
    pub stop: watch::Sender<Option<Instant>>,
    pub t0: Instant,
}

impl Harness {
    pub fn new() -> Self {
        let (stop, stop_rx) = watch::channel(None);
        Harness {
            shared: Arc::new(RunShared::new(Arc::new(Collector::default()), stop_rx)),
            stop,
            t0: Instant::now(),
        }
    }

    /// `run_scenario` of `scenario` with `factory`, as a task.
    pub fn spawn(
        &self,
        factory: &Arc<FakeFactory>,
        scenario: Scenario,
    ) -> tokio::task::JoinHandle<()> {
        let run = ScenarioRun::new(0, scenario, 1, TagSet::new([("scenario", "main")]));
        tokio::spawn(run_scenario(
            factory.clone(),
            self.shared.clone(),
            run,
            self.t0,
        ))
    }

    /// Run `scenario` split into `parts` even segments, each run as a worker's VU thread runs its
    /// part (its executor scaled, its own VU ids), all sharing this harness's run state; returns
    /// how long it took and every sample recorded.
    pub async fn run_split(
        &self,
        factory: &Arc<FakeFactory>,
        scenario: Scenario,
        parts: u64,
    ) -> (Duration, Aggregate) {
        let total = scenario.executor.max_vus();
        let tasks: Vec<_> = stampede_plan::Segment::split_even(parts)
            .iter()
            .map(|part| {
                let mut scenario = scenario.clone();
                scenario.executor = scenario.executor.for_segment(part);
                let first_id = 1 + part.index_range(total).start;
                let run =
                    ScenarioRun::new(0, scenario, first_id, TagSet::new([("scenario", "main")]));
                tokio::spawn(run_scenario(
                    factory.clone(),
                    self.shared.clone(),
                    run,
                    self.t0,
                ))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (self.t0.elapsed(), self.shared.collector.take())
    }

    /// Run `scenario` to its end; returns how long it took and every sample it recorded.
    pub async fn run(
        &self,
        factory: &Arc<FakeFactory>,
        scenario: Scenario,
    ) -> (Duration, Aggregate) {
        self.spawn(factory, scenario).await.unwrap();
        (self.t0.elapsed(), self.shared.collector.take())
    }

    /// VUs running and allocated.
    pub fn vus(&self) -> (u64, u64) {
        (
            self.shared.active.load(Ordering::Relaxed),
            self.shared.allocated.load(Ordering::Relaxed),
        )
    }

    /// Ask the run to stop now.
    pub fn stop_now(&self) {
        self.stop.send_replace(Some(Instant::now()));
    }
}

/// The sum of counter `selector` (`0` when it has no samples).
pub fn count(agg: &Aggregate, selector: &str) -> u64 {
    match agg.select(&Selector::parse(selector).unwrap()) {
        Some(Sink::Counter(c)) => c.sum as u64,
        None => 0,
        Some(other) => panic!("{selector} is a {:?}, not a counter", other.kind()),
    }
}

/// Seconds as a `Duration`.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
