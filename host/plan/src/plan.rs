//! [`Plan`]: the whole test plan, read from TOML by [`parse`] or [`load`].
//!
//! Reading walks the TOML table key by key (see the `reader` module), so one pass reports every problem;
//! the typed values are then checked by the same validation that [`Plan::apply_overrides`] re-runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::reader::{Reader, describe, join, or, quote_str};
use crate::scenario::{check_exec, check_name};
use crate::{Options, Origin, PlanError, PlanErrors, Scenario, Threshold, threshold};

/// A validated test plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// The scenario component (`.wasm`), resolved against the plan file's folder.
    pub component: PathBuf,
    /// Origins the host may send requests to; requests anywhere else are refused and never sent.
    pub targets: Vec<Origin>,
    /// Names of the environment variables the guest may read.
    pub env: Vec<String>,
    /// Parameters passed to the guest, as strings.
    pub params: BTreeMap<String, String>,
    /// Run-wide limits and timeouts.
    pub options: Options,
    /// The scenarios, in file order.
    pub scenarios: Vec<Scenario>,
    /// Pass/fail criteria, in file order.
    pub thresholds: Vec<Threshold>,
}

impl Plan {
    /// The most VUs the plan can need at once: the sum over scenarios of their maximum (conservative: it
    /// ignores that scenarios may not overlap in time).
    pub fn max_vus(&self) -> u64 {
        self.scenarios
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(s.executor.max_vus()))
    }

    /// Component instances the plan needs at most: one per VU, or one per `vus-per-instance` VUs
    /// of a scenario with shared isolation (what a worker's capacity counts).
    pub fn max_instances(&self) -> u64 {
        self.scenarios.iter().fold(0u64, |sum, s| {
            sum.saturating_add(s.instances_for(s.executor.max_vus()))
        })
    }

    /// When the last scenario's planned load ends: the latest `start-time + max duration`, without
    /// graceful stops (which only extend a run whose iterations overrun).
    pub fn planned_end(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time.saturating_add(s.executor.max_duration()))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// How long the run can last: the latest `start-time + max duration + graceful-stop` of its scenarios.
    pub fn total_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| {
                s.start_time
                    .saturating_add(s.executor.max_duration())
                    .saturating_add(s.graceful_stop)
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The scenario named `name`.
    pub fn scenario(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// Applies command-line overrides, like k6's `--vus` and `--duration`: `vus` replaces every scenario's
    /// VUs (the `max-vus` of arrival-rate scenarios, also capping their `pre-allocated-vus`); `duration`
    /// replaces the `duration` of constant-vus and constant-arrival-rate scenarios and the `max-duration`
    /// of iteration-based ones. Scenarios with stages ignore both: the stages say how many VUs (or what
    /// rate) and for how long. The result is validated again; on error the plan is left unchanged.
    pub fn apply_overrides(
        &mut self,
        vus: Option<u64>,
        duration: Option<Duration>,
    ) -> Result<(), PlanErrors> {
        let mut changed = self.clone();
        for scenario in &mut changed.scenarios {
            scenario.executor.apply_overrides(vus, duration);
        }
        changed.validate()?;
        *self = changed;
        Ok(())
    }

    /// Checks the typed plan: what [`parse`] checks beyond the TOML shape (at least one target and scenario,
    /// valid names, executor settings, option ranges). Useful after changing a plan in code.
    pub fn validate(&self) -> Result<(), PlanErrors> {
        let mut errors = Vec::new();
        if self.targets.is_empty() {
            errors.push(PlanError::new("targets", NO_TARGETS));
        }
        for (key, message) in self.options.validate() {
            errors.push(PlanError::new(join("options", key), message));
        }
        if self.scenarios.is_empty() {
            errors.push(PlanError::new("scenarios", NO_SCENARIOS));
        }
        for scenario in &self.scenarios {
            let path = join("scenarios", &scenario.name);
            if let Err(message) = check_name(&scenario.name) {
                errors.push(PlanError::new(path.clone(), message));
            }
            if let Err(message) = check_exec(&scenario.exec, &scenario.name) {
                errors.push(PlanError::new(join(&path, "exec"), message));
            }
            for (key, message) in scenario.executor.validate() {
                errors.push(PlanError::new(join(&path, key), message));
            }
            if let Some(message) =
                crate::scenario::pauses_overrun(&scenario.executor, &scenario.pause)
            {
                errors.push(PlanError::new(join(&path, "pause"), message));
            }
        }
        PlanErrors::check(errors)
    }

    /// The most VU threads a worker running `segment` of this plan can use: each thread runs a
    /// share of every scenario, so no more than the fewest VUs of a scenario there (a thread
    /// without VUs of an arrival-rate scenario would drop its part of the iterations), nor than
    /// `max-connections` (each thread needs a connection of its own).
    pub fn most_threads(&self, segment: &crate::Segment) -> u64 {
        let fewest_vus = self
            .scenarios
            .iter()
            .map(|s| s.executor.for_segment(segment).max_vus())
            .filter(|&vus| vus > 0)
            .min()
            .unwrap_or(1);
        fewest_vus.min(self.options.max_connections.unwrap_or(u64::MAX))
    }

    /// What [`Plan::apply_overrides`] would leave alone, in words, one line per scenario: a
    /// `ramping-vus` scenario takes neither `--vus` nor `--duration`, a `ramping-arrival-rate` one
    /// not `--duration` (their stages say how many and how long).
    pub fn ignored_overrides(&self, vus: bool, duration: bool) -> Vec<String> {
        self.scenarios
            .iter()
            .filter_map(|s| {
                let (takes_vus, takes_duration) = s.executor.takes_overrides();
                let ignored: Vec<&str> = [
                    (vus && !takes_vus, "--vus"),
                    (duration && !takes_duration, "--duration"),
                ]
                .into_iter()
                .filter_map(|(ignored, flag)| ignored.then_some(flag))
                .collect();
                (!ignored.is_empty()).then(|| {
                    format!(
                        "{} {} not apply to scenario `{}` ({}: its stages say {})",
                        ignored.join(" and "),
                        if ignored.len() == 1 { "does" } else { "do" },
                        s.name,
                        s.executor.name(),
                        if takes_vus {
                            "how long"
                        } else {
                            "how many VUs and how long"
                        }
                    )
                })
            })
            .collect()
    }

    /// Whether the absolute `url` goes to one of the plan's targets.
    pub fn allows(&self, url: &str) -> bool {
        self.targets.iter().any(|t| t.matches_url(url))
    }
}

const NO_TARGETS: &str = r#"no targets: list the origins the test may send requests to, e.g. targets = ["http://127.0.0.1:8080"]"#;
const NO_SCENARIOS: &str = r#"no scenarios: add one, e.g. [scenarios.main] with executor = "constant-vus" and duration = "30s""#;

/// Parses and validates a plan, collecting every problem, each with its TOML path. `component` is resolved
/// against `base_dir`; the file system is not touched (see [`load`]).
pub fn parse(text: &str, base_dir: &Path) -> Result<Plan, PlanErrors> {
    read(text, base_dir, false)
}

/// Reads the plan file at `path`, parses it (the component and `options.tls-ca-file` are resolved
/// against the file's folder and made absolute), and also checks that those files exist. Errors
/// name `path`.
pub fn load(path: &Path) -> Result<Plan, PlanErrors> {
    let fail = |message: String| PlanErrors::new(vec![PlanError::new("", message)]).with_file(path);
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the plan: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let hint = if e.as_bytes().starts_with(b"\0asm") {
            ": this is a WebAssembly file; give the plan (TOML) whose `component` names it"
        } else {
            ": a plan is a TOML text file in UTF-8"
        };
        fail(format!("cannot read the plan: it is not UTF-8 text{hint}"))
    })?;
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let base_dir = std::path::absolute(base_dir)
        .map_err(|e| fail(format!("cannot resolve the plan's folder: {e}")))?;
    read(&text, &base_dir, true).map_err(|e| e.with_file(path))
}

/// The problem with a resolved component path, if any.
fn check_component(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    if text.ends_with('/') && Path::new(text.trim_end_matches('/')).is_file() {
        return Some(format!(
            "{} ends with `/`, as a folder would, but names a file: remove the `/`",
            path.display()
        ));
    }
    if path.is_file() {
        None
    } else if path.exists() {
        Some(format!(
            "not a file: {} (point `component` at the scenario's .wasm file)",
            path.display()
        ))
    } else {
        Some(format!(
            "file not found: {} (build the scenario first, see README)",
            path.display()
        ))
    }
}

/// The problem with a resolved PEM file path of `[options]` (`tls-ca-file`, ...), if any.
fn check_pem_file(path: &Path) -> Option<String> {
    if path.is_file() {
        None
    } else {
        Some(format!(
            "file not found: {} (name a PEM file, relative to the plan file)",
            path.display()
        ))
    }
}

/// Parses `text`; with `check_files`, also checks that the files it names (the component,
/// `options.tls-ca-file`) exist (for `load`).
fn read(text: &str, base_dir: &Path, check_files: bool) -> Result<Plan, PlanErrors> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        PlanErrors::new(vec![PlanError::new("", syntax_message(text, &e))])
    })?;
    let mut r = Reader::new(&table, "");

    let component = r.string("component");
    let component = match r.require(
        "component",
        component,
        r#"the scenario's .wasm file, e.g. component = "scenario.wasm""#,
    ) {
        Ok("") => {
            r.error(
                "component",
                "must not be empty: name the scenario's .wasm file",
            );
            PathBuf::new()
        }
        Ok(c) => {
            let resolved = base_dir.join(c);
            if let Some(message) = check_files.then(|| check_component(&resolved)).flatten() {
                r.error("component", message);
            }
            resolved
        }
        Err(_) => PathBuf::new(),
    };
    let targets = read_targets(&mut r);
    let env = read_env(&mut r);
    let params = read_params(&mut r);
    let options = match r.table("options") {
        Ok(Some(mut options_reader)) => {
            let mut options = crate::Options::read(&mut options_reader);
            options_reader.problems(options.validate());
            for (key, file) in [
                ("tls-ca-file", &mut options.tls_ca_file),
                ("tls-client-cert", &mut options.tls_client_cert),
                ("tls-client-key", &mut options.tls_client_key),
            ] {
                if let Some(file) = file
                    && !file.as_os_str().is_empty()
                {
                    *file = base_dir.join(&*file);
                    if let Some(message) = check_files.then(|| check_pem_file(file)).flatten() {
                        options_reader.error(key, message);
                    }
                }
            }
            r.absorb("options", options_reader.finish());
            options
        }
        _ => Options::default(),
    };
    let scenarios = read_scenarios(&mut r);
    let thresholds = match r.table("thresholds") {
        Ok(Some(mut tr)) => {
            let thresholds = threshold::read(&mut tr);
            r.absorb("thresholds", tr.finish());
            thresholds
        }
        _ => Vec::new(),
    };

    PlanErrors::check(r.finish())?;
    Ok(Plan {
        component,
        targets,
        env,
        params,
        options,
        scenarios,
        thresholds,
    })
}

/// `syntax error at line L, column C: <toml's message>`, on one line.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e
        .message()
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let source = text[line_start..].lines().next().unwrap_or("");
            let message = explain_syntax(&message, source);
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

/// toml's `message` in words a plan's author can act on, where it says too little; `source` is
/// the line the error is on.
fn explain_syntax(message: &str, source: &str) -> String {
    let line = source.trim();
    if message == "duplicate key" && line.starts_with('[') {
        return format!("the table {line} is defined twice: merge the two into one");
    }
    if message == "duplicate key" {
        let key = source.split('=').next().unwrap_or("").trim();
        if !key.is_empty() {
            return format!("duplicate key `{key}`: it is set earlier in the same table; keep one");
        }
    }
    if message.contains(" as i128") {
        return "integer too large: TOML integers go up to 9223372036854775807".to_owned();
    }
    message.to_owned()
}

fn read_targets(r: &mut Reader<'_>) -> Vec<Origin> {
    let targets = r.array("targets");
    let Ok(items) = r.require(
        "targets",
        targets,
        NO_TARGETS.trim_start_matches("no targets: "),
    ) else {
        return Vec::new();
    };
    if items.is_empty() {
        r.error("targets", NO_TARGETS);
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("targets[{i}]");
        match item {
            Value::String(s) => match s.parse::<Origin>() {
                Ok(origin) => out.push(origin),
                Err(e) => {
                    let message = format!(
                        r#"{} is not an origin: {e}; write scheme://host[:port], e.g. "http://127.0.0.1:8080""#,
                        quote_str(s)
                    );
                    r.error_at("targets", path, message);
                }
            },
            other => {
                let message = format!(
                    r#"expected an origin such as "http://127.0.0.1:8080", found {}"#,
                    describe(other)
                );
                r.error_at("targets", path, message);
            }
        }
    }
    out
}

fn read_env(r: &mut Reader<'_>) -> Vec<String> {
    let items = or(r.array("env"), &[]);
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("env[{i}]");
        match item {
            Value::String(name) => {
                let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    out.push(name.clone());
                } else {
                    let message = format!(
                        "{} is not an environment variable name: use letters, digits and `_`, starting with a letter or `_`",
                        quote_str(name)
                    );
                    r.error_at("env", path, message);
                }
            }
            other => {
                let message = format!(
                    r#"expected a variable name such as "API_TOKEN", found {}"#,
                    describe(other)
                );
                r.error_at("env", path, message);
            }
        }
    }
    out
}

fn read_params(r: &mut Reader<'_>) -> BTreeMap<String, String> {
    let Ok(Some(mut pr)) = r.table("params") else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (key, value) in pr.entries() {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Float(_) => value.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                let message = format!(
                    "expected a string, number or boolean (params reach the guest as strings), found {}",
                    describe(other)
                );
                pr.error(key, message);
                continue;
            }
        };
        out.insert(key.to_owned(), text);
    }
    r.absorb("params", pr.finish());
    out
}

fn read_scenarios(r: &mut Reader<'_>) -> Vec<Scenario> {
    let scenarios = r.table("scenarios");
    let Ok(mut sr) = r.require(
        "scenarios",
        scenarios,
        NO_SCENARIOS.trim_start_matches("no scenarios: "),
    ) else {
        return Vec::new();
    };
    let entries = sr.entries();
    let mut out = Vec::new();
    for (name, value) in &entries {
        if let Err(message) = check_name(name) {
            sr.error(name, message);
        }
        match value {
            Value::Table(t) => {
                let mut r = Reader::new(t, sr.key_path(name));
                let scenario = Scenario::read(name, &mut r);
                sr.absorb(name, r.finish());
                out.extend(scenario);
            }
            other => {
                sr.type_error(name, "a table such as [scenarios.NAME]", other);
            }
        }
    }
    if entries.is_empty() {
        r.error("scenarios", NO_SCENARIOS);
    }
    r.absorb("scenarios", sr.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConstantVus, Executor, PerVuIterations, SharedIterations};

    const BASE: &str = r#"
        component = "x.wasm"
        targets = ["http://127.0.0.1:18080"]
    "#;

    fn plan(extra: &str) -> Plan {
        parse(&format!("{BASE}{extra}"), Path::new("/plans")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(text: &str) -> Vec<String> {
        parse(text, Path::new("/plans"))
            .unwrap_err()
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn minimal_plan_and_defaults() {
        let p = plan("[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"10s\"");
        assert_eq!(p.component, Path::new("/plans/x.wasm"));
        assert_eq!(p.targets[0].to_string(), "http://127.0.0.1:18080");
        assert!(p.env.is_empty() && p.params.is_empty() && p.thresholds.is_empty());
        assert_eq!(p.options, Options::default());
        assert_eq!(p.max_vus(), 1);
        assert_eq!(p.total_duration(), Duration::from_secs(40));
        assert!(p.allows("http://127.0.0.1:18080/x"));
        assert!(!p.allows("http://127.0.0.1:18081/x"));
        assert!(p.scenario("a").is_some() && p.scenario("b").is_none());
        p.validate().unwrap();
    }

    #[test]
    fn scenarios_keep_file_order_and_totals_add_up() {
        let p = plan(
            r#"
            [scenarios.zeta]
            executor = "constant-vus"
            vus = 5
            duration = "1m"
            [scenarios.alpha]
            executor = "per-vu-iterations"
            vus = 3
            start-time = "2m"
            graceful-stop = "5s"
            [scenarios.mid]
            executor = "shared-iterations"
            vus = 2
            iterations = 9
            max-duration = "30s"
        "#,
        );
        let names: Vec<&str> = p.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
        assert_eq!(p.max_vus(), 10);
        // alpha: 2m + 10m default max-duration + 5s.
        assert_eq!(p.total_duration(), Duration::from_secs(120 + 600 + 5));
    }

    #[test]
    fn params_are_strings() {
        let p = plan(
            "[params]\ns = \"x\"\ni = 42\nf = 1.0\ng = 2.5\nb = true\n[scenarios.a]\nexecutor = \"per-vu-iterations\"",
        );
        let got: Vec<(&str, &str)> = p
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("b", "true"),
                ("f", "1.0"),
                ("g", "2.5"),
                ("i", "42"),
                ("s", "x")
            ]
        );
        let errs = errors(&format!(
            "{BASE}[params]\nt = {{ a = 1 }}\nl = [1]\n[scenarios.a]\nexecutor = \"per-vu-iterations\""
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("params.t: expected a string, number or boolean"),
            "{}",
            errs[0]
        );
        assert!(errs[1].ends_with("found an array"), "{}", errs[1]);
    }

    #[test]
    fn top_level_problems() {
        assert_eq!(
            errors("env = [\"OK\", \"1BAD\", 3]\n[scenarios]\n"),
            [
                "env[1]: \"1BAD\" is not an environment variable name: use letters, digits and `_`, starting with a letter or `_`",
                "env[2]: expected a variable name such as \"API_TOKEN\", found integer 3",
                "scenarios: no scenarios: add one, e.g. [scenarios.main] with executor = \"constant-vus\" and duration = \"30s\"",
                "component: missing required key `component` (the scenario's .wasm file, e.g. component = \"scenario.wasm\")",
                "targets: missing required key `targets` (list the origins the test may send requests to, e.g. targets = [\"http://127.0.0.1:8080\"])",
            ]
        );
        assert_eq!(
            errors(
                "component = \"\"\ntargets = []\nscenario = 1\n[scenarios.a]\nexecutor = \"per-vu-iterations\""
            ),
            [
                "component: must not be empty: name the scenario's .wasm file",
                "targets: no targets: list the origins the test may send requests to, e.g. targets = [\"http://127.0.0.1:8080\"]",
                "scenario: unknown key `scenario`; did you mean `scenarios`?",
            ]
        );
        assert_eq!(
            errors(&format!("{BASE}scenarios = 3")),
            ["scenarios: expected a table, found integer 3"]
        );
    }

    #[test]
    fn syntax_errors_stop_with_a_position() {
        let errs = errors("component = \"x.wasm\"\ntargets = [\n  \"a\",\n  vus = 3\n]");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("TOML syntax error at line 4, column "),
            "{}",
            errs[0]
        );
        let dup = errors("component = \"x.wasm\"\ntargets = [\"a\"]\ntargets = [\"b\"]\n");
        assert_eq!(
            dup,
            [
                "TOML syntax error at line 3, column 1: duplicate key `targets`: it is set earlier in the same table; keep one"
            ]
        );
        let twice = errors("component = \"x.wasm\"\n[options]\ncookies = false\n[options]\n");
        assert!(
            twice[0].ends_with("the table [options] is defined twice: merge the two into one"),
            "{}",
            twice[0]
        );
        let big = errors("component = \"x.wasm\"\nvus = 99999999999999999999\n");
        assert!(
            big[0].ends_with("integer too large: TOML integers go up to 9223372036854775807"),
            "{}",
            big[0]
        );
    }

    #[test]
    fn overrides_replace_and_revalidate() {
        let mut p = plan(
            r#"
            [scenarios.c]
            executor = "constant-vus"
            vus = 5
            duration = "1m"
            [scenarios.p]
            executor = "per-vu-iterations"
            [scenarios.s]
            executor = "shared-iterations"
            vus = 2
            iterations = 4
        "#,
        );
        p.apply_overrides(Some(3), Some(Duration::from_secs(20)))
            .unwrap();
        let c = Executor::ConstantVus(ConstantVus {
            vus: 3,
            duration: Duration::from_secs(20),
        });
        let pv = Executor::PerVuIterations(PerVuIterations {
            vus: 3,
            iterations: 1,
            max_duration: Duration::from_secs(20),
        });
        let s = Executor::SharedIterations(SharedIterations {
            vus: 3,
            iterations: 4,
            max_duration: Duration::from_secs(20),
        });
        let got: Vec<&Executor> = p.scenarios.iter().map(|s| &s.executor).collect();
        assert_eq!(got, [&c, &pv, &s]);
        assert_eq!(p.max_vus(), 9);

        let before = p.clone();
        let err = p.apply_overrides(Some(5), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid plan, 1 problem:\n  scenarios.s.vus: vus (5) exceeds iterations (4): some VUs would have nothing to do; lower vus or raise iterations"
        );
        assert_eq!(p, before, "a failed override leaves the plan unchanged");
        let err = p
            .apply_overrides(Some(0), Some(Duration::ZERO))
            .unwrap_err();
        assert_eq!(err.errors.len(), 6, "{err}");
        assert_eq!(
            err.errors[0].to_string(),
            "scenarios.c.vus: must be at least 1, found 0"
        );
        p.apply_overrides(None, None).unwrap();
        assert_eq!(p, before);
    }

    #[test]
    fn an_override_is_held_to_the_rule_for_pauses_too() {
        let mut p = plan(
            r#"
            [scenarios.p]
            executor = "per-vu-iterations"
            vus = 2
            iterations = 3
            max-duration = "10s"
            pause = "1s"
        "#,
        );
        let err = p
            .apply_overrides(None, Some(Duration::from_secs(1)))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "scenarios.p.pause: a VU runs 3 iterations here, so it waits 2 pauses of at least 1s = 2s or more, which is not less than max-duration 1s"
            ),
            "{err}"
        );
        p.apply_overrides(None, Some(Duration::from_secs(3)))
            .unwrap();
    }

    #[test]
    fn ramping_and_arrival_rate_scenarios() {
        let mut p = plan(
            r#"
            [scenarios.ramp]
            executor = "ramping-vus"
            start-vus = 0
            stages = [{ duration = "15s", target = 200 }, { duration = "15s", target = 0 }]
            graceful-ramp-down = "5s"
            [scenarios.steady]
            executor = "constant-arrival-rate"
            rate = 1000
            duration = "20s"
            pre-allocated-vus = 50
            max-vus = 100
            [scenarios.spike]
            executor = "ramping-arrival-rate"
            start-time = "1m"
            stages = [{ duration = "10s", target = 100 }]
            pre-allocated-vus = 5
        "#,
        );
        let described: Vec<String> = p.scenarios.iter().map(|s| s.executor.describe()).collect();
        assert_eq!(
            described,
            [
                "ramping-vus: 0 -> 200 VUs over 15s, 200 -> 0 over 15s (max 200 VUs)",
                "constant-arrival-rate: 1000 iterations/s for 20s (20000 iterations, 50..100 VUs)",
                "ramping-arrival-rate: 0 -> 100 iterations/s over 10s (499 iterations, 5 VUs)",
            ]
        );
        assert_eq!(p.max_vus(), 305);
        // spike: 1m + 10s of stages + 30s graceful stop.
        assert_eq!(p.total_duration(), Duration::from_secs(100));
        let ramp = &p.scenarios[0].executor;
        assert_eq!(ramp.graceful_ramp_down(), Some(Duration::from_secs(5)));
        assert_eq!(p.scenarios[1].executor.graceful_ramp_down(), None);
        assert_eq!(ramp.vus_at(Duration::from_millis(7500)), 100);

        // --vus caps the arrival-rate pools and leaves the ramp alone; --duration only reaches the
        // constant rate. What is left alone is said.
        assert_eq!(
            p.ignored_overrides(true, true),
            [
                "--vus and --duration do not apply to scenario `ramp` (ramping-vus: its stages say how many VUs and how long)",
                "--duration does not apply to scenario `spike` (ramping-arrival-rate: its stages say how long)",
            ]
        );
        assert_eq!(
            p.ignored_overrides(true, false),
            [
                "--vus does not apply to scenario `ramp` (ramping-vus: its stages say how many VUs and how long)"
            ]
        );
        assert!(p.ignored_overrides(false, false).is_empty());
        p.apply_overrides(Some(20), Some(Duration::from_secs(5)))
            .unwrap();
        let described: Vec<String> = p.scenarios.iter().map(|s| s.executor.describe()).collect();
        assert_eq!(
            described,
            [
                "ramping-vus: 0 -> 200 VUs over 15s, 200 -> 0 over 15s (max 200 VUs)",
                "constant-arrival-rate: 1000 iterations/s for 5s (5000 iterations, 20 VUs)",
                "ramping-arrival-rate: 0 -> 100 iterations/s over 10s (499 iterations, 5..20 VUs)",
            ]
        );
        let err = p.apply_overrides(Some(0), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid plan, 2 problems:\n  scenarios.steady.pre-allocated-vus: must be at least 1, found 0\n  scenarios.spike.pre-allocated-vus: must be at least 1, found 0"
        );

        // A worker's shares: serde keeps the segment (the coordinator sends plans as JSON).
        let third = crate::Segment::split_even(3)[1];
        for s in &p.scenarios {
            let share = s.executor.for_segment(&third);
            let json = serde_json::to_value(&share).unwrap();
            assert_eq!(json["segment"], "1/3:2/3");
            assert_eq!(serde_json::from_value::<Executor>(json).unwrap(), share);
        }
        let mut json = serde_json::to_value(&p.scenarios[1].executor).unwrap();
        json.as_object_mut().unwrap().remove("segment");
        assert_eq!(
            serde_json::from_value::<Executor>(json).unwrap(),
            p.scenarios[1].executor
        );
    }

    #[test]
    fn load_checks_the_component() {
        let dir = std::env::temp_dir().join(format!("stampede-plan-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plan_path = dir.join("plan.toml");
        let text = format!("{BASE}[scenarios.a]\nexecutor = \"per-vu-iterations\"");
        std::fs::write(&plan_path, &text).unwrap();
        let err = load(&plan_path).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(plan_path.as_path()));
        let want = format!(
            "component: file not found: {} (build the scenario first, see README)",
            dir.join("x.wasm").display()
        );
        assert_eq!(err.errors[0].to_string(), want);
        std::fs::write(dir.join("x.wasm"), b"").unwrap();
        let p = load(&plan_path).unwrap();
        assert_eq!(p.component, dir.join("x.wasm"));
        // `x.wasm/`, as a folder: the file is there, the slash is the mistake.
        std::fs::write(&plan_path, text.replace("x.wasm", "x.wasm/")).unwrap();
        let slash = load(&plan_path).unwrap_err().to_string();
        assert!(
            slash.contains("ends with `/`, as a folder would, but names a file: remove the `/`"),
            "{slash}"
        );
        let missing = load(&dir.join("nope.toml")).unwrap_err();
        assert!(
            missing.errors[0]
                .message
                .starts_with("cannot read the plan: "),
            "{missing}"
        );
        // A component given where the plan goes.
        std::fs::write(dir.join("given.wasm"), b"\0asm\x0d\0\x01\0\xff").unwrap();
        let wasm = load(&dir.join("given.wasm")).unwrap_err();
        assert!(
            wasm.to_string().contains(
                "this is a WebAssembly file; give the plan (TOML) whose `component` names it"
            ),
            "{wasm}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
