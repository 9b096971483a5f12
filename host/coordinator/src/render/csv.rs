//! CSV (RFC 4180's quoting, `\n` line ends): the metrics table and the per-second time series.
//!
//! Numbers are written as they are in the JSON summary: times in milliseconds, data in bytes,
//! rates as fractions, with as many digits as it takes to read the same number back.

use crate::report::{MetricValues, Report};
use stampede_metrics::{Selector, TagSet, TrendStat};
use std::fmt::Write;

/// The value columns, in order (the summary's percentiles come between these two groups); a
/// cell is empty when the metric's kind has no such value.
const FIRST: [&str; 6] = ["count", "rate", "avg", "min", "med", "max"];
const LAST: [&str; 3] = ["value", "passes", "fails"];

/// One row per metric of the summary (all tags merged), per threshold sub-metric, and per check
/// (`checks` with the tag `check:NAME`). The `thresholds` column says `passed` or `failed` for
/// rows that thresholds refer to.
pub fn metrics(r: &Report) -> String {
    let percentiles = r
        .stats()
        .into_iter()
        .filter(|s| matches!(s, TrendStat::Percentile(_)))
        .map(|s| s.key());
    let columns: Vec<String> = FIRST
        .iter()
        .map(ToString::to_string)
        .chain(percentiles)
        .chain(LAST.iter().map(ToString::to_string))
        .collect();
    let mut out = String::from("metric,tags,type,unit,");
    out.push_str(&columns.join(","));
    out.push_str(",thresholds\n");
    let mut row = |key: &str, v: &MetricValues| {
        let (metric, tags) = Report::split_key(key);
        let verdict = match r.verdict(key) {
            None => "",
            Some(true) => "passed",
            Some(false) => "failed",
        };
        let _ = write!(
            out,
            "{},{},{},{}",
            field(metric),
            field(tags),
            field(&v.kind),
            v.unit
        );
        for k in &columns {
            out.push(',');
            if let Some(x) = v.values.get(k) {
                let _ = write!(out, "{x}");
            }
        }
        let _ = writeln!(out, ",{verdict}");
    };
    for (key, v) in r.metrics_in_order() {
        row(key, v);
    }
    for c in &r.checks {
        let key = Selector {
            metric: "checks".to_owned(),
            tags: TagSet::new([("check", c.name.as_str())]),
        }
        .to_string();
        if r.metrics.contains_key(&key) {
            continue;
        }
        let v = MetricValues {
            kind: "rate".to_owned(),
            unit: stampede_metrics::ValueType::Default,
            values: [
                ("rate".to_owned(), c.rate()),
                ("passes".to_owned(), c.passes as f64),
                ("fails".to_owned(), c.fails as f64),
            ]
            .into(),
        };
        row(&key, &v);
    }
    out
}

/// One row per second: `t` (seconds since the start), `vus`, `vus_max`, and the requests,
/// iterations and errors completed in that second.
pub fn timeseries(r: &Report) -> String {
    let mut out = String::from("t,at_ms,vus,vus_max,http_reqs,iterations,errors\n");
    for p in &r.timeseries {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            p.t, p.at_ms, p.vus, p.vus_max, p.http_reqs, p.iterations, p.errors
        );
    }
    out
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (quotes doubled).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build;
    use crate::report::tests::{MIXED, info, metrics as run_metrics, thresholds};

    #[test]
    fn a_row_per_metric_sub_metric_and_check() {
        let r = build(
            info(),
            &run_metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        );
        let csv = metrics(&r);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "metric,tags,type,unit,count,rate,avg,min,med,max,p90,p95,p99,value,passes,fails,thresholds"
        );
        assert_eq!(
            lines[1],
            "checks,,rate,default,,0.8571428571428571,,,,,,,,,6,1,failed"
        );
        let login = lines
            .iter()
            .find(|l| l.starts_with("http_req_duration,name:login,"))
            .unwrap();
        let cells: Vec<&str> = login.split(',').collect();
        assert_eq!(cells.len(), 17, "{login}");
        assert_eq!(&cells[2..7], ["trend", "time", "3", "", "200"]);
        assert_eq!(cells[16], "failed", "one of its two thresholds failed");
        assert!(
            lines.contains(&"iterations,,counter,default,5,2,,,,,,,,,,,"),
            "{csv}"
        );
        assert!(
            lines.contains(&"checks,check:body ok,rate,default,,1,,,,,,,,,3,0,"),
            "{csv}"
        );
        assert!(
            lines.contains(&"checks,check:status is 200,rate,default,,0.75,,,,,,,,,3,1,"),
            "{csv}"
        );
        assert_eq!(lines.len(), 1 + r.metrics.len() + r.checks.len());
    }

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        let mut r = build(info(), &run_metrics(), &[], &TrendStat::DEFAULT, 2.5);
        r.checks[0].name = "a, \"b\"".into();
        let csv = metrics(&r);
        assert!(
            csv.contains("\nchecks,\"check:'a, \"\"b\"\"'\",rate,default,,1,"),
            "{csv}"
        );
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn one_row_per_second() {
        let r = build(info(), &run_metrics(), &[], &TrendStat::DEFAULT, 2.5);
        assert_eq!(
            timeseries(&r),
            "t,at_ms,vus,vus_max,http_reqs,iterations,errors\n1,1000,2,2,0,5,0\n"
        );
    }
}
