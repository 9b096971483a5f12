//! [`TrendStat`]: a statistic the end-of-test summary shows for every trend (k6's
//! `summaryTrendStats`).

use std::fmt;

use super::TrendSink;

/// One statistic of a trend in the summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrendStat {
    /// Number of samples.
    Count,
    /// Mean.
    Avg,
    /// Smallest sample.
    Min,
    /// Median.
    Med,
    /// Largest sample.
    Max,
    /// Percentile, from 0 to 100: `p(99.9)`.
    Percentile(f64),
}

impl TrendStat {
    /// What the summary shows unless the plan says otherwise (the count of samples is always
    /// there besides).
    pub const DEFAULT: [TrendStat; 7] = [
        TrendStat::Avg,
        TrendStat::Min,
        TrendStat::Med,
        TrendStat::Max,
        TrendStat::Percentile(90.0),
        TrendStat::Percentile(95.0),
        TrendStat::Percentile(99.0),
    ];

    /// Reads `count`, `avg`, `min`, `med`, `max` or `p(N)` with N from 0 to 100 (spaces and case
    /// ignored). The error says what is accepted.
    pub fn parse(text: &str) -> Result<TrendStat, String> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let stat = match compact.as_str() {
            "count" => TrendStat::Count,
            "avg" => TrendStat::Avg,
            "min" => TrendStat::Min,
            "med" => TrendStat::Med,
            "max" => TrendStat::Max,
            other => {
                let n = other
                    .strip_prefix("p(")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!(
                            "unknown statistic {text:?}: use count, avg, min, med, max or p(N) \
                             such as p(99.9)"
                        )
                    })?;
                match n.parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => TrendStat::Percentile(p),
                    _ => {
                        return Err(format!(
                            "{text:?} is not a percentile: p(N) takes N from 0 to 100, such as p(99.9)"
                        ));
                    }
                }
            }
        };
        Ok(stat)
    }

    /// Its key in the JSON summary: `count`, `avg`, `min`, `med`, `max`, `p95`, `p99.9`.
    pub fn key(&self) -> String {
        match self {
            TrendStat::Percentile(p) => format!("p{p}"),
            other => other.to_string(),
        }
    }

    /// Its value for `trend`.
    pub fn of(&self, trend: &TrendSink) -> f64 {
        match self {
            TrendStat::Count => trend.count() as f64,
            TrendStat::Avg => trend.avg(),
            TrendStat::Min => trend.min(),
            TrendStat::Med => trend.med(),
            TrendStat::Max => trend.max(),
            TrendStat::Percentile(p) => trend.percentile(*p),
        }
    }
}

/// As written in plans: `count`, `avg`, ..., `p(99.9)`.
impl fmt::Display for TrendStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrendStat::Count => f.write_str("count"),
            TrendStat::Avg => f.write_str("avg"),
            TrendStat::Min => f.write_str("min"),
            TrendStat::Med => f.write_str("med"),
            TrendStat::Max => f.write_str("max"),
            TrendStat::Percentile(p) => write!(f, "p({p})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_percentiles_into_keys_and_labels() {
        let cases = [
            ("avg", "avg", "avg"),
            (" COUNT ", "count", "count"),
            ("p(95)", "p(95)", "p95"),
            ("p( 99.9 )", "p(99.9)", "p99.9"),
            ("P(99.99)", "p(99.99)", "p99.99"),
            ("p(0)", "p(0)", "p0"),
            ("p(100)", "p(100)", "p100"),
        ];
        for (text, label, key) in cases {
            let stat = TrendStat::parse(text).unwrap();
            assert_eq!(
                (stat.to_string().as_str(), stat.key().as_str()),
                (label, key),
                "{text}"
            );
        }
        let default: Vec<String> = TrendStat::DEFAULT.iter().map(TrendStat::key).collect();
        assert_eq!(default, ["avg", "min", "med", "max", "p90", "p95", "p99"]);
    }

    #[test]
    fn anything_else_is_refused_with_what_is_accepted() {
        assert!(
            TrendStat::parse("p99")
                .unwrap_err()
                .contains("use count, avg, min, med, max or p(N)")
        );
        assert!(TrendStat::parse("rate").is_err());
        for bad in ["p(101)", "p(-1)", "p(x)", "p()"] {
            assert!(
                TrendStat::parse(bad)
                    .unwrap_err()
                    .contains("N from 0 to 100"),
                "{bad}"
            );
        }
    }

    #[test]
    fn values_come_from_the_trend() {
        let mut t = TrendSink::default();
        for v in 1..=1000 {
            t.add(f64::from(v));
        }
        assert_eq!(TrendStat::Count.of(&t), 1000.0);
        assert_eq!(TrendStat::Max.of(&t), 1000.0);
        let p999 = TrendStat::Percentile(99.9).of(&t);
        assert!((p999 - 999.0).abs() <= 1.0, "{p999}");
    }
}
