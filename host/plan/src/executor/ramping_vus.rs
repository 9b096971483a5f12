//! `ramping-vus`: the number of VUs follows stages, ramping linearly from one target to the next.
//!
//! ```toml
//! [scenarios.ramp]
//! executor = "ramping-vus"
//! start-vus = 0                 # default 1; may be 0
//! stages = [                    # required, at least one
//!     { duration = "15s", target = 200 },
//!     { duration = "15s", target = 0 },
//! ]
//! graceful-ramp-down = "30s"    # default 30s
//! ```
//!
//! The fleet-wide VU count at `t` follows the linear interpolation between the stages' ends, one whole
//! VU behind it as in k6 (rounded down on a ramp up, up on a ramp down: a VU starts when the line
//! reaches its number and stops when the line has passed one below), computed exactly in integer
//! nanoseconds ([`RampingVus::raw_vus_at`]); a worker runs its
//! [`Segment::scale`]d share of that count at every moment, so the shares always add up to it. VUs that
//! a ramp-down removes get `graceful-ramp-down` to finish their iteration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::count;
use super::stages::{self, Stage, nanos};
use crate::Segment;
use crate::reader::{Problem, Reader, or};

/// The config key.
pub(crate) const KEY: &str = "ramping-vus";
/// The keys this executor reads from its scenario table.
pub(crate) const KEYS: &[&str] = &["start-vus", stages::KEY, "graceful-ramp-down"];

/// Default `start-vus` (k6's).
const DEFAULT_START_VUS: u64 = 1;
/// Default `graceful-ramp-down` (k6's): the same grace an iteration gets at the end of a scenario.
pub(crate) const DEFAULT_GRACEFUL_RAMP_DOWN: Duration = Duration::from_secs(30);

/// Beyond this many candidates [`max_share`] stops looking and returns its upper bound, which is then at
/// most one VU too many; only reachable with segments narrower than 2^-20 of the fleet.
const MAX_SHARE_SEARCH: u64 = 1 << 20;

/// Settings of a `ramping-vus` scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RampingVus {
    /// VUs before the first stage (may be 0).
    pub start_vus: u64,
    /// The ramp (at least one stage); targets are VU counts of the whole fleet.
    pub stages: Vec<Stage>,
    /// How long VUs removed by a ramp-down may take to finish their iteration before it is interrupted.
    pub graceful_ramp_down: Duration,
    /// The share of the fleet this config runs ([`Segment::full`] unless made by `for_segment`): the
    /// stages stay fleet-wide, [`RampingVus::vus_at`] scales them.
    #[serde(default)]
    pub segment: Segment,
}

impl RampingVus {
    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        let start_vus = or(r.u64("start-vus"), DEFAULT_START_VUS);
        let stages = stages::read(r, "the VUs at the end of the stage, e.g. target = 10");
        let graceful_ramp_down = or(r.duration("graceful-ramp-down"), DEFAULT_GRACEFUL_RAMP_DOWN);
        RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
            segment: Segment::full(),
        }
    }

    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let nothing = ("start-vus", "would never run a VU");
        stages::validate(&self.stages, self.start_vus, nothing, &mut problems);
        problems
    }

    /// The fleet-wide VU count at `t` from the scenario's start: the linear interpolation from the
    /// previous stage's target (`start-vus` for the first) to the current stage's target, rounded
    /// towards the previous target (down on a ramp up, up on a ramp down, as k6 steps its VUs), exact
    /// to the nanosecond; the stage's target at its end; 0 from the end of the last stage on. A stage of
    /// zero length is a step: from its start the next stage ramps from its target.
    pub fn raw_vus_at(&self, t: Duration) -> u64 {
        let t = nanos(t);
        let mut from = self.start_vus;
        let mut start = 0u64;
        for stage in &self.stages {
            let len = nanos(stage.duration);
            let end = start.saturating_add(len);
            if t < end {
                return interpolate(from, stage.target, t - start, len);
            }
            from = stage.target;
            start = end;
        }
        0
    }

    /// This share's VUs at `t`: `segment.scale(raw_vus_at(t))`, so the shares of a split add up to the
    /// fleet's count at every moment.
    pub fn vus_at(&self, t: Duration) -> u64 {
        self.segment.scale(self.raw_vus_at(t))
    }

    /// The most VUs this share runs at once: the largest share of any fleet-wide count from 0 to the
    /// peak of the stages (a share is not monotonic in the count, so this may exceed the share of the
    /// peak by one).
    pub fn max_vus(&self) -> u64 {
        max_share(&self.segment, stages::peak(self.start_vus, &self.stages))
    }

    /// The sum of the stage durations: when the last VUs are stopped (then `graceful-stop` applies).
    pub fn max_duration(&self) -> Duration {
        stages::total_duration(&self.stages)
    }

    /// The stages stay fleet-wide; the segment decides the share at each moment.
    pub(crate) fn for_segment(&self, seg: &Segment) -> Self {
        RampingVus {
            segment: *seg,
            ..self.clone()
        }
    }

    /// Both overrides are ignored: the stages define the VUs and the duration (as in k6, where `--vus`
    /// and `--duration` do not apply to a scenario with stages).
    pub(crate) fn apply_overrides(&mut self, _vus: Option<u64>, _duration: Option<Duration>) {}

    pub(crate) fn describe(&self) -> String {
        let share = if self.segment.is_full() {
            String::new()
        } else {
            format!(" of segment {}", self.segment)
        };
        format!(
            "{KEY}: {} (max {}{share})",
            stages::describe_stages(self.start_vus, &self.stages, |n| count(n, "VU")),
            count(self.max_vus(), "VU")
        )
    }
}

/// `from + (to - from) * elapsed / len` for `elapsed < len`, rounded towards `from` (whole VUs moved
/// so far), exactly: the products of two `u64` fit in `u128`.
fn interpolate(from: u64, to: u64, elapsed: u64, len: u64) -> u64 {
    let moved = |diff: u64| {
        let step = u128::from(diff) * u128::from(elapsed) / u128::from(len);
        u64::try_from(step).unwrap_or(diff)
    };
    if to >= from {
        from + moved(to - from)
    } else {
        from - moved(from - to)
    }
}

/// The largest share `seg.scale(v)` for `v` in `0..=peak`: every count the fleet's ramp can go through up
/// to its peak (slightly more than the counts it actually takes, so a safe allocation).
///
/// `scale(v) = floor(v * to) - floor(v * from)` is not monotonic in `v` (the middle worker of seven,
/// `3/7:4/7`, runs 1 VU of 2 but none of 3), so the share at the peak is not always the largest. With `w = to - from`, every share is `floor(v * w)` or `ceil(v * w)`, so the
/// maximum is `c = ceil(peak * w)` or `c - 1`, and only the counts `v` with `ceil(v * w) == c` can reach
/// `c`: the last `1 / w` or so below the peak. Those are searched one by one (a split over `n` workers
/// looks at about `n` of them).
fn max_share(seg: &Segment, peak: u64) -> u64 {
    let at_peak = seg.scale(peak);
    let ceil_share = |v: u64| {
        // v * w = scale(v) + frac(v * to) - frac(v * from); compare the fractions exactly.
        let frac = |num: u64, den: u64| u128::from(v) * u128::from(num) % u128::from(den);
        let (to, from) = (seg.to, seg.from);
        let above = frac(to.num(), to.den()) * u128::from(from.den())
            > frac(from.num(), from.den()) * u128::from(to.den());
        seg.scale(v) + u64::from(above)
    };
    let bound = ceil_share(peak);
    if at_peak == bound {
        return at_peak;
    }
    let mut v = peak;
    while v > 0 && peak - v < MAX_SHARE_SEARCH {
        v -= 1;
        if ceil_share(v) < bound {
            return at_peak;
        }
        if seg.scale(v) == bound {
            return bound;
        }
    }
    if v == 0 { at_peak } else { bound }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ratio;

    fn ramp(start_vus: u64, stages: &[Stage]) -> RampingVus {
        RampingVus {
            start_vus,
            stages: stages.to_vec(),
            graceful_ramp_down: DEFAULT_GRACEFUL_RAMP_DOWN,
            segment: Segment::full(),
        }
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn up_and_down() {
        let e = ramp(0, &[Stage::secs(15, 200), Stage::secs(15, 0)]);
        let at = |t: Duration| e.raw_vus_at(t);
        assert_eq!(at(Duration::ZERO), 0);
        assert_eq!(at(ms(74)), 0);
        assert_eq!(at(ms(75)), 1);
        assert_eq!(at(ms(7_500)), 100);
        assert_eq!(at(Duration::from_nanos(15_000_000_000 - 1)), 199);
        assert_eq!(at(ms(15_000)), 200);
        // Going down, one VU behind the line as well (k6's steps): 200 until 75ms after the peak.
        assert_eq!(at(Duration::from_nanos(15_000_000_001)), 200);
        assert_eq!(at(Duration::from_nanos(15_075_000_000 - 1)), 200);
        assert_eq!(at(ms(15_075)), 199);
        assert_eq!(at(ms(22_500)), 100);
        assert_eq!(at(Duration::from_nanos(30_000_000_000 - 1)), 1);
        assert_eq!(at(ms(30_000)), 0);
        assert_eq!(at(Duration::MAX), 0);
        assert_eq!(e.max_duration(), Duration::from_secs(30));
        assert_eq!(e.max_vus(), 200);
        assert_eq!(
            e.describe(),
            "ramping-vus: 0 -> 200 VUs over 15s, 200 -> 0 over 15s (max 200 VUs)"
        );
    }

    /// The steps of k6's own example (its `TestRampingVUsConfigExecutionPlanExample`): each VU
    /// starts when the line reaches its number and stops when the line reaches one below it.
    #[test]
    fn steps_as_k6_does() {
        let e = ramp(
            4,
            &[Stage::secs(2, 6), Stage::secs(5, 1), Stage::secs(1, 1)],
        );
        let whole_seconds: Vec<u64> = (0..=8).map(|s| e.raw_vus_at(ms(s * 1000))).collect();
        assert_eq!(whole_seconds, [4, 5, 6, 5, 4, 3, 2, 1, 0]);
        let just_before: Vec<u64> = (1..=8)
            .map(|s| e.raw_vus_at(Duration::from_nanos(s * 1_000_000_000 - 1)))
            .collect();
        assert_eq!(just_before, [4, 5, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn holds_steps_and_start_vus() {
        let e = ramp(
            5,
            &[Stage::secs(10, 5), Stage::secs(0, 50), Stage::secs(10, 10)],
        );
        assert_eq!(e.raw_vus_at(ms(9_999)), 5);
        // The zero-length stage: at 10s the last stage starts from 50.
        assert_eq!(e.raw_vus_at(ms(10_000)), 50);
        assert_eq!(e.raw_vus_at(ms(15_000)), 30);
        assert_eq!(e.raw_vus_at(ms(20_000)), 0);
        assert_eq!(e.max_vus(), 50);
        assert_eq!(
            e.describe(),
            "ramping-vus: 5 VUs for 10s, 5 -> 50 at once, 50 -> 10 over 10s (max 50 VUs)"
        );
        // The last target is reached only at the end, which is 0: a plain ramp up peaks just below it.
        let up = ramp(1, &[Stage::secs(1, 3)]);
        let values: Vec<u64> = [0, 499, 500, 999, 1000]
            .map(|t| up.raw_vus_at(ms(t)))
            .to_vec();
        assert_eq!(values, [1, 1, 2, 2, 0]);
    }

    #[test]
    fn shares_add_up_at_every_moment() {
        let e = ramp(
            3,
            &[Stage::secs(7, 101), Stage::secs(3, 101), Stage::secs(11, 0)],
        );
        for split in [
            Segment::split_even(3),
            Segment::split_even(7),
            Segment::split_weighted(&[1, 2, 5]),
        ] {
            let shares: Vec<RampingVus> = split.iter().map(|s| e.for_segment(s)).collect();
            for t in (0..=22_000).step_by(37).map(ms) {
                let sum: u64 = shares.iter().map(|s| s.vus_at(t)).sum();
                assert_eq!(sum, e.raw_vus_at(t), "t={t:?}");
                for s in &shares {
                    assert!(s.vus_at(t) <= s.max_vus());
                }
            }
            assert_eq!(shares[0].stages, e.stages);
            assert_eq!(shares[1].segment, split[1]);
        }
    }

    #[test]
    fn max_share_is_the_real_maximum() {
        let r = |n, d| Ratio::new(n, d).unwrap();
        let mut segments = Segment::split_even(3);
        segments.extend(Segment::split_even(7));
        segments.extend(Segment::split_weighted(&[1, 2, 5]));
        segments.extend(Segment::split_weighted(&[3, 1000, 7]));
        segments.push(Segment::new(r(1, 3), r(1, 2)).unwrap());
        segments.push(Segment::new(r(2, 7), r(2, 7)).unwrap());
        segments.push(Segment::full());
        for seg in &segments {
            for peak in 0..=300 {
                let brute = (0..=peak).map(|v| seg.scale(v)).max().unwrap();
                assert_eq!(max_share(seg, peak), brute, "{seg} peak={peak}");
            }
        }
        // Not monotonic: the middle of seven workers runs 1 VU of 2 but none of 3.
        let middle = Segment::split_even(7)[3];
        assert_eq!((middle.scale(2), middle.scale(3)), (1, 0));
        assert_eq!(max_share(&middle, 3), 1);
        // Large peaks are fine: the search only looks near the peak, where the maximum is.
        for seg in [
            Segment::split_even(1000)[500],
            Segment::split_weighted(&[5, 3, 991])[1],
        ] {
            for peak in [1_000_000_000_000_007u64, u64::MAX - 12_345] {
                let near = (peak - 5_000..=peak).map(|v| seg.scale(v)).max().unwrap();
                assert_eq!(max_share(&seg, peak), near, "{seg} peak={peak}");
            }
        }
    }

    #[test]
    fn validation_and_overrides() {
        let mut e = ramp(0, &[Stage::secs(10, 0)]);
        assert_eq!(
            e.validate(),
            [(
                "stages",
                "start-vus and every stage target are 0: the scenario would never run a VU; raise a target"
                    .to_owned()
            )]
        );
        e.start_vus = 1;
        assert!(e.validate().is_empty());
        let before = e.clone();
        e.apply_overrides(Some(100), Some(Duration::from_secs(1)));
        assert_eq!(e, before);
    }
}
