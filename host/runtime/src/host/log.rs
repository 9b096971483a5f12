//! `log.write`: guest log lines, printed through `tracing` with the VU id and scenario.

use std::fmt;

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
            Level::Warn => tracing::warn!(target: "guest", vu = %vu, scenario, "{message}"),
            Level::Error => {
                tracing::error!(target: "guest", vu = %vu, scenario, "{message}");
                self.last_error_log = Some(message);
            }
        }
    }
}

/// The `vu` field of a guest's log line: its id, or `shared` in a shared instance, where the host
/// cannot tell which of its VUs wrote the line (the id there would be a placeholder).
struct Who {
    id: u64,
    shared: bool,
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
