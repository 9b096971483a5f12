//! The `Vu` trait executors drive. The Wasm runtime implements it (see `wasm.rs`); tests use fakes.

use std::future::Future;

/// How one iteration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IterationOutcome {
    /// The iteration returned `ok`.
    Completed,
    /// The guest returned `err(message)`: the iteration counts as failed, the VU goes on.
    Failed(String),
    /// The VU had to be re-created (after an abort) and its constructor failed: no iteration ran.
    /// Counted in `vu_init_errors`; the VU waits a moment and tries again.
    InitFailed(String),
    /// The guest trapped, ran out of CPU budget or memory, or timed out; the VU was reset and
    /// re-initialises before its next iteration.
    Aborted {
        /// Short kind for the `error` tag: `trap`, `cpu-budget`, `memory`, `timeout`.
        kind: &'static str,
        /// What happened, for the user.
        message: String,
    },
}

/// One virtual user. Created by a [`VuFactory`]; `iteration` is called in a loop, never concurrently.
pub trait Vu: Send + 'static {
    /// Run one iteration. Dropping the future interrupts the iteration (graceful stop expired); the
    /// VU is then dropped without `close`.
    fn iteration(&mut self) -> impl Future<Output = IterationOutcome> + Send;
    /// Called once when the VU stops normally, after its last iteration.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// What a VU needs to know when it is created.
#[derive(Debug, Clone)]
pub struct VuSpec {
    /// Fleet-unique VU id, from 1.
    pub id: u64,
    /// Index of the plan scenario this VU runs.
    pub scenario: usize,
}

/// Creates VUs for the executors.
pub trait VuFactory: Send + Sync + 'static {
    /// The VU type.
    type Vu: Vu;
    /// Create (instantiate and initialise) one VU. An `Err` is a message for the user; the executor
    /// records it and retries later.
    fn create(&self, spec: VuSpec) -> impl Future<Output = Result<Self::Vu, String>> + Send;
}
