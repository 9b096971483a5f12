//! Error types: [`MetricsError`] for recording and merging, [`ThresholdError`] for parsing thresholds.

use thiserror::Error;

use crate::MetricKind;

/// Something went wrong while registering, recording or merging metrics.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Two sinks of different kinds were merged.
    #[error("cannot merge a {found} sink into a {expected} sink")]
    KindMismatch {
        /// The kind of the sink being merged into.
        expected: MetricKind,
        /// The kind of the sink being merged in.
        found: MetricKind,
    },
    /// Two aggregates hold the same series with different kinds.
    #[error("series `{series}` is a {existing} here but a {incoming} in the merged aggregate")]
    SeriesKindMismatch {
        /// The series, rendered as `metric{tag:value,...}`.
        series: String,
        /// The kind already held.
        existing: MetricKind,
        /// The kind of the incoming series.
        incoming: MetricKind,
    },
    /// A metric name was registered again with another kind.
    #[error(
        "metric `{name}` is already registered as a {existing}; it cannot also be a {requested}"
    )]
    KindConflict {
        /// The metric name.
        name: String,
        /// The kind it was first registered with.
        existing: MetricKind,
        /// The kind asked for now.
        requested: MetricKind,
    },
    /// A metric name that is not `[A-Za-z_][A-Za-z0-9_]*` of at most 128 characters.
    #[error(
        "invalid metric name `{name}`: {reason} (use letters, digits and `_`, starting with a letter or `_`, at most 128 characters)"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An HDR histogram could not be combined (values beyond its trackable range).
    #[error("histogram error: {0}")]
    Histogram(String),
}

/// A threshold selector or expression could not be parsed, or does not apply to a metric.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// The selector is empty or its metric name is invalid.
    #[error(
        "invalid metric name `{name}` in selector `{source_text}`: use letters, digits and `_`, starting with a letter or `_`"
    )]
    InvalidMetricName {
        /// The offending name.
        name: String,
        /// The whole selector.
        source_text: String,
    },
    /// The tag filter of a selector is malformed.
    #[error("invalid tag filter in selector `{source_text}`: {problem}")]
    InvalidTagFilter {
        /// What is wrong, and what is accepted.
        problem: String,
        /// The whole selector.
        source_text: String,
    },
    /// An expression has no comparison operator.
    #[error("no comparison operator in `{source_text}`: use one of <, <=, >, >=, ==, !=")]
    MissingOperator {
        /// The whole expression.
        source_text: String,
    },
    /// An expression's operator is not one of the accepted ones.
    #[error("unknown operator `{found}` in `{source_text}`: use one of <, <=, >, >=, ==, !=")]
    UnknownOperator {
        /// The operator as written.
        found: String,
        /// The whole expression.
        source_text: String,
    },
    /// The left side of an expression is not a known aggregation.
    #[error(
        "unknown aggregation `{found}` in `{source_text}`: use avg, min, max, med, p(N), count, rate or value"
    )]
    UnknownAggregation {
        /// The left side as written.
        found: String,
        /// The whole expression.
        source_text: String,
    },
    /// A `p(N)` with N outside 0..=100 or not a number.
    #[error(
        "invalid percentile `{found}` in `{source_text}`: N in p(N) must be a number from 0 to 100"
    )]
    InvalidPercentile {
        /// The aggregation as written.
        found: String,
        /// The whole expression.
        source_text: String,
    },
    /// The right side of an expression is not a number with an accepted unit.
    #[error(
        "invalid value `{found}` in `{source_text}`: use a number, optionally followed by a unit: us, µs, ms, s, m, h (durations, converted to milliseconds), B, kB, MB, GB (bytes) or % (a fraction)"
    )]
    InvalidValue {
        /// The right side as written.
        found: String,
        /// The whole expression.
        source_text: String,
    },
    /// The aggregation cannot be computed for the metric's kind.
    #[error("`{aggregation}` does not apply to a {kind} metric: use {accepted}")]
    NotApplicable {
        /// The aggregation, rendered canonically.
        aggregation: String,
        /// The metric's kind.
        kind: MetricKind,
        /// The aggregations accepted for that kind.
        accepted: &'static str,
    },
}
