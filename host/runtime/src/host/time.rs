//! `time`: think time that parks the VU's task (not a thread), and wall-clock timestamps.

use crate::bindings::time::Host;
use crate::fiber_stack;
use crate::state::VuState;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Host for VuState {
    async fn sleep(&mut self, ms: u32) {
        // A VU thinking this long sits parked in this call: give back the stack pages its deeper
        // calls touched before (see `fiber_stack`; the plan's `release-stack-after`). Shorter
        // sleeps keep them: the next request faults them in again, which costs more than the
        // memory is worth for a short sleep.
        if self.imports_on_fiber
            && self
                .run
                .release_stack_after
                .is_some_and(|after| Duration::from_millis(u64::from(ms)) >= after)
        {
            fiber_stack::release_below_here();
        }
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
