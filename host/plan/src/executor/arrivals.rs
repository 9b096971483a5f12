//! Arrival schedules of the arrival-rate executors, and how their iterations are striped over the fleet.
//!
//! An arrival-rate scenario starts iterations on a schedule, whatever the VUs are doing. Its iterations
//! are numbered in schedule order: iteration `j` (from 0) is due at offset `t_j` from the scenario's start,
//! the same on every worker. A worker runs the iterations its [`Segment`] [`owns`], so:
//!
//! 1. every worker computes the same fleet-wide schedule, with no coordination;
//! 2. every `j` belongs to exactly one segment of any split of `[0, 1)`, so the shares add up to the
//!    whole at any moment (no iteration is run twice or lost);
//! 3. ownership is a low-discrepancy stripe (the golden-ratio Weyl sequence): over any `n` consecutive
//!    iterations a segment of width `w` owns `w * n` of them, give or take a few, so each worker's load is
//!    as smooth as the fleet's, not bursty.
//!
//! ```
//! use std::time::Duration;
//! use stampede_plan::{ConstantArrivalRate, Segment, owns};
//!
//! let fleet = ConstantArrivalRate {
//!     rate: 10,
//!     time_unit: Duration::from_secs(1),
//!     duration: Duration::from_secs(1),
//!     pre_allocated_vus: 2,
//!     max_vus: 2,
//!     segment: Segment::full(),
//! };
//! assert_eq!(fleet.total_arrivals(), 10);
//! let halves = Segment::split_even(2);
//! let share = |segment| ConstantArrivalRate { segment, ..fleet.clone() };
//! let first: Vec<(u64, Duration)> = share(halves[0]).arrivals().collect();
//! let second: Vec<(u64, Duration)> = share(halves[1]).arrivals().collect();
//! assert_eq!(first.len() + second.len(), 10);
//! assert!(first.iter().all(|&(j, t)| owns(&halves[0], j) && t == Duration::from_millis(100 * j)));
//! ```

use std::iter::FusedIterator;
use std::time::Duration;

use super::stages::{Stage, nanos};
use crate::Segment;

/// The Weyl step: `floor(2^64 / φ)` rounded to odd, `0x9E37_79B9_7F4A_7C15` (φ the golden ratio, so
/// `WEYL / 2^64 ≈ 0.618_033_988_75`). The points `j * WEYL mod 2^64` of consecutive `j` spread over
/// `[0, 2^64)` as evenly as any sequence can (the golden ratio is the "most irrational" number, so the
/// three-gap theorem keeps the gaps within a factor φ of each other); being odd, the step visits every
/// 64-bit value once per 2^64 steps. It is the constant of Fibonacci hashing and SplitMix64.
pub const WEYL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Whether the segment `seg` owns the fleet-wide iteration `j` of an arrival-rate scenario: whether the
/// Weyl point `p_j = (j * WEYL mod 2^64) / 2^64` lies in `[seg.from, seg.to)`, compared exactly.
///
/// The segments of a split tile `[0, 1)`, so each `j` is owned by exactly one of them, whichever split.
pub fn owns(seg: &Segment, j: u64) -> bool {
    let p = u128::from(j.wrapping_mul(WEYL));
    // from <= p / 2^64 and p / 2^64 < to, cross-multiplied: every factor is below 2^64, so no product
    // overflows u128.
    let (from, to) = (seg.from, seg.to);
    let at_or_after_from = u128::from(from.num()) << 64 <= p * u128::from(from.den());
    let before_to = p * u128::from(to.den()) < u128::from(to.num()) << 64;
    at_or_after_from && before_to
}

/// The iterations one segment runs of an arrival-rate schedule: `(j, offset)` pairs in schedule order, `j`
/// the fleet-wide iteration index and `offset` when it is due, from the scenario's start. Offsets never
/// decrease and are all before the schedule's end.
///
/// Made by [`ConstantArrivalRate::arrivals`](crate::ConstantArrivalRate::arrivals) and
/// [`RampingArrivalRate::arrivals`](crate::RampingArrivalRate::arrivals). It walks every fleet-wide
/// index (a few nanoseconds each) and yields those the segment [`owns`].
#[derive(Clone, Debug)]
pub struct Arrivals {
    segment: Segment,
    schedule: Schedule,
    next: u64,
    total: u64,
    last: u64,
}

impl Arrivals {
    fn new(segment: Segment, schedule: Schedule) -> Arrivals {
        let total = if segment.is_empty() {
            0
        } else {
            schedule.total()
        };
        Arrivals {
            segment,
            schedule,
            next: 0,
            total,
            last: 0,
        }
    }

    /// A constant rate: `rate` iterations per `unit`, for `duration`.
    pub(crate) fn constant(
        segment: Segment,
        rate: u64,
        unit: Duration,
        duration: Duration,
    ) -> Self {
        let schedule = Schedule::Constant {
            rate,
            unit: nanos(unit),
            duration: nanos(duration),
        };
        Arrivals::new(segment, schedule)
    }

    /// A piecewise-linear rate from `start_rate`, through `stages`, in iterations per `unit`.
    pub(crate) fn ramping(
        segment: Segment,
        start_rate: u64,
        stages: &[Stage],
        unit: Duration,
    ) -> Self {
        Arrivals::new(
            segment,
            Schedule::Ramping(Ramp::new(start_rate, stages, nanos(unit))),
        )
    }

    /// The fleet-wide number of iterations of a constant rate (see [`Arrivals::constant`]).
    pub(crate) fn constant_total(rate: u64, unit: Duration, duration: Duration) -> u64 {
        Arrivals::constant(Segment::full(), rate, unit, duration).total
    }

    /// The fleet-wide number of iterations of a ramping rate (see [`Arrivals::ramping`]).
    pub(crate) fn ramping_total(start_rate: u64, stages: &[Stage], unit: Duration) -> u64 {
        Ramp::new(start_rate, stages, nanos(unit)).total()
    }
}

impl Iterator for Arrivals {
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        while self.next < self.total {
            let j = self.next;
            self.next += 1;
            if owns(&self.segment, j) {
                // The schedule is monotonic by construction; the max only guards the rare fallback to an
                // unverified floating-point root (see `Ramp::offset`).
                self.last = self.schedule.offset(j).max(self.last);
                return Some((j, Duration::from_nanos(self.last)));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, usize::try_from(self.total - self.next).ok())
    }
}

impl FusedIterator for Arrivals {}

/// A fleet-wide schedule: how many iterations, and when iteration `j` is due (in nanoseconds).
#[derive(Clone, Debug)]
enum Schedule {
    /// Iteration `j` at `floor(j * unit / rate)`, for every `j` due before `duration`.
    Constant {
        rate: u64,
        unit: u64,
        duration: u64,
    },
    Ramping(Ramp),
}

impl Schedule {
    fn total(&self) -> u64 {
        match *self {
            // ceil(duration * rate / unit): the j with j * unit / rate < duration.
            Schedule::Constant {
                rate,
                unit,
                duration,
            } => {
                if rate == 0 || unit == 0 {
                    return 0;
                }
                let due = u128::from(duration) * u128::from(rate);
                let unit = u128::from(unit);
                saturate(due.div_ceil(unit))
            }
            Schedule::Ramping(ref ramp) => ramp.total(),
        }
    }

    fn offset(&self, j: u64) -> u64 {
        match *self {
            Schedule::Constant { rate, unit, .. } => {
                saturate(u128::from(j) * u128::from(unit) / u128::from(rate.max(1)))
            }
            Schedule::Ramping(ref ramp) => ramp.offset(j),
        }
    }
}

fn saturate(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// A piecewise-linear rate and its integral.
///
/// With `r(t)` the rate in iterations per time-unit `u`, the number of arrivals due by `t` is
/// `N(t) = ∫ r / u`, piecewise quadratic. To stay in integers the ramp keeps the "area" `2 * u * N(t)`,
/// which at stage boundaries is a whole number: each stage adds `(from + to) * len` (rates times
/// nanoseconds).
///
/// Iterations are due when `N` passes the whole numbers, level `L` at `t_L`, the last moment with
/// `N(t) <= L` (the exact time, floored to the nanosecond), for `first_level <= L < N(end)`; iteration
/// `j` is level `j + first_level`. The levels start at 0 if the rate is positive at the very start (like
/// the constant executor, whose schedule a constant stage reproduces exactly) and at 1 if it starts from
/// 0: a ramp from 0 has its first iteration when one iteration's worth of area has built up, not at once.
#[derive(Clone, Debug)]
struct Ramp {
    /// `2 * u` in nanoseconds.
    two_unit: u128,
    first_level: u64,
    /// The stages with some area (others hold no level), in order.
    stages: Vec<RampStage>,
    /// The area at the end of the last stage.
    area: u128,
}

#[derive(Clone, Copy, Debug)]
struct RampStage {
    /// Offset of the stage's start, nanoseconds.
    start: u64,
    /// Length, nanoseconds (never 0).
    len: u64,
    /// Rates at its start and its end.
    from: u64,
    to: u64,
    /// The area (`2 * u * N`) at its start and its end.
    area_start: u128,
    area_end: u128,
}

impl Ramp {
    fn new(start_rate: u64, stages: &[Stage], unit: u64) -> Ramp {
        let mut from = start_rate;
        let mut start = 0u64;
        let mut area = 0u128;
        let mut kept = Vec::new();
        let mut first_rate = None;
        for s in stages {
            let len = nanos(s.duration);
            if len > 0 {
                first_rate.get_or_insert(from);
                let added =
                    (u128::from(from) + u128::from(s.target)).saturating_mul(u128::from(len));
                if added > 0 {
                    kept.push(RampStage {
                        start,
                        len,
                        from,
                        to: s.target,
                        area_start: area,
                        area_end: area.saturating_add(added),
                    });
                }
                area = area.saturating_add(added);
                start = start.saturating_add(len);
            }
            from = s.target;
        }
        Ramp {
            two_unit: 2 * u128::from(unit),
            first_level: u64::from(first_rate.unwrap_or(0) == 0),
            stages: kept,
            area,
        }
    }

    /// The levels `first_level <= L < N(end) = area / (2u)`.
    fn total(&self) -> u64 {
        if self.two_unit == 0 {
            return 0;
        }
        saturate(self.area.div_ceil(self.two_unit)).saturating_sub(self.first_level)
    }

    /// When iteration `j` is due, in nanoseconds from the start.
    fn offset(&self, j: u64) -> u64 {
        let level = u128::from(j.saturating_add(self.first_level));
        let x = self.two_unit.saturating_mul(level);
        // The stage where the area passes x (levels are below the end, so there is one).
        let i = self.stages.partition_point(|s| s.area_end <= x);
        let Some(s) = self.stages.get(i).or(self.stages.last()) else {
            return 0;
        };
        let b = x.saturating_sub(s.area_start);
        let tau = if s.from == s.to {
            // Constant rate: 2 * from * tau = b.
            saturate(b / (2 * u128::from(s.from)))
        } else {
            ramp_root(s, b)
        };
        s.start.saturating_add(tau.min(s.len - 1))
    }
}

/// The largest whole `tau` in `[0, len)` where the area the stage has built up by `tau` is at most `b`:
/// `g(tau) = Δ * tau² + 2 * len * from * tau - len * b <= 0` with `Δ = to - from` (multiplied out by `len`
/// from `2 * from * tau + Δ * tau² / len = b`). `g` does not decrease over the stage (its slope is
/// proportional to the rate), so this is the root floored to the nanosecond.
///
/// The root is estimated in `f64` with the cancellation-free form `len * b / (len * from + sqrt(disc))`,
/// `disc = (len * from)² + Δ * len * b` (never negative within the stage), then made exact by stepping while `g`, computed in `i128`, says so. Should `g` overflow (stages of weeks
/// at millions per second) the estimate is used as it is, a few nanoseconds off at most.
fn ramp_root(s: &RampStage, b: u128) -> u64 {
    let (len, from, delta) = (s.len as f64, s.from as f64, s.to as f64 - s.from as f64);
    let lf = len * from;
    let lb = len * b as f64;
    let disc = (lf * lf + delta * lb).max(0.0);
    let denominator = lf + disc.sqrt();
    let estimate = if denominator > 0.0 {
        lb / denominator
    } else {
        0.0
    };
    // `as` saturates (and maps NaN to 0); then keep within the stage.
    let mut tau = (estimate.floor() as u64).min(s.len - 1);

    let delta = i128::from(s.to) - i128::from(s.from);
    let g = |tau: u64| -> Option<i128> {
        let t = i128::from(tau);
        let len = i128::from(s.len);
        let quadratic = delta.checked_mul(t.checked_mul(t)?)?;
        let linear = (2 * len).checked_mul(i128::from(s.from))?.checked_mul(t)?;
        let constant = len.checked_mul(i128::try_from(b).ok()?)?;
        quadratic.checked_add(linear)?.checked_sub(constant)
    };
    /// Steps beyond which the estimate is kept: it is never that far off unless `g` misbehaves.
    const MAX_STEPS: u32 = 1 << 10;
    let mut steps = 0;
    while tau > 0 && steps < MAX_STEPS {
        match g(tau) {
            Some(v) if v > 0 => tau -= 1,
            Some(_) => break,
            None => return tau,
        }
        steps += 1;
    }
    while tau + 1 < s.len && steps < MAX_STEPS {
        match g(tau + 1) {
            Some(v) if v <= 0 => tau += 1,
            _ => break,
        }
        steps += 1;
    }
    tau
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64, target: u64) -> Stage {
        Stage::secs(secs, target)
    }

    fn constant(rate: u64, unit_ms: u64, secs: u64) -> Vec<(u64, Duration)> {
        let unit = Duration::from_millis(unit_ms);
        Arrivals::constant(Segment::full(), rate, unit, Duration::from_secs(secs)).collect()
    }

    fn ramping(start: u64, stages: &[Stage]) -> Vec<(u64, Duration)> {
        Arrivals::ramping(Segment::full(), start, stages, Duration::from_secs(1)).collect()
    }

    /// Offsets never decrease, indices are 0.. in order, all before `end`.
    fn assert_schedule(arrivals: &[(u64, Duration)], end: Duration) {
        for (i, pair) in arrivals.iter().enumerate() {
            assert_eq!(pair.0, i as u64);
            assert!(pair.1 < end, "{pair:?} not before {end:?}");
        }
        for w in arrivals.windows(2) {
            assert!(w[0].1 <= w[1].1, "{w:?}");
        }
    }

    #[test]
    fn the_weyl_constant_is_the_golden_ratio() {
        assert_eq!(WEYL % 2, 1);
        let phi_inverse = (5f64.sqrt() - 1.0) / 2.0;
        assert!((WEYL as f64 / 2f64.powi(64) - phi_inverse).abs() < 1e-15);
    }

    #[test]
    fn every_index_has_exactly_one_owner() {
        let splits = [
            Segment::split_even(1),
            Segment::split_even(2),
            Segment::split_even(3),
            Segment::split_even(7),
            Segment::split_weighted(&[1, 2, 5]),
            Segment::split_weighted(&[0, 3, 0, 1]),
            Segment::split_weighted(&[u64::MAX, 1]),
        ];
        for split in &splits {
            for j in (0..10_000).chain([u64::MAX - 1, u64::MAX]) {
                let owners = split.iter().filter(|s| owns(s, j)).count();
                assert_eq!(owners, 1, "j={j} {split:?}");
            }
        }
        // p_0 = 0 belongs to the segment starting at 0.
        assert!(owns(&Segment::split_even(3)[0], 0));
        let empty = Segment::new(crate::Ratio::ZERO, crate::Ratio::ZERO).unwrap();
        assert!((0..1000).all(|j| !owns(&empty, j)));
    }

    #[test]
    fn shares_are_proportional_over_any_window() {
        let n = 100_000u64;
        for (split, weights) in [
            (Segment::split_even(3), vec![1u64, 1, 1]),
            (Segment::split_weighted(&[1, 2, 5]), vec![1, 2, 5]),
        ] {
            let sum: u64 = weights.iter().sum();
            let counts: Vec<u64> = split
                .iter()
                .map(|s| (0..n).filter(|&j| owns(s, j)).count() as u64)
                .collect();
            assert_eq!(counts.iter().sum::<u64>(), n);
            for (count, w) in counts.iter().zip(&weights) {
                let expected = (n * w) as f64 / sum as f64;
                assert!(
                    (*count as f64 - expected).abs() <= 10.0,
                    "{counts:?} vs {weights:?}"
                );
            }
            // Also over shorter windows anywhere in the sequence: the stripe is smooth, not bursty.
            for start in [0u64, 12_345, 1 << 40] {
                for len in [10u64, 100, 1000] {
                    for (s, w) in split.iter().zip(&weights) {
                        let c = (start..start + len).filter(|&j| owns(s, j)).count() as f64;
                        let expected = (len * w) as f64 / sum as f64;
                        assert!(
                            (c - expected).abs() <= 4.0,
                            "{start}+{len}: {c} vs {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn constant_rate_schedule() {
        let a = constant(1000, 1000, 20);
        assert_eq!(a.len(), 20_000);
        assert_eq!(
            Arrivals::constant_total(1000, Duration::from_secs(1), Duration::from_secs(20)),
            20_000
        );
        assert!(a.iter().all(|&(j, t)| t == Duration::from_millis(j)));
        assert_schedule(&a, Duration::from_secs(20));
        // 3 per second for 1.5s: at 0, 1/3 s, 2/3 s, 1 s and 4/3 s (ceil(4.5) = 5), floored to ns.
        let a = Arrivals::constant(
            Segment::full(),
            3,
            Duration::from_secs(1),
            Duration::from_millis(1500),
        );
        let offsets: Vec<u64> = a.map(|(_, t)| t.as_nanos() as u64).collect();
        assert_eq!(
            offsets,
            [0, 333_333_333, 666_666_666, 1_000_000_000, 1_333_333_333]
        );
        // 2 per minute for 1m: at 0s and 30s.
        let a = constant(2, 60_000, 60);
        assert_eq!(a, [(0, Duration::ZERO), (1, Duration::from_secs(30))]);
        // Degenerate inputs yield nothing rather than dividing by zero.
        assert_eq!(constant(0, 1000, 10).len(), 0);
        assert_eq!(constant(5, 0, 10).len(), 0);
    }

    #[test]
    fn segments_of_a_schedule_add_up_to_it() {
        let unit = Duration::from_secs(1);
        let full: Vec<(u64, Duration)> =
            Arrivals::ramping(Segment::full(), 5, &[s(3, 50), s(2, 0)], unit).collect();
        for split in [Segment::split_even(3), Segment::split_weighted(&[1, 2, 5])] {
            let mut merged: Vec<(u64, Duration)> = split
                .iter()
                .flat_map(|seg| Arrivals::ramping(*seg, 5, &[s(3, 50), s(2, 0)], unit))
                .collect();
            merged.sort();
            assert_eq!(merged, full);
        }
        let empty = Segment::new(crate::Ratio::ONE, crate::Ratio::ONE).unwrap();
        assert_eq!(Arrivals::constant(empty, 5, unit, unit).count(), 0);
    }

    #[test]
    fn a_constant_stage_is_the_constant_schedule() {
        for (rate, secs) in [(1000u64, 20u64), (3, 7), (7, 1), (1, 1)] {
            let want = constant(rate, 1000, secs);
            assert_eq!(
                ramping(rate, &[s(secs, rate)]),
                want,
                "{rate}/s for {secs}s"
            );
            // The same after a zero-length step to the rate.
            assert_eq!(ramping(0, &[s(0, rate), s(secs, rate)]), want);
        }
        // A constant stage after others continues the count exactly: 10/s for 2s, then 20/s for 1s.
        let a = ramping(10, &[s(2, 10), s(0, 20), s(1, 20)]);
        assert_eq!(a.len(), 40);
        assert_eq!(a[19].1, Duration::from_millis(1900));
        assert_eq!(a[20].1, Duration::from_secs(2));
        assert_eq!(a[21].1, Duration::from_millis(2050));
        assert_schedule(&a, Duration::from_secs(3));
    }

    #[test]
    fn a_ramp_from_zero() {
        // 0 -> 100/s over 10s: N(t) = 5 t², 500 in total, the first at N = 1 (t = 1/sqrt(5) s), not at 0.
        let a = ramping(0, &[s(10, 100)]);
        assert_eq!(a.len(), 499);
        assert_eq!(
            Arrivals::ramping_total(0, &[s(10, 100)], Duration::from_secs(1)),
            499
        );
        assert_schedule(&a, Duration::from_secs(10));
        for &(j, t) in &a {
            // Level j + 1 at sqrt((j + 1) / 5) seconds, floored to the nanosecond.
            let exact = ((j + 1) as f64 / 5.0).sqrt() * 1e9;
            assert!(
                (t.as_nanos() as f64 - exact).abs() <= 1.0,
                "{j}: {t:?} vs {exact}"
            );
        }
        assert_eq!(a[4].1, Duration::from_secs(1)); // N(1s) = 5 exactly
        // Roughly r * D / 2 for other shapes too.
        let a = ramping(0, &[s(60, 1000)]);
        assert_eq!(a.len(), 29_999);
        assert_schedule(&a, Duration::from_secs(60));
    }

    #[test]
    fn ramps_up_and_down_with_holds_and_steps() {
        let stages = [s(10, 100), s(0, 0), s(5, 0), s(10, 50), s(10, 50), s(10, 0)];
        let a = ramping(10, &stages);
        // Areas: (10+100)*10/2 = 550, 0, 0, 250, 500, 250: 1550 levels from 0 (the start rate is > 0).
        assert_eq!(a.len(), 1550);
        assert_schedule(&a, Duration::from_secs(45));
        assert_eq!(a[0].1, Duration::ZERO);
        // Nothing during the 5s at rate 0: level 550 is due when the rate rises again, at 15s.
        assert!(
            a.iter()
                .all(|&(_, t)| !(Duration::from_secs(10)..Duration::from_secs(15)).contains(&t))
        );
        assert_eq!(a[550].1, Duration::from_secs(15));
        // The hold at 50/s is exact: level 800 at 25s, then every 20ms.
        assert_eq!(a[800].1, Duration::from_secs(25));
        assert_eq!(a[801].1, Duration::from_millis(25_020));
        // A ramp down: the last level (1549) is due before the end, N(45s - x) = 1550 - 2.5 x².
        let last = a.last().unwrap().1.as_secs_f64();
        assert!(
            (last - (45.0 - (1.0f64 / 2.5).sqrt())).abs() < 1e-6,
            "{last}"
        );
    }

    #[test]
    fn the_exact_root_is_the_floor() {
        // Against a brute-force floor of the quadratic for small stages.
        let stage = RampStage {
            start: 0,
            len: 1000,
            from: 3,
            to: 17,
            area_start: 0,
            area_end: 20 * 1000,
        };
        for b in (0..20_000u128).step_by(7) {
            let want = (0..1000u64)
                .rev()
                .find(|&t| {
                    let t = t as i128;
                    14 * t * t + 2 * 1000 * 3 * t - 1000 * b as i128 <= 0
                })
                .unwrap();
            assert_eq!(ramp_root(&stage, b), want, "b={b}");
        }
    }

    #[test]
    fn tiny_and_huge_numbers() {
        // Slow rates with long time units.
        let a = Arrivals::ramping(
            Segment::full(),
            0,
            &[s(3600, 60)],
            Duration::from_secs(3600),
        )
        .collect::<Vec<_>>();
        assert_eq!(a.len(), 29);
        assert_schedule(&a, Duration::from_secs(3600));
        // Huge numbers saturate instead of overflowing.
        let total = Arrivals::constant_total(u64::MAX, Duration::from_nanos(1), Duration::MAX);
        assert_eq!(total, u64::MAX);
        let total = Arrivals::ramping_total(
            u64::MAX,
            &[Stage {
                duration: Duration::MAX,
                target: u64::MAX,
            }],
            Duration::from_nanos(1),
        );
        assert_eq!(total, u64::MAX);
        let mut huge = Arrivals::ramping(
            Segment::full(),
            1,
            &[Stage {
                duration: Duration::MAX,
                target: u64::MAX,
            }],
            Duration::from_secs(1),
        );
        let first: Vec<(u64, Duration)> = huge.by_ref().take(3).collect();
        assert_eq!(first[0], (0, Duration::ZERO));
        assert!(first[1].1 <= first[2].1);
    }
}
