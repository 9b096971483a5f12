//! [`Aggregate`]: a set of series, e.g. one worker's delta for an interval or the coordinator's total.
//!
//! Workers record into an aggregate, [`Aggregate::take`] it every interval and send the delta; the
//! coordinator [`Aggregate::merge`]s deltas into its running total and reads it with
//! [`Aggregate::select`] (thresholds) and [`Aggregate::metric_total`] (summaries).

mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{MetricKind, MetricsError, Selector, SeriesKey, Sink, TagSet};

/// Series keyed by metric and tags. Serialized as `{"series":[{"metric","tags","sink"}, ...]}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    #[serde(with = "wire")]
    series: BTreeMap<SeriesKey, Sink>,
}

impl Aggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` to the series `key`, creating a `kind` sink first if the series is new (the key is
    /// cloned only then). If the series exists, `kind` is not checked: keep kinds consistent through a
    /// [`crate::Catalog`], or use [`Aggregate::try_add`].
    pub fn add(&mut self, key: &SeriesKey, kind: MetricKind, value: f64) {
        self.sink_mut(key, kind).add(value);
    }

    /// Like [`Aggregate::add`], but fails with [`MetricsError::SeriesKindMismatch`] (adding nothing) if the
    /// series exists with another kind.
    pub fn try_add(
        &mut self,
        key: &SeriesKey,
        kind: MetricKind,
        value: f64,
    ) -> Result<(), MetricsError> {
        let sink = self.sink_mut(key, kind);
        if sink.kind() != kind {
            return Err(MetricsError::SeriesKindMismatch {
                series: key.to_string(),
                existing: sink.kind(),
                incoming: kind,
            });
        }
        sink.add(value);
        Ok(())
    }

    /// The sink of series `key`, created empty with `kind` if missing (an existing sink keeps its kind).
    pub fn sink_mut(&mut self, key: &SeriesKey, kind: MetricKind) -> &mut Sink {
        // Two lookups on a miss, so that the hot path (series exists) never clones the key.
        if !self.series.contains_key(key) {
            self.series.insert(key.clone(), Sink::new(kind));
        }
        self.series.get_mut(key).expect("inserted above")
    }

    /// The sink of series `key`, if present.
    pub fn get(&self, key: &SeriesKey) -> Option<&Sink> {
        self.series.get(key)
    }

    /// Merges every series of `other` into `self`. If a series has different kinds on the two sides,
    /// nothing is merged and [`MetricsError::SeriesKindMismatch`] names the first such series.
    pub fn merge(&mut self, other: &Aggregate) -> Result<(), MetricsError> {
        for (key, sink) in &other.series {
            if let Some(mine) = self.series.get(key)
                && mine.kind() != sink.kind()
            {
                return Err(MetricsError::SeriesKindMismatch {
                    series: key.to_string(),
                    existing: mine.kind(),
                    incoming: sink.kind(),
                });
            }
        }
        for (key, sink) in &other.series {
            match self.series.get_mut(key) {
                Some(mine) => mine.merge(sink)?,
                None => {
                    self.series.insert(key.clone(), sink.clone());
                }
            }
        }
        Ok(())
    }

    /// Returns the current contents and leaves `self` empty (the per-interval delta).
    pub fn take(&mut self) -> Aggregate {
        std::mem::take(self)
    }

    /// True when there is no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// All series, sorted by metric then tags.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &Sink)> {
        self.series.iter()
    }

    /// The series of `metric`, sorted by tags.
    pub fn series_of<'a>(
        &'a self,
        metric: &'a str,
    ) -> impl Iterator<Item = (&'a SeriesKey, &'a Sink)> {
        // Keys order by metric first and the empty tag set is the smallest, so the range starts at the
        // metric's first series.
        let start = SeriesKey::new(metric, TagSet::empty());
        self.series
            .range(start..)
            .take_while(move |(k, _)| k.metric == metric)
    }

    /// The merge of every series of `sel.metric` whose tags contain all of `sel.tags`; `None` if no series
    /// matches. Series whose kind differs from the first match are skipped.
    pub fn select(&self, sel: &Selector) -> Option<Sink> {
        merge_all(
            self.series_of(&sel.metric)
                .filter(|(k, _)| k.tags.contains_all(&sel.tags)),
        )
    }

    /// The merge of all series of `metric`, whatever their tags; `None` if there is none.
    pub fn metric_total(&self, metric: &str) -> Option<Sink> {
        merge_all(self.series_of(metric))
    }

    /// The metric names present, sorted and unique.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for key in self.series.keys() {
            if names.last() != Some(&key.metric) {
                names.push(key.metric.clone());
            }
        }
        names
    }
}

fn merge_all<'a>(mut series: impl Iterator<Item = (&'a SeriesKey, &'a Sink)>) -> Option<Sink> {
    let mut total = series.next()?.1.clone();
    for (_, sink) in series {
        // A kind mismatch can only come from inconsistent recording; the first kind wins.
        let _ = total.merge(sink);
    }
    Some(total)
}

impl FromIterator<(SeriesKey, Sink)> for Aggregate {
    /// Collects series; a repeated key is merged into the first (or dropped if its kind differs).
    fn from_iter<I: IntoIterator<Item = (SeriesKey, Sink)>>(iter: I) -> Self {
        let mut agg = Aggregate::new();
        for (key, sink) in iter {
            match agg.series.get_mut(&key) {
                Some(mine) => {
                    let _ = mine.merge(&sink);
                }
                None => {
                    agg.series.insert(key, sink);
                }
            }
        }
        agg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::*;

    fn key(metric: &str, tags: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(metric, TagSet::new(tags.iter().copied()))
    }

    fn sample() -> Aggregate {
        let mut agg = Aggregate::new();
        let login = key(HTTP_REQ_DURATION, &[("name", "login"), ("method", "POST")]);
        let home = key(HTTP_REQ_DURATION, &[("name", "home"), ("method", "GET")]);
        for i in 1..=100 {
            agg.add(&login, MetricKind::Trend, f64::from(i));
            agg.add(&home, MetricKind::Trend, f64::from(i) * 10.0);
        }
        agg.add(
            &key(HTTP_REQS, &[("name", "login")]),
            MetricKind::Counter,
            1.0,
        );
        agg.add(
            &key(HTTP_REQS, &[("name", "home")]),
            MetricKind::Counter,
            2.0,
        );
        agg.add(&key(HTTP_REQ_FAILED, &[]), MetricKind::Rate, 1.0);
        agg.add(&key(VUS, &[]), MetricKind::Gauge, 3.0);
        agg
    }

    #[test]
    fn select_and_totals() {
        let agg = sample();
        assert_eq!(agg.len(), 6);
        assert_eq!(
            agg.metric_names(),
            [HTTP_REQ_DURATION, HTTP_REQ_FAILED, HTTP_REQS, VUS]
        );
        let Some(Sink::Trend(t)) = agg.metric_total(HTTP_REQ_DURATION) else {
            panic!()
        };
        assert_eq!((t.count(), t.min(), t.max()), (200, 1.0, 1000.0));
        let sel = Selector::parse("http_req_duration{name:login}").unwrap();
        let Some(Sink::Trend(t)) = agg.select(&sel) else {
            panic!()
        };
        assert_eq!((t.count(), t.max()), (100, 100.0));
        let sel = Selector::parse("http_req_duration{name:login,method:GET}").unwrap();
        assert_eq!(agg.select(&sel), None);
        assert_eq!(agg.metric_total("missing"), None);
        let Some(Sink::Counter(c)) = agg.select(&Selector::parse(HTTP_REQS).unwrap()) else {
            panic!()
        };
        assert_eq!((c.sum, c.samples), (3.0, 2));
        // `http_req_failed` sorts between the two others but must not leak into their totals.
        assert_eq!(agg.series_of(HTTP_REQ_FAILED).count(), 1);
    }

    #[test]
    fn merge_is_exact_and_take_empties() {
        let mut worker = sample();
        let delta = worker.take();
        assert!(worker.is_empty());
        let mut total = Aggregate::new();
        total.merge(&delta).unwrap();
        total.merge(&delta).unwrap();
        let mut twice = sample();
        for (k, s) in sample().iter() {
            twice.sink_mut(k, s.kind()).merge(s).unwrap();
        }
        assert_eq!(
            total.metric_total(HTTP_REQ_DURATION),
            twice.metric_total(HTTP_REQ_DURATION)
        );
        let Some(Sink::Counter(c)) = total.metric_total(HTTP_REQS) else {
            panic!()
        };
        assert_eq!((c.sum, c.samples), (6.0, 4));
        let Some(Sink::Rate(r)) = total.metric_total(HTTP_REQ_FAILED) else {
            panic!()
        };
        assert_eq!((r.trues, r.total), (2, 2));
    }

    #[test]
    fn kind_mismatch_is_reported_and_merges_nothing() {
        let mut total = sample();
        let before = total.clone();
        let mut bad = Aggregate::new();
        bad.add(
            &key(HTTP_REQS, &[("name", "home")]),
            MetricKind::Counter,
            5.0,
        );
        bad.add(&key(VUS, &[]), MetricKind::Counter, 1.0);
        let err = total.merge(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "series `vus` is a gauge here but a counter in the merged aggregate"
        );
        assert_eq!(total, before);
        let err = total
            .try_add(&key(VUS, &[]), MetricKind::Trend, 1.0)
            .unwrap_err();
        assert!(matches!(err, MetricsError::SeriesKindMismatch { .. }));
        total
            .try_add(&key(VUS, &[]), MetricKind::Gauge, 1.0)
            .unwrap();
    }

    #[test]
    fn from_iterator_merges_duplicates() {
        let mut s = Sink::new(MetricKind::Counter);
        s.add(2.0);
        let agg: Aggregate = [(key("c", &[]), s.clone()), (key("c", &[]), s)]
            .into_iter()
            .collect();
        let Some(Sink::Counter(c)) = agg.get(&key("c", &[])) else {
            panic!()
        };
        assert_eq!(c.sum, 4.0);
    }
}
