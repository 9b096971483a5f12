//! The Stampede coordinator: hands each worker its share of a run, merges their metric deltas
//! exactly, evaluates thresholds live (abort-on-fail) and at the end, and writes the end-of-test
//! report (terminal text, a stable JSON schema, JUnit XML, CSV and a self-contained HTML page).
//!
//! It never links wasmtime: it sees components only as bytes and a content hash.
//!
//! ```no_run
//! # async fn demo(spec: stampede_coordinator::RunSpec, workers: stampede_coordinator::Workers) {
//! let (live, _watch) = tokio::sync::watch::channel(Default::default());
//! let (_abort_tx, abort) = tokio::sync::watch::channel(None);
//! let report = stampede_coordinator::run(spec, workers, live, abort).await;
//! # }
//! ```

mod error;
pub mod metrics;
pub mod render;
pub mod report;
mod run;

pub use error::CoordinatorError;
pub use render::{Format, text};
pub use report::{Report, RunStatus, SummaryError};
pub use run::{LiveStats, RunSpec, Workers, run};
