//! A small, fast, reproducible pseudo-random generator (SplitMix64) for scenario choices.
//!
//! Load tests want variety (which product to view, which task to run) but also runs that can be
//! repeated: [`Rng::for_iteration`] seeds from the VU id and iteration number, so VU 7's iteration 42 makes
//! the same choices in every run. Not suitable for anything secret.
//!
//! ```no_run
//! use stampede_sdk::rng::Rng;
//!
//! let mut rng = Rng::for_iteration();
//! let product_id = rng.between(1, 20);
//! let coin = rng.chance(0.5);
//! ```

/// Stream used by [`Rng::for_iteration`]; [`crate::Tasks`] uses its own stream so that its choice is not
/// correlated with the scenario's own draws in the same iteration.
pub(crate) const DEFAULT_STREAM: u64 = 0;

/// SplitMix64's increment: the odd integer closest to 2^64 / golden ratio.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 generator. Cheap to create (one `u64`), so make one where you need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator with an explicit seed.
    pub const fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// A generator seeded from this VU's id and current iteration: reproducible across runs.
    pub fn for_iteration() -> Self {
        Self::for_stream(DEFAULT_STREAM)
    }

    /// Like [`for_iteration`](Rng::for_iteration), but a different `stream` gives an independent sequence
    /// for the same VU and iteration.
    pub fn for_stream(stream: u64) -> Self {
        Self::seeded(crate::context::vu_id(), crate::context::iteration(), stream)
    }

    /// The generator [`for_stream`](Rng::for_stream) builds, from explicit values (pure; for tests).
    pub fn seeded(vu_id: u64, iteration: u64, stream: u64) -> Self {
        let seed =
            mix(vu_id.wrapping_mul(GAMMA) ^ mix(iteration ^ mix(stream.wrapping_add(GAMMA))));
        Rng::new(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A number in `0..n`. Panics if `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): empty range");
        // Multiply-high maps 64 random bits onto 0..n with a bias below n / 2^64: negligible here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`. Panics if `low > high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "Rng::between({low}, {high}): empty range");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(), // the full u64 range
        }
    }

    /// A float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A random element of `items`, or `None` if it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }
}

/// SplitMix64's output function (a 64-bit finalizer with good avalanche).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (the published reference sequence).
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn seeding_is_reproducible_and_distinct() {
        assert_eq!(Rng::seeded(1, 2, 0), Rng::seeded(1, 2, 0));
        assert_ne!(Rng::seeded(1, 2, 0), Rng::seeded(2, 1, 0));
        assert_ne!(Rng::seeded(1, 2, 0), Rng::seeded(1, 3, 0));
        assert_ne!(Rng::seeded(1, 2, 0), Rng::seeded(1, 2, 1));
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut rng = Rng::new(42);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = rng.between(3, 7);
            assert!((3..=7).contains(&v));
            seen[(v - 3) as usize] = true;
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(
            seen.iter().all(|s| *s),
            "every value of a small range shows up"
        );
        assert_eq!(rng.between(9, 9), 9);
        let _ = rng.between(0, u64::MAX);
        assert_eq!(rng.pick::<u8>(&[]), None);
        assert_eq!(rng.pick(&["only"]), Some(&"only"));
        assert!(!rng.chance(0.0));
        assert!(rng.chance(1.0));
    }
}
