//! Host imports: one file per WIT interface, each implementing the generated `Host` trait for
//! [`VuState`](crate::state::VuState). [`linker`] wires them and WASI (with nothing granted) together.

mod checks;
mod context;
mod fetch;
pub(crate) mod http;

pub(crate) use fetch::{FetchHooks, FetchState};

use http::Offloaded;
pub(crate) use http::{Requests, expected, ms};
pub(crate) mod log;
mod metrics;
mod shared;
mod shared_futures;
mod time;

use crate::bindings::{
    Scenario, http as http_world, shared as shared_world, shared_futures as futures_world, types,
};
use crate::engine::{Concurrency, EngineHandle};
use crate::state::VuState;
use wasmtime::component::{HasData, HasSelf, Linker};

impl types::Host for VuState {}

/// The `http` import of [`Offloaded`].
struct OffloadedHttp;

impl HasData for OffloadedHttp {
    type Data<'a> = Offloaded<'a>;
}

/// A linker with every Stampede import, WASI p2 (no files, no sockets, no environment) and
/// `wasi:http` (served by the same client as `http.send`). The async imports of `scenario-shared`
/// only on an engine with concurrency: wasmtime refuses them elsewhere.
///
/// With `offload` (a process with many VUs), an engine without concurrency gets the `http.send`
/// whose requests are polled off the guest call's fiber ([`Offloaded`]; the stores' calls must be
/// driven by [`Offload::drive`](crate::offload::Offload::drive)).
pub(crate) fn linker(engine: &EngineHandle, offload: bool) -> wasmtime::Result<Linker<VuState>> {
    let mut linker = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Scenario::add_to_linker::<VuState, HasSelf<VuState>>(&mut linker, |s| s)?;
    if engine.concurrency() == Concurrency::Off {
        if offload {
            linker.allow_shadowing(true);
            http_world::add_to_linker::<VuState, OffloadedHttp>(&mut linker, |s| Offloaded(s))?;
            linker.allow_shadowing(false);
        }
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
