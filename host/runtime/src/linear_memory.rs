//! Linear memories that reserve little address space and move their pages when they outgrow it.
//!
//! wasmtime's default memory for an instance allocated on demand reserves the memory's limit (the
//! plan's `memory-limit`, 16 MiB in bench/memory.py) at once, so every VU's few touched pages sit
//! in a 2 MiB region of their own, under a page-table page of their own (4 KiB per VU: a tenth of
//! an idle VU). wasmtime's own movable memories (`memory_reservation(0)`) reserve less but copy the
//! whole memory when they outgrow the reservation, which makes every page of it resident: one
//! `memory.grow` and an idle VU holds its entire heap.
//!
//! A [`Moving`] memory reserves what it holds plus [`ROOM`] (then the guard region), and when it
//! outgrows that, reserves twice as much elsewhere and moves its pages there with `mremap`: the
//! kernel moves the page-table entries, so only the pages the guest touched are resident after the
//! move, as before it, and nothing is copied. The engine compiles the guest for a memory whose base
//! may change (wasmtime reloads it after calls that may grow memory; bounds are checked against the
//! memory's current length, as they are for a 16 MiB reservation too).
//!
//! Unlike wasmtime's own memories, a `Moving` one has no guard region before its base (wasmtime's
//! `guard_before_linear_memory`, a defence against code-generation bugs, not needed by correct
//! code): it would be one more memory mapping per VU, which `vm.max_map_count` caps.
//!
//! Used by engines that allocate on demand and copy a component's data into each instance
//! ([`crate::engine::MemoryInit::Copy`]): a Rust or C scenario, one instance per VU. The others
//! keep wasmtime's memories: a copy-on-write image needs wasmtime's own mapping, and the pool
//! allocates its slots itself.

use std::io;

use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

use crate::fiber_stack::page_size;

/// Address space a memory reserves beyond its initial size before it has to move: one Wasm page.
/// Small, so that the touched pages of several VUs (and their fiber stacks' tops) share
/// page-table pages; a guest that grows its memory further moves it once per doubling.
pub(crate) const ROOM: usize = 64 * 1024;

/// Makes [`Moving`] memories (wasmtime's `Config::with_host_memory`) for stores whose limiter caps
/// every memory at `limit` bytes: no reservation grows beyond that (though while a memory moves,
/// its old and new reservations both exist for a moment), so a VU's address space is what the
/// capacity check counts (`crate::capacity`).
pub(crate) struct Creator {
    pub(crate) limit: u64,
}

// SAFETY: every memory it makes is zero-filled, page-aligned, a multiple of the page size, and
// followed by at least `guard_size_in_bytes` of inaccessible address space (see `Moving`).
unsafe impl MemoryCreator for Creator {
    fn new_memory(
        &self,
        ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        // A shared memory never moves (and needs the `threads` feature, which Stampede's engines
        // leave off).
        if ty.is_shared() {
            return Err("a shared linear memory cannot be one that moves".into());
        }
        // The engine asks for no fixed reservation (`memory_reservation(0)`).
        debug_assert_eq!(reserved_size_in_bytes, Some(0));
        // The limiter refuses growth beyond the limit before a memory is asked to grow.
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let maximum = Some(maximum.map_or(limit, |max| max.min(limit)).max(minimum));
        Moving::new(
            minimum,
            maximum,
            reserved_size_in_bytes,
            guard_size_in_bytes,
        )
        .map(|memory| Box::new(memory) as Box<dyn LinearMemory>)
        .map_err(|e| format!("reserving a linear memory of {minimum} bytes: {e}"))
    }
}

/// One linear memory: a private anonymous mapping of `capacity + guard` bytes, of which the first
/// `len` (rounded up to pages) are readable and writable and the rest inaccessible.
pub(crate) struct Moving {
    base: *mut u8,
    /// Bytes the guest may access.
    len: usize,
    /// Bytes reserved for the memory (it grows up to these without moving).
    capacity: usize,
    /// Inaccessible bytes after the reservation.
    guard: usize,
    /// The memory's maximum size, if it has one.
    maximum: Option<usize>,
    /// Set when wasmtime asked for a fixed reservation: the memory never moves then.
    fixed: bool,
}

// SAFETY: the mapping is owned by this value alone; wasmtime serialises access to a store's memories.
unsafe impl Send for Moving {}
// SAFETY: as above; `&Moving` only reads the fields.
unsafe impl Sync for Moving {}

impl Moving {
    pub(crate) fn new(
        minimum: usize,
        maximum: Option<usize>,
        reserved: Option<usize>,
        guard: usize,
    ) -> io::Result<Moving> {
        let page = page_size();
        let reserved = reserved.filter(|&r| r > 0);
        let capacity = match reserved {
            Some(r) => round_up(r.max(minimum), page)?,
            None => {
                let wanted = round_up(minimum.saturating_add(ROOM), page)?;
                maximum.map_or(wanted, |max| {
                    wanted.min(round_up(max, page).unwrap_or(wanted))
                })
            }
        };
        let capacity = capacity.max(round_up(minimum, page)?);
        let guard = round_up(guard, page)?;
        let base = reserve(capacity.checked_add(guard).ok_or_else(too_big)?)?;
        let mut memory = Moving {
            base,
            len: 0,
            capacity,
            guard,
            maximum,
            fixed: reserved.is_some(),
        };
        // On failure `memory` is dropped, which unmaps the reservation.
        memory.make_accessible(minimum)?;
        Ok(memory)
    }

    /// Let the guest access the first `new_len` bytes (which fit in the reservation).
    fn make_accessible(&mut self, new_len: usize) -> io::Result<()> {
        let page = page_size();
        let from = round_up(self.len, page)?;
        let to = round_up(new_len, page)?;
        debug_assert!(to <= self.capacity);
        if to > from {
            // SAFETY: `[base + from, base + to)` lies within this memory's reservation.
            let rc = unsafe {
                libc::mprotect(
                    self.base.add(from).cast(),
                    to - from,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.len = new_len;
        Ok(())
    }

    /// Move the memory to a reservation of `capacity` bytes (plus the guard region) elsewhere.
    ///
    /// One `mremap` moves the accessible pages and grows their mapping to the whole new reservation,
    /// so the memory stays one mapping of the kernel's, split in two by protection (pages keep the
    /// offsets of the mapping they were made in: a part moved into a separately made reservation
    /// would never merge with it again, every move would leave one more mapping, and Linux before
    /// 6.17 cannot move a range that spans two). The grown part is then made inaccessible again.
    fn move_to(&mut self, capacity: usize) -> io::Result<()> {
        let page = page_size();
        let total = capacity.checked_add(self.guard).ok_or_else(too_big)?;
        let old_total = self.capacity + self.guard;
        let accessible = round_up(self.len, page)?;
        // Reserved first, so that no other mapping takes the address range before the pages come.
        let new = reserve(total)?;
        if accessible == 0 {
            // SAFETY: the old reservation is this memory's own and holds nothing.
            unsafe { unmap(self.base, old_total) };
        } else {
            // SAFETY: the old accessible part is one mapping of this memory's own, and the target
            // the fresh reservation above, which `MREMAP_FIXED` replaces whole. The kernel moves
            // the pages (and their page-table entries): untouched pages stay unpopulated.
            let moved = unsafe {
                libc::mremap(
                    self.base.cast(),
                    accessible,
                    total,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    new.cast::<libc::c_void>(),
                )
            };
            if moved == libc::MAP_FAILED {
                let err = io::Error::last_os_error();
                // SAFETY: `new` is the reservation made above, unused; the memory is where it was.
                unsafe { unmap(new, total) };
                return Err(err);
            }
            // SAFETY: what is left of the old reservation (its accessible part is gone: that range
            // is free address space now, maybe some other mapping's already) is this memory's own.
            unsafe { unmap(self.base.add(accessible), old_total - accessible) };
        }
        self.base = new;
        self.capacity = capacity;
        if accessible > 0 {
            // SAFETY: `[new + accessible, new + total)` is the part `mremap` grew, this memory's own.
            let rc = unsafe {
                libc::mprotect(
                    new.add(accessible).cast(),
                    total - accessible,
                    libc::PROT_NONE,
                )
            };
            if rc != 0 {
                // Only a kernel short of memory mappings fails here. The range is this memory's
                // own, so the host stays safe, but the guest's accesses past its memory's end (up
                // to the guard's size) would not trap.
                let err = io::Error::last_os_error();
                tracing::error!(
                    "a linear memory moved, but its guard region could not be made inaccessible: {err}"
                );
                return Err(err);
            }
        }
        Ok(())
    }
}

/// Unmap `[base, base + len)`.
///
/// # Safety
/// The range must be the caller's own and unused.
unsafe fn unmap(base: *mut u8, len: usize) {
    // SAFETY: as the caller promises.
    let rc = unsafe { libc::munmap(base.cast(), len) };
    // Fails only when splitting a mapping would exceed `vm.max_map_count`: the range stays
    // reserved (address space, no memory).
    debug_assert_eq!(rc, 0, "munmap: {}", io::Error::last_os_error());
}

// SAFETY: `base` is page-aligned; the first `len` bytes are accessible and zero-filled when first
// mapped, and `guard` inaccessible bytes follow the `capacity` reserved ones, whatever the length.
unsafe impl LinearMemory for Moving {
    fn byte_size(&self) -> usize {
        self.len
    }

    fn byte_capacity(&self) -> usize {
        self.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        let page = page_size();
        let needed = round_up(new_size, page)?;
        if self.maximum.is_some_and(|max| new_size > max) {
            wasmtime::bail!("a linear memory cannot grow to {new_size} bytes, over its maximum");
        }
        if needed > self.capacity {
            if self.fixed {
                wasmtime::bail!("a linear memory cannot grow beyond its fixed reservation");
            }
            // Twice what it needs, so a memory that keeps growing moves once per doubling.
            let doubled = needed.saturating_mul(2);
            let capacity = match self.maximum {
                Some(max) => doubled.min(round_up(max, page)?).max(needed),
                None => doubled,
            };
            self.move_to(capacity)?;
        }
        self.make_accessible(new_size)?;
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.base
    }
}

impl Drop for Moving {
    fn drop(&mut self) {
        // SAFETY: the reservation is this memory's own, and nothing uses it once it is dropped.
        unsafe { unmap(self.base, self.capacity + self.guard) };
    }
}

/// A fresh inaccessible private mapping of `len` bytes (reserved address space, no memory).
fn reserve(len: usize) -> io::Result<*mut u8> {
    // SAFETY: a new anonymous mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

fn round_up(n: usize, page: usize) -> io::Result<usize> {
    n.checked_next_multiple_of(page).ok_or_else(too_big)
}

fn too_big() -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        "size overflows the address space",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    fn bytes(m: &mut Moving) -> &mut [u8] {
        // SAFETY: the first `len` bytes are accessible, and `m` is borrowed for the slice's life.
        unsafe { std::slice::from_raw_parts_mut(m.as_ptr(), m.byte_size()) }
    }

    fn resident_pages(m: &Moving) -> usize {
        let page = page_size();
        let mut vec = vec![0u8; m.byte_size() / page];
        // SAFETY: the range is this memory's accessible part; `vec` has a byte per page.
        let rc = unsafe { libc::mincore(m.as_ptr().cast(), m.byte_size(), vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        vec.iter().filter(|&&v| v & 1 == 1).count()
    }

    #[test]
    fn a_memory_reserves_its_size_and_one_wasm_page_to_grow_into() {
        let mut m = Moving::new(128 * KIB, None, Some(0), 64 * KIB).unwrap();
        assert_eq!(m.byte_size(), 128 * KIB);
        assert_eq!(m.byte_capacity(), 128 * KIB + ROOM);
        assert_eq!(
            resident_pages(&m),
            0,
            "nothing resident before the guest writes"
        );
        assert!(bytes(&mut m).iter().all(|&b| b == 0), "zero-filled");
    }

    #[test]
    fn growing_beyond_the_reservation_moves_the_pages_the_guest_touched_and_only_those() {
        let mut m = Moving::new(128 * KIB, None, Some(0), 64 * KIB).unwrap();
        bytes(&mut m)[0xf000] = 7;
        bytes(&mut m)[0x1_0123] = 9;
        let before = m.as_ptr();
        // Within the reservation: no move.
        m.grow_to(192 * KIB).unwrap();
        assert_eq!(m.as_ptr(), before);
        bytes(&mut m)[191 * KIB] = 1;
        // Beyond: a move to a reservation of twice what it needs.
        m.grow_to(256 * KIB).unwrap();
        assert_ne!(m.as_ptr(), before, "moved");
        assert_eq!(m.byte_capacity(), 512 * KIB);
        // (Checked first: reading a page makes it count as resident.)
        assert_eq!(
            resident_pages(&m),
            3,
            "the three touched pages moved, nothing copied"
        );
        let b = bytes(&mut m);
        assert_eq!(
            (b[0xf000], b[0x1_0123], b[191 * KIB]),
            (7, 9, 1),
            "contents kept"
        );
        assert_eq!(
            b.iter().map(|&x| usize::from(x)).sum::<usize>(),
            17,
            "the rest zero"
        );
    }

    /// The mappings of `/proc/self/maps` within `m`'s reservation and guard: (start, end, perms),
    /// as offsets from its base.
    fn mappings(m: &Moving) -> Vec<(usize, usize, String)> {
        let (lo, hi) = (m.base as usize, m.base as usize + m.capacity + m.guard);
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .filter_map(|line| {
                let (range, rest) = line.split_once(' ')?;
                let (a, b) = range.split_once('-')?;
                let (a, b) = (
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                );
                (a < hi && b > lo).then(|| (a.max(lo) - lo, b.min(hi) - lo, rest[..4].to_string()))
            })
            .collect()
    }

    #[test]
    fn a_memory_stays_two_mappings_with_its_guard_through_moves() {
        let mut m = Moving::new(128 * KIB, None, Some(0), 64 * KIB).unwrap();
        for (i, size) in [192, 256, 320, 640, 1024, 2112, 4160]
            .into_iter()
            .enumerate()
        {
            bytes(&mut m)[i * 64 * KIB + 5] = i as u8 + 1;
            m.grow_to(size * KIB).unwrap();
            let len = m.byte_size();
            let end = m.byte_capacity() + 64 * KIB;
            assert_eq!(
                mappings(&m),
                vec![(0, len, "rw-p".to_string()), (len, end, "---p".to_string())],
                "after growing to {size} KiB: the accessible part, then the rest and the guard"
            );
        }
        for i in 0..7 {
            assert_eq!(
                bytes(&mut m)[i * 64 * KIB + 5],
                i as u8 + 1,
                "kept through the moves"
            );
        }
    }

    #[test]
    fn a_memory_grows_no_further_than_its_maximum() {
        let mut m = Moving::new(64 * KIB, Some(192 * KIB), Some(0), 64 * KIB).unwrap();
        m.grow_to(192 * KIB).unwrap();
        assert_eq!(
            m.byte_capacity(),
            192 * KIB,
            "the reservation stops at the maximum"
        );
        assert!(m.grow_to(256 * KIB).is_err());
        assert_eq!(m.byte_size(), 192 * KIB);
    }

    #[test]
    fn a_fixed_reservation_never_moves() {
        let mut m = Moving::new(64 * KIB, None, Some(256 * KIB), 64 * KIB).unwrap();
        let base = m.as_ptr();
        m.grow_to(256 * KIB).unwrap();
        assert_eq!(m.as_ptr(), base);
        assert!(m.grow_to(320 * KIB).is_err());
    }
}
