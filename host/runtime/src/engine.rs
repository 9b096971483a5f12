//! The wasmtime engine: pooling allocator sized for the worker's VUs, epoch interruption, and the
//! epoch ticker thread.
//!
//! An engine either supports the component model's concurrency (async exports and imports: the world
//! `scenario-shared`) or not. Without it every guest call is a plain call on a fiber; with it,
//! wasmtime routes even synchronous calls through its task machinery: the engine without it used
//! 7-18 % less CPU per request of a one-instance-per-VU scenario in interleaved pairs
//! (BENCHMARKS.md). So a component gets an engine without concurrency unless it needs it
//! ([`Concurrency`]).

use crate::capacity;
use crate::error::RuntimeError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A guest running without host calls yields to tokio once per tick,
/// and the CPU budget is counted in ticks, so this is the budget's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Instances kept beside the VUs for `setup` and `teardown`, which run in their own instance.
const SPARE_INSTANCES: u32 = 2;

/// Core wasm instances one component may create: Rust and C components use 3, componentize-js 4,
/// componentize-py 14 (counted in the built components).
pub(crate) const CORE_INSTANCES_PER_VU: u32 = 16;
/// Linear memories per component: 1 for Rust and C, up to 3 for QuickJS.
pub(crate) const MEMORIES_PER_VU: u32 = 3;
/// Tables per component.
const TABLES_PER_VU: u32 = 4;
/// Fiber stacks one store may hold: one without the component model's concurrency (its cached
/// stack); with it, the idle worker fiber that runs its concurrent calls as well as the cached stack
/// a call outside `run_concurrent` takes (instantiation, a shared VU's destructor).
const STACKS_PER_STORE: u32 = 1;
const STACKS_PER_CONCURRENT_STORE: u32 = 2;

/// Per-guest-call native stack (wasm frames). Far above what scenarios need; only touched pages cost.
pub(crate) const MAX_WASM_STACK: usize = 512 * 1024;
/// Fiber stack for one async guest call: the wasm stack plus room for host frames.
pub(crate) const ASYNC_STACK: usize = 1024 * 1024;

/// What the engine must be sized for.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// VUs that may exist at the same time in this process.
    pub max_vus: u64,
    /// Linear memory cap per VU in bytes.
    pub memory_limit: u64,
}

/// Whether an engine supports the component model's concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Concurrency {
    /// Only synchronous exports and imports (the world `scenario`): the fastest calls.
    Off,
    /// Async exports and imports too (the shared worlds, and components built with async features
    /// for the world `scenario`).
    On,
}

/// A wasmtime engine plus the thread that advances its epoch.
pub struct EngineHandle {
    engine: Engine,
    concurrency: Concurrency,
    stop: Arc<AtomicBool>,
}

impl EngineHandle {
    /// Build an engine for `limits`, after checking the process can hold that many VUs.
    pub(crate) fn new(
        limits: EngineLimits,
        concurrency: Concurrency,
    ) -> Result<Self, RuntimeError> {
        let cap =
            capacity::host_capacity_with_stacks(limits.memory_limit, stacks_per_store(concurrency));
        if limits.max_vus > cap.max_vus {
            return Err(RuntimeError::Capacity {
                requested: limits.max_vus,
                max: cap.max_vus,
                limited_by: cap.limited_by,
                advice: cap.advice,
            });
        }
        let engine = Engine::new(&config(limits, concurrency))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), stop.clone());
        Ok(EngineHandle {
            engine,
            concurrency,
            stop,
        })
    }

    /// Whether this engine supports async exports and imports.
    pub(crate) fn concurrency(&self) -> Concurrency {
        self.concurrency
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn stacks_per_store(concurrency: Concurrency) -> u32 {
    match concurrency {
        Concurrency::On => STACKS_PER_CONCURRENT_STORE,
        Concurrency::Off => STACKS_PER_STORE,
    }
}

fn config(limits: EngineLimits, concurrency: Concurrency) -> Config {
    let slots =
        u32::try_from(limits.max_vus).unwrap_or(u32::MAX - SPARE_INSTANCES) + SPARE_INSTANCES;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_VU))
        .total_memories(slots.saturating_mul(MEMORIES_PER_VU))
        .total_tables(slots.saturating_mul(TABLES_PER_VU))
        .total_stacks(slots.saturating_mul(stacks_per_store(concurrency)))
        .max_memory_size(limits.memory_limit as usize);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true)
        // Components of the shared worlds (async exports; async or future-returning imports).
        .concurrency_support(concurrency == Concurrency::On)
        .wasm_component_model_async(concurrency == Concurrency::On)
        .memory_init_cow(true)
        .memory_reservation(limits.memory_limit)
        .memory_guard_size(64 * 1024)
        .memory_reservation_for_growth(0)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    // For profiling: list the compiled code (guest functions, trampolines) in /tmp/perf-PID.map for
    // perf and bench/instructions.sh's breakdown. The file stays after the process ends.
    if std::env::var_os("STAMPEDE_PERFMAP").is_some_and(|v| v != "0") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Advance `engine`'s epoch every tick until `stop` is set or the engine is gone. The thread holds
/// the engine weakly, so dropping the last handle frees the engine (and its instance pool) at once:
/// [`crate::LoadedScenario::load`] may build a second engine right after dropping a first one.
fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("stampede-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch ticker thread");
}
