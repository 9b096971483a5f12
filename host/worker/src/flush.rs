//! Cuts a metrics delta every interval (and a last one at the end) and sends it, numbered.

use crate::executor::RunShared;
use stampede_proto::{MetricsDelta, WorkerMsg};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// Send a delta every `interval` until `done` turns true, then one last delta. Deltas are numbered
/// from `seq`, which the worker shares with later messages (teardown's delta).
pub async fn flush_loop(
    shared: Arc<RunShared>,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    t0: Instant,
    interval: Duration,
    mut done: watch::Receiver<bool>,
    seq: Arc<AtomicU64>,
) {
    let mut ticker = tokio::time::interval_at(t0 + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = done.wait_for(|d| *d) => true,
        };
        let (vus_peak, vus_max_peak) = shared.take_peaks();
        let delta = MetricsDelta {
            seq: seq.fetch_add(1, Ordering::Relaxed),
            at_ms: t0.elapsed().as_millis() as u64,
            vus: shared.active.load(Ordering::Relaxed),
            vus_max: shared.allocated.load(Ordering::Relaxed),
            vus_peak,
            vus_max_peak,
            last,
            delta: shared.collector.take(),
        };
        if tx.send(WorkerMsg::Metrics(delta)).is_err() || last {
            return;
        }
    }
}
