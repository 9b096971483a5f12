//! JUnit XML, for CI systems that show test results (GitLab, Jenkins, GitHub Actions' reporters).
//!
//! One test suite `stampede` (the run's id is a property): a test case `run` (it fails when no VU could start, a failed run that
//! no threshold marks) and one test case per threshold (it fails when the threshold does). So the
//! file fails exactly when `stampede run` exits non-zero for the run's verdict. Checks do not fail
//! test cases (they do not fail runs either; a threshold on `checks` does): they are listed in the
//! `run` case's output.

use super::xml::{escape, open};
use crate::report::{Report, RunStatus};
use std::fmt::Write;

/// Render `r` as a JUnit XML document.
pub fn render(r: &Report) -> String {
    let run_failed = r.run.status == RunStatus::NoVuStarted;
    let tests = (1 + r.thresholds.len()).to_string();
    let failures =
        (usize::from(run_failed) + r.thresholds.iter().filter(|t| !t.ok).count()).to_string();
    let time = format!("{:.3}", r.run.duration_s);
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("time", time.as_str()),
    ];

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    open(
        &mut out,
        "testsuites",
        &[[("name", "stampede")].as_slice(), &counts].concat(),
        false,
    );
    out.push_str("\n  ");
    open(
        &mut out,
        "testsuite",
        &[
            [("name", "stampede")].as_slice(),
            &counts,
            &[("skipped", "0")],
        ]
        .concat(),
        false,
    );
    out.push_str("\n    <properties>\n");
    let workers = r.run.workers.to_string();
    for (name, value) in [
        ("run_id", r.run.id.as_str()),
        ("component", r.run.component.as_str()),
        ("component_sha256", r.run.component_sha256.as_str()),
        ("workers", workers.as_str()),
        ("status", r.run.status.as_str()),
    ] {
        out.push_str("      ");
        open(
            &mut out,
            "property",
            &[("name", name), ("value", value)],
            true,
        );
        out.push('\n');
    }
    out.push_str("    </properties>\n    ");

    open(
        &mut out,
        "testcase",
        &[
            ("classname", "stampede.run"),
            ("name", "run"),
            ("time", &time),
        ],
        false,
    );
    if run_failed {
        failure(
            &mut out,
            "no_vu_started",
            "no VU could be initialised: every VU constructor or init failed",
        );
    }
    let mut log = String::new();
    if let Some(reason) = &r.run.aborted {
        let _ = writeln!(log, "run stopped early: {reason}");
    }
    if let Some(error) = &r.run.teardown_failed {
        let _ = writeln!(log, "teardown failed: {error}");
    }
    for c in &r.checks {
        let _ = writeln!(
            log,
            "check {} {}: {} passed, {} failed",
            if c.fails == 0 { "✓" } else { "✗" },
            c.name,
            c.passes,
            c.fails
        );
    }
    if !log.is_empty() {
        let _ = write!(out, "\n      <system-out>{}</system-out>", escape(&log));
    }
    out.push_str("\n    </testcase>\n");

    for t in &r.thresholds {
        let unit = r.metrics.get(&t.metric).map(|m| m.unit).unwrap_or_default();
        let name = format!("{}: {}", t.metric, t.expression);
        out.push_str("    ");
        open(
            &mut out,
            "testcase",
            &[
                ("classname", "stampede.thresholds"),
                ("name", &name),
                ("time", "0"),
            ],
            t.ok,
        );
        if !t.ok {
            let message = format!(
                "{} failed: observed {}{}",
                name,
                t.observed_display(unit)
                    .unwrap_or_else(|| r.no_observation(t)),
                if t.abort_on_fail {
                    " (abort-on-fail)"
                } else {
                    ""
                }
            );
            failure(&mut out, "threshold", &message);
            out.push_str("\n    </testcase>");
        }
        out.push('\n');
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A `<failure>` with its message both as the attribute (Jenkins, most reporters) and as the
/// text (GitLab shows only the text).
fn failure(out: &mut String, kind: &str, message: &str) {
    out.push_str("\n      ");
    open(
        out,
        "failure",
        &[("type", kind), ("message", message)],
        false,
    );
    let _ = write!(out, "{}</failure>", escape(message));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build;
    use crate::report::tests::{MIXED, info, metrics, thresholds};
    use stampede_metrics::TrendStat;

    fn cases(doc: &roxmltree::Document<'_>) -> Vec<(String, Option<String>)> {
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| {
                let failure = n
                    .children()
                    .find(|c| c.has_tag_name("failure"))
                    .and_then(|f| f.attribute("message"))
                    .map(str::to_owned);
                (n.attribute("name").unwrap().to_owned(), failure)
            })
            .collect()
    }

    #[test]
    fn one_case_per_threshold_failing_as_they_did() {
        let xml = render(&build(
            info(),
            &metrics(),
            &thresholds(MIXED),
            &TrendStat::DEFAULT,
            2.5,
        ));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(
            (
                root.tag_name().name(),
                root.attribute("tests"),
                root.attribute("failures")
            ),
            ("testsuites", Some("6"), Some("2"))
        );
        let suite = root.first_element_child().unwrap();
        assert_eq!(suite.attribute("name"), Some("stampede"));
        assert_eq!(suite.attribute("time"), Some("2.500"));
        let cases = cases(&doc);
        let names: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "run",
                "http_req_duration{name:login}: p(95) < 250ms",
                "http_req_duration{name:login}: avg < 500ms",
                "http_req_duration: max < 1s",
                "checks: rate > 0.9",
                "iteration_errors: count < 1",
            ]
        );
        let failures: Vec<&str> = cases.iter().filter_map(|c| c.1.as_deref()).collect();
        assert_eq!(failures.len(), 2, "{xml}");
        assert!(
            failures[0]
                .starts_with("http_req_duration{name:login}: p(95) < 250ms failed: observed 30")
                && failures[0].ends_with("ms"),
            "times in their unit: {}",
            failures[0]
        );
        assert_eq!(failures[1], "checks: rate > 0.9 failed: observed 0.86");
        let out = doc
            .descendants()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .unwrap();
        assert_eq!(
            out,
            "check ✓ body ok: 3 passed, 0 failed\ncheck ✗ status is 200: 3 passed, 1 failed\n"
        );
        let property = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                .and_then(|n| n.attribute("value"))
        };
        assert_eq!(property("status"), Some("thresholds_failed"));
        assert_eq!(property("run_id"), Some("run-1"));
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.text(),
            failure.attribute("message"),
            "GitLab shows the text"
        );
        assert_eq!(property("component"), Some("x.wasm"));
    }

    #[test]
    fn a_run_without_vus_fails_its_run_case_and_names_are_escaped() {
        let mut r = build(info(), &metrics(), &[], &TrendStat::DEFAULT, 2.5);
        r.run.status = RunStatus::NoVuStarted;
        r.run.aborted = Some("interrupted by <Ctrl-C> & \"more\"".into());
        r.checks[0].name = "a < b & 'c'".into();
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("failures"), Some("1"));
        let cases = cases(&doc);
        assert_eq!(cases.len(), 1);
        assert!(
            cases[0]
                .1
                .as_deref()
                .unwrap()
                .starts_with("no VU could be initialised")
        );
        let out = doc
            .descendants()
            .find(|n| n.has_tag_name("system-out"))
            .unwrap();
        assert!(
            out.text().unwrap().starts_with(
                "run stopped early: interrupted by <Ctrl-C> & \"more\"\ncheck ✓ a < b & 'c': 3 passed"
            ),
            "{xml}"
        );
    }
}
