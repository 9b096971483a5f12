//! Human-readable values for summaries, in the style of k6's end-of-test output.
//!
//! ```
//! use stampede_metrics::{ValueType, format_rate_per_sec, format_value};
//! assert_eq!(format_value(ValueType::Time, 1.234), "1.23ms");
//! assert_eq!(format_value(ValueType::Time, 123_000.0), "2m3s");
//! assert_eq!(format_value(ValueType::Data, 1_234.0), "1.2 kB");
//! assert_eq!(format_rate_per_sec(ValueType::Default, 123.4), "123.4/s");
//! ```

use crate::ValueType;

/// Formats `v` for display: time in milliseconds becomes `52µs`, `1.23ms`, `1.5s`, `2m3s` or `1h2m3s`;
/// data in bytes becomes `512 B`, `1.2 kB`, `34 MB` (SI units); plain numbers keep up to two decimals
/// (`3`, `0.25`, `12.35`). Non-finite values print as `NaN`, `inf` or `-inf`.
pub fn format_value(vt: ValueType, v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    match vt {
        ValueType::Default => format_number(v),
        ValueType::Time => format_duration(v),
        ValueType::Data => format_bytes(v),
    }
}

/// Formats a per-second rate: `123.4/s` for plain (and time) values, `1.2 kB/s` for data.
pub fn format_rate_per_sec(vt: ValueType, v: f64) -> String {
    match vt {
        ValueType::Data => format!("{}/s", format_value(ValueType::Data, v)),
        ValueType::Default | ValueType::Time => {
            format!("{}/s", format_value(ValueType::Default, v))
        }
    }
}

/// Up to two decimals, trailing zeros removed.
fn format_number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn format_duration(ms: f64) -> String {
    let sign = if ms < 0.0 { "-" } else { "" };
    let ms = ms.abs();
    // Round first, then pick the unit, so that 999.999ms shows as 1s rather than 1000ms.
    let us = round2(ms * 1000.0);
    if us == 0.0 {
        return "0s".to_owned();
    }
    if us < 1000.0 {
        return format!("{sign}{}µs", format_number(us));
    }
    let ms = round2(ms);
    if ms < 1000.0 {
        return format!("{sign}{}ms", format_number(ms));
    }
    let secs = round2(ms / 1000.0);
    if secs < 60.0 {
        return format!("{sign}{}s", format_number(secs));
    }
    // Minutes and above: whole seconds.
    let total = (ms / 1000.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = sign.to_owned();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    let sign = if bytes < 0.0 { "-" } else { "" };
    let mut value = bytes.abs();
    if value.round() < 1000.0 {
        return format!("{sign}{} B", value.round());
    }
    let mut unit = UNITS[0];
    value /= 1000.0;
    for next in &UNITS[1..] {
        if round_display(value) < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    // Like k6 (go-humanize): one decimal below 10, none above.
    if round_display(value) < 10.0 {
        format!("{sign}{value:.1} {unit}")
    } else {
        format!("{sign}{value:.0} {unit}")
    }
}

/// `value` rounded as it will be displayed.
fn round_display(value: f64) -> f64 {
    if (value * 10.0).round() / 10.0 < 10.0 {
        (value * 10.0).round() / 10.0
    } else {
        value.round()
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        let f = |v| format_value(ValueType::Default, v);
        assert_eq!(f(3.0), "3");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(12.3456), "12.35");
        assert_eq!(f(100.0), "100");
        assert_eq!(f(-0.001), "0");
        assert_eq!(f(-1.5), "-1.5");
        assert_eq!(f(f64::NAN), "NaN");
    }

    #[test]
    fn durations() {
        let f = |v| format_value(ValueType::Time, v);
        assert_eq!(f(0.0), "0s");
        assert_eq!(f(0.052), "52µs");
        assert_eq!(f(0.5255), "525.5µs");
        assert_eq!(f(0.999_999), "1ms");
        assert_eq!(f(1.234), "1.23ms");
        assert_eq!(f(200.0), "200ms");
        assert_eq!(f(999.999), "1s");
        assert_eq!(f(1500.0), "1.5s");
        assert_eq!(f(59_999.0), "1m0s");
        assert_eq!(f(123_000.0), "2m3s");
        assert_eq!(f(3_723_000.0), "1h2m3s");
        assert_eq!(f(-2.5), "-2.5ms");
    }

    #[test]
    fn data() {
        let f = |v| format_value(ValueType::Data, v);
        assert_eq!(f(0.0), "0 B");
        assert_eq!(f(512.0), "512 B");
        assert_eq!(f(999.6), "1.0 kB");
        assert_eq!(f(1_234.0), "1.2 kB");
        assert_eq!(f(40_400.0), "40 kB");
        assert_eq!(f(999_999.0), "1.0 MB");
        assert_eq!(f(3_400_000.0), "3.4 MB");
        assert_eq!(f(5e12), "5.0 TB");
    }

    #[test]
    fn rates() {
        assert_eq!(format_rate_per_sec(ValueType::Default, 123.4), "123.4/s");
        assert_eq!(format_rate_per_sec(ValueType::Time, 2.0), "2/s");
        assert_eq!(format_rate_per_sec(ValueType::Data, 1_200.0), "1.2 kB/s");
    }
}
