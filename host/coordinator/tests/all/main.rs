//! Integration tests of `stampede-coordinator`, one binary with a module per area (as wasmtime does).
//! The coordinator talks to scripted fake workers ([`fleet`]) on tokio's paused clock.

mod failures;
mod fleet;
mod run;
