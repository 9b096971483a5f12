//! How many VUs (one instance each) this process can host, computed up front so a run fails with a
//! precise message instead of ENOMEM half-way.
//!
//! Two limits matter on Linux: `vm.max_map_count` (each instance costs a handful of memory mappings)
//! and the address space (each VU reserves its memory limit plus stacks).

use crate::engine::MemoryInit;
use std::path::Path;

/// Memory mappings of a fiber stack: the stack and its guard page.
const MAPS_PER_STACK: u64 = 2;
/// Memory mappings of a linear memory of wasmtime's allocated on demand (a component whose data is
/// mapped copy-on-write, or any off Linux): the guard region before it, its accessible part, and
/// the rest of its reservation with the guard region after it. (Before Stampede's own memories, a
/// rust-get VU measured 4.0-4.8 with this against 5: neighbouring guard regions merge.)
const MAPS_PER_MEMORY: u64 = 3;
/// The same for a memory of Stampede's own (`linear_memory`, instances allocated on demand whose
/// data is copied in): its accessible part, and the rest of its reservation with the guard region
/// after it, however often it moved (one more for a moment while it moves: [`MAPS_MARGIN`] covers
/// it). A rust-get VU measures 4.0 (BENCHMARKS.md, "Memory mappings per VU").
const MAPS_PER_MOVING_MEMORY: u64 = 2;
/// The same for a memory in a slot of wasmtime's pool (the pool's slots share their guard
/// regions): its accessible part and the rest of the slot.
const MAPS_PER_POOLED_MEMORY: u64 = 2;
/// Memory mappings a data image mapped copy-on-write adds to a memory: it splits the accessible part
/// in up to three (before the image, the image, after it). js-shop measured 5.6 per VU against 7.
const MAPS_PER_IMAGE: u64 = 2;
/// Spare mappings per VU.
const MAPS_MARGIN: u64 = 1;
/// Mappings kept free for the rest of the process (threads, sockets, libraries, allocator arenas).
const MAP_HEADROOM: u64 = 4_000;
/// Address space a VU allocated on demand reserves beside its linear memories: its async stack with
/// its guard page, and room to spare.
const VIRTUAL_OVERHEAD_PER_VU: u64 = (crate::engine::ASYNC_STACK as u64) + (1 << 20);
/// The same for an instance in wasmtime's pool, which reserves every slot up front: its two async
/// stacks with their guard pages, its table slots (8 bytes an element), and room to spare.
const POOLED_VIRTUAL_OVERHEAD_PER_VU: u64 = 2 * (crate::engine::ASYNC_STACK as u64 + (64 << 10))
    + crate::engine::TABLES_PER_VU as u64 * crate::engine::TABLE_ELEMENTS as u64 * 8
    + (1 << 20);
/// Address space kept free for the rest of the process (the heap's arenas, thread stacks) under an
/// address-space limit (`ulimit -v`), beside what it already uses: a quarter of the limit, at most
/// this.
const ADDRESS_HEADROOM: u64 = 4 << 30;
/// A practical ceiling on usable address space for x86_64 user processes (128 TiB minus headroom).
const ADDRESS_SPACE: u64 = 100 << 40;

/// The VU capacity of this process and the limit that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCapacity {
    /// Most VUs.
    pub max_vus: u64,
    /// Which limit, in words.
    pub limited_by: String,
    /// What the user can raise.
    pub advice: String,
}

/// Capacity with every VU capped at `memory_limit` bytes of linear memory: the most, for a component
/// with one memory whose data is copied into its instances (a Rust or C scenario's; a component with
/// a large data image or more memories costs more mappings per VU, and its load checks again:
/// [`host_capacity_for`]).
pub fn host_capacity(memory_limit: u64) -> HostCapacity {
    host_capacity_for(memory_limit, 1, 1, MemoryInit::Copy, false)
}

/// Memory mappings one VU costs with up to `stacks` fiber stacks and `memories` linear memories
/// whose data gets there by `init`, allocated from wasmtime's pool if `pooled` (else on demand),
/// one spare included.
pub(crate) fn maps_per_vu(stacks: u32, memories: u32, init: MemoryInit, pooled: bool) -> u64 {
    let per_memory = match (pooled, init) {
        (true, MemoryInit::Copy) => MAPS_PER_POOLED_MEMORY,
        (true, MemoryInit::CopyOnWrite) => MAPS_PER_POOLED_MEMORY + MAPS_PER_IMAGE,
        (false, init) if crate::engine::moving_memories(crate::engine::Concurrency::Off, init) => {
            MAPS_PER_MOVING_MEMORY
        }
        (false, MemoryInit::Copy) => MAPS_PER_MEMORY,
        (false, MemoryInit::CopyOnWrite) => MAPS_PER_MEMORY + MAPS_PER_IMAGE,
    };
    MAPS_PER_STACK * u64::from(stacks.max(1))
        + per_memory * u64::from(memories.max(1))
        + MAPS_MARGIN
}

/// [`host_capacity`] for an engine with up to `stacks` fiber stacks per VU (each costs mappings and
/// address space), allocating from wasmtime's pool if `pooled`, and a component with `memories`
/// linear memories whose instances get their data by `init`.
pub(crate) fn host_capacity_for(
    memory_limit: u64,
    stacks: u32,
    memories: u32,
    init: MemoryInit,
    pooled: bool,
) -> HostCapacity {
    let max_map_count = read_u64(Path::new("/proc/sys/vm/max_map_count"));
    let used_maps = std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count() as u64)
        .ok();
    let (address_space, space) = match address_space_limit() {
        // Set (`ulimit -v`): what the process does not use yet, less room for its heap and threads.
        Some(limit) => {
            let used = used_address_space().unwrap_or(0);
            let left = limit
                .saturating_sub(used)
                .saturating_sub((limit / 4).min(ADDRESS_HEADROOM));
            let space = format!(
                "the address-space limit (ulimit -v) of {} MiB, {} MiB of it in use and a quarter (at most 4 GiB) kept for the heap",
                limit >> 20,
                used >> 20
            );
            (left.min(ADDRESS_SPACE), space)
        }
        None => (ADDRESS_SPACE, "address space".to_string()),
    };
    let per_vu_virtual = if pooled {
        // The pool reserves every memory slot a VU may use, each at the memory limit plus its guard.
        u64::from(crate::engine::MEMORIES_PER_VU)
            .saturating_mul(memory_limit + (64 << 10))
            .saturating_add(POOLED_VIRTUAL_OVERHEAD_PER_VU)
    } else {
        // Each memory reserves up to the memory limit plus its guard regions: wasmtime's at once as
        // it is created, Stampede's own (`linear_memory`) as it grows (for a moment twice while
        // one moves: ADDRESS_HEADROOM covers a memory per VU thread).
        u64::from(memories.max(1))
            .saturating_mul(memory_limit + (128 << 10))
            .saturating_add(VIRTUAL_OVERHEAD_PER_VU)
            .saturating_add(u64::from(stacks.saturating_sub(1)) * crate::engine::ASYNC_STACK as u64)
    };
    let maps_per_vu = maps_per_vu(stacks, memories, init, pooled);
    compute(
        max_map_count,
        used_maps,
        (address_space, &space),
        per_vu_virtual,
        maps_per_vu,
    )
}

/// The capacity from the mapping count and the address space (`space`: how much, and its name).
fn compute(
    max_map_count: Option<u64>,
    used_maps: Option<u64>,
    space: (u64, &str),
    per_vu_virtual: u64,
    maps_per_vu: u64,
) -> HostCapacity {
    let (address_space, space) = space;
    let by_space = address_space / per_vu_virtual.max(1);
    let by_maps = max_map_count
        .map(|max| max.saturating_sub(used_maps.unwrap_or(0) + MAP_HEADROOM) / maps_per_vu);
    match by_maps {
        Some(maps) if maps <= by_space => HostCapacity {
            max_vus: maps,
            limited_by: format!(
                "vm.max_map_count is {}, about {maps_per_vu} memory mappings per VU",
                max_map_count.unwrap_or_default()
            ),
            advice: "raise vm.max_map_count (sysctl -w vm.max_map_count=1048576)".into(),
        },
        _ => HostCapacity {
            max_vus: by_space,
            limited_by: format!(
                "{space}: {} MiB reserved per VU for its memory limit and stacks",
                per_vu_virtual >> 20
            ),
            advice: "lower options.memory-limit or raise the address-space limit (ulimit -v)"
                .into(),
        },
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The address space the process uses now (`VmSize`), in bytes.
fn used_address_space() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// The process's address-space limit (`ulimit -v`), if it has one.
#[allow(unsafe_code)]
fn address_space_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_count_limits_default_linux() {
        let per_vu = maps_per_vu(1, 1, MemoryInit::CopyOnWrite, false);
        let cap = compute(
            Some(65_530),
            Some(500),
            (ADDRESS_SPACE, "address space"),
            80 << 20,
            per_vu,
        );
        assert_eq!(cap.max_vus, (65_530 - 500 - MAP_HEADROOM) / per_vu);
        assert!(
            cap.limited_by.contains("vm.max_map_count is 65530"),
            "{}",
            cap.limited_by
        );
    }

    #[test]
    fn mappings_per_vu_add_up_by_stack_memory_and_image() {
        let on_demand = |stacks, memories, init| maps_per_vu(stacks, memories, init, false);
        // rust-get: a stack, a memory of Stampede's own with its data copied in: 2 + 2, and one
        // spare.
        assert_eq!(on_demand(1, 1, MemoryInit::Copy), 5);
        // js-shop: its image mapped copy-on-write splits the memory's accessible part.
        assert_eq!(on_demand(1, 1, MemoryInit::CopyOnWrite), 8);
        // A second stack and a second memory.
        assert_eq!(on_demand(2, 1, MemoryInit::CopyOnWrite), 10);
        assert_eq!(on_demand(1, 2, MemoryInit::Copy), 7);
        assert_eq!(on_demand(1, 2, MemoryInit::CopyOnWrite), 13);
        // A component that declares no memory still gets a stack and room for one.
        assert_eq!(on_demand(1, 0, MemoryInit::Copy), 5);
        // From the pool (engines with concurrency: two stacks): a memory's slot is one mapping
        // less. fixture-shared 7, js-shared (two memories, an image) 13.
        assert_eq!(maps_per_vu(2, 1, MemoryInit::Copy, true), 7);
        assert_eq!(maps_per_vu(2, 2, MemoryInit::CopyOnWrite, true), 13);
    }

    #[test]
    fn more_stacks_memories_or_an_image_fit_fewer_vus() {
        let base = host_capacity_for(64 << 20, 1, 1, MemoryInit::Copy, false);
        if base.limited_by.contains("vm.max_map_count") {
            assert!(base.limited_by.contains("about 5 memory"), "{base:?}");
            for other in [
                host_capacity_for(64 << 20, 2, 1, MemoryInit::Copy, false),
                host_capacity_for(64 << 20, 1, 2, MemoryInit::Copy, false),
                host_capacity_for(64 << 20, 1, 1, MemoryInit::CopyOnWrite, false),
            ] {
                assert!(other.max_vus < base.max_vus, "{other:?} vs {base:?}");
            }
        }
    }

    #[test]
    fn address_space_limits_large_memories() {
        let cap = compute(
            Some(10_000_000),
            Some(500),
            (64 << 30, "address space"),
            4 << 30,
            8,
        );
        assert_eq!(cap.max_vus, 16);
        assert!(cap.limited_by.contains("address space"));
    }

    #[test]
    fn unknown_map_count_falls_back_to_address_space() {
        let cap = compute(None, None, (1 << 40, "address space"), 1 << 30, 8);
        assert_eq!(cap.max_vus, 1024);
    }

    #[test]
    fn this_host_has_some_capacity() {
        assert!(host_capacity(64 << 20).max_vus > 100);
    }
}
