//! `http.send` follows redirects (the plan's `max-redirects`, 10 by default): every hop is a request
//! of its own in the metrics and reaches the target; the scenario gets the last response.

use crate::common::*;

/// `fixture_basic` GETting `path` on `target`, 2 VUs x 5 iterations, with `options`.
fn plan(target: &Target, path: &str, options: &str) -> String {
    fixture_plan_for(
        "fixture_basic",
        target,
        "get",
        path,
        "",
        &format!(
            "[options]\n{options}\n\n[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 5\n\n\
             [thresholds]\n\"http_reqs{{status:302}}\" = [\"count >= 0\"]\n\"http_reqs{{status:200}}\" = [\"count >= 0\"]\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn each_hop_is_a_request_and_the_scenario_gets_the_last_response() {
    let target = Target::start().await;
    let run = run_plan(&plan(&target, "/redirect/3", ""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.check_passes("status is 200"), 10, "{}", run.stdout());
    assert_eq!(
        run.metric("http_reqs", "count"),
        40.0,
        "3 redirects and the page, 10 times"
    );
    assert_eq!(run.metric("http_reqs{status:302}", "count"), 30.0);
    assert_eq!(run.metric("http_reqs{status:200}", "count"), 10.0);
    assert_eq!(target.requests().await, 40, "every hop reached the target");
    assert_eq!(
        run.metric("http_req_failed", "passes"),
        0.0,
        "a 302 is an expected response"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn past_max_redirects_the_redirect_itself_is_the_answer() {
    let target = Target::start().await;
    let run = run_plan(&plan(&target, "/redirect/3", "max-redirects = 2"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.check_passes("status is 200"),
        0,
        "the scenario saw the third 302"
    );
    assert_eq!(run.metric("http_reqs", "count"), 30.0);
    assert_eq!(run.metric("http_reqs{status:302}", "count"), 30.0);

    let run = run_plan(&plan(&target, "/redirect/1", "max-redirects = 0"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.metric("http_reqs", "count"),
        10.0,
        "not followed at all"
    );
    assert_eq!(run.check_passes("status is 200"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_off_the_plans_targets_is_refused_and_never_sent() {
    let target = Target::start().await;
    // Nobody listens on port 9: were the hop sent, it would fail with `connect` instead.
    let run = run_plan(
        &plan(&target, "/redirect-to?url=http://127.0.0.1:9/elsewhere", ""),
        &[],
    )
    .await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.metric("http_reqs{status:302}", "count"), 10.0);
    assert_eq!(
        target.requests().await,
        10,
        "only the redirects reached the target"
    );
    assert_eq!(
        run.metric("http_req_failed", "passes"),
        10.0,
        "the refused hops"
    );
    assert_eq!(
        run.metric("http_req_failed", "fails"),
        10.0,
        "the redirects"
    );
    assert_eq!(run.check_passes("status is 200"), 0);
    // A refused request is a failed one, not one of `http_reqs` (it never left).
    assert_eq!(run.metric("http_reqs", "count"), 10.0, "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_instances_follow_redirects_too() {
    let target = Target::start().await;
    let plan = crate::shared::shared_plan(&target, "get", 4, "1s", Some(2), "").replace(
        &format!("url = \"{}/\"", target.origin()),
        &format!("url = \"{}/redirect/2\"", target.origin()),
    );
    assert!(plan.contains("/redirect/2"), "{plan}");
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let iterations = run.metric("iterations", "count");
    assert!(iterations > 10.0, "{}", run.stdout());
    assert_eq!(run.metric("http_reqs", "count"), 3.0 * iterations);
    assert_eq!(target.requests().await as f64, 3.0 * iterations);
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
}

/// The login pattern: a response that sets a cookie and redirects; the next hop carries it.
#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_set_on_a_redirect_goes_with_the_next_hop() {
    let target = Target::start().await;
    let plan = |options: &str| {
        fixture_plan_for(
            "fixture_basic",
            &target,
            "get",
            "/cookies/set?flavour=ginger",
            r#"expect_body = '"flavour":"ginger"'"#,
            &format!(
                "[options]\n{options}\n\n[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 3\n"
            ),
        )
    };
    let run = run_plan(&plan(""), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.check_passes("body has expect_body"),
        6,
        "{}",
        run.stdout()
    );
    assert_eq!(run.metric("http_reqs", "count"), 12.0);

    let run = run_plan(&plan("cookies = false"), &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.check_passes("status is 200"), 6, "{}", run.stdout());
    assert_eq!(
        run.check_passes("body has expect_body"),
        0,
        "no jar, no cookie"
    );
}

/// With 1,000 VUs in the process a VU's requests are polled off its guest call's fiber (the
/// runtime's `offload`): every hop is still a request of its own, and a cookie set on a redirect
/// goes with the next hop.
#[tokio::test(flavor = "multi_thread")]
async fn requests_off_the_fiber_follow_redirects_with_their_cookies() {
    let target = Target::start().await;
    let plan = fixture_plan_for(
        "fixture_basic",
        &target,
        "get",
        "/cookies/set?flavour=ginger",
        r#"expect_body = '"flavour":"ginger"'"#,
        "[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 1000\niterations = 1\nmax-duration = \"60s\"\n",
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.check_passes("body has expect_body"),
        1000,
        "{}",
        run.stdout()
    );
    assert_eq!(run.metric("http_reqs", "count"), 2000.0);
    assert_eq!(
        target.requests().await,
        2000,
        "every hop reached the target"
    );
}
