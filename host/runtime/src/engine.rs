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
//! stacks allocated on demand would take memory mappings without end. Its instances are usually
//! few (one per `vus-per-instance` VUs of a shared world), so the pool's per-instance cost matters
//! little there; a component built with async features and run with one instance per VU pays it.
//! Either way the store's limiter ([`crate::state`]) bounds what one instance creates (instances,
//! memories, tables: [`EngineHandle::settle`] refuses a component over the memories or tables at
//! load), and [`capacity`] checks up front that the process can map every VU.
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

/// Core wasm instances one component may create (a store's limit; each is a heap block of
/// wasmtime's): Rust and C components use 3, componentize-js 4, componentize-qjs ~9 (8 modules and
/// an adapter wasmtime adds between its nested components), componentize-py 14 plus one per native
/// extension module. Generous: what bounds a VU's cost is its memories and tables.
pub(crate) const CORE_INSTANCES_PER_VU: u32 = 64;
/// Linear memories per component (a store's limit; each reserves up to `memory-limit` of address
/// space and a few memory mappings, which the capacity check counts): 1 for Rust, C, componentize-js and
/// componentize-py, 2 for componentize-qjs.
pub(crate) const MEMORIES_PER_VU: u32 = 3;
/// Tables per component (a store's limit): 2 in every component built here.
pub(crate) const TABLES_PER_VU: u32 = 4;
/// Elements per table (a store's limit, and the pool's size of a table): wasmtime's pool default,
/// which every component so far has fitted.
pub(crate) const TABLE_ELEMENTS: usize = 20_000;
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
    /// anyway. The memory is then one of Stampede's own ([`crate::linear_memory`] on Linux: two
    /// memory mappings, and only its size plus a Wasm page of address space until it grows) instead
    /// of wasmtime's (up to five mappings: a copy-on-write image sits between two accessible
    /// parts), so a process holds ~60 % more VUs under `vm.max_map_count` ([`crate::capacity`]),
    /// and no page is first mapped shared and then copied on its first write.
    Copy,
    /// Mapped copy-on-write from the compiled component (wasmtime's default), for a large image: a
    /// JavaScript or Python interpreter's heap, whose pages an instance never touches then cost it
    /// nothing.
    CopyOnWrite,
}

/// What the engine and the capacity check need to know of a component's memories, read from its
/// bytes before it compiles (an estimate: [`EngineHandle::settle`] has wasmtime's exact count).
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
    /// Memories the core modules define.
    memories: u32,
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
                        c.data = c.data.saturating_add(segment.ok()?.data.len() as u64);
                    }
                }
                Payload::MemorySection(section) => {
                    for memory in section {
                        memory.ok()?;
                        c.memories = c.memories.saturating_add(1);
                    }
                }
                Payload::ModuleSection { .. } => c.modules = c.modules.saturating_add(1),
                Payload::ComponentSection { .. } => c.components = c.components.saturating_add(1),
                Payload::InstanceSection(section) => {
                    for instance in section {
                        if let Instance::Instantiate { .. } = instance.ok()? {
                            c.module_instances = c.module_instances.saturating_add(1);
                        }
                    }
                }
                Payload::ComponentInstanceSection(section) => {
                    for instance in section {
                        if let ComponentInstance::Instantiate { .. } = instance.ok()? {
                            c.component_instances = c.component_instances.saturating_add(1);
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
}

/// Per-guest-call native stack (wasm frames). Far above what scenarios need; only touched pages cost.
pub(crate) const MAX_WASM_STACK: usize = 512 * 1024;
/// Fiber stack for one async guest call: the wasm stack plus room for host frames (256 KiB; the
/// deepest host call measured reaches ~12 KiB, and `fiber_stack` needs 193 KiB below a sleep). Only
/// touched pages cost memory, but each VU's stack is a mapping of its own between VUs' memories, so
/// its size spaces the VUs' few touched pages apart: 768 KiB instead of 1 MiB puts more of them
/// under each page-table page (bench/memory_breakdown.py: 2.6 -> 2.1 KiB of page tables per VU).
pub(crate) const ASYNC_STACK: usize = 768 * 1024;

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
    limits: EngineLimits,
    init: MemoryInit,
    /// The linear memories a store may create (its limiter's limit), as the capacity check counted
    /// them.
    memories: u32,
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
        check_capacity(limits, concurrency, memories.count, init)?;
        let engine = Engine::new(&config(limits, concurrency, init))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), stop.clone());
        Ok(EngineHandle {
            engine,
            concurrency,
            limits,
            init,
            memories: memories.count,
            stop,
        })
    }

    /// Check `component` (compiled for this engine) with wasmtime's exact count of what one
    /// instance of it creates (its modules, the adapter modules wasmtime adds between its nested
    /// components, any module instantiated more than once): more memories or tables than a store
    /// allows is refused here, before any VU starts, and more memories than its bytes showed are
    /// checked against the capacity again. A component that imports core modules has no such count
    /// (none built by the SDKs does); then only the store's limits apply, at instantiation.
    pub(crate) fn settle(
        &mut self,
        component: &wasmtime::component::Component,
        what: &str,
    ) -> Result<(), RuntimeError> {
        let Some(needs) = component.resources_required() else {
            return Ok(());
        };
        let mut over = Vec::new();
        if needs.num_memories > MEMORIES_PER_VU {
            over.push(format!("{} linear memories", needs.num_memories));
        }
        if needs.num_tables > TABLES_PER_VU {
            over.push(format!("{} tables", needs.num_tables));
        }
        if !over.is_empty() {
            return Err(RuntimeError::Limits {
                what: what.into(),
                detail: over.join(" and "),
            });
        }
        if needs.num_memories > self.memories {
            check_capacity(self.limits, self.concurrency, needs.num_memories, self.init)?;
        }
        self.memories = needs.num_memories;
        Ok(())
    }

    /// The linear memories one of its stores may create.
    pub(crate) fn memories(&self) -> u32 {
        self.memories
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

/// Fail with [`RuntimeError::Capacity`] if this process cannot host `limits.max_vus` instances
/// of a component with `memories` linear memories whose data gets there by `init`.
fn check_capacity(
    limits: EngineLimits,
    concurrency: Concurrency,
    memories: u32,
    init: MemoryInit,
) -> Result<(), RuntimeError> {
    let cap = capacity::host_capacity_for(
        limits.memory_limit,
        stacks_per_store(concurrency),
        memories,
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
    Ok(())
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

/// Whether an engine's linear memories are [`crate::linear_memory::Moving`] ones: on Linux, for
/// instances allocated on demand whose data is copied in (a copy-on-write image needs wasmtime's
/// own mapping; the pool allocates its slots itself).
pub(crate) fn moving_memories(concurrency: Concurrency, init: MemoryInit) -> bool {
    cfg!(target_os = "linux") && !pooled(concurrency) && init == MemoryInit::Copy
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
            .max_memory_size(limits.memory_limit as usize)
            // A module may have what a store may (`state::MemoryLimiter`; the pool's default is one
            // memory and one table). What a whole component creates is checked for either engine
            // by `EngineHandle::settle` and the store's limiter, with Stampede's own message.
            .max_memories_per_module(MEMORIES_PER_VU)
            .max_tables_per_module(TABLES_PER_VU)
            .table_elements(TABLE_ELEMENTS);
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
        .memory_guard_size(64 * 1024)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    if moving_memories(concurrency, init) {
        // Each memory reserves what it holds plus a Wasm page, and moves its pages when it
        // outgrows that (`linear_memory`); the store's limiter refuses growth beyond the limit.
        #[cfg(target_os = "linux")]
        config
            .with_host_memory(Arc::new(crate::linear_memory::Creator {
                limit: limits.memory_limit,
            }))
            .memory_reservation(0)
            .memory_reservation_for_growth(0)
            .memory_may_move(true);
    } else {
        // Each memory reserves its limit (plus guard regions) at once and never moves; the store's
        // limiter refuses growth beyond it.
        config
            .memory_reservation(limits.memory_limit)
            .memory_reservation_for_growth(0)
            .memory_may_move(false);
    }
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
    fn a_module_instantiated_twice_counts_as_the_most_memories() {
        let once = Census {
            modules: 3,
            module_instances: 3,
            memories: 1,
            ..Census::default()
        };
        assert!(!once.repeats());
        let twice = Census {
            module_instances: 4,
            ..once
        };
        assert!(twice.repeats());
    }

    #[test]
    fn a_compiled_component_settles_on_wasmtimes_count_of_its_memories() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guest");
        let bytes = std::fs::read(dir.join("wasm32-wasip2/release/rust_get.wasm"))
            .expect("plugins/rust-get is built (scripts/build-guests.sh; scripts/test.sh runs it)");
        let census = Census::of(&bytes).unwrap();
        assert_eq!(
            (census.modules, census.module_instances, census.memories),
            (3, 3, 1)
        );
        let estimate = Memories::of_component(&bytes);
        assert_eq!(
            estimate,
            Memories {
                init: MemoryInit::Copy,
                count: 1
            }
        );
        let limits = EngineLimits {
            max_vus: 10,
            memory_limit: 16 << 20,
        };
        // Made to look as if its bytes had shown the most memories a VU may have.
        let mut engine = EngineHandle::new(
            limits,
            Concurrency::Off,
            Memories {
                count: MEMORIES_PER_VU,
                ..estimate
            },
        )
        .unwrap();
        let component = wasmtime::component::Component::new(engine.engine(), &bytes).unwrap();
        engine.settle(&component, "rust-get").unwrap();
        assert_eq!(engine.memories(), 1, "wasmtime's count");
    }
}
