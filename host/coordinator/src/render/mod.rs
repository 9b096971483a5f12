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
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
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
        assert!(
            err("[1]").starts_with("not a Stampede JSON summary"),
            "{}",
            err("[1]")
        );
        assert_eq!(
            err(r#"{"schema": "k6"}"#),
            "the summary's schema is \"k6\", this build reads stampede-summary/1; render it with \
             the Stampede version that wrote it"
        );
        assert!(err(r#"{"metrics": {}}"#).starts_with("the summary's schema is missing"));
        // The right schema with a broken body: what is wrong, where.
        let broken = r#"{"schema": "stampede-summary/1", "run": 3}"#;
        assert!(err(broken).contains("line 1"), "{}", err(broken));
    }
}
