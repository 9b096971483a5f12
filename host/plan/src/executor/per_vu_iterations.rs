//! `per-vu-iterations`: each VU runs the same number of iterations, then stops.
//!
//! ```toml
//! [scenarios.once]
//! executor = "per-vu-iterations"
//! vus = 10              # default 1
//! iterations = 5        # per VU, default 1
//! max-duration = "10m"  # default 10m; unfinished iterations are stopped then
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_ITERATIONS, DEFAULT_MAX_DURATION, DEFAULT_VUS, check_at_least_one,
    check_positive_duration,
};
use crate::Segment;
use crate::reader::{Problem, Reader, or};

/// The config key.
pub(crate) const KEY: &str = "per-vu-iterations";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &["vus", "iterations", "max-duration"];

/// Settings of a `per-vu-iterations` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PerVuIterations {
    /// VUs (at least 1).
    pub vus: u64,
    /// Iterations each VU runs (at least 1); the scenario runs `vus * iterations` in total.
    pub iterations: u64,
    /// When the scenario is stopped even if iterations remain (more than zero).
    pub max_duration: Duration,
}

impl PerVuIterations {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let vus = or(r.u64("vus"), DEFAULT_VUS);
        // A bad iteration count is replaced by one that passes every check, `vus <= iterations` included.
        let iterations = match r.u64("iterations") {
            Ok(n) => n.unwrap_or(DEFAULT_ITERATIONS),
            Err(_) => u64::MAX,
        };
        let max_duration = or(r.duration("max-duration"), DEFAULT_MAX_DURATION);
        PerVuIterations {
            vus,
            iterations,
            max_duration,
        }
    }

    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_at_least_one("vus", self.vus, &mut problems);
        check_at_least_one("iterations", self.iterations, &mut problems);
        check_positive_duration("max-duration", self.max_duration, &mut problems);
        problems
    }

    pub(crate) fn max_vus(&self) -> u64 {
        self.vus
    }

    pub(crate) fn max_duration(&self) -> Duration {
        self.max_duration
    }

    pub(crate) fn vus_at(&self, t: Duration) -> u64 {
        if t < self.max_duration { self.vus } else { 0 }
    }

    /// VUs are split over the fleet; every VU still runs `iterations`.
    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        PerVuIterations {
            vus: seg.scale(self.vus),
            ..self.clone()
        }
    }

    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, duration: Option<Duration>) {
        self.vus = vus.unwrap_or(self.vus);
        self.max_duration = duration.unwrap_or(self.max_duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_and_segments() {
        let e = PerVuIterations {
            vus: 5,
            iterations: 3,
            max_duration: Duration::from_secs(60),
        };
        assert_eq!(e.vus_at(Duration::from_secs(59)), 5);
        assert_eq!(e.vus_at(Duration::from_secs(60)), 0);
        let halves = Segment::split_even(2);
        let parts: Vec<(u64, u64)> = halves
            .iter()
            .map(|s| e.for_segment(s))
            .map(|p| (p.vus, p.iterations))
            .collect();
        assert_eq!(parts, [(2, 3), (3, 3)]);
    }

    #[test]
    fn validation() {
        let problems = PerVuIterations {
            vus: 1,
            iterations: 0,
            max_duration: Duration::ZERO,
        }
        .validate();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["iterations", "max-duration"]);
    }
}
