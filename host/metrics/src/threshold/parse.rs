//! Parsing of threshold expressions: `<aggregation> <operator> <number>[unit]`.

use super::{Aggregation, Op, ThresholdExpr};
use crate::ThresholdError;

/// Accepted units and their factor to the base unit (milliseconds, bytes, or a fraction). Longer suffixes
/// come first so that `ms` is not read as `s`.
const UNITS: &[(&str, f64)] = &[
    ("µs", 0.001), // micro sign U+00B5
    ("μs", 0.001), // Greek mu U+03BC
    ("us", 0.001),
    ("ms", 1.0),
    ("kB", 1e3),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("s", 1_000.0),
    ("m", 60_000.0),
    ("h", 3_600_000.0),
    ("B", 1.0),
    ("%", 0.01),
];

impl ThresholdExpr {
    /// Parses an expression such as `p(95) < 200ms`, `avg<100`, `rate < 1%`, `count >= 10` or `value>0`.
    ///
    /// Aggregations: `avg`, `min`, `max`, `med`, `p(N)` (N from 0 to 100), `count`, `rate`, `value`.
    /// Operators: `<`, `<=`, `>`, `>=`, `==` (or `===`), `!=` (or `!==`). The limit is a number, optionally
    /// followed by a unit: `us`/`µs`, `ms`, `s`, `m`, `h` (converted to milliseconds), `B`, `kB`, `MB`, `GB`
    /// (bytes, SI) or `%` (divided by 100). Bare numbers are taken as is (milliseconds for time metrics).
    pub fn parse(s: &str) -> Result<Self, ThresholdError> {
        let source = s.trim();
        let Some(start) = source.find(['<', '>', '=', '!']) else {
            return Err(ThresholdError::MissingOperator {
                source_text: source.to_owned(),
            });
        };
        let op_len = source[start..]
            .find(|c| !matches!(c, '<' | '>' | '=' | '!'))
            .unwrap_or(source.len() - start);
        let op_text = &source[start..start + op_len];
        let op = match op_text {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" | "===" => Op::Eq,
            "!=" | "!==" => Op::Ne,
            _ => {
                return Err(ThresholdError::UnknownOperator {
                    found: op_text.to_owned(),
                    source_text: source.to_owned(),
                });
            }
        };
        let aggregation = parse_aggregation(source[..start].trim(), source)?;
        let value = parse_value(source[start + op_len..].trim(), source)?;
        Ok(ThresholdExpr {
            aggregation,
            op,
            value,
            source: source.to_owned(),
        })
    }
}

fn parse_aggregation(text: &str, source: &str) -> Result<Aggregation, ThresholdError> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let aggregation = match compact.as_str() {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "count" => Aggregation::Count,
        "rate" => Aggregation::Rate,
        "value" => Aggregation::Value,
        other => {
            let Some(n) = other
                .strip_prefix("p(")
                .and_then(|rest| rest.strip_suffix(')'))
            else {
                return Err(ThresholdError::UnknownAggregation {
                    found: text.to_owned(),
                    source_text: source.to_owned(),
                });
            };
            match n.parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Aggregation::Percentile(p),
                _ => {
                    return Err(ThresholdError::InvalidPercentile {
                        found: text.to_owned(),
                        source_text: source.to_owned(),
                    });
                }
            }
        }
    };
    Ok(aggregation)
}

fn parse_value(text: &str, source: &str) -> Result<f64, ThresholdError> {
    let invalid = || ThresholdError::InvalidValue {
        found: text.to_owned(),
        source_text: source.to_owned(),
    };
    let (number, factor) = UNITS
        .iter()
        .find_map(|&(unit, factor)| text.strip_suffix(unit).map(|n| (n.trim_end(), factor)))
        .unwrap_or((text, 1.0));
    // Rust's float parser also takes "inf" and "nan"; a limit must be a plain finite number.
    if number.is_empty()
        || !number.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
    {
        return Err(invalid());
    }
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n * factor),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> (Aggregation, Op, f64) {
        let e = ThresholdExpr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (e.aggregation, e.op, e.value)
    }

    #[test]
    fn parses_k6_expressions() {
        use Aggregation as A;
        assert_eq!(
            parsed("p(95) < 200ms"),
            (A::Percentile(95.0), Op::Lt, 200.0)
        );
        assert_eq!(parsed("avg<100"), (A::Avg, Op::Lt, 100.0));
        assert_eq!(parsed("rate < 0.01"), (A::Rate, Op::Lt, 0.01));
        assert_eq!(parsed("count >= 10"), (A::Count, Op::Ge, 10.0));
        assert_eq!(parsed("p(99.9)<1s"), (A::Percentile(99.9), Op::Lt, 1000.0));
        assert_eq!(parsed("med<=2.5ms"), (A::Med, Op::Le, 2.5));
        assert_eq!(parsed("value>0"), (A::Value, Op::Gt, 0.0));
        assert_eq!(parsed("max < 3000"), (A::Max, Op::Lt, 3000.0));
        assert_eq!(parsed(" MIN ==  -1 "), (A::Min, Op::Eq, -1.0));
        assert_eq!(parsed("count !== 0"), (A::Count, Op::Ne, 0.0));
        assert_eq!(
            parsed("p( 50 ) === 2m"),
            (A::Percentile(50.0), Op::Eq, 120_000.0)
        );
        assert_eq!(parsed("rate<1%"), (A::Rate, Op::Lt, 0.01));
        assert_eq!(parsed("count < 10 MB"), (A::Count, Op::Lt, 1e7));
        assert_eq!(parsed("max<1h"), (A::Max, Op::Lt, 3_600_000.0));
        for micro in ["max<250us", "max<250µs", "max<250μs"] {
            assert!((parsed(micro).2 - 0.25).abs() < 1e-12, "{micro}");
        }
    }

    #[test]
    fn display_and_serde_use_canonical_and_source() {
        let e = ThresholdExpr::parse(" p(95)<0.2s ").unwrap();
        assert_eq!(e.source, "p(95)<0.2s");
        assert_eq!(e.to_string(), "p(95) < 200");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#""p(95)<0.2s""#);
        assert_eq!(serde_json::from_str::<ThresholdExpr>(&json).unwrap(), e);
        assert!(serde_json::from_str::<ThresholdExpr>(r#""p95<1""#).is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            (
                "p95 < 200",
                "unknown aggregation `p95` in `p95 < 200`: use avg, min, max, med, p(N), count, rate or value",
            ),
            (
                "avg 200",
                "no comparison operator in `avg 200`: use one of <, <=, >, >=, ==, !=",
            ),
            ("avg => 200", "unknown operator `=>` in `avg => 200`"),
            ("avg = 200", "unknown operator `=`"),
            ("< 200", "unknown aggregation ``"),
            ("p(101) < 1", "invalid percentile `p(101)`"),
            ("p(x) < 1", "invalid percentile `p(x)`"),
            (
                "avg < 200 sec",
                "invalid value `200 sec` in `avg < 200 sec`: use a number",
            ),
            ("avg <", "invalid value ``"),
            ("avg < ms", "invalid value `ms`"),
            ("avg < inf", "invalid value `inf`"),
            ("avg < 1e999", "invalid value `1e999`"),
        ];
        for (input, expected) in cases {
            let err = ThresholdExpr::parse(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }
}
