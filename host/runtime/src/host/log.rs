//! `log.write`: guest log lines, printed through `tracing` with the VU id and scenario.

use crate::bindings::log::Host;
use crate::bindings::types::Level;
use crate::state::VuState;

impl Host for VuState {
    fn write(&mut self, level: Level, message: String) {
        let (vu, scenario) = (self.who.id, &*self.who.scenario);
        match level {
            Level::Debug => tracing::debug!(target: "guest", vu, scenario, "{message}"),
            Level::Info => tracing::info!(target: "guest", vu, scenario, "{message}"),
            Level::Warn => tracing::warn!(target: "guest", vu, scenario, "{message}"),
            Level::Error => {
                tracing::error!(target: "guest", vu, scenario, "{message}");
                self.last_error_log = Some(message);
            }
        }
    }
}
