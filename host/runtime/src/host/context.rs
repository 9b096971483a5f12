//! `context`: the VU's ids, `[params]` and granted environment variables.

use crate::bindings::context::Host;
use crate::state::VuState;

fn lookup(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// In a shared instance the host cannot tell which VU calls: the per-VU context imports trap with this.
fn not_in_shared(what: &str, instead: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!(
        "context.{what} is not available with isolation = \"shared\" (the host cannot tell the VUs of one instance apart); {instead}"
    ))
}

impl Host for VuState {
    fn vu_id(&mut self) -> wasmtime::Result<u64> {
        if self.shared {
            return Err(not_in_shared(
                "vu-id",
                "use the id the vu constructor receives (the Rust SDK's context::vu_id() does)",
            ));
        }
        Ok(self.who.id)
    }

    fn iteration(&mut self) -> wasmtime::Result<u64> {
        if self.shared {
            return Err(not_in_shared(
                "iteration",
                "use the `number` argument of iteration (the Rust SDK's context::iteration() does)",
            ));
        }
        Ok(self.iteration)
    }

    fn worker_id(&mut self) -> String {
        self.run.worker_id.clone()
    }

    fn scenario(&mut self) -> wasmtime::Result<String> {
        if self.shared {
            return Err(not_in_shared(
                "scenario",
                "use the `scenario` argument of iteration (the Rust SDK's context::scenario() does)",
            ));
        }
        Ok(self.who.scenario.to_string())
    }

    fn param(&mut self, name: String) -> Option<String> {
        lookup(&self.run.params, &name)
    }

    fn params(&mut self) -> Vec<(String, String)> {
        self.run.params.clone()
    }

    fn env(&mut self, name: String) -> Option<String> {
        lookup(&self.run.env, &name)
    }
}
