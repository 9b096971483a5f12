//! The k6-style terminal summary, rendered from a [`Report`].

use crate::report::{MetricValues, Report, RunStatus};
use stampede_metrics::{TrendStat, ValueType, format_rate_per_sec, format_value};
use std::fmt::Write;

/// Width of the dotted metric-name column.
const NAME_WIDTH: usize = 34;

/// Render the summary: checks, then every metric (thresholds marked ✓/✗), then the verdict.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    if !r.checks.is_empty() {
        for c in &r.checks {
            if c.fails == 0 {
                let _ = writeln!(out, "     ✓ {}", c.name);
            } else {
                let _ = writeln!(
                    out,
                    "     ✗ {}\n      ↳  {:.0}% — ✓ {} / ✗ {}",
                    c.name,
                    100.0 * c.rate(),
                    c.passes,
                    c.fails
                );
            }
        }
        out.push('\n');
    }
    let stats = r.stats();
    for (name, values) in r.metrics_in_order() {
        let mark = match r.verdict(name) {
            None => "  ",
            Some(true) => "✓ ",
            Some(false) => "✗ ",
        };
        let label = match Report::split_key(name) {
            (metric, "") => metric.to_owned(),
            (_, tags) => format!("  {{ {tags} }}"),
        };
        let dots = NAME_WIDTH.saturating_sub(label.chars().count());
        let _ = writeln!(
            out,
            "   {mark}{label}{}: {}",
            ".".repeat(dots),
            line(values, &stats)
        );
    }
    if !r.thresholds.is_empty() {
        out.push_str("\n   thresholds:\n");
        for t in &r.thresholds {
            let observed = t
                .observed
                .map_or_else(|| r.no_observation(t), |v| format!("{v:.4}"));
            let _ = writeln!(
                out,
                "     {} {}: {}  (observed {observed})",
                if t.ok { "✓" } else { "✗" },
                t.metric,
                t.expression
            );
        }
    }
    if let Some(reason) = &r.run.aborted {
        let _ = writeln!(out, "\n   run stopped early: {reason}");
    }
    if let Some(error) = &r.run.teardown_failed {
        let _ = writeln!(out, "\n   teardown failed: {error}");
    }
    let verdict = match r.run.status {
        // Only a stop from outside (a signal) ends a passing run early.
        RunStatus::Passed if r.run.aborted.is_some() && r.thresholds.is_empty() => "stopped early",
        RunStatus::Passed if r.run.aborted.is_some() => {
            "stopped early; thresholds held for the part that ran"
        }
        RunStatus::Passed => "passed",
        RunStatus::ThresholdsFailed => "THRESHOLDS FAILED",
        RunStatus::NoVuStarted => "NO VU STARTED (every VU constructor or init failed)",
    };
    let _ = writeln!(
        out,
        "\n   run {} in {:.1}s: {verdict}",
        r.run.id, r.run.duration_s
    );
    out
}

fn line(v: &MetricValues, stats: &[TrendStat]) -> String {
    let vt = v.unit;
    let get = |k: &str| v.get(k);
    match v.kind.as_str() {
        "counter" => format!(
            "{:<12} {}",
            format_value(vt, get("count")),
            format_rate_per_sec(vt, get("rate"))
        ),
        "gauge" => format!(
            "{:<12} min={} max={}",
            format_value(vt, get("value")),
            fmt(get("min")),
            fmt(get("max"))
        ),
        "rate" => {
            format!(
                "{:.2}% ✓ {} ✗ {}",
                100.0 * get("rate"),
                get("passes") as u64,
                get("fails") as u64
            )
        }
        _ => stats
            .iter()
            .map(|stat| {
                let vt = if *stat == TrendStat::Count {
                    ValueType::Default
                } else {
                    vt
                };
                format!("{stat}={}", format_value(vt, get(&stat.key())))
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn fmt(v: f64) -> String {
    format_value(ValueType::Default, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build;
    use crate::report::tests::{MIXED, info, metrics, thresholds};

    fn lines(out: &str) -> Vec<&str> {
        out.lines().collect()
    }

    #[test]
    fn marks_checks_thresholds_and_the_verdict() {
        let out = render(&build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        ));
        let lines = lines(&out);

        assert!(lines.contains(&"     ✓ body ok"), "{out}");
        assert!(lines.contains(&"     ✗ status is 200"), "{out}");
        assert!(lines.contains(&"      ↳  75% — ✓ 3 / ✗ 1"), "{out}");
        let starts = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
        assert!(
            starts("   ✗ checks....."),
            "a failed threshold marks its metric\n{out}"
        );
        assert!(starts("   ✓ http_req_duration....."), "{out}");
        assert!(
            starts("   ✗   { name:login }....."),
            "sub-metrics are indented under their metric\n{out}"
        );
        assert!(
            starts("     iterations.....") && out.contains(".: 5            2/s\n"),
            "no threshold, no mark\n{out}"
        );
        assert!(lines.contains(&"   thresholds:"), "{out}");
        assert!(
            starts("     ✗ http_req_duration{name:login}: p(95) < 250ms  (observed 30"),
            "{out}"
        );
        assert!(
            lines.contains(
                &"     ✓ http_req_duration{name:login}: avg < 500ms  (observed 200.0000)"
            ),
            "{out}"
        );
        assert!(
            lines.contains(&"     ✓ iteration_errors: count < 1  (observed 0.0000)"),
            "{out}"
        );
        assert_eq!(
            lines.last(),
            Some(&"   run run-1 in 2.5s: THRESHOLDS FAILED"),
            "{out}"
        );
        assert!(!out.contains("stopped early"));
    }

    #[test]
    fn a_passed_run_stopped_early_says_why() {
        let mut r = build(info(), &metrics(), &[], &TrendStat::DEFAULT, 2.5);
        r.run.aborted = Some("interrupted by Ctrl-C".into());
        let out = render(&r);

        assert!(
            out.contains("\n   run stopped early: interrupted by Ctrl-C\n"),
            "{out}"
        );
        assert!(
            out.ends_with("   run run-1 in 2.5s: stopped early\n"),
            "{out}"
        );
        // With thresholds, the line says they held.
        let mut r = build(
            info(),
            &metrics(),
            &crate::report::tests::thresholds("iterations = [\"count > 1\"]"),
            &TrendStat::DEFAULT,
            2.5,
        );
        r.run.aborted = Some("interrupted by Ctrl-C".into());
        assert!(
            render(&r).ends_with(": stopped early; thresholds held for the part that ran\n"),
            "{}",
            render(&r)
        );
        assert!(!out.contains("thresholds:"), "{out}");
    }
}
