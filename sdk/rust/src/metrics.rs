//! Custom metrics, reported beside the built-in ones and usable in thresholds.
//!
//! A handle is just a name: creating one is free and registers nothing. A metric name keeps the kind it
//! was first used with; the host drops samples that use it as another kind (and logs that once).
//!
//! ```no_run
//! use std::time::Duration;
//! use stampede_sdk::metrics::{Counter, Gauge, Rate, Trend};
//!
//! Counter::new("orders").add(1.0);
//! Counter::new("orders").add_tagged(1.0, &[("kind", "express")]);
//! Rate::new("cart_not_empty").add(true);
//! Trend::new("checkout_time").add_duration(Duration::from_millis(42));
//! Gauge::new("queue_depth").set(17.0);
//! ```

use std::time::Duration;

use crate::bindings::stampede::scenario::metrics as wit;
use crate::owned_tags;

/// A sum, reported with its rate per second. Example: orders placed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Counter {
    name: String,
}

impl Counter {
    /// A handle on the counter called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Counter { name: name.into() }
    }

    /// Add `value` (usually 1).
    pub fn add(&self, value: f64) {
        wit::counter_add(&self.name, value, &[]);
    }

    /// Add `value` with extra tags, for example `&[("kind", "express")]`.
    pub fn add_tagged(&self, value: f64, tags: &[(&str, &str)]) {
        wit::counter_add(&self.name, value, &owned_tags(tags));
    }
}

/// The share of `true` samples. Example: how often the cart was not empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rate {
    name: String,
}

impl Rate {
    /// A handle on the rate called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Rate { name: name.into() }
    }

    /// Add one sample.
    pub fn add(&self, value: bool) {
        wit::rate_add(&self.name, value, &[]);
    }

    /// Add one sample with extra tags.
    pub fn add_tagged(&self, value: bool, tags: &[(&str, &str)]) {
        wit::rate_add(&self.name, value, &owned_tags(tags));
    }
}

/// A distribution, reported as avg, min, med, max and percentiles. Values that measure time are in
/// milliseconds ([`add_duration`](Trend::add_duration) converts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trend {
    name: String,
}

impl Trend {
    /// A handle on the trend called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Trend { name: name.into() }
    }

    /// Add one sample.
    pub fn add(&self, value: f64) {
        wit::trend_add(&self.name, value, &[]);
    }

    /// Add one sample with extra tags.
    pub fn add_tagged(&self, value: f64, tags: &[(&str, &str)]) {
        wit::trend_add(&self.name, value, &owned_tags(tags));
    }

    /// Add a duration, in (fractional) milliseconds.
    pub fn add_duration(&self, value: Duration) {
        self.add(value.as_secs_f64() * 1000.0);
    }

    /// Add a duration, in (fractional) milliseconds, with extra tags.
    pub fn add_duration_tagged(&self, value: Duration, tags: &[(&str, &str)]) {
        self.add_tagged(value.as_secs_f64() * 1000.0, tags);
    }
}

/// A value that goes up and down, reported as its last, min and max value. Example: queue depth.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gauge {
    name: String,
}

impl Gauge {
    /// A handle on the gauge called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Gauge { name: name.into() }
    }

    /// Set the gauge to `value`.
    pub fn set(&self, value: f64) {
        wit::gauge_set(&self.name, value, &[]);
    }

    /// Set the gauge to `value`, with extra tags.
    pub fn set_tagged(&self, value: f64, tags: &[(&str, &str)]) {
        wit::gauge_set(&self.name, value, &owned_tags(tags));
    }
}
