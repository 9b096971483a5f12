//! A Stampede worker: receives its share of a run from a coordinator, runs it with Wasm VUs, and
//! streams metric deltas back.
//!
//! The same code serves `stampede run` (coordinator and worker in one process, talking through an
//! in-process channel) and the distributed mode (the channel is a network connection). Executors
//! run over the [`Vu`] trait, so they are tested with fake VUs and tokio's paused time.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let (to_coord, _from_worker) = tokio::sync::mpsc::unbounded_channel();
//! let (_to_worker, from_coord) = tokio::sync::mpsc::unbounded_channel();
//! stampede_worker::run_worker(stampede_worker::WorkerOptions::local(), to_coord, from_coord).await?;
//! # Ok(()) }
//! ```

pub mod executor;
mod flush;
mod prepare;
pub mod vu;
pub mod wasm;

pub use executor::{RunShared, ScenarioRun, run_scenario};
pub use flush::flush_loop;
pub use prepare::check_isolation;
pub use vu::{IterationOutcome, Vu, VuFactory, VuSpec};

use prepare::Prepared;
use stampede_metrics::Collector;
use stampede_proto::{
    Capacity, CoordinatorMsg, FailureKind, MetricsDelta, PROTOCOL_VERSION, WorkerMsg,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How a worker identifies itself and where it caches compiled components.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Fleet-unique name.
    pub worker_id: String,
    /// Compiled-component cache; `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// How often metric deltas are sent.
    pub flush_interval: Duration,
    /// Threads that run VUs, each a single-threaded runtime with its part of the share (its own
    /// VUs, shared instances and connection pool).
    pub threads: usize,
}

impl WorkerOptions {
    /// The in-process worker of `stampede run`.
    pub fn local() -> Self {
        WorkerOptions {
            worker_id: "local".into(),
            cache_dir: stampede_runtime::default_cache_dir(),
            flush_interval: Duration::from_secs(1),
            threads: default_threads(),
        }
    }
}

/// One VU thread per core this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Talk to a coordinator until it says [`CoordinatorMsg::Shutdown`] or hangs up.
pub async fn run_worker(
    opts: WorkerOptions,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    mut rx: mpsc::UnboundedReceiver<CoordinatorMsg>,
) -> anyhow::Result<()> {
    let cap = stampede_runtime::host_capacity(64 << 20);
    send(
        &tx,
        WorkerMsg::Hello {
            protocol: PROTOCOL_VERSION,
            worker_id: opts.worker_id.clone(),
            capacity: Capacity {
                max_vus: cap.max_vus,
                limited_by: cap.limited_by,
            },
        },
    )?;
    let mut prepared: Option<Arc<Prepared>> = None;
    let mut stop: Option<watch::Sender<Option<Instant>>> = None;
    let seq = Arc::new(AtomicU64::new(0));
    let mut started: Option<Instant> = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            CoordinatorMsg::Assign(a) => match prepare::prepare(&opts, *a) {
                Ok(p) => {
                    prepared = Some(Arc::new(p));
                    send(&tx, WorkerMsg::Ready)?;
                }
                Err((error, kind)) => send(&tx, WorkerMsg::Failed { error, kind })?,
            },
            CoordinatorMsg::RunSetup => {
                let p = need(&prepared)?;
                let limit = p.plan.options.setup_timeout;
                let result = p
                    .scenario
                    .setup(p.run.clone(), limit)
                    .await
                    .unwrap_or_else(|e| Err(format!("setup {e}")));
                // The VU threads open connections of their own, within `max-connections`.
                p.run.client.close_idle();
                send(&tx, WorkerMsg::SetupDone { result })?;
            }
            CoordinatorMsg::Start { setup_data } => {
                let p = need(&prepared)?.clone();
                stampede_runtime::forget_logged();
                let (stop_tx, stop_rx) = watch::channel(None);
                stop = Some(stop_tx);
                started = Some(Instant::now());
                tokio::spawn(run_share(
                    p,
                    setup_data.into(),
                    stop_rx,
                    tx.clone(),
                    opts.flush_interval,
                    seq.clone(),
                ));
            }
            CoordinatorMsg::Stop { reason } => {
                tracing::info!("stopping: {reason}");
                if let Some(stop) = &stop {
                    stop.send_replace(Some(Instant::now()));
                }
            }
            CoordinatorMsg::RunTeardown { setup_data } => {
                let p = need(&prepared)?;
                let limit = p.plan.options.teardown_timeout;
                let result = p
                    .scenario
                    .teardown(p.run.clone(), &setup_data, limit)
                    .await
                    .unwrap_or_else(|e| Err(format!("teardown {e}")));
                // What teardown recorded, after the run's last delta.
                let delta = p.run.collector.take();
                if !delta.is_empty() {
                    let at_ms = started.map_or(0, |t| t.elapsed().as_millis() as u64);
                    let seq = seq.fetch_add(1, Ordering::Relaxed);
                    send(
                        &tx,
                        WorkerMsg::Metrics(MetricsDelta {
                            vus_peak: 0,
                            vus_max_peak: 0,
                            last: false,
                            seq,
                            at_ms,
                            vus: 0,
                            vus_max: 0,
                            delta,
                        }),
                    )?;
                }
                send(&tx, WorkerMsg::TeardownDone { result })?;
            }
            CoordinatorMsg::Shutdown => break,
        }
    }
    Ok(())
}

/// Run every scenario of the share, stream deltas, and say `Finished` after the last one.
async fn run_share(
    p: Arc<Prepared>,
    setup_data: Arc<[u8]>,
    stop: watch::Receiver<Option<Instant>>,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    interval: Duration,
    seq: Arc<AtomicU64>,
) {
    let collector: Arc<Collector> = p.run.collector.clone();
    let shared = Arc::new(RunShared::new(collector, stop));
    let t0 = Instant::now();
    let (done_tx, done_rx) = watch::channel(false);
    let flusher = tokio::spawn(flush_loop(
        shared.clone(),
        tx.clone(),
        t0,
        interval,
        done_rx,
        seq,
    ));
    let mut threads = Vec::new();
    for (k, part) in p.parts.iter().enumerate() {
        let (finished_tx, finished) = tokio::sync::oneshot::channel::<()>();
        let (p, shared, setup_data, part) = (p.clone(), shared.clone(), setup_data.clone(), *part);
        let spawned = std::thread::Builder::new()
            .name(format!("stampede-vus-{k}"))
            .spawn(move || run_part(&p, k, &part, shared, setup_data, t0, finished_tx));
        match spawned {
            Ok(_) => threads.push((k, finished)),
            Err(e) => tracing::error!("cannot start VU thread {k}: {e}"),
        }
    }
    for (k, finished) in threads {
        if finished.await.is_err() {
            tracing::error!("VU thread {k} failed; its VUs stopped early");
        }
    }
    let _ = done_tx.send(true);
    let _ = flusher.await;
    // The run's last second of guest output has no next line to say what it left out.
    stampede_runtime::say_left_out_lines();
    let _ = tx.send(WorkerMsg::Finished);
}

/// VU thread `k`: the scenarios of `part` of the share on a runtime of its own, with VUs that
/// send through a connection pool of their own (with the thread's share of `max-connections`).
/// Says `finished` when every scenario has ended.
fn run_part(
    p: &Prepared,
    k: usize,
    part: &stampede_plan::Segment,
    shared: Arc<RunShared>,
    setup_data: Arc<[u8]>,
    t0: Instant,
    finished: tokio::sync::oneshot::Sender<()>,
) {
    // This thread's samples go to a collector shard of its own (0 is the other threads').
    stampede_metrics::use_shard(k + 1);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start a VU runtime: {e}");
            return;
        }
    };
    let share = prepare::connection_share(p.plan.options.max_connections, p.parts.len(), k);
    let context = Arc::new(p.run.for_thread(share));
    let factory = Arc::new(p.factory(context.clone(), setup_data));
    let runs = p.scenario_runs(part);
    // Requests orphaned by a shared instance that ended get the scenarios' (longest) graceful stop
    // to finish and be recorded, like iterations still running at the end: counted from when the
    // executors finished, or from the run's stop if it was stopped. Every orphan is adopted when its
    // instance's store drops, on this thread, before the VUs waiting on that instance can finish, so
    // none is adopted after the executors are done.
    let grace = runs
        .iter()
        .map(|r| r.scenario.graceful_stop)
        .max()
        .unwrap_or_default();
    runtime.block_on(async {
        let tending = tokio::spawn({
            let context = context.clone();
            async move { context.client.tend().await }
        });
        let mut scenarios = tokio::task::JoinSet::new();
        for run in runs {
            scenarios.spawn(run_scenario(factory.clone(), shared.clone(), run, t0));
        }
        while scenarios.join_next().await.is_some() {}
        tending.abort();
        let orphans = &context.orphans;
        let now = Instant::now();
        let from = shared.stop.borrow().map_or(now, |stopped| stopped.min(now));
        if tokio::time::timeout_at(from + grace, orphans.settled())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} requests of ended shared instances were still unanswered after the graceful \
                 stop ({grace:?}); they are not counted",
                orphans.pending()
            );
        }
    });
    let _ = finished.send(());
    // Interrupted VUs' instances and idle connections may still have tasks: do not wait for them.
    runtime.shutdown_background();
}

fn need(p: &Option<Arc<Prepared>>) -> anyhow::Result<&Arc<Prepared>> {
    p.as_ref().ok_or_else(|| {
        anyhow::anyhow!("protocol error: the coordinator sent a command before an assignment")
    })
}

fn send(tx: &mpsc::UnboundedSender<WorkerMsg>, msg: WorkerMsg) -> anyhow::Result<()> {
    tx.send(msg)
        .map_err(|_| anyhow::anyhow!("the coordinator hung up"))
}

/// Marks failures of an assignment.
pub(crate) fn bad_input(e: impl std::fmt::Display) -> (String, FailureKind) {
    (e.to_string(), FailureKind::BadInput)
}
