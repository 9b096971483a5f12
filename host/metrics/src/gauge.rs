//! [`GaugeSink`]: the latest value of a gauge, with its extremes, mergeable across intervals and workers.

use serde::{Deserialize, Serialize};

/// The latest value of a gauge, with its minimum and maximum.
///
/// `seq` orders samples: the sample with the larger `seq` is the later one, and on merge the later `last`
/// wins (on a tie, the merged-in sink wins, as it is assumed to be newer). [`GaugeSink::add`] uses
/// `self.seq + 1`, which orders samples within one sink only; a writer whose sinks are merged with sinks
/// from other intervals or workers should call [`GaugeSink::set_at`] with a clock shared by all of them
/// (for example milliseconds since the test started).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeSink {
    /// The value of the latest sample (0 when empty).
    pub last: f64,
    /// The smallest sample (0 when empty).
    pub min: f64,
    /// The largest sample (0 when empty).
    pub max: f64,
    /// The order of the latest sample.
    pub seq: u64,
    /// How many samples were added.
    pub samples: u64,
}

impl GaugeSink {
    /// Records `value` as the next sample of this sink (`seq + 1`).
    pub fn add(&mut self, value: f64) {
        self.set_at(value, self.seq.saturating_add(1));
    }

    /// Records `value` as taken at `seq`; it becomes `last` unless a later sample (larger `seq`) is known.
    pub fn set_at(&mut self, value: f64, seq: u64) {
        if !value.is_finite() {
            return;
        }
        if self.samples == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        if self.samples == 0 || seq >= self.seq {
            self.last = value;
            self.seq = seq;
        }
        self.samples += 1;
    }

    /// Combines min and max; `last` is taken from the sink with the larger `seq` (`other` on a tie).
    pub fn merge(&mut self, other: &GaugeSink) {
        if other.samples == 0 {
            return;
        }
        if self.samples == 0 {
            *self = other.clone();
            return;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.seq >= self.seq {
            self.last = other.last;
            self.seq = other.seq;
        }
        self.samples += other.samples;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MetricKind, Sink};

    #[test]
    fn gauge_keeps_latest_and_extremes() {
        let mut g = GaugeSink::default();
        g.set_at(5.0, 10);
        g.set_at(1.0, 3); // older: changes min only
        assert_eq!((g.last, g.min, g.max, g.seq), (5.0, 1.0, 5.0, 10));
        let mut newer = GaugeSink::default();
        newer.set_at(7.0, 11);
        let mut older = GaugeSink::default();
        older.set_at(-1.0, 2);
        g.merge(&older);
        assert_eq!((g.last, g.min), (5.0, -1.0));
        g.merge(&newer);
        assert_eq!((g.last, g.max, g.seq, g.samples), (7.0, 7.0, 11, 4));
        let mut empty = GaugeSink::default();
        empty.merge(&g);
        assert_eq!(empty, g);
        g.merge(&GaugeSink::default());
        assert_eq!(empty, g);
    }

    #[test]
    fn gauge_add_orders_within_one_sink() {
        let mut s = Sink::new(MetricKind::Gauge);
        for v in [3.0, 9.0, 4.0] {
            s.add(v);
        }
        let Sink::Gauge(g) = &s else { unreachable!() };
        assert_eq!((g.last, g.min, g.max, g.samples), (4.0, 3.0, 9.0, 3));
    }
}
