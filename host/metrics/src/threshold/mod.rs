//! Thresholds in k6's expression style: a [`Selector`] (`http_req_duration{name:login}`) and expressions
//! such as `p(95) < 200ms`, `rate < 0.01` or `count >= 10`.
//!
//! Parse once ([`Selector::parse`], [`ThresholdExpr::parse`]), check the expression against the metric's
//! kind when validating a plan ([`ThresholdExpr::check_kind`]), then [`ThresholdExpr::evaluate`] it on the
//! selected sink ([`crate::Aggregate::select`]) as often as needed.

mod eval;
mod parse;
mod selector;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use eval::Evaluation;
pub use selector::Selector;

/// What is computed from a sink before comparing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregation {
    /// Mean of a trend.
    Avg,
    /// Smallest sample of a trend or gauge.
    Min,
    /// Largest sample of a trend or gauge.
    Max,
    /// Median of a trend.
    Med,
    /// Percentile of a trend, from 0 to 100: `p(95)`.
    Percentile(f64),
    /// Number of samples of a trend; sum of a counter.
    Count,
    /// Share of true samples of a rate; a counter's sum per second.
    Rate,
    /// Latest value of a gauge.
    Value,
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
            Aggregation::Count => f.write_str("count"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Value => f.write_str("value"),
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` (also `===`)
    Eq,
    /// `!=` (also `!==`)
    Ne,
}

impl Op {
    /// `observed <op> limit`; always false when either side is NaN.
    pub fn compare(self, observed: f64, limit: f64) -> bool {
        if observed.is_nan() || limit.is_nan() {
            return false;
        }
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }

    /// The operator's canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One threshold expression, e.g. `p(95) < 200ms`. Serialized as its source text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThresholdExpr {
    /// What is computed from the sink.
    pub aggregation: Aggregation,
    /// How it is compared.
    pub op: Op,
    /// The limit, with units converted: durations to milliseconds, data to bytes, percentages to fractions.
    pub value: f64,
    /// The expression as written (trimmed).
    pub source: String,
}

/// Renders the canonical form with the limit in base units, e.g. `p(95) < 200` for `p(95)<0.2s`.
impl fmt::Display for ThresholdExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.aggregation, self.op, self.value)
    }
}

impl TryFrom<String> for ThresholdExpr {
    type Error = crate::ThresholdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ThresholdExpr::parse(&s)
    }
}

impl From<ThresholdExpr> for String {
    fn from(expr: ThresholdExpr) -> String {
        expr.source
    }
}
