//! The wasmtime engine: its instance allocator, epoch interruption, and the epoch ticker thread.
//!
//! An engine without the component model's concurrency (one instance per VU, the common case)
//! allocates instances on demand, not from wasmtime's pooling allocator: an idle VU costs ~5 KiB
//! less that way (BENCHMARKS.md, twenty-sixth session). A pooled table slot is page-aligned, so each
//! instance's dozen table elements took a page of their own where an on-demand table is a small heap
//! block, and the pool's slots spread each VU's pages over more page tables. Instantiation takes
//! ~20 us longer (an `mmap` for the memory instead of a reused slot), once per VU. Such a store uses
//! one fiber stack at a time, so the stacks are bounded by the VUs. An engine with concurrency keeps
//! the pool: a guest thread blocked in a call keeps a fiber stack of its own there, and the pool's
//! cap on stacks turns a pile of them into an error for the call that asks for one more, where
//! stacks allocated on demand would take memory mappings without end; its instances are few (one
//! per `vus-per-instance` VUs), so the pool's per-instance cost does not matter there. Either way
//! the store's limiter ([`crate::state`]) bounds what one instance creates (instances, memories,
//! tables: [`check_limits`] refuses a component over them at load), and [`capacity`] checks up
//! front that the process can map every VU.
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

/// Instances a pool keeps beside the VUs for `setup` and `teardown`, which run in their own instance.
const SPARE_INSTANCES: u32 = 2;

/// Core wasm instances one component may create (a store's limit): Rust and C components use 3,
/// componentize-js 4 (componentize-qjs 8), componentize-py 14 (counted in the built components).
pub(crate) const CORE_INSTANCES_PER_VU: u32 = 16;
/// Linear memories per component (a store's limit): 1 for Rust, C, componentize-js and
/// componentize-py, 2 for componentize-qjs.
pub(crate) const MEMORIES_PER_VU: u32 = 3;
/// Tables per component (a store's limit): 2 in every component built here.
pub(crate) const TABLES_PER_VU: u32 = 4;
/// Fiber stacks one store may hold: one without the component model's concurrency (its cached
/// stack); with it, the idle worker fiber that runs its concurrent calls as well as the cached stack
/// a call outside `run_concurrent` takes (instantiation, a shared VU's destructor).
const STACKS_PER_STORE: u32 = 1;
const STACKS_PER_CONCURRENT_STORE: u32 = 2;

/// Up to this many bytes of data segments, an instance's linear memory gets the component's data
/// copied in at instantiation ([`MemoryInit::Copy`]); more is mapped copy-on-write.
pub(crate) const COPY_DATA_UP_TO: u64 = 16 * 1024;

/// How an instance's linear memory gets the component's initial data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryInit {
    /// Copied in at instantiation, for a small data image (up to [`COPY_DATA_UP_TO`] bytes: a Rust or
    /// C scenario's few pages of strings and statics), which an instance touches nearly whole
    /// anyway. The memory is then three memory mappings instead of up to five (wasmtime maps a
    /// copy-on-write image between two accessible parts), so a process holds ~30 % more VUs under
    /// `vm.max_map_count` ([`crate::capacity`]), and no page is first mapped shared and then copied
    /// on its first write.
    Copy,
    /// Mapped copy-on-write from the compiled component (wasmtime's default), for a large image: a
    /// JavaScript or Python interpreter's heap, whose pages an instance never touches then cost it
    /// nothing.
    CopyOnWrite,
}

/// What the engine and the capacity check need to know of a component: how its memories get their
/// data, and what one instance of it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memories {
    /// How an instance's memory gets the component's initial data.
    pub(crate) init: MemoryInit,
    /// The linear memories an instance creates (an upper bound: the most a VU may have when a
    /// module or nested component is instantiated more than once).
    pub(crate) count: u32,
}

impl Memories {
    /// The facts for `bytes` (a component, or a core module): the way its data gets into an
    /// instance from the size of the data segments of its core modules, and their memories. Input
    /// that does not parse gets wasmtime's default and the most memories a VU may have; it will not
    /// compile either, and wasmtime's error says why.
    pub(crate) fn of_component(bytes: &[u8]) -> Memories {
        match Census::of(bytes) {
            Some(census) => Memories {
                init: if census.data <= COPY_DATA_UP_TO {
                    MemoryInit::Copy
                } else {
                    MemoryInit::CopyOnWrite
                },
                count: if census.repeats() {
                    MEMORIES_PER_VU
                } else {
                    census.memories
                },
            },
            None => Memories {
                init: MemoryInit::CopyOnWrite,
                count: MEMORIES_PER_VU,
            },
        }
    }
}

/// What a component's core modules declare and how often they and its nested components are
/// instantiated, read from its bytes (every level of nesting).
#[derive(Debug, Default, PartialEq, Eq)]
struct Census {
    /// Bytes of data segments.
    data: u64,
    /// Memories and tables the core modules define.
    memories: u32,
    tables: u32,
    /// Core modules and nested components, and how many times the component instantiates each kind.
    modules: u32,
    module_instances: u32,
    components: u32,
    component_instances: u32,
}

impl Census {
    fn of(bytes: &[u8]) -> Option<Census> {
        use wasmparser::{ComponentInstance, Instance, Payload};
        let mut c = Census::default();
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            match payload.ok()? {
                Payload::DataSection(section) => {
                    for segment in section {
                        c.data += segment.ok()?.data.len() as u64;
                    }
                }
                Payload::MemorySection(section) => c.memories += section.count(),
                Payload::TableSection(section) => c.tables += section.count(),
                Payload::ModuleSection { .. } => c.modules += 1,
                Payload::ComponentSection { .. } => c.components += 1,
                Payload::InstanceSection(section) => {
                    for instance in section {
                        if let Instance::Instantiate { .. } = instance.ok()? {
                            c.module_instances += 1;
                        }
                    }
                }
                Payload::ComponentInstanceSection(section) => {
                    for instance in section {
                        if let ComponentInstance::Instantiate { .. } = instance.ok()? {
                            c.component_instances += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        Some(c)
    }

    /// Whether some module or nested component may be instantiated more than once (then what its
    /// modules declare is created more than once, and only the store's limits bound it).
    fn repeats(&self) -> bool {
        self.module_instances > self.modules || self.component_instances > self.components
    }

    /// Why an instance of this component would exceed what a VU's store allows, if it would.
    fn over_limits(&self) -> Option<String> {
        let mut over = Vec::new();
        if !self.repeats() && self.module_instances > CORE_INSTANCES_PER_VU {
            over.push(format!(
                "it instantiates {} core modules (at most {CORE_INSTANCES_PER_VU})",
                self.module_instances
            ));
        }
        if !self.repeats() && self.memories > MEMORIES_PER_VU {
            over.push(format!(
                "its modules define {} linear memories (at most {MEMORIES_PER_VU})",
                self.memories
            ));
        }
        if !self.repeats() && self.tables > TABLES_PER_VU {
            over.push(format!(
                "its modules define {} tables (at most {TABLES_PER_VU})",
                self.tables
            ));
        }
        (!over.is_empty()).then(|| over.join(", "))
    }
}

/// Refuse a component one instance of which would create more than a VU's store allows, before
/// any VU starts (else every VU's start would fail with wasmtime's "resource limit exceeded").
pub(crate) fn check_limits(bytes: &[u8], what: &str) -> Result<(), RuntimeError> {
    match Census::of(bytes).and_then(|c| c.over_limits()) {
        Some(detail) => Err(RuntimeError::Limits {
            what: what.into(),
            detail,
        }),
        None => Ok(()),
    }
}

/// Per-guest-call native stack (wasm frames). Far above what scenarios need; only touched pages cost.
pub(crate) const MAX_WASM_STACK: usize = 512 * 1024;
/// Fiber stack for one async guest call: the wasm stack plus room for host frames.
pub(crate) const ASYNC_STACK: usize = 1024 * 1024;

/// What the engine must hold (the capacity check; with a pool, its size).
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
    init: MemoryInit,
    stop: Arc<AtomicBool>,
}

impl EngineHandle {
    /// Build an engine for `limits`, after checking the process can hold that many VUs.
    pub(crate) fn new(
        limits: EngineLimits,
        concurrency: Concurrency,
        memories: Memories,
    ) -> Result<Self, RuntimeError> {
        let init = memories.init;
        let cap = capacity::host_capacity_for(
            limits.memory_limit,
            stacks_per_store(concurrency),
            memories.count,
            init,
            pooled(concurrency),
        );
        if limits.max_vus > cap.max_vus {
            return Err(RuntimeError::Capacity {
                requested: limits.max_vus,
                max: cap.max_vus,
                limited_by: cap.limited_by,
                advice: cap.advice,
            });
        }
        let engine = Engine::new(&config(limits, concurrency, init))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), stop.clone());
        Ok(EngineHandle {
            engine,
            concurrency,
            init,
            stop,
        })
    }

    /// Whether this engine supports async exports and imports.
    pub(crate) fn concurrency(&self) -> Concurrency {
        self.concurrency
    }

    /// How this engine's instances get their memory's initial data.
    pub(crate) fn memory_init(&self) -> MemoryInit {
        self.init
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

/// Whether an engine allocates from wasmtime's pool (see the module's documentation).
pub(crate) fn pooled(concurrency: Concurrency) -> bool {
    concurrency == Concurrency::On
}

fn config(limits: EngineLimits, concurrency: Concurrency, init: MemoryInit) -> Config {
    let strategy = if pooled(concurrency) {
        let slots =
            u32::try_from(limits.max_vus).unwrap_or(u32::MAX - SPARE_INSTANCES) + SPARE_INSTANCES;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_VU))
            .total_memories(slots.saturating_mul(MEMORIES_PER_VU))
            .total_tables(slots.saturating_mul(TABLES_PER_VU))
            .total_stacks(slots.saturating_mul(stacks_per_store(concurrency)))
            .max_memory_size(limits.memory_limit as usize);
        InstanceAllocationStrategy::Pooling(pool)
    } else {
        InstanceAllocationStrategy::OnDemand
    };
    let mut config = Config::new();
    config
        .allocation_strategy(strategy)
        .epoch_interruption(true)
        // Components of the shared worlds (async exports; async or future-returning imports).
        .concurrency_support(concurrency == Concurrency::On)
        .wasm_component_model_async(concurrency == Concurrency::On)
        .memory_init_cow(init == MemoryInit::CopyOnWrite)
        // Each memory reserves its limit (plus guard regions) at once and never moves; the store's
        // limiter refuses growth beyond it.
        .memory_reservation(limits.memory_limit)
        .memory_guard_size(64 * 1024)
        .memory_reservation_for_growth(0)
        .memory_may_move(false)
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
/// the engine weakly, so dropping the last handle frees the engine (and its compiled code) at once:
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one memory and one active data segment of `len` bytes.
    fn module_with_data(len: usize) -> Vec<u8> {
        fn leb(mut n: usize, out: &mut Vec<u8>) {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    return;
                }
                out.push(byte | 0x80);
            }
        }
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // Memory section: one memory of at least one page.
        m.extend_from_slice(&[5, 3, 1, 0, 1]);
        // Data section: one active segment at offset 0 (`i32.const 0; end`).
        let mut body = vec![1, 0, 0x41, 0, 0x0b];
        leb(len, &mut body);
        body.resize(body.len() + len, 7);
        m.push(11);
        leb(body.len(), &mut m);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn small_data_is_copied_and_a_large_image_mapped() {
        let init = |bytes: &[u8]| Memories::of_component(bytes).init;
        let census = Census::of(&module_with_data(1000)).unwrap();
        assert_eq!((census.data, census.memories), (1000, 1));
        assert_eq!(init(&module_with_data(4096)), MemoryInit::Copy);
        assert_eq!(
            init(&module_with_data(COPY_DATA_UP_TO as usize)),
            MemoryInit::Copy
        );
        assert_eq!(
            init(&module_with_data(COPY_DATA_UP_TO as usize + 1)),
            MemoryInit::CopyOnWrite
        );
        assert_eq!(
            Memories::of_component(b"\0asm\x01\0\0\0\x0bgarbage"),
            Memories {
                init: MemoryInit::CopyOnWrite,
                count: MEMORIES_PER_VU
            },
            "what does not parse keeps wasmtime's default and counts the most memories"
        );
    }

    #[test]
    fn a_component_over_a_vus_limits_is_named_with_the_limit() {
        let within = Census {
            module_instances: 14,
            modules: 14,
            memories: 2,
            tables: 2,
            ..Census::default()
        };
        assert_eq!(within.over_limits(), None);
        let over = Census {
            module_instances: 17,
            modules: 17,
            memories: 4,
            tables: 2,
            ..within
        };
        let why = over.over_limits().unwrap();
        assert!(why.contains("17 core modules (at most 16)"), "{why}");
        assert!(why.contains("4 linear memories (at most 3)"), "{why}");
        assert!(!why.contains("tables"), "{why}");
        // A module instantiated twice: what it creates is counted at run time, by the store's
        // limits; the capacity check assumes the most memories a VU may have.
        let repeated = Census {
            module_instances: 2,
            modules: 1,
            memories: 1,
            ..Census::default()
        };
        assert!(repeated.repeats());
        assert_eq!(repeated.over_limits(), None);
    }

    #[test]
    fn the_components_built_here_are_within_a_vus_limits() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guest");
        let rust_get = dir.join("wasm32-wasip2/release/rust_get.wasm");
        let bytes = std::fs::read(&rust_get)
            .expect("plugins/rust-get is built (scripts/build-guests.sh; scripts/test.sh runs it)");
        let census = Census::of(&bytes).unwrap();
        assert_eq!(
            (
                census.modules,
                census.module_instances,
                census.memories,
                census.tables
            ),
            (3, 3, 1, 2)
        );
        assert!(!census.repeats());
        assert!(check_limits(&bytes, "rust-get").is_ok());
        assert_eq!(
            Memories::of_component(&bytes),
            Memories {
                init: MemoryInit::Copy,
                count: 1
            }
        );
    }
}
