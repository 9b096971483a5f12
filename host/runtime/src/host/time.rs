//! `time`: think time that parks the VU's task (not a thread), and wall-clock timestamps.

use crate::bindings::time::Host;
use crate::state::VuState;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Host for VuState {
    async fn sleep(&mut self, ms: u32) {
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
