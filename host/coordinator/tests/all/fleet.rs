//! Scripted fake workers talking to the coordinator over the same channels a real worker uses, and
//! helpers to build a run.

use stampede_coordinator::{Report, RunSpec, Workers};
use stampede_metrics::{Aggregate, MetricKind, SeriesKey, TagSet};
use stampede_proto::{
    Capacity, ComponentBlob, CoordinatorMsg, FailureKind, MetricsDelta, PROTOCOL_VERSION,
    PlanSource, WorkerMsg,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a fake worker says and does.
#[derive(Clone)]
pub struct Script {
    pub id: String,
    pub protocol: u32,
    pub max_vus: u64,
    /// `vus_max` of every delta.
    pub allocated: u64,
    /// Answer the assignment with `Failed` of this kind instead of `Ready`.
    pub fail_assign: Option<FailureKind>,
    /// The answer to `RunSetup`.
    pub setup: Result<Vec<u8>, String>,
    /// After `Start`: (offset, vus running, samples) of each delta, then `Finished`. A `Stop` skips the
    /// deltas not yet due.
    pub deltas: Vec<(Duration, u64, Aggregate)>,
    /// Hang up right after `Start`.
    pub hang_up_on_start: bool,
}

impl Script {
    pub fn new(id: &str, max_vus: u64) -> Self {
        Script {
            id: id.into(),
            protocol: PROTOCOL_VERSION,
            max_vus,
            allocated: 2,
            fail_assign: None,
            setup: Ok(b"token".to_vec()),
            deltas: Vec::new(),
            hang_up_on_start: false,
        }
    }

    /// Send `samples` with `vus` running at `at` seconds after the start.
    pub fn delta(mut self, at: f64, vus: u64, samples: Aggregate) -> Self {
        self.deltas
            .push((Duration::from_secs_f64(at), vus, samples));
        self
    }
}

/// Every message a fake worker received, with when (since the fleet was created).
pub type Log = Vec<(Duration, CoordinatorMsg)>;

/// Connect one fake worker per script.
pub fn fleet(scripts: Vec<Script>) -> (Workers, Vec<JoinHandle<Log>>) {
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    let t0 = Instant::now();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for (i, script) in scripts.into_iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        handles.push(tokio::spawn(worker(i, script, incoming_tx.clone(), rx, t0)));
    }
    (Workers { senders, incoming }, handles)
}

async fn worker(
    i: usize,
    s: Script,
    tx: mpsc::UnboundedSender<(usize, WorkerMsg)>,
    mut rx: mpsc::UnboundedReceiver<CoordinatorMsg>,
    t0: Instant,
) -> Log {
    let send = |m: WorkerMsg| {
        let _ = tx.send((i, m));
    };
    let capacity = Capacity {
        max_vus: s.max_vus,
        limited_by: "the test's say-so".into(),
    };
    send(WorkerMsg::Hello {
        protocol: s.protocol,
        worker_id: s.id.clone(),
        capacity,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut log = Vec::new();
    while let Some(msg) = rx.recv().await {
        log.push((t0.elapsed(), msg.clone()));
        match msg {
            CoordinatorMsg::Assign(_) => match s.fail_assign {
                Some(kind) => send(WorkerMsg::Failed {
                    error: "the component does not compile".into(),
                    kind,
                }),
                None => send(WorkerMsg::Ready),
            },
            CoordinatorMsg::RunSetup => send(WorkerMsg::SetupDone {
                result: s.setup.clone(),
            }),
            CoordinatorMsg::Start { .. } if s.hang_up_on_start => break,
            CoordinatorMsg::Start { .. } => {
                tokio::spawn(share(
                    i,
                    s.allocated,
                    s.deltas.clone(),
                    tx.clone(),
                    stop_rx.clone(),
                ));
            }
            CoordinatorMsg::Stop { .. } => {
                stop_tx.send_replace(true);
            }
            CoordinatorMsg::RunTeardown { .. } => send(WorkerMsg::TeardownDone { result: Ok(()) }),
            CoordinatorMsg::Shutdown => break,
        }
    }
    log
}

/// The running share: numbered deltas when due, then `Finished`.
async fn share(
    i: usize,
    vus_max: u64,
    deltas: Vec<(Duration, u64, Aggregate)>,
    tx: mpsc::UnboundedSender<(usize, WorkerMsg)>,
    mut stop: watch::Receiver<bool>,
) {
    let start = Instant::now();
    for (seq, (at, vus, delta)) in deltas.into_iter().enumerate() {
        tokio::select! {
            _ = tokio::time::sleep_until(start + at) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let d = MetricsDelta {
            vus_peak: 0,
            vus_max_peak: 0,
            last: false,
            seq: seq as u64,
            at_ms: at.as_millis() as u64,
            vus,
            vus_max,
            delta,
        };
        let _ = tx.send((i, WorkerMsg::Metrics(d)));
    }
    let _ = tx.send((i, WorkerMsg::Finished));
}

/// `n` samples of 1 of the counter `metric` with `tags`.
pub fn counter(metric: &str, tags: &[(&str, &str)], n: u64) -> Aggregate {
    let mut a = Aggregate::new();
    for _ in 0..n {
        a.add(
            &SeriesKey::new(metric, TagSet::new(tags.iter().copied())),
            MetricKind::Counter,
            1.0,
        );
    }
    a
}

/// `n` completed iterations of scenario `main`.
pub fn iterations(n: u64) -> Aggregate {
    counter("iterations", &[("scenario", "main")], n)
}

/// A run of the plan `component = "x.wasm"`, one target, and `rest`.
pub fn spec(rest: &str) -> RunSpec {
    let toml = format!("component = \"x.wasm\"\ntargets = [\"http://127.0.0.1:1\"]\n{rest}");
    let plan = stampede_plan::parse(&toml, Path::new("/plans")).unwrap_or_else(|e| panic!("{e}"));
    RunSpec {
        run_id: "run-1".into(),
        plan: Arc::new(plan),
        source: PlanSource {
            toml,
            vus: None,
            duration_ms: None,
            tls_ca_pem: None,
            tls_client_pem: None,
        },
        component: ComponentBlob {
            name: "x.wasm".into(),
            sha256: "ab".repeat(32),
            bytes: Arc::new(b"\0asm".to_vec()),
        },
    }
}

/// `constant-vus` with `vus` VUs for 10s.
pub fn constant(vus: u64) -> String {
    format!("[scenarios.main]\nexecutor = \"constant-vus\"\nvus = {vus}\nduration = \"10s\"\n")
}

/// Run `spec` on the fleet with an abort switch the test keeps; returns the result and the workers' logs.
pub async fn run(
    spec: RunSpec,
    scripts: Vec<Script>,
) -> (
    Result<Report, stampede_coordinator::CoordinatorError>,
    Vec<Log>,
) {
    let (workers, handles) = fleet(scripts);
    let (live, _live_rx) = watch::channel(Default::default());
    let (_abort, abort_rx) = watch::channel(None);
    let result = stampede_coordinator::run(spec, workers, live, abort_rx).await;
    let mut logs = Vec::new();
    for h in handles {
        logs.push(h.await.unwrap());
    }
    (result, logs)
}

/// The kinds of the messages in `log`, as `serde` names them (`assign`, `start`, ...).
pub fn kinds(log: &Log) -> Vec<String> {
    log.iter()
        .map(|(_, m)| {
            serde_json::to_value(m).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
