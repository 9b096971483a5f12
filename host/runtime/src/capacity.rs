//! How many VUs (one instance each) this process can host, computed up front so a run fails with a
//! precise message instead of ENOMEM half-way.
//!
//! Two limits matter on Linux: `vm.max_map_count` (each pooled instance costs a handful of memory
//! mappings) and the address space (each VU reserves its memory limit plus stacks).

use crate::engine::MemoryInit;
use std::path::Path;

/// Memory mappings one pooled VU costs when its memory's initial data is mapped copy-on-write
/// (`MemoryInit::CopyOnWrite`; measured 6: the linear memory's slot in four, the data image between
/// two accessible parts and the inaccessible rest, and the fiber stack with its guard page), plus
/// one for margin.
pub const MAPS_PER_VU: u64 = 7;
/// The same when the data is copied in (`MemoryInit::Copy`; measured 4: the slot in two).
pub const MAPS_PER_VU_COPIED: u64 = 5;
/// Mappings kept free for the rest of the process (threads, sockets, libraries, allocator arenas).
const MAP_HEADROOM: u64 = 4_000;
/// Virtual memory a VU reserves beside its linear memories: its core instance slots (1 MiB each by
/// default), its async stack, tables and guard pages.
const VIRTUAL_OVERHEAD_PER_VU: u64 = (crate::engine::CORE_INSTANCES_PER_VU as u64 + 16) << 20;
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
/// whose data is copied into its instances (a Rust or C scenario's; a component with a large data
/// image costs more mappings per VU, and its load checks again: [`host_capacity_for`]).
pub fn host_capacity(memory_limit: u64) -> HostCapacity {
    host_capacity_for(memory_limit, 1, MemoryInit::Copy)
}

/// [`host_capacity`] for an engine with `stacks` pooled fiber stacks per VU (each stack beyond the
/// first costs two more mappings: the stack and its guard page) whose instances get their data by
/// `init`.
pub(crate) fn host_capacity_for(memory_limit: u64, stacks: u32, init: MemoryInit) -> HostCapacity {
    let max_map_count = read_u64(Path::new("/proc/sys/vm/max_map_count"));
    let used_maps = std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count() as u64)
        .ok();
    let address_space = address_space_limit().min(ADDRESS_SPACE);
    // The pool reserves every memory slot a VU may use, each at the memory limit plus its guard.
    let memories = u64::from(crate::engine::MEMORIES_PER_VU) * (memory_limit + (64 << 10));
    let per_vu_virtual = memories.saturating_add(VIRTUAL_OVERHEAD_PER_VU);
    let maps = match init {
        MemoryInit::Copy => MAPS_PER_VU_COPIED,
        MemoryInit::CopyOnWrite => MAPS_PER_VU,
    };
    let maps_per_vu = maps + 2 * u64::from(stacks.saturating_sub(1));
    compute(
        max_map_count,
        used_maps,
        address_space,
        per_vu_virtual,
        maps_per_vu,
    )
}

fn compute(
    max_map_count: Option<u64>,
    used_maps: Option<u64>,
    address_space: u64,
    per_vu_virtual: u64,
    maps_per_vu: u64,
) -> HostCapacity {
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
                "address space: {} MiB reserved per VU for its memory limit and stacks",
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

#[allow(unsafe_code)]
fn address_space_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        lim.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_count_limits_default_linux() {
        let cap = compute(
            Some(65_530),
            Some(500),
            ADDRESS_SPACE,
            80 << 20,
            MAPS_PER_VU,
        );
        assert_eq!(cap.max_vus, (65_530 - 500 - MAP_HEADROOM) / MAPS_PER_VU);
        assert!(
            cap.limited_by.contains("vm.max_map_count is 65530"),
            "{}",
            cap.limited_by
        );
    }

    #[test]
    fn a_second_fiber_stack_per_vu_costs_two_mappings() {
        let one = host_capacity_for(64 << 20, 1, MemoryInit::CopyOnWrite);
        let two = host_capacity_for(64 << 20, 2, MemoryInit::CopyOnWrite);
        if one.limited_by.contains("vm.max_map_count") {
            assert!(two.max_vus < one.max_vus, "{two:?} vs {one:?}");
            assert!(
                two.limited_by
                    .contains(&format!("about {} memory", MAPS_PER_VU + 2)),
                "{}",
                two.limited_by
            );
        }
    }

    #[test]
    fn copied_data_fits_more_vus_than_a_mapped_image() {
        let copied = host_capacity_for(64 << 20, 1, MemoryInit::Copy);
        let mapped = host_capacity_for(64 << 20, 1, MemoryInit::CopyOnWrite);
        if mapped.limited_by.contains("vm.max_map_count") {
            assert!(copied.max_vus > mapped.max_vus, "{copied:?} vs {mapped:?}");
            assert!(
                copied
                    .limited_by
                    .contains(&format!("about {MAPS_PER_VU_COPIED} memory")),
                "{}",
                copied.limited_by
            );
        }
    }

    #[test]
    fn address_space_limits_large_memories() {
        let cap = compute(Some(10_000_000), Some(500), 64 << 30, 4 << 30, MAPS_PER_VU);
        assert_eq!(cap.max_vus, 16);
        assert!(cap.limited_by.contains("address space"));
    }

    #[test]
    fn unknown_map_count_falls_back_to_address_space() {
        let cap = compute(None, None, 1 << 40, 1 << 30, MAPS_PER_VU);
        assert_eq!(cap.max_vus, 1024);
    }

    #[test]
    fn this_host_has_some_capacity() {
        assert!(host_capacity(64 << 20).max_vus > 100);
    }
}
