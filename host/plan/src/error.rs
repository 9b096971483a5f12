//! Validation errors: every problem found in a plan, each with the TOML path it is about.
//!
//! [`PlanErrors`] is what [`parse`](crate::parse), [`load`](crate::load) and
//! [`Plan::apply_overrides`](crate::Plan::apply_overrides) return. Its `Display` is the report shown to users:
//!
//! ```text
//! plan.toml: 2 problems:
//!   scenarios.browse.vu: unknown key `vu`; did you mean `vus`?
//!   thresholds.http_req_failed[0]: ...
//! ```
//!
//! Problems are listed in the order they were found, which follows the order of the keys in the file.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// One problem in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}", render_one(.path, .message))]
pub struct PlanError {
    /// Where the problem is, as a TOML path (`scenarios.browse.vus`, `targets[1]`,
    /// `thresholds."http_req_duration{name:login}"[0]`); empty for the whole file (syntax errors, an
    /// unreadable file).
    pub path: String,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl PlanError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PlanError {
            path: path.into(),
            message: message.into(),
        }
    }
}

fn render_one(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

/// Every problem found in a plan, in the order found.
///
/// `Display` renders a header naming the file (when known) and the number of problems, then one indented
/// line per problem (continuation lines of multi-line messages are indented further).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}", report(.file.as_ref(), .errors))]
pub struct PlanErrors {
    /// The plan file, when the plan came from one; shown as given (the CLI passes what the user typed).
    pub file: Option<PathBuf>,
    /// The problems; never empty when returned as an error by this crate.
    pub errors: Vec<PlanError>,
}

impl PlanErrors {
    /// Errors about a plan that did not come from a file.
    pub fn new(errors: Vec<PlanError>) -> Self {
        PlanErrors { file: None, errors }
    }

    /// The same errors, attributed to `file`.
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// `Ok(())` when `errors` is empty, otherwise the errors.
    pub(crate) fn check(errors: Vec<PlanError>) -> Result<(), PlanErrors> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PlanErrors::new(errors))
        }
    }
}

fn report<'a>(file: Option<&'a PathBuf>, errors: &'a [PlanError]) -> Report<'a> {
    Report { file, errors }
}

struct Report<'a> {
    file: Option<&'a PathBuf>,
    errors: &'a [PlanError],
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        let noun = if n == 1 { "problem" } else { "problems" };
        match self.file {
            Some(file) => write!(f, "{}: {n} {noun}:", file.display())?,
            None => write!(f, "invalid plan, {n} {noun}:")?,
        }
        for error in self.errors {
            let mut lines = render_one(&error.path, &error.message)
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            if lines.is_empty() {
                lines.push(String::new());
            }
            write!(f, "\n  {}", lines[0])?;
            for line in &lines[1..] {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_header_and_one_line_per_problem() {
        let errors = PlanErrors::new(vec![
            PlanError::new("scenarios.a.vus", "must be at least 1, found 0"),
            PlanError::new("", "first line\nsecond line"),
        ]);
        assert_eq!(
            errors.to_string(),
            "invalid plan, 2 problems:\n  scenarios.a.vus: must be at least 1, found 0\n  first line\n    second line"
        );
        let errors = errors.with_file("plan.toml");
        assert!(errors.to_string().starts_with("plan.toml: 2 problems:\n"));
        let one = PlanErrors::new(vec![PlanError::new("targets", "empty")]).with_file("p.toml");
        assert_eq!(one.to_string(), "p.toml: 1 problem:\n  targets: empty");
    }

    #[test]
    fn single_error_display() {
        assert_eq!(PlanError::new("a.b", "bad").to_string(), "a.b: bad");
        assert_eq!(PlanError::new("", "bad").to_string(), "bad");
    }
}
