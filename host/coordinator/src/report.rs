//! The end-of-test summary: a stable, documented JSON document (`docs/summary-json.md`), built from
//! the merged metrics and the threshold verdicts. The terminal summary is rendered from it.

use crate::metrics::{RunMetrics, SecondPoint};
use serde::{Deserialize, Serialize};
use stampede_metrics::{
    Aggregate, Aggregation, BUILTINS, MetricKind, Selector, Sink, ThresholdExpr, TrendStat,
    ValueType, names,
};
use stampede_plan::Threshold;
use std::collections::BTreeMap;

/// Identifies the summary format; bumped on breaking changes.
pub const SCHEMA: &str = "stampede-summary/1";

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every threshold held.
    Passed,
    /// At least one threshold failed.
    ThresholdsFailed,
    /// No VU could be initialised: every VU constructor (or `init`) that ran failed, and no
    /// iteration ran. Thresholds are not the verdict then: there was no load.
    NoVuStarted,
}

/// The whole summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// About the run.
    pub run: RunInfo,
    /// The statistics of each trend, in the order the summary shows them, as written in plans
    /// (`avg`, `p(99.9)`): the plan's `summary-trend-stats`. Each trend's values have their keys
    /// ([`TrendStat::key`]: `avg`, `p99.9`), and `count`.
    #[serde(default = "stampede_plan::default_summary_trend_stats")]
    pub trend_stats: Vec<String>,
    /// Every metric (all tags merged), plus the tagged sub-metrics thresholds refer to.
    pub metrics: BTreeMap<String, MetricValues>,
    /// Per check name: passes and fails.
    pub checks: Vec<CheckResult>,
    /// Every threshold's verdict.
    pub thresholds: Vec<ThresholdResult>,
    /// One point per second.
    pub timeseries: Vec<SecondPoint>,
}

/// About the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Unique id.
    pub id: String,
    /// The component's file name.
    pub component: String,
    /// Its SHA-256.
    pub component_sha256: String,
    /// Wall-clock run time (from start to the last worker finishing), in seconds.
    pub duration_s: f64,
    /// Workers that took part.
    pub workers: usize,
    /// Passed or not.
    pub status: RunStatus,
    /// Set when the run was stopped early (a threshold abort, no VU started, a stop signal).
    pub aborted: Option<String>,
    /// Set when the scenario's `teardown` failed (after the run; its metrics and verdict stand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_failed: Option<String>,
}

/// One metric's values. Which fields are present depends on `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricValues {
    /// `counter`, `gauge`, `rate` or `trend`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `time` (milliseconds), `data` (bytes) or `default`.
    pub unit: ValueType,
    /// The values, e.g. `count`, `rate`, `avg`, `p95`.
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

/// One check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// Its name.
    pub name: String,
    /// Times it held.
    pub passes: u64,
    /// Times it did not.
    pub fails: u64,
}

/// One threshold's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric selector in canonical form (tags sorted, `key:value`), e.g.
    /// `http_req_duration{name:login}`.
    pub metric: String,
    /// The expression as written, e.g. `p(95) < 200ms`.
    pub expression: String,
    /// Whether it held.
    pub ok: bool,
    /// The value it was checked against: `null` when the selector matched no samples of a rate,
    /// trend or gauge (see [`evaluate`] for the verdict) or when the aggregation does not apply to
    /// the metric's kind (it then fails).
    pub observed: Option<f64>,
    /// Whether failing it stops the run.
    pub abort_on_fail: bool,
}

impl MetricValues {
    /// One of the values (`count`, `p95`, ...), 0 when absent.
    pub fn get(&self, key: &str) -> f64 {
        self.values.get(key).copied().unwrap_or(0.0)
    }
}

impl Report {
    /// Why threshold `t` has no observed value, in words: its selector matched no samples (it
    /// passed, or failed because nothing recorded its metric at all), or its aggregation does not
    /// apply to its metric's kind (it failed; says which aggregations do).
    pub fn no_observation(&self, t: &ThresholdResult) -> String {
        if t.ok {
            return "no samples".to_owned();
        }
        let (metric, _) = Report::split_key(&t.metric);
        let Some(values) = self.metrics.get(metric) else {
            return "no samples: nothing recorded this metric".to_owned();
        };
        let kind = MetricKind::ALL
            .into_iter()
            .find(|k| k.as_str() == values.kind);
        match (kind, ThresholdExpr::parse(&t.expression)) {
            (Some(kind), Ok(expr)) => not_applicable(&expr, kind),
            _ => format!("nothing: it does not apply to a {} metric", values.kind),
        }
    }

    /// Read a summary written by `--summary-json` (any build that writes [`SCHEMA`]).
    pub fn from_json(json: &[u8]) -> Result<Report, SummaryError> {
        let value: serde_json::Value = serde_json::from_slice(json).map_err(SummaryError::Json)?;
        match value.get("schema") {
            // Read again from the text, so that an error names its line and column.
            Some(serde_json::Value::String(s)) if s == SCHEMA => {
                serde_json::from_slice(json).map_err(SummaryError::Body)
            }
            Some(serde_json::Value::String(s)) => Err(SummaryError::Schema(s.clone())),
            _ => Err(SummaryError::NoSchema),
        }
    }

    /// The metrics in the order the reports list them: by metric name, each metric's tagged
    /// selectors (`http_req_duration{name:login}`) right after it.
    pub fn metrics_in_order(&self) -> Vec<(&String, &MetricValues)> {
        let mut v: Vec<_> = self.metrics.iter().collect();
        v.sort_by(|a, b| Report::split_key(a.0).cmp(&Report::split_key(b.0)));
        v
    }

    /// Whether the thresholds on the summary key `key` held: `None` when none refers to it.
    pub fn verdict(&self, key: &str) -> Option<bool> {
        let mut on_key = self
            .thresholds
            .iter()
            .filter(|t| t.metric == key)
            .peekable();
        on_key.peek()?;
        Some(on_key.all(|t| t.ok))
    }

    /// [`trend_stats`](Self::trend_stats) parsed (any this build does not know left out).
    pub fn stats(&self) -> Vec<TrendStat> {
        self.trend_stats
            .iter()
            .filter_map(|s| TrendStat::parse(s).ok())
            .collect()
    }

    /// The metric selector of a summary key: `http_req_duration{name:login}` is the metric
    /// `http_req_duration` with the tag `name:login`.
    pub fn split_key(key: &str) -> (&str, &str) {
        match key.split_once('{') {
            Some((metric, tags)) => (metric, tags.trim_end_matches('}')),
            None => (key, ""),
        }
    }
}

impl ThresholdResult {
    /// The observed value in the unit the expression compares it in: a time for `avg`, `min`,
    /// `med`, `max`, `p(N)` and `value` of a time metric, a plain number for `count` and `rate`;
    /// `None` when there is none ([`Report::no_observation`] says why).
    pub fn observed_display(&self, unit: ValueType) -> Option<String> {
        let v = self.observed?;
        let aggregation: String = self
            .expression
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let vt = match aggregation.as_str() {
            "count" | "rate" => ValueType::Default,
            _ => unit,
        };
        Some(stampede_metrics::format_value(vt, v))
    }
}

impl CheckResult {
    /// The share of passes, 0 when the check never ran.
    pub fn rate(&self) -> f64 {
        let total = self.passes + self.fails;
        if total == 0 {
            0.0
        } else {
            self.passes as f64 / total as f64
        }
    }
}

impl RunStatus {
    /// As the JSON summary writes it: `passed`, `thresholds_failed`, `no_vu_started`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::ThresholdsFailed => "thresholds_failed",
            RunStatus::NoVuStarted => "no_vu_started",
        }
    }
}

/// A file `stampede report` cannot read as a summary.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Not JSON at all.
    #[error("not JSON ({0}); pass the file `stampede run --summary-json` wrote")]
    Json(serde_json::Error),
    /// JSON without a `schema` string: something else's JSON (a k6 summary, say).
    #[error(
        "not a Stampede summary: it has no \"schema\" field; pass the file `stampede run --summary-json` wrote"
    )]
    NoSchema,
    /// Another schema.
    #[error(
        "the summary's schema is \"{0}\", this build reads {SCHEMA}; render it with a Stampede version that reads that schema"
    )]
    Schema(String),
    /// The right schema, but a body this build cannot read.
    #[error(
        "the summary says it is {SCHEMA} but does not read as one ({0}): the file is damaged or was edited"
    )]
    Body(serde_json::Error),
}

/// Value type of a metric: the builtins' own, else the default.
pub fn value_type(metric: &str) -> ValueType {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == metric)
        .map_or(ValueType::Default, |(_, _, vt)| *vt)
}

/// Values of one sink, for the summary: a trend's count and `stats`.
pub fn values(sink: &Sink, vt: ValueType, stats: &[TrendStat], elapsed_s: f64) -> MetricValues {
    let mut v = BTreeMap::new();
    let kind = match sink {
        Sink::Counter(c) => {
            v.insert("count".into(), c.sum);
            v.insert("rate".into(), c.per_second(elapsed_s));
            "counter"
        }
        Sink::Gauge(g) => {
            v.insert("value".into(), g.last);
            v.insert("min".into(), g.min);
            v.insert("max".into(), g.max);
            "gauge"
        }
        Sink::Rate(r) => {
            v.insert("rate".into(), r.rate());
            v.insert("passes".into(), r.trues as f64);
            v.insert("fails".into(), r.falses() as f64);
            "rate"
        }
        Sink::Trend(t) => {
            v.insert("count".into(), t.count() as f64);
            for stat in stats {
                v.insert(stat.key(), stat.of(t));
            }
            "trend"
        }
    };
    MetricValues {
        kind: kind.to_owned(),
        unit: vt,
        values: v,
    }
}

/// When thresholds are evaluated: during the run (for `abort-on-fail`), or once it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// While the run goes on: a selector without samples yet has nothing to judge, and passes.
    During,
    /// The final verdict: a selector without samples is judged too (see [`evaluate`]).
    AtEnd,
}

/// Evaluate every threshold against `total`.
///
/// At the end, a selector that matched no samples is judged as k6 judges an empty metric where
/// that means something, and fails where it would only hide that nothing was measured: a counter
/// counted 0 (so `count > 1000` fails and `count < 10` holds, observing 0); a rate, trend or gauge
/// passes (observing nothing) when its metric has samples under other tags (a sub-metric that never
/// happened, such as `http_req_failed{error_code:timeout}`), and fails when the metric has none at
/// all (a run that sent no request fails `http_req_failed: rate < 0.01`). A metric no sample named
/// has the kind the aggregation implies (`count`: a counter).
pub fn evaluate(
    thresholds: &[Threshold],
    total: &Aggregate,
    elapsed_s: f64,
    when: When,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let (ok, observed) = match total.select(&t.selector) {
                Some(sink) => judge(t, &sink, elapsed_s),
                None if when == When::During => (true, None),
                None => without_samples(t, total, elapsed_s),
            };
            ThresholdResult {
                metric: t.selector.to_string(),
                expression: t.expr.source.clone(),
                ok,
                observed,
                abort_on_fail: t.abort_on_fail,
            }
        })
        .collect()
}

/// The final verdict and observed value of `t`, whose selector matched no samples (see
/// [`evaluate`]).
fn without_samples(t: &Threshold, total: &Aggregate, elapsed_s: f64) -> (bool, Option<f64>) {
    let recorded = total.metric_total(&t.selector.metric);
    let kind = recorded
        .as_ref()
        .map(Sink::kind)
        .or_else(|| {
            BUILTINS
                .iter()
                .find(|(name, ..)| *name == t.selector.metric)
                .map(|(_, kind, _)| *kind)
        })
        .unwrap_or(match t.expr.aggregation {
            Aggregation::Count => MetricKind::Counter,
            Aggregation::Rate => MetricKind::Rate,
            Aggregation::Value => MetricKind::Gauge,
            _ => MetricKind::Trend,
        });
    if kind == MetricKind::Counter {
        return judge(t, &Sink::new(MetricKind::Counter), elapsed_s);
    }
    (recorded.is_some(), None)
}

/// The verdict of `t` on `sink` and the value it observed (none when the aggregation does not
/// apply to the sink's kind: it then fails).
fn judge(t: &Threshold, sink: &Sink, elapsed_s: f64) -> (bool, Option<f64>) {
    let e = t.expr.evaluate(sink, elapsed_s);
    (e.ok, Some(e.observed).filter(|v| v.is_finite()))
}

/// What a threshold whose aggregation does not apply to a `kind` metric observed, in words
/// (which aggregations would).
pub(crate) fn not_applicable(expr: &ThresholdExpr, kind: MetricKind) -> String {
    match expr.check_kind(kind) {
        Err(e) => format!("nothing: {e}"),
        Ok(()) => "nothing".to_owned(),
    }
}

/// Checks by name, in name order.
pub fn checks(total: &Aggregate) -> Vec<CheckResult> {
    let mut by_name: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (key, sink) in total.iter() {
        if key.metric != names::CHECKS {
            continue;
        }
        if let (Some(name), Sink::Rate(r)) = (key.tags.get("check"), sink) {
            let e = by_name.entry(name.to_owned()).or_default();
            e.0 += r.trues;
            e.1 += r.falses();
        }
    }
    by_name
        .into_iter()
        .map(|(name, (passes, fails))| CheckResult {
            name,
            passes,
            fails,
        })
        .collect()
}

/// Whether VU initialisation failed and no VU ever ran: `vu_init_errors` were recorded, while
/// `vus_max` never rose above 0 and no iteration completed.
pub(crate) fn no_vu_started(total: &Aggregate) -> bool {
    let count = |m: &str| match total.metric_total(m) {
        Some(Sink::Counter(c)) => c.sum,
        _ => 0.0,
    };
    let vus_max = match total.metric_total(names::VUS_MAX) {
        Some(Sink::Gauge(g)) => g.max,
        _ => 0.0,
    };
    count(names::VU_INIT_ERRORS) > 0.0 && count(names::ITERATIONS) == 0.0 && vus_max == 0.0
}

/// Build the report for a run that ran to its end (or was stopped by a threshold).
pub fn build(
    info: RunInfo,
    m: &RunMetrics,
    thresholds: &[Threshold],
    stats: &[TrendStat],
    elapsed_s: f64,
) -> Report {
    build_judged(info, m, thresholds, stats, elapsed_s, When::AtEnd)
}

/// [`build`], judging selectors without samples as `when` says ([`evaluate`]): a run stopped
/// from outside is judged as during the run.
pub fn build_judged(
    info: RunInfo,
    m: &RunMetrics,
    thresholds: &[Threshold],
    stats: &[TrendStat],
    elapsed_s: f64,
    when: When,
) -> Report {
    let mut metrics = BTreeMap::new();
    for name in m.total.metric_names() {
        if let Some(sink) = m.total.metric_total(&name) {
            metrics.insert(
                name.clone(),
                values(&sink, value_type(&name), stats, elapsed_s),
            );
        }
    }
    for t in thresholds {
        if t.selector.tags.is_empty() {
            continue;
        }
        if let Some(sink) = m.total.select(&t.selector) {
            metrics.insert(
                t.selector.to_string(),
                values(&sink, value_type(&t.selector.metric), stats, elapsed_s),
            );
        }
    }
    let results = evaluate(thresholds, &m.total, elapsed_s, when);
    let mut info = info;
    info.status = if no_vu_started(&m.total) {
        RunStatus::NoVuStarted
    } else if results.iter().all(|r| r.ok) {
        RunStatus::Passed
    } else {
        RunStatus::ThresholdsFailed
    };
    Report {
        schema: SCHEMA.to_owned(),
        run: info,
        trend_stats: stats.iter().map(ToString::to_string).collect(),
        metrics,
        checks: checks(&m.total),
        thresholds: results,
        timeseries: m.timeline.values().cloned().collect(),
    }
}

/// Parse a selector string back (used when rendering sub-metrics).
pub fn parse_selector(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use stampede_metrics::{MetricKind, SeriesKey, TagSet};
    use stampede_proto::MetricsDelta;

    /// The thresholds of a plan whose `[thresholds]` table is `toml`.
    pub(crate) fn thresholds(toml: &str) -> Vec<Threshold> {
        let text = format!(
            "component = \"x.wasm\"\ntargets = [\"http://127.0.0.1:1\"]\n[scenarios.main]\nexecutor = \"per-vu-iterations\"\n[thresholds]\n{toml}"
        );
        stampede_plan::parse(&text, std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"))
            .thresholds
    }

    /// Logins of 100, 200 and 300ms, home pages of 10 and 20ms, 7 checks (one failed), 5 iterations.
    pub(crate) fn metrics() -> RunMetrics {
        let mut d = Aggregate::new();
        let mut add = |metric: &str, tags: &[(&str, &str)], kind, values: &[f64]| {
            for v in values {
                d.add(
                    &SeriesKey::new(metric, TagSet::new(tags.iter().copied())),
                    kind,
                    *v,
                );
            }
        };
        add(
            "http_req_duration",
            &[("name", "login")],
            MetricKind::Trend,
            &[100.0, 200.0, 300.0],
        );
        add(
            "http_req_duration",
            &[("name", "home")],
            MetricKind::Trend,
            &[10.0, 20.0],
        );
        add(
            "checks",
            &[("check", "status is 200")],
            MetricKind::Rate,
            &[1.0, 1.0, 1.0, 0.0],
        );
        add(
            "checks",
            &[("check", "body ok"), ("name", "home")],
            MetricKind::Rate,
            &[1.0, 1.0],
        );
        add(
            "checks",
            &[("check", "body ok"), ("name", "login")],
            MetricKind::Rate,
            &[1.0],
        );
        add(
            "iterations",
            &[("scenario", "main")],
            MetricKind::Counter,
            &[1.0; 5],
        );
        one_delta(d, 2)
    }

    pub(crate) fn info() -> RunInfo {
        RunInfo {
            id: "run-1".into(),
            component: "x.wasm".into(),
            component_sha256: "ab".repeat(32),
            duration_s: 2.5,
            workers: 1,
            status: RunStatus::Passed,
            aborted: None,
            teardown_failed: None,
        }
    }

    pub(crate) const MIXED: &str = r#"
        "http_req_duration{name:login}" = ["p(95) < 250ms", "avg < 500ms"]
        http_req_duration = ["max < 1s"]
        checks = ["rate > 0.9"]
        iteration_errors = ["count < 1"]
    "#;

    #[test]
    fn thresholds_get_verdicts_and_observed_values() {
        let results = evaluate(&thresholds(MIXED), &metrics().total, 2.5, When::AtEnd);
        let got: Vec<(&str, &str, bool)> = results
            .iter()
            .map(|r| (r.metric.as_str(), r.expression.as_str(), r.ok))
            .collect();
        assert_eq!(
            got,
            [
                ("http_req_duration{name:login}", "p(95) < 250ms", false),
                ("http_req_duration{name:login}", "avg < 500ms", true),
                ("http_req_duration", "max < 1s", true),
                ("checks", "rate > 0.9", false),
                ("iteration_errors", "count < 1", true),
            ]
        );
        let p95 = results[0].observed.unwrap();
        assert!((p95 - 300.0).abs() < 1.0, "{p95}");
        assert_eq!(results[1].observed, Some(200.0));
        assert_eq!(results[2].observed, Some(300.0));
        assert_eq!(results[3].observed, Some(6.0 / 7.0));
        assert_eq!(
            results[4].observed,
            Some(0.0),
            "a counter without samples counted 0"
        );
    }

    #[test]
    fn at_the_end_a_selector_without_samples_is_judged_by_its_metric() {
        let t = thresholds(
            r#"
            http_reqs = ["count > 10"]
            "checks{check:never ran}" = ["rate > 0.9"]
            http_req_failed = ["rate < 0.01"]
            custom_latency = ["p(95) < 5"]
            custom_errors = ["count < 5"]
            "http_req_duration{name:never}" = ["p(95) < 5"]
            "#,
        );
        let m = metrics();
        let got: Vec<(bool, Option<f64>)> = evaluate(&t, &m.total, 2.5, When::AtEnd)
            .iter()
            .map(|r| (r.ok, r.observed))
            .collect();
        assert_eq!(
            got,
            [
                (false, Some(0.0)), // a counter with no samples counted 0
                (true, None),       // `checks` has samples: this check never ran
                (false, None),      // nothing recorded http_req_failed: nothing was sent
                (false, None),      // a metric nothing recorded, a trend by its aggregation
                (true, Some(0.0)),  // ... a counter by its aggregation
                (true, None),       // other names have durations
            ]
        );
        // While the run goes on, nothing without samples is judged yet.
        assert!(
            evaluate(&t, &m.total, 2.5, When::During)
                .iter()
                .filter(|r| r.observed.is_none())
                .all(|r| r.ok)
        );
        let report = build(info(), &m, &t, &[], 2.5);
        assert_eq!(report.run.status, RunStatus::ThresholdsFailed);
        let why: Vec<String> = report
            .thresholds
            .iter()
            .filter(|r| r.observed.is_none())
            .map(|r| report.no_observation(r))
            .collect();
        assert_eq!(
            why,
            [
                "no samples",
                "no samples: nothing recorded this metric",
                "no samples: nothing recorded this metric",
                "no samples",
            ]
        );
    }

    #[test]
    fn an_aggregation_that_does_not_apply_fails_and_observes_null() {
        // Custom metrics are kind-checked only at run time: `p(95)` on a counter cannot hold.
        let mut d = Aggregate::new();
        d.add(&SeriesKey::untagged("cart"), MetricKind::Counter, 3.0);
        let m = one_delta(d, 0);
        let t = thresholds("cart = [\"p(95) < 1\"]");
        let r = &evaluate(&t, &m.total, 1.0, When::AtEnd)[0];
        assert!(!r.ok);
        assert_eq!(
            serde_json::to_value(r).unwrap()["observed"],
            serde_json::Value::Null
        );
        let report = build(info(), &m, &t, &[], 1.0);
        assert_eq!(
            report.no_observation(r),
            "nothing: `p(95)` does not apply to a counter metric: use count or rate"
        );
    }

    /// A run whose only delta has `vu_init_errors` (and `iterations`, if given) with `vus_max`.
    fn init_failures(iterations: f64, vus_max: u64) -> RunMetrics {
        let mut d = Aggregate::new();
        d.add(
            &SeriesKey::untagged(names::VU_INIT_ERRORS),
            MetricKind::Counter,
            4.0,
        );
        if iterations > 0.0 {
            d.add(
                &SeriesKey::untagged(names::ITERATIONS),
                MetricKind::Counter,
                iterations,
            );
        }
        one_delta(d, vus_max)
    }

    /// A run of one worker that sent one delta, `d`, with `vus` VUs running and allocated.
    pub(crate) fn one_delta(d: Aggregate, vus: u64) -> RunMetrics {
        let mut m = RunMetrics::default();
        m.apply(
            "w",
            MetricsDelta {
                vus_peak: 0,
                vus_max_peak: 0,
                last: false,
                seq: 0,
                at_ms: 1000,
                vus,
                vus_max: vus,
                delta: d,
            },
        )
        .unwrap();
        m
    }

    #[test]
    fn a_run_where_no_vu_could_initialise_does_not_pass() {
        let r = build(
            info(),
            &init_failures(0.0, 0),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        );
        assert_eq!(r.run.status, RunStatus::NoVuStarted);
        assert_eq!(
            serde_json::to_value(&r).unwrap()["run"]["status"],
            "no_vu_started"
        );
        // Some VUs ran (or iterated): init errors are then counted, not the verdict.
        let passed = |m: &RunMetrics| build(info(), m, &[], &TrendStat::DEFAULT, 2.5).run.status;
        assert_eq!(passed(&init_failures(0.0, 2)), RunStatus::Passed);
        assert_eq!(passed(&init_failures(3.0, 0)), RunStatus::Passed);
    }

    #[test]
    fn build_adds_submetrics_groups_checks_and_fails_the_run() {
        let r = build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        );

        assert_eq!(r.schema, SCHEMA);
        assert_eq!(r.run.status, RunStatus::ThresholdsFailed);
        let keys: Vec<&str> = r.metrics.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "checks",
                "http_req_duration",
                "http_req_duration{name:login}",
                "iterations",
                "vus",
                "vus_max"
            ]
        );
        let login = &r.metrics["http_req_duration{name:login}"];
        assert_eq!(
            (
                login.kind.as_str(),
                login.unit,
                login.values["count"],
                login.values["avg"]
            ),
            ("trend", ValueType::Time, 3.0, 200.0)
        );
        assert_eq!(
            r.metrics["http_req_duration"].values["count"], 5.0,
            "all tags merged"
        );
        let it = &r.metrics["iterations"];
        assert_eq!(
            (
                it.kind.as_str(),
                it.unit,
                it.values["count"],
                it.values["rate"]
            ),
            ("counter", ValueType::Default, 5.0, 2.0)
        );
        let checks = &r.metrics["checks"];
        assert_eq!(
            (checks.values["passes"], checks.values["fails"]),
            (6.0, 1.0)
        );

        let by_name: Vec<(&str, u64, u64)> = r
            .checks
            .iter()
            .map(|c| (c.name.as_str(), c.passes, c.fails))
            .collect();
        assert_eq!(
            by_name,
            [("body ok", 3, 0), ("status is 200", 3, 1)],
            "grouped by the check tag, in name order"
        );
        assert_eq!(r.thresholds.len(), 5);
        assert_eq!(r.timeseries.len(), 1);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["run"]["status"], "thresholds_failed");
        assert_eq!(
            json["metrics"]["http_req_duration{name:login}"]["type"],
            "trend"
        );
    }

    #[test]
    fn tagged_selectors_follow_their_own_metric() {
        let mut r = build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        );
        let copy = r.metrics["iterations"].clone();
        // `_` sorts before `{`: as plain strings this would come between the metric and its tags.
        r.metrics.insert("http_req_duration_extra".into(), copy);
        let order: Vec<&str> = r
            .metrics_in_order()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            order[1..4],
            [
                "http_req_duration",
                "http_req_duration{name:login}",
                "http_req_duration_extra"
            ]
        );
        assert_eq!(r.verdict("http_req_duration{name:login}"), Some(false));
        assert_eq!(r.verdict("http_req_duration"), Some(true));
        assert_eq!(r.verdict("iterations"), None);
    }

    #[test]
    fn a_run_passes_when_every_threshold_holds() {
        let passing = "\"http_req_duration{name:login}\" = [\"avg < 500ms\"]\niteration_errors = [\"count < 1\"]";
        assert_eq!(
            build(
                info(),
                &metrics(),
                &thresholds(passing),
                &TrendStat::DEFAULT,
                2.5
            )
            .run
            .status,
            RunStatus::Passed
        );
        assert_eq!(
            build(info(), &metrics(), &[], &TrendStat::DEFAULT, 2.5)
                .run
                .status,
            RunStatus::Passed
        );
    }
}
