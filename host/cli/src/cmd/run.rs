//! `stampede run`: a coordinator and one worker in this process, connected by the same protocol
//! messages the distributed mode sends over the network.

use crate::exit::{Failure, bad_input};
use crate::progress::Progress;
use anyhow::{Context, anyhow};
use sha2::{Digest, Sha256};
use stampede_coordinator::{CoordinatorError, Format, RunSpec, RunStatus, Workers};
use stampede_proto::{ComponentBlob, PlanSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Arguments of `stampede run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The plan file (TOML).
    plan: PathBuf,
    /// Write the end-of-test summary as JSON to this file (schema: docs/summary-json.md).
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Write the verdict as JUnit XML to this file: a test case per threshold, and one for the run.
    #[arg(long, value_name = "FILE")]
    summary_junit: Option<PathBuf>,
    /// Write the metrics as CSV to this file: a row per metric, threshold sub-metric and check.
    #[arg(long, value_name = "FILE")]
    summary_csv: Option<PathBuf>,
    /// Write a self-contained HTML report (charts, thresholds, checks, metrics) to this file.
    #[arg(long, value_name = "FILE")]
    summary_html: Option<PathBuf>,
    /// Write the per-second time series (VUs, requests, iterations, errors) as CSV to this file.
    #[arg(long, value_name = "FILE")]
    timeseries_csv: Option<PathBuf>,
    /// The statistics every report shows for each trend, comma-separated, e.g.
    /// "avg,med,p(99),p(99.9),max" (replaces the plan's `summary-trend-stats`)
    #[arg(long, value_name = "STATS")]
    summary_trend_stats: Option<String>,
    /// Override every scenario's VU count.
    #[arg(long)]
    vus: Option<u64>,
    /// Override every scenario's duration (constant-vus, constant-arrival-rate) or max-duration
    /// (iteration executors), e.g. 30s; scenarios with stages keep theirs.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    duration: Option<Duration>,
    /// No live progress line.
    #[arg(long, short)]
    quiet: bool,
    /// Threads that run VUs, each with its part of the load (at most the fewest VUs of a scenario
    /// and `max-connections`) [default: one per available core]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    stampede_plan::units::parse_duration(s)
}

/// Read a component file, with a message that says what to do when it is missing.
fn read_component(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .with_context(|| {
            format!(
                "cannot read the component {} (build the scenario first)",
                path.display()
            )
        })
        .map_err(bad_input)
}

/// Read a component and name it (its file name) and hash it (lower-case hex SHA-256).
pub fn component_blob(path: &Path) -> Result<ComponentBlob, Failure> {
    let bytes = read_component(path)?;
    Ok(ComponentBlob {
        name: path
            .file_name()
            .map_or_else(|| "component".into(), |n| n.to_string_lossy().into_owned()),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes: Arc::new(bytes),
    })
}

/// The TLS files a plan names, read for the workers (which do not see the plan's folder).
pub struct TlsFiles {
    /// The certificates of `options.tls-ca-file` (anything else in the file, such as a private
    /// key, left out).
    pub ca_pem: Option<String>,
    /// `options.tls-client-cert` and `options.tls-client-key`.
    pub client_pem: Option<(String, String)>,
}

/// Read and check the plan's TLS files (so a bad one fails here, before any worker starts).
pub fn read_tls_files(plan: &stampede_plan::Plan) -> Result<TlsFiles, Failure> {
    let read = |key: &str, path: &Path| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read options.{key} {}", path.display()))
            .map_err(bad_input)
    };
    let o = &plan.options;
    let ca_pem = match &o.tls_ca_file {
        None => None,
        Some(path) => Some(
            stampede_runtime::certificates_pem(&read("tls-ca-file", path)?)
                .map_err(|e| bad_input(anyhow!("{} ({})", e, path.display())))?,
        ),
    };
    let client_pem = match (&o.tls_client_cert, &o.tls_client_key) {
        (Some(cert), Some(key)) => {
            // The certificate file's certificates only; the key file is the key.
            let cert_pem = stampede_runtime::certificate_blocks(&read("tls-client-cert", cert)?);
            let key_pem = read("tls-client-key", key)?;
            let identity = stampede_runtime::ClientIdentity {
                cert_pem: &cert_pem,
                key_pem: &key_pem,
            };
            stampede_runtime::ClientTls::with_identity(None, false, Some(identity))
                .map_err(|e| bad_input(anyhow!("{e} ({}, {})", cert.display(), key.display())))?;
            Some((cert_pem, key_pem))
        }
        _ => None,
    };
    Ok(TlsFiles { ca_pem, client_pem })
}

pub async fn run(args: RunArgs) -> Result<(), Failure> {
    let outputs: Vec<(&str, &Path)> = [
        ("--summary-json", &args.summary_json),
        ("--summary-junit", &args.summary_junit),
        ("--summary-csv", &args.summary_csv),
        ("--summary-html", &args.summary_html),
        ("--timeseries-csv", &args.timeseries_csv),
    ]
    .into_iter()
    .filter_map(|(flag, path)| Some((flag, path.as_deref()?)))
    .collect();
    let mut plan = stampede_plan::load(&args.plan).map_err(bad_input)?;
    let o = &plan.options;
    let inputs: Vec<(&str, &Path)> = [
        ("the plan", Some(args.plan.as_path())),
        ("the component", Some(plan.component.as_path())),
        ("options.tls-ca-file", o.tls_ca_file.as_deref()),
        ("options.tls-client-cert", o.tls_client_cert.as_deref()),
        ("options.tls-client-key", o.tls_client_key.as_deref()),
    ]
    .into_iter()
    .filter_map(|(what, path)| Some((what, path?)))
    .collect();
    super::report::check_outputs(&outputs, &inputs).map_err(bad_input)?;
    for note in plan.ignored_overrides(args.vus.is_some(), args.duration.is_some()) {
        crate::out::err_line(&format!("warning: {note}"));
    }
    plan.apply_overrides(args.vus, args.duration).map_err(|e| {
        let flags: Vec<String> = [
            args.vus.map(|v| format!("--vus {v}")),
            args.duration
                .map(|d| format!("--duration {}", stampede_plan::units::format_duration(d))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if flags.is_empty() {
            bad_input(anyhow!("{e}"))
        } else {
            bad_input(anyhow!(
                "{e}\n(the plan as {} changes it: the file itself may be fine)",
                flags.join(" and ")
            ))
        }
    })?;
    if let Some(stats) = &args.summary_trend_stats {
        plan.options.summary_trend_stats = stampede_plan::parse_trend_stats(stats.split(','))
            .map_err(|e| bad_input(anyhow!("--summary-trend-stats: {e}")))?;
    }
    let toml = std::fs::read_to_string(&args.plan).map_err(bad_input)?;
    let component = component_blob(&plan.component)?;
    let tls = read_tls_files(&plan)?;
    // The planned end of the last scenario (graceful stops only extend it when iterations overrun).
    let total = plan.planned_end();
    let spec = RunSpec {
        run_id: run_id(),
        plan: Arc::new(plan),
        source: PlanSource {
            toml,
            vus: args.vus,
            duration_ms: args.duration.map(|d| d.as_millis() as u64),
            tls_ca_pem: tls.ca_pem,
            tls_client_pem: tls.client_pem,
        },
        component,
    };

    let mut opts = stampede_worker::WorkerOptions::local();
    if let Some(n) = args.threads {
        opts.threads = usize::from(n);
        if let Some(why) = fewer_threads(&spec.plan, u64::from(n)) {
            crate::out::err_line(&format!("warning: --threads {n}: {why}"));
        }
    }
    let workers = spawn_local_worker(opts);
    let (live_tx, live_rx) = watch::channel(Default::default());
    let (abort_tx, abort_rx) = watch::channel(None);
    let mut signals = crate::signals::StopSignals::new();
    tokio::spawn(async move {
        let first = signals.next().await;
        abort_tx.send_replace(Some(format!("{INTERRUPTED_BY}{}", first.name)));
        crate::out::err_line(&format!(
            "\nstopping on {}: graceful stop of running iterations, then the summary \
             ({} again to quit now)",
            first.name, first.name
        ));
        let second = signals.next().await;
        std::process::exit(second.exit_code);
    });
    let progress = (!args.quiet).then(|| Progress::start(live_rx, total));
    let result = stampede_coordinator::run(spec, workers, live_tx, abort_rx).await;
    if let Some(p) = progress {
        p.finish();
    }
    let report = result.map_err(|e| match e {
        e @ CoordinatorError::Setup(_) => Failure::Script(e.into()),
        e if e.is_bad_input() => Failure::BadInput(e.into()),
        e => Failure::Internal(e.into()),
    })?;
    // As `stampede report -f text` prints it: the text ends with its own newline.
    crate::out::line(stampede_coordinator::text::render(&report).trim_end_matches('\n'));
    // Every file is written, whatever the verdict; an error writing one is reported after the
    // others were tried.
    let files = [
        (&args.summary_json, Format::Json, "the JSON summary"),
        (&args.summary_junit, Format::Junit, "the JUnit report"),
        (&args.summary_csv, Format::Csv, "the CSV summary"),
        (&args.summary_html, Format::Html, "the HTML report"),
        (
            &args.timeseries_csv,
            Format::TimeseriesCsv,
            "the time series",
        ),
    ];
    let mut errors: Vec<anyhow::Error> = files
        .into_iter()
        .filter_map(|(path, format, what)| {
            let path = path.as_deref()?;
            super::report::write(path, &format.render(&report), what).err()
        })
        .collect();
    // A file that could not be written fails a run that passed (exit 1); a run that failed keeps
    // the exit code that says why (99, 105, 107, 2), so a CI gate still sees a failed threshold.
    let verdict = verdict(&report);
    let last = match verdict {
        Ok(()) => errors.pop(),
        Err(_) => None,
    };
    for e in errors {
        crate::out::err_line(&format!("error: {e:#}"));
    }
    match last {
        Some(e) => Err(Failure::Internal(e)),
        None => verdict,
    }
}

/// What a finished run's exit says: `Ok` only for a run that ran to its end and passed.
fn verdict(report: &stampede_coordinator::Report) -> Result<(), Failure> {
    // Stopped by a signal: the run says so (a signal that came after the scenarios ended, during
    // teardown or while the reports were written, stopped nothing).
    let interrupted = report
        .run
        .aborted
        .as_deref()
        .is_some_and(|a| a.starts_with(INTERRUPTED_BY));
    match report.run.status {
        // Stopped before its end: not a pass, whatever the part that ran held to (k6 agrees).
        RunStatus::Passed if interrupted => Err(Failure::Interrupted),
        // The run passed, but what teardown should have done (remove test data, say) is not done.
        RunStatus::Passed if let Some(e) = &report.run.teardown_failed => {
            Err(Failure::Script(anyhow!(
                "the scenario's teardown failed: {e} (the run itself passed; the summary above \
                 is its own)"
            )))
        }
        RunStatus::Passed => Ok(()),
        RunStatus::ThresholdsFailed => Err(Failure::Thresholds),
        RunStatus::NoVuStarted => {
            let attempts = report
                .metrics
                .get(stampede_metrics::names::VU_INIT_ERRORS)
                .and_then(|m| m.values.get("count"))
                .copied()
                .unwrap_or(0.0);
            Err(bad_input(anyhow::anyhow!(
                "no VU could be initialised: all {attempts} attempts failed in the VU \
                 constructor or `init` (the error is logged above). Fix the scenario's \
                 initialisation, or start what it needs (such as the target) before the run"
            )))
        }
    }
}

/// How the reason of a run stopped by a signal starts (`interrupted by SIGTERM`).
const INTERRUPTED_BY: &str = "interrupted by ";

/// Why a local run gets fewer than `threads` VU threads, if it does ([`Plan::most_threads`]
/// caps them, as the worker applies it).
///
/// [`Plan::most_threads`]: stampede_plan::Plan::most_threads
fn fewer_threads(plan: &stampede_plan::Plan, threads: u64) -> Option<String> {
    let most = plan.most_threads(&stampede_plan::Segment::full());
    if most >= threads {
        return None;
    }
    let connections = plan.options.max_connections.unwrap_or(u64::MAX);
    Some(
        match plan.scenarios.iter().find(|s| s.executor.max_vus() == most) {
            Some(s) if most < connections => format!(
                "runs on {most} thread(s): each thread runs a share of every scenario, and scenario `{}` has {most} VU(s)",
                s.name
            ),
            _ => format!(
                "runs on {most} thread(s): each thread needs a connection of its own, and options.max-connections is {connections}"
            ),
        },
    )
}

/// Start the in-process worker and connect it with channels.
fn spawn_local_worker(opts: stampede_worker::WorkerOptions) -> Workers {
    let (to_worker, worker_rx) = mpsc::unbounded_channel();
    let (worker_tx, mut from_worker) = mpsc::unbounded_channel();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(msg) = from_worker.recv().await {
            if incoming_tx.send((0, msg)).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        if let Err(e) = stampede_worker::run_worker(opts, worker_tx, worker_rx).await {
            tracing::error!("worker stopped: {e:#}");
        }
    });
    Workers {
        senders: vec![to_worker],
        incoming,
    }
}

fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_secs(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::fewer_threads;

    fn plan(rest: &str) -> stampede_plan::Plan {
        let toml = format!(
            "component = \"x.wasm\"\ntargets = [\"http://127.0.0.1:1\"]\n[scenarios.big]\nexecutor = \"constant-vus\"\nvus = 50\nduration = \"1s\"\n{rest}"
        );
        stampede_plan::parse(&toml, std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn threads_beyond_the_fewest_vus_or_connections_are_explained() {
        assert_eq!(fewer_threads(&plan(""), 4), None);
        let monitor =
            plan("[scenarios.monitor]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n");
        assert_eq!(
            fewer_threads(&monitor, 2).as_deref(),
            Some(
                "runs on 1 thread(s): each thread runs a share of every scenario, and scenario `monitor` has 1 VU(s)"
            )
        );
        assert_eq!(fewer_threads(&monitor, 1), None);
        let capped = plan("[options]\nmax-connections = 2\n");
        assert_eq!(
            fewer_threads(&capped, 4).as_deref(),
            Some(
                "runs on 2 thread(s): each thread needs a connection of its own, and options.max-connections is 2"
            )
        );
    }
}
