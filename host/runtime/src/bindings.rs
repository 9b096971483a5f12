//! Host bindings generated from `wit/stampede.wit`.
//!
//! Only `http.send` and `time.sleep` are async on the host: they wait on the network or a timer and
//! must let other VUs run meanwhile. Every other import is a quick synchronous call. `context.vu-id`,
//! `context.iteration` and `context.scenario` may trap: a shared instance cannot tell its VUs apart.

wasmtime::component::bindgen!({
    world: "scenario",
    path: "../../wit",
    imports: {
        "stampede:scenario/http.send": async,
        "stampede:scenario/time.sleep": async,
        "stampede:scenario/context.vu-id": trappable,
        "stampede:scenario/context.iteration": trappable,
        "stampede:scenario/context.scenario": trappable,
    },
    exports: { default: async },
});

pub use stampede::scenario::{checks, context, http, log, metrics, time, types};

/// The world `scenario-shared`: many VUs as concurrent async calls in one instance. Its exports are
/// called through an [`Accessor`](wasmtime::component::Accessor) inside `run_concurrent`; the
/// interfaces it shares with `scenario` reuse the bindings above.
pub mod shared {
    wasmtime::component::bindgen!({
        world: "scenario-shared",
        path: "../../wit",
        imports: { default: async | store },
        exports: { default: async | store },
        with: {
            "stampede:scenario/types": super::types,
            "stampede:scenario/http": super::http,
            "stampede:scenario/checks": super::checks,
            "stampede:scenario/metrics": super::metrics,
            "stampede:scenario/context": super::context,
            "stampede:scenario/time": super::time,
            "stampede:scenario/log": super::log,
        },
    });

    pub use stampede::scenario::{http_async, time_async};
}

/// The imports of the world `scenario-shared-futures` (the world `scenario-shared` with futures for
/// toolchains that cannot import an `async func`). Its exports are `scenario-shared`'s, called
/// through [`shared`]'s bindings; only `http-future` and `time-future` are used from here.
pub mod shared_futures {
    wasmtime::component::bindgen!({
        world: "scenario-shared-futures",
        path: "../../wit",
        imports: { default: store | trappable },
        exports: { default: async | store },
        with: {
            "stampede:scenario/types": super::types,
            "stampede:scenario/http": super::http,
            "stampede:scenario/checks": super::checks,
            "stampede:scenario/metrics": super::metrics,
            "stampede:scenario/context": super::context,
            "stampede:scenario/time": super::time,
            "stampede:scenario/log": super::log,
        },
    });

    pub use stampede::scenario::{http_future, time_future};
}
