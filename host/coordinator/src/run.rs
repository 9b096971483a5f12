//! One run, start to end: hello, assignment, setup, start, metric deltas with live thresholds,
//! teardown, report. Workers are reached through channels; `stampede run` connects one in-process
//! worker, the distributed mode connects remote ones.

use crate::error::CoordinatorError;
use crate::metrics::{RunMetrics, counts};
use crate::report::{self, Report, RunInfo, RunStatus};
use stampede_metrics::TrendStat;
use stampede_plan::{Plan, Segment};
use stampede_proto::{
    Assignment, ComponentBlob, CoordinatorMsg, PROTOCOL_VERSION, PlanSource, SegmentSpec, WorkerMsg,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How often live stats refresh and abort-on-fail thresholds are evaluated.
const TICK: Duration = Duration::from_secs(1);
/// Extra time given to a worker beyond the plan's setup/teardown timeout (compilation, messaging).
const LIFECYCLE_MARGIN: Duration = Duration::from_secs(30);
/// How long a run may go on after its first failed VU initialisation while no VU has started: long
/// enough for a target that is still coming up (a VU retries every second), short enough that a
/// scenario that cannot start does not hold the run until its `max-duration` (10 minutes by
/// default for the iteration executors). k6 stops at the first failure; VUs here retry, so a run
/// whose target starts late still runs.
pub const NO_VU_GRACE: Duration = Duration::from_secs(10);

/// What to run.
pub struct RunSpec {
    /// Unique run id.
    pub run_id: String,
    /// The validated plan (with overrides applied).
    pub plan: Arc<Plan>,
    /// The plan as workers receive it.
    pub source: PlanSource,
    /// The scenario component.
    pub component: ComponentBlob,
}

/// The workers: a sender per worker, and one stream of `(worker index, message)`.
pub struct Workers {
    /// To each worker.
    pub senders: Vec<mpsc::UnboundedSender<CoordinatorMsg>>,
    /// From all workers.
    pub incoming: mpsc::UnboundedReceiver<(usize, WorkerMsg)>,
}

/// Where the run stands, refreshed every second for progress displays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStats {
    /// Since the scenarios started.
    pub elapsed: Duration,
    /// VUs running.
    pub vus: u64,
    /// VUs allocated.
    pub vus_max: u64,
    /// Iterations completed.
    pub iterations: u64,
    /// Requests completed.
    pub http_reqs: u64,
    /// Requests per second over the last second.
    pub rps: u64,
    /// Failed requests plus `iteration_errors` (failed, trapped or timed-out iterations).
    pub errors: u64,
    /// Set once the run is stopping early.
    pub stopping: Option<String>,
}

struct Session {
    workers: Workers,
    ids: Vec<String>,
}

impl Session {
    fn broadcast(&self, msg: &CoordinatorMsg) {
        for tx in &self.workers.senders {
            let _ = tx.send(msg.clone());
        }
    }

    /// The next message, or an error if every worker hung up.
    async fn next(&mut self) -> Result<(usize, WorkerMsg), CoordinatorError> {
        match self.workers.incoming.recv().await {
            Some((i, WorkerMsg::Failed { error, kind })) => {
                let _ = i;
                Err(CoordinatorError::WorkerFailed { error, kind })
            }
            Some(m) => Ok(m),
            None => Err(CoordinatorError::WorkerLost(
                self.ids.first().cloned().unwrap_or_else(|| "?".into()),
            )),
        }
    }

    async fn next_within(
        &mut self,
        limit: Duration,
        what: &str,
    ) -> Result<(usize, WorkerMsg), CoordinatorError> {
        tokio::time::timeout(limit, self.next())
            .await
            .map_err(|_| {
                CoordinatorError::Protocol(format!(
                    "no answer from the workers within {limit:?} while waiting for {what}"
                ))
            })?
    }
}

/// Run `spec` on `workers`. `live` receives progress; a value on `abort` stops the run early (with
/// graceful stop), as Ctrl-C does.
pub async fn run(
    spec: RunSpec,
    workers: Workers,
    live: watch::Sender<LiveStats>,
    mut abort: watch::Receiver<Option<String>>,
) -> Result<Report, CoordinatorError> {
    let n = workers.senders.len();
    let mut s = Session {
        workers,
        ids: vec![String::new(); n],
    };
    let plan = spec.plan.clone();
    let hello_limit = LIFECYCLE_MARGIN;

    // 1. hello from every worker
    let mut caps = vec![0u64; n];
    let mut limited = String::new();
    for _ in 0..n {
        match s.next_within(hello_limit, "hello").await? {
            (
                i,
                WorkerMsg::Hello {
                    protocol,
                    worker_id,
                    capacity,
                },
            ) => {
                if protocol != PROTOCOL_VERSION {
                    return Err(CoordinatorError::Protocol(format!(
                        "worker {worker_id} speaks protocol {protocol}, this coordinator {PROTOCOL_VERSION}; run the same Stampede version everywhere"
                    )));
                }
                s.ids[i] = worker_id;
                caps[i] = capacity.max_vus;
                limited = capacity.limited_by;
            }
            (_, other) => return Err(unexpected("hello", &other)),
        }
    }
    let available: u64 = caps.iter().sum();
    // Capacity counts instances: with shared isolation many VUs share one.
    if plan.max_instances() > available {
        return Err(CoordinatorError::Capacity {
            needed: plan.max_instances(),
            available,
            limited_by: limited,
        });
    }

    // 2. assignments, weighted by capacity
    for (i, seg) in Segment::split_weighted(&caps).into_iter().enumerate() {
        let segment = SegmentSpec {
            from: (seg.from.num(), seg.from.den()),
            to: (seg.to.num(), seg.to.den()),
        };
        let a = Assignment {
            run_id: spec.run_id.clone(),
            plan: spec.source.clone(),
            component: spec.component.clone(),
            segment,
            worker_index: i as u32,
        };
        let _ = s.workers.senders[i].send(CoordinatorMsg::Assign(Box::new(a)));
    }
    for _ in 0..n {
        match s
            .next_within(
                hello_limit + Duration::from_secs(300),
                "the component to compile",
            )
            .await?
        {
            (_, WorkerMsg::Ready) => {}
            (_, other) => return Err(unexpected("ready", &other)),
        }
    }

    // 3. setup on worker 0
    let _ = s.workers.senders[0].send(CoordinatorMsg::RunSetup);
    let setup_data = match s
        .next_within(plan.options.setup_timeout + LIFECYCLE_MARGIN, "setup")
        .await?
    {
        (_, WorkerMsg::SetupDone { result: Ok(data) }) => data,
        (_, WorkerMsg::SetupDone { result: Err(e) }) => {
            s.broadcast(&CoordinatorMsg::Shutdown);
            return Err(CoordinatorError::Setup(e));
        }
        (_, other) => return Err(unexpected("setup", &other)),
    };

    // 4. the run itself
    s.broadcast(&CoordinatorMsg::Start {
        setup_data: setup_data.clone(),
    });
    let t0 = Instant::now();
    let mut metrics = RunMetrics::default();
    metrics.planned_end_ms = Some(plan.planned_end().as_millis() as u64);
    let mut finished = vec![false; n];
    let mut stopping: Option<String> = None;
    // Whether the stop came from outside (the abort switch: Ctrl-C, a signal), not a threshold.
    let mut stopped_from_outside = false;
    // When the first VU initialisation failure was seen while no VU had started (and every
    // scenario had started).
    let mut failing_since: Option<Duration> = None;
    let last_start = plan
        .scenarios
        .iter()
        .map(|s| s.start_time)
        .max()
        .unwrap_or_default();
    // Once the abort switch is dropped, `changed()` fails at once on every poll: stop watching it.
    let mut abort_open = true;
    let mut tick = tokio::time::interval_at(t0 + TICK, TICK);
    while !finished.iter().all(|f| *f) {
        tokio::select! {
            msg = s.next() => match msg? {
                (i, WorkerMsg::Metrics(d)) => metrics.apply(&s.ids[i], d)?,
                (i, WorkerMsg::Finished) => {
                    finished[i] = true;
                    metrics.finish(&s.ids[i]);
                }
                (_, other) => return Err(unexpected("metrics", &other)),
            },
            _ = tick.tick() => {
                let elapsed = t0.elapsed();
                let reason = abort_reason(&plan, &metrics, elapsed).or_else(|| {
                    no_vu_reason(&metrics, elapsed, last_start, &mut failing_since)
                });
                if stopping.is_none() && let Some(reason) = reason {
                    s.broadcast(&CoordinatorMsg::Stop { reason: reason.clone() });
                    stopping = Some(reason);
                }
                live.send_replace(live_stats(&metrics, elapsed, &stopping));
            }
            changed = abort.changed(), if stopping.is_none() && abort_open => {
                let reason = match changed {
                    Ok(()) => abort.borrow().clone(),
                    Err(_) => {
                        abort_open = false;
                        None
                    }
                };
                if let Some(reason) = reason {
                    s.broadcast(&CoordinatorMsg::Stop { reason: reason.clone() });
                    stopping = Some(reason);
                    stopped_from_outside = true;
                }
            }
        }
    }
    let elapsed = t0.elapsed();
    live.send_replace(live_stats(&metrics, elapsed, &stopping));

    // 5. teardown on worker 0
    let _ = s.workers.senders[0].send(CoordinatorMsg::RunTeardown { setup_data });
    let mut teardown_failed = None;
    loop {
        match s
            .next_within(plan.options.teardown_timeout + LIFECYCLE_MARGIN, "teardown")
            .await?
        {
            (_, WorkerMsg::TeardownDone { result }) => {
                if let Err(e) = result {
                    tracing::error!("teardown failed: {e}");
                    teardown_failed = Some(e);
                }
                break;
            }
            (i, WorkerMsg::Metrics(d)) => metrics.apply(&s.ids[i], d)?,
            (_, other) => return Err(unexpected("teardown", &other)),
        }
    }
    s.broadcast(&CoordinatorMsg::Shutdown);

    let info = RunInfo {
        id: spec.run_id,
        component: spec.component.name,
        component_sha256: spec.component.sha256,
        duration_s: elapsed.as_secs_f64(),
        workers: n,
        status: RunStatus::Passed,
        aborted: stopping,
        teardown_failed,
    };
    // Checked when the plan was read: every entry is a statistic.
    let stats: Vec<TrendStat> = plan
        .options
        .summary_trend_stats
        .iter()
        .filter_map(|s| TrendStat::parse(s).ok())
        .collect();
    // A run stopped from outside is judged on the part that ran, as during the run: what it had
    // no time to measure (a stop while the component compiled) fails no threshold.
    let when = if stopped_from_outside {
        report::When::During
    } else {
        report::When::AtEnd
    };
    Ok(report::build_judged(
        info,
        &metrics,
        &plan.thresholds,
        &stats,
        elapsed.as_secs_f64(),
        when,
    ))
}

fn unexpected(phase: &str, msg: &WorkerMsg) -> CoordinatorError {
    let name = serde_json::to_value(msg)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    CoordinatorError::Protocol(format!(
        "unexpected `{name}` message while waiting for {phase}"
    ))
}

/// The first abort-on-fail threshold that fails after its delay, as a reason.
fn abort_reason(plan: &Plan, m: &RunMetrics, elapsed: Duration) -> Option<String> {
    let due: Vec<_> = plan
        .thresholds
        .iter()
        .filter(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval)
        .cloned()
        .collect();
    report::evaluate(&due, &m.total, elapsed.as_secs_f64(), report::When::During)
        .into_iter()
        .zip(&due)
        .find(|(r, _)| !r.ok)
        .map(|(r, t)| {
            // During the run, only an aggregation that does not apply fails without a value.
            let observed = r.observed.map_or_else(
                || {
                    m.total.metric_total(&t.selector.metric).map_or_else(
                        || "nothing".to_owned(),
                        |s| report::not_applicable(&t.expr, s.kind()),
                    )
                },
                |v| v.to_string(),
            );
            format!(
                "threshold `{}: {}` failed (observed {observed})",
                r.metric, r.expression
            )
        })
}

/// Why to stop a run in which VUs keep failing to initialise and none has started, once that has
/// lasted [`NO_VU_GRACE`] since `failing_since` (set here when first seen at or after
/// `last_start`, when the last scenario starts: each scenario gets its chance).
fn no_vu_reason(
    m: &RunMetrics,
    elapsed: Duration,
    last_start: Duration,
    failing_since: &mut Option<Duration>,
) -> Option<String> {
    if elapsed < last_start || !report::no_vu_started(&m.total) {
        *failing_since = None;
        return None;
    }
    let since = *failing_since.get_or_insert(elapsed);
    (elapsed.saturating_sub(since) >= NO_VU_GRACE).then(|| {
        format!(
            "no VU could be initialised in the {}s after the first failure",
            NO_VU_GRACE.as_secs()
        )
    })
}

fn live_stats(m: &RunMetrics, elapsed: Duration, stopping: &Option<String>) -> LiveStats {
    let (http_reqs, iterations, errors) = counts(&m.total);
    let (vus, vus_max) = m.vus();
    LiveStats {
        elapsed,
        vus,
        vus_max,
        iterations,
        http_reqs,
        rps: m.timeline.values().next_back().map_or(0, |p| p.http_reqs),
        errors,
        stopping: stopping.clone(),
    }
}
