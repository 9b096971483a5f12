//! `stampede`: run load tests whose scenarios are WebAssembly components.
//!
//! Exit codes: 0 passed, 99 thresholds failed, 105 stopped early by a signal (Ctrl-C, SIGTERM,
//! SIGHUP) with its thresholds holding, 2 bad input (plan, component, flags), 1 anything else
//! (internal error, setup failed, a worker lost).

mod alloc;
mod cmd;
mod exit;
mod out;
mod progress;
mod signals;

use clap::{Parser, Subcommand};

use exit::Failure;
use std::process::ExitCode;

/// Stampede: load tests with scenarios in any language that compiles to a Wasm component.
#[derive(Parser)]
#[command(name = "stampede", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a test plan locally (a coordinator and one worker in this process).
    Run(cmd::run::RunArgs),
    /// Check a plan and its component without running anything; reports every problem at once.
    Validate(cmd::validate::ValidateArgs),
    /// Render a saved JSON summary as text, JSON, JUnit XML, CSV or an HTML page.
    Report(cmd::report::ReportArgs),
    /// Print a plan's timeline (max VUs, duration, each scenario's shape) without running it.
    Inspect(cmd::inspect::InspectArgs),
    /// Serve the built-in demo system under test (loopback addresses only).
    Target(cmd::target::TargetArgs),
    /// Create a scenario project (Rust, JavaScript, Python or C) that builds and runs as is.
    New(cmd::new::NewArgs),
    /// Toolchain helpers for guests without a Stampede build of their own (C bindings, wrapping a
    /// core module into a component).
    Guest(cmd::guest::GuestArgs),
}

fn main() -> ExitCode {
    alloc::tune();
    let cli = Cli::parse();
    init_tracing();
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::report(Failure::Internal(e.into())),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => cmd::run::run(args).await,
            Command::Validate(args) => cmd::validate::run(args).await,
            Command::Inspect(args) => cmd::inspect::run(args).await,
            Command::Report(args) => cmd::report::run(args).await,
            Command::Target(args) => cmd::target::run(args).await,
            Command::Guest(args) => cmd::guest::run(args).await,
            Command::New(args) => cmd::new::run(args).await,
        }
    });
    // VU tasks may still hold instances; do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => exit::report(f),
    }
}

/// The directives of a `STAMPEDE_LOG` value that are a single word that is not a level but starts
/// like one (`warning`, `debgu`, `errors`), with that level: tracing reads such a word as a module
/// name, which hides everything else.
fn mistyped_levels(filter: &str) -> Vec<(&str, &'static str)> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.contains(['=', ':', '[', '{']))
        .filter(|d| !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(d)))
        .filter_map(|d| {
            let start = d.get(..3)?.to_ascii_lowercase();
            LEVELS
                .iter()
                .find(|l| l.starts_with(&start))
                .map(|level| (d, *level))
        })
        .collect()
}

/// Every connection a VU holds is a file descriptor: lift the soft `RLIMIT_NOFILE` to the hard limit
/// (what `ulimit -n` would allow anyway), as load generators must. Higher needs the hard limit raised.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!("could not raise the open file limit: {e}");
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // Scenarios' own lines, and why a first run pauses while its component compiles.
    const DEFAULT: &str = "warn,guest=info,compile=info";
    let text = std::env::var("STAMPEDE_LOG")
        .ok()
        .filter(|t| !t.trim().is_empty());
    let (filter, invalid) = match &text {
        Some(text) => match EnvFilter::try_new(text) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(DEFAULT), Some(e)),
        },
        None => (EnvFilter::new(DEFAULT), None),
    };
    // Colours only on a terminal, and not with NO_COLOR set (no-color.org): a log piped to a file or
    // collected from a pod stays plain text.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .init();
    let Some(text) = text else {
        return;
    };
    if let Some(e) = invalid {
        tracing::warn!(
            "STAMPEDE_LOG={text:?} is not a log filter ({e}); using {DEFAULT:?} (examples: \
             \"info\", \"warn,guest=debug\")"
        );
    }
    for (word, level) in mistyped_levels(&text) {
        // Printed directly: the filter this word sets hides every warning.
        out::err_line(&format!(
            "warning: STAMPEDE_LOG: `{word}` is read as a module name, which shows that module's \
             logs only and hides every other, warnings and errors included; did you mean the \
             level `{level}`? (levels: trace, debug, info, warn, error, off)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::mistyped_levels;

    #[test]
    fn words_that_look_like_levels_are_caught_and_module_names_are_not() {
        assert_eq!(mistyped_levels("warning"), [("warning", "warn")]);
        assert_eq!(
            mistyped_levels("info, debgu ,guest=debug"),
            [("debgu", "debug")]
        );
        assert!(mistyped_levels("warn,guest=info").is_empty());
        assert!(mistyped_levels("stampede_runtime").is_empty());
        assert!(mistyped_levels("guest").is_empty());
    }
}
