//! Stampede's metrics: kinds, tags, mergeable sinks, aggregates, thresholds and display helpers.
//!
//! This crate is pure (no I/O, no async, no global state). It owns:
//! - the metric model: [`MetricKind`] (counter, gauge, rate, trend as in k6), [`ValueType`], [`TagSet`] and
//!   [`SeriesKey`]; the [`Catalog`] of metric names, with the [`BUILTINS`] (see [`names`]);
//! - [`Sink`]s, the aggregated state of one series, which merge exactly: a [`TrendSink`] keeps exact
//!   count/sum/min/max plus an HDR histogram that serializes to base64 so deltas travel as JSON;
//! - [`Aggregate`], a set of series: a worker's per-interval delta or the coordinator's running total;
//! - thresholds in k6's syntax: a [`Selector`] and [`ThresholdExpr`]s evaluated on a selected sink;
//! - [`format_value`] and [`format_rate_per_sec`] for summaries.
//!
//! # Example
//!
//! ```
//! use stampede_metrics::*;
//!
//! // 1. A worker records samples into its aggregate...
//! let mut catalog = Catalog::with_builtins();
//! catalog.register("cart_size", MetricKind::Trend, ValueType::Default)?;
//! let key = SeriesKey::new(names::HTTP_REQ_DURATION, TagSet::new([("name", "login")]));
//! let mut worker = Aggregate::new();
//! for ms in [12.0, 15.5, 230.0] {
//!     worker.add(&key, MetricKind::Trend, ms);
//! }
//!
//! // 2. ...and sends its delta every interval (here through JSON).
//! let json = serde_json::to_string(&worker.take())?;
//!
//! // 3. The coordinator merges deltas exactly and evaluates thresholds.
//! let mut total = Aggregate::new();
//! total.merge(&serde_json::from_str(&json)?)?;
//! let selector = Selector::parse("http_req_duration{name:login}")?;
//! let threshold = ThresholdExpr::parse("p(95) < 200ms")?;
//! threshold.check_kind(MetricKind::Trend)?;
//! let sink = total.select(&selector).expect("recorded above");
//! let verdict = threshold.evaluate(&sink, 10.0);
//! assert!(!verdict.ok);
//! assert_eq!(format_value(ValueType::Time, verdict.observed), "230ms");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregate;
mod catalog;
mod collector;
mod error;
mod format;
mod gauge;
mod kind;
mod sink;
mod tags;
mod threshold;
mod trend;

pub use aggregate::Aggregate;
pub use catalog::{BUILTINS, Catalog, MAX_NAME_LEN, names, validate_metric_name};
pub use collector::{Collector, GROUP_MAX, SampleBuffer, SeriesGroup, use_shard};
pub use error::{MetricsError, ThresholdError};
pub use format::{format_rate_per_sec, format_value};
pub use gauge::GaugeSink;
pub use kind::{MetricKind, ValueType};
pub use sink::{CounterSink, RateSink, Sink};
pub use tags::{SeriesKey, TagSet};
pub use threshold::{Aggregation, Evaluation, Op, Selector, ThresholdExpr};
pub use trend::{TREND_SCALE, TREND_SIGFIG, TrendSink, TrendStat};
