//! Executors: how a scenario schedules its VUs and iterations (the executors of k6).
//!
//! Each executor lives in one file named after its config key (`constant-vus` is `constant_vus.rs`) and
//! holds the pure half of it: the config struct, reading and validating it from the plan, and its timeline
//! (how many VUs at time `t`, when it must stop, its share of a fleet [`Segment`]). The running half lives in
//! the worker crate. [`Executor`] is the closed enum over them; adding an executor means adding a file, a
//! variant, and one arm to each `match` below (the compiler lists them).
//!
//! ```
//! use std::time::Duration;
//! use stampede_plan::{ConstantVus, Executor, Segment};
//!
//! let exec = Executor::ConstantVus(ConstantVus { vus: 10, duration: Duration::from_secs(30) });
//! assert_eq!(exec.name(), "constant-vus");
//! assert_eq!(exec.vus_at(Duration::from_secs(5)), 10);
//! let halves = Segment::split_even(2);
//! assert_eq!(exec.for_segment(&halves[0]).max_vus(), 5);
//! ```

mod constant_vus;
mod per_vu_iterations;
mod shared_iterations;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use constant_vus::ConstantVus;
pub use per_vu_iterations::PerVuIterations;
pub use shared_iterations::SharedIterations;

use crate::Segment;
use crate::reader::{Problem, Reader};

/// Calls the same method on whichever config `$exec` holds.
macro_rules! dispatch {
    ($exec:expr, $e:ident => $call:expr) => {
        match $exec {
            Executor::ConstantVus($e) => $call,
            Executor::PerVuIterations($e) => $call,
            Executor::SharedIterations($e) => $call,
        }
    };
}

/// The config keys of the supported executors, in the order they are listed in messages.
pub const EXECUTORS: &[&str] = &[
    constant_vus::KEY,
    per_vu_iterations::KEY,
    shared_iterations::KEY,
];

/// Default `vus` of every executor that has one.
pub(crate) const DEFAULT_VUS: u64 = 1;
/// Default `iterations` of the iteration-based executors.
pub(crate) const DEFAULT_ITERATIONS: u64 = 1;
/// Default `max-duration` of the iteration-based executors (k6's): long enough for any sane iteration
/// count, short enough that a stuck run ends on its own.
pub(crate) const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(10 * 60);

/// A scenario's executor and its settings.
///
/// Serialized with an `executor` tag holding the config key (`{"executor":"constant-vus","vus":10,...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "kebab-case")]
pub enum Executor {
    /// `constant-vus`: a fixed number of VUs loop for a duration.
    ConstantVus(ConstantVus),
    /// `per-vu-iterations`: each VU runs a fixed number of iterations.
    PerVuIterations(PerVuIterations),
    /// `shared-iterations`: VUs share a fixed number of iterations.
    SharedIterations(SharedIterations),
}

impl Executor {
    /// The config key, e.g. `"constant-vus"`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::ConstantVus(_) => constant_vus::KEY,
            Executor::PerVuIterations(_) => per_vu_iterations::KEY,
            Executor::SharedIterations(_) => shared_iterations::KEY,
        }
    }

    /// The most VUs this executor ever runs at once (what must be allocated for it).
    pub fn max_vus(&self) -> u64 {
        dispatch!(self, e => e.max_vus())
    }

    /// Time from the scenario's start until it must be stopped (`duration` or `max-duration`), without the
    /// graceful stop.
    pub fn max_duration(&self) -> Duration {
        dispatch!(self, e => e.max_duration())
    }

    /// This executor's share for a segment of the fleet: VUs (and, for shared-iterations, iterations)
    /// scaled with [`Segment::scale`]. The shares of a split add up to the whole exactly; a share may be
    /// zero VUs (the worker runs nothing for this scenario) and, for shared-iterations, may have more VUs
    /// than iterations (the extra VUs find no work), so shares are not re-validated.
    pub fn for_segment(&self, seg: &Segment) -> Executor {
        match self {
            Executor::ConstantVus(e) => Executor::ConstantVus(e.for_segment(seg)),
            Executor::PerVuIterations(e) => Executor::PerVuIterations(e.for_segment(seg)),
            Executor::SharedIterations(e) => Executor::SharedIterations(e.for_segment(seg)),
        }
    }

    /// VUs active at time `t` since the scenario's start, by the plan (the pure timeline: constant for the
    /// executors so far, ramps later; iteration-based executors report their VUs until `max-duration`, even
    /// though VUs that finish their iterations early leave sooner). Zero from `max_duration()` on.
    pub fn vus_at(&self, t: Duration) -> u64 {
        dispatch!(self, e => e.vus_at(t))
    }

    /// The config keys this executor reads.
    pub(crate) fn keys(name: &str) -> &'static [&'static str] {
        match name {
            constant_vus::KEY => constant_vus::KEYS,
            per_vu_iterations::KEY => per_vu_iterations::KEYS,
            shared_iterations::KEY => shared_iterations::KEYS,
            _ => &[],
        }
    }

    /// Reads the executor named `name` from a scenario table (problems are recorded in `r`, with
    /// substitutes in the result, see [`reader::or`](crate::reader::or)); `None` if the name is not
    /// supported.
    pub(crate) fn read(name: &str, r: &mut Reader<'_>) -> Option<Executor> {
        Some(match name {
            constant_vus::KEY => Executor::ConstantVus(ConstantVus::read(r)),
            per_vu_iterations::KEY => Executor::PerVuIterations(PerVuIterations::read(r)),
            shared_iterations::KEY => Executor::SharedIterations(SharedIterations::read(r)),
            _ => return None,
        })
    }

    /// Checks the settings' values; each problem names its key in the scenario table.
    pub(crate) fn validate(&self) -> Vec<Problem> {
        dispatch!(self, e => e.validate())
    }

    /// Applies command-line overrides (see [`Plan::apply_overrides`](crate::Plan::apply_overrides)).
    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, duration: Option<Duration>) {
        dispatch!(self, e => e.apply_overrides(vus, duration))
    }
}

/// Records "must be at least 1" for a zero count.
pub(crate) fn check_at_least_one(key: &'static str, value: u64, problems: &mut Vec<Problem>) {
    if value == 0 {
        problems.push((key, "must be at least 1, found 0".to_owned()));
    }
}

/// Records "must be longer than 0s" for a zero duration.
pub(crate) fn check_positive_duration(
    key: &'static str,
    value: Duration,
    problems: &mut Vec<Problem>,
) {
    if value.is_zero() {
        problems.push((key, "must be longer than 0s".to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_match_the_supported_list() {
        for name in EXECUTORS {
            assert!(!Executor::keys(name).is_empty(), "{name}");
            // The file of an executor is its config key with underscores.
            let file = format!("{}.rs", name.replace('-', "_"));
            let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/executor/");
            assert!(std::path::Path::new(src).join(&file).is_file(), "{file}");
        }
        assert!(Executor::keys("ramping-vus").is_empty());
    }

    #[test]
    fn serde_is_tagged_with_the_config_key() {
        let e = Executor::SharedIterations(SharedIterations {
            vus: 2,
            iterations: 10,
            max_duration: Duration::from_secs(60),
        });
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["executor"], "shared-iterations");
        assert_eq!(json["iterations"], 10);
        assert_eq!(serde_json::from_value::<Executor>(json).unwrap(), e);
    }

    #[test]
    fn overrides_replace_vus_and_durations() {
        let mut e = Executor::PerVuIterations(PerVuIterations {
            vus: 2,
            iterations: 3,
            max_duration: Duration::from_secs(60),
        });
        e.apply_overrides(Some(7), None);
        assert_eq!(e.max_vus(), 7);
        assert_eq!(e.max_duration(), Duration::from_secs(60));
        e.apply_overrides(None, Some(Duration::from_secs(5)));
        assert_eq!(e.max_duration(), Duration::from_secs(5));
        let mut c = Executor::ConstantVus(ConstantVus {
            vus: 1,
            duration: Duration::from_secs(1),
        });
        c.apply_overrides(Some(3), Some(Duration::from_secs(9)));
        assert_eq!(
            c,
            Executor::ConstantVus(ConstantVus {
                vus: 3,
                duration: Duration::from_secs(9)
            })
        );
    }
}
