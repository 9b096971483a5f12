//! Report files: `stampede run --summary-*` writes each format, `stampede report` renders the JSON
//! summary again into the same bytes.

use crate::common::*;

/// A 1 s run with a threshold it cannot meet, writing every report file into `dir` (the JUnit
/// report to `junit` instead, when given).
async fn failing_run(dir: &std::path::Path, junit: Option<&std::path::Path>) -> Run {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "get",
        "",
        &format!(
            "{}\n[thresholds]\nhttp_req_duration = [\"p(95) < 0.001ms\"]\nhttp_req_failed = [\"rate < 0.01\"]\n",
            constant(2, "1s")
        ),
    );
    let path = |name: &str| dir.join(name).display().to_string();
    let (junit, csv, html, ts) = (
        junit.map_or_else(|| path("junit.xml"), |p| p.display().to_string()),
        path("metrics.csv"),
        path("report.html"),
        path("timeseries.csv"),
    );
    let args = [
        "--summary-junit",
        &junit,
        "--summary-csv",
        &csv,
        "--summary-html",
        &html,
        "--timeseries-csv",
        &ts,
    ];
    run_plan(&plan, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_is_written_and_report_renders_the_summary_again() {
    let out = tempfile::tempdir().unwrap();
    let run = failing_run(out.path(), None).await;
    assert_eq!(run.code(), 99, "{}", run.stderr());
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 0.0);

    let read = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap();
    let junit = read("junit.xml");
    assert!(
        junit.contains("<testsuites name=\"stampede\" tests=\"3\" failures=\"1\"")
            && junit.contains(
                "<failure type=\"threshold\" message=\"http_req_duration: p(95) &lt; 0.001ms failed: observed "
            )
            && junit.contains("name=\"http_req_failed: rate &lt; 0.01\" time=\"0\"/>"),
        "{junit}"
    );
    let csv = read("metrics.csv");
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("http_reqs,,counter,default,{reqs},"))),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("http_req_duration,,trend,time,") && l.ends_with(",failed")),
        "{csv}"
    );
    let ts = read("timeseries.csv");
    let per_second: u64 = ts
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        per_second as f64, reqs,
        "the seconds add up to the total\n{ts}"
    );
    let html = read("report.html");
    assert!(
        html.starts_with("<!DOCTYPE html>")
            && html.contains("id=\"verdict\">thresholds failed</span>")
            && html.matches("<svg ").count() == 2
            && (html.contains("<polyline ") || html.contains("<circle ")),
        "{html}"
    );

    // The JSON summary renders again into exactly what the run wrote, in every format.
    let summary = run.dir.path().join("summary.json");
    let summary = summary.to_str().unwrap();
    for (format, written) in [
        ("junit", junit),
        ("csv", csv),
        ("timeseries-csv", ts),
        ("html", html),
        ("json", std::fs::read_to_string(summary).unwrap()),
    ] {
        let again = stampede(&["report", summary, "--format", format]).await;
        assert!(again.status.success(), "{format}: {again:?}");
        assert_eq!(
            String::from_utf8(again.stdout).unwrap(),
            written,
            "{format}"
        );
    }
    let text = stampede(&["report", summary]).await;
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.ends_with("THRESHOLDS FAILED\n"), "{text}");
    assert_eq!(run.stdout(), text, "the summary the run printed");

    let file = out.path().join("again.html");
    let to_file = stampede(&[
        "report",
        summary,
        "-f",
        "html",
        "-o",
        file.to_str().unwrap(),
    ])
    .await;
    assert!(
        to_file.status.success() && to_file.stdout.is_empty(),
        "{to_file:?}"
    );
    assert_eq!(std::fs::read_to_string(file).unwrap(), read("report.html"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_file_that_cannot_be_written_does_not_stop_the_others() {
    // /dev/full passes the checks before the run and fails the write after it (no space left).
    let out = tempfile::tempdir().unwrap();
    let full = std::path::Path::new("/dev/full");
    let run = failing_run(out.path(), Some(full)).await;
    // The run failed a threshold: its exit code says so (a CI gate must not read 1 as "crashed").
    assert_eq!(run.code(), 99, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: cannot write the JUnit report to /dev/full: No space left on device"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("ulimit"), "{}", run.stderr());
    assert!(
        run.stdout().contains("THRESHOLDS FAILED"),
        "{}",
        run.stdout()
    );
    for name in ["metrics.csv", "report.html", "timeseries.csv"] {
        let text = std::fs::read_to_string(out.path().join(name)).unwrap();
        assert!(
            text.lines().count() >= 2,
            "a header and rows: {name}: {text}"
        );
    }
    assert!(run.summary.is_some(), "the JSON summary is written too");

    // A run that passed fails for the lost file.
    let target = Target::start().await;
    let plan = fixture_plan(&target, "get", "", &constant(1, "200ms"));
    let run = run_plan(&plan, &["--summary-csv", "/dev/full"]).await;
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: cannot write the CSV summary to /dev/full: No space left on device"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn report_paths_are_checked_before_the_run() {
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("reports/junit.xml");
    let run = failing_run(out.path(), Some(&missing)).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(&format!(
            "error: --summary-junit {}: the folder {} does not exist; create it first",
            missing.display(),
            out.path().join("reports").display()
        )),
        "{}",
        run.stderr()
    );
    assert!(run.summary.is_none(), "nothing ran");
    assert!(!out.path().join("report.html").exists(), "nothing ran");

    let same = out.path().join("report.html");
    let run = failing_run(out.path(), Some(&same)).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(&format!(
            "--summary-junit and --summary-html name the same file {}: give each its own",
            same.display()
        )),
        "{}",
        run.stderr()
    );
    // The same file under another name.
    std::fs::create_dir(out.path().join("sub")).unwrap();
    let same = out.path().join("sub/../report.html");
    let run = failing_run(out.path(), Some(&same)).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("--summary-junit and --summary-html name the same file"),
        "{}",
        run.stderr()
    );
    let run = failing_run(out.path(), Some(out.path())).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("is a folder: name a file in it"),
        "{}",
        run.stderr()
    );
    // A folder where no file can be created (even by root).
    let run = failing_run(out.path(), Some(std::path::Path::new("/proc/junit.xml"))).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: --summary-junit /proc/junit.xml: cannot write the file: "),
        "{}",
        run.stderr()
    );
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["sub"],
        "nothing ran, and the checks left no file behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_never_overwrites_the_plan_or_the_component() {
    let target = Target::start().await;
    // A copy: were the guard to fail, the shared build other tests use would be overwritten.
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("fixture_basic.wasm");
    std::fs::copy(guest("fixture_basic"), &component).unwrap();
    let plan = component_plan(&component, &target, "get", "/", "", &constant(1, "1s"));
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(&plan_path, &plan).unwrap();
    let run = stampede(&[
        "run",
        plan_path.to_str().unwrap(),
        "--summary-csv",
        plan_path.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is the plan: writing the report there would overwrite it"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&plan_path).unwrap(), plan);

    let before = std::fs::read(&component).unwrap();
    let run = stampede(&[
        "run",
        plan_path.to_str().unwrap(),
        "--summary-html",
        component.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is the component"), "{stderr}");
    assert_eq!(std::fs::read(&component).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn report_names_a_file_that_is_not_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<html></html>").unwrap();
    let out = stampede(&["report", html.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {}: not JSON (", html.display())),
        "{stderr}"
    );
    let k6 = dir.path().join("k6.json");
    std::fs::write(&k6, r#"{"metrics": {}, "root_group": {}}"#).unwrap();
    let out = stampede(&["report", k6.to_str().unwrap(), "--format", "html"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a Stampede summary: it has no \"schema\" field"),
        "{stderr}"
    );
    let out = stampede(&["report", "/no/such/summary.json"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read the summary /no/such/summary.json"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trend_stats_come_from_the_plan_or_the_command_line() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "get",
        "",
        &format!(
            "{}\n[options]\nsummary-trend-stats = [\"p(99.99)\", \"max\"]\n",
            constant(1, "1s")
        ),
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.summary()["trend_stats"],
        serde_json::json!(["p(99.99)", "max"])
    );
    let duration = run.summary()["metrics"]["http_req_duration"]
        .as_object()
        .unwrap();
    let keys: Vec<&str> = duration.keys().map(String::as_str).collect();
    assert_eq!(keys, ["count", "max", "p99.99", "type", "unit"]);
    assert!(
        run.stdout()
            .lines()
            .any(|l| l.starts_with("     http_req_duration...")
                && l.contains(": p(99.99)=")
                && l.contains(" max=")),
        "{}",
        run.stdout()
    );

    let run = run_plan(&plan, &["--summary-trend-stats", "avg,p(99.9)"]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.summary()["trend_stats"],
        serde_json::json!(["avg", "p(99.9)"])
    );
    assert!(run.metric("http_req_duration", "p99.9") > 0.0);

    let run = run_plan(&plan, &["--summary-trend-stats", "avg,p99"]).await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "--summary-trend-stats: unknown statistic \"p99\": use count, avg, min, med, max or p(N) such as p(99.9)"
        ),
        "{}",
        run.stderr()
    );
}
