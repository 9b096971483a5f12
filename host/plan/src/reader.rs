//! A small reader over a `toml::Table` that collects every problem with its TOML path.
//!
//! Serde derive stops at the first error; a plan author wants all of them at once. A [`Reader`] wraps one
//! table and its path:
//!
//! 1. typed getters (`string`, `u64`, `duration`, ...) return `Ok(None)` for an absent key, `Ok(Some(v))`
//!    for a good value, and `Err(Reported)` after recording a problem at the key's path;
//! 2. nested tables get their own `Reader`, whose problems are folded back with [`Reader::absorb`];
//! 3. [`Reader::finish`] reports the keys nobody asked for ("unknown key `vu`; did you mean `vus`?") and
//!    returns the problems sorted by the position of their key in the table, so reports follow the file
//!    (the crate enables toml's `preserve_order`).

use std::time::Duration;

use toml::{Table, Value};

use crate::PlanError;
use crate::units;

/// Marker for "a problem was recorded"; the caller skips building the value and carries on reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reported;

/// A getter's outcome: absent, present and valid, or reported.
pub(crate) type Field<T> = Result<Option<T>, Reported>;

/// A problem found by validating typed values: the key it is about (in the table being validated) and the
/// message.
pub(crate) type Problem = (&'static str, String);

/// The value of a field, or `default` when it is absent or was reported. Readers build their structs with
/// such substitutes so that validation can still run on the other fields; the substitutes must pass
/// validation themselves, so one mistake is reported once.
pub(crate) fn or<T>(field: Field<T>, default: T) -> T {
    field.ok().flatten().unwrap_or(default)
}

/// One table being read; see the module docs.
pub(crate) struct Reader<'a> {
    table: &'a Table,
    path: String,
    used: Vec<bool>,
    requested: Vec<&'static str>,
    /// Problems with the position of the key they belong to (`table.len()` for missing keys).
    errors: Vec<(usize, PlanError)>,
}

impl<'a> Reader<'a> {
    /// Reads `table`, found at `path` (empty for the root).
    pub(crate) fn new(table: &'a Table, path: impl Into<String>) -> Self {
        Reader {
            table,
            path: path.into(),
            used: vec![false; table.len()],
            requested: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The path of `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn position(&self, key: &str) -> usize {
        self.table
            .keys()
            .position(|k| k == key)
            .unwrap_or(self.table.len())
    }

    /// The raw value of a known key, marking it as read.
    pub(crate) fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        if !self.requested.contains(&key) {
            self.requested.push(key);
        }
        let pos = self.position(key);
        if pos < self.used.len() {
            self.used[pos] = true;
        }
        self.table.get(key)
    }

    /// Every entry, in file order, all marked as read (for tables whose keys are names, like `scenarios`).
    pub(crate) fn entries(&mut self) -> Vec<(&'a str, &'a Value)> {
        self.used.iter_mut().for_each(|u| *u = true);
        self.table.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }

    /// Keys present but not read yet, in file order.
    pub(crate) fn unread_keys(&self) -> Vec<&'a str> {
        self.table
            .keys()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Marks `key` as read without reading it (it has been reported some other way).
    pub(crate) fn mark_read(&mut self, key: &str) {
        let pos = self.position(key);
        if pos < self.used.len() {
            self.used[pos] = true;
        }
    }

    /// Records a problem at `key`'s path.
    pub(crate) fn error(&mut self, key: &str, message: impl Into<String>) -> Reported {
        let path = self.key_path(key);
        self.error_at(key, path, message)
    }

    /// Records a problem at `path`, ordered with `key` (for array elements and the like).
    pub(crate) fn error_at(
        &mut self,
        key: &str,
        path: String,
        message: impl Into<String>,
    ) -> Reported {
        let pos = self.position(key);
        self.errors.push((pos, PlanError::new(path, message)));
        Reported
    }

    /// Records that a required key is missing; such problems come after the table's other problems.
    pub(crate) fn missing(&mut self, key: &str, message: impl Into<String>) -> Reported {
        let path = self.key_path(key);
        self.errors
            .push((self.table.len(), PlanError::new(path, message)));
        Reported
    }

    /// Turns an absent required field into a "missing" problem.
    pub(crate) fn require<T>(
        &mut self,
        key: &str,
        field: Field<T>,
        hint: &str,
    ) -> Result<T, Reported> {
        match field? {
            Some(v) => Ok(v),
            None => Err(self.missing(key, format!("missing required key `{key}` ({hint})"))),
        }
    }

    /// Records validation problems, each at its key.
    pub(crate) fn problems(&mut self, problems: Vec<Problem>) {
        for (key, message) in problems {
            self.error(key, message);
        }
    }

    /// Folds a nested reader's problems into this one, at `key`'s position.
    pub(crate) fn absorb(&mut self, key: &str, errors: Vec<PlanError>) {
        let pos = self.position(key);
        self.errors.extend(errors.into_iter().map(|e| (pos, e)));
    }

    /// Reports unread keys as unknown and returns every problem in file order.
    pub(crate) fn finish(mut self) -> Vec<PlanError> {
        for key in self.unread_keys() {
            let message = unknown_key_message(key, &self.requested);
            self.error(key, message);
        }
        self.errors.sort_by_key(|(pos, _)| *pos);
        self.errors.into_iter().map(|(_, e)| e).collect()
    }

    /// Records a type mismatch at `key`.
    pub(crate) fn type_error(&mut self, key: &str, expected: &str, found: &Value) -> Reported {
        self.error(
            key,
            format!("expected {expected}, found {}", describe(found)),
        )
    }

    /// A string value.
    pub(crate) fn string(&mut self, key: &'static str) -> Field<&'a str> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.type_error(key, "a string", other)),
        }
    }

    /// A boolean value.
    pub(crate) fn bool(&mut self, key: &'static str) -> Field<bool> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.type_error(key, "true or false", other)),
        }
    }

    /// A non-negative whole number (checks such as "at least 1" are left to validation).
    pub(crate) fn u64(&mut self, key: &'static str) -> Field<u64> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => match u64::try_from(*i) {
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(self.error(key, format!("must not be negative, found {i}"))),
            },
            Some(other) => Err(self.type_error(key, "a whole number", other)),
        }
    }

    /// A duration written as a string (`"30s"`, `"1m30s"`, `"500ms"`).
    pub(crate) fn duration(&mut self, key: &'static str) -> Field<Duration> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => match units::parse_duration(s) {
                Ok(d) => Ok(Some(d)),
                Err(message) => Err(self.error(key, message)),
            },
            Some(other) => {
                Err(self.type_error(key, r#"a duration string such as "30s" or "1m30s""#, other))
            }
        }
    }

    /// A size in bytes written as a string (`"64MiB"`).
    pub(crate) fn size(&mut self, key: &'static str) -> Field<u64> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => match units::parse_size(s) {
                Ok(n) => Ok(Some(n)),
                Err(message) => Err(self.error(key, message)),
            },
            Some(other) => Err(self.type_error(key, r#"a size string such as "64MiB""#, other)),
        }
    }

    /// A nested table.
    pub(crate) fn table(&mut self, key: &'static str) -> Field<Reader<'a>> {
        let path = self.key_path(key);
        match self.value(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Reader::new(t, path))),
            Some(other) => Err(self.type_error(key, "a table", other)),
        }
    }

    /// An array.
    pub(crate) fn array(&mut self, key: &'static str) -> Field<&'a [Value]> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.as_slice())),
            Some(other) => Err(self.type_error(key, "an array", other)),
        }
    }
}

/// `parent.key`, quoting `key` when it is not a bare TOML key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        quote_key(key)
    } else {
        format!("{parent}.{}", quote_key(key))
    }
}

/// `key` as written in a TOML path: bare when it only has `A-Za-z0-9_-`, otherwise a quoted string.
pub(crate) fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return key.to_owned();
    }
    let mut out = String::with_capacity(key.len() + 2);
    out.push('"');
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value's type, with the value itself for scalars: `integer 5`, `string "x"`, `a table`.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("string {}", quote_str(s)),
        Value::Integer(i) => format!("integer {i}"),
        Value::Float(x) => format!("float {}", Value::Float(*x)),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Datetime(d) => format!("datetime {d}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// `s` as a quoted string, whatever its characters.
pub(crate) fn quote_str(s: &str) -> String {
    let quoted = quote_key(s);
    if quoted.starts_with('"') {
        quoted
    } else {
        format!("\"{quoted}\"")
    }
}

fn unknown_key_message(key: &str, known: &[&str]) -> String {
    // k6's options are camelCase (`preAllocatedVUs`, `abortOnFail`); a plan's keys are kebab-case.
    for kebab in [kebab_case(key, false), kebab_case(key, true)] {
        if kebab != key && known.contains(&kebab.as_str()) {
            return format!(
                "unknown key `{key}`; did you mean `{kebab}`? (plan keys are kebab-case)"
            );
        }
    }
    match suggest(key, known.iter().copied()) {
        Some(best) => format!("unknown key `{key}`; did you mean `{best}`?"),
        None if known.is_empty() => format!("unknown key `{key}`"),
        None => format!("unknown key `{key}`; expected one of: {}", known.join(", ")),
    }
}

/// `camelCase` (k6's spelling) as `kebab-case`: a dash before each upper-case letter that follows
/// a lower-case one, then all lower case (`preAllocatedVUs` becomes `pre-allocated-vus`). With
/// `acronyms`, also before the last capital of a run of them that a lower-case letter follows
/// (`insecureSkipTLSVerify` becomes `insecure-skip-tls-verify`, where `VUs` would become `v-us`:
/// callers try both).
fn kebab_case(key: &str, acronyms: bool) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let after_lower = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
        let ends_acronym = acronyms
            && prev.is_some_and(|p| p.is_ascii_uppercase())
            && next.is_some_and(char::is_ascii_lowercase);
        if c.is_ascii_uppercase() && (after_lower || ends_acronym) {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The candidate closest to `word`, if its edit distance is at most 2 (and smaller than `word` itself, so
/// that one-letter typos do not suggest arbitrary short keys). Ties go to the first candidate.
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = edit_distance(word, candidate);
        if d <= 2 && d < word.chars().count() && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over chars, with one row of memory.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("vu", "vus"), 1);
        assert_eq!(edit_distance("duraton", "duration"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("µs", "us"), 1);
    }

    #[test]
    fn suggestions() {
        let known = ["vus", "duration", "exec"];
        assert_eq!(suggest("vu", known), Some("vus"));
        assert_eq!(suggest("durration", known), Some("duration"));
        assert_eq!(suggest("x", known), None);
        assert_eq!(suggest("iterations", known), None);
    }

    #[test]
    fn paths_quote_keys_when_needed() {
        assert_eq!(join("", "scenarios"), "scenarios");
        assert_eq!(join("scenarios", "my-flow_2"), "scenarios.my-flow_2");
        assert_eq!(join("scenarios", "a b"), "scenarios.\"a b\"");
        assert_eq!(
            join("thresholds", "x{a:\"b\"}"),
            r#"thresholds."x{a:\"b\"}""#
        );
        assert_eq!(quote_key(""), "\"\"");
    }

    #[test]
    fn getters_report_type_errors_and_unknown_keys_in_file_order() {
        let t = table("z = 1\nvu = 2\nname = 3\nn = -1\nd = \"5 parsecs\"\n");
        let mut r = Reader::new(&t, "s");
        assert_eq!(r.string("name"), Err(Reported));
        assert_eq!(r.u64("n"), Err(Reported));
        assert_eq!(r.u64("vus"), Ok(None));
        assert!(r.duration("d").is_err());
        let missing = r.string("exec");
        assert!(r.require("exec", missing, "the name").is_err());
        let errors = r.finish();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered[0],
            "s.z: unknown key `z`; expected one of: name, n, vus, d, exec"
        );
        assert_eq!(rendered[1], "s.vu: unknown key `vu`; did you mean `vus`?");
        for (k6, ours) in [
            ("preAllocatedVUs", "pre-allocated-vus"),
            ("abortOnFail", "abort-on-fail"),
            ("delayAbortEval", "delay-abort-eval"),
            ("gracefulStop", "graceful-stop"),
            ("maxVUs", "max-vus"),
            ("insecureSkipTLSVerify", "insecure-skip-tls-verify"),
        ] {
            assert_eq!(
                unknown_key_message(k6, &[ours, "other"]),
                format!("unknown key `{k6}`; did you mean `{ours}`? (plan keys are kebab-case)")
            );
        }
        assert_eq!(rendered[2], "s.name: expected a string, found integer 3");
        assert_eq!(rendered[3], "s.n: must not be negative, found -1");
        assert!(
            rendered[4].starts_with("s.d: invalid duration \"5 parsecs\""),
            "{}",
            rendered[4]
        );
        assert_eq!(
            rendered[5],
            "s.exec: missing required key `exec` (the name)"
        );
        assert_eq!(rendered.len(), 6);
    }

    #[test]
    fn describes_values() {
        let t = table("a = 1.5\nb = true\nc = [1]\nd = {}\ne = 'x\"y'\nf = 1979-05-27");
        let got: Vec<String> = t.values().map(describe).collect();
        assert_eq!(
            got,
            [
                "float 1.5",
                "boolean true",
                "an array",
                "a table",
                r#"string "x\"y""#,
                "datetime 1979-05-27"
            ]
        );
    }
}
