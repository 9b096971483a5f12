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
/// (mimalloc's options are not thread-safe). `MIMALLOC_PURGE_DELAY` (or its old name
/// `MIMALLOC_RESET_DELAY`) in the environment wins.
pub fn tune() {
    if cfg!(feature = "system-allocator") || purge_delay_set_by_user() {
        return;
    }
    // SAFETY: sets an integer option; no other thread runs yet.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS)
    }
}

/// Whether the environment sets mimalloc's purge delay (mimalloc matches names without case).
fn purge_delay_set_by_user() -> bool {
    std::env::vars_os().any(|(name, _)| {
        let name = name.to_string_lossy().to_ascii_uppercase();
        name == "MIMALLOC_PURGE_DELAY" || name == "MIMALLOC_RESET_DELAY"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_mimallocs_purge_delay() {
        if purge_delay_set_by_user() {
            return;
        }
        // Its documented default (ms); the options around it default to 1 and 0.
        // SAFETY: reads an integer option.
        #[allow(unsafe_code)]
        let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(value, 1000);
    }
}
