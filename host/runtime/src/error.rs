//! Errors of the runtime, split by whose fault they are.

use std::time::Duration;

/// Why a component could not be loaded or a VU could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The bytes are not WebAssembly at all.
    #[error(
        "{what} is not a WebAssembly file (it starts with {head}); point `component` at the .wasm file your build produced"
    )]
    NotWasm {
        /// Where the bytes came from (a path or a hash).
        what: String,
        /// The first bytes, in hex.
        head: String,
    },
    /// A core module instead of a component.
    #[error(
        "{what} is a core WebAssembly module, not a component; build it for the `wasm32-wasip2` target (Rust), or wrap it with `stampede guest componentize` (see docs/languages.md)"
    )]
    CoreModule {
        /// Where the bytes came from.
        what: String,
    },
    /// The component is valid but is not a Stampede scenario.
    #[error(
        "{what} does not implement the world stampede:scenario/scenario@0.2.0 (nor scenario-shared@0.2.0 or scenario-shared-futures@0.2.0): {detail}; build it against wit/stampede.wit"
    )]
    WrongWorld {
        /// Where the bytes came from.
        what: String,
        /// What is missing or extra.
        detail: String,
    },
    /// The component is a Stampede scenario, built against another version of the world.
    #[error(
        "{what} was built against stampede:scenario@{found}, but this Stampede implements @{expected}; rebuild it with this release's SDK (sdk/) or wit/stampede.wit (docs/scenarios.md lists what changed)"
    )]
    WorldVersion {
        /// Where the bytes came from.
        what: String,
        /// The version the component imports or exports.
        found: String,
        /// The version this host implements ([`crate::WORLD_VERSION`]).
        expected: String,
    },
    /// wasmtime rejected the component (invalid or unsupported).
    #[error("{what} could not be compiled: {detail}")]
    Compile {
        /// Where the bytes came from.
        what: String,
        /// wasmtime's message.
        detail: String,
    },
    /// One instance of the component would create more than a store allows.
    #[error(
        "one instance of {what} would create {detail}, but Stampede allows each instance (one per VU, or per `vus-per-instance` VUs in shared isolation) at most {memories} linear memories and {tables} tables, so that it can check before a run that the host can map them; components composed of several others add theirs up: compose fewer (the SDKs here build components with 1-2 memories and 2 tables)",
        memories = crate::engine::MEMORIES_PER_VU,
        tables = crate::engine::TABLES_PER_VU
    )]
    Limits {
        /// Where the bytes came from.
        what: String,
        /// What is over which limit.
        detail: String,
    },
    /// The plan asks for more VUs than this process can hold.
    #[error(
        "this process can host at most {max} VU instances ({limited_by}), but the plan needs {requested} (one per VU, or one per `vus-per-instance` VUs with isolation = \"shared\"); lower the VU count, use shared isolation, or {advice}"
    )]
    Capacity {
        /// Instances requested.
        requested: u64,
        /// Instances possible.
        max: u64,
        /// Which limit.
        limited_by: String,
        /// What to raise.
        advice: String,
    },
    /// Engine set-up failed (an environment problem, not the user's input).
    #[error("could not set up the WebAssembly engine: {0}")]
    Engine(String),
}

impl RuntimeError {
    /// True when the user's input (component, plan) is at fault rather than the host.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RuntimeError::Engine(_))
    }
}

/// Why one guest call did not complete normally.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access...). The instance is discarded.
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest ran longer than the CPU budget without returning to the host.
    #[error("exceeded the CPU budget of {0:?} per call (options.cpu-budget) and was interrupted")]
    CpuBudget(Duration),
    /// The guest tried to grow its memory past the limit.
    #[error(
        "exceeded the memory limit of {} (options.memory-limit)",
        crate::client::human_size(*limit)
    )]
    Memory {
        /// The configured limit.
        limit: u64,
    },
    /// The guest returned an error where it could not go on (shared isolation: `init` returned `err`).
    #[error("returned an error: {0}")]
    Failed(String),
    /// The call did not return within the wall-clock limit (for example a host call that never ends).
    #[error("did not finish within {limit:?} (options.{option})")]
    Timeout {
        /// The limit.
        limit: Duration,
        /// The plan option that sets it, e.g. `iteration-timeout`.
        option: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::RuntimeError;
    use crate::WORLD_VERSION;

    /// The messages, the host's constant and wit/stampede.wit name the same version, so a release
    /// that changes the world changes all three.
    #[test]
    fn the_world_version_is_the_one_in_wit_stampede_wit() {
        let wit = include_str!("../../../wit/stampede.wit");
        assert!(wit.contains(&format!("package stampede:scenario@{WORLD_VERSION};")));
        let wrong = RuntimeError::WrongWorld {
            what: "x.wasm".into(),
            detail: "d".into(),
        };
        let both = format!(
            "scenario@{WORLD_VERSION} (nor scenario-shared@{WORLD_VERSION} or scenario-shared-futures@{WORLD_VERSION})"
        );
        assert!(wrong.to_string().contains(&both), "{wrong}");
    }

    #[test]
    fn only_versions_the_linker_would_not_match_count_as_another_world() {
        use crate::vu::compatible;
        assert!(compatible("0.2.0", "0.2.0"));
        assert!(compatible("0.2.1", "0.2.0"));
        assert!(!compatible("0.1.0", "0.2.0"));
        assert!(compatible("1.3.0", "1.0.2"));
        assert!(!compatible("2.0.0", "1.0.0"));
    }
}
