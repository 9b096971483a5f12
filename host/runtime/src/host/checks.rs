//! `checks.check`: named assertions, recorded in the `checks` rate with a `check` tag.

use crate::bindings::checks::Host;
use crate::state::VuState;
use stampede_metrics::{MetricKind, names};

impl Host for VuState {
    fn check(&mut self, name: String, ok: bool, tags: Vec<(String, String)>) -> bool {
        let mut all = self.tags_with(&tags);
        all.insert("check", name);
        self.record(
            names::CHECKS,
            MetricKind::Rate,
            &all,
            if ok { 1.0 } else { 0.0 },
        );
        ok
    }
}
