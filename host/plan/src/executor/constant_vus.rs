//! `constant-vus`: a fixed number of VUs run iterations in a loop for a fixed duration.
//!
//! ```toml
//! [scenarios.browse]
//! executor = "constant-vus"
//! vus = 50          # default 1
//! duration = "10s"  # required
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DEFAULT_VUS, check_at_least_one, check_positive_duration};
use crate::Segment;
use crate::reader::{Problem, Reader, or};

/// The config key.
pub(crate) const KEY: &str = "constant-vus";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &["vus", "duration"];

/// Settings of a `constant-vus` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConstantVus {
    /// VUs running for the whole duration (at least 1).
    pub vus: u64,
    /// How long the VUs loop (more than zero).
    pub duration: Duration,
}

impl ConstantVus {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let vus = or(r.u64("vus"), DEFAULT_VUS);
        let duration = r.duration("duration");
        let duration = r.require(
            "duration",
            duration,
            r#"how long the VUs run, e.g. duration = "30s""#,
        );
        // A substitute for a missing or bad duration that passes validation.
        ConstantVus {
            vus,
            duration: duration.unwrap_or(Duration::from_secs(1)),
        }
    }

    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_at_least_one("vus", self.vus, &mut problems);
        check_positive_duration("duration", self.duration, &mut problems);
        problems
    }

    pub(crate) fn max_vus(&self) -> u64 {
        self.vus
    }

    pub(crate) fn max_duration(&self) -> Duration {
        self.duration
    }

    pub(crate) fn vus_at(&self, t: Duration) -> u64 {
        if t < self.duration { self.vus } else { 0 }
    }

    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        ConstantVus {
            vus: seg.scale(self.vus),
            ..self.clone()
        }
    }

    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, duration: Option<Duration>) {
        self.vus = vus.unwrap_or(self.vus);
        self.duration = duration.unwrap_or(self.duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_and_segments() {
        let e = ConstantVus {
            vus: 10,
            duration: Duration::from_secs(30),
        };
        assert_eq!(e.vus_at(Duration::ZERO), 10);
        assert_eq!(e.vus_at(Duration::from_millis(29_999)), 10);
        assert_eq!(e.vus_at(Duration::from_secs(30)), 0);
        let thirds = Segment::split_even(3);
        let shares: Vec<u64> = thirds.iter().map(|s| e.for_segment(s).vus).collect();
        assert_eq!(shares, [3, 3, 4]);
        assert_eq!(e.for_segment(&thirds[0]).duration, e.duration);
    }

    #[test]
    fn validation() {
        let problems = ConstantVus {
            vus: 0,
            duration: Duration::ZERO,
        }
        .validate();
        assert_eq!(
            problems,
            [
                ("vus", "must be at least 1, found 0".to_owned()),
                ("duration", "must be longer than 0s".to_owned())
            ]
        );
    }
}
