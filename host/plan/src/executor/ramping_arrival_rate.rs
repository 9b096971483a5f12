//! `ramping-arrival-rate`: iterations start at a rate that follows stages, whether or not the previous
//! ones have finished; VUs are taken from a pool to run them.
//!
//! ```toml
//! [scenarios.spike]
//! executor = "ramping-arrival-rate"
//! start-rate = 0            # iterations per time-unit before the first stage, default 0
//! time-unit = "1s"          # default 1s
//! stages = [                # required, at least one; targets are rates per time-unit
//!     { duration = "1m", target = 100 },
//!     { duration = "5m", target = 100 },
//!     { duration = "1m", target = 0 },
//! ]
//! pre-allocated-vus = 10    # required, at least 1
//! max-vus = 50              # default pre-allocated-vus
//! ```
//!
//! The rate moves linearly between the stages' targets; iterations are due whenever the number of
//! arrivals so far, the integral of the rate, passes a whole number (the exact rule is on
//! [`RampingArrivalRate::arrivals`]). A worker runs the iterations its segment [`owns`](crate::owns); an
//! iteration that finds no free VU, with `max-vus` reached, is dropped.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::arrivals::Arrivals;
use super::stages::{self, Stage};
use super::{
    DEFAULT_TIME_UNIT, check_arrival_vus, check_positive_duration, count, describe_arrival_vus,
    rate_unit, read_arrival_vus,
};
use crate::Segment;
use crate::reader::{Problem, Reader, or};

/// The config key.
pub(crate) const KEY: &str = "ramping-arrival-rate";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &[
    "start-rate",
    "time-unit",
    stages::KEY,
    "pre-allocated-vus",
    "max-vus",
];

/// Settings of a `ramping-arrival-rate` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RampingArrivalRate {
    /// The rate before the first stage, in iterations per `time_unit` (may be 0).
    pub start_rate: u64,
    /// The period rates count over (more than zero).
    pub time_unit: Duration,
    /// The ramp (at least one stage); targets are fleet-wide rates per `time_unit`.
    pub stages: Vec<Stage>,
    /// VUs created before the start (at least 1; this share's, after `for_segment`).
    pub pre_allocated_vus: u64,
    /// The most VUs (at least `pre_allocated_vus`; this share's, after `for_segment`).
    pub max_vus: u64,
    /// The share of the fleet's iterations this config runs ([`Segment::full`] unless made by
    /// `for_segment`); the rates stay fleet-wide.
    #[serde(default)]
    pub segment: Segment,
}

impl RampingArrivalRate {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let start_rate = or(r.u64("start-rate"), 0);
        let time_unit = or(r.duration("time-unit"), DEFAULT_TIME_UNIT);
        let stages = stages::read(
            r,
            "the rate at the end of the stage, in iterations per time-unit, e.g. target = 100",
        );
        let (pre_allocated_vus, max_vus) = read_arrival_vus(r);
        RampingArrivalRate {
            start_rate,
            time_unit,
            stages,
            pre_allocated_vus,
            max_vus,
            segment: Segment::full(),
        }
    }

    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_positive_duration("time-unit", self.time_unit, &mut problems);
        let nothing = ("start-rate", "would start no iteration");
        stages::validate(&self.stages, self.start_rate, nothing, &mut problems);
        check_arrival_vus(self.pre_allocated_vus, self.max_vus, &mut problems);
        problems
    }

    /// This segment's iterations, in schedule order: `(j, offset)` with `j` the fleet-wide index.
    ///
    /// The schedule: with `N(t)` the iterations due by `t` (the integral of the rate divided by the
    /// time-unit; piecewise quadratic), level `L` is due at the last moment where `N(t) <= L`, floored to
    /// the nanosecond, for every whole `L < N(end)`. Level 0 (the very start) counts only if the rate is
    /// above 0 there (after any `0s` stages at the start), so iteration `j` is level `j` or `j + 1`.
    /// Hence a stage holding a rate reproduces `constant-arrival-rate` exactly, a ramp from 0 to `r`
    /// over `D` time-units runs `ceil(r * D / 2) - 1` iterations, nothing is due while the rate is
    /// 0, and every offset is before the end of the last stage. Within a ramp the root of the quadratic
    /// is estimated in `f64` and corrected to the exact nanosecond in integers, so offsets never
    /// decrease.
    pub fn arrivals(&self) -> Arrivals {
        Arrivals::ramping(self.segment, self.start_rate, &self.stages, self.time_unit)
    }

    /// The fleet's number of iterations (every segment's together), saturated to `u64::MAX`: with `N` the
    /// integral of the rate over all stages, `ceil(N)` if the rate starts above 0, `ceil(N) - 1` if it
    /// starts at 0 (then the first iteration is due when `N` reaches 1, not at the start).
    pub fn total_arrivals(&self) -> u64 {
        Arrivals::ramping_total(self.start_rate, &self.stages, self.time_unit)
    }

    /// This share's `max-vus` (the field, for uniformity with the other executors).
    pub fn max_vus(&self) -> u64 {
        self.max_vus
    }

    /// The sum of the stage durations: when the last iteration may start.
    pub fn max_duration(&self) -> Duration {
        stages::total_duration(&self.stages)
    }

    /// `max-vus` while the stages run: what may be allocated, not what is busy.
    pub fn vus_at(&self, t: Duration) -> u64 {
        if t < self.max_duration() {
            self.max_vus
        } else {
            0
        }
    }

    /// Both VU counts are scaled (so they add up over the fleet); the segment picks the iterations.
    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        RampingArrivalRate {
            pre_allocated_vus: seg.scale(self.pre_allocated_vus),
            max_vus: seg.scale(self.max_vus),
            segment: *seg,
            ..self.clone()
        }
    }

    /// `vus` becomes `max-vus` (and caps `pre-allocated-vus`); `duration` is ignored, the stages define
    /// the duration.
    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, _duration: Option<Duration>) {
        if let Some(vus) = vus {
            self.max_vus = vus;
            self.pre_allocated_vus = self.pre_allocated_vus.min(vus);
        }
    }

    pub(crate) fn describe(&self) -> String {
        let unit = rate_unit(self.time_unit);
        let first_target = |n| format!("{}{unit}", count(n, "iteration"));
        format!(
            "{KEY}: {} ({}, {})",
            stages::describe_stages(self.start_rate, &self.stages, first_target),
            count(self.total_arrivals(), "iteration"),
            describe_arrival_vus(self.pre_allocated_vus, self.max_vus, &self.segment),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConstantArrivalRate;

    fn spike(start_rate: u64, stages: &[Stage]) -> RampingArrivalRate {
        RampingArrivalRate {
            start_rate,
            time_unit: Duration::from_secs(1),
            stages: stages.to_vec(),
            pre_allocated_vus: 10,
            max_vus: 50,
            segment: Segment::full(),
        }
    }

    fn read(text: &str) -> (RampingArrivalRate, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "scenarios.spike");
        let e = RampingArrivalRate::read(&mut r);
        r.problems(e.validate());
        (e, r.finish().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn up_hold_down() {
        let e = spike(
            0,
            &[
                Stage::secs(60, 100),
                Stage::secs(300, 100),
                Stage::secs(60, 0),
            ],
        );
        // 3000 + 30000 + 3000 arrivals, the first when one has built up.
        assert_eq!(e.total_arrivals(), 35_999);
        assert_eq!(e.max_duration(), Duration::from_secs(420));
        assert_eq!(
            e.describe(),
            "ramping-arrival-rate: 0 -> 100 iterations/s over 1m, 100 for 5m, 100 -> 0 over 1m (35999 iterations, 10..50 VUs)"
        );
        let all: Vec<(u64, Duration)> = e.arrivals().collect();
        assert_eq!(all.len(), 35_999);
        assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(all.last().unwrap().1 < Duration::from_secs(420));
        // During the hold, exactly every 10ms.
        assert_eq!(all[2999].1, Duration::from_secs(60));
        assert_eq!(all[3000].1, Duration::from_millis(60_010));

        let split = Segment::split_weighted(&[1, 2, 5]);
        let shares: Vec<RampingArrivalRate> = split.iter().map(|s| e.for_segment(s)).collect();
        let mut merged: Vec<(u64, Duration)> = shares.iter().flat_map(|s| s.arrivals()).collect();
        merged.sort();
        assert_eq!(merged, all);
        let vus: Vec<(u64, u64)> = shares
            .iter()
            .map(|s| (s.pre_allocated_vus, s.max_vus()))
            .collect();
        assert_eq!(vus, [(1, 6), (2, 12), (7, 32)]);
        assert_eq!(shares[2].vus_at(Duration::from_secs(419)), 32);
        assert_eq!(shares[2].vus_at(Duration::from_secs(420)), 0);
    }

    #[test]
    fn a_constant_stage_matches_constant_arrival_rate() {
        let e = spike(250, &[Stage::secs(4, 250)]);
        let c = ConstantArrivalRate {
            rate: 250,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(4),
            pre_allocated_vus: 10,
            max_vus: 50,
            segment: Segment::full(),
        };
        assert_eq!(e.total_arrivals(), c.total_arrivals());
        assert!(e.arrivals().eq(c.arrivals()));
        let third = Segment::split_even(3)[2];
        assert!(
            e.for_segment(&third)
                .arrivals()
                .eq(c.for_segment(&third).arrivals())
        );
    }

    #[test]
    fn reads_defaults_and_reports_problems() {
        let (e, errors) = read(
            "stages = [{ duration = \"10s\", target = 20 }]\npre-allocated-vus = 2\ntime-unit = \"1m\"",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(e.start_rate, 0);
        assert_eq!(e.max_vus, 2);
        assert_eq!(
            e.describe(),
            "ramping-arrival-rate: 0 -> 20 iterations/min over 10s (1 iteration, 2 VUs)"
        );
        let (_, errors) = read(
            "time-unit = \"0s\"\nstages = [{ duration = \"10s\", target = 0 }, { duration = \"1s\", targt = 1 }]\npre-allocated-vus = 3\nmax-vus = 1",
        );
        assert_eq!(
            errors,
            [
                "scenarios.spike.time-unit: must be longer than 0s",
                "scenarios.spike.stages[1].targt: unknown key `targt`; did you mean `target`?",
                "scenarios.spike.stages[1].target: missing required key `target` (the rate at the end of the stage, in iterations per time-unit, e.g. target = 100)",
                "scenarios.spike.max-vus: max-vus (1) is less than pre-allocated-vus (3): raise max-vus or leave it out (it defaults to pre-allocated-vus)",
            ]
        );
        let (_, errors) =
            read("stages = [{ duration = \"10s\", target = 0 }]\npre-allocated-vus = 1");
        assert_eq!(
            errors,
            [
                "scenarios.spike.stages: start-rate and every stage target are 0: the scenario would start no iteration; raise a target"
            ]
        );
    }

    #[test]
    fn overrides() {
        let mut e = spike(1, &[Stage::secs(10, 5)]);
        e.apply_overrides(Some(4), Some(Duration::from_secs(1)));
        assert_eq!((e.pre_allocated_vus, e.max_vus), (4, 4));
        assert_eq!(e.max_duration(), Duration::from_secs(10));
    }
}
