//! Giving back the dead pages of a VU's fiber stack while the VU thinks.
//!
//! With one instance per VU, every guest call runs on a wasmtime fiber stack of its own, and a VU
//! that sleeps in its iteration (`time.sleep`) stays parked in that call, stack and all, for the
//! whole think time. Only the frames above the parked host call are live then (~3 KiB: wasmtime's
//! entry, the guest's frames, the import): the pages below were touched by deeper calls earlier
//! (any import's entry reaches the second page; `http.send`'s request the third, unless it runs off
//! the fiber: see `offload`) and hold nothing anyone reads again, but they stay resident: one or
//! two of the two or three pages an idle VU's stack holds (BENCHMARKS.md,
//! `bench/memory_breakdown.py`).
//!
//! [`release_below_here`] hands such pages back to the kernel (`MADV_DONTNEED`: the next touch maps
//! a zeroed page). It is called at the start of a long sleep, on the fiber.

use crate::engine::{ASYNC_STACK, MAX_WASM_STACK};

/// How far below the caller's frame pages are given back: more than any host call reached so far
/// (instantiation and `http.send` reach ~12 KiB deep) and than an interpreter's frames in a deep
/// guest call usually do.
const SPAN: usize = 128 * 1024;
/// Room left untouched just below the caller's frame, for `madvise`'s own frame.
const MARGIN: usize = 1024;
/// Room for the host's frames on a fiber stack besides the guest's (wasmtime's entry into the
/// guest above the guest's frames, the import's frames below them). An estimate with room to spare:
/// a `time.sleep` import called from the guest's top frame was measured 2.7 KiB below the stack's
/// top. The assertion below leaves another ~320 KiB unused, and the e2e test
/// `vus_that_sleep_deep_in_their_stack_keep_their_frames` sleeps ~440 KiB deep with neighbouring VUs.
const HOST_FRAMES: usize = 64 * 1024;

// The released range lies within the fiber stack: the caller, a host import called by the guest,
// is at most the guest's frames (`MAX_WASM_STACK`, enforced by wasmtime) plus the host's below the
// top, so `SPAN` more still ends above the stack's bottom.
const _: () = assert!(MAX_WASM_STACK + HOST_FRAMES + MARGIN + SPAN <= ASYNC_STACK);

/// Give back the pages of the stack that lie wholly between `SPAN` and `MARGIN` bytes below the
/// caller's frame.
///
/// Call it only from a host import running on a wasmtime fiber stack (an engine without the
/// component model's concurrency polls an import's future on the guest call's fiber), where the
/// bound above holds.
#[cfg(target_os = "linux")]
#[inline(never)]
#[allow(unsafe_code)]
pub(crate) fn release_below_here() {
    let probe = 0u8;
    let here = std::hint::black_box(&probe) as *const u8 as usize;
    let page = page_size();
    let end = (here - MARGIN) & !(page - 1);
    let start = end - SPAN;
    // SAFETY: `[start, end)` lies within this thread's current stack (the fiber's, by the bound
    // above) and below the stack pointer by more than the red zone and `madvise`'s own frame, so
    // nothing in it is live: by the ABI, memory below the stack pointer belongs to no frame. On a
    // private anonymous mapping `MADV_DONTNEED` makes the next access see a zeroed page, which dead
    // stack memory may be. A failure (an unaligned start on a system with larger pages) only
    // leaves the pages resident.
    unsafe {
        libc::madvise(start as *mut libc::c_void, SPAN, libc::MADV_DONTNEED);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn release_below_here() {}

/// The system's page size, read once.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn page_size() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let size = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                .ok()
                .filter(|s| s.is_power_of_two())
                .unwrap_or(4096);
            PAGE.store(size, Ordering::Relaxed);
            size
        }
        size => size,
    }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    /// Touch `depth` bytes of stack below the caller, one 4 KiB frame at a time; the number of
    /// frames.
    #[inline(never)]
    fn touch_stack(depth: usize) -> u8 {
        let mut block = [0u8; 4096];
        std::hint::black_box(&mut block)[0] = 1;
        if depth > block.len() {
            touch_stack(depth - block.len()).wrapping_add(block[0])
        } else {
            block[0]
        }
    }

    /// How many of the `pages` pages below `below` (page-aligned) are resident.
    fn resident_pages(below: usize, pages: usize) -> usize {
        let page = page_size();
        let start = below - pages * page;
        let mut vec = vec![0u8; pages];
        // SAFETY: the range is part of this thread's stack mapping; mincore writes one byte per page.
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|v| *v & 1 == 1).count()
    }

    #[test]
    fn pages_below_the_caller_are_given_back_and_the_stack_still_works() {
        // A thread with a stack as large as a fiber's, so the released span lies within it.
        std::thread::Builder::new()
            .stack_size(ASYNC_STACK)
            .spawn(|| {
                let probe = 0u8;
                let here = std::hint::black_box(&probe) as *const u8 as usize;
                let page = page_size();
                // `release_below_here`'s own frame is a little deeper than this one, so its range
                // ends at most a page below `end` here: check the pages from two below `end`, as
                // many as its span surely covers.
                let end = (here - MARGIN) & !(page - 1);
                let below = end - 2 * page;
                let pages = (SPAN / page).saturating_sub(2).min(16);
                let depth = here - below + pages * page + page;

                let frames = touch_stack(depth);
                assert_eq!(resident_pages(below, pages), pages, "touched, so resident");

                release_below_here();
                assert_eq!(resident_pages(below, pages), 0, "given back");

                // The stack is still usable: deep calls see zeroed pages and work.
                assert_eq!(touch_stack(depth), frames);
                assert_eq!(resident_pages(below, pages), pages);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
