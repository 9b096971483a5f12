//! `[scenarios.NAME]`: one workload of the plan: its executor and the settings every executor shares.
//!
//! ```toml
//! [scenarios.browse]
//! executor = "constant-vus"  # required, see the executor module for each one's keys
//! vus = 50
//! duration = "10s"
//! graceful-stop = "30s"      # default 30s: how long running iterations may finish after the end
//! start-time = "0s"          # default 0s: offset from the start of the run
//! exec = "browse"            # the name passed to the guest's iteration(); default: the scenario's key
//! tags = { flow = "shop" }   # added to every metric of this scenario
//! isolation = "instance"     # default; "shared": many VUs as async calls in one instance
//! vus-per-instance = 1000    # shared isolation only: VUs per instance (default 1000)
//! pause = "1s"               # think time between iterations, or a range ["1s", "3s"]; VU executors only
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stampede_metrics::TagSet;
use toml::Value;

use crate::executor::{EXECUTORS, Executor};
use crate::pause::Pause;
use crate::reader::{Reader, describe, or, suggest};
use crate::units::format_duration;

/// Default `graceful-stop` (k6's): time for iterations in flight to finish once a scenario ends.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// Default `vus-per-instance` for shared isolation.
pub const DEFAULT_VUS_PER_INSTANCE: u32 = 1000;
/// The largest `vus-per-instance`: each VU holds a few component-model handles in its instance's store.
pub const MAX_VUS_PER_INSTANCE: u64 = 20_000;

/// How a scenario's VUs map to component instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// One instance per VU (the default): nothing is shared, a trap ends only its own VU.
    #[default]
    Instance,
    /// Up to `vus-per-instance` VUs as concurrent async calls in one instance. Needs a component built
    /// for a shared world (`scenario-shared` or `scenario-shared-futures`); guest globals are shared and a trap ends every VU of the
    /// instance (they are then recreated).
    Shared,
}

impl Isolation {
    /// The plan's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Instance => "instance",
            Isolation::Shared => "shared",
        }
    }
}

/// One scenario of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Scenario {
    /// The scenario's key in `[scenarios]` (`[A-Za-z0-9_-]+`).
    pub name: String,
    /// The name passed to the guest's `iteration()` (defaults to `name`; several scenarios may share one).
    pub exec: String,
    /// How VUs and iterations are scheduled.
    pub executor: Executor,
    /// When the scenario starts, from the start of the run.
    pub start_time: Duration,
    /// How long iterations in flight may run on after the executor's end before they are interrupted.
    pub graceful_stop: Duration,
    /// Tags added to every metric recorded by this scenario.
    pub tags: TagSet,
    /// One instance per VU, or many VUs per instance.
    #[serde(default)]
    pub isolation: Isolation,
    /// With shared isolation: how many VUs one instance hosts at most.
    #[serde(default = "default_vus_per_instance")]
    pub vus_per_instance: u32,
    /// The VU's pause between two iterations (none by default). Only the executors whose VUs loop
    /// (not the arrival-rate ones) take one.
    #[serde(default)]
    pub pause: Pause,
}

fn default_vus_per_instance() -> u32 {
    DEFAULT_VUS_PER_INSTANCE
}

/// Checks a scenario name: non-empty, letters, digits, `_` and `-` only (it appears in metric tags, URLs
/// and file names).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "a scenario name must not be empty; name it like [scenarios.browse]".to_owned(),
        );
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(format!(
            "invalid scenario name \"{name}\": {c:?} is not allowed; use letters, digits, `_` and `-`"
        )),
        None => Ok(()),
    }
}

/// Checks `exec`: the name of the guest's scenario function must not be blank.
pub(crate) fn check_exec(exec: &str, scenario: &str) -> Result<(), String> {
    if exec.trim().is_empty() {
        return Err(format!(
            "must not be empty: it is the name passed to the guest's iteration(); leave it out to use the scenario name \"{scenario}\""
        ));
    }
    Ok(())
}

/// Checks a tag name: `[A-Za-z_][A-Za-z0-9_]*`, so it works in selectors (`metric{name:value}`) and as a
/// Prometheus label.
fn check_tag_name(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid tag name \"{name}\": use letters, digits and `_`, starting with a letter or `_`"
        ))
    }
}

impl Scenario {
    /// Reads the scenario `name` from its table. Problems are recorded in `r`; `None` when the executor is
    /// missing or unknown.
    pub(crate) fn read(name: &str, r: &mut Reader<'_>) -> Option<Scenario> {
        let executor_name = r.string("executor");
        let exec = match r.string("exec") {
            Ok(Some(exec)) => {
                if let Err(message) = check_exec(exec, name) {
                    r.error("exec", message);
                }
                exec
            }
            _ => name,
        };
        let start_time = or(r.duration("start-time"), Duration::ZERO);
        let graceful_stop = or(r.duration("graceful-stop"), DEFAULT_GRACEFUL_STOP);
        let tags = read_tags(r);
        let isolation = match r.string("isolation") {
            Ok(Some("instance")) | Ok(None) | Err(_) => Isolation::Instance,
            Ok(Some("shared")) => Isolation::Shared,
            Ok(Some(other)) => {
                r.error(
                    "isolation",
                    format!(
                        "unknown isolation \"{other}\": use \"instance\" (one instance per VU, the default) or \"shared\" (many VUs per instance)"
                    ),
                );
                Isolation::Instance
            }
        };
        let vus_per_instance = match r.u64("vus-per-instance") {
            Ok(Some(n)) if !(1..=MAX_VUS_PER_INSTANCE).contains(&n) => {
                r.error(
                    "vus-per-instance",
                    format!("must be between 1 and {MAX_VUS_PER_INSTANCE}, found {n}"),
                );
                DEFAULT_VUS_PER_INSTANCE
            }
            Ok(Some(n)) => {
                if isolation == Isolation::Instance {
                    r.error(
                        "vus-per-instance",
                        "only applies with isolation = \"shared\" (with the default isolation every VU has its own instance)",
                    );
                }
                n as u32
            }
            _ => DEFAULT_VUS_PER_INSTANCE,
        };
        let pause = Pause::read(r);

        let executor = match executor_name {
            Ok(Some(executor_name)) => match Executor::read(executor_name, r) {
                Some(executor) => {
                    r.problems(executor.validate());
                    report_keys_of_other_executors(executor_name, r);
                    Some(executor)
                }
                None => {
                    r.error("executor", unknown_executor_message(executor_name));
                    tolerate_executor_keys(r);
                    None
                }
            },
            Ok(None) => {
                let message = format!(
                    "missing required key `executor` (one of: {})",
                    EXECUTORS.join(", ")
                );
                r.missing("executor", message);
                tolerate_executor_keys(r);
                None
            }
            Err(_) => {
                tolerate_executor_keys(r);
                None
            }
        };
        let executor = executor?;
        if let Some(message) = pauses_overrun(&executor, &pause) {
            r.error("pause", message);
        }
        if !pause.is_zero() && executor.is_arrival_rate() {
            r.error(
                "pause",
                format!(
                    "{} starts iterations at the plan's rate, so a pause between them would only hold VUs back; remove `pause`, or use a VU executor (constant-vus, ramping-vus, per-vu-iterations, shared-iterations)",
                    executor.name()
                ),
            );
        }
        Some(Scenario {
            name: name.to_owned(),
            exec: exec.to_owned(),
            executor,
            start_time,
            graceful_stop,
            tags,
            isolation,
            vus_per_instance,
            pause,
        })
    }

    /// Component instances this scenario needs for `vus` VUs at most.
    pub fn instances_for(&self, vus: u64) -> u64 {
        match self.isolation {
            Isolation::Instance => vus,
            Isolation::Shared => vus.div_ceil(u64::from(self.vus_per_instance)),
        }
    }
}

/// With an iteration executor, a VU that must run `n` iterations waits `n - 1` pauses: when those
/// alone outlast `max-duration`, the plan can never run its iterations (they would be cut short
/// silently), so it is refused.
pub(crate) fn pauses_overrun(executor: &Executor, pause: &Pause) -> Option<String> {
    let (per_vu, max_duration) = match executor {
        Executor::PerVuIterations(e) => (e.iterations, e.max_duration),
        Executor::SharedIterations(e) => (e.iterations.div_ceil(e.vus.max(1)), e.max_duration),
        _ => return None,
    };
    let pauses = per_vu.saturating_sub(1);
    let least = pause
        .min
        .saturating_mul(u32::try_from(pauses).unwrap_or(u32::MAX));
    if pause.min.is_zero() || least < max_duration {
        return None;
    }
    Some(format!(
        "a VU runs {per_vu} iterations here, so it waits {pauses} pauses of at least {} = {} or more, which is not less than max-duration {}: raise max-duration or shorten the pause",
        format_duration(pause.min),
        format_duration(least),
        format_duration(max_duration)
    ))
}

fn read_tags(r: &mut Reader<'_>) -> TagSet {
    let Ok(Some(mut tr)) = r.table("tags") else {
        return TagSet::empty();
    };
    let mut tags = Vec::new();
    for (key, value) in tr.entries() {
        if let Err(message) = check_tag_name(key) {
            tr.error(key, message);
        }
        match value {
            Value::String(s) => tags.push((key, s.as_str())),
            other => {
                tr.error(
                    key,
                    format!(
                        "tag values must be strings, found {} (quote it)",
                        describe(other)
                    ),
                );
            }
        }
    }
    let errors = tr.finish();
    r.absorb("tags", errors);
    TagSet::new(tags)
}

fn unknown_executor_message(name: &str) -> String {
    let supported = EXECUTORS.join(", ");
    match suggest(name, EXECUTORS.iter().copied()) {
        Some(best) => format!(
            "unknown executor \"{name}\"; did you mean \"{best}\"? (supported: {supported})"
        ),
        None => format!("unknown executor \"{name}\" (supported: {supported})"),
    }
}

/// Keys that some executor reads: when the executor itself is unusable they are not reported as unknown,
/// since they may well be right for the executor that was meant.
fn tolerate_executor_keys(r: &mut Reader<'_>) {
    for key in r.unread_keys() {
        if EXECUTORS.iter().any(|e| Executor::keys(e).contains(&key)) {
            r.mark_read(key);
        }
    }
}

/// A key of another executor (`iterations` on a `constant-vus`) gets a message naming who uses it.
fn report_keys_of_other_executors(executor: &str, r: &mut Reader<'_>) {
    for key in r.unread_keys() {
        let users: Vec<&str> = EXECUTORS
            .iter()
            .copied()
            .filter(|e| Executor::keys(e).contains(&key))
            .collect();
        if !users.is_empty() {
            r.mark_read(key);
            r.error(
                key,
                format!(
                    "`{key}` is not a setting of {executor} (it is used by {})",
                    users.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{ConstantVus, SharedIterations};

    fn read(name: &str, text: &str) -> (Option<Scenario>, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, crate::reader::join("scenarios", name));
        let scenario = Scenario::read(name, &mut r);
        (
            scenario,
            r.finish().iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn reads_isolation() {
        let (s, errors) = read("a", "executor = \"constant-vus\"\nduration = \"1s\"");
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!(s.isolation, Isolation::Instance);
        assert_eq!(s.instances_for(10), 10);

        let text = "executor = \"constant-vus\"\nduration = \"1s\"\nisolation = \"shared\"\nvus-per-instance = 4";
        let (s, errors) = read("a", text);
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!((s.isolation, s.vus_per_instance), (Isolation::Shared, 4));
        assert_eq!(s.instances_for(10), 3);

        let text = "executor = \"constant-vus\"\nduration = \"1s\"\nisolation = \"dense\"";
        let (_, errors) = read("a", text);
        assert!(
            errors[0].contains("unknown isolation \"dense\""),
            "{errors:?}"
        );

        let text = "executor = \"constant-vus\"\nduration = \"1s\"\nvus-per-instance = 8";
        let (_, errors) = read("a", text);
        assert!(
            errors[0].contains("only applies with isolation = \"shared\""),
            "{errors:?}"
        );

        let text = "executor = \"constant-vus\"\nduration = \"1s\"\nisolation = \"shared\"\nvus-per-instance = 0";
        let (_, errors) = read("a", text);
        assert!(errors[0].contains("between 1 and 20000"), "{errors:?}");
    }

    #[test]
    fn reads_common_settings_with_defaults() {
        let (s, errors) = read("browse", "executor = \"constant-vus\"\nduration = \"10s\"");
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!(s.exec, "browse");
        assert_eq!(s.start_time, Duration::ZERO);
        assert_eq!(s.graceful_stop, DEFAULT_GRACEFUL_STOP);
        assert!(s.tags.is_empty());
        assert_eq!(
            s.executor,
            Executor::ConstantVus(ConstantVus {
                vus: 1,
                duration: Duration::from_secs(10)
            })
        );

        let text = r#"
            executor = "shared-iterations"
            vus = 2
            iterations = 4
            exec = "checkout"
            start-time = "5s"
            graceful-stop = "0s"
            tags = { flow = "shop", tier = "gold" }
        "#;
        let (s, errors) = read("pool", text);
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!(s.exec, "checkout");
        assert_eq!(s.start_time, Duration::from_secs(5));
        assert_eq!(s.graceful_stop, Duration::ZERO);
        assert_eq!(s.tags, TagSet::new([("flow", "shop"), ("tier", "gold")]));
        let want = SharedIterations {
            vus: 2,
            iterations: 4,
            max_duration: Duration::from_secs(600),
        };
        assert_eq!(s.executor, Executor::SharedIterations(want));
    }

    #[test]
    fn reads_a_pause_for_vu_executors_only() {
        let text = "executor = \"constant-vus\"\nduration = \"1s\"\npause = [\"1s\", \"2s\"]";
        let (s, errors) = read("a", text);
        assert!(errors.is_empty(), "{errors:?}");
        let s = s.unwrap();
        assert_eq!(
            (s.pause.min, s.pause.max),
            (Duration::from_secs(1), Duration::from_secs(2))
        );

        let text = "executor = \"constant-arrival-rate\"\nrate = 10\nduration = \"1s\"\npre-allocated-vus = 2\npause = \"1s\"";
        let (_, errors) = read("a", text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "scenarios.a.pause: constant-arrival-rate starts iterations at the plan's rate"
            ),
            "{errors:?}"
        );
        // Iteration executors: the pauses alone must fit in max-duration.
        let text = "executor = \"per-vu-iterations\"\niterations = 61\npause = \"10s\"";
        let (_, errors) = read("a", text);
        assert_eq!(
            errors,
            [
                "scenarios.a.pause: a VU runs 61 iterations here, so it waits 60 pauses of at least 10s = 10m or more, which is not less than max-duration 10m: raise max-duration or shorten the pause"
            ]
        );
        let text = "executor = \"per-vu-iterations\"\niterations = 60\npause = \"10s\"";
        assert!(read("a", text).1.is_empty());
        let text = "executor = \"shared-iterations\"\nvus = 2\niterations = 9\nmax-duration = \"4s\"\npause = [\"1s\", \"5s\"]";
        let (_, errors) = read("a", text);
        assert!(
            errors[0].contains(
                "a VU runs 5 iterations here, so it waits 4 pauses of at least 1s = 4s or more"
            ),
            "{errors:?}"
        );

        let text = "executor = \"constant-arrival-rate\"\nrate = 10\nduration = \"1s\"\npre-allocated-vus = 2\npause = \"0s\"";
        let (_, errors) = read("a", text);
        assert!(errors.is_empty(), "a zero pause is no pause: {errors:?}");
    }

    #[test]
    fn reports_executor_problems() {
        let (s, errors) = read(
            "a",
            "executor = \"externally-controlled\"\nvus = 3\nstart-vus = 0\nmax-vu = 1",
        );
        assert!(s.is_none());
        assert_eq!(
            errors,
            [
                "scenarios.a.executor: unknown executor \"externally-controlled\" (supported: constant-vus, ramping-vus, per-vu-iterations, shared-iterations, constant-arrival-rate, ramping-arrival-rate)",
                "scenarios.a.max-vu: unknown key `max-vu`; expected one of: executor, exec, start-time, graceful-stop, tags, isolation, vus-per-instance, pause",
            ]
        );
        let (_, errors) = read("a", "executor = \"constant-vu\"");
        assert_eq!(
            errors,
            [
                "scenarios.a.executor: unknown executor \"constant-vu\"; did you mean \"constant-vus\"? (supported: constant-vus, ramping-vus, per-vu-iterations, shared-iterations, constant-arrival-rate, ramping-arrival-rate)"
            ]
        );
        let (_, errors) = read("a", "vus = 2");
        assert_eq!(
            errors,
            [
                "scenarios.a.executor: missing required key `executor` (one of: constant-vus, ramping-vus, per-vu-iterations, shared-iterations, constant-arrival-rate, ramping-arrival-rate)"
            ]
        );
        let (_, errors) = read(
            "a",
            "executor = \"constant-vus\"\niterations = 2\nduration = \"1s\"",
        );
        assert_eq!(
            errors,
            [
                "scenarios.a.iterations: `iterations` is not a setting of constant-vus (it is used by per-vu-iterations, shared-iterations)"
            ]
        );
        let (_, errors) = read(
            "a",
            "executor = \"ramping-vus\"\nduration = \"1s\"\nstages = [{ duration = \"1s\", target = 1 }]\nmax-vus = 3",
        );
        assert_eq!(
            errors,
            [
                "scenarios.a.duration: `duration` is not a setting of ramping-vus (it is used by constant-vus, constant-arrival-rate)",
                "scenarios.a.max-vus: `max-vus` is not a setting of ramping-vus (it is used by constant-arrival-rate, ramping-arrival-rate)",
            ]
        );
    }

    #[test]
    fn reports_every_bad_common_setting() {
        let text = r#"
            executor = "per-vu-iterations"
            exec = " "
            vus = 0
            start-time = "soon"
            tags = { flow = 1, "bad-name" = "x" }
            iterations = "5"
        "#;
        let (_, errors) = read("a", text);
        assert_eq!(
            errors,
            [
                "scenarios.a.exec: must not be empty: it is the name passed to the guest's iteration(); leave it out to use the scenario name \"a\"",
                "scenarios.a.vus: must be at least 1, found 0",
                "scenarios.a.start-time: invalid duration \"soon\": expected a number before \"soon\" (write e.g. \"30s\", \"1m30s\" or \"500ms\")",
                "scenarios.a.tags.flow: tag values must be strings, found integer 1 (quote it)",
                "scenarios.a.tags.bad-name: invalid tag name \"bad-name\": use letters, digits and `_`, starting with a letter or `_`",
                "scenarios.a.iterations: expected a whole number, found string \"5\"",
            ]
        );
    }

    #[test]
    fn names() {
        for ok in ["browse", "a-b_c", "X1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        assert!(check_name("").is_err());
        assert_eq!(
            check_name("my flow").unwrap_err(),
            "invalid scenario name \"my flow\": ' ' is not allowed; use letters, digits, `_` and `-`"
        );
    }
}
