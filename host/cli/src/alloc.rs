//! The process's allocator: mimalloc, tuned to give freed memory back to the OS promptly.
//!
//! Every request allocates a little (headers, bodies, guest calls); mimalloc does this with less CPU
//! than glibc's allocator under many concurrent tasks (measured with bench/http.sh). The
//! `system-allocator` feature keeps glibc's, for heap profilers such as heaptrack.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_t` of mimalloc 3, the version
/// `libmimalloc-sys` builds (the crate names only some options; a test checks this is the one).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays committed before mimalloc gives it back, in ms. With mimalloc's
/// default of 1 s, the memory a start burst or a wave of requests freed stayed in the RSS of a run
/// of idle VUs for tens of seconds: ~1 KiB per VU with 100,000 shared VUs (bench/memory.py;
/// BENCHMARKS.md). At 100 ms it goes back within the run's first seconds, and the HTTP benchmark's
/// CPU per request is unchanged.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Apply Stampede's allocator settings. Call first in `main`, before any other thread starts
/// (mimalloc's options are not thread-safe). `MIMALLOC_PURGE_DELAY` in the environment wins.
pub fn tune() {
    if cfg!(feature = "system-allocator") || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets an integer option; no other thread runs yet.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // Its documented default (ms); the options around it default to 1 and 0.
        // SAFETY: reads an integer option.
        #[allow(unsafe_code)]
        let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(value, 1000);
    }
}
