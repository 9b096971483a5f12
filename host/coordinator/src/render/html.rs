//! A self-contained HTML report: one file with its styles inline, no scripts and nothing fetched,
//! so it opens from disk, from a CI artifact store or an e-mail. Charts are inline SVG.
//!
//! The markup is also well-formed XML (void elements closed, only XML's own entities), so tests
//! read it with an XML parser, and tools can too.

use super::chart::{Series, line_chart};
use super::xml::escape;
use crate::report::{MetricValues, Report, RunStatus};
use stampede_metrics::{TrendStat, ValueType, format_rate_per_sec, format_value};
use std::fmt::Write;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330;margin:0;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:18px 0 6px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:600;color:#fff}
.verdict.passed{background:#2e7d32}.verdict.failed{background:#c62828}
table{border-collapse:collapse;background:#fff;width:100%;margin:0 0 8px}
th,td{padding:5px 9px;border-bottom:1px solid #e3e6eb;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal}
#thresholds th:nth-child(2),#thresholds td:nth-child(2){text-align:left}
th{font-weight:600;background:#eef0f3}
table.facts{width:auto}table.facts th{text-align:left;background:none}table.facts td{text-align:left}
tr.sub td:first-child{padding-left:28px;color:#555}
.ok{color:#2e7d32}.bad{color:#c62828;font-weight:600}
.chart{width:100%;max-width:720px;background:#fff;display:block;margin:0 0 12px}
footer{margin:32px 0 0;color:#777;font-size:12px}
";

/// Render `r` as an HTML page.
pub fn render(r: &Report) -> String {
    let passed = r.run.status == RunStatus::Passed;
    let verdict = match r.run.status {
        RunStatus::Passed => "passed",
        RunStatus::ThresholdsFailed => "thresholds failed",
        RunStatus::NoVuStarted => "no VU started",
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>Stampede run {id}: {verdict}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Stampede run <code>{id}</code></h1>\n\
         <p><span class=\"verdict {class}\" id=\"verdict\">{verdict}</span></p>\n",
        id = escape(&r.run.id),
        class = if passed { "passed" } else { "failed" },
    );
    facts(&mut out, r);
    charts(&mut out, r);
    thresholds(&mut out, r);
    checks(&mut out, r);
    metrics(&mut out, r);
    let _ = write!(
        out,
        "<footer>Stampede {} · summary schema <code>{}</code></footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&r.schema)
    );
    out
}

fn facts(out: &mut String, r: &Report) {
    let mut rows = vec![
        (
            "Component",
            format!("<code>{}</code>", escape(&r.run.component)),
        ),
        (
            "SHA-256",
            format!("<code>{}</code>", escape(&r.run.component_sha256)),
        ),
        (
            "Duration",
            format_value(ValueType::Time, r.run.duration_s * 1000.0),
        ),
        ("Workers", r.run.workers.to_string()),
        ("Status", format!("<code>{}</code>", r.run.status.as_str())),
    ];
    if let Some(reason) = &r.run.aborted {
        rows.push(("Stopped early", escape(reason)));
    }
    if let Some(error) = &r.run.teardown_failed {
        rows.push(("Teardown failed", escape(error)));
    }
    out.push_str("<section id=\"run\">\n<table class=\"facts\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    out.push_str("</table>\n</section>\n");
}

fn charts(out: &mut String, r: &Report) {
    let ts = &r.timeseries;
    // The points are at whole seconds (the end of each one); the last is the run's end.
    let x_max = ts.last().map_or(r.run.duration_s, |p| p.t as f64);
    let series = |f: fn(&crate::metrics::SecondPoint) -> u64| -> Vec<(f64, f64)> {
        ts.iter().map(|p| (p.t as f64, f(p) as f64)).collect()
    };
    out.push_str("<section id=\"charts\">\n<h2>Over time</h2>\n");
    for svg in [
        line_chart(
            "Virtual users",
            x_max,
            &[
                Series {
                    label: "vus",
                    color: "#1f77b4",
                    points: series(|p| p.vus),
                },
                Series {
                    label: "vus_max",
                    color: "#9aa5b1",
                    points: series(|p| p.vus_max),
                },
            ],
        ),
        line_chart(
            "Per second",
            x_max,
            &[
                Series {
                    label: "requests",
                    color: "#2e7d32",
                    points: series(|p| p.http_reqs),
                },
                Series {
                    label: "iterations",
                    color: "#6a3d9a",
                    points: series(|p| p.iterations),
                },
                Series {
                    label: "errors",
                    color: "#c62828",
                    points: series(|p| p.errors),
                },
            ],
        ),
    ] {
        out.push_str(&svg);
        out.push('\n');
    }
    out.push_str("</section>\n");
}

fn thresholds(out: &mut String, r: &Report) {
    out.push_str("<section id=\"thresholds\">\n<h2>Thresholds</h2>\n");
    if r.thresholds.is_empty() {
        out.push_str("<p>None: the plan sets no thresholds.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table>\n<tr><th>metric</th><th>threshold</th><th>observed</th><th>abort on fail</th><th>result</th></tr>\n",
    );
    for t in &r.thresholds {
        let unit = r.metrics.get(&t.metric).map(|m| m.unit).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if t.ok { "passed" } else { "failed" },
            escape(&t.metric),
            escape(&t.expression),
            escape(
                &t.observed_display(unit)
                    .unwrap_or_else(|| r.no_observation(t))
            ),
            if t.abort_on_fail { "yes" } else { "no" },
            mark(t.ok),
        );
    }
    out.push_str("</table>\n</section>\n");
}

fn checks(out: &mut String, r: &Report) {
    if r.checks.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"checks\">\n<h2>Checks</h2>\n<table>\n<tr><th>check</th><th>passed</th><th>failed</th><th>pass rate</th></tr>\n",
    );
    for c in &r.checks {
        // Rounded down, so that a check with failures never shows 100.00%.
        let rate = (10_000.0 * c.rate()).floor() / 100.0;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{rate:.2}%</td></tr>",
            escape(&c.name),
            c.passes,
            if c.fails == 0 { "ok" } else { "bad" },
            c.fails,
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// The metrics, one table per kind, sub-metrics under their metric.
fn metrics(out: &mut String, r: &Report) {
    out.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n");
    let stats = r.stats();
    let trend: Vec<(String, String)> = std::iter::once(TrendStat::Count)
        .chain(stats.into_iter().filter(|s| *s != TrendStat::Count))
        .map(|s| (s.key(), s.to_string()))
        .collect();
    let fixed = |columns: &[&str]| -> Vec<(String, String)> {
        columns
            .iter()
            .map(|c| (c.to_string(), c.to_string()))
            .collect()
    };
    let tables = [
        ("trend", "Trends", trend),
        ("counter", "Counters", fixed(&["count", "rate"])),
        ("rate", "Rates", fixed(&["rate", "passes", "fails"])),
        ("gauge", "Gauges", fixed(&["value", "min", "max"])),
    ];
    for (kind, title, columns) in tables {
        let rows: Vec<(&String, &MetricValues)> = r
            .metrics_in_order()
            .into_iter()
            .filter(|(_, v)| v.kind == kind)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3>{title}</h3>\n<table class=\"{kind}\">\n<tr><th>metric</th>"
        );
        for (_, label) in &columns {
            let _ = write!(out, "<th>{}</th>", escape(label));
        }
        out.push_str("<th></th></tr>\n");
        for (key, v) in rows {
            let (metric, tags) = Report::split_key(key);
            let (class, name) = if tags.is_empty() {
                ("", escape(metric))
            } else {
                (" class=\"sub\"", format!("{{ {} }}", escape(tags)))
            };
            let _ = write!(out, "<tr{class}><td>{name}</td>");
            for (key, _) in &columns {
                let _ = write!(out, "<td>{}</td>", escape(&cell(v, key)));
            }
            let _ = writeln!(
                out,
                "<td>{}</td></tr>",
                r.verdict(key).map(mark).unwrap_or_default()
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

/// One value of a metric, in its unit.
fn cell(v: &MetricValues, column: &str) -> String {
    let Some(x) = v.values.get(column).copied() else {
        return String::new();
    };
    match (v.kind.as_str(), column) {
        ("trend", "count") | ("rate", "passes" | "fails") => format_value(ValueType::Default, x),
        ("rate", "rate") => format!("{:.2}%", 100.0 * x),
        ("counter", "rate") => format_rate_per_sec(v.unit, x),
        _ => format_value(v.unit, x),
    }
}

fn mark(ok: bool) -> String {
    if ok {
        "<span class=\"ok\">✓ passed</span>".to_owned()
    } else {
        "<span class=\"bad\">✗ failed</span>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build;
    use crate::report::tests::{MIXED, info, metrics, thresholds};

    /// The page read as XML (its `<!DOCTYPE html>` is a DTD to an XML parser).
    fn parse(html: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        roxmltree::Document::parse_with_options(html, options).expect("well-formed")
    }

    fn by_id<'a>(doc: &'a roxmltree::Document<'a>, id: &str) -> roxmltree::Node<'a, 'a> {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no #{id}"))
    }

    /// The text of each cell of each row of a table.
    fn rows(table: roxmltree::Node<'_, '_>) -> Vec<Vec<String>> {
        table
            .children()
            .filter(|n| n.has_tag_name("tr"))
            .map(|tr| {
                tr.children()
                    .filter(|n| n.is_element())
                    .map(|c| {
                        c.descendants()
                            .filter(|d| d.is_text())
                            .filter_map(|d| d.text())
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn verdict_charts_thresholds_checks_and_metrics_in_one_page() {
        let html = render(&build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        ));
        let doc = parse(&html);
        assert_eq!(by_id(&doc, "verdict").text(), Some("thresholds failed"));
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("svg")).count(),
            2,
            "VUs and per-second charts"
        );
        assert!(
            !doc.descendants().any(|n| n.has_tag_name("script")
                || n.attribute("src").is_some()
                || n.attribute("href").is_some()),
            "self-contained: no scripts, nothing fetched"
        );
        let thresholds = rows(
            by_id(&doc, "thresholds")
                .descendants()
                .find(|n| n.has_tag_name("table"))
                .unwrap(),
        );
        assert_eq!(thresholds.len(), 6);
        assert_eq!(
            thresholds[2],
            [
                "http_req_duration{name:login}",
                "avg < 500ms",
                "200ms",
                "no",
                "✓ passed"
            ]
        );
        assert_eq!(
            thresholds[4],
            ["checks", "rate > 0.9", "0.86", "no", "✗ failed"]
        );
        assert_eq!(thresholds[5][2], "0", "a counter without samples counted 0");
        let checks = rows(
            by_id(&doc, "checks")
                .descendants()
                .find(|n| n.has_tag_name("table"))
                .unwrap(),
        );
        assert_eq!(checks[2], ["status is 200", "3", "1", "75.00%"]);

        let trends = doc
            .descendants()
            .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("trend"))
            .unwrap();
        let trends = rows(trends);
        assert_eq!(trends[0][..3], ["metric", "count", "avg"]);
        assert_eq!(trends[1][..3], ["http_req_duration", "5", "126ms"]);
        assert_eq!(trends[1][9], "✓ passed");
        assert_eq!(trends[2][..3], ["{ name:login }", "3", "200ms"]);
        assert_eq!(trends[2][9], "✗ failed");
        let counters = doc
            .descendants()
            .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("counter"))
            .unwrap();
        assert_eq!(rows(counters)[1], ["iterations", "5", "2/s", ""]);
    }

    #[test]
    fn what_the_scenario_named_is_text_never_markup() {
        let mut r = build(info(), &metrics(), &[], &TrendStat::DEFAULT, 2.5);
        r.checks[0].name = "<script>alert('x')</script> & co".into();
        r.run.aborted = Some("<b>stop</b>".into());
        let html = render(&r);
        let doc = parse(&html);
        assert!(
            !doc.descendants()
                .any(|n| n.has_tag_name("script") || n.has_tag_name("b"))
        );
        let checks = rows(
            by_id(&doc, "checks")
                .descendants()
                .find(|n| n.has_tag_name("table"))
                .unwrap(),
        );
        assert_eq!(checks[1][0], "<script>alert('x')</script> & co");
        assert_eq!(by_id(&doc, "verdict").text(), Some("passed"));
        assert!(html.contains("None: the plan sets no thresholds."));
    }
}
