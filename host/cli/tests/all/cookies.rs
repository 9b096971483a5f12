//! The per-VU cookie jar: a session cookie set at login is sent back by the host with that VU's
//! requests (and no other VU's), unless the plan turns the jar off.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_vus_session_cookie_goes_back_with_its_later_requests() {
    let target = Target::start().await;
    let plan = fixture_plan(&target, "session", "", &constant(3, "1s"));
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.check_passes("logged in"), 3, "{}", run.stdout());
    let cart = run.check_passes("session cookie works");
    assert!(cart > 10, "{}", run.stdout());
    assert_eq!(
        run.check_fails("session cookie works"),
        0,
        "{}",
        run.stdout()
    );
    assert_eq!(
        run.metric("http_reqs", "count") as u64,
        3 + cart,
        "logins plus carts, nothing else sent"
    );
    assert_eq!(run.metric("http_req_failed", "passes"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_cookies_off_the_scenario_sends_only_what_it_wrote() {
    let target = Target::start().await;
    let plan = fixture_plan(
        &target,
        "session",
        "",
        &format!("[options]\ncookies = false\n\n{}", constant(2, "1s")),
    );
    let run = run_plan(&plan, &[]).await;
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.check_passes("logged in"), 2, "{}", run.stdout());
    assert_eq!(
        run.check_passes("session cookie works"),
        0,
        "{}",
        run.stdout()
    );
    assert!(
        run.check_fails("session cookie works") > 10,
        "{}",
        run.stdout()
    );
}
