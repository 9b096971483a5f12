//! Runs that cannot complete, and whose fault that is.

use crate::fleet::{Script, constant, kinds, run, spec};
use stampede_coordinator::CoordinatorError;
use stampede_proto::{FailureKind, PROTOCOL_VERSION};

#[tokio::test(start_paused = true)]
async fn a_worker_rejecting_the_input_is_a_bad_input_error() {
    let mut w = Script::new("w0", 10);
    w.fail_assign = Some(FailureKind::BadInput);
    let (result, logs) = run(spec(&constant(2)), vec![w]).await;
    let err = result.unwrap_err();

    assert!(
        matches!(
            err,
            CoordinatorError::WorkerFailed {
                kind: FailureKind::BadInput,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_bad_input());
    assert_eq!(err.to_string(), "the component does not compile");
    assert_eq!(kinds(&logs[0]), ["assign"]);
}

#[tokio::test(start_paused = true)]
async fn an_internal_worker_failure_is_not_bad_input() {
    let mut w = Script::new("w0", 10);
    w.fail_assign = Some(FailureKind::Internal);
    let (result, _) = run(spec(&constant(2)), vec![w]).await;
    assert!(!result.unwrap_err().is_bad_input());
}

#[tokio::test(start_paused = true)]
async fn another_protocol_version_is_refused_at_hello() {
    let mut w = Script::new("w0", 10);
    w.protocol = PROTOCOL_VERSION + 1;
    let (result, logs) = run(spec(&constant(2)), vec![w]).await;
    let err = result.unwrap_err();

    assert!(matches!(err, CoordinatorError::Protocol(_)), "{err:?}");
    assert!(!err.is_bad_input());
    let want = format!(
        "worker w0 speaks protocol {}, this coordinator {PROTOCOL_VERSION}",
        PROTOCOL_VERSION + 1
    );
    assert!(err.to_string().contains(&want), "{err}");
    assert!(logs[0].is_empty(), "nothing is assigned");
}

/// `plan` on a fleet of two workers hosting 10 and 20 instances: its result and the workers' logs.
async fn on_a_fleet_of_30(plan: &str) -> (Result<(), CoordinatorError>, Vec<crate::fleet::Log>) {
    let (result, logs) = run(
        spec(plan),
        vec![Script::new("w0", 10), Script::new("w1", 20)],
    )
    .await;
    (result.map(drop), logs)
}

/// `err` is the capacity error of a plan needing `needed` instances on the fleet of 30.
fn assert_capacity(err: &CoordinatorError, needed: u64) {
    assert!(
        matches!(err, CoordinatorError::Capacity { needed: n, available: 30, .. } if *n == needed),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_plan_larger_than_the_fleet_is_bad_input() {
    let (result, logs) = on_a_fleet_of_30(&constant(50)).await;
    let err = result.unwrap_err();

    assert_capacity(&err, 50);
    assert!(err.is_bad_input());
    let msg = err.to_string();
    assert!(
        msg.contains("at most 30 VU instances") && msg.contains("needs 50"),
        "{msg}"
    );
    assert!(logs.iter().all(Vec::is_empty));
}

#[tokio::test(start_paused = true)]
async fn shared_isolation_needs_instances_not_vus() {
    // 5,000 VUs at 1,000 per instance need 5 instances: a fleet of 30 hosts them.
    let shared = format!(
        "{}isolation = \"shared\"\nvus-per-instance = 1000\n",
        constant(5000)
    );
    let (result, logs) = on_a_fleet_of_30(&shared).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        logs.iter().all(|log| !log.is_empty()),
        "both workers got work"
    );

    // 50,001 VUs need 51 instances: too many.
    let shared = shared.replace("vus = 5000", "vus = 50001");
    let (result, _) = on_a_fleet_of_30(&shared).await;
    assert_capacity(&result.unwrap_err(), 51);
}

#[tokio::test(start_paused = true)]
async fn a_failed_setup_ends_the_run() {
    let mut w = Script::new("w0", 10);
    w.setup = Err("no token".into());
    let (result, logs) = run(spec(&constant(2)), vec![w]).await;
    let err = result.unwrap_err();

    assert!(matches!(err, CoordinatorError::Setup(_)), "{err:?}");
    assert_eq!(err.to_string(), "setup failed: no token");
    assert_eq!(kinds(&logs[0]), ["assign", "run_setup", "shutdown"]);
}

#[tokio::test(start_paused = true)]
async fn a_worker_hanging_up_mid_run_is_lost() {
    let mut w = Script::new("w0", 10);
    w.hang_up_on_start = true;
    let (result, _) = run(spec(&constant(2)), vec![w]).await;
    let err = result.unwrap_err();

    assert!(
        matches!(&err, CoordinatorError::WorkerLost(id) if id == "w0"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "worker w0 disconnected before the run ended"
    );
}
