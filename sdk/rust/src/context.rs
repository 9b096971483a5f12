//! What the VU knows about its place in the run, and what the plan grants it.
//!
//! ```no_run
//! use stampede_sdk::context;
//!
//! let base = context::param_or("base_url", "http://127.0.0.1:18080");
//! let think_ms: u64 = context::param_parse_or("think_ms", 100).unwrap();
//! let user = format!("vu-{}", context::vu_id());
//! ```

use std::str::FromStr;

use crate::bindings::stampede::scenario::context as wit;

/// This VU's id, unique across the whole fleet for the run, starting at 1.
pub fn vu_id() -> u64 {
    #[cfg(feature = "shared")]
    return crate::shared::current(|vu| vu.id);
    #[cfg(not(feature = "shared"))]
    wit::vu_id()
}

/// How many iterations this VU has started before the current one (0 during the first).
pub fn iteration() -> u64 {
    #[cfg(feature = "shared")]
    return crate::shared::current(|vu| vu.iteration);
    #[cfg(not(feature = "shared"))]
    wit::iteration()
}

/// The id of the worker process that hosts this VU.
pub fn worker_id() -> String {
    wit::worker_id()
}

/// The name of the plan scenario this VU currently runs.
pub fn scenario() -> String {
    #[cfg(feature = "shared")]
    return crate::shared::current(|vu| vu.scenario.to_string());
    #[cfg(not(feature = "shared"))]
    wit::scenario()
}

/// The plan's `[params]` entry `name`, if there is one.
pub fn param(name: &str) -> Option<String> {
    wit::param(name)
}

/// The plan's `[params]` entry `name`, or `default` when the plan does not set it.
pub fn param_or(name: &str, default: &str) -> String {
    wit::param(name).unwrap_or_else(|| default.to_owned())
}

/// The plan's `[params]` entry `name` parsed as `T`, or `default` when the plan does not set it.
/// A value that does not parse is an error naming the parameter (so a typo in the plan is not silently
/// replaced by the default).
pub fn param_parse_or<T>(name: &str, default: T) -> Result<T, String>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    parse_param(name, wit::param(name), default)
}

/// Every `[params]` entry, as `(name, value)` pairs.
pub fn params() -> Vec<(String, String)> {
    wit::params()
}

/// The environment variable `name`, if the plan's `env` list grants it and it is set.
pub fn env(name: &str) -> Option<String> {
    wit::env(name)
}

fn parse_param<T>(name: &str, value: Option<String>, default: T) -> Result<T, String>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|e| format!("param `{name}` = {text:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_param;

    #[test]
    fn parse_param_uses_the_default_only_when_missing() {
        assert_eq!(parse_param::<u32>("n", None, 7), Ok(7));
        assert_eq!(parse_param::<u32>("n", Some(" 12 ".into()), 7), Ok(12));
        let err = parse_param::<u32>("think_ms", Some("ten".into()), 7).unwrap_err();
        assert!(err.starts_with("param `think_ms` = \"ten\": "), "{err}");
    }
}
