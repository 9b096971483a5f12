//! Host bindings generated from `wit/stampede.wit`.
//!
//! Only `http.send` and `time.sleep` are async on the host: they wait on the network or a timer and
//! must let other VUs run meanwhile. Every other import is a quick synchronous call.

wasmtime::component::bindgen!({
    world: "scenario",
    path: "../../wit",
    imports: {
        "stampede:scenario/http.send": async,
        "stampede:scenario/time.sleep": async,
    },
    exports: { default: async },
});

pub use stampede::scenario::{checks, context, http, log, metrics, time, types};
