//! The process's allocator: mimalloc, tuned to give freed memory back to the OS promptly.
//!
//! Every request allocates a little (headers, bodies, guest calls); mimalloc does this with less CPU
//! than glibc's allocator under many concurrent tasks (measured with bench/http.sh). The
//! `system-allocator` feature keeps glibc's, for heap profilers such as heaptrack.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The alignment of every `mi_malloc` block of 16 bytes or more (`MI_MAX_ALIGN_SIZE`, which mimalloc
/// asserts when it hands out a block); smaller blocks may be only 8-aligned. std's `System` allocator
/// relies on the same rule for glibc.
#[cfg_attr(feature = "system-allocator", allow(dead_code))]
const MALLOC_ALIGN: usize = 16;

/// mimalloc as Rust's allocator, asking for alignment only when a layout needs more than any block
/// has. The `mimalloc` crate's `MiMalloc` calls `mi_malloc_aligned` for every allocation, whose
/// fast path covers blocks up to 1 KiB only: larger ones (connection buffers, boxed futures) took
/// the generic aligned path, which over-allocates when mimalloc's size class is not a power of two
/// (bench/instructions.py counted ~1,000 instructions per request).
#[cfg_attr(feature = "system-allocator", allow(dead_code))]
pub struct MiMalloc;

#[cfg_attr(feature = "system-allocator", allow(dead_code))]
impl MiMalloc {
    /// Whether plain `mi_malloc` of `size` bytes gives `align`-aligned memory (as for a block of
    /// at least 16 bytes; a smaller block may be only 8-aligned).
    fn plain(align: usize, size: usize) -> bool {
        align <= MALLOC_ALIGN && align <= size
    }
}

// SAFETY: every function forwards to mimalloc, which returns blocks of at least the size asked
// for, aligned as asked (plain calls only where `plain` holds), or null; `mi_free` and
// `mi_realloc*` accept any block mimalloc returned, however it was allocated.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_malloc, mi_malloc_aligned};
        // SAFETY: see the impl.
        unsafe {
            if Self::plain(layout.align(), layout.size()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_zalloc, mi_zalloc_aligned};
        // SAFETY: see the impl.
        unsafe {
            if Self::plain(layout.align(), layout.size()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: see the impl.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys::{mi_realloc, mi_realloc_aligned};
        // SAFETY: see the impl.
        unsafe {
            if Self::plain(layout.align(), new_size) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_t` of mimalloc 3, the version
/// `libmimalloc-sys` builds (the crate names only some options; a test checks this is the one).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays committed before mimalloc gives it back, in ms. With mimalloc's
/// default of 1 s, the memory a start burst or a wave of requests freed stayed in the RSS of a run
/// of idle VUs for tens of seconds: ~1 KiB per VU with 100,000 shared VUs (bench/memory.py;
/// BENCHMARKS.md). At 100 ms it goes back within the run's first seconds, and the HTTP benchmark's
/// CPU per request is unchanged.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// The environment variables that set the purge delay (its old name too): they win over ours.
const PURGE_DELAY_VARS: &[&str] = &["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

/// mimalloc's `mi_option_allow_thp`, likewise (a test checks its place).
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// The environment variable that sets it.
const ALLOW_THP_VARS: &[&str] = &["MIMALLOC_ALLOW_THP"];

/// Apply Stampede's allocator settings. Call first in `main`, before any other thread starts
/// (mimalloc's options are not thread-safe). `MIMALLOC_PURGE_DELAY` (or its old name
/// `MIMALLOC_RESET_DELAY`) and `MIMALLOC_ALLOW_THP` in the environment win.
///
/// Transparent huge pages are turned off for the process: mimalloc asks for them on its arenas,
/// and a 2 MiB page counts as resident as a whole once touched, so a heap of many small per-VU
/// structures held ~1 KiB more per idle instance-mode VU (bench/memory.py: 42.2 -> 41.0-41.1 KiB)
/// and ~60 MiB more at 100,000 shared VUs, for no requests per core measured in return (BENCHMARKS.md,
/// 2026-12-06). mimalloc itself turns them off only when its option is set before it starts, which
/// is before `main`; `prctl(PR_SET_THP_DISABLE)` covers what it already reserved.
pub fn tune() {
    if cfg!(feature = "system-allocator") {
        return;
    }
    if !set_by_user(PURGE_DELAY_VARS) {
        // SAFETY: sets an integer option; no other thread runs yet.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS)
        }
    }
    if !set_by_user(ALLOW_THP_VARS) {
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(ALLOW_THP, 0)
        }
        // Fails only on kernels without the prctl (before Linux 3.15): huge pages then stay as the
        // system has them.
        #[cfg(target_os = "linux")]
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

/// Whether the environment sets one of mimalloc's options `names` (mimalloc matches names
/// without case).
fn set_by_user(names: &[&str]) -> bool {
    std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy().to_ascii_uppercase();
        names.contains(&name.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_as_their_layouts_ask() {
        use std::alloc::{GlobalAlloc, Layout};
        // (8, 16) is smaller than its alignment, so it must take the aligned path; (64, 16) shrinks
        // below its alignment on realloc (to size / 8) and (8, 16) grows out of it (to size * 512),
        // so realloc crosses between the plain and the aligned calls both ways.
        let cases = [
            (1, 1),
            (8, 16),
            (24, 8),
            (64, 16),
            (3000, 16),
            (100, 64),
            (9000, 4096),
        ];
        for (size, align) in cases {
            let layout = Layout::from_size_align(size, align).unwrap();
            #[allow(unsafe_code)]
            // SAFETY: non-zero sizes; each block is used within its size and freed with its layout.
            unsafe {
                let mut p = MiMalloc.alloc(layout);
                assert!(
                    !p.is_null() && (p as usize).is_multiple_of(align),
                    "{size}/{align}"
                );
                p.write_bytes(0xab, size);
                for new_size in [size * 3, (size / 8).max(1), size * 512] {
                    let q = MiMalloc.realloc(p, layout, new_size);
                    let kept = size.min(new_size);
                    assert!(
                        (q as usize).is_multiple_of(align)
                            && *q == 0xab
                            && *q.add(kept - 1) == 0xab,
                        "realloc {size}/{align} to {new_size}"
                    );
                    // Back to the original size and contents for the next round.
                    let grown = Layout::from_size_align(new_size, align).unwrap();
                    p = MiMalloc.realloc(q, grown, size);
                    assert!((p as usize).is_multiple_of(align));
                    p.write_bytes(0xab, size);
                }
                MiMalloc.dealloc(p, layout);
                let z = MiMalloc.alloc_zeroed(layout);
                assert!(
                    (z as usize).is_multiple_of(align) && *z.add(size - 1) == 0,
                    "zeroed {size}/{align}"
                );
                MiMalloc.dealloc(z, layout);
            }
        }
    }

    #[test]
    fn the_purge_delay_option_is_mimallocs_purge_delay() {
        if set_by_user(PURGE_DELAY_VARS) {
            return;
        }
        // Its documented default (ms); the options around it default to 1 and 0.
        // SAFETY: reads an integer option.
        #[allow(unsafe_code)]
        let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(value, 1000);
    }

    #[test]
    fn the_allow_thp_option_is_mimallocs_allow_thp() {
        if set_by_user(ALLOW_THP_VARS) || set_by_user(&["MIMALLOC_PAGE_CROSS_THREAD_MAX_RECLAIM"]) {
            return;
        }
        // Its default is 1 (on Linux), as for many options; the one before it,
        // `page_cross_thread_max_reclaim`, defaults to 32, which no other option shares.
        // SAFETY: reads integer options.
        #[allow(unsafe_code)]
        let (before, value) = unsafe {
            (
                libmimalloc_sys::mi_option_get(ALLOW_THP - 1),
                libmimalloc_sys::mi_option_get(ALLOW_THP),
            )
        };
        assert_eq!((before, value), (32, 1));
    }
}
