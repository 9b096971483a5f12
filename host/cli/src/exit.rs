//! Outcomes and their exit codes.

use std::process::ExitCode;

/// Thresholds failed.
pub const THRESHOLDS_FAILED: u8 = 99;
/// A stop signal (Ctrl-C, SIGTERM, SIGHUP) ended the run before its end, and its thresholds held
/// for the part that ran: k6's code for the same (its `ExternalAbort`).
pub const INTERRUPTED: u8 = 105;
/// The scenario's `setup` or `teardown` failed: k6's code for an exception there (its
/// `ScriptException`).
pub const SCRIPT_ERROR: u8 = 107;
/// The plan, the component or a flag is wrong.
pub const BAD_INPUT: u8 = 2;
/// Anything else.
pub const INTERNAL: u8 = 1;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The run completed but at least one threshold failed (the summary says which).
    Thresholds,
    /// A stop signal ended the run early (the summary says which) and its thresholds held.
    Interrupted,
    /// The scenario's `setup` or `teardown` failed; the message says how.
    Script(anyhow::Error),
    /// The user's input is wrong; the message says what to fix.
    BadInput(anyhow::Error),
    /// Something else went wrong.
    Internal(anyhow::Error),
}

/// Print the failure's cause chain and map it to its exit code.
pub fn report(f: Failure) -> ExitCode {
    match f {
        Failure::Thresholds => ExitCode::from(THRESHOLDS_FAILED),
        Failure::Interrupted => ExitCode::from(INTERRUPTED),
        Failure::Script(e) => {
            crate::out::err_line(&format!("error: {e:#}"));
            ExitCode::from(SCRIPT_ERROR)
        }
        Failure::BadInput(e) => {
            crate::out::err_line(&format!("error: {e:#}"));
            ExitCode::from(BAD_INPUT)
        }
        Failure::Internal(e) => {
            crate::out::err_line(&format!("error: {e:#}"));
            ExitCode::from(INTERNAL)
        }
    }
}

/// Shorthand for `map_err(Failure::BadInput)` on anything error-like.
pub fn bad_input<E: Into<anyhow::Error>>(e: E) -> Failure {
    Failure::BadInput(e.into())
}
