//! The end-of-test report in each format, rendered from one [`Report`]: what `stampede run
//! --summary-*` writes and `stampede report` renders again from a saved JSON summary.

mod chart;
pub mod csv;
pub mod html;
pub mod junit;
pub mod text;
mod xml;

use crate::report::Report;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The k6-style terminal summary.
    Text,
    /// The JSON summary (`docs/summary-json.md`).
    Json,
    /// JUnit XML: one test case per threshold, plus one for the run.
    Junit,
    /// One CSV row per metric and threshold sub-metric.
    Csv,
    /// One CSV row per second of the run.
    TimeseriesCsv,
    /// A self-contained HTML page (no scripts, no external resources) with charts.
    Html,
}

impl Format {
    /// Render `report` in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Text => text::render(report),
            Format::Json => json(report),
            Format::Junit => junit::render(report),
            Format::Csv => csv::metrics(report),
            Format::TimeseriesCsv => csv::timeseries(report),
            Format::Html => html::render(report),
        }
    }
}

/// The JSON summary, pretty printed.
fn json(report: &Report) -> String {
    // A report has string keys and numbers only (serde_json writes non-finite numbers as null),
    // so serialising it cannot fail.
    let mut s = serde_json::to_string_pretty(report).expect("a report serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{MIXED, info, metrics, thresholds};
    use crate::report::{SummaryError, build};
    use stampede_metrics::TrendStat;

    pub(crate) const ALL: [Format; 6] = [
        Format::Text,
        Format::Json,
        Format::Junit,
        Format::Csv,
        Format::TimeseriesCsv,
        Format::Html,
    ];

    #[test]
    fn a_summary_read_back_renders_exactly_as_the_run_did() {
        let r = build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        );
        let back = Report::from_json(Format::Json.render(&r).as_bytes()).unwrap();
        for f in ALL {
            assert_eq!(f.render(&back), f.render(&r), "{f:?}");
        }
    }

    #[test]
    fn the_plans_trend_stats_choose_every_formats_trend_columns() {
        let stats = [TrendStat::Med, TrendStat::Percentile(99.9)];
        let r = build(info(), &metrics(), &thresholds(MIXED), &stats, 2.5);
        assert_eq!(r.trend_stats, ["med", "p(99.9)"]);
        let keys: Vec<&str> = r.metrics["http_req_duration"]
            .values
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["count", "med", "p99.9"], "count is always there");

        let text = Format::Text.render(&r);
        assert!(
            text.lines()
                .any(|l| l.starts_with("   ✓ http_req_duration.")
                    && l.ends_with(": med=100ms p(99.9)=300ms")),
            "{text}"
        );
        let csv = Format::Csv.render(&r);
        assert!(
            csv.starts_with("metric,tags,type,unit,count,rate,avg,min,med,max,p99.9,value,passes,fails,thresholds\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\nhttp_req_duration,,trend,time,5,,,,99.9995,,300,,,,passed\n"),
            "{csv}"
        );
        let html = Format::Html.render(&r);
        assert!(
            html.contains(
                "<tr><th>metric</th><th>count</th><th>med</th><th>p(99.9)</th><th></th></tr>"
            ),
            "{html}"
        );

        // A summary written before `trend_stats` existed shows the default ones.
        let mut json: serde_json::Value = serde_json::from_str(&Format::Json.render(&r)).unwrap();
        json.as_object_mut().unwrap().remove("trend_stats");
        let old = Report::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(old.stats(), TrendStat::DEFAULT);
    }

    #[test]
    fn a_file_that_is_not_a_summary_is_named_as_such() {
        let err = |json: &str| Report::from_json(json.as_bytes()).unwrap_err().to_string();
        assert!(
            matches!(Report::from_json(b"<html>"), Err(SummaryError::Json(_))),
            "{}",
            err("<html>")
        );
        assert!(err("<html>").starts_with("not JSON (expected value at line 1 column 1)"));
        let no_schema = "not a Stampede summary: it has no \"schema\" field; pass the file \
                         `stampede run --summary-json` wrote";
        assert_eq!(err("[1]"), no_schema);
        assert_eq!(
            err(r#"{"metrics": {}, "root_group": {}}"#),
            no_schema,
            "a k6 summary"
        );
        assert_eq!(
            err(r#"{"schema": "k6"}"#),
            "the summary's schema is \"k6\", this build reads stampede-summary/1; render it with \
             a Stampede version that reads that schema"
        );
        // The right schema with a broken body: what is wrong, where.
        let broken = r#"{"schema": "stampede-summary/1", "run": 3}"#;
        assert!(
            err(broken).starts_with(
                "the summary says it is stampede-summary/1 but does not read as one ("
            ) && err(broken).contains("line 1"),
            "{}",
            err(broken)
        );
    }

    #[test]
    fn summaries_of_earlier_builds_of_the_schema_read() {
        // Written before `trend_stats` and the time series' `at_ms` were added.
        let mut json: serde_json::Value = serde_json::from_str(&Format::Json.render(&build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        )))
        .unwrap();
        json.as_object_mut().unwrap().remove("trend_stats");
        json["timeseries"][0]
            .as_object_mut()
            .unwrap()
            .remove("at_ms");
        let old = Report::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(old.stats(), TrendStat::DEFAULT);
        assert_eq!(old.timeseries[0].at_ms, 0);
    }

    #[test]
    fn a_threshold_that_does_not_apply_says_so_in_every_format() {
        let mut d = stampede_metrics::Aggregate::new();
        d.add(
            &stampede_metrics::SeriesKey::untagged("cart"),
            stampede_metrics::MetricKind::Counter,
            3.0,
        );
        let m = crate::report::tests::one_delta(d, 1);
        let r = build(
            info(),
            &m,
            &thresholds("cart = [\"p(95) < 1\"]"),
            &TrendStat::DEFAULT,
            1.0,
        );
        let back = Report::from_json(Format::Json.render(&r).as_bytes()).unwrap();
        for f in ALL {
            let out = f.render(&back);
            assert_eq!(out, f.render(&r), "{f:?}");
            if f != Format::Json && f != Format::Csv && f != Format::TimeseriesCsv {
                assert!(
                    out.contains("`p(95)` does not apply to a counter metric: use count or rate"),
                    "{f:?}: {out}"
                );
                assert!(
                    !out.contains("no samples") && !out.contains("NaN"),
                    "{f:?}: {out}"
                );
            }
        }
    }
}
