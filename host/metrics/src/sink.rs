//! Sinks: the aggregated state of one series, one type per [`MetricKind`].
//!
//! Every sink merges exactly: merging the sinks of two halves of a sample stream gives the sink of the
//! whole stream (counts are integers, never rounded). Samples that are not finite (NaN, ±∞) are ignored by
//! every sink: they would poison sums and cannot travel over JSON.

use serde::{Deserialize, Serialize};

use crate::{GaugeSink, MetricKind, MetricsError, TrendSink};

/// A running sum and the number of samples that made it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterSink {
    /// The sum of all samples.
    pub sum: f64,
    /// How many samples were added.
    pub samples: u64,
}

impl CounterSink {
    /// Adds one sample (ignored when not finite).
    pub fn add(&mut self, value: f64) {
        if value.is_finite() {
            self.sum += value;
            self.samples += 1;
        }
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &CounterSink) {
        self.sum += other.sum;
        self.samples += other.samples;
    }

    /// The sum per second over `elapsed_secs` (0 when no time has elapsed).
    pub fn per_second(&self, elapsed_secs: f64) -> f64 {
        if elapsed_secs > 0.0 {
            self.sum / elapsed_secs
        } else {
            0.0
        }
    }
}

/// How many samples were true (non-zero) out of how many.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateSink {
    /// Samples that were true.
    pub trues: u64,
    /// All samples.
    pub total: u64,
}

impl RateSink {
    /// Adds one sample.
    pub fn add(&mut self, ok: bool) {
        self.trues += u64::from(ok);
        self.total += 1;
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &RateSink) {
        self.trues += other.trues;
        self.total += other.total;
    }

    /// Samples that were false.
    pub fn falses(&self) -> u64 {
        self.total - self.trues
    }

    /// The share of true samples, from 0 to 1 (0 when empty).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.trues as f64 / self.total as f64
        }
    }
}

/// The aggregated state of one series, whatever its kind. Merges exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sink {
    /// A [`MetricKind::Counter`] series.
    Counter(CounterSink),
    /// A [`MetricKind::Gauge`] series.
    Gauge(GaugeSink),
    /// A [`MetricKind::Rate`] series.
    Rate(RateSink),
    /// A [`MetricKind::Trend`] series.
    Trend(TrendSink),
}

impl Sink {
    /// An empty sink of `kind`.
    pub fn new(kind: MetricKind) -> Self {
        match kind {
            MetricKind::Counter => Sink::Counter(CounterSink::default()),
            MetricKind::Gauge => Sink::Gauge(GaugeSink::default()),
            MetricKind::Rate => Sink::Rate(RateSink::default()),
            MetricKind::Trend => Sink::Trend(TrendSink::new()),
        }
    }

    /// The sink's kind.
    pub fn kind(&self) -> MetricKind {
        match self {
            Sink::Counter(_) => MetricKind::Counter,
            Sink::Gauge(_) => MetricKind::Gauge,
            Sink::Rate(_) => MetricKind::Rate,
            Sink::Trend(_) => MetricKind::Trend,
        }
    }

    /// Adds one sample. For a rate, any value other than `0.0` counts as true. Non-finite values are ignored.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        match self {
            Sink::Counter(s) => s.add(value),
            Sink::Gauge(s) => s.add(value),
            Sink::Rate(s) => s.add(value != 0.0),
            Sink::Trend(s) => s.add(value),
        }
    }

    /// Merges `other` into `self`; both must be of the same kind, otherwise nothing changes and
    /// [`MetricsError::KindMismatch`] is returned.
    pub fn merge(&mut self, other: &Sink) -> Result<(), MetricsError> {
        match (self, other) {
            (Sink::Counter(a), Sink::Counter(b)) => a.merge(b),
            (Sink::Gauge(a), Sink::Gauge(b)) => a.merge(b),
            (Sink::Rate(a), Sink::Rate(b)) => a.merge(b),
            (Sink::Trend(a), Sink::Trend(b)) => a.merge(b)?,
            (a, b) => {
                return Err(MetricsError::KindMismatch {
                    expected: a.kind(),
                    found: b.kind(),
                });
            }
        }
        Ok(())
    }

    /// True when no sample was added.
    pub fn is_empty(&self) -> bool {
        match self {
            Sink::Counter(s) => s.samples == 0,
            Sink::Gauge(s) => s.samples == 0,
            Sink::Rate(s) => s.total == 0,
            Sink::Trend(s) => s.count() == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_sums_and_merges_exactly() {
        let mut a = Sink::new(MetricKind::Counter);
        let mut b = Sink::new(MetricKind::Counter);
        let mut all = Sink::new(MetricKind::Counter);
        assert!(a.is_empty());
        for i in 0..1000 {
            let v = f64::from(i % 7);
            if i % 3 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            all.add(v);
        }
        a.add(f64::NAN);
        a.merge(&b).unwrap();
        assert_eq!(a, all);
        let Sink::Counter(c) = &a else { unreachable!() };
        assert_eq!(c.samples, 1000);
        assert_eq!(c.per_second(10.0), c.sum / 10.0);
        assert_eq!(c.per_second(0.0), 0.0);
    }

    #[test]
    fn rate_counts_non_zero_as_true() {
        let mut a = Sink::new(MetricKind::Rate);
        for v in [1.0, 0.0, -2.0, 0.0] {
            a.add(v);
        }
        let mut b = Sink::new(MetricKind::Rate);
        b.add(1.0);
        a.merge(&b).unwrap();
        let Sink::Rate(r) = &a else { unreachable!() };
        assert_eq!((r.trues, r.total, r.falses()), (3, 5, 2));
        assert_eq!(r.rate(), 0.6);
        assert_eq!(RateSink::default().rate(), 0.0);
    }

    #[test]
    fn merge_of_different_kinds_fails_and_changes_nothing() {
        let mut a = Sink::new(MetricKind::Counter);
        a.add(2.0);
        let before = a.clone();
        let err = a.merge(&Sink::new(MetricKind::Trend)).unwrap_err();
        assert_eq!(
            err,
            MetricsError::KindMismatch {
                expected: MetricKind::Counter,
                found: MetricKind::Trend
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot merge a trend sink into a counter sink"
        );
        assert_eq!(a, before);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in MetricKind::ALL {
            assert_eq!(Sink::new(kind).kind(), kind);
            assert!(Sink::new(kind).is_empty());
        }
    }
}
