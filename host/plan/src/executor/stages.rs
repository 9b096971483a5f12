//! `stages`: the piecewise-linear profile shared by `ramping-vus` (a VU count) and `ramping-arrival-rate`
//! (a rate per time-unit).
//!
//! ```toml
//! stages = [
//!     { duration = "30s", target = 20 },  # from the start value to 20 over 30s
//!     { duration = "1m", target = 20 },   # hold 20 for 1m
//!     { duration = "0s", target = 50 },   # jump to 50 at once
//!     { duration = "30s", target = 0 },   # down to 0 over 30s
//! ]
//! ```
//!
//! Each stage moves the value linearly from the previous stage's target (the executor's start value for the
//! first stage) to its own `target` over its `duration`. A stage of `"0s"` is a step (k6 allows them too).
//! Reading reports every bad stage at its own path (`scenarios.ramp.stages[1].target`); validation checks
//! the array as a whole.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::reader::{Field, Problem, Reader, describe};
use crate::units::format_duration;

/// The key both ramping executors read their stages from.
pub(crate) const KEY: &str = "stages";

/// One stage of a ramping executor: move linearly to `target` over `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stage {
    /// How long the ramp takes (zero is a step to `target`).
    pub duration: Duration,
    /// The value at the end of the stage: VUs for `ramping-vus`, iterations per time-unit for
    /// `ramping-arrival-rate`.
    pub target: u64,
}

impl Stage {
    /// A stage of `secs` seconds towards `target` (a shorthand for tests and examples).
    pub fn secs(secs: u64, target: u64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            target,
        }
    }
}

/// A substitute for a stage that could not be read: it passes every check of the whole array (a positive
/// duration and a non-zero target), so one mistake is reported once.
const SUBSTITUTE: Stage = Stage {
    duration: Duration::from_secs(1),
    target: 1,
};

/// Reads `stages` (required): an array of `{ duration, target }` tables. `target_hint` says what a target
/// means for this executor. Problems are recorded at the stage's path; bad stages are replaced by
/// [`SUBSTITUTE`] so later stages keep their index.
pub(crate) fn read(r: &mut Reader<'_>, target_hint: &str) -> Vec<Stage> {
    let items = r.array(KEY);
    let example = r#"e.g. stages = [{ duration = "30s", target = 10 }]"#;
    let Ok(items) = r.require(KEY, items, &format!("the ramp, {example}")) else {
        return vec![SUBSTITUTE];
    };
    let base = r.key_path(KEY);
    let mut stages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{base}[{i}]");
        let Value::Table(table) = item else {
            let message = format!(
                r#"expected a stage table such as {{ duration = "30s", target = 10 }}, found {}"#,
                describe(item)
            );
            r.error_at(KEY, path, message);
            stages.push(SUBSTITUTE);
            continue;
        };
        let mut sr = Reader::new(table, path);
        let duration: Field<Duration> = sr.duration("duration");
        let target = sr.u64("target");
        let duration = sr.require(
            "duration",
            duration,
            r#"how long the stage lasts, e.g. duration = "30s""#,
        );
        let target = sr.require("target", target, target_hint);
        stages.push(match (duration, target) {
            (Ok(duration), Ok(target)) => Stage { duration, target },
            _ => SUBSTITUTE,
        });
        // Other keys are reported as unknown, with a suggestion for a typo of `duration` or `target`.
        r.absorb(KEY, sr.finish());
    }
    stages
}

/// Checks the array as a whole: at least one stage, some time in total, and (with `start`, the value before
/// the first stage) some non-zero value, else the scenario would do nothing. `what` names the start key and
/// the consequence, e.g. `("start-vus", "would never run a VU")`.
pub(crate) fn validate(
    stages: &[Stage],
    start: u64,
    (start_key, nothing): (&str, &str),
    problems: &mut Vec<Problem>,
) {
    if stages.is_empty() {
        let message =
            r#"at least one stage is needed, e.g. stages = [{ duration = "30s", target = 10 }]"#;
        problems.push((KEY, message.to_owned()));
        return;
    }
    if total_duration(stages).is_zero() {
        problems.push((
            KEY,
            "the stages last 0s in total: give at least one stage a duration".to_owned(),
        ));
    }
    if start == 0 && stages.iter().all(|s| s.target == 0) {
        problems.push((
            KEY,
            format!(
                "{start_key} and every stage target are 0: the scenario {nothing}; raise a target"
            ),
        ));
    }
}

/// The sum of the stage durations (saturating).
pub(crate) fn total_duration(stages: &[Stage]) -> Duration {
    stages
        .iter()
        .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration))
}

/// The largest of `start` and the targets.
pub(crate) fn peak(start: u64, stages: &[Stage]) -> u64 {
    stages.iter().map(|s| s.target).fold(start, u64::max)
}

/// `d` in nanoseconds, saturated to `u64` (about 584 years): the timelines compute in `u64` nanoseconds so
/// that products of two such numbers fit in `u128` exactly.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The stages in words, e.g. `0 -> 200 VUs over 15s, 200 for 1m, 200 -> 50 at once`; `first_target`
/// renders the first stage's target with its unit (`"200 VUs"`), later targets are bare numbers.
pub(crate) fn describe_stages(
    start: u64,
    stages: &[Stage],
    first_target: impl Fn(u64) -> String,
) -> String {
    let mut from = start;
    let mut parts = Vec::with_capacity(stages.len());
    for (i, s) in stages.iter().enumerate() {
        let target = if i == 0 {
            first_target(s.target)
        } else {
            s.target.to_string()
        };
        let part = if s.duration.is_zero() {
            format!("{from} -> {target} at once")
        } else if s.target == from {
            format!("{target} for {}", format_duration(s.duration))
        } else {
            format!("{from} -> {target} over {}", format_duration(s.duration))
        };
        parts.push(part);
        from = s.target;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_stages(text: &str) -> (Vec<Stage>, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "scenarios.ramp");
        let stages = read(&mut r, "the target");
        let mut problems = Vec::new();
        validate(
            &stages,
            0,
            ("start-vus", "would never run a VU"),
            &mut problems,
        );
        r.problems(problems);
        let errors = r.finish().iter().map(ToString::to_string).collect();
        (stages, errors)
    }

    #[test]
    fn reads_stages() {
        let (stages, errors) = read_stages(
            r#"stages = [{ duration = "10s", target = 20 }, { duration = "0s", target = 0 }, { target = 5, duration = "1m" }]"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            stages,
            [Stage::secs(10, 20), Stage::secs(0, 0), Stage::secs(60, 5)]
        );
        assert_eq!(total_duration(&stages), Duration::from_secs(70));
        assert_eq!(peak(3, &stages), 20);
        assert_eq!(
            describe_stages(0, &stages, |n| format!("{n} VUs")),
            "0 -> 20 VUs over 10s, 20 -> 0 at once, 0 -> 5 over 1m"
        );
        assert_eq!(
            describe_stages(5, &[Stage::secs(30, 5)], |n| format!("{n}/s")),
            "5/s for 30s"
        );
    }

    #[test]
    fn reports_every_bad_stage_at_its_path() {
        let (stages, errors) = read_stages(
            r#"stages = [
                { duration = "10s", target = 20 },
                { duration = "10s", target = -1 },
                5,
                { duration = 10, targte = 3 },
                { duration = "5s", target = 0, extra = true },
            ]"#,
        );
        assert_eq!(
            errors,
            [
                "scenarios.ramp.stages[1].target: must not be negative, found -1",
                "scenarios.ramp.stages[2]: expected a stage table such as { duration = \"30s\", target = 10 }, found integer 5",
                "scenarios.ramp.stages[3].duration: expected a duration string such as \"30s\" or \"1m30s\", found integer 10",
                "scenarios.ramp.stages[3].targte: unknown key `targte`; did you mean `target`?",
                "scenarios.ramp.stages[3].target: missing required key `target` (the target)",
                "scenarios.ramp.stages[4].extra: unknown key `extra`; expected one of: duration, target",
            ]
        );
        // Bad stages keep their place, so indices stay those of the file.
        assert_eq!(stages.len(), 5);
        assert_eq!(stages[4], Stage::secs(5, 0));
    }

    #[test]
    fn checks_the_whole_array() {
        let (_, errors) = read_stages("stages = []");
        assert_eq!(
            errors,
            [
                "scenarios.ramp.stages: at least one stage is needed, e.g. stages = [{ duration = \"30s\", target = 10 }]"
            ]
        );
        let (_, errors) = read_stages(r#"stages = [{ duration = "0s", target = 0 }]"#);
        assert_eq!(
            errors,
            [
                "scenarios.ramp.stages: the stages last 0s in total: give at least one stage a duration",
                "scenarios.ramp.stages: start-vus and every stage target are 0: the scenario would never run a VU; raise a target",
            ]
        );
        let (stages, errors) = read_stages("");
        assert_eq!(
            errors,
            [
                "scenarios.ramp.stages: missing required key `stages` (the ramp, e.g. stages = [{ duration = \"30s\", target = 10 }])"
            ]
        );
        assert_eq!(stages, [SUBSTITUTE]);
        let (_, errors) = read_stages("stages = { duration = \"1s\" }");
        assert_eq!(
            errors,
            ["scenarios.ramp.stages: expected an array, found a table"]
        );
    }

    #[test]
    fn nanos_saturate() {
        assert_eq!(nanos(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
