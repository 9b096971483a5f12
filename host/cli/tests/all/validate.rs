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
