//! What can end a run early, and whose fault it is.

use stampede_proto::FailureKind;

/// A run that could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// A worker sent deltas out of order: samples would be lost or counted twice.
    #[error(
        "worker {worker} sent metrics delta {got} but {expected} was next; refusing to count samples twice or lose them"
    )]
    Sequence {
        /// The worker.
        worker: String,
        /// The sequence number due.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// Deltas could not be merged (a metric changed kind).
    #[error(transparent)]
    Metrics(#[from] stampede_metrics::MetricsError),
    /// A worker gave up.
    #[error("{error}")]
    WorkerFailed {
        /// Its message.
        error: String,
        /// Whose fault.
        kind: FailureKind,
    },
    /// A worker speaks another protocol version or broke the message order.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A worker hung up mid-run.
    #[error("worker {0} disconnected before the run ended")]
    WorkerLost(String),
    /// The scenario's `setup` failed.
    #[error("setup failed: {0}")]
    Setup(String),
    /// The plan needs more component instances than the workers can host.
    #[error(
        "the workers can host at most {available} VU instances ({limited_by}), but the plan needs {needed} (one per VU, or one per `vus-per-instance` VUs with isolation = \"shared\"); lower the VU count, use shared isolation, or raise that limit"
    )]
    Capacity {
        /// Instances the plan needs at most.
        needed: u64,
        /// Sum of the workers' capacities.
        available: u64,
        /// Why.
        limited_by: String,
    },
}

impl CoordinatorError {
    /// Whether the user's input caused it (exit code 2) rather than the environment (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            CoordinatorError::WorkerFailed {
                kind: FailureKind::BadInput,
                ..
            } | CoordinatorError::Capacity { .. }
        )
    }
}
