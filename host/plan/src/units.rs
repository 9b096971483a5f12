//! Durations (`"1m30s"`) and sizes (`"64MiB"`) as written in plans, parsed into `Duration` and bytes.
//!
//! Errors are complete user-facing messages that quote the input and show what to write instead.

use std::time::Duration;

/// Parses a duration such as `"30s"`, `"1m30s"`, `"1m 30s"`, `"500ms"` or `"1.5h"` (humantime's grammar;
/// `"0"` alone means zero).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let problem = if trimmed.starts_with('-') {
        "must not be negative".to_owned()
    } else {
        match humantime::parse_duration(trimmed) {
            Ok(d) => return Ok(d),
            Err(e) => describe_duration_error(trimmed, &e),
        }
    };
    Err(format!(
        r#"invalid duration "{text}": {problem} (write e.g. "30s", "1m30s" or "500ms")"#
    ))
}

/// humantime's error in words that point at the input (its own messages quote byte offsets).
fn describe_duration_error(text: &str, e: &humantime::DurationError) -> String {
    use humantime::DurationError as E;
    let rest = |offset: usize| text.get(offset..).unwrap_or("");
    match e {
        E::Empty => "it is empty".to_owned(),
        E::InvalidCharacter(offset) => match rest(*offset).chars().next() {
            Some(c) => format!("unexpected {c:?}"),
            None => "it ends too early".to_owned(),
        },
        E::NumberExpected(offset) => format!(r#"expected a number before "{}""#, rest(*offset)),
        E::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("a unit is needed after {value}")
        }
        E::UnknownUnit { unit, .. } => format!("unknown unit \"{unit}\": use ms, s, m, h or d"),
        E::NumberOverflow => "too large or too precise".to_owned(),
    }
}

/// Renders a duration compactly, for messages (`"1m 30s"`, `"0s"`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The size units accepted by [`parse_size`], with their factor. Binary (`KiB`) and decimal (`KB`) units
/// both exist because people write both; they are matched case-insensitively.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
];

/// Parses a size such as `"64MiB"`, `"512 KB"` or `"1048576B"` into bytes. A whole number and a unit are
/// required (`B`, `KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`; any letter case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    const HINT: &str =
        r#"write a whole number and a unit: B, KB, MB, GB, KiB, MiB or GiB, e.g. "64MiB""#;
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    if digits.is_empty() {
        return Err(format!("invalid size \"{text}\": {HINT}"));
    }
    if unit.starts_with('.') {
        return Err(format!(
            "invalid size \"{text}\": use a whole number (e.g. \"1536MiB\" instead of \"1.5GiB\")"
        ));
    }
    if unit.is_empty() {
        return Err(format!("invalid size \"{text}\": unit missing ({HINT})"));
    }
    let Some(&(_, factor)) = SIZE_UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
    else {
        return Err(format!(
            "invalid size \"{text}\": unknown unit `{unit}` ({HINT})"
        ));
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("invalid size \"{text}\": too large"))
}

/// Renders a byte count with the largest binary unit that divides it (`"64MiB"`, `"1500B"`).
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("10s", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("1m 30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("2h", Duration::from_secs(7200)),
            ("0s", Duration::ZERO),
            ("0", Duration::ZERO),
            (" 5s ", Duration::from_secs(5)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "10", "-5s", "ten seconds", "5 parsecs", "1.s", "5s!"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid duration \"{bad}\"")),
                "{err}"
            );
        }
        let messages: Vec<String> = ["-5s", "", "10", "ten seconds", "5 parsecs", "5s!", "1m30"]
            .iter()
            .map(|t| parse_duration(t).unwrap_err())
            .collect();
        let hint = r#" (write e.g. "30s", "1m30s" or "500ms")"#;
        let want = [
            r#"invalid duration "-5s": must not be negative"#,
            r#"invalid duration "": it is empty"#,
            r#"invalid duration "10": a unit is needed after 10"#,
            r#"invalid duration "ten seconds": expected a number before "ten seconds""#,
            r#"invalid duration "5 parsecs": unknown unit "parsecs": use ms, s, m, h or d"#,
            r#"invalid duration "5s!": unexpected '!'"#,
            r#"invalid duration "1m30": a unit is needed after 30"#,
        ];
        for (got, want) in messages.iter().zip(want) {
            assert_eq!(*got, format!("{want}{hint}"));
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn sizes() {
        let ok = [
            ("64MiB", 64 << 20),
            ("64 MiB", 64 << 20),
            ("64mib", 64 << 20),
            ("1GiB", 1 << 30),
            ("4GiB", 4 << 30),
            ("512KiB", 512 << 10),
            ("10KB", 10_000),
            ("3MB", 3_000_000),
            ("2GB", 2_000_000_000),
            ("1048576B", 1 << 20),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "64",
            "MiB",
            "1.5GiB",
            "-1MiB",
            "64 parsecs",
            "99999999999999999999GiB",
        ] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.starts_with(&format!("invalid size \"{bad}\"")), "{err}");
        }
        assert_eq!(
            parse_size("20000000000GiB").unwrap_err(),
            "invalid size \"20000000000GiB\": too large"
        );
    }

    #[test]
    fn size_formatting() {
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(4 << 30), "4GiB");
        assert_eq!(format_size(1536), "1536B");
        assert_eq!(format_size(2048), "2KiB");
        assert_eq!(format_size(0), "0B");
    }
}
