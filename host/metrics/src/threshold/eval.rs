//! Checking an expression against a metric kind and evaluating it on a sink.

use super::{Aggregation, ThresholdExpr};
use crate::{MetricKind, Sink, ThresholdError};

/// The outcome of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The aggregated value that was compared (NaN if the aggregation does not apply to the sink).
    pub observed: f64,
    /// True when the threshold holds.
    pub ok: bool,
}

impl Aggregation {
    /// True when this aggregation can be computed for `kind`: trend: `avg`, `min`, `max`, `med`, `p(N)`,
    /// `count`; rate: `rate`; counter: `count` (the sum), `rate` (the sum per second); gauge: `value`,
    /// `min`, `max`.
    pub fn applies_to(self, kind: MetricKind) -> bool {
        use Aggregation as A;
        match kind {
            MetricKind::Trend => matches!(
                self,
                A::Avg | A::Min | A::Max | A::Med | A::Percentile(_) | A::Count
            ),
            MetricKind::Rate => matches!(self, A::Rate),
            MetricKind::Counter => matches!(self, A::Count | A::Rate),
            MetricKind::Gauge => matches!(self, A::Value | A::Min | A::Max),
        }
    }
}

/// The aggregations accepted for `kind`, for error messages.
fn accepted(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Trend => "avg, min, max, med, p(N) or count",
        MetricKind::Rate => "rate",
        MetricKind::Counter => "count or rate",
        MetricKind::Gauge => "value, min or max",
    }
}

impl ThresholdExpr {
    /// Fails with [`ThresholdError::NotApplicable`] when the aggregation cannot be computed for `kind`
    /// (see [`Aggregation::applies_to`]). Call it when validating a plan, once the metric's kind is known.
    pub fn check_kind(&self, kind: MetricKind) -> Result<(), ThresholdError> {
        if self.aggregation.applies_to(kind) {
            Ok(())
        } else {
            Err(ThresholdError::NotApplicable {
                aggregation: self.aggregation.to_string(),
                kind,
                accepted: accepted(kind),
            })
        }
    }

    /// Computes the aggregation on `sink` and compares it with the limit. `elapsed_secs` is the test's
    /// running time, used for a counter's `rate`. An empty sink observes 0. An aggregation that does not
    /// apply to the sink's kind observes NaN and fails.
    pub fn evaluate(&self, sink: &Sink, elapsed_secs: f64) -> Evaluation {
        let observed = observe(self.aggregation, sink, elapsed_secs).unwrap_or(f64::NAN);
        Evaluation {
            observed,
            ok: self.op.compare(observed, self.value),
        }
    }
}

fn observe(aggregation: Aggregation, sink: &Sink, elapsed_secs: f64) -> Option<f64> {
    use Aggregation as A;
    let value = match (sink, aggregation) {
        (Sink::Trend(t), A::Avg) => t.avg(),
        (Sink::Trend(t), A::Min) => t.min(),
        (Sink::Trend(t), A::Max) => t.max(),
        (Sink::Trend(t), A::Med) => t.med(),
        (Sink::Trend(t), A::Percentile(p)) => t.percentile(p),
        (Sink::Trend(t), A::Count) => t.count() as f64,
        (Sink::Rate(r), A::Rate) => r.rate(),
        (Sink::Counter(c), A::Count) => c.sum,
        (Sink::Counter(c), A::Rate) => c.per_second(elapsed_secs),
        (Sink::Gauge(g), A::Value) => g.last,
        (Sink::Gauge(g), A::Min) => g.min,
        (Sink::Gauge(g), A::Max) => g.max,
        _ => return None,
    };
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> ThresholdExpr {
        ThresholdExpr::parse(s).unwrap()
    }

    fn sink(kind: MetricKind, values: &[f64]) -> Sink {
        let mut s = Sink::new(kind);
        values.iter().for_each(|&v| s.add(v));
        s
    }

    #[test]
    fn check_kind_lists_what_is_accepted() {
        expr("p(95)<1").check_kind(MetricKind::Trend).unwrap();
        expr("rate<1").check_kind(MetricKind::Counter).unwrap();
        expr("value<1").check_kind(MetricKind::Gauge).unwrap();
        let err = expr("p(95)<1").check_kind(MetricKind::Rate).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`p(95)` does not apply to a rate metric: use rate"
        );
        let err = expr("avg<1").check_kind(MetricKind::Counter).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`avg` does not apply to a counter metric: use count or rate"
        );
        assert!(expr("value<1").check_kind(MetricKind::Trend).is_err());
        assert!(expr("count<1").check_kind(MetricKind::Gauge).is_err());
    }

    #[test]
    fn evaluates_trends() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let t = sink(MetricKind::Trend, &values);
        let cases = [
            ("avg < 51", 50.5, true),
            ("min == 1", 1.0, true),
            ("max < 100", 100.0, false),
            ("med <= 50", 50.0, true),
            ("p(95) < 95", 95.0, false),
            ("count >= 100", 100.0, true),
        ];
        for (e, observed, ok) in cases {
            let ev = expr(e).evaluate(&t, 1.0);
            assert!(
                (ev.observed - observed).abs() / observed < 0.001,
                "{e}: {ev:?}"
            );
            assert_eq!(ev.ok, ok, "{e}: {ev:?}");
        }
        let empty = expr("p(99) < 1").evaluate(&Sink::new(MetricKind::Trend), 1.0);
        assert_eq!(
            empty,
            Evaluation {
                observed: 0.0,
                ok: true
            }
        );
    }

    #[test]
    fn evaluates_rates_counters_and_gauges() {
        let rate = sink(MetricKind::Rate, &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            expr("rate < 1%").evaluate(&rate, 1.0),
            Evaluation {
                observed: 0.25,
                ok: false
            }
        );
        assert!(expr("rate <= 0.25").evaluate(&rate, 1.0).ok);
        let counter = sink(MetricKind::Counter, &[10.0, 20.0]);
        assert_eq!(
            expr("count > 25").evaluate(&counter, 1.0),
            Evaluation {
                observed: 30.0,
                ok: true
            }
        );
        assert_eq!(
            expr("rate >= 3").evaluate(&counter, 10.0),
            Evaluation {
                observed: 3.0,
                ok: true
            }
        );
        assert_eq!(
            expr("rate > 0").evaluate(&counter, 0.0),
            Evaluation {
                observed: 0.0,
                ok: false
            }
        );
        let gauge = sink(MetricKind::Gauge, &[5.0, 9.0, 2.0]);
        assert_eq!(expr("value == 2").evaluate(&gauge, 1.0).observed, 2.0);
        assert_eq!(
            expr("max < 9").evaluate(&gauge, 1.0),
            Evaluation {
                observed: 9.0,
                ok: false
            }
        );
        assert!(expr("min != 3").evaluate(&gauge, 1.0).ok);
    }

    #[test]
    fn inapplicable_aggregation_fails() {
        let ev = expr("avg != 0").evaluate(&sink(MetricKind::Rate, &[1.0]), 1.0);
        assert!(ev.observed.is_nan());
        assert!(!ev.ok);
    }
}
