//! Write [Stampede](https://example.invalid/stampede) load-test scenarios in Rust.
//!
//! A scenario is a WebAssembly component built for `wasm32-wasip2` against the WIT world
//! `stampede:scenario/scenario@0.2.0`. This crate hides the generated bindings behind a small API: you
//! implement [`Scenario`] for one type, call [`export_scenario!`] once, and use [`http`], [`check`],
//! [`metrics`], [`context`], [`log`], [`sleep`] and [`Tasks`] inside it.
//!
//! # Call order
//!
//! 1. [`Scenario::setup`] runs once per test run, on one worker, before any VU starts.
//! 2. For every virtual user (VU): [`Scenario::init`] once (log in, build state), then
//!    [`Scenario::iteration`] as many times as the plan's executor asks.
//! 3. The VU's value is dropped when the VU stops.
//! 4. [`Scenario::teardown`] runs once after every VU has stopped.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "my-scenario"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! stampede-sdk = { path = "../../sdk/rust" }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use stampede_sdk::{Scenario, Tasks, check, context, http, metrics::Counter, sleep};
//!
//! /// Per-VU state: what the tasks share between iterations.
//! struct Session {
//!     base: String,
//!     token: String,
//! }
//!
//! /// The VU: a session plus the weighted list of things a user does.
//! struct Shopper {
//!     session: Session,
//!     tasks: Tasks<Session>,
//! }
//!
//! impl Scenario for Shopper {
//!     fn init(_setup_data: &[u8]) -> Self {
//!         let base = context::param_or("base_url", "http://127.0.0.1:18080");
//!         let body = format!(
//!             r#"{{"username":"vu-{}","password":"secret"}}"#,
//!             context::vu_id()
//!         );
//!         let token = match http::post(format!("{base}/login")).name("login").json_str(&body).send() {
//!             // The body is `{"token":"..."}`: the token is the 4th `"`-separated piece.
//!             Ok(res) if res.is_success() => res.text().split('"').nth(3).unwrap_or("").to_string(),
//!             Ok(res) => panic!("login failed with status {}", res.status),
//!             Err(err) => panic!("login failed: {err}"),
//!         };
//!         let tasks = Tasks::new().task(3, "browse", browse).task(1, "buy", buy);
//!         Shopper { session: Session { base, token }, tasks }
//!     }
//!
//!     fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
//!         // Disjoint field borrows: the task list is read while the session is mutated.
//!         self.tasks.run_one(&mut self.session)?;
//!         sleep(Duration::from_millis(100));
//!         Ok(())
//!     }
//! }
//!
//! fn browse(s: &mut Session) -> Result<(), String> {
//!     let res = http::get(format!("{}/products", s.base)).name("products").send()?;
//!     check("status is 200", res.status == 200);
//!     Ok(())
//! }
//!
//! fn buy(s: &mut Session) -> Result<(), String> {
//!     let res = http::post(format!("{}/cart", s.base))
//!         .name("cart_add")
//!         .bearer(&s.token)
//!         .json_str(r#"{"product_id":1,"quantity":1}"#)
//!         .send()?;
//!     if check("status is 200", res.status == 200) {
//!         Counter::new("items_bought").add(1.0);
//!     }
//!     Ok(())
//! }
//!
//! stampede_sdk::export_scenario!(Shopper);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component a plan's `component` key points at.
//!
//! Request errors ([`http::HttpError`]) convert into `String`, so `?` works in scenario code; the host
//! already records them as failed requests.
//!
//! # Panics
//!
//! A panic in scenario code aborts the call with a trap (Wasm has no unwinding). Before that, the SDK
//! writes the panic message as an `error` log line through the host's `log` interface, so the host can show
//! why the VU died even when it does not wire WASI stderr.
//!
//! # Features
//!
//! - `json` (off by default): [`http::RequestBuilder::json`] and [`http::Response::json`] through `serde` and
//!   `serde_json`. Without it the SDK has no dependency besides `wit-bindgen`, which keeps components small.
//! - `fast-alloc` (on by default): the component's memory allocator is [`alloc::SizeClasses`], free lists
//!   of small blocks in front of wasi-libc's `malloc`, which makes the allocations of every request
//!   (request strings, response headers and body) cheaper. Turn default features off to keep
//!   wasi-libc's allocator, for example to install a `#[global_allocator]` of your own (in every crate
//!   of the component that depends on the SDK: Cargo features unify).
//! - `libc-random` (on by default, needs `fast-alloc`): wasi-libc's random bytes (`getentropy`,
//!   `arc4random`, C's stack protector) come without an allocation, which would otherwise corrupt
//!   `fast-alloc`'s heap when C code in the component draws them ([`alloc`]). It costs nothing where
//!   nothing draws them: the linker takes the SDK's replacement (a static library written by its build
//!   script) only into a component that does, which then imports `wasi:random`'s `get-random-u64`.
//!
//! # Testing on the host
//!
//! The pure parts ([`Tasks`] weight picking, [`rng::Rng`]) compile and run on any target, so `cargo test`
//! works natively. Functions that call the host panic outside a Wasm component.

pub mod alloc;
pub mod context;
pub mod http;
pub mod log;
pub mod metrics;
pub mod rng;
#[cfg(not(feature = "shared"))]
mod scenario;
#[cfg(feature = "shared")]
mod shared;
mod tasks;

#[cfg(not(feature = "shared"))]
pub use scenario::Scenario;
#[cfg(feature = "shared")]
pub use shared::{SharedScenario, sleep_async};
pub use tasks::{AsyncTaskFn, TaskFuture, Tasks};

/// The component's allocator (see [`alloc`]); only in a Wasm build without threads.
#[cfg(all(
    feature = "fast-alloc",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
// SAFETY: `FIRST_CHUNK` is this allocator's only.
static ALLOCATOR: alloc::SizeClasses =
    unsafe { alloc::SizeClasses::with_first_chunk(&FIRST_CHUNK) };

/// The installed allocator's first chunk (see [`alloc::FirstChunk`]).
#[cfg(all(
    feature = "fast-alloc",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
static FIRST_CHUNK: alloc::FirstChunk = alloc::FirstChunk::new();

use std::time::Duration;

/// The raw bindings generated by `wit-bindgen` from `wit/stampede.wit`, for anything the wrappers do not
/// cover. Prefer the wrappers: these types may change with the `wit-bindgen` version.
///
/// Without the `shared` feature they are generated for the world `scenario` (one instance per VU);
/// with it, for `scenario-shared` (many VUs per instance). A component is built for exactly one.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    #[cfg(not(feature = "shared"))]
    wit_bindgen::generate!({
        world: "scenario",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_scenario_world",
    });
    #[cfg(feature = "shared")]
    wit_bindgen::generate!({
        world: "scenario-shared",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_scenario_world",
    });
}

use bindings::stampede::scenario as wit;

/// Record one check result under `name` (counted in the `checks` rate and listed in the summary) and
/// return `ok`, so it can be used inline: `if check("status is 200", res.status == 200) { ... }`.
pub fn check(name: &str, ok: bool) -> bool {
    wit::checks::check(name, ok, &[])
}

/// Like [`check`], with extra tags on the sample, for example `&[("page", "home")]`.
pub fn check_tagged(name: &str, ok: bool, tags: &[(&str, &str)]) -> bool {
    wit::checks::check(name, ok, &owned_tags(tags))
}

/// Pause this VU (think time) without blocking the host: other VUs keep running.
///
/// Resolution is one millisecond: a non-zero duration below 1 ms sleeps 1 ms, and durations above
/// `u32::MAX` milliseconds (about 49 days) are capped.
pub fn sleep(duration: Duration) {
    wit::time::sleep(duration_to_ms(duration));
}

/// Milliseconds since the Unix epoch, according to the host's clock.
pub fn now_ms() -> u64 {
    wit::time::now_ms()
}

/// Route panic messages to the host's `log` interface (level `error`) instead of WASI stderr, which a
/// host may not wire up. Installed on the first call into the component; every call that can create
/// state (setup, VU constructor, teardown) comes before any iteration, so iterations need not check.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            wit::log::write(wit::types::Level::Error, &format!("scenario {info}"));
        }));
    });
}

/// Convert borrowed tag pairs into the owned list the host interface takes.
pub(crate) fn owned_tags(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Whole milliseconds for a host call: rounds sub-millisecond remainders up (so a non-zero duration never
/// becomes zero) and saturates at `u32::MAX`.
pub(crate) fn duration_to_ms(duration: Duration) -> u32 {
    let mut ms = duration.as_millis();
    if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        ms += 1;
    }
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// Export a [`Scenario`] implementation as the component's `runner` interface.
///
/// Call it exactly once per component, at the crate root or in any module, with the type that implements
/// [`Scenario`]:
///
/// ```no_run
/// struct Hello;
/// impl stampede_sdk::Scenario for Hello {
///     fn init(_setup_data: &[u8]) -> Self {
///         Hello
///     }
///     fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
///         Ok(())
///     }
/// }
/// stampede_sdk::export_scenario!(Hello);
/// ```
#[cfg(not(feature = "shared"))]
#[macro_export]
macro_rules! export_scenario {
    ($ty:ty) => {
        const _: () = {
            type __StampedeRunner = $crate::__private::Runner<$ty>;
            $crate::bindings::__export_scenario_world!(
                __StampedeRunner with_types_in $crate::bindings
            );
        };
    };
}

/// Export a [`SharedScenario`] implementation as the component's `shared-runner` interface (feature
/// `shared`). Call it exactly once per component, like [`export_scenario!`] without the feature.
#[cfg(feature = "shared")]
#[macro_export]
macro_rules! export_shared_scenario {
    ($ty:ty) => {
        const _: () = {
            type __StampedeRunner = $crate::__private::SharedRunner<$ty>;
            $crate::bindings::__export_scenario_world!(
                __StampedeRunner with_types_in $crate::bindings
            );
        };
    };
}

/// Implementation details used by the export macros; not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(not(feature = "shared"))]
    pub use crate::scenario::{Runner, VuCell};
    #[cfg(feature = "shared")]
    pub use crate::shared::{SharedRunner, SharedVu};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_rounds_up_and_saturates() {
        assert_eq!(duration_to_ms(Duration::ZERO), 0);
        assert_eq!(duration_to_ms(Duration::from_micros(1)), 1);
        assert_eq!(duration_to_ms(Duration::from_millis(250)), 250);
        assert_eq!(duration_to_ms(Duration::from_micros(250_500)), 251);
        assert_eq!(duration_to_ms(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    #[test]
    fn tags_become_owned_pairs() {
        assert_eq!(
            owned_tags(&[("page", "home"), ("a", "b")]),
            vec![
                ("page".to_owned(), "home".to_owned()),
                ("a".to_owned(), "b".to_owned())
            ]
        );
    }
}
