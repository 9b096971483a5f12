//! `checks.check`: named assertions, recorded in the `checks` rate with a `check` tag.

use crate::bindings::checks::Host;
use crate::state::VuState;
use stampede_metrics::{MetricKind, SeriesKey, names};

impl Host for VuState {
    fn check(&mut self, name: String, ok: bool, tags: Vec<(String, String)>) -> bool {
        let key = self
            .who
            .series()
            .check(&name, &tags, || {
                let mut all = VuState::merge_tags(&self.who.tags, &tags);
                all.insert("check", name.as_str());
                SeriesKey::new(names::CHECKS, all)
            })
            .clone();
        self.samples
            .push_shared(&key, MetricKind::Rate, if ok { 1.0 } else { 0.0 });
        self.flush_if_full();
        ok
    }
}
