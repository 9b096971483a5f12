//! The coordinator's view of a run's metrics: exact merge of every worker's deltas, a per-second
//! timeline, and the fleet's VU count.

use crate::error::CoordinatorError;
use stampede_metrics::{Aggregate, MetricKind, SeriesKey, names};
use stampede_proto::MetricsDelta;
use std::collections::BTreeMap;

/// One second of the run, as charted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
// Fields added within schema 1 (`at_ms`) read as 0 from summaries written before them.
#[serde(default)]
pub struct SecondPoint {
    /// Seconds since the run started (the end of the interval).
    pub t: u64,
    /// Milliseconds since the run started when `vus` was sampled (the latest worker report in
    /// this second); `t` is this rounded to the second.
    pub at_ms: u64,
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
    /// When the plan's load ends (ms from the start): a delta cut later adds its peak to the VU
    /// gauges, not its count (see [`RunMetrics::apply`]). `None`: every delta adds its count.
    pub planned_end_ms: Option<u64>,
    workers: BTreeMap<String, WorkerState>,
}

/// Requests, iterations and errors (failed requests plus `iteration_errors`) in `agg`: what the
/// timeline and the live progress show.
pub(crate) fn counts(agg: &Aggregate) -> (u64, u64, u64) {
    let count = |m: &str| match agg.metric_total(m) {
        Some(stampede_metrics::Sink::Counter(c)) => c.sum as u64,
        _ => 0,
    };
    let failed = match agg.metric_total(names::HTTP_REQ_FAILED) {
        Some(stampede_metrics::Sink::Rate(r)) => r.trues,
        _ => 0,
    };
    (
        count(names::HTTP_REQS),
        count(names::ITERATIONS),
        failed + count(names::ITERATION_ERRORS),
    )
}

impl RunMetrics {
    /// Merge one delta from `worker`. Deltas must arrive in order; a gap or duplicate is an error
    /// (it would mean lost or double-counted samples).
    pub fn apply(&mut self, worker: &str, d: MetricsDelta) -> Result<(), CoordinatorError> {
        let w = self.workers.entry(worker.to_owned()).or_default();
        if d.seq != w.next_seq {
            return Err(CoordinatorError::Sequence {
                worker: worker.to_owned(),
                expected: w.next_seq,
                got: d.seq,
            });
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
        // The fleet's peak since the last delta, as far as this worker's peak shows it, then the
        // count now: the gauge's max sees VUs that came and went between two deltas, and its last
        // value is the count now. A delta cut after the plan's load ended, or a worker's last one
        // (after its VUs stopped), adds its peak but not its count (the VUs stopping, 0 at last),
        // as k6's `vus` ends at the count the run ran with (`10 min=10 max=10` for 10 constant
        // VUs, not `0 min=0`).
        let ended = d.last || self.planned_end_ms.is_some_and(|end| d.at_ms >= end);
        for (metric, now, this_now, this_peak) in [
            (names::VUS, vus, d.vus, d.vus_peak),
            (names::VUS_MAX, vus_max, d.vus_max, d.vus_max_peak),
        ] {
            let gauge = self
                .total
                .sink_mut(&SeriesKey::untagged(metric), MetricKind::Gauge);
            // The fleet's count with this worker at its peak.
            let peak = now - this_now + this_peak.max(this_now);
            if ended {
                gauge.add(peak as f64);
            } else {
                if peak > now {
                    gauge.add(peak as f64);
                }
                gauge.add(now as f64);
            }
        }
        // Deltas are cut every second; round so a cut a few ms late still lands on its second.
        let t = d.at_ms.saturating_add(500) / 1000;
        let p = self.timeline.entry(t).or_insert_with(|| SecondPoint {
            t,
            ..Default::default()
        });
        p.vus = vus;
        p.vus_max = vus_max;
        p.at_ms = d.at_ms;
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
        self.workers
            .values()
            .fold((0, 0), |(a, b), w| (a + w.vus, b + w.vus_max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_metrics::{Sink, TagSet};

    type Sample<'a> = (&'a str, &'a [(&'a str, &'a str)], MetricKind, f64);

    fn aggregate(samples: &[Sample<'_>]) -> Aggregate {
        let mut a = Aggregate::new();
        for (metric, tags, kind, value) in samples {
            a.add(
                &SeriesKey::new(*metric, TagSet::new(tags.iter().copied())),
                *kind,
                *value,
            );
        }
        a
    }

    fn delta(seq: u64, at_ms: u64, vus: u64, samples: &[Sample<'_>]) -> MetricsDelta {
        MetricsDelta {
            vus_peak: 0,
            vus_max_peak: 0,
            last: false,
            seq,
            at_ms,
            vus,
            vus_max: vus + 1,
            delta: aggregate(samples),
        }
    }

    #[test]
    fn vus_that_came_and_went_between_deltas_show_in_the_gauges_max() {
        let mut m = RunMetrics::default();
        // Worker a: 2 VUs now; worker b: none now, 3 at once (of 4 allocated) since its last delta.
        m.apply("a", delta(0, 400, 2, &[])).unwrap();
        let mut d = delta(0, 500, 0, &[ITER]);
        (d.vus_peak, d.vus_max, d.vus_max_peak) = (3, 0, 4);
        m.apply("b", d).unwrap();
        let gauge = |name: &str| match m.total.metric_total(name) {
            Some(Sink::Gauge(g)) => (g.last, g.max),
            other => panic!("{other:?}"),
        };
        assert_eq!(gauge(names::VUS), (2.0, 5.0), "a's 2 now and b's 3 at most");
        assert_eq!(gauge(names::VUS_MAX), (3.0, 7.0), "a's 3 and b's 4 at most");
        assert_eq!(m.vus(), (2, 3), "the counts now");
    }

    /// A worker's last delta comes after its VUs stopped: its count (0) is not one the run ran
    /// with, so `vus` ends as k6's does, at the count of the run (`10 min=10 max=10`).
    #[test]
    fn the_last_delta_adds_its_peak_not_its_count_of_zero() {
        let mut m = RunMetrics::default();
        let mut d = delta(0, 1000, 10, &[]);
        d.vus_max = 10;
        m.apply("a", d).unwrap();
        let mut last = delta(1, 1500, 0, &[ITER]);
        (last.vus_peak, last.vus_max, last.vus_max_peak, last.last) = (10, 10, 10, true);
        m.apply("a", last).unwrap();
        let gauge = |name: &str| match m.total.metric_total(name) {
            Some(Sink::Gauge(g)) => (g.last, g.min, g.max),
            other => panic!("{other:?}"),
        };
        assert_eq!(gauge(names::VUS), (10.0, 10.0, 10.0));
        assert_eq!(gauge(names::VUS_MAX), (10.0, 10.0, 10.0));
        // A run shorter than one delta has only its last one: its peak.
        let mut m = RunMetrics::default();
        let mut only = delta(0, 500, 0, &[ITER]);
        (only.vus_peak, only.vus_max, only.vus_max_peak, only.last) = (2, 0, 2, true);
        m.apply("a", only).unwrap();
        let Some(Sink::Gauge(g)) = m.total.metric_total(names::VUS) else {
            panic!()
        };
        assert_eq!((g.last, g.min, g.max), (2.0, 2.0, 2.0));
    }

    const ITER: Sample<'static> = (
        "iterations",
        &[("scenario", "main")],
        MetricKind::Counter,
        1.0,
    );
    const LOGIN: &[(&str, &str)] = &[("name", "login")];

    #[test]
    fn merges_deltas_exactly() {
        let a0 = [
            ITER,
            ITER,
            ("http_req_duration", LOGIN, MetricKind::Trend, 12.5),
            ("http_req_duration", LOGIN, MetricKind::Trend, 80.0),
        ];
        let b0 = [
            ITER,
            ("http_req_duration", LOGIN, MetricKind::Trend, 300.0),
            ("http_req_failed", &[], MetricKind::Rate, 1.0),
        ];
        let a1 = [
            ("http_req_duration", LOGIN, MetricKind::Trend, 45.25),
            ("http_req_failed", &[], MetricKind::Rate, 0.0),
        ];
        let mut m = RunMetrics::default();
        m.apply("a", delta(0, 1000, 1, &a0)).unwrap();
        m.apply("b", delta(0, 1000, 1, &b0)).unwrap();
        m.apply("a", delta(1, 2000, 1, &a1)).unwrap();

        let all: Vec<Sample<'_>> = a0.iter().chain(&b0).chain(&a1).copied().collect();
        let expected = aggregate(&all);
        for (key, sink) in expected.iter() {
            assert_eq!(m.total.get(key), Some(sink), "{key}");
        }
        let Some(Sink::Trend(t)) = m.total.metric_total("http_req_duration") else {
            panic!()
        };
        assert_eq!(
            (t.count(), t.min(), t.max(), t.sum()),
            (4, 12.5, 300.0, 437.75)
        );
    }

    #[test]
    fn timeline_counts_per_second_and_fleet_vus_from_each_workers_latest_delta() {
        let errors = (
            "iteration_errors",
            &[("error", "trap")][..],
            MetricKind::Counter,
            1.0,
        );
        let failed = ("http_req_failed", &[][..], MetricKind::Rate, 1.0);
        let ok = ("http_req_failed", &[][..], MetricKind::Rate, 0.0);
        let reqs = ("http_reqs", &[][..], MetricKind::Counter, 1.0);
        let mut m = RunMetrics::default();
        m.apply(
            "a",
            delta(0, 1000, 3, &[ITER, ITER, reqs, reqs, failed, ok]),
        )
        .unwrap();
        m.apply("b", delta(0, 1000, 2, &[ITER, errors])).unwrap();
        assert_eq!(m.vus(), (5, 7));
        m.apply("a", delta(1, 1500, 0, &[ITER, reqs, ok])).unwrap();
        assert_eq!(m.vus(), (2, 4), "b's latest still counts");

        let points: Vec<SecondPoint> = m.timeline.values().cloned().collect();
        let p1 = SecondPoint {
            t: 1,
            at_ms: 1000,
            vus: 5,
            vus_max: 7,
            http_reqs: 2,
            iterations: 3,
            errors: 2,
        };
        let p2 = SecondPoint {
            t: 2,
            at_ms: 1500,
            vus: 2,
            vus_max: 4,
            http_reqs: 1,
            iterations: 1,
            errors: 0,
        };
        assert_eq!(
            points,
            [p1, p2],
            "a delta cut at 1.5s belongs to the second ending at 2s"
        );
        let Some(Sink::Gauge(vus)) = m.total.metric_total("vus") else {
            panic!()
        };
        assert_eq!((vus.last, vus.min, vus.max), (2.0, 2.0, 5.0));
    }

    #[test]
    fn deltas_out_of_order_are_refused() {
        let mut m = RunMetrics::default();
        m.apply("a", delta(0, 1000, 1, &[ITER])).unwrap();
        let gap = m.apply("a", delta(2, 3000, 1, &[ITER])).unwrap_err();
        assert!(
            matches!(&gap, CoordinatorError::Sequence { worker, expected: 1, got: 2 } if worker == "a"),
            "{gap:?}"
        );
        let duplicate = m.apply("a", delta(0, 1000, 1, &[ITER])).unwrap_err();
        assert!(matches!(
            duplicate,
            CoordinatorError::Sequence {
                expected: 1,
                got: 0,
                ..
            }
        ));
        assert!(
            m.apply("b", delta(1, 1000, 1, &[ITER])).is_err(),
            "every worker starts at 0"
        );
        assert!(
            matches!(m.total.metric_total("iterations"), Some(Sink::Counter(c)) if c.sum == 1.0),
            "refused deltas are not merged"
        );
        m.apply("a", delta(1, 2000, 1, &[ITER])).unwrap();
    }

    #[test]
    fn deltas_after_finish_add_samples_but_keep_the_final_vus() {
        let mut m = RunMetrics::default();
        m.apply("a", delta(0, 1000, 0, &[ITER])).unwrap();
        m.finish("a");
        m.apply(
            "a",
            delta(
                1,
                9000,
                4,
                &[("checks", &[("check", "teardown ok")], MetricKind::Rate, 1.0)],
            ),
        )
        .unwrap();
        assert_eq!(m.vus(), (0, 1));
        assert!(m.total.metric_total("checks").is_some());
        assert_eq!(
            m.timeline.keys().copied().collect::<Vec<_>>(),
            [1],
            "teardown is not on the timeline"
        );
    }

    #[test]
    fn a_metric_changing_kind_is_an_error() {
        let mut m = RunMetrics::default();
        m.apply(
            "a",
            delta(0, 1000, 1, &[("cart", &[], MetricKind::Counter, 1.0)]),
        )
        .unwrap();
        let err = m
            .apply(
                "b",
                delta(0, 1000, 1, &[("cart", &[], MetricKind::Trend, 1.0)]),
            )
            .unwrap_err();
        assert!(matches!(err, CoordinatorError::Metrics(_)), "{err:?}");
    }
}
