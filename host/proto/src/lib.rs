//! Versioned messages between the coordinator and its workers.
//!
//! A run is a conversation:
//!
//! 1. the worker says [`WorkerMsg::Hello`] with its protocol version and how many VUs it can host;
//! 2. the coordinator answers [`CoordinatorMsg::Assign`]: the plan, the scenario component (by content
//!    hash, with its bytes) and the worker's execution segment (its exact share of every executor);
//! 3. the worker compiles the component and says [`WorkerMsg::Ready`] (or [`WorkerMsg::Failed`]);
//! 4. one worker gets [`CoordinatorMsg::RunSetup`] and answers [`WorkerMsg::SetupDone`];
//! 5. every worker gets [`CoordinatorMsg::Start`] with the setup data, runs its share and sends
//!    [`WorkerMsg::Metrics`] deltas (about once a second, numbered) until it says [`WorkerMsg::Finished`];
//! 6. one worker gets [`CoordinatorMsg::RunTeardown`] and answers [`WorkerMsg::TeardownDone`];
//! 7. [`CoordinatorMsg::Shutdown`] ends the conversation.
//!
//! Local runs (`stampede run`) carry these same values over an in-process channel; the distributed
//! mode sends them over the network. Everything here is plain data with serde derives and no behaviour.

use serde::{Deserialize, Serialize};
use stampede_metrics::Aggregate;
use std::sync::Arc;

/// Bumped whenever a message changes shape; a worker with another version is refused at hello.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a worker tells the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMsg {
    /// First message on a connection.
    Hello {
        /// The worker's [`PROTOCOL_VERSION`].
        protocol: u32,
        /// A name unique in the fleet (the pod name, or `local`).
        worker_id: String,
        /// How many VUs this worker can host at most, and why.
        capacity: Capacity,
    },
    /// The assignment was accepted: the component compiled and the VU pool is sized.
    Ready,
    /// The result of the scenario's `setup`.
    SetupDone {
        /// Setup data for every VU, or the guest's error message.
        result: Result<Vec<u8>, String>,
    },
    /// Metrics recorded since the previous delta.
    Metrics(MetricsDelta),
    /// Every scenario of this worker's share has ended and the last delta was sent.
    Finished,
    /// The result of the scenario's `teardown`.
    TeardownDone {
        /// `Err` carries the guest's error message.
        result: Result<(), String>,
    },
    /// The worker cannot go on (for example the component does not compile).
    Failed {
        /// What went wrong, for the user.
        error: String,
        /// Whose fault it is, which decides the exit code.
        kind: FailureKind,
    },
}

/// Who caused a [`WorkerMsg::Failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The user's input: plan, component, flags. The CLI exits with code 2.
    BadInput,
    /// A bug or an environment problem. The CLI exits with code 1.
    Internal,
}

/// How many VUs a worker can host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// The most VUs with one instance each this process can hold.
    pub max_vus: u64,
    /// Which limit sets `max_vus`, in words (for error messages).
    pub limited_by: String,
}

/// One numbered metrics delta.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsDelta {
    /// Starts at 0 and grows by one per delta, so the coordinator can spot gaps and duplicates.
    pub seq: u64,
    /// Milliseconds since the run's start when this delta was cut.
    pub at_ms: u64,
    /// VUs running on this worker when the delta was cut.
    pub vus: u64,
    /// VUs allocated on this worker (running or idle).
    pub vus_max: u64,
    /// The most VUs running on this worker at once since the previous delta, so that VUs that
    /// came and went between two deltas (a run shorter than the interval) still show; 0 from a
    /// worker that does not say (then `vus` stands for it).
    #[serde(default)]
    pub vus_peak: u64,
    /// The most VUs allocated at once since the previous delta (as `vus_peak`).
    #[serde(default)]
    pub vus_max_peak: u64,
    /// The worker's last delta of the run, cut after its VUs stopped: its `vus` (0 by then) is not
    /// a count the run ran with, only its peaks are.
    #[serde(default)]
    pub last: bool,
    /// Samples recorded since the previous delta, merged per series.
    pub delta: Aggregate,
}

/// What the coordinator tells a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoordinatorMsg {
    /// The worker's share of the run.
    Assign(Box<Assignment>),
    /// Run the scenario's `setup` (sent to one worker only).
    RunSetup,
    /// Start the scenarios now.
    Start {
        /// What `setup` returned, for every VU's constructor.
        setup_data: Vec<u8>,
    },
    /// Stop early (thresholds aborted the run, or the user pressed Ctrl-C): end every scenario now,
    /// with its graceful stop.
    Stop {
        /// Why, for logs.
        reason: String,
    },
    /// Run the scenario's `teardown` (sent to one worker only).
    RunTeardown {
        /// What `setup` returned.
        setup_data: Vec<u8>,
    },
    /// The run is over; close the connection.
    Shutdown,
}

/// A worker's share of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    /// Unique per run.
    pub run_id: String,
    /// The plan, as TOML source plus the command-line overrides, so each worker derives the same plan.
    pub plan: PlanSource,
    /// The scenario component.
    pub component: ComponentBlob,
    /// This worker's share of every executor.
    pub segment: SegmentSpec,
    /// The worker's position in the fleet (0-based), for logs.
    pub worker_index: u32,
}

/// A plan as the coordinator read it.
#[derive(Clone, Serialize, Deserialize)]
pub struct PlanSource {
    /// The plan file's text.
    pub toml: String,
    /// `--vus` override, if any.
    pub vus: Option<u64>,
    /// `--duration` override in milliseconds, if any.
    pub duration_ms: Option<u64>,
    /// The text of the plan's `options.tls-ca-file`, read where the plan was read: workers do not
    /// see the plan's folder.
    #[serde(default)]
    pub tls_ca_pem: Option<String>,
    /// The texts of `options.tls-client-cert` and `options.tls-client-key` (the client's
    /// certificate and private key for mutual TLS), read likewise.
    #[serde(default)]
    pub tls_client_pem: Option<(String, String)>,
}

/// Without the client key's text: an `Assignment` printed for a log must not show it.
impl std::fmt::Debug for PlanSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanSource")
            .field("toml", &self.toml)
            .field("vus", &self.vus)
            .field("duration_ms", &self.duration_ms)
            .field("tls_ca_pem", &self.tls_ca_pem)
            .field(
                "tls_client_pem",
                &self
                    .tls_client_pem
                    .as_ref()
                    .map(|_| "(certificate and key)"),
            )
            .finish()
    }
}

/// A scenario component and its content hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentBlob {
    /// Where it came from (its file name), for messages.
    pub name: String,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The component's bytes (shared, not copied, in process).
    pub bytes: Arc<Vec<u8>>,
}

/// An execution segment `[from, to)` of the whole as exact fractions `(numerator, denominator)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSpec {
    /// Start of the share.
    pub from: (u64, u64),
    /// End of the share.
    pub to: (u64, u64),
}

impl SegmentSpec {
    /// The whole load.
    pub const FULL: SegmentSpec = SegmentSpec {
        from: (0, 1),
        to: (1, 1),
    };
}
