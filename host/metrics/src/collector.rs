//! Where a worker's VUs put their samples: each VU fills a [`SampleBuffer`] without locking and
//! hands it to the shared [`Collector`] in batches; the worker cuts a delta with [`Collector::take`].

use crate::{Aggregate, MetricKind, SeriesKey};
use std::sync::{Arc, Mutex};

/// Samples recorded by one VU since its last flush. Keys are shared (`Arc`), so a VU that records the
/// same series again and again (every request) clones a pointer, not a tag set.
#[derive(Debug, Default)]
pub struct SampleBuffer {
    samples: Vec<(Arc<SeriesKey>, MetricKind, f64)>,
}

impl SampleBuffer {
    /// Add one sample.
    pub fn push(&mut self, key: SeriesKey, kind: MetricKind, value: f64) {
        self.samples.push((Arc::new(key), kind, value));
    }

    /// Add one sample to a series whose key the caller keeps for reuse.
    pub fn push_shared(&mut self, key: &Arc<SeriesKey>, kind: MetricKind, value: f64) {
        self.samples.push((key.clone(), kind, value));
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// A worker's running aggregate since the last delta.
#[derive(Debug, Default)]
pub struct Collector {
    current: Mutex<Aggregate>,
}

impl Collector {
    /// Move every sample of `buf` into the aggregate (one lock), leaving `buf` empty.
    pub fn flush(&self, buf: &mut SampleBuffer) {
        if buf.samples.is_empty() {
            return;
        }
        let mut agg = self.current.lock().expect("collector lock");
        for (key, kind, value) in buf.samples.drain(..) {
            agg.add(&key, kind, value);
        }
    }

    /// Everything collected since the previous call.
    pub fn take(&self) -> Aggregate {
        self.current.lock().expect("collector lock").take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sink;

    #[test]
    fn flush_moves_samples_and_take_cuts_deltas() {
        let c = Collector::default();
        let mut buf = SampleBuffer::default();
        buf.push(SeriesKey::untagged("iterations"), MetricKind::Counter, 1.0);
        buf.push(SeriesKey::untagged("iterations"), MetricKind::Counter, 1.0);
        c.flush(&mut buf);
        assert!(buf.is_empty());
        let first = c.take();
        assert!(matches!(first.metric_total("iterations"), Some(Sink::Counter(s)) if s.sum == 2.0));
        assert!(c.take().is_empty());
    }
}
