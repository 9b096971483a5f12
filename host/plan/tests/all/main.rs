//! Integration tests of `stampede-plan`, one binary with a module per area (as wasmtime does).

mod golden;
