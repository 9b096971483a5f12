//! `log.write`: guest log lines, printed through `tracing` with the VU id and scenario.

use std::fmt;

use crate::once::{Once, Seen};

use crate::bindings::log::Host;
use crate::bindings::types::Level;
use crate::state::VuState;

impl Host for VuState {
    fn write(&mut self, level: Level, message: String) {
        let vu = Who {
            id: self.who.id,
            shared: self.shared,
        };
        let scenario = &*self.who.scenario;
        match level {
            Level::Debug => tracing::debug!(target: "guest", vu = %vu, scenario, "{message}"),
            Level::Info => tracing::info!(target: "guest", vu = %vu, scenario, "{message}"),
            Level::Warn => {
                if first_time(Level::Warn, scenario, &message) {
                    tracing::warn!(target: "guest", vu = %vu, scenario, "{message}");
                }
            }
            Level::Error => {
                if first_time(Level::Error, scenario, &message) {
                    tracing::error!(target: "guest", vu = %vu, scenario, "{message}");
                }
                self.last_error_log = Some(message);
            }
        }
    }
}

/// Distinct guest warnings and errors printed per process and run; past this, none is printed.
const MAX_REPEATED: usize = 1000;

/// The guest warnings and errors printed in this run (see [`first_time`]).
pub(crate) static PRINTED: Once = Once::new(MAX_REPEATED);

/// True the first time this process sees `message` at `level` from a VU of `scenario` (whichever
/// VU): a scenario that fails the same way in every iteration of every VU (an SDK logs each
/// exception's stack, a scenario its own warnings) prints it once, not thousands of times a second.
/// `info` and `debug` lines, what a scenario prints to follow its progress, are all printed.
fn first_time(level: Level, scenario: &str, message: &str) -> bool {
    match PRINTED.first((matches!(level, Level::Error), scenario, message)) {
        Seen::First => true,
        Seen::Full => {
            tracing::warn!(
                target: "guest",
                "{MAX_REPEATED} distinct warnings and errors of the scenarios printed; further \
                 ones are not (each was printed once, however often it came)"
            );
            false
        }
        Seen::Again => false,
    }
}

/// The `vu` field of a guest's log line: its id, or `shared` in a shared instance, where the host
/// cannot tell which of its VUs wrote the line (the id there would be a placeholder).
pub(crate) struct Who {
    pub(crate) id: u64,
    pub(crate) shared: bool,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.shared {
            f.write_str("shared")
        } else {
            write!(f, "{}", self.id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Who;

    #[test]
    fn a_shared_instance_logs_no_placeholder_id() {
        let line = |id, shared| Who { id, shared }.to_string();
        assert_eq!(line(7, false), "7");
        assert_eq!(line(0, true), "shared");
    }
}
