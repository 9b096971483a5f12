//! The coordinator's view of a run's metrics: exact merge of every worker's deltas, a per-second
//! timeline, and the fleet's VU count.

use crate::error::CoordinatorError;
use stampede_metrics::{Aggregate, MetricKind, SeriesKey, names};
use stampede_proto::MetricsDelta;
use std::collections::BTreeMap;

/// One second of the run, as charted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SecondPoint {
    /// Seconds since the run started (the end of the interval).
    pub t: u64,
    /// VUs running across the fleet.
    pub vus: u64,
    /// VUs allocated across the fleet.
    pub vus_max: u64,
    /// Requests completed in this second.
    pub http_reqs: u64,
    /// Iterations completed in this second.
    pub iterations: u64,
    /// Failed requests plus `iteration_errors` (failed, trapped or timed-out iterations) in this second.
    pub errors: u64,
}

#[derive(Debug, Default)]
struct WorkerState {
    next_seq: u64,
    finished: bool,
    vus: u64,
    vus_max: u64,
}

/// Everything merged so far.
#[derive(Debug, Default)]
pub struct RunMetrics {
    /// Every sample of the run, merged per series.
    pub total: Aggregate,
    /// Per-second points, keyed by second.
    pub timeline: BTreeMap<u64, SecondPoint>,
    workers: BTreeMap<String, WorkerState>,
}

/// Counts from one delta for the timeline.
fn counts(delta: &Aggregate) -> (u64, u64, u64) {
    let count = |m: &str| match delta.metric_total(m) {
        Some(stampede_metrics::Sink::Counter(c)) => c.sum as u64,
        _ => 0,
    };
    let failed = match delta.metric_total(names::HTTP_REQ_FAILED) {
        Some(stampede_metrics::Sink::Rate(r)) => r.trues,
        _ => 0,
    };
    (count(names::HTTP_REQS), count(names::ITERATIONS), failed + count(names::ITERATION_ERRORS))
}

impl RunMetrics {
    /// Merge one delta from `worker`. Deltas must arrive in order; a gap or duplicate is an error
    /// (it would mean lost or double-counted samples).
    pub fn apply(&mut self, worker: &str, d: MetricsDelta) -> Result<(), CoordinatorError> {
        let w = self.workers.entry(worker.to_owned()).or_default();
        if d.seq != w.next_seq {
            return Err(CoordinatorError::Sequence { worker: worker.to_owned(), expected: w.next_seq, got: d.seq });
        }
        w.next_seq += 1;
        if w.finished {
            // After the scenarios (teardown): samples only, the VU counts are final.
            self.total.merge(&d.delta)?;
            return Ok(());
        }
        w.vus = d.vus;
        w.vus_max = d.vus_max;
        let (reqs, iters, errors) = counts(&d.delta);
        self.total.merge(&d.delta)?;
        let (vus, vus_max) = self.vus();
        self.total.sink_mut(&SeriesKey::untagged(names::VUS), MetricKind::Gauge).add(vus as f64);
        self.total.sink_mut(&SeriesKey::untagged(names::VUS_MAX), MetricKind::Gauge).add(vus_max as f64);
        let t = d.at_ms.div_ceil(1000).max(1);
        let p = self.timeline.entry(t).or_insert_with(|| SecondPoint { t, ..Default::default() });
        p.vus = vus;
        p.vus_max = vus_max;
        p.http_reqs += reqs;
        p.iterations += iters;
        p.errors += errors;
        Ok(())
    }

    /// `worker` ran its last scenario; later deltas (teardown) carry samples only.
    pub fn finish(&mut self, worker: &str) {
        self.workers.entry(worker.to_owned()).or_default().finished = true;
    }

    /// Fleet VUs running and allocated, from each worker's latest delta.
    pub fn vus(&self) -> (u64, u64) {
        self.workers.values().fold((0, 0), |(a, b), w| (a + w.vus, b + w.vus_max))
    }
}
