//! The Wasm side of a worker: a wasmtime engine checked for the worker's VUs, scenario components
//! compiled once (and cached on disk), and one store plus instance per VU.
//!
//! How to use it:
//!
//! 1. [`LoadedScenario::load`] the component bytes with the VU count and memory limit
//!    ([`EngineLimits`]): it fails up front with [`RuntimeError::Capacity`] when this process cannot
//!    host that many VUs, then builds the engine, checks the world (precise errors for non-Wasm
//!    files, core modules and components of another world) and compiles;
//! 2. build one [`RunContext`] for the run (HTTP client with the target allowlist, params, the metrics
//!    [`Collector`](stampede_metrics::Collector), limits);
//! 3. [`LoadedScenario::setup`] once, then [`LoadedScenario::new_vu`] per VU and
//!    [`WasmVu::iteration`] in a loop; [`WasmVu::close`] when the VU stops; finally
//!    [`LoadedScenario::teardown`].
//!
//! A component built for a shared world (`scenario-shared`, or `scenario-shared-futures` whose
//! imports return futures) runs its VUs through a [`SharedGroup`] instead:
//! up to `vus_per_instance` VUs as concurrent async calls in one instance (`isolation = "shared"`).
//!
//! Host imports live in `host/` (one file per WIT interface). Guest CPU is bounded with epoch
//! interruption (a 10 ms ticker; a guest yields to tokio each tick and is interrupted after
//! `cpu_budget`), guest memory with a limiter, and every call with a wall-clock timeout.

mod bindings;
mod cache;
pub mod capacity;
pub mod client;
mod conn;
pub mod cookies;
mod engine;
mod error;
mod fiber_stack;
mod h1;
mod host;
mod http2;
// Linear memories that move their pages (`mremap`): Linux only, unsafe by nature.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod linear_memory;
mod offload;
mod once;
mod orphans;
mod output;
mod pool;
mod redirect;
mod series;
mod shared;
mod state;
mod timer;
pub mod tls;
mod vu;

pub use cache::default_dir as default_cache_dir;
pub use capacity::{HostCapacity, host_capacity};
pub use client::{AllowedOrigin, HttpClient};
pub use engine::{EPOCH_TICK, EngineLimits, MemoryInit};
pub use error::{CallError, RuntimeError};
pub use orphans::Orphans;
pub use output::say_left_out_lines;

/// Forget which request failures and guest warnings this process logged, and what guest output a
/// second left out (said now, if anything), so that a new run logs its own.
pub fn forget_logged() {
    host::http::LOGGED.forget();
    host::log::PRINTED.forget();
    output::say_left_out_lines();
}
pub use shared::{SharedGroup, SharedVu};
pub use state::{RunContext, VuIdentity};
pub use tls::{ClientIdentity, ClientTls, TlsConfigError, certificate_blocks, certificates_pem};
pub use vu::WORLD_VERSION;
pub use vu::{LoadedScenario, WasmVu};
