//! `pause`: a VU's think time between two iterations, spent by the host rather than in the guest.
//!
//! ```toml
//! [scenarios.browse]
//! executor = "constant-vus"
//! pause = "1s"              # the same pause after every iteration
//! # pause = ["1s", "3s"]    # or drawn uniformly between the two, per VU and iteration
//! ```
//!
//! This works like Locust's `wait_time` (`constant`, `between`) and Goose's `set_wait_time`, with the
//! whole iteration in the place of a task. A guest's own `sleep` at the end of an iteration has the
//! same effect on the load, but the VU then stays inside its guest call; during a pause it has no
//! call in its instance (with shared isolation that saves the call's state, see docs/isolation.md),
//! and a stop or ramp-down ends a pause at once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::reader::{Reader, describe};
use crate::units::parse_duration;

/// A scenario's pause between iterations: `min` to `max`, uniformly (equal for a fixed pause).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// The shortest pause.
    pub min: Duration,
    /// The longest pause (`>= min`).
    pub max: Duration,
}

impl Pause {
    /// The same pause every time.
    pub fn fixed(d: Duration) -> Pause {
        Pause { min: d, max: d }
    }

    /// No pause.
    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }

    /// One pause, drawn with `rng` (a VU's own state; see [`PauseRng`]).
    pub fn draw(&self, rng: &mut PauseRng) -> Duration {
        let span = self.max.saturating_sub(self.min);
        if span.is_zero() {
            return self.min;
        }
        // Nanosecond resolution: uniform over [min, max] up to the rounding of 2^64 / span (spans up
        // to ~584 years fit in u64 nanoseconds; a plan's pause is far below that).
        let span_ns = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        let offset = ((u128::from(rng.next()) * (u128::from(span_ns) + 1)) >> 64) as u64;
        self.min + Duration::from_nanos(offset)
    }

    /// Reads `pause` from a scenario's table: a duration string, or an array of two of them.
    pub(crate) fn read(r: &mut Reader<'_>) -> Pause {
        const KEY: &str = "pause";
        let Some(value) = r.value(KEY) else {
            return Pause::default();
        };
        let result = match value {
            Value::String(s) => parse_duration(s).map(Pause::fixed),
            Value::Array(items) => read_range(items),
            other => Err(format!(
                r#"expected a duration such as "1s", or a range such as ["1s", "3s"], found {}"#,
                describe(other)
            )),
        };
        match result {
            Ok(pause) => pause,
            Err(message) => {
                r.error(KEY, message);
                Pause::default()
            }
        }
    }
}

fn read_range(items: &[Value]) -> Result<Pause, String> {
    let [min, max] = items else {
        return Err(format!(
            r#"a range is two duration strings such as ["1s", "3s"], found {} item(s)"#,
            items.len()
        ));
    };
    let (Value::String(min), Value::String(max)) = (min, max) else {
        let bad = if min.is_str() { max } else { min };
        return Err(format!(
            r#"a range is two duration strings such as ["1s", "3s"], found {}"#,
            describe(bad)
        ));
    };
    let (min, max) = (parse_duration(min)?, parse_duration(max)?);
    if max < min {
        return Err(format!(
            "the range's end ({max:?}) is before its start ({min:?}); write the shorter pause first"
        ));
    }
    Ok(Pause { min, max })
}

/// A VU's random source for its pauses (splitmix64): seeded from the VU's id, so a plan's pauses
/// are the same from run to run, and every VU draws a different sequence.
#[derive(Clone, Debug)]
pub struct PauseRng(u64);

impl PauseRng {
    /// The source of VU `vu_id`.
    pub fn for_vu(vu_id: u64) -> PauseRng {
        PauseRng(vu_id.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0xE703_7ED1_A0B4_28DB)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Pause, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "scenarios.a");
        let pause = Pause::read(&mut r);
        (pause, r.finish().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_a_fixed_pause_a_range_and_nothing() {
        assert_eq!(read(""), (Pause::default(), vec![]));
        assert_eq!(
            read(r#"pause = "1500ms""#),
            (Pause::fixed(Duration::from_millis(1500)), vec![])
        );
        let (p, errors) = read(r#"pause = ["1s", "3s"]"#);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (p.min, p.max),
            (Duration::from_secs(1), Duration::from_secs(3))
        );
        assert!(Pause::default().is_zero());
        assert!(!p.is_zero());
    }

    #[test]
    fn bad_pauses_say_what_to_write() {
        let cases = [
            ("pause = 1", "expected a duration such as \"1s\""),
            (r#"pause = ["1s"]"#, "found 1 item(s)"),
            (
                r#"pause = ["1s", 2]"#,
                "two duration strings such as [\"1s\", \"3s\"], found integer 2",
            ),
            (r#"pause = ["3s", "1s"]"#, "write the shorter pause first"),
            (r#"pause = "soon""#, "invalid duration \"soon\""),
            (r#"pause = ["1s", "-2s"]"#, "must not be negative"),
        ];
        for (text, expected) in cases {
            let (p, errors) = read(text);
            assert_eq!(p, Pause::default(), "{text}");
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert!(errors[0].starts_with("scenarios.a.pause: "), "{errors:?}");
            assert!(errors[0].contains(expected), "{text}: {errors:?}");
        }
    }

    #[test]
    fn draws_stay_in_the_range_and_spread_over_it() {
        let p = Pause {
            min: Duration::from_millis(1000),
            max: Duration::from_millis(3000),
        };
        let mut rng = PauseRng::for_vu(7);
        let draws: Vec<Duration> = (0..10_000).map(|_| p.draw(&mut rng)).collect();
        assert!(draws.iter().all(|d| (p.min..=p.max).contains(d)));
        // Uniform: each fifth of the range gets ~2,000 of the 10,000 draws.
        let mut fifths = [0u32; 5];
        for d in &draws {
            let i = ((d.as_millis() - 1000) * 5 / 2001) as usize;
            fifths[i] += 1;
        }
        assert!(
            fifths.iter().all(|&n| (1800..2200).contains(&n)),
            "{fifths:?}"
        );
        let mean = draws.iter().sum::<Duration>() / draws.len() as u32;
        assert!(mean > Duration::from_millis(1970) && mean < Duration::from_millis(2030));
    }

    #[test]
    fn a_fixed_pause_is_exact_and_vus_draw_different_sequences() {
        let fixed = Pause::fixed(Duration::from_millis(250));
        let mut rng = PauseRng::for_vu(1);
        assert_eq!(fixed.draw(&mut rng), Duration::from_millis(250));

        let p = Pause {
            min: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        let seq = |vu| {
            let mut rng = PauseRng::for_vu(vu);
            (0..4).map(|_| p.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(
            seq(3),
            seq(3),
            "the same VU draws the same pauses in every run"
        );
        assert_ne!(seq(3), seq(4));
        assert_ne!(seq(0), seq(1));
    }
}
