//! `shared-iterations`: VUs take iterations from a shared pool until it is empty.
//!
//! ```toml
//! [scenarios.pool]
//! executor = "shared-iterations"
//! vus = 10              # default 1; must not exceed iterations
//! iterations = 100      # in total, default 1
//! max-duration = "10m"  # default 10m
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
pub(crate) const KEY: &str = "shared-iterations";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &["vus", "iterations", "max-duration"];

/// Settings of a `shared-iterations` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SharedIterations {
    /// VUs (at least 1, at most `iterations`, as in k6).
    pub vus: u64,
    /// Iterations shared by all VUs (at least 1).
    pub iterations: u64,
    /// When the scenario is stopped even if iterations remain (more than zero).
    pub max_duration: Duration,
}

impl SharedIterations {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let vus = or(r.u64("vus"), DEFAULT_VUS);
        // A bad iteration count is replaced by one that passes every check, `vus <= iterations` included.
        let iterations = match r.u64("iterations") {
            Ok(n) => n.unwrap_or(DEFAULT_ITERATIONS),
            Err(_) => u64::MAX,
        };
        let max_duration = or(r.duration("max-duration"), DEFAULT_MAX_DURATION);
        SharedIterations {
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
        if self.iterations > 0 && self.vus > self.iterations {
            let message = format!(
                "vus ({}) exceeds iterations ({}): some VUs would have nothing to do; lower vus or raise iterations",
                self.vus, self.iterations
            );
            problems.push(("vus", message));
        }
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

    /// The pool is split with the VUs, so the fleet runs exactly `iterations` and a share without
    /// VUs owns no iterations: each VU of the fleet brings `iterations / vus` iterations, and the first
    /// `iterations % vus` VUs one more; a share owns those of its VUs (its slice of the fleet's VU
    /// indices).
    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        let own = seg.index_range(self.vus);
        let (base, extra) = match self.vus {
            0 => (0, 0),
            vus => (self.iterations / vus, self.iterations % vus),
        };
        let with_extra = own.end.min(extra).saturating_sub(own.start);
        SharedIterations {
            vus: own.end - own.start,
            iterations: base * (own.end - own.start) + with_extra,
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
    fn segments_split_the_pool_exactly() {
        let e = SharedIterations {
            vus: 7,
            iterations: 100,
            max_duration: Duration::from_secs(60),
        };
        for n in 1..=9 {
            let parts: Vec<SharedIterations> = Segment::split_even(n)
                .iter()
                .map(|s| e.for_segment(s))
                .collect();
            assert_eq!(parts.iter().map(|p| p.vus).sum::<u64>(), 7);
            assert_eq!(parts.iter().map(|p| p.iterations).sum::<u64>(), 100);
        }
        assert_eq!(e.vus_at(Duration::ZERO), 7);
        assert_eq!(e.vus_at(Duration::from_secs(61)), 0);
    }

    /// More shares than VUs: some shares have no VU, and they must own no iterations (they would
    /// never run), while the fleet still runs exactly `iterations`.
    #[test]
    fn a_share_without_vus_owns_no_iterations() {
        for (vus, iterations) in [(3, 100), (1, 7), (5, 5), (7, 1000), (2, 3)] {
            let e = SharedIterations {
                vus,
                iterations,
                max_duration: Duration::from_secs(60),
            };
            for n in 1..=12 {
                let parts: Vec<SharedIterations> = Segment::split_even(n)
                    .iter()
                    .map(|s| e.for_segment(s))
                    .collect();
                assert_eq!(parts.iter().map(|p| p.vus).sum::<u64>(), vus);
                assert_eq!(parts.iter().map(|p| p.iterations).sum::<u64>(), iterations);
                for p in &parts {
                    assert_eq!(
                        p.vus == 0,
                        p.iterations == 0,
                        "{vus} VUs, {iterations} in {n}"
                    );
                    // Evenly spread: a share's VUs each bring floor or ceil of the average.
                    assert!(p.iterations >= p.vus * (iterations / vus));
                    assert!(p.iterations <= p.vus * iterations.div_ceil(vus));
                }
            }
        }
    }

    #[test]
    fn more_vus_than_iterations_is_an_error() {
        let problems = SharedIterations {
            vus: 10,
            iterations: 5,
            max_duration: Duration::from_secs(1),
        }
        .validate();
        assert_eq!(
            problems,
            [(
                "vus",
                "vus (10) exceeds iterations (5): some VUs would have nothing to do; lower vus or raise iterations"
                    .to_owned()
            )]
        );
        let ok = SharedIterations {
            vus: 5,
            iterations: 5,
            max_duration: Duration::from_secs(1),
        };
        assert!(ok.validate().is_empty());
    }
}
