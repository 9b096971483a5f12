//! `[options]`: run-wide limits and timeouts, all optional.
//!
//! ```toml
//! [options]
//! http-timeout = "60s"       # per request, unless the request sets its own
//! iteration-timeout = "5m"   # wall clock per VU call (constructor, iteration); above http-timeout
//! cpu-budget = "1s"          # guest CPU time per call before it is interrupted
//! memory-limit = "64MiB"     # linear memory per VU, 1MiB..4GiB
//! setup-timeout = "60s"
//! teardown-timeout = "60s"
//! max-connections = 5000     # requests in flight per worker (so open connections); default: no cap
//! cookies = true                   # a cookie jar per VU (one instance per VU only)
//! max-redirects = 10               # redirects a request follows; 0: none
//! discard-response-bodies = false  # true: read and count bodies, hand the guest an empty one
//! release-stack-after = "10s"      # a VU sleeping this long gives back its dead stack pages; "off"
//! tls-ca-file = "ca.pem"           # also trust these CA certificates for https:// targets
//! insecure-skip-tls-verify = false # true: do not verify https:// servers' certificates
//! tls-client-cert = "client.pem"   # a client certificate for servers that ask for one (mTLS),
//! tls-client-key = "client-key.pem" # with its private key
//! summary-trend-stats = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"]  # per trend
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::executor::check_positive_duration;
use crate::reader::{Problem, Reader, or};
use crate::units::format_size;
use stampede_metrics::TrendStat;

/// The smallest accepted `memory-limit`: below one MiB (16 Wasm pages) no real guest instantiates.
pub const MIN_MEMORY_LIMIT: u64 = 1 << 20;
/// The largest accepted `memory-limit`: 4 GiB is all a 32-bit Wasm memory can address.
pub const MAX_MEMORY_LIMIT: u64 = 4 << 30;

/// Run-wide limits and timeouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Options {
    /// Timeout of one HTTP request, unless the request sets its own.
    pub http_timeout: Duration,
    /// Wall-clock limit of one guest call (VU constructor, iteration, setup, teardown).
    pub iteration_timeout: Duration,
    /// Guest CPU time per call before it is interrupted (enforced with epoch interruption).
    pub cpu_budget: Duration,
    /// Linear memory cap per VU, in bytes ([`MIN_MEMORY_LIMIT`]..=[`MAX_MEMORY_LIMIT`]).
    pub memory_limit: u64,
    /// Wall-clock limit of `setup`.
    pub setup_timeout: Duration,
    /// Wall-clock limit of `teardown`.
    pub teardown_timeout: Duration,
    /// At most this many requests in flight per worker, and so at most this many open connections.
    /// Further requests wait for a free one (the wait is in `iteration_duration`, not in
    /// `http_req_duration`). `None`: no cap.
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// Keep a cookie jar per VU: cookies responses set are sent back with the VU's later requests
    /// (k6's per-VU jar, a Locust `HttpUser`'s session). One instance per VU only.
    #[serde(default = "default_cookies")]
    pub cookies: bool,
    /// Redirects a request (`http.send` or `fetch()`) follows before its last response is returned
    /// as is (k6's `maxRedirects`); 0: none.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
    /// Offer HTTP/2 to `https://` servers in the TLS handshake (ALPN), as browsers and k6 do: those
    /// that choose it get HTTP/2, the others HTTP/1.1. `false`: HTTP/1.1 only.
    #[serde(default = "default_http2")]
    pub http2: bool,
    /// Read every response body (it is timed and counted in `data_received`) but hand the guest an
    /// empty one, as k6's `discardResponseBodies`: less memory and CPU per request when scenarios
    /// only look at statuses and headers.
    #[serde(default)]
    pub discard_response_bodies: bool,
    /// With one instance per VU, a VU that sleeps in its iteration (`time.sleep`) at least this long
    /// gives the pages of its native stack below the sleep back to the OS: ~6-8 KiB less per sleeping
    /// VU, for a syscall and two page faults (~10-20 us of CPU on a 2-core VM) per such sleep. `None`
    /// (`"off"`): never.
    #[serde(default = "default_release_stack_after")]
    pub release_stack_after: Option<Duration>,
    /// PEM file of CA certificates trusted for `https://` targets besides Mozilla's roots (a
    /// company CA, or a test system's self-signed certificate): as written in the plan, until
    /// [`crate::load`] or [`crate::parse`] resolves it against the plan file's folder.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Do not verify `https://` servers' certificates (k6's `insecureSkipTLSVerify`), for test
    /// systems only: the traffic is still encrypted, but to whoever answers.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// PEM file of the client certificate (chain, leaf first) presented to `https://` servers that
    /// ask for one (mutual TLS); resolved like `tls_ca_file`. Needs `tls_client_key`.
    #[serde(default)]
    pub tls_client_cert: Option<PathBuf>,
    /// PEM file of `tls_client_cert`'s private key.
    #[serde(default)]
    pub tls_client_key: Option<PathBuf>,
    /// The statistics the end-of-test summary shows for every trend, in order, as written in
    /// plans (`avg`, `p(99.9)`; each one [`TrendStat::parse`]s), k6's `summaryTrendStats`.
    #[serde(default = "default_summary_trend_stats")]
    pub summary_trend_stats: Vec<String>,
}

/// The default `summary-trend-stats`: [`TrendStat::DEFAULT`].
pub fn default_summary_trend_stats() -> Vec<String> {
    TrendStat::DEFAULT.iter().map(ToString::to_string).collect()
}

/// Reads a list of trend statistics (`summary-trend-stats`, `--summary-trend-stats`) into their
/// canonical form, or says what is wrong with it.
pub fn parse_trend_stats<'s>(
    items: impl IntoIterator<Item = &'s str>,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let stat = TrendStat::parse(item)?.to_string();
        if !out.contains(&stat) {
            out.push(stat);
        }
    }
    if out.is_empty() {
        return Err("is empty: name at least one statistic, such as \"avg\" or \"p(95)\"".into());
    }
    Ok(out)
}

fn default_cookies() -> bool {
    true
}

fn default_http2() -> bool {
    true
}

/// The default `max-redirects`: 10, as k6's.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

fn default_max_redirects() -> u32 {
    DEFAULT_MAX_REDIRECTS
}

/// The most `max-redirects` accepted.
pub const MAX_REDIRECTS: u64 = 100;

/// The default `release-stack-after`: 10 s, where its CPU cost per sleep is ~0.0002 % of the sleep.
pub const DEFAULT_RELEASE_STACK_AFTER: Duration = Duration::from_secs(10);

fn default_release_stack_after() -> Option<Duration> {
    Some(DEFAULT_RELEASE_STACK_AFTER)
}

/// The longest accepted timeout (a day): longer values are certainly typos, and they would overflow
/// deadline arithmetic.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl Default for Options {
    /// The documented defaults: 60s timeouts (5 minutes per iteration, so a slow request ends as a
    /// request timeout, not an iteration abort), a 1s CPU budget, 64 MiB of memory per VU.
    fn default() -> Self {
        Options {
            http_timeout: Duration::from_secs(60),
            iteration_timeout: Duration::from_secs(300),
            cpu_budget: Duration::from_secs(1),
            memory_limit: 64 << 20,
            setup_timeout: Duration::from_secs(60),
            teardown_timeout: Duration::from_secs(60),
            max_connections: None,
            cookies: true,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            http2: true,
            discard_response_bodies: false,
            release_stack_after: default_release_stack_after(),
            tls_ca_file: None,
            insecure_skip_tls_verify: false,
            tls_client_cert: None,
            tls_client_key: None,
            summary_trend_stats: default_summary_trend_stats(),
        }
    }
}

impl Options {
    /// Reads `[options]`; absent keys keep their defaults.
    pub(crate) fn read(r: &mut Reader<'_>) -> Options {
        let d = Options::default();
        // A client certificate needs its key and the other way round, whatever their values' types
        // (a value of the wrong type is reported as such, not as missing).
        match (r.value("tls-client-cert"), r.value("tls-client-key")) {
            (Some(_), None) => {
                r.error(
                    "tls-client-cert",
                    "needs tls-client-key, the PEM file of its private key",
                );
            }
            (None, Some(_)) => {
                r.error(
                    "tls-client-key",
                    "needs tls-client-cert, the PEM file of the certificate it belongs to",
                );
            }
            _ => {}
        }
        Options {
            http_timeout: or(r.duration("http-timeout"), d.http_timeout),
            iteration_timeout: or(r.duration("iteration-timeout"), d.iteration_timeout),
            cpu_budget: or(r.duration("cpu-budget"), d.cpu_budget),
            memory_limit: or(r.size("memory-limit"), d.memory_limit),
            setup_timeout: or(r.duration("setup-timeout"), d.setup_timeout),
            teardown_timeout: or(r.duration("teardown-timeout"), d.teardown_timeout),
            max_connections: r.u64("max-connections").ok().flatten(),
            cookies: or(r.bool("cookies"), true),
            max_redirects: match r.u64("max-redirects") {
                Ok(Some(n)) if n <= MAX_REDIRECTS => n as u32,
                Ok(Some(n)) => {
                    r.error(
                        "max-redirects",
                        format!("must be at most {MAX_REDIRECTS}, found {n}"),
                    );
                    DEFAULT_MAX_REDIRECTS
                }
                _ => DEFAULT_MAX_REDIRECTS,
            },
            http2: or(r.bool("http2"), true),
            discard_response_bodies: or(r.bool("discard-response-bodies"), false),
            release_stack_after: read_release_stack_after(r),
            tls_ca_file: r.string("tls-ca-file").ok().flatten().map(PathBuf::from),
            insecure_skip_tls_verify: or(r.bool("insecure-skip-tls-verify"), false),
            tls_client_cert: r
                .string("tls-client-cert")
                .ok()
                .flatten()
                .map(PathBuf::from),
            tls_client_key: r.string("tls-client-key").ok().flatten().map(PathBuf::from),
            summary_trend_stats: read_trend_stats(r),
        }
    }

    /// Checks the values' ranges; each problem names its key in `[options]`.
    ///
    /// (`release-stack-after` takes any duration: `"0s"` releases at every sleep.)
    pub(crate) fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_positive_duration("http-timeout", self.http_timeout, &mut problems);
        check_positive_duration("iteration-timeout", self.iteration_timeout, &mut problems);
        check_positive_duration("cpu-budget", self.cpu_budget, &mut problems);
        if let Err(message) = parse_trend_stats(self.summary_trend_stats.iter().map(String::as_str))
        {
            problems.push(("summary-trend-stats", message));
        }
        if self.http_timeout >= self.iteration_timeout {
            // A lowered iteration-timeout meets the default http-timeout: say where that came from.
            let default = if self.http_timeout == Options::default().http_timeout {
                " (the default)"
            } else {
                ""
            };
            problems.push((
                "http-timeout",
                format!(
                    "must be shorter than iteration-timeout ({}), found {}{default}: a hung request \
                     would end the whole iteration before it could time out and be recorded; lower \
                     http-timeout too",
                    crate::units::format_duration(self.iteration_timeout),
                    crate::units::format_duration(self.http_timeout)
                ),
            ));
        }
        for (key, d) in [
            ("http-timeout", self.http_timeout),
            ("iteration-timeout", self.iteration_timeout),
            ("setup-timeout", self.setup_timeout),
            ("teardown-timeout", self.teardown_timeout),
        ] {
            if d > MAX_TIMEOUT {
                problems.push((
                    key,
                    format!(
                        "must be at most {}",
                        crate::units::format_duration(MAX_TIMEOUT)
                    ),
                ));
            }
        }
        if !(MIN_MEMORY_LIMIT..=MAX_MEMORY_LIMIT).contains(&self.memory_limit) {
            let message = format!(
                "must be between {} and {}, found {}",
                format_size(MIN_MEMORY_LIMIT),
                format_size(MAX_MEMORY_LIMIT),
                format_size(self.memory_limit)
            );
            problems.push(("memory-limit", message));
        }
        if self.max_connections == Some(0) {
            problems.push((
                "max-connections",
                "must be at least 1; leave it out for no cap".to_owned(),
            ));
        }
        check_positive_duration("setup-timeout", self.setup_timeout, &mut problems);
        check_positive_duration("teardown-timeout", self.teardown_timeout, &mut problems);
        for (key, file, what) in [
            (
                "tls-ca-file",
                &self.tls_ca_file,
                "a PEM file of CA certificates",
            ),
            (
                "tls-client-cert",
                &self.tls_client_cert,
                "the client certificate's PEM file",
            ),
            (
                "tls-client-key",
                &self.tls_client_key,
                "the client key's PEM file",
            ),
        ] {
            if file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
                problems.push((
                    key,
                    format!("must not be empty: name {what}, or leave it out"),
                ));
            }
        }
        if self.insecure_skip_tls_verify && self.tls_ca_file.is_some() {
            problems.push((
                "tls-ca-file",
                "has no effect with insecure-skip-tls-verify = true, which trusts any certificate: \
                 remove one of the two"
                    .to_owned(),
            ));
        }
        problems
    }
}

/// `release-stack-after`: a duration, or `"off"`.
fn read_trend_stats(r: &mut Reader<'_>) -> Vec<String> {
    const KEY: &str = "summary-trend-stats";
    let Ok(Some(items)) = r.array(KEY) else {
        return default_summary_trend_stats();
    };
    let mut texts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", r.key_path(KEY));
        match item {
            toml::Value::String(s) => match TrendStat::parse(s) {
                Ok(_) => texts.push(s.as_str()),
                Err(message) => {
                    r.error_at(KEY, path, message);
                }
            },
            other => {
                let message = format!(
                    "expected a statistic such as \"avg\" or \"p(99.9)\", found {}",
                    crate::reader::describe(other)
                );
                r.error_at(KEY, path, message);
            }
        }
    }
    if texts.len() < items.len() {
        return default_summary_trend_stats();
    }
    parse_trend_stats(texts).unwrap_or_else(|message| {
        r.error(KEY, message);
        default_summary_trend_stats()
    })
}

fn read_release_stack_after(r: &mut Reader<'_>) -> Option<Duration> {
    const KEY: &str = "release-stack-after";
    let expected = r#"a duration string such as "10s", or "off""#;
    match r.value(KEY) {
        None => default_release_stack_after(),
        Some(toml::Value::String(s)) if s.trim().eq_ignore_ascii_case("off") => None,
        Some(toml::Value::String(s)) => match crate::units::parse_duration(s) {
            Ok(d) => Some(d),
            Err(message) => {
                r.error(KEY, format!("{message}, or write \"off\" to never release"));
                default_release_stack_after()
            }
        },
        Some(other) => {
            r.type_error(KEY, expected, other);
            default_release_stack_after()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_stack_after_is_a_duration_or_off() {
        let (o, errors) = read("");
        assert!(errors.is_empty());
        assert_eq!(o.release_stack_after, Some(Duration::from_secs(10)));
        let (o, errors) = read("release-stack-after = \"1s\"");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(o.release_stack_after, Some(Duration::from_secs(1)));
        for off in ["off", "Off", " OFF "] {
            let (o, errors) = read(&format!("release-stack-after = \"{off}\""));
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(o.release_stack_after, None);
        }
        let (_, errors) = read("release-stack-after = \"soon\"");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("options.release-stack-after: ") && errors[0].contains("\"off\""),
            "{errors:?}"
        );
        let (_, errors) = read("release-stack-after = false");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("or \"off\""), "{errors:?}");
    }

    #[test]
    fn max_redirects_is_a_count_up_to_100() {
        assert_eq!(read("").0.max_redirects, 10);
        let (o, errors) = read("max-redirects = 0");
        assert!(errors.is_empty() && o.max_redirects == 0, "{errors:?}");
        let (_, errors) = read("max-redirects = 101");
        assert_eq!(
            errors,
            ["options.max-redirects: must be at most 100, found 101"]
        );
        let (_, errors) = read("max-redirects = -1");
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn cookies_are_on_unless_turned_off() {
        assert!(read("").0.cookies);
        let (o, errors) = read("cookies = false");
        assert!(errors.is_empty() && !o.cookies, "{errors:?}");
        let (_, errors) = read("cookies = \"off\"");
        assert_eq!(
            errors,
            ["options.cookies: expected true or false, found string \"off\""]
        );
    }

    #[test]
    fn summary_trend_stats_are_statistics_in_order_without_repeats() {
        let (o, errors) = read("");
        assert!(errors.is_empty());
        assert_eq!(
            o.summary_trend_stats,
            ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"]
        );
        let (o, errors) =
            read(r#"summary-trend-stats = ["med", "P( 99.9 )", "p(99.99)", "med", "max"]"#);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(o.summary_trend_stats, ["med", "p(99.9)", "p(99.99)", "max"]);
        let (o, errors) = read(r#"summary-trend-stats = ["avg", "p99", 95, "p(101)"]"#);
        assert_eq!(
            errors,
            [
                "options.summary-trend-stats[1]: unknown statistic \"p99\": use count, avg, min, med, max or p(N) such as p(99.9)",
                "options.summary-trend-stats[2]: expected a statistic such as \"avg\" or \"p(99.9)\", found integer 95",
                "options.summary-trend-stats[3]: \"p(101)\" is not a percentile: p(N) takes N from 0 to 100, such as p(99.9)",
            ]
        );
        assert_eq!(o.summary_trend_stats, default_summary_trend_stats());
        let (_, errors) = read("summary-trend-stats = []");
        assert_eq!(
            errors,
            [
                "options.summary-trend-stats: is empty: name at least one statistic, such as \"avg\" or \"p(95)\""
            ]
        );
        let (_, errors) = read("summary-trend-stats = \"avg\"");
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    fn read(text: &str) -> (Options, Vec<String>) {
        let table: toml::Table = text.parse().unwrap();
        let mut r = Reader::new(&table, "options");
        let options = Options::read(&mut r);
        r.problems(options.validate());
        (
            options,
            r.finish().iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn defaults_and_values() {
        let (o, errors) = read("");
        assert_eq!(o, Options::default());
        assert!(errors.is_empty());
        let (o, errors) =
            read("http-timeout = \"5s\"\nmemory-limit = \"128MiB\"\ncpu-budget = \"250ms\"");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(o.http_timeout, Duration::from_secs(5));
        assert_eq!(o.memory_limit, 128 << 20);
        assert_eq!(o.cpu_budget, Duration::from_millis(250));
        assert_eq!(o.iteration_timeout, Duration::from_secs(300));
        assert!(!o.discard_response_bodies);
        let (o, errors) = read("discard-response-bodies = true");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(o.discard_response_bodies);
        let (_, errors) = read("discard-response-bodies = \"yes\"");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("true or false"), "{errors:?}");
    }

    #[test]
    fn memory_limit_range() {
        for ok in ["1MiB", "4GiB", "1048576B", "2GB"] {
            let (_, errors) = read(&format!("memory-limit = \"{ok}\""));
            assert!(errors.is_empty(), "{ok}: {errors:?}");
        }
        let (_, errors) = read("memory-limit = \"8GiB\"");
        assert_eq!(
            errors,
            ["options.memory-limit: must be between 1MiB and 4GiB, found 8GiB"]
        );
        let (_, errors) = read("memory-limit = \"1KB\"");
        assert_eq!(
            errors,
            ["options.memory-limit: must be between 1MiB and 4GiB, found 1000B"]
        );
    }

    #[test]
    fn zero_and_bad_values() {
        let (_, errors) = read("cpu-budget = \"0s\"\nhttp-timeout = 5\nsetup-timout = \"1s\"");
        assert_eq!(
            errors,
            [
                "options.cpu-budget: must be longer than 0s",
                "options.http-timeout: expected a duration string such as \"30s\" or \"1m30s\", found integer 5",
                "options.setup-timout: unknown key `setup-timout`; did you mean `setup-timeout`?",
            ]
        );
    }
}
