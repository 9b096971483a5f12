//! The four metric kinds and how their values are displayed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a metric measures and therefore how its samples are aggregated (the kinds of k6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A running sum (requests made, bytes sent).
    Counter,
    /// The latest value, plus its minimum and maximum (active VUs).
    Gauge,
    /// The share of non-zero samples (failed requests, passed checks).
    Rate,
    /// A distribution: count, sum, min, max and percentiles (durations).
    Trend,
}

impl MetricKind {
    /// Every kind, in declaration order.
    pub const ALL: [MetricKind; 4] = [Self::Counter, Self::Gauge, Self::Rate, Self::Trend];

    /// The lowercase name used in plans, JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Rate => "rate",
            Self::Trend => "trend",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a metric's values are displayed; it never changes how they are aggregated.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// A plain number.
    #[default]
    Default,
    /// A duration in milliseconds.
    Time,
    /// An amount of data in bytes.
    Data,
}

impl ValueType {
    /// The lowercase name used in plans, JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Time => "time",
            Self::Data => "data",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
