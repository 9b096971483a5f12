//! Integration tests of `stampede-worker`, one binary with a module per area (as wasmtime does).
//! Executors run fake VUs ([`fake`]) on tokio's paused clock, so timings are exact and instant.

mod arrival;
mod constant_vus;
mod fake;
mod flush;
mod graceful_stop;
mod outcomes;
mod pause;
mod per_vu_iterations;
mod ramping;
mod shared_iterations;
mod stop;
