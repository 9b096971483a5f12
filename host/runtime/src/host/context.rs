//! `context`: the VU's ids, `[params]` and granted environment variables.

use crate::bindings::context::Host;
use crate::state::VuState;

fn lookup(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

impl Host for VuState {
    fn vu_id(&mut self) -> u64 {
        self.who.id
    }

    fn iteration(&mut self) -> u64 {
        self.iteration
    }

    fn worker_id(&mut self) -> String {
        self.run.worker_id.clone()
    }

    fn scenario(&mut self) -> String {
        self.who.scenario.to_string()
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
