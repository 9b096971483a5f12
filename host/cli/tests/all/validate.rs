//! `stampede validate`.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_plan_validates() {
    let plan = root().join("plugins/rust-shop/plan.toml");
    guest("rust_shop");
    let out = stampede(&["validate", plan.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_every_problem_with_its_path() {
    let plan = root().join("tests/plans/invalid/multiple_problems.toml");
    let out = stampede(&["validate", plan.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected =
        std::fs::read_to_string(root().join("tests/plans/invalid/multiple_problems.err")).unwrap();
    let first = expected.lines().nth(1).unwrap().trim();
    assert!(err.contains(first), "{err}\nexpected to contain: {first}");
}

/// `stampede inspect tests/plans/valid/<plan> <args>`'s output; asserts success.
async fn inspect(plan: &str, args: &[&str]) -> String {
    let plan = root().join("tests/plans/valid").join(plan);
    let mut all = vec!["inspect", plan.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = stampede(&all).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_prints_each_scenario_shape_and_the_timeline() {
    let text = inspect("ramping.toml", &["--step", "5s"]).await;
    assert!(
        text.contains("ramping-vus: 0 -> 200 VUs over 15s"),
        "{text}"
    );
    assert!(
        text.contains("constant-arrival-rate: 1000 iterations/s for 20s (20000 iterations"),
        "{text}"
    );
    let at_10s = text
        .lines()
        .find(|l| l.trim_start().starts_with("2m 10s"))
        .expect("a 2m 10s row");
    assert!(at_10s.split_whitespace().any(|v| v == "133"), "{at_10s}");
    // Up to the planned end: the graceful stops after it start no VU, so they get no rows of zeros.
    let last = text.lines().last().unwrap();
    assert!(last.trim_start().starts_with("10m "), "{text}");
    // A step that does not land on the end still ends with the end.
    let text = inspect("ramping.toml", &["--step", "7s"]).await;
    let rows: Vec<&str> = text.lines().rev().take(2).collect();
    assert!(rows[0].trim_start().starts_with("10m "), "{text}");
    assert!(rows[1].trim_start().starts_with("9m 55s "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_shows_pauses() {
    let text = inspect("iterations.toml", &[]).await;
    assert!(text.contains("pause between iterations: 500ms\n"), "{text}");
    assert!(
        text.contains("pause between iterations: 1s to 3s, uniformly"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_shows_shared_isolation() {
    let text = inspect("shared.toml", &[]).await;
    assert!(
        text.contains("isolation shared: up to 1000 VUs per instance, 100 instance(s) at most"),
        "{text}"
    );
}
