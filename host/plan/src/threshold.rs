//! `[thresholds]`: pass/fail criteria on metrics, in k6's syntax.
//!
//! Each key is a metric selector, each value a list of expressions, written as strings or as tables with
//! abort settings:
//!
//! ```toml
//! [thresholds]
//! "http_req_duration{name:login}" = ["p(95) < 200ms"]
//! "http_req_failed" = ["rate < 0.01"]
//! "checks" = [{ threshold = "rate > 0.99", abort-on-fail = true, delay-abort-eval = "10s" }]
//! ```
//!
//! Selectors and expressions are parsed by `stampede-metrics`. Thresholds on builtin metrics are checked
//! against the metric's kind (`rate` on a trend is an error); other names are custom metrics, whose kind is
//! only known at run time.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stampede_metrics::{Catalog, Selector, ThresholdExpr, names};
use toml::Value;

use crate::reader::{Reader, join, or};

/// One threshold: an expression on the series a selector picks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Threshold {
    /// The metric and tag filter, e.g. `http_req_duration{name:login}`.
    pub selector: Selector,
    /// The expression, e.g. `p(95) < 200ms`.
    pub expr: ThresholdExpr,
    /// Whether a failure stops the run early.
    pub abort_on_fail: bool,
    /// How long after the start an abort-on-fail threshold is first evaluated (lets metrics settle).
    pub delay_abort_eval: Duration,
    /// Where it was written, e.g. `thresholds.checks[0]`, for reports.
    pub path: String,
}

/// Builtin metrics recorded without tags: a threshold that selects tags of them selects nothing.
const UNTAGGED: &[&str] = &[names::VUS, names::VUS_MAX];

/// The keys of a threshold written as a table.
const TABLE_KEY: &str = "threshold";

/// Reads `[thresholds]`; problems are recorded in `r`.
pub(crate) fn read(r: &mut Reader<'_>) -> Vec<Threshold> {
    let catalog = Catalog::with_builtins();
    let mut out = Vec::new();
    for (key, value) in r.entries() {
        let key_path = r.key_path(key);
        let selector = match Selector::parse(key) {
            Ok(s) => Some(s),
            Err(e) => {
                r.error(key, format!("{e}"));
                None
            }
        };
        let metric = selector.as_ref().map_or(key.trim(), |s| s.metric.as_str());
        if let Some(s) = &selector
            && !s.tags.is_empty()
            && UNTAGGED.contains(&metric)
        {
            r.error(
                key,
                format!(
                    "`{metric}` has no tags (it counts the VUs of the whole run, not of a \
                     scenario), so this threshold would never see a sample; use `{metric}` \
                     without tags"
                ),
            );
            continue;
        }
        let items = match value {
            Value::Array(items) if items.is_empty() => {
                r.error(key, r#"no threshold expressions; add one, e.g. ["p(95) < 200ms"], or remove the entry"#);
                continue;
            }
            Value::Array(items) => items,
            other => {
                r.type_error(
                    key,
                    r#"an array of threshold expressions, e.g. ["p(95) < 200ms"]"#,
                    other,
                );
                continue;
            }
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{key_path}[{i}]");
            let (source, abort_on_fail, delay_abort_eval) = match item {
                Value::String(s) => (Some(s.as_str()), false, Duration::ZERO),
                Value::Table(t) => {
                    let mut tr = Reader::new(t, path.clone());
                    let source = tr.string(TABLE_KEY);
                    let source = tr.require(
                        TABLE_KEY,
                        source,
                        r#"the expression, e.g. threshold = "rate > 0.99""#,
                    );
                    let abort = or(tr.bool("abort-on-fail"), false);
                    let delay = or(tr.duration("delay-abort-eval"), Duration::ZERO);
                    r.absorb(key, tr.finish());
                    (source.ok(), abort, delay)
                }
                other => {
                    let message = format!(
                        r#"expected an expression such as "p(95) < 200ms" or a table {{ threshold = "...", abort-on-fail = true }}, found {}"#,
                        crate::reader::describe(other)
                    );
                    r.error_at(key, path, message);
                    continue;
                }
            };
            let Some(source) = source else { continue };
            let expr = match ThresholdExpr::parse(source) {
                Ok(expr) => expr,
                Err(e) => {
                    r.error_at(
                        key,
                        expr_path(&path, item),
                        format!("invalid threshold on `{metric}`: {e}"),
                    );
                    continue;
                }
            };
            if let Some((kind, _)) = catalog.get(metric)
                && let Err(e) = expr.check_kind(kind)
            {
                let message = format!(
                    "threshold `{}` on builtin metric `{metric}`: {e}",
                    expr.source
                );
                r.error_at(key, expr_path(&path, item), message);
                continue;
            }
            if let Some(selector) = &selector {
                out.push(Threshold {
                    selector: selector.clone(),
                    expr,
                    abort_on_fail,
                    delay_abort_eval,
                    path,
                });
            }
        }
    }
    out
}

/// The path of an expression: the array element, or its `threshold` key when written as a table.
fn expr_path(item_path: &str, item: &Value) -> String {
    if item.is_table() {
        join(item_path, TABLE_KEY)
    } else {
        item_path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Vec<Threshold>, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "thresholds");
        let thresholds = read(&mut r);
        (
            thresholds,
            r.finish().iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn reads_strings_and_tables() {
        let text = r#"
            "http_req_duration{name:login}" = ["p(95) < 200ms", "avg < 100ms"]
            checks = [{ threshold = "rate > 0.99", abort-on-fail = true, delay-abort-eval = "10s" }]
            cart_size = ["value > 3"]
        "#;
        let (thresholds, errors) = read_all(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(thresholds.len(), 4);
        let t = &thresholds[0];
        assert_eq!(t.selector.metric, "http_req_duration");
        assert_eq!(t.selector.tags.get("name"), Some("login"));
        assert_eq!(t.expr.source, "p(95) < 200ms");
        assert_eq!(t.path, r#"thresholds."http_req_duration{name:login}"[0]"#);
        assert!(!t.abort_on_fail);
        let c = &thresholds[2];
        assert!(c.abort_on_fail);
        assert_eq!(c.delay_abort_eval, Duration::from_secs(10));
        assert_eq!(c.path, "thresholds.checks[0]");
        // Custom metrics are not kind-checked: their kind is only known at run time.
        assert_eq!(thresholds[3].selector.metric, "cart_size");
    }

    #[test]
    fn reports_bad_selectors_expressions_and_kinds() {
        let text = r#"
            "http_req_duration{name" = ["p(95) < 200ms"]
            http_req_failed = ["rate << 0.01", "p(95) < 1"]
            checks = "rate > 0.9"
            vus = []
            iterations = [1, { threshold = "count > 1", abort = true }]
        "#;
        let (thresholds, errors) = read_all(text);
        assert_eq!(thresholds.len(), 1);
        assert_eq!(errors.len(), 7, "{errors:#?}");
        assert!(
            errors[0].starts_with(r#"thresholds."http_req_duration{name": "#),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with(
                "thresholds.http_req_failed[0]: invalid threshold on `http_req_failed`: "
            ),
            "{}",
            errors[1]
        );
        assert!(errors[1].contains("rate << 0.01"), "{}", errors[1]);
        assert!(
            errors[2].starts_with("thresholds.http_req_failed[1]: threshold `p(95) < 1` on builtin metric `http_req_failed`: "),
            "{}",
            errors[2]
        );
        assert_eq!(
            errors[3],
            r#"thresholds.checks: expected an array of threshold expressions, e.g. ["p(95) < 200ms"], found string "rate > 0.9""#
        );
        assert!(
            errors[4].starts_with("thresholds.vus: no threshold expressions"),
            "{}",
            errors[4]
        );
        assert!(
            errors[5].starts_with("thresholds.iterations[0]: expected an expression such as"),
            "{}",
            errors[5]
        );
        assert_eq!(
            errors[6],
            "thresholds.iterations[1].abort: unknown key `abort`; expected one of: threshold, abort-on-fail, delay-abort-eval"
        );
    }

    /// `vus` and `vus_max` carry no tags: a per-scenario threshold on them would pass on no
    /// samples, whatever the VUs did.
    #[test]
    fn untagged_builtins_refuse_tag_selectors() {
        let text = r#"
            "vus{scenario:a}" = ["max == 2"]
            vus_max = ["value > 0"]
            "vus_max{scenario:a}" = ["value == 2"]
        "#;
        let (thresholds, errors) = read_all(text);
        assert_eq!(thresholds.len(), 1);
        assert_eq!(
            errors,
            [
                r#"thresholds."vus{scenario:a}": `vus` has no tags (it counts the VUs of the whole run, not of a scenario), so this threshold would never see a sample; use `vus` without tags"#,
                r#"thresholds."vus_max{scenario:a}": `vus_max` has no tags (it counts the VUs of the whole run, not of a scenario), so this threshold would never see a sample; use `vus_max` without tags"#,
            ]
        );
    }
}
