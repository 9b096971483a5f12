//! `stampede_coordinator::run` end to end with scripted workers: the phases, the merged report,
//! live stats, and stopping early.

use crate::fleet::{Script, constant, counter, fleet, iterations, kinds, run, spec};
use stampede_coordinator::{LiveStats, RunStatus};
use stampede_proto::{CoordinatorMsg, SegmentSpec};
use std::time::Duration;
use tokio::sync::watch;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// When each worker got `Stop`, and why.
fn stops(log: &crate::fleet::Log) -> Vec<(Duration, String)> {
    log.iter()
        .filter_map(|(at, m)| match m {
            CoordinatorMsg::Stop { reason } => Some((*at, reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_run_goes_through_every_phase_and_merges_the_workers() {
    let spec = spec(&format!(
        "{}[thresholds]\niterations = [\"count >= 10\"]\n",
        constant(4)
    ));
    let w0 = Script::new("w0", 10)
        .delta(1.0, 1, iterations(2))
        .delta(2.0, 1, iterations(3))
        .delta(2.5, 0, iterations(1));
    let w1 = Script::new("w1", 30)
        .delta(1.0, 3, iterations(4))
        .delta(2.0, 0, iterations(5));
    let (workers, handles) = fleet(vec![w0, w1]);
    let (live, live_rx) = watch::channel(LiveStats::default());
    let (_abort, abort_rx) = watch::channel(None);
    let report = stampede_coordinator::run(spec, workers, live, abort_rx)
        .await
        .unwrap();
    let mut logs = Vec::new();
    for h in handles {
        logs.push(h.await.unwrap());
    }

    // Setup and teardown run on worker 0 only; everyone starts and shuts down.
    assert_eq!(
        kinds(&logs[0]),
        ["assign", "run_setup", "start", "run_teardown", "shutdown"]
    );
    assert_eq!(kinds(&logs[1]), ["assign", "start", "shutdown"]);
    // Shares are weighted by capacity (10 : 30).
    let segments: Vec<SegmentSpec> = logs
        .iter()
        .map(|l| match &l[0].1 {
            CoordinatorMsg::Assign(a) => a.segment,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        segments,
        [
            SegmentSpec {
                from: (0, 1),
                to: (1, 4)
            },
            SegmentSpec {
                from: (1, 4),
                to: (1, 1)
            }
        ]
    );
    for log in &logs {
        let start = log
            .iter()
            .find(|(_, m)| matches!(m, CoordinatorMsg::Start { .. }));
        assert!(
            matches!(start, Some((_, CoordinatorMsg::Start { setup_data })) if setup_data == b"token")
        );
    }
    assert!(
        matches!(&logs[0][3].1, CoordinatorMsg::RunTeardown { setup_data } if setup_data == b"token")
    );

    assert_eq!(report.schema, "stampede-summary/1");
    assert_eq!(
        (report.run.id.as_str(), report.run.component.as_str()),
        ("run-1", "x.wasm")
    );
    assert_eq!(report.run.workers, 2);
    assert_eq!(
        report.run.duration_s, 2.5,
        "from start to the last Finished"
    );
    assert_eq!(report.run.status, RunStatus::Passed);
    assert_eq!(report.run.aborted, None);
    let it = &report.metrics["iterations"];
    assert_eq!(
        (it.kind.as_str(), it.values["count"], it.values["rate"]),
        ("counter", 15.0, 6.0)
    );
    assert_eq!(report.metrics["vus"].values["max"], 4.0, "peak fleet VUs");
    assert!(report.thresholds[0].ok);
    assert_eq!(report.thresholds[0].observed, Some(15.0));
    let per_second: Vec<(u64, u64, u64)> = report
        .timeseries
        .iter()
        .map(|p| (p.t, p.iterations, p.vus))
        .collect();
    assert_eq!(per_second, [(1, 6, 4), (2, 8, 1), (3, 1, 0)]);
    assert_eq!(report.timeseries[0].vus_max, 4);

    let live = live_rx.borrow().clone();
    assert_eq!(
        (live.iterations, live.vus, live.elapsed, live.stopping),
        (15, 0, secs(2.5), None)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["run"]["status"], "passed");
}

fn failing_run() -> Script {
    let errors = counter(
        "iteration_errors",
        &[("scenario", "main"), ("error", "failed")],
        1,
    );
    (1..10).fold(Script::new("w0", 10).delta(0.5, 2, errors), |s, i| {
        s.delta(f64::from(i) + 0.5, 2, iterations(1))
    })
}

#[tokio::test(start_paused = true)]
async fn a_failing_abort_on_fail_threshold_stops_the_run() {
    let spec = spec(&format!(
        "{}[thresholds]\niteration_errors = [{{ threshold = \"count < 1\", abort-on-fail = true }}]\n",
        constant(2)
    ));
    let (result, logs) = run(spec, vec![failing_run()]).await;
    let report = result.unwrap();

    let stops = stops(&logs[0]);
    assert_eq!(stops.len(), 1, "{stops:?}");
    let (at, reason) = &stops[0];
    assert_eq!(
        *at,
        secs(1.0),
        "evaluated at the first tick after the failure"
    );
    assert_eq!(
        reason,
        "threshold `iteration_errors: count < 1` failed (observed 1)"
    );
    assert_eq!(report.run.aborted.as_deref(), Some(reason.as_str()));
    assert_eq!(report.run.status, RunStatus::ThresholdsFailed);
    assert_eq!(report.run.duration_s, 1.0);
    assert!(
        !report.metrics.contains_key("iterations"),
        "deltas due after the stop never came"
    );
}

#[tokio::test(start_paused = true)]
async fn delay_abort_eval_postpones_the_abort() {
    let spec = spec(&format!(
        "{}[thresholds]\niteration_errors = [{{ threshold = \"count < 1\", abort-on-fail = true, delay-abort-eval = \"3s\" }}]\n",
        constant(2)
    ));
    let (result, logs) = run(spec, vec![failing_run()]).await;
    let report = result.unwrap();

    assert_eq!(
        stops(&logs[0])
            .iter()
            .map(|(at, _)| *at)
            .collect::<Vec<_>>(),
        [secs(3.0)]
    );
    assert_eq!(
        report.metrics["iterations"].values["count"], 2.0,
        "the deltas due at 1.5s and 2.5s came; the 0.5s one held the errors"
    );
    assert_eq!(report.run.status, RunStatus::ThresholdsFailed);
}

#[tokio::test(start_paused = true)]
async fn an_abort_request_stops_the_run_without_failing_it() {
    let script = (1..10).fold(Script::new("w0", 10), |s, i| {
        s.delta(f64::from(i), 2, iterations(1))
    });
    let (workers, handles) = fleet(vec![script]);
    let (live, _live_rx) = watch::channel(LiveStats::default());
    let (abort, abort_rx) = watch::channel(None);
    let ctrl_c = tokio::spawn(async move {
        tokio::time::sleep(secs(2.5)).await;
        abort.send_replace(Some("interrupted by Ctrl-C".to_owned()));
        abort
    });
    // What the part that ran never measured (no request was sent) fails nothing: the run is
    // judged as during the run.
    let plan = format!(
        "{}[thresholds]\nhttp_req_failed = [\"rate < 0.01\"]\n",
        constant(2)
    );
    let report = stampede_coordinator::run(spec(&plan), workers, live, abort_rx)
        .await
        .unwrap();
    let log = handles.into_iter().next().unwrap().await.unwrap();
    drop(ctrl_c.await);

    assert_eq!(
        stops(&log),
        [(secs(2.5), "interrupted by Ctrl-C".to_owned())]
    );
    assert_eq!(report.run.aborted.as_deref(), Some("interrupted by Ctrl-C"));
    assert_eq!(report.run.status, RunStatus::Passed);
    assert_eq!(report.metrics["iterations"].values["count"], 2.0);

    // Run to its end, the same run fails that threshold: nothing recorded http_req_failed.
    let script = (1..3).fold(Script::new("w0", 10), |s, i| {
        s.delta(f64::from(i), 2, iterations(1))
    });
    let (result, _) = run(spec(&plan), vec![script]).await;
    assert_eq!(result.unwrap().run.status, RunStatus::ThresholdsFailed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_abort_switch_does_not_stop_the_run() {
    let script = Script::new("w0", 10)
        .delta(1.0, 2, iterations(3))
        .delta(2.0, 0, iterations(4));
    let (workers, handles) = fleet(vec![script]);
    let (live, _live_rx) = watch::channel(LiveStats::default());
    let (abort, abort_rx) = watch::channel(None);
    drop(abort);
    let report = stampede_coordinator::run(spec(&constant(2)), workers, live, abort_rx)
        .await
        .unwrap();
    let log = handles.into_iter().next().unwrap().await.unwrap();

    assert!(stops(&log).is_empty());
    assert_eq!(report.run.aborted, None);
    assert_eq!(report.run.duration_s, 2.0);
    assert_eq!(report.metrics["iterations"].values["count"], 7.0);
}

/// A worker whose VUs fail to initialise every second from 0.5 s on (for 60 s), none starting
/// unless `starts_at` (then one VU runs an iteration a second from there).
fn failing_inits(starts_at: Option<f64>) -> Script {
    let mut s = Script::new("w0", 10);
    s.allocated = 0;
    for i in 0..60 {
        let at = f64::from(i) + 0.5;
        s = match starts_at {
            Some(t) if at >= t => s.delta(at, 1, iterations(1)),
            _ => s.delta(at, 0, counter("vu_init_errors", &[("scenario", "main")], 2)),
        };
    }
    s
}

#[tokio::test(start_paused = true)]
async fn a_run_in_which_no_vu_can_start_stops_after_a_grace_period() {
    let spec =
        spec("[scenarios.main]\nexecutor = \"per-vu-iterations\"\nvus = 2\niterations = 3\n");
    let (result, logs) = run(spec, vec![failing_inits(None)]).await;
    let report = result.unwrap();
    let stops = stops(&logs[0]);
    assert_eq!(
        stops,
        [(
            secs(11.0),
            "no VU could be initialised in the 10s after the first failure".to_owned()
        )],
        "first seen at the 1 s tick, stopped at the tick 10 s later, not at max-duration (10m)"
    );
    assert_eq!(report.run.status, RunStatus::NoVuStarted);
    assert_eq!(report.run.aborted.as_deref(), Some(stops[0].1.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_vu_that_starts_within_the_grace_period_keeps_the_run_going() {
    // `vus_max` stays 0 in every delta: the iterations from 8 s on are what shows a VU started.
    let spec = spec(&constant(2).replace("10s", "30s"));
    let (result, logs) = run(spec, vec![failing_inits(Some(8.0))]).await;
    let report = result.unwrap();
    assert_eq!(stops(&logs[0]), [], "never stopped");
    assert_eq!(report.run.status, RunStatus::Passed);
    assert_eq!(report.run.aborted, None);

    // A VU that would start only after the grace period comes too late.
    let spec = crate::fleet::spec(&constant(2).replace("10s", "30s"));
    let (_, logs) = run(spec, vec![failing_inits(Some(12.0))]).await;
    assert_eq!(stops(&logs[0]).len(), 1);
    assert_eq!(stops(&logs[0])[0].0, secs(11.0));
}

#[tokio::test(start_paused = true)]
async fn the_grace_period_starts_once_every_scenario_has_started() {
    // A scenario that starts at 30 s has not had its chance at 11 s: the run stops 10 s after it.
    let spec = spec(&format!(
        "{}[scenarios.late]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"10s\"\nstart-time = \"30s\"\n",
        constant(2).replace("10s", "60s")
    ));
    let (_, logs) = run(spec, vec![failing_inits(None)]).await;
    assert_eq!(stops(&logs[0]).len(), 1);
    assert_eq!(stops(&logs[0])[0].0, secs(40.0));
}

#[tokio::test(start_paused = true)]
async fn an_abort_on_fail_threshold_that_does_not_apply_says_which_would() {
    let spec = spec(&format!(
        "{}[thresholds]\ncart = [{{ threshold = \"p(95) < 1\", abort-on-fail = true }}]\n",
        constant(2)
    ));
    let script = Script::new("w0", 10)
        .delta(0.5, 2, counter("cart", &[], 1))
        .delta(1.5, 2, iterations(1))
        .delta(2.5, 2, iterations(1));
    let (result, logs) = run(spec, vec![script]).await;
    assert_eq!(
        stops(&logs[0])[0].1,
        "threshold `cart: p(95) < 1` failed (observed nothing: `p(95)` does not apply to a counter metric: use count or rate)"
    );
    assert_eq!(result.unwrap().run.status, RunStatus::ThresholdsFailed);
}
