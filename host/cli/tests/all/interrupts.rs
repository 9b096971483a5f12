//! Stopping early and losing nothing: a stop signal ends a run gracefully with its summary and
//! report files, and a closed stdout costs a command nothing but the text it could not print.

use crate::common::*;
use std::process::Stdio;
use std::time::Duration;

/// `command` with the stop signals at their default action in the child, as an interactive shell
/// starts a program: a test run in the background or under `nohup` ignores `SIGINT` or `SIGHUP`,
/// and Stampede keeps ignoring a signal ignored when it started.
#[allow(unsafe_code)]
fn with_default_signals(command: &mut tokio::process::Command) -> &mut tokio::process::Command {
    // SAFETY: between fork and exec, the child only calls `signal`, which is async-signal-safe,
    // and touches no memory of the parent's.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// Start `stampede run` on a 30 s plan, send `signal` once the target has seen requests, and
/// return what the run printed, its exit code and its JSON summary.
#[allow(clippy::await_holding_lock)]
async fn run_and_signal(
    signal: rustix::process::Signal,
) -> (i32, String, String, serde_json::Value) {
    let _shared = sharing_the_machine();
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, fixture_plan(&target, "get", "", &constant(2, "30s"))).unwrap();
    let summary = dir.path().join("summary.json");
    let child = with_default_signals(&mut tokio::process::Command::new(env!(
        "CARGO_BIN_EXE_stampede"
    )))
    .arg("run")
    .arg(&plan)
    .args(["--quiet", "--summary-json"])
    .arg(&summary)
    .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    // Up to 60 s: on a cache miss the component compiles first.
    for _ in 0..1200 {
        if target.requests().await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(target.requests().await > 0, "the run started within 60 s");
    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the run ends within 20 s of the signal (its graceful stop is 30 s, but GETs are quick)")
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let summary = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    (output.status.code().unwrap_or(-1), stdout, stderr, summary)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_run_gracefully_with_its_summary_and_exit_105() {
    let (code, stdout, stderr, summary) = run_and_signal(rustix::process::Signal::TERM).await;
    assert_eq!(code, 105, "{stderr}");
    assert!(
        stderr.contains("stopping on SIGTERM: graceful stop"),
        "{stderr}"
    );
    assert!(
        stdout.contains("run stopped early: interrupted by SIGTERM"),
        "{stdout}"
    );
    assert_eq!(summary["run"]["aborted"], "interrupted by SIGTERM");
    // The thresholds' verdict on the part that ran; the exit code says it was cut short.
    assert_eq!(summary["run"]["status"], "passed");
    assert!(summary["metrics"]["http_reqs"]["count"].as_f64().unwrap() > 0.0);
    assert!(summary["run"]["duration_s"].as_f64().unwrap() < 25.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_and_sighup_stop_a_run_the_same_way() {
    for (signal, name) in [
        (rustix::process::Signal::INT, "Ctrl-C"),
        (rustix::process::Signal::HUP, "SIGHUP"),
    ] {
        let (code, _, stderr, summary) = run_and_signal(signal).await;
        assert_eq!(code, 105, "{name}: {stderr}");
        assert_eq!(summary["run"]["aborted"], format!("interrupted by {name}"));
    }
}

/// A pipe whose reader is gone: writing to it fails with `EPIPE`.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::await_holding_lock)] // see `common::MACHINE`
async fn a_closed_stdout_costs_a_run_neither_its_reports_nor_its_exit_code() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        fixture_plan(
            &target,
            "get",
            "",
            &format!(
                "{}\n[thresholds]\nhttp_req_duration = [\"p(95) < 0.001ms\"]\n",
                constant(1, "1s")
            ),
        ),
    )
    .unwrap();
    let (json, html) = (dir.path().join("s.json"), dir.path().join("r.html"));
    let output = {
        let _shared = sharing_the_machine();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .arg("run")
            .arg(&plan)
            .arg("--summary-json")
            .arg(&json)
            .arg("--summary-html")
            .arg(&html)
            .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
            .stdout(closed_pipe())
            .output()
            .await
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(99), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(json.exists() && html.exists(), "both reports are written");

    // `stampede inspect plan.toml --step 1ms | head`: the reader has what it wanted.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("inspect")
        .arg(&plan)
        .args(["--step", "1ms"])
        .stdout(closed_pipe())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_target_says_it_listens_only_once_it_does() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = stampede(&["target", "--listen", &addr]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");

    let output = stampede(&["target", "--listen", "localhost:18080"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("host names such as localhost are not looked up"),
        "{stderr}"
    );
}

/// `nohup stampede target &` keeps running after a logout: a signal ignored when the process
/// started (here `SIGHUP`, by `nohup`) stays ignored; `SIGTERM` still stops it.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_ignored_at_start_stays_ignored() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_stampede"))
        .args(["target", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("listening on http://127.0.0.1:") {
                return line;
            }
        }
        panic!("no listening line");
    })
    .await
    .unwrap();
    assert!(
        !listening.ends_with(":0 (Ctrl-C to stop)"),
        "the bound port: {listening}"
    );
    let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still serving after SIGHUP"
    );
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
