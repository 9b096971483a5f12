//! The cache of series keys that the requests and checks of one scenario's VUs on one thread record
//! into, so recording a request clones one pointer instead of building eight tag sets. Keyed by
//! what makes a request's tags: its metric name, method and extra tags, then its status and the
//! protocol that carried it.

use crate::client::{CompletedResponse, Proto};
use crate::host::{expected, ms};
use rustc_hash::{FxHashMap, FxHasher};
use stampede_metrics::{GROUP_MAX, MetricKind, SeriesGroup, SeriesKey, TagSet, names};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// Distinct request shapes remembered; beyond this the cache starts over (a scenario that names
/// every URL differently still records correctly, just without the cache's help). As many as a
/// thread's VUs would have had if each had its own URL and its own cache.
const MAX_SHAPES: usize = 8192;

/// Distinct checks remembered (looked up by a scan: scenarios have few).
const MAX_CHECKS: usize = 64;

/// The eight series one HTTP response records into, as one group, and the ninth an `https://`
/// response records into as well (see [`push_response`]).
///
/// [`push_response`]: crate::host::http::push_response
pub(crate) struct HttpSeries {
    pub(crate) group: Arc<SeriesGroup>,
    /// `http_req_tls_handshaking`: apart from the group and made at the first `https://`
    /// response, so plain HTTP pays nothing for it.
    tls_handshaking: OnceLock<Arc<SeriesKey>>,
}

impl HttpSeries {
    /// The group's members, in the order [`HttpSeries::values`] gives their values.
    const MEMBERS: [(&'static str, MetricKind); 8] = [
        (names::HTTP_REQS, MetricKind::Counter),
        (names::HTTP_REQ_DURATION, MetricKind::Trend),
        (names::HTTP_REQ_CONNECTING, MetricKind::Trend),
        (names::HTTP_REQ_WAITING, MetricKind::Trend),
        (names::HTTP_REQ_RECEIVING, MetricKind::Trend),
        (names::HTTP_REQ_FAILED, MetricKind::Rate),
        (names::DATA_SENT, MetricKind::Counter),
        (names::DATA_RECEIVED, MetricKind::Counter),
    ];

    /// The series of a request with tags `base` (VU tags, `name`, `method`) answered with
    /// `status` over `proto`.
    pub(crate) fn for_status(mut base: TagSet, (status, proto): (u16, Proto)) -> Self {
        base.insert("status", status.to_string());
        base.insert("expected_response", expected(status).to_string());
        base.insert("proto", proto.tag());
        Self::new(base)
    }

    /// The series of a request with tags `base` answered with `resp`.
    pub(crate) fn for_response(base: TagSet, resp: &CompletedResponse) -> Self {
        Self::for_status(base, answer(resp))
    }

    fn new(tags: TagSet) -> Self {
        let members = Self::MEMBERS
            .iter()
            .map(|&(metric, kind)| (Arc::new(SeriesKey::new(metric, tags.clone())), kind))
            .collect();
        HttpSeries {
            group: Arc::new(SeriesGroup::new(members)),
            tls_handshaking: OnceLock::new(),
        }
    }

    /// The `http_req_tls_handshaking` series, with the group's tags.
    pub(crate) fn tls_handshaking(&self) -> &Arc<SeriesKey> {
        self.tls_handshaking.get_or_init(|| {
            let tags = self.group.members()[0].0.tags.clone();
            Arc::new(SeriesKey::new(names::HTTP_REQ_TLS_HANDSHAKING, tags))
        })
    }

    /// The values `resp` records, in the order of [`HttpSeries::MEMBERS`].
    pub(crate) fn values(resp: &CompletedResponse) -> [f64; GROUP_MAX] {
        let t = &resp.timings;
        [
            1.0,
            ms(t.duration),
            ms(t.connecting),
            ms(t.waiting),
            ms(t.receiving),
            if expected(resp.status) { 0.0 } else { 1.0 },
            resp.bytes_sent as f64,
            resp.bytes_received as f64,
        ]
    }

    /// The key of member `metric` (for tests).
    #[cfg(test)]
    pub(crate) fn key(&self, metric: &str) -> &SeriesKey {
        let members = self.group.members();
        &members
            .iter()
            .find(|(k, _)| k.metric == metric)
            .expect("a member")
            .0
    }
}

struct Shape {
    name: String,
    method: String,
    extra: Vec<(String, String)>,
    /// VU tags + extra + `name` + `method`.
    base: Arc<TagSet>,
    by_answer: Vec<((u16, Proto), Arc<HttpSeries>)>,
}

/// What a response's series depend on beyond its request's shape.
fn answer(resp: &CompletedResponse) -> (u16, Proto) {
    (resp.status, resp.proto)
}

/// A check's series: the `checks` rate with the VU's tags, the check's own and `check`.
struct CheckSeries {
    name: String,
    extra: Vec<(String, String)>,
    key: Arc<SeriesKey>,
}

/// The cache.
#[derive(Default)]
pub(crate) struct SeriesCache {
    shapes: Vec<Shape>,
    /// Shapes by [`shape_hash`].
    by_hash: FxHashMap<u64, Vec<usize>>,
    checks: Vec<CheckSeries>,
}

/// What identifies a request shape, hashed without allocating (the method without case). A fast,
/// unkeyed hash (SipHash with a fixed key was no safer): names can come from URLs a target sent, but
/// shapes that collide only cost comparisons, at most `MAX_SHAPES` per request.
fn shape_hash(name: &str, method: &str, extra: &[(String, String)]) -> u64 {
    let mut h = FxHasher::default();
    name.hash(&mut h);
    for b in method.bytes() {
        h.write_u8(b.to_ascii_uppercase());
    }
    extra.hash(&mut h);
    h.finish()
}

impl SeriesCache {
    /// The index of a request shape, created with `base` (called only on a miss) when new.
    pub(crate) fn shape(
        &mut self,
        name: &str,
        method: &str,
        extra: &[(String, String)],
        base: impl FnOnce() -> TagSet,
    ) -> usize {
        let hash = shape_hash(name, method, extra);
        let same =
            |s: &Shape| s.name == name && s.method.eq_ignore_ascii_case(method) && s.extra == extra;
        if let Some(&i) = self
            .by_hash
            .get(&hash)
            .and_then(|c| c.iter().find(|&&i| same(&self.shapes[i])))
        {
            return i;
        }
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
            self.by_hash.clear();
        }
        self.by_hash
            .entry(hash)
            .or_default()
            .push(self.shapes.len());
        self.shapes.push(Shape {
            name: name.to_owned(),
            method: method.to_owned(),
            extra: extra.to_vec(),
            base: Arc::new(base()),
            by_answer: Vec::new(),
        });
        self.shapes.len() - 1
    }

    /// The series of check `name` with tags `extra`, created with `key` (called only on a miss).
    pub(crate) fn check(
        &mut self,
        name: &str,
        extra: &[(String, String)],
        key: impl FnOnce() -> SeriesKey,
    ) -> &Arc<SeriesKey> {
        let i = match self
            .checks
            .iter()
            .position(|c| c.name == name && c.extra == extra)
        {
            Some(i) => i,
            None => {
                if self.checks.len() >= MAX_CHECKS {
                    self.checks.clear();
                }
                self.checks.push(CheckSeries {
                    name: name.to_owned(),
                    extra: extra.to_vec(),
                    key: Arc::new(key()),
                });
                self.checks.len() - 1
            }
        };
        &self.checks[i].key
    }

    /// The tags of shape `i` (for error samples, which are not cached).
    pub(crate) fn base(&self, i: usize) -> &Arc<TagSet> {
        &self.shapes[i].base
    }

    /// Like [`series`](Self::series), for a shape looked up before an await: when the cache has
    /// started over since (other VUs of the scenario on this thread added shapes meanwhile), index
    /// `i` may now be another shape, so the series is built from `base` instead.
    pub(crate) fn series_of(
        &mut self,
        i: usize,
        base: &Arc<TagSet>,
        resp: &CompletedResponse,
    ) -> Arc<HttpSeries> {
        match self.shapes.get(i) {
            Some(shape) if Arc::ptr_eq(&shape.base, base) => self.series(i, answer(resp)),
            _ => Arc::new(HttpSeries::for_response((**base).clone(), resp)),
        }
    }

    /// The series of shape `i` answered with `status` over `proto`.
    pub(crate) fn series(&mut self, i: usize, answer: (u16, Proto)) -> Arc<HttpSeries> {
        let shape = &mut self.shapes[i];
        if let Some((_, s)) = shape.by_answer.iter().find(|(a, _)| *a == answer) {
            return s.clone();
        }
        let s = Arc::new(HttpSeries::for_status((*shape.base).clone(), answer));
        shape.by_answer.push((answer, s.clone()));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_statuses_are_reused() {
        let mut c = SeriesCache::default();
        let base = || TagSet::new([("name", "home"), ("method", "GET")]);
        let a = c.shape("home", "GET", &[], base);
        assert_eq!(c.shape("home", "get", &[], || unreachable!()), a);
        let b = c.shape("home", "POST", &[], base);
        assert_ne!(a, b);
        let s1 = c.series(a, (200, Proto::Http11));
        let s2 = c.series(a, (200, Proto::Http11));
        assert!(Arc::ptr_eq(&s1, &s2));
        assert_eq!(s1.key(names::HTTP_REQS).tags.get("status"), Some("200"));
        assert_eq!(s1.key(names::HTTP_REQS).tags.get("proto"), Some("HTTP/1.1"));
        // The same status over HTTP/2 is a series of its own.
        let h2 = c.series(a, (200, Proto::Http2));
        assert!(!Arc::ptr_eq(&s1, &h2));
        assert_eq!(
            h2.key(names::HTTP_REQ_DURATION).tags.get("proto"),
            Some("HTTP/2.0")
        );
        assert!(Arc::ptr_eq(&h2, &c.series(a, (200, Proto::Http2))));
        assert_eq!(
            s1.key(names::HTTP_REQS).tags.get("expected_response"),
            Some("true")
        );
        assert_eq!(
            c.series(a, (500, Proto::Http11))
                .key(names::HTTP_REQ_FAILED)
                .tags
                .get("expected_response"),
            Some("false")
        );
    }

    #[test]
    fn many_shapes_are_each_found_again() {
        // One scenario's VUs on a thread share the cache: each VU may have a URL of its own.
        let mut c = SeriesCache::default();
        let url = |i: usize| format!("/users/{i}");
        let ids: Vec<usize> = (0..1000)
            .map(|i| c.shape(&url(i), "GET", &[], TagSet::default))
            .collect();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(c.shape(&url(i), "get", &[], || unreachable!()), id);
        }
    }

    #[test]
    fn checks_are_cached_by_name_and_tags() {
        let mut c = SeriesCache::default();
        let key = |n: &str| SeriesKey::new("checks", TagSet::new([("check", n)]));
        let a = c.check("ok", &[], || key("ok")).clone();
        assert!(Arc::ptr_eq(&a, c.check("ok", &[], || unreachable!())));
        let tagged = [("k".to_owned(), "v".to_owned())];
        let b = c.check("ok", &tagged, || key("ok")).clone();
        assert!(!Arc::ptr_eq(&a, &b));
        let mut c = SeriesCache::default();
        for i in 0..MAX_CHECKS + 1 {
            c.check(&format!("c{i}"), &[], || key("c"));
        }
        assert_eq!(c.checks.len(), 1);
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let mut c = SeriesCache::default();
        for i in 0..MAX_SHAPES + 1 {
            c.shape(&format!("n{i}"), "GET", &[], TagSet::default);
        }
        assert_eq!(c.shapes.len(), 1);
    }

    #[test]
    fn a_shape_looked_up_before_the_cache_started_over_keeps_its_tags() {
        // VU A looks up its request's shape, awaits the response while other VUs of its scenario
        // add enough shapes to start the cache over, then records under its own tags.
        let mut c = SeriesCache::default();
        let i = c.shape("mine", "GET", &[], || TagSet::new([("name", "mine")]));
        let base = c.base(i).clone();
        for n in 0..MAX_SHAPES + 1 {
            c.shape(&format!("other{n}"), "GET", &[], || {
                TagSet::new([("name", format!("other{n}"))])
            });
        }
        let resp = CompletedResponse {
            status: 200,
            headers: crate::h1::ResponseHeaders::from_map(&http::HeaderMap::new()),
            body: bytes::Bytes::new(),
            timings: Default::default(),
            bytes_sent: 0,
            bytes_received: 0,
            proto: Proto::Http2,
        };
        let s = c.series_of(i, &base, &resp);
        assert_eq!(s.key(names::HTTP_REQS).tags.get("name"), Some("mine"));
        assert_eq!(s.key(names::HTTP_REQS).tags.get("status"), Some("200"));
        assert_eq!(s.key(names::HTTP_REQS).tags.get("proto"), Some("HTTP/2.0"));
    }
}
