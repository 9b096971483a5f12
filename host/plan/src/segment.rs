//! Execution segments: which share of the fleet's load a worker runs, as exact fractions.
//!
//! The coordinator cuts `[0, 1)` into adjacent [`Segment`]s, one per worker (evenly or weighted by
//! capacity). A worker then takes, for every number in the plan (VUs, iterations, a ramp's VU count at each
//! moment), its [`Segment::scale`]d share: `floor(total * to) - floor(total * from)`. Because adjacent
//! segments share their boundary, the shares of a split always add up to the total exactly, with no
//! rounding drift and no coordination between workers. [`Segment::index_range`] gives the same share as a
//! range of indices, which makes fleet-unique VU ids. The iterations of arrival-rate scenarios are
//! striped instead, one by one, so that each worker's share is spread evenly over time: see
//! [`owns`](crate::owns).
//!
//! ```
//! use stampede_plan::Segment;
//!
//! let thirds = Segment::split_even(3);
//! let shares: Vec<u64> = thirds.iter().map(|s| s.scale(10)).collect();
//! assert_eq!(shares, [3, 3, 4]);
//! assert_eq!(thirds[1].to_string(), "1/3:2/3");
//! assert_eq!(thirds[2].index_range(10), 6..10);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A non-negative fraction in lowest terms, with a non-zero denominator.
///
/// Displayed and serialized as `"num/den"`, or just `"num"` when the denominator is 1 (`"0"`, `"1"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ratio {
    num: u64,
    den: u64,
}

/// A fraction or segment that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// A fraction with denominator 0.
    #[error("the denominator of a fraction must not be 0")]
    ZeroDenominator,
    /// Text that is not `num/den` (or `from:to` for a segment).
    #[error("cannot parse `{0}`: write a fraction like 1/3 (a segment as from:to, e.g. 0:1/2)")]
    Syntax(String),
    /// A segment that is not within `0 <= from <= to <= 1`.
    #[error("invalid segment {from}:{to}: it needs 0 <= from <= to <= 1")]
    OutOfRange {
        /// The start.
        from: Ratio,
        /// The end.
        to: Ratio,
    },
}

/// The greatest common divisor, at least 1 (so it can always divide).
fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    /// One.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den` in lowest terms.
    pub fn new(num: u64, den: u64) -> Result<Ratio, SegmentError> {
        if den == 0 {
            return Err(SegmentError::ZeroDenominator);
        }
        // At most `den`, so the reduced terms fit a u64 again.
        let g = gcd(u128::from(num), u128::from(den)) as u64;
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The numerator (in lowest terms).
    pub fn num(self) -> u64 {
        self.num
    }

    /// The denominator (in lowest terms, never 0).
    pub fn den(self) -> u64 {
        self.den
    }

    /// `floor(total * self)`, exactly.
    pub fn floor_mul(self, total: u64) -> u128 {
        u128::from(total) * u128::from(self.num) / u128::from(self.den)
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        (u128::from(self.num) * u128::from(other.den))
            .cmp(&(u128::from(other.num) * u128::from(self.den)))
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl FromStr for Ratio {
    type Err = SegmentError;

    /// Parses `"num/den"` or a whole number `"num"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || SegmentError::Syntax(s.to_owned());
        let number = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse::<u64>().map_err(|_| syntax())
        };
        match s.split_once('/') {
            Some((n, d)) => Ratio::new(number(n)?, number(d)?),
            None => Ratio::new(number(s)?, 1),
        }
    }
}

impl TryFrom<String> for Ratio {
    type Error = SegmentError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ratio> for String {
    fn from(r: Ratio) -> String {
        r.to_string()
    }
}

/// A worker's share `[from, to)` of the whole load, `0 <= from <= to <= 1`.
///
/// Build it with [`Segment::new`] (which checks the bounds), [`Segment::full`] or the split functions; the
/// fields are public for reading. Displayed and serialized as `"from:to"` (`"1/3:2/3"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Segment {
    /// Where the share starts (inclusive).
    pub from: Ratio,
    /// Where the share ends (exclusive).
    pub to: Ratio,
}

impl Segment {
    /// The whole load, `[0, 1)`: what a single worker runs.
    pub fn full() -> Self {
        Segment {
            from: Ratio::ZERO,
            to: Ratio::ONE,
        }
    }

    /// `[from, to)`, if `0 <= from <= to <= 1`. An empty segment (`from == to`) is allowed; it owns nothing.
    pub fn new(from: Ratio, to: Ratio) -> Result<Self, SegmentError> {
        if from > to || to > Ratio::ONE {
            return Err(SegmentError::OutOfRange { from, to });
        }
        Ok(Segment { from, to })
    }

    /// `n` adjacent segments of width `1/n` covering `[0, 1)`; empty for `n == 0`.
    pub fn split_even(n: u64) -> Vec<Segment> {
        Segment::full().split(n)
    }

    /// Adjacent segments covering `[0, 1)`, segment `i` of width `weights[i] / sum(weights)` (a zero weight
    /// gives an empty segment). If every weight is zero the split is even, so callers that must not assign
    /// anything to zero-capacity workers filter them out first. Empty for no weights.
    pub fn split_weighted(weights: &[u64]) -> Vec<Segment> {
        let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if sum == 0 {
            return Self::split_even(weights.len() as u64);
        }
        // Keep the sum within u64 (only reachable with absurd weights): drop low bits, keeping every
        // non-zero weight non-zero.
        let shift = (128 - sum.leading_zeros()).saturating_sub(64);
        let weights: Vec<u64> = weights
            .iter()
            .map(|&w| if w == 0 { 0 } else { (w >> shift).max(1) })
            .collect();
        let total: u64 = weights.iter().fold(0u64, |acc, &w| acc.saturating_add(w));
        let mut start = 0u64;
        let mut out = Vec::with_capacity(weights.len());
        for (i, &w) in weights.iter().enumerate() {
            let end = if i + 1 == weights.len() {
                total
            } else {
                start.saturating_add(w).min(total)
            };
            let ratio = |x: u64| Ratio::new(x, total).unwrap_or(Ratio::ONE);
            out.push(Segment {
                from: ratio(start),
                to: ratio(end),
            });
            start = end;
        }
        out
    }

    /// The share of `total` owned by this segment: `floor(total * to) - floor(total * from)`, so the shares of
    /// adjacent segments add up to `total` exactly.
    pub fn scale(&self, total: u64) -> u64 {
        let r = self.index_range(total);
        r.end - r.start
    }

    /// The indices `[floor(total * from), floor(total * to))` this segment owns out of `0..total` (e.g. to give
    /// fleet-unique VU ids). Adjacent segments own adjacent ranges.
    pub fn index_range(&self, total: u64) -> Range<u64> {
        // Both values are at most `total` because the segment lies within [0, 1].
        let clamp = |x: u128| u64::try_from(x).unwrap_or(total).min(total);
        clamp(self.from.floor_mul(total))..clamp(self.to.floor_mul(total))
    }

    /// Whether the segment owns nothing (`from == to`).
    pub fn is_empty(&self) -> bool {
        self.from == self.to
    }

    /// Whether this is the whole load.
    pub fn is_full(&self) -> bool {
        self.from == Ratio::ZERO && self.to == Ratio::ONE
    }

    /// `n` adjacent segments covering exactly this one (a worker's share split among its threads),
    /// each about `1/n` of its width; empty for `n == 0`.
    ///
    /// The ends are this segment's own, and each inner boundary is shared by its two neighbours, so
    /// the parts add up to the whole exactly. An inner boundary whose exact value does not fit a
    /// `u64` fraction is rounded (the parts are then only nearly even).
    pub fn split(&self, n: u64) -> Vec<Segment> {
        // from + (to - from) * k / n over the common denominator den_f * den_t * n.
        let (a, b) = (u128::from(self.from.num), u128::from(self.from.den));
        let (c, d) = (u128::from(self.to.num), u128::from(self.to.den));
        let (lo, hi) = (a * d, c * b);
        let den = b * d * u128::from(n);
        let mut bounds = vec![self.from];
        for k in 1..n {
            let num = lo * u128::from(n) + (hi - lo) * u128::from(k);
            let prev = bounds[bounds.len() - 1];
            bounds.push(ratio_near(num, den).clamp(prev, self.to));
        }
        bounds.push(self.to);
        bounds
            .windows(2)
            .take(n as usize)
            .map(|w| Segment {
                from: w[0],
                to: w[1],
            })
            .collect()
    }
}

/// `num / den` (`num <= den`) in lowest terms, or rounded down to a fraction with a denominator
/// of about 2^32 when it does not fit 64-bit terms.
fn ratio_near(num: u128, den: u128) -> Ratio {
    let g = gcd(num, den);
    let (num, den) = (num / g, den / g);
    if let (Ok(num), Ok(den)) = (u64::try_from(num), u64::try_from(den)) {
        return Ratio::new(num, den).unwrap_or(Ratio::ZERO);
    }
    let scale = den / (1 << 32) + 1;
    let (num, den) = (num / scale, (den / scale).max(1));
    Ratio::new(num as u64, den as u64).unwrap_or(Ratio::ZERO)
}

impl Default for Segment {
    fn default() -> Self {
        Segment::full()
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.from, self.to)
    }
}

impl FromStr for Segment {
    type Err = SegmentError;

    /// Parses `"from:to"`, e.g. `"0:1/3"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (from, to) = s
            .split_once(':')
            .ok_or_else(|| SegmentError::Syntax(s.to_owned()))?;
        Segment::new(from.parse()?, to.parse()?)
    }
}

impl TryFrom<String> for Segment {
    type Error = SegmentError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Segment> for String {
    fn from(s: Segment) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(num: u64, den: u64) -> Ratio {
        Ratio::new(num, den).unwrap()
    }

    /// The segments are adjacent, start at 0 and end at 1.
    fn assert_covers(segments: &[Segment]) {
        assert_eq!(segments.first().unwrap().from, Ratio::ZERO);
        assert_eq!(segments.last().unwrap().to, Ratio::ONE);
        for pair in segments.windows(2) {
            assert_eq!(pair[0].to, pair[1].from);
        }
    }

    #[test]
    fn ratios_reduce_compare_and_print() {
        assert_eq!(r(2, 6), r(1, 3));
        assert_eq!((r(2, 6).num(), r(2, 6).den()), (1, 3));
        assert_eq!(r(0, 5), Ratio::ZERO);
        assert_eq!(r(7, 7), Ratio::ONE);
        assert_eq!(Ratio::new(1, 0), Err(SegmentError::ZeroDenominator));
        assert!(r(1, 3) < r(1, 2));
        assert!(r(2, 3) > r(1, 2));
        assert!(r(u64::MAX - 1, u64::MAX) < Ratio::ONE);
        assert_eq!(r(1, 3).to_string(), "1/3");
        assert_eq!(Ratio::ONE.to_string(), "1");
        assert_eq!("2/4".parse::<Ratio>(), Ok(r(1, 2)));
        assert_eq!("1".parse::<Ratio>(), Ok(Ratio::ONE));
        for bad in ["", "1/", "/2", "a/b", "-1/2", "0.5", "1/2/3"] {
            assert!(bad.parse::<Ratio>().is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_check_bounds_and_parse() {
        assert_eq!(Segment::full().to_string(), "0:1");
        assert!(Segment::full().is_full());
        assert!(Segment::new(r(1, 2), r(1, 3)).is_err());
        assert!(Segment::new(r(1, 2), r(3, 2)).is_err());
        assert!(Segment::new(r(1, 2), r(1, 2)).unwrap().is_empty());
        assert_eq!(
            "1/3:2/3".parse::<Segment>().unwrap(),
            Segment::new(r(1, 3), r(2, 3)).unwrap()
        );
        assert!("1/3".parse::<Segment>().is_err());
        assert!("2/3:1/3".parse::<Segment>().is_err());
    }

    #[test]
    fn scale_and_index_ranges() {
        let halves = Segment::split_even(2);
        assert_eq!(halves[0].scale(5), 2);
        assert_eq!(halves[1].scale(5), 3);
        assert_eq!(halves[0].index_range(5), 0..2);
        assert_eq!(halves[1].index_range(5), 2..5);
        assert_eq!(Segment::full().scale(u64::MAX), u64::MAX);
        assert_eq!(Segment::full().scale(0), 0);
        assert_eq!(
            Segment::split_even(3)[2].scale(u64::MAX),
            u64::MAX - 2 * (u64::MAX / 3)
        );
    }

    #[test]
    fn even_splits_always_add_up() {
        assert!(Segment::split_even(0).is_empty());
        for n in 1..=40u64 {
            let segments = Segment::split_even(n);
            assert_eq!(segments.len() as u64, n);
            assert_covers(&segments);
            for total in (0..=200u64).chain([1_000, 12_345, u64::MAX / 7, u64::MAX]) {
                let shares: Vec<u64> = segments.iter().map(|s| s.scale(total)).collect();
                assert_eq!(
                    shares.iter().map(|&x| u128::from(x)).sum::<u128>(),
                    u128::from(total),
                    "n={n} total={total}"
                );
                // Even split: shares differ by at most one.
                let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(max - min <= 1, "n={n} total={total} {shares:?}");
                // Index ranges tile 0..total.
                let mut next = 0;
                for s in &segments {
                    let range = s.index_range(total);
                    assert_eq!(range.start, next);
                    next = range.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn weighted_splits_always_add_up() {
        let weight_sets: Vec<Vec<u64>> = vec![
            vec![1],
            vec![1, 1],
            vec![1, 2, 3],
            vec![0, 5, 0, 5],
            vec![7, 0],
            vec![100, 1, 1],
            vec![3, 3, 3, 3, 3, 3, 3],
            vec![u64::MAX, u64::MAX, 1],
            (1..=17).collect(),
        ];
        for weights in &weight_sets {
            let segments = Segment::split_weighted(weights);
            assert_eq!(segments.len(), weights.len());
            assert_covers(&segments);
            for (w, s) in weights.iter().zip(&segments) {
                assert_eq!(*w == 0, s.is_empty(), "{weights:?}");
            }
            for total in (0..=300u64).chain([9_999, u64::MAX]) {
                let sum: u128 = segments.iter().map(|s| u128::from(s.scale(total))).sum();
                assert_eq!(sum, u128::from(total), "{weights:?} total={total}");
            }
        }
        let shares: Vec<u64> = Segment::split_weighted(&[1, 2, 3])
            .iter()
            .map(|s| s.scale(60))
            .collect();
        assert_eq!(shares, [10, 20, 30]);
        assert_eq!(Segment::split_weighted(&[0, 0]), Segment::split_even(2));
        assert!(Segment::split_weighted(&[]).is_empty());
    }

    #[test]
    fn serde_as_strings() {
        let s = Segment::split_even(3)[1];
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#""1/3:2/3""#);
        assert_eq!(serde_json::from_str::<Segment>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Segment>(r#""2/3:1/3""#).is_err());
        assert_eq!(serde_json::to_string(&r(1, 4)).unwrap(), r#""1/4""#);
    }

    #[test]
    fn a_split_covers_the_segment_exactly() {
        let seg = |f: &str, t: &str| Segment::new(f.parse().unwrap(), t.parse().unwrap()).unwrap();
        for s in [
            Segment::full(),
            seg("1/3", "2/3"),
            seg("0", "1/7"),
            seg("5/11", "5/11"),
            seg(
                "1/18446744073709551615",
                "18446744073709551614/18446744073709551615",
            ),
        ] {
            for n in 1..=5 {
                let parts = s.split(n);
                assert_eq!(parts.len() as u64, n);
                assert_eq!(parts[0].from, s.from);
                assert_eq!(parts[parts.len() - 1].to, s.to);
                for w in parts.windows(2) {
                    assert_eq!(w[0].to, w[1].from);
                    assert!(w[0].from <= w[0].to);
                }
                for total in [0, 1, 2, 3, 7, 100, 1_000_003] {
                    for w in parts.windows(2) {
                        assert_eq!(w[0].index_range(total).end, w[1].index_range(total).start);
                    }
                    let sum: u64 = parts.iter().map(|p| p.scale(total)).sum();
                    assert_eq!(sum, s.scale(total), "{s} in {n} parts, total {total}");
                }
            }
        }
        assert!(Segment::full().split(0).is_empty());
        assert_eq!(Segment::full().split(2)[1], seg("1/2", "1"));
    }
}
