//! Host imports: one file per WIT interface, each implementing the generated `Host` trait for
//! [`VuState`](crate::state::VuState). [`linker`] wires them and WASI (with nothing granted) together.

mod checks;
mod context;
mod fetch;
mod http;

pub(crate) use fetch::{FetchHooks, FetchState};

pub(crate) use http::{expected, ms};
mod log;
mod metrics;
mod shared;
mod shared_futures;
mod time;

use crate::bindings::{Scenario, shared as shared_world, shared_futures as futures_world, types};
use crate::engine::{Concurrency, EngineHandle};
use crate::state::VuState;
use wasmtime::component::{HasSelf, Linker};

impl types::Host for VuState {}

/// A linker with every Stampede import, WASI p2 (no files, no sockets, no environment) and
/// `wasi:http` (served by the same client as `http.send`). The async imports of `scenario-shared`
/// only on an engine with concurrency: wasmtime refuses them elsewhere.
pub fn linker(engine: &EngineHandle) -> wasmtime::Result<Linker<VuState>> {
    let mut linker = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Scenario::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    if engine.concurrency() == Concurrency::Off {
        return Ok(linker);
    }
    // The two imports only the `scenario-shared` world has; the rest of it is the interfaces above.
    shared_world::http_async::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    shared_world::time_async::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    // And those of `scenario-shared-futures`, its form for toolchains without async imports.
    futures_world::http_future::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    futures_world::time_future::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    Ok(linker)
}
