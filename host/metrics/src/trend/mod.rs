//! [`TrendSink`]: exact count, sum, min and max plus an HDR histogram for percentiles.
//!
//! The histogram holds `round(value * 1000)` as an integer (so a time trend in milliseconds has microsecond
//! resolution) with 3 significant digits and grows as needed. Negative values count as 0 in the histogram
//! only; min, max, sum and average stay exact. In serde the histogram travels as a base64 string of
//! hdrhistogram's V2 encoding, so worker deltas can be sent as JSON and merged without loss.

mod stat;
mod wire;

pub use stat::TrendStat;

use std::fmt;

use hdrhistogram::Histogram;

use crate::MetricsError;

/// Histogram units per value unit: 1000 gives microseconds for a trend in milliseconds.
pub const TREND_SCALE: f64 = 1000.0;
/// Significant decimal digits kept by the histogram: relative error at most about 0.05% with
/// [`TrendSink::percentile`], which reports the middle of a bucket.
pub const TREND_SIGFIG: u8 = 3;
/// The largest value the histogram can grow to hold (hdrhistogram's auto-resize limit); larger values are
/// clamped in the histogram only.
const HIST_MAX: u64 = (i64::MAX / 2) as u64;

/// The distribution of a trend series. Merges exactly.
#[derive(Clone)]
pub struct TrendSink {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    hist: Histogram<u64>,
}

impl TrendSink {
    /// An empty trend.
    pub fn new() -> Self {
        let hist = Histogram::new(TREND_SIGFIG).expect("3 significant digits is a valid precision");
        TrendSink {
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            hist,
        }
    }

    /// Adds one sample (ignored when not finite).
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        // `as` saturates: negative values become 0, huge ones u64::MAX, then clamped to what fits.
        let scaled = ((value * TREND_SCALE).round() as u64).min(HIST_MAX);
        self.hist
            .record(scaled)
            .expect("an auto-resizing histogram takes values up to HIST_MAX");
    }

    /// Adds `other`'s samples. Fails only if the histograms cannot be combined, and then changes nothing.
    pub fn merge(&mut self, other: &TrendSink) -> Result<(), MetricsError> {
        if other.count == 0 {
            return Ok(());
        }
        self.hist
            .add(&other.hist)
            .map_err(|e| MetricsError::Histogram(format!("{e:?}")))?;
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count += other.count;
        self.sum += other.sum;
        Ok(())
    }

    /// The number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The exact sum of the samples.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The exact mean (0 when empty).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The exact smallest sample (0 when empty).
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The exact largest sample (0 when empty).
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The median, i.e. `percentile(50.0)`.
    pub fn med(&self) -> f64 {
        self.percentile(50.0)
    }

    /// The value below or at which `p` percent of the samples are (`p` from 0 to 100, clamped), in the
    /// samples' unit: the value of the `ceil(p/100 * count)`-th smallest sample. When that is the first or
    /// last sample (always for `p(0)` and `p(100)`) the exact min or max is returned; otherwise the result
    /// is within about 0.05% (plus 0.0005 units of rounding) of the sample's value and never outside `[min, max]`. 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let p = if p.is_nan() {
            50.0
        } else {
            p.clamp(0.0, 100.0)
        };
        if p == 0.0 {
            return self.min;
        }
        if p == 100.0 {
            return self.max;
        }
        // The rank of the wanted sample, computed as hdrhistogram does; the first and last samples are
        // known exactly.
        let quantile = p / 100.0;
        let rank = ((quantile * self.count as f64).ceil() as u64).max(1);
        if rank == 1 {
            return self.min;
        }
        if rank >= self.count {
            return self.max;
        }
        let bucket = self.hist.value_at_quantile(quantile);
        // The middle of the bucket, so the error is at most half a bucket either way.
        let low = self.hist.lowest_equivalent(bucket) as f64;
        let high = self.hist.highest_equivalent(bucket) as f64;
        let value = (low + high) / 2.0 / TREND_SCALE;
        value.clamp(self.min, self.max)
    }

    /// The histogram of `round(value * 1000)`, for exporters that need buckets.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }
}

impl Default for TrendSink {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for TrendSink {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count
            && self.sum == other.sum
            && self.min == other.min
            && self.max == other.max
            && self.hist == other.hist
    }
}

impl fmt::Debug for TrendSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrendSink")
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("p50", &self.med())
            .field("p99", &self.percentile(99.0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fields_and_empty() {
        let t = TrendSink::new();
        assert_eq!(
            (t.count(), t.sum(), t.avg(), t.min(), t.max()),
            (0, 0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!((t.med(), t.percentile(95.0)), (0.0, 0.0));
        let mut t = TrendSink::new();
        for v in [2.5, -1.0, 10.0, 4.5] {
            t.add(v);
        }
        t.add(f64::INFINITY);
        assert_eq!(
            (t.count(), t.sum(), t.avg(), t.min(), t.max()),
            (4, 16.0, 4.0, -1.0, 10.0)
        );
        assert_eq!((t.percentile(0.0), t.percentile(100.0)), (-1.0, 10.0));
        // The first and last ranks are exact, not bucket midpoints.
        assert_eq!((t.percentile(20.0), t.percentile(99.0)), (-1.0, 10.0));
        assert!((t.med() - 2.5).abs() / 2.5 < 0.0005, "{}", t.med());
        assert_eq!(t.histogram().len(), 4);
    }

    #[test]
    fn percentiles_are_accurate() {
        // 1..=100_000 µs, uniform, recorded in milliseconds.
        let mut t = TrendSink::new();
        for us in 1..=100_000u32 {
            t.add(f64::from(us) / 1000.0);
        }
        for (p, exact) in [
            (50.0, 50.0),
            (90.0, 90.0),
            (95.0, 95.0),
            (99.0, 99.0),
            (99.9, 99.9),
        ] {
            let got = t.percentile(p);
            assert!(
                (got - exact).abs() / exact < 0.001,
                "p({p}) = {got}, expected {exact}"
            );
        }
        assert_eq!(t.med(), t.percentile(50.0));
        assert_eq!((t.min(), t.max()), (0.001, 100.0));
        assert!((t.avg() - 50.0005).abs() < 1e-9);
    }

    #[test]
    fn merge_equals_recording_everything_once() {
        let (mut a, mut b, mut all) = (TrendSink::new(), TrendSink::new(), TrendSink::new());
        for i in 0..10_000u32 {
            let v = f64::from(i * 37 % 5003) / 7.0;
            if i % 2 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            all.add(v);
        }
        let mut empty = TrendSink::new();
        empty.merge(&a).unwrap();
        assert_eq!(empty, a);
        a.merge(&b).unwrap();
        a.merge(&TrendSink::new()).unwrap();
        assert_eq!(a.count(), all.count());
        assert_eq!((a.min(), a.max()), (all.min(), all.max()));
        assert_eq!(a.histogram(), all.histogram());
        assert!((a.sum() - all.sum()).abs() < 1e-6);
        for p in [1.0, 50.0, 95.0, 99.9] {
            assert_eq!(a.percentile(p), all.percentile(p));
        }
    }
}
