//! `metrics`: custom counters, rates, trends and gauges. A name keeps the kind it was first used
//! with; a sample of another kind is dropped and reported once per name.

use crate::bindings::metrics::Host;
use crate::state::VuState;
use stampede_metrics::{BUILTINS, MetricKind, ValueType};

impl VuState {
    fn custom(&mut self, name: String, kind: MetricKind, value: f64, tags: Vec<(String, String)>) {
        let registered = if BUILTINS.iter().any(|(b, _, _)| *b == name) {
            Err(format!(
                "`{name}` is a builtin metric; custom metrics need names of their own"
            ))
        } else {
            let mut catalog = self.run.catalog.lock().expect("catalog lock");
            catalog
                .register(&name, kind, ValueType::Default)
                .map_err(|e| e.to_string())
        };
        if let Err(e) = registered {
            if !self.warned.contains(&name) {
                tracing::warn!(vu = self.who.id, "dropping samples of custom metric: {e}");
                self.warned.push(name);
            }
            return;
        }
        let tags = self.tags_with(&tags);
        self.record(&name, kind, &tags, value);
    }
}

impl Host for VuState {
    fn counter_add(&mut self, name: String, value: f64, tags: Vec<(String, String)>) {
        self.custom(name, MetricKind::Counter, value, tags);
    }

    fn rate_add(&mut self, name: String, value: bool, tags: Vec<(String, String)>) {
        self.custom(name, MetricKind::Rate, if value { 1.0 } else { 0.0 }, tags);
    }

    fn trend_add(&mut self, name: String, value: f64, tags: Vec<(String, String)>) {
        self.custom(name, MetricKind::Trend, value, tags);
    }

    fn gauge_set(&mut self, name: String, value: f64, tags: Vec<(String, String)>) {
        self.custom(name, MetricKind::Gauge, value, tags);
    }
}
