//! The metric catalog: which names exist, with which kind and value type.
//!
//! [`Catalog::with_builtins`] knows the metrics the host records itself ([`BUILTINS`], named as in k6);
//! custom metrics are registered at first use, and a name keeps its kind for the whole run.

use std::collections::BTreeMap;

use crate::{MetricKind, MetricsError, ValueType};

/// Names of the builtin metrics, as constants so that recorders and readers cannot drift apart.
pub mod names {
    /// HTTP requests made (counter).
    pub const HTTP_REQS: &str = "http_reqs";
    /// Total time of an HTTP request, from start to last body byte (trend, ms).
    pub const HTTP_REQ_DURATION: &str = "http_req_duration";
    /// Time spent establishing the TCP connection (trend, ms).
    pub const HTTP_REQ_CONNECTING: &str = "http_req_connecting";
    /// Time spent on the TLS handshake of a new `https://` connection (trend, ms).
    pub const HTTP_REQ_TLS_HANDSHAKING: &str = "http_req_tls_handshaking";
    /// Time waiting for the first response byte (trend, ms).
    pub const HTTP_REQ_WAITING: &str = "http_req_waiting";
    /// Time receiving the response body (trend, ms).
    pub const HTTP_REQ_RECEIVING: &str = "http_req_receiving";
    /// Share of failed HTTP requests (rate).
    pub const HTTP_REQ_FAILED: &str = "http_req_failed";
    /// Bytes sent (counter, data).
    pub const DATA_SENT: &str = "data_sent";
    /// Bytes received (counter, data).
    pub const DATA_RECEIVED: &str = "data_received";
    /// Completed iterations (counter).
    pub const ITERATIONS: &str = "iterations";
    /// Duration of one iteration (trend, ms).
    pub const ITERATION_DURATION: &str = "iteration_duration";
    /// How late an arrival-rate iteration started compared to its schedule (trend, ms).
    pub const ITERATION_DELAY: &str = "iteration_delay";
    /// Iterations an arrival-rate executor could not start for lack of VUs (counter).
    pub const DROPPED_ITERATIONS: &str = "dropped_iterations";
    /// Iterations cut short by a stop, a ramp-down or an error (counter).
    pub const INTERRUPTED_ITERATIONS: &str = "interrupted_iterations";
    /// Active VUs (gauge).
    pub const VUS: &str = "vus";
    /// Allocated VUs (gauge).
    pub const VUS_MAX: &str = "vus_max";
    /// Share of passed checks (rate).
    pub const CHECKS: &str = "checks";
    /// Iterations that failed: the guest returned an error, trapped, ran out of budget (counter,
    /// tagged `error`).
    pub const ITERATION_ERRORS: &str = "iteration_errors";
    /// VU initialisations (the `vu` constructor) that failed (counter).
    pub const VU_INIT_ERRORS: &str = "vu_init_errors";
}

/// The builtin metrics with their kind and value type.
pub const BUILTINS: &[(&str, MetricKind, ValueType)] = {
    use MetricKind::*;
    use ValueType::{Data, Default as Plain, Time};
    use names::*;
    &[
        (HTTP_REQS, Counter, Plain),
        (HTTP_REQ_DURATION, Trend, Time),
        (HTTP_REQ_CONNECTING, Trend, Time),
        (HTTP_REQ_TLS_HANDSHAKING, Trend, Time),
        (HTTP_REQ_WAITING, Trend, Time),
        (HTTP_REQ_RECEIVING, Trend, Time),
        (HTTP_REQ_FAILED, Rate, Plain),
        (DATA_SENT, Counter, Data),
        (DATA_RECEIVED, Counter, Data),
        (ITERATIONS, Counter, Plain),
        (ITERATION_DURATION, Trend, Time),
        (ITERATION_DELAY, Trend, Time),
        (DROPPED_ITERATIONS, Counter, Plain),
        (INTERRUPTED_ITERATIONS, Counter, Plain),
        (VUS, Gauge, Plain),
        (VUS_MAX, Gauge, Plain),
        (CHECKS, Rate, Plain),
        (ITERATION_ERRORS, Counter, Plain),
        (VU_INIT_ERRORS, Counter, Plain),
    ]
};

/// The longest accepted metric name (k6's limit).
pub const MAX_NAME_LEN: usize = 128;

/// Checks that `name` is `[A-Za-z_][A-Za-z0-9_]*` and at most [`MAX_NAME_LEN`] bytes, which keeps it valid
/// as a Prometheus metric name too.
pub fn validate_metric_name(name: &str) -> Result<(), MetricsError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is too long")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some("it contains a character other than a letter, digit or `_`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MetricsError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Metric names with their kind and value type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    metrics: BTreeMap<String, (MetricKind, ValueType)>,
}

impl Catalog {
    /// An empty catalog (no builtins).
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog holding [`BUILTINS`].
    pub fn with_builtins() -> Self {
        let metrics = BUILTINS
            .iter()
            .map(|&(n, k, vt)| (n.to_owned(), (k, vt)))
            .collect();
        Catalog { metrics }
    }

    /// Registers `name`, or confirms it if it is already known with the same kind (its value type then stays
    /// as first registered). Fails with [`MetricsError::KindConflict`] if it is known with another kind, and
    /// with [`MetricsError::InvalidName`] if the name is not valid.
    pub fn register(
        &mut self,
        name: &str,
        kind: MetricKind,
        vt: ValueType,
    ) -> Result<(), MetricsError> {
        if let Some(&(existing, _)) = self.metrics.get(name) {
            return if existing == kind {
                Ok(())
            } else {
                Err(MetricsError::KindConflict {
                    name: name.to_owned(),
                    existing,
                    requested: kind,
                })
            };
        }
        validate_metric_name(name)?;
        self.metrics.insert(name.to_owned(), (kind, vt));
        Ok(())
    }

    /// The kind and value type of `name`, if registered.
    pub fn get(&self, name: &str) -> Option<(MetricKind, ValueType)> {
        self.metrics.get(name).copied()
    }

    /// True if `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.metrics.contains_key(name)
    }

    /// All registered metrics, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetricKind, ValueType)> {
        self.metrics.iter().map(|(n, &(k, vt))| (n.as_str(), k, vt))
    }

    /// The number of registered metrics.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_known() {
        let c = Catalog::with_builtins();
        assert_eq!(c.len(), BUILTINS.len());
        assert_eq!(
            c.get(names::HTTP_REQ_DURATION),
            Some((MetricKind::Trend, ValueType::Time))
        );
        assert_eq!(
            c.get(names::DATA_RECEIVED),
            Some((MetricKind::Counter, ValueType::Data))
        );
        assert_eq!(
            c.get(names::CHECKS),
            Some((MetricKind::Rate, ValueType::Default))
        );
        assert_eq!(c.get("nope"), None);
        for (name, _, _) in BUILTINS {
            validate_metric_name(name).unwrap();
        }
        let names: Vec<_> = c.iter().map(|(n, _, _)| n).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn register_custom_and_conflicts() {
        let mut c = Catalog::with_builtins();
        c.register("cart_size", MetricKind::Trend, ValueType::Default)
            .unwrap();
        c.register("cart_size", MetricKind::Trend, ValueType::Data)
            .unwrap();
        assert_eq!(
            c.get("cart_size"),
            Some((MetricKind::Trend, ValueType::Default))
        );
        c.register(names::HTTP_REQS, MetricKind::Counter, ValueType::Default)
            .unwrap();
        let err = c
            .register(names::HTTP_REQS, MetricKind::Gauge, ValueType::Default)
            .unwrap_err();
        assert_eq!(
            err,
            MetricsError::KindConflict {
                name: "http_reqs".into(),
                existing: MetricKind::Counter,
                requested: MetricKind::Gauge
            }
        );
        assert_eq!(
            err.to_string(),
            "metric `http_reqs` is already registered as a counter; it cannot also be a gauge"
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let mut c = Catalog::new();
        assert!(c.is_empty());
        for bad in ["", "1abc", "with space", "dash-ed", "ünï", &"x".repeat(129)] {
            let err = c
                .register(bad, MetricKind::Counter, ValueType::Default)
                .unwrap_err();
            assert!(
                matches!(err, MetricsError::InvalidName { .. }),
                "{bad}: {err}"
            );
        }
        c.register("_ok_2", MetricKind::Counter, ValueType::Default)
            .unwrap();
        assert!(c.contains("_ok_2"));
    }
}
