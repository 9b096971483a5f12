//! `constant-arrival-rate`: iterations start at a fixed rate, whether or not the previous ones have
//! finished; VUs are taken from a pool to run them.
//!
//! ```toml
//! [scenarios.steady]
//! executor = "constant-arrival-rate"
//! rate = 1000               # iterations per time-unit, required, at least 1
//! time-unit = "1s"          # default 1s
//! duration = "20s"          # required
//! pre-allocated-vus = 50    # required, at least 1: VUs created before the start
//! max-vus = 100             # default pre-allocated-vus: more are created when all are busy, up to this
//! ```
//!
//! Iteration `j` (from 0) is due at `floor(j * time-unit / rate)` (exact integer nanoseconds), for every
//! `j` due before `duration`: `ceil(duration * rate / time-unit)` iterations in all (1000/s for 20s is
//! exactly 20000). A worker runs the iterations its segment [`owns`](crate::owns) (see
//! [`Arrivals`]); an iteration that finds no free VU, with `max-vus` reached, is dropped.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::arrivals::Arrivals;
use super::{
    DEFAULT_TIME_UNIT, check_arrival_vus, check_at_least_one, check_positive_duration, count,
    describe_arrival_vus, rate_unit, read_arrival_vus,
};
use crate::Segment;
use crate::reader::{Problem, Reader, or};
use crate::units::format_duration;

/// The config key.
pub(crate) const KEY: &str = "constant-arrival-rate";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &[
    "rate",
    "time-unit",
    "duration",
    "pre-allocated-vus",
    "max-vus",
];

/// Settings of a `constant-arrival-rate` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConstantArrivalRate {
    /// Iterations started per `time_unit`, fleet-wide (at least 1).
    pub rate: u64,
    /// The period `rate` counts over (more than zero).
    pub time_unit: Duration,
    /// How long iterations are started (more than zero).
    pub duration: Duration,
    /// VUs created before the start (at least 1; this share's, after `for_segment`).
    pub pre_allocated_vus: u64,
    /// The most VUs (at least `pre_allocated_vus`; this share's, after `for_segment`).
    pub max_vus: u64,
    /// The share of the fleet's iterations this config runs ([`Segment::full`] unless made by
    /// `for_segment`); `rate` stays fleet-wide.
    #[serde(default)]
    pub segment: Segment,
}

impl ConstantArrivalRate {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let rate = r.u64("rate");
        let rate = r.require("rate", rate, "iterations per time-unit, e.g. rate = 100");
        let time_unit = or(r.duration("time-unit"), DEFAULT_TIME_UNIT);
        let duration = r.duration("duration");
        let duration = r.require(
            "duration",
            duration,
            r#"how long iterations are started, e.g. duration = "30s""#,
        );
        let (pre_allocated_vus, max_vus) = read_arrival_vus(r);
        // Substitutes for missing or bad values pass validation.
        ConstantArrivalRate {
            rate: rate.unwrap_or(1),
            time_unit,
            duration: duration.unwrap_or(Duration::from_secs(1)),
            pre_allocated_vus,
            max_vus,
            segment: Segment::full(),
        }
    }

    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_at_least_one("rate", self.rate, &mut problems);
        check_positive_duration("time-unit", self.time_unit, &mut problems);
        check_positive_duration("duration", self.duration, &mut problems);
        check_arrival_vus(self.pre_allocated_vus, self.max_vus, &mut problems);
        problems
    }

    /// This segment's iterations, in schedule order: `(j, offset)` with `j` the fleet-wide index.
    pub fn arrivals(&self) -> Arrivals {
        Arrivals::constant(self.segment, self.rate, self.time_unit, self.duration)
    }

    /// The fleet's number of iterations (every segment's together): `ceil(duration * rate / time-unit)`,
    /// saturated to `u64::MAX`.
    pub fn total_arrivals(&self) -> u64 {
        Arrivals::constant_total(self.rate, self.time_unit, self.duration)
    }

    /// This share's `max-vus` (the field, for uniformity with the other executors).
    pub fn max_vus(&self) -> u64 {
        self.max_vus
    }

    /// `duration`: when the last iteration may start.
    pub fn max_duration(&self) -> Duration {
        self.duration
    }

    /// `max-vus` while iterations are being started: what may be allocated, not what is busy.
    pub fn vus_at(&self, t: Duration) -> u64 {
        if t < self.duration { self.max_vus } else { 0 }
    }

    /// Both VU counts are scaled (so they add up over the fleet); the segment picks the iterations.
    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        ConstantArrivalRate {
            pre_allocated_vus: seg.scale(self.pre_allocated_vus),
            max_vus: seg.scale(self.max_vus),
            segment: *seg,
            ..self.clone()
        }
    }

    /// `vus` becomes `max-vus` (and caps `pre-allocated-vus`); `duration` replaces the duration.
    pub(crate) fn apply_overrides(&mut self, vus: Option<u64>, duration: Option<Duration>) {
        if let Some(vus) = vus {
            self.max_vus = vus;
            self.pre_allocated_vus = self.pre_allocated_vus.min(vus);
        }
        self.duration = duration.unwrap_or(self.duration);
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{KEY}: {}{} for {} ({}, {})",
            count(self.rate, "iteration"),
            rate_unit(self.time_unit),
            format_duration(self.duration),
            count(self.total_arrivals(), "iteration"),
            describe_arrival_vus(self.pre_allocated_vus, self.max_vus, &self.segment),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(rate: u64, secs: u64, pre: u64, max: u64) -> ConstantArrivalRate {
        ConstantArrivalRate {
            rate,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(secs),
            pre_allocated_vus: pre,
            max_vus: max,
            segment: Segment::full(),
        }
    }

    fn read(text: &str) -> (ConstantArrivalRate, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "scenarios.steady");
        let e = ConstantArrivalRate::read(&mut r);
        r.problems(e.validate());
        (e, r.finish().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn schedule_and_shares() {
        let e = steady(1000, 20, 50, 100);
        assert_eq!(e.total_arrivals(), 20_000);
        assert_eq!(
            e.describe(),
            "constant-arrival-rate: 1000 iterations/s for 20s (20000 iterations, 50..100 VUs)"
        );
        let all: Vec<(u64, Duration)> = e.arrivals().collect();
        assert_eq!(all.len(), 20_000);
        assert_eq!(all[1234], (1234, Duration::from_millis(1234)));
        let thirds = Segment::split_even(3);
        let shares: Vec<ConstantArrivalRate> = thirds.iter().map(|s| e.for_segment(s)).collect();
        let counts: Vec<usize> = shares.iter().map(|s| s.arrivals().count()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 20_000);
        assert!(
            counts.iter().all(|&c| c.abs_diff(20_000 / 3) <= 10),
            "{counts:?}"
        );
        let vus: Vec<(u64, u64)> = shares
            .iter()
            .map(|s| (s.pre_allocated_vus, s.max_vus()))
            .collect();
        assert_eq!(vus, [(16, 33), (17, 33), (17, 34)]);
        // The fleet total does not depend on the share.
        assert_eq!(shares[1].total_arrivals(), 20_000);
        assert_eq!(shares[1].vus_at(Duration::from_secs(19)), 33);
        assert_eq!(shares[1].vus_at(Duration::from_secs(20)), 0);
        assert!(
            shares[1]
                .describe()
                .ends_with("(20000 iterations, 17..33 VUs of segment 1/3:2/3)")
        );
    }

    #[test]
    fn reads_defaults_and_reports_problems() {
        let (e, errors) = read("rate = 5\nduration = \"1m\"\npre-allocated-vus = 3");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            e,
            ConstantArrivalRate {
                ..steady(5, 60, 3, 3)
            }
        );
        let (e, errors) =
            read("rate = 2\ntime-unit = \"1m\"\nduration = \"1m\"\npre-allocated-vus = 1");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            e.describe(),
            "constant-arrival-rate: 2 iterations/min for 1m (2 iterations, 1 VU)"
        );

        let (_, errors) = read(
            "rate = 0\ntime-unit = \"0s\"\nduration = \"0s\"\npre-allocated-vus = 10\nmax-vus = 5",
        );
        assert_eq!(
            errors,
            [
                "scenarios.steady.rate: must be at least 1, found 0",
                "scenarios.steady.time-unit: must be longer than 0s",
                "scenarios.steady.duration: must be longer than 0s",
                "scenarios.steady.max-vus: max-vus (5) is less than pre-allocated-vus (10): raise max-vus or leave it out (it defaults to pre-allocated-vus)",
            ]
        );
        let (_, errors) = read("max-vus = 4");
        assert_eq!(
            errors,
            [
                "scenarios.steady.rate: missing required key `rate` (iterations per time-unit, e.g. rate = 100)",
                "scenarios.steady.duration: missing required key `duration` (how long iterations are started, e.g. duration = \"30s\")",
                "scenarios.steady.pre-allocated-vus: missing required key `pre-allocated-vus` (VUs created before the start, e.g. pre-allocated-vus = 10)",
            ]
        );
        let (_, errors) = read("rate = 1\nduration = \"1s\"\npre-allocated-vus = 0");
        assert_eq!(
            errors,
            ["scenarios.steady.pre-allocated-vus: must be at least 1, found 0"]
        );
    }

    #[test]
    fn overrides() {
        let mut e = steady(10, 10, 5, 20);
        e.apply_overrides(Some(3), Some(Duration::from_secs(2)));
        assert_eq!(e, steady(10, 2, 3, 3));
        e.apply_overrides(Some(50), None);
        assert_eq!(e, steady(10, 2, 3, 50));
        assert!(e.validate().is_empty());
    }
}
