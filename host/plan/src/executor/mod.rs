//! Executors: how a scenario schedules its VUs and iterations (the executors of k6).
//!
//! Each executor lives in one file named after its config key (`constant-vus` is `constant_vus.rs`) and
//! holds the pure half of it: the config struct, reading and validating it from the plan, and its timeline
//! (how many VUs at time `t`, when it must stop, its share of a fleet [`Segment`]). The running half lives in
//! the worker crate. [`Executor`] is the closed enum over them; adding an executor means adding a file, a
//! variant, and one arm to each `match` below (the compiler lists them). Two helper modules are shared:
//! `stages` (the [`Stage`]s of the ramping executors) and `arrivals` (the schedules of the arrival-rate
//! executors, [`Arrivals`], and how their iterations are striped over the fleet, [`owns`]).
//!
//! | executor | VUs | iterations | ends after |
//! |---|---|---|---|
//! | `constant-vus` | `vus` | as many as they run | `duration` |
//! | `ramping-vus` | follow `stages` from `start-vus` | as many as they run | the stages |
//! | `per-vu-iterations` | `vus` | `iterations` each | all done, or `max-duration` |
//! | `shared-iterations` | `vus` | `iterations` in all | all done, or `max-duration` |
//! | `constant-arrival-rate` | a pool up to `max-vus` | `rate` per `time-unit` | `duration` |
//! | `ramping-arrival-rate` | a pool up to `max-vus` | a rate following `stages` | the stages |
//!
//! User documentation: `docs/executors.md`.
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

mod arrivals;
mod constant_arrival_rate;
mod constant_vus;
mod per_vu_iterations;
mod ramping_arrival_rate;
mod ramping_vus;
mod shared_iterations;
mod stages;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use arrivals::{Arrivals, WEYL, owns};
pub use constant_arrival_rate::ConstantArrivalRate;
pub use constant_vus::ConstantVus;
pub use per_vu_iterations::PerVuIterations;
pub use ramping_arrival_rate::RampingArrivalRate;
pub use ramping_vus::RampingVus;
pub use shared_iterations::SharedIterations;
pub use stages::Stage;

use crate::Segment;
use crate::reader::{Problem, Reader, or};
use crate::units::format_duration;

/// Calls the same method on whichever config `$exec` holds.
macro_rules! dispatch {
    ($exec:expr, $e:ident => $call:expr) => {
        match $exec {
            Executor::ConstantVus($e) => $call,
            Executor::RampingVus($e) => $call,
            Executor::PerVuIterations($e) => $call,
            Executor::SharedIterations($e) => $call,
            Executor::ConstantArrivalRate($e) => $call,
            Executor::RampingArrivalRate($e) => $call,
        }
    };
}

/// The config keys of the supported executors, in the order they are listed in messages.
pub const EXECUTORS: &[&str] = &[
    constant_vus::KEY,
    ramping_vus::KEY,
    per_vu_iterations::KEY,
    shared_iterations::KEY,
    constant_arrival_rate::KEY,
    ramping_arrival_rate::KEY,
];

/// Default `vus` of every executor that has one.
pub(crate) const DEFAULT_VUS: u64 = 1;
/// Default `iterations` of the iteration-based executors.
pub(crate) const DEFAULT_ITERATIONS: u64 = 1;
/// Default `max-duration` of the iteration-based executors (k6's): long enough for any sane iteration
/// count, short enough that a stuck run ends on its own.
pub(crate) const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(10 * 60);
/// Default `time-unit` of the arrival-rate executors: rates are per second unless said otherwise.
pub(crate) const DEFAULT_TIME_UNIT: Duration = Duration::from_secs(1);

/// A scenario's executor and its settings.
///
/// Serialized with an `executor` tag holding the config key (`{"executor":"constant-vus","vus":10,...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "executor", rename_all = "kebab-case")]
pub enum Executor {
    /// `constant-vus`: a fixed number of VUs loop for a duration.
    ConstantVus(ConstantVus),
    /// `ramping-vus`: the number of VUs follows stages.
    RampingVus(RampingVus),
    /// `per-vu-iterations`: each VU runs a fixed number of iterations.
    PerVuIterations(PerVuIterations),
    /// `shared-iterations`: VUs share a fixed number of iterations.
    SharedIterations(SharedIterations),
    /// `constant-arrival-rate`: iterations start at a fixed rate.
    ConstantArrivalRate(ConstantArrivalRate),
    /// `ramping-arrival-rate`: iterations start at a rate that follows stages.
    RampingArrivalRate(RampingArrivalRate),
}

impl Executor {
    /// The config key, e.g. `"constant-vus"`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::ConstantVus(_) => constant_vus::KEY,
            Executor::RampingVus(_) => ramping_vus::KEY,
            Executor::PerVuIterations(_) => per_vu_iterations::KEY,
            Executor::SharedIterations(_) => shared_iterations::KEY,
            Executor::ConstantArrivalRate(_) => constant_arrival_rate::KEY,
            Executor::RampingArrivalRate(_) => ramping_arrival_rate::KEY,
        }
    }

    /// Whether iterations start at a planned rate (the arrival-rate executors) rather than whenever a
    /// VU finished its previous one.
    pub fn is_arrival_rate(&self) -> bool {
        matches!(
            self,
            Executor::ConstantArrivalRate(_) | Executor::RampingArrivalRate(_)
        )
    }

    /// The most VUs this executor ever runs at once (what must be allocated for it): for `ramping-vus` the
    /// largest share of any count up to the peak of the stages (a share is not monotonic in the count, see
    /// `ramping_vus::max_share`), for the arrival-rate executors `max-vus`.
    pub fn max_vus(&self) -> u64 {
        dispatch!(self, e => e.max_vus())
    }

    /// Time from the scenario's start until it must be stopped (`duration`, `max-duration` or the sum of
    /// the stages), without the graceful stop.
    pub fn max_duration(&self) -> Duration {
        dispatch!(self, e => e.max_duration())
    }

    /// This executor's share for a segment of the fleet, made from the whole fleet's config (not from
    /// another share). The shares of a split add up to the whole exactly:
    ///
    /// - VUs are scaled with [`Segment::scale`]; shared-iterations' pool goes with the VUs (a share
    ///   owns the iterations its VUs bring, so a share without VUs owns none);
    /// - `ramping-vus` keeps the fleet's stages and the segment, and scales the count at every moment
    ///   ([`Executor::vus_at`]);
    /// - the arrival-rate executors keep the fleet's rates and the segment, which picks the iterations
    ///   ([`owns`]); `pre-allocated-vus` and `max-vus` are scaled.
    ///
    /// A share may be zero VUs (the worker runs nothing for this scenario, or, for an arrival-rate
    /// executor, drops every iteration it owns: the coordinator weights segments by capacity, so this only
    /// happens with a tiny `max-vus`), so shares are not re-validated.
    pub fn for_segment(&self, seg: &Segment) -> Executor {
        match self {
            Executor::ConstantVus(e) => Executor::ConstantVus(e.for_segment(seg)),
            Executor::RampingVus(e) => Executor::RampingVus(e.for_segment(seg)),
            Executor::PerVuIterations(e) => Executor::PerVuIterations(e.for_segment(seg)),
            Executor::SharedIterations(e) => Executor::SharedIterations(e.for_segment(seg)),
            Executor::ConstantArrivalRate(e) => Executor::ConstantArrivalRate(e.for_segment(seg)),
            Executor::RampingArrivalRate(e) => Executor::RampingArrivalRate(e.for_segment(seg)),
        }
    }

    /// VUs active at time `t` since the scenario's start, by the plan (the pure timeline). Iteration-based
    /// executors report their VUs until `max-duration`, even though VUs that finish their iterations early
    /// leave sooner; `ramping-vus` reports its share of the ramp; the arrival-rate executors report
    /// `max-vus`, an upper bound of what is allocated (how many are busy depends on the iterations'
    /// durations). Zero from `max_duration()` on.
    pub fn vus_at(&self, t: Duration) -> u64 {
        dispatch!(self, e => e.vus_at(t))
    }

    /// How long VUs that a ramp-down removes may finish their iteration: `graceful-ramp-down` of
    /// `ramping-vus`, `None` for the other executors (they never remove VUs before their end).
    pub fn graceful_ramp_down(&self) -> Option<Duration> {
        match self {
            Executor::RampingVus(e) => Some(e.graceful_ramp_down),
            _ => None,
        }
    }

    /// A one-line summary for people, e.g. `ramping-vus: 0 -> 200 VUs over 15s, 200 -> 0 over 15s (max
    /// 200 VUs)` or `constant-arrival-rate: 1000 iterations/s for 20s (20000 iterations, 50..100 VUs)`.
    pub fn describe(&self) -> String {
        match self {
            Executor::ConstantVus(e) => format!(
                "{}: {} for {}",
                self.name(),
                count(e.vus, "VU"),
                format_duration(e.duration)
            ),
            Executor::PerVuIterations(e) => format!(
                "{}: {} x {} each ({}), max {}",
                self.name(),
                count(e.vus, "VU"),
                count(e.iterations, "iteration"),
                count(e.vus.saturating_mul(e.iterations), "iteration"),
                format_duration(e.max_duration)
            ),
            Executor::SharedIterations(e) => format!(
                "{}: {} shared by {}, max {}",
                self.name(),
                count(e.iterations, "iteration"),
                count(e.vus, "VU"),
                format_duration(e.max_duration)
            ),
            Executor::RampingVus(e) => e.describe(),
            Executor::ConstantArrivalRate(e) => e.describe(),
            Executor::RampingArrivalRate(e) => e.describe(),
        }
    }

    /// The config keys this executor reads.
    pub(crate) fn keys(name: &str) -> &'static [&'static str] {
        match name {
            constant_vus::KEY => constant_vus::KEYS,
            ramping_vus::KEY => ramping_vus::KEYS,
            per_vu_iterations::KEY => per_vu_iterations::KEYS,
            shared_iterations::KEY => shared_iterations::KEYS,
            constant_arrival_rate::KEY => constant_arrival_rate::KEYS,
            ramping_arrival_rate::KEY => ramping_arrival_rate::KEYS,
            _ => &[],
        }
    }

    /// Reads the executor named `name` from a scenario table (problems are recorded in `r`, with
    /// substitutes in the result, see [`reader::or`](crate::reader::or)); `None` if the name is not
    /// supported.
    pub(crate) fn read(name: &str, r: &mut Reader<'_>) -> Option<Executor> {
        Some(match name {
            constant_vus::KEY => Executor::ConstantVus(ConstantVus::read(r)),
            ramping_vus::KEY => Executor::RampingVus(RampingVus::read(r)),
            per_vu_iterations::KEY => Executor::PerVuIterations(PerVuIterations::read(r)),
            shared_iterations::KEY => Executor::SharedIterations(SharedIterations::read(r)),
            constant_arrival_rate::KEY => {
                Executor::ConstantArrivalRate(ConstantArrivalRate::read(r))
            }
            ramping_arrival_rate::KEY => Executor::RampingArrivalRate(RampingArrivalRate::read(r)),
            _ => return None,
        })
    }

    /// Checks the settings' values; each problem names its key in the scenario table.
    pub(crate) fn validate(&self) -> Vec<Problem> {
        dispatch!(self, e => e.validate())
    }

    /// Applies command-line overrides (see [`Plan::apply_overrides`](crate::Plan::apply_overrides)):
    ///
    /// - `vus` replaces `vus`; for the arrival-rate executors it replaces `max-vus` and caps
    ///   `pre-allocated-vus`; `ramping-vus` ignores it (its stages say how many VUs, as in k6 where
    ///   `--vus` does not apply to a scenario with stages);
    /// - `duration` replaces `duration` (constant-vus, constant-arrival-rate) or `max-duration`
    ///   (iteration-based); the executors with stages ignore it.
    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, duration: Option<Duration>) {
        dispatch!(self, e => e.apply_overrides(vus, duration))
    }

    /// Whether [`Executor::apply_overrides`] applies a `vus` and a `duration` override.
    pub(crate) fn takes_overrides(&self) -> (bool, bool) {
        match self {
            Executor::RampingVus(_) => (false, false),
            Executor::RampingArrivalRate(_) => (true, false),
            _ => (true, true),
        }
    }
}

/// Records "must be at least 1" for a zero count.
pub(crate) fn check_at_least_one(key: &'static str, value: u64, problems: &mut Vec<Problem>) {
    if value == 0 {
        problems.push((key, "must be at least 1, found 0".to_owned()));
    }
}

/// `"1 VU"`, `"2 VUs"`.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Reads `pre-allocated-vus` (required) and `max-vus` (default: `pre-allocated-vus`) of an arrival-rate
/// executor. A missing or bad value is replaced by one that adds no second problem.
pub(crate) fn read_arrival_vus(r: &mut Reader<'_>) -> (u64, u64) {
    let pre = r.u64("pre-allocated-vus");
    let max = r.u64("max-vus");
    let pre = r.require(
        "pre-allocated-vus",
        pre,
        "VUs created before the start, e.g. pre-allocated-vus = 10",
    );
    match (pre, max) {
        (Ok(pre), max) => (pre, or(max, pre)),
        (Err(_), Ok(Some(max))) => (max.max(1), max),
        (Err(_), _) => (1, 1),
    }
}

/// Checks `pre-allocated-vus >= 1` and `max-vus >= pre-allocated-vus`.
pub(crate) fn check_arrival_vus(pre: u64, max: u64, problems: &mut Vec<Problem>) {
    check_at_least_one("pre-allocated-vus", pre, problems);
    if max < pre {
        let message = format!(
            "max-vus ({max}) is less than pre-allocated-vus ({pre}): raise max-vus or leave it out (it defaults to pre-allocated-vus)"
        );
        problems.push(("max-vus", message));
    }
}

/// `"50..100 VUs"` (or `"50 VUs"`), with the segment when it is not the whole fleet.
pub(crate) fn describe_arrival_vus(pre: u64, max: u64, seg: &Segment) -> String {
    let vus = if pre == max {
        count(max, "VU")
    } else {
        format!("{pre}..{max} VUs")
    };
    if seg.is_full() {
        vus
    } else {
        format!("{vus} of segment {seg}")
    }
}

/// How a rate's time-unit reads after "iterations": `/s`, `/min`, `/h`, `/ms`, else ` per 1m 30s`.
pub(crate) fn rate_unit(unit: Duration) -> String {
    let named = [
        (Duration::from_millis(1), "ms"),
        (Duration::from_secs(1), "s"),
        (Duration::from_secs(60), "min"),
        (Duration::from_secs(3600), "h"),
    ];
    match named.iter().find(|(d, _)| *d == unit) {
        Some((_, name)) => format!("/{name}"),
        None => format!(" per {}", format_duration(unit)),
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
        assert!(Executor::keys("externally-controlled").is_empty());
    }

    #[test]
    fn describes_every_executor() {
        let secs = Duration::from_secs;
        let executors = [
            Executor::ConstantVus(ConstantVus {
                vus: 10,
                duration: secs(30),
            }),
            Executor::PerVuIterations(PerVuIterations {
                vus: 1,
                iterations: 5,
                max_duration: secs(600),
            }),
            Executor::SharedIterations(SharedIterations {
                vus: 10,
                iterations: 100,
                max_duration: secs(90),
            }),
            Executor::RampingVus(RampingVus {
                start_vus: 1,
                stages: vec![Stage::secs(10, 1)],
                graceful_ramp_down: secs(30),
                segment: Segment::full(),
            }),
            Executor::ConstantArrivalRate(ConstantArrivalRate {
                rate: 30,
                time_unit: Duration::from_millis(1500),
                duration: secs(3),
                pre_allocated_vus: 1,
                max_vus: 1,
                segment: Segment::full(),
            }),
            Executor::RampingArrivalRate(RampingArrivalRate {
                start_rate: 1,
                time_unit: secs(3600),
                stages: vec![Stage::secs(3600, 1)],
                pre_allocated_vus: 2,
                max_vus: 3,
                segment: Segment::full(),
            }),
        ];
        let described: Vec<String> = executors.iter().map(Executor::describe).collect();
        assert_eq!(
            described,
            [
                "constant-vus: 10 VUs for 30s",
                "per-vu-iterations: 1 VU x 5 iterations each (5 iterations), max 10m",
                "shared-iterations: 100 iterations shared by 10 VUs, max 1m 30s",
                "ramping-vus: 1 VU for 10s (max 1 VU)",
                "constant-arrival-rate: 30 iterations per 1s 500ms for 3s (60 iterations, 1 VU)",
                "ramping-arrival-rate: 1 iteration/h for 1h (1 iteration, 2..3 VUs)",
            ]
        );
        let mut names: Vec<&str> = executors.iter().map(Executor::name).collect();
        names.sort_unstable();
        let mut supported = EXECUTORS.to_vec();
        supported.sort_unstable();
        assert_eq!(names, supported);
        let graces: Vec<Option<Duration>> =
            executors.iter().map(Executor::graceful_ramp_down).collect();
        assert_eq!(graces, [None, None, None, Some(secs(30)), None, None]);
        // A share says which segment it is.
        let half = Segment::split_even(2)[1];
        assert_eq!(
            executors[3].for_segment(&half).describe(),
            "ramping-vus: 1 VU for 10s (max 1 VU of segment 1/2:1)"
        );
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
