//! The wasmtime engine: on-demand instance allocation, epoch interruption, and the epoch ticker
//! thread.
//!
//! Instances are allocated on demand, not from wasmtime's pooling allocator: an idle VU costs ~5 KiB
//! less that way (BENCHMARKS.md, twenty-sixth session). A pooled table slot is page-aligned, so each
//! instance's dozen table elements took a page of their own where an on-demand table is a small heap
//! block, and the pool's slots spread each VU's pages over more page tables. Instantiation takes
//! ~20 us longer (an `mmap` for the memory instead of a reused slot), once per VU. The limits the
//! pool's sizes used to set per VU (instances, memories, tables) are the store's limiter's now
//! ([`crate::state`]), and [`capacity`] still checks up front that the process can map every VU.
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
use wasmtime::{Config, Engine, InstanceAllocationStrategy};

/// How often the epoch advances. A guest running without host calls yields to tokio once per tick,
/// and the CPU budget is counted in ticks, so this is the budget's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core wasm instances one component may create (a store's limit): Rust and C components use 3,
/// componentize-js 4, componentize-py 14 (counted in the built components).
pub(crate) const CORE_INSTANCES_PER_VU: u32 = 16;
/// Linear memories per component (a store's limit): 1 for Rust and C, up to 3 for QuickJS.
pub(crate) const MEMORIES_PER_VU: u32 = 3;
/// Tables per component (a store's limit).
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

/// What the engine and the capacity check need to know of a component's linear memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memories {
    /// How an instance's memory gets the component's initial data.
    pub(crate) init: MemoryInit,
    /// How many memories its core modules define.
    pub(crate) count: u32,
}

impl Memories {
    /// The facts for `bytes` (a component, or a core module): the way its data gets into an
    /// instance from the size of the data segments of its core modules, and their memories. Input
    /// that does not parse gets wasmtime's default and the most memories a VU may have; it will not
    /// compile either, and wasmtime's error says why.
    pub(crate) fn of_component(bytes: &[u8]) -> Memories {
        match data_and_memories(bytes) {
            Some((data, count)) => Memories {
                init: if data <= COPY_DATA_UP_TO {
                    MemoryInit::Copy
                } else {
                    MemoryInit::CopyOnWrite
                },
                count,
            },
            None => Memories {
                init: MemoryInit::CopyOnWrite,
                count: MEMORIES_PER_VU,
            },
        }
    }
}

/// The bytes of the data segments of `bytes` and of every core module nested in it, and the
/// memories they define.
fn data_and_memories(bytes: &[u8]) -> Option<(u64, u32)> {
    let mut data = 0u64;
    let mut memories = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            wasmparser::Payload::DataSection(section) => {
                for segment in section {
                    data += segment.ok()?.data.len() as u64;
                }
            }
            wasmparser::Payload::MemorySection(section) => {
                memories = memories.saturating_add(section.count());
            }
            _ => {}
        }
    }
    Some((data, memories))
}

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

fn config(limits: EngineLimits, concurrency: Concurrency, init: MemoryInit) -> Config {
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::OnDemand)
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
        assert_eq!(data_and_memories(&module_with_data(1000)), Some((1000, 1)));
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
}
