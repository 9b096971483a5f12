//! Where a worker's VUs put their samples: each VU fills a [`SampleBuffer`] without locking and
//! hands it to the shared [`Collector`] in batches; the worker cuts a delta with [`Collector::take`].
//! The collector has a shard per VU thread ([`use_shard`]), so threads on different cores never wait
//! for, or bounce, one another's lock; a delta merges the shards.

use crate::{Aggregate, MetricKind, SeriesKey, Sink};
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Most series a [`SeriesGroup`] may hold.
pub const GROUP_MAX: usize = 8;

/// Series that are always recorded together, one value each (an HTTP response's eight): a VU
/// pushes them as one sample ([`SampleBuffer::push_group`]), which the collector finds with one
/// lookup instead of one per series.
#[derive(Debug)]
pub struct SeriesGroup {
    members: Box<[(Arc<SeriesKey>, MetricKind)]>,
}

impl SeriesGroup {
    /// A group of `members` (at most [`GROUP_MAX`]); a value pushed for the group goes to the
    /// member at the same position.
    ///
    /// # Panics
    /// With more than [`GROUP_MAX`] members.
    pub fn new(members: Vec<(Arc<SeriesKey>, MetricKind)>) -> Self {
        assert!(
            members.len() <= GROUP_MAX,
            "a series group holds at most {GROUP_MAX} series"
        );
        SeriesGroup {
            members: members.into_boxed_slice(),
        }
    }

    /// The group's series, in the order of their values.
    pub fn members(&self) -> &[(Arc<SeriesKey>, MetricKind)] {
        &self.members
    }
}

/// Samples recorded by one VU since its last flush. Keys are shared (`Arc`), so a VU that records the
/// same series again and again (every request) clones a pointer, not a tag set.
#[derive(Debug, Default)]
pub struct SampleBuffer {
    samples: Vec<(Arc<SeriesKey>, MetricKind, f64)>,
    /// Samples of whole groups: a value per member, in the group's order (the rest unused).
    groups: Vec<(Arc<SeriesGroup>, [f64; GROUP_MAX])>,
    /// The members of the groups waiting, in all.
    grouped: usize,
}

impl SampleBuffer {
    /// Add one sample to each series of `group`: `values[i]` to its `i`-th member. Must not hold
    /// gauges (their samples are stamped one by one: push them alone).
    pub fn push_group(&mut self, group: &Arc<SeriesGroup>, values: [f64; GROUP_MAX]) {
        debug_assert!(group.members.iter().all(|m| m.1 != MetricKind::Gauge));
        first_room(&mut self.groups);
        self.groups.push((group.clone(), values));
        self.grouped += group.members.len();
    }

    /// Add one sample.
    pub fn push(&mut self, key: SeriesKey, kind: MetricKind, value: f64) {
        first_room(&mut self.samples);
        self.samples.push((Arc::new(key), kind, value));
    }

    /// Add one sample to a series whose key the caller keeps for reuse.
    pub fn push_shared(&mut self, key: &Arc<SeriesKey>, kind: MetricKind, value: f64) {
        first_room(&mut self.samples);
        self.samples.push((key.clone(), kind, value));
    }

    /// Samples waiting (a group's count as one per member).
    pub fn len(&self) -> usize {
        self.samples.len() + self.grouped
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.groups.is_empty()
    }

    /// Drop the samples waiting (keeping the buffer's room).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.groups.clear();
        self.grouped = 0;
    }
}

/// Room for one element in an empty, never-grown buffer: a VU's buffers keep their room between
/// flushes, and the common iteration (one request, a check, then think time) pushes one group and
/// one sample, for which `Vec`'s first growth (four elements) would hold ~300 bytes more per VU.
/// Busy VUs grow their buffers as before.
#[inline]
fn first_room<T>(v: &mut Vec<T>) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
}

/// A worker's running aggregate since the last delta.
///
/// Recording is the hot path of every request, so series are found by the identity of their key
/// first: a VU that keeps its `Arc<SeriesKey>` (a request's or an iteration's series) is found with
/// one pointer hash, never comparing metric names and tags. Keys seen once (a fresh `Arc` per
/// sample) are found by value.
#[derive(Debug)]
pub struct Collector {
    /// Indexed by the flushing thread's [`use_shard`] number (modulo their count).
    shards: Box<[Mutex<Current>]>,
    /// The latest stamp given to a gauge's sample (see [`Collector::stamp`]).
    last_stamp: AtomicU64,
}

impl Default for Collector {
    /// A shard for each core this process may run on, and one for the other threads (setup,
    /// teardown, the worker's own tasks).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Collector::with_shards(cores + 1)
    }
}

thread_local! {
    /// The shard this thread's flushes go to (see [`use_shard`]).
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// Make this thread's flushes go to shard `k` of any collector (modulo its shard count). A worker
/// gives each VU thread its own (`k` from 1; 0, the default, is for every other thread).
pub fn use_shard(k: usize) {
    SHARD.set(k);
}

/// Keys remembered by identity, at most, between two deltas (beyond, lookups go by value).
const MAX_KEPT_KEYS: usize = 16_384;

#[derive(Debug, Default)]
struct Current {
    /// Series recorded since the last delta.
    slots: Vec<(Arc<SeriesKey>, Sink)>,
    /// Slot by key value.
    by_value: HashMap<Arc<SeriesKey>, usize>,
    /// Slot by key address. Holds the key, so the address cannot be reused by another key while
    /// it is here.
    by_addr: HashMap<usize, (Arc<SeriesKey>, usize), BuildHasherDefault<AddrHasher>>,
    /// The slots of a group's members, by the group's address (holding the group, as `by_addr`
    /// holds its keys).
    groups: HashMap<usize, (Arc<SeriesGroup>, [usize; GROUP_MAX]), BuildHasherDefault<AddrHasher>>,
}

impl Current {
    fn add(&mut self, key: Arc<SeriesKey>, kind: MetricKind, value: f64) {
        let slot = self.slot(key, kind);
        self.slots[slot].1.add(value);
    }

    /// A gauge's sample, taken at `stamp` (see [`Collector::stamp`]).
    fn add_gauge(&mut self, key: Arc<SeriesKey>, value: f64, stamp: u64) {
        let slot = self.slot(key, MetricKind::Gauge);
        match &mut self.slots[slot].1 {
            Sink::Gauge(gauge) => gauge.set_at(value, stamp),
            other => other.add(value),
        }
    }

    /// One sample for each member of `group`.
    fn add_group(&mut self, group: Arc<SeriesGroup>, values: &[f64; GROUP_MAX]) {
        let addr = Arc::as_ptr(&group) as usize;
        let slots = match self.groups.get(&addr) {
            Some(&(_, slots)) => slots,
            None => self.group_slots(group, addr),
        };
        for (&slot, &value) in slots.iter().zip(values) {
            if slot != usize::MAX {
                self.slots[slot].1.add(value);
            }
        }
    }

    /// The slots of a group not looked up by address yet (`usize::MAX` past its last member).
    /// Its members are found by value and not remembered by address: a kept group is found by its
    /// own address next time, and the keys of a group made afresh would only fill `by_addr`.
    #[cold]
    fn group_slots(&mut self, group: Arc<SeriesGroup>, addr: usize) -> [usize; GROUP_MAX] {
        let mut slots = [usize::MAX; GROUP_MAX];
        for (slot, (key, kind)) in slots.iter_mut().zip(group.members.iter()) {
            *slot = self.slot_of_value(key, *kind);
        }
        // As for keys: remembered by address only if someone else holds the group.
        if Arc::strong_count(&group) > 1 && self.groups.len() < MAX_KEPT_KEYS {
            self.groups.insert(addr, (group, slots));
        }
        slots
    }

    fn slot(&mut self, key: Arc<SeriesKey>, kind: MetricKind) -> usize {
        let addr = Arc::as_ptr(&key) as usize;
        match self.by_addr.get(&addr) {
            Some(&(_, slot)) => slot,
            None => self.slot_by_value(key, addr, kind),
        }
    }

    #[cold]
    fn slot_by_value(&mut self, key: Arc<SeriesKey>, addr: usize, kind: MetricKind) -> usize {
        // Someone else holds the key: it will come again, so remember it by address.
        let kept = Arc::strong_count(&key) > 1;
        let slot = self.slot_of_value(&key, kind);
        if kept && self.by_addr.len() < MAX_KEPT_KEYS {
            self.by_addr.insert(addr, (key, slot));
        }
        slot
    }

    /// The slot of the series `key`, found by value (created if new).
    fn slot_of_value(&mut self, key: &Arc<SeriesKey>, kind: MetricKind) -> usize {
        match self.by_value.get(&**key) {
            Some(&slot) => slot,
            None => {
                self.slots.push((key.clone(), Sink::new(kind)));
                self.by_value.insert(key.clone(), self.slots.len() - 1);
                self.slots.len() - 1
            }
        }
    }

    /// The delta's series.
    fn into_series(self) -> impl Iterator<Item = (SeriesKey, Sink)> {
        let Current {
            slots,
            by_value,
            by_addr,
            groups,
        } = self;
        // The maps' clones go first, so keys nobody else holds move instead of being cloned.
        drop((by_value, by_addr, groups));
        slots
            .into_iter()
            .map(|(key, sink)| (Arc::unwrap_or_clone(key), sink))
    }
}

/// Hashes an address: the pointer bits, mixed so that aligned addresses spread over the buckets.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(26);
    }
}

impl Collector {
    /// A collector with `n` shards (at least one).
    pub fn with_shards(n: usize) -> Self {
        Collector {
            shards: (0..n.max(1)).map(|_| Mutex::default()).collect(),
            last_stamp: AtomicU64::new(0),
        }
    }

    /// Move every sample of `buf` into the aggregate (one lock, of this thread's shard), leaving
    /// `buf` empty.
    pub fn flush(&self, buf: &mut SampleBuffer) {
        if buf.is_empty() {
            return;
        }
        let shard = &self.shards[SHARD.get() % self.shards.len()];
        // Read once per flush, and only for a flush that holds a gauge's sample.
        let mut stamp = None;
        let mut current = shard.lock().expect("collector lock");
        for (key, kind, value) in buf.samples.drain(..) {
            if kind == MetricKind::Gauge {
                let at = *stamp.get_or_insert_with(|| self.stamp());
                current.add_gauge(key, value, at);
            } else {
                current.add(key, kind, value);
            }
        }
        for (group, values) in buf.groups.drain(..) {
            current.add_group(group, &values);
        }
        buf.grouped = 0;
    }

    /// When a gauge's samples reach the collector, in microseconds since the Unix epoch: their
    /// order across flushes, VU threads (shards), deltas and workers, so the coordinator's merge
    /// keeps the value set last (between workers, as close as the hosts' clocks agree). Always
    /// later than every stamp this collector gave before, even within one microsecond or should
    /// the clock step back.
    fn stamp(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let next = |before: u64| now.max(before + 1);
        let before = self
            .last_stamp
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some(next(b)))
            .unwrap_or_else(|b| b);
        next(before)
    }

    /// Everything collected since the previous call, from every shard.
    pub fn take(&self) -> Aggregate {
        // Swap under each shard's lock, build the aggregate outside them: VU threads flushing
        // meanwhile wait only for the swap.
        let taken: Vec<Current> = self
            .shards
            .iter()
            .map(|shard| std::mem::take(&mut *shard.lock().expect("collector lock")))
            .collect();
        // A series recorded on several threads is merged (exactly: counts, sums, histograms; a
        // gauge's last value by its stamp).
        taken.into_iter().flat_map(Current::into_series).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TagSet;

    #[test]
    fn a_buffer_keeps_room_for_one_sample_until_it_needs_more() {
        let mut buf = SampleBuffer::default();
        let key = Arc::new(SeriesKey::new("checks", TagSet::new([("check", "ok")])));
        buf.push_shared(&key, MetricKind::Rate, 1.0);
        assert_eq!(buf.samples.capacity(), 1);
        let group = Arc::new(SeriesGroup::new(vec![(key.clone(), MetricKind::Counter)]));
        buf.push_group(&group, [1.0; GROUP_MAX]);
        assert_eq!(buf.groups.capacity(), 1);
        Collector::default().flush(&mut buf);
        buf.push_shared(&key, MetricKind::Rate, 1.0);
        assert_eq!(buf.samples.capacity(), 1, "kept across a flush");
        buf.push_shared(&key, MetricKind::Rate, 0.0);
        assert!(buf.samples.capacity() >= 2, "grown when needed");
    }

    #[test]
    fn flush_moves_samples_and_take_cuts_deltas() {
        let c = Collector::default();
        let mut buf = SampleBuffer::default();
        buf.push(SeriesKey::untagged("iterations"), MetricKind::Counter, 1.0);
        buf.push(SeriesKey::untagged("iterations"), MetricKind::Counter, 1.0);
        c.flush(&mut buf);
        assert!(buf.is_empty());
        let first = c.take();
        assert!(matches!(first.metric_total("iterations"), Some(Sink::Counter(s)) if s.sum == 2.0));
        assert!(c.take().is_empty());
    }

    fn total(a: &Aggregate, key: &SeriesKey) -> f64 {
        match a.get(key) {
            Some(Sink::Counter(s)) => s.sum,
            other => panic!("no counter {key}: {other:?}"),
        }
    }

    #[test]
    fn kept_keys_and_equal_fresh_keys_land_in_one_series() {
        let c = Collector::default();
        let tags = TagSet::new([("scenario", "a")]);
        let kept = Arc::new(SeriesKey::new("http_reqs", tags.clone()));
        let other = Arc::new(SeriesKey::new(
            "http_reqs",
            TagSet::new([("scenario", "b")]),
        ));
        let mut buf = SampleBuffer::default();
        for _ in 0..3 {
            buf.push_shared(&kept, MetricKind::Counter, 1.0);
            buf.push(
                SeriesKey::new("http_reqs", tags.clone()),
                MetricKind::Counter,
                10.0,
            );
            buf.push_shared(&other, MetricKind::Counter, 100.0);
            c.flush(&mut buf);
        }
        let a = c.take();
        assert_eq!(a.len(), 2);
        assert_eq!(total(&a, &kept), 33.0);
        assert_eq!(total(&a, &other), 300.0);
    }

    #[test]
    fn a_groups_values_land_in_its_members_series_as_single_samples_would() {
        let c = Collector::default();
        let tags = TagSet::new([("scenario", "a")]);
        let members = |tags: &TagSet| {
            vec![
                (
                    Arc::new(SeriesKey::new("http_reqs", tags.clone())),
                    MetricKind::Counter,
                ),
                (
                    Arc::new(SeriesKey::new("data_sent", tags.clone())),
                    MetricKind::Counter,
                ),
            ]
        };
        let kept = Arc::new(SeriesGroup::new(members(&tags)));
        let mut values = [0.0; GROUP_MAX];
        values[..2].copy_from_slice(&[1.0, 100.0]);
        let mut buf = SampleBuffer::default();
        for _ in 0..3 {
            // The same group again and again (found by address after the first flush), an equal
            // group made afresh (found by value), and one member's series pushed alone.
            buf.push_group(&kept, values);
            buf.push_group(&Arc::new(SeriesGroup::new(members(&tags))), values);
            buf.push(
                SeriesKey::new("http_reqs", tags.clone()),
                MetricKind::Counter,
                1.0,
            );
            assert_eq!(buf.len(), 5);
            c.flush(&mut buf);
            assert!(buf.is_empty());
        }
        {
            // The kept group is remembered by its address; neither its members nor the fresh
            // group's are (they would only fill the map of kept keys).
            let current = c.shards[0].lock().unwrap();
            assert_eq!(current.groups.len(), 1);
            assert!(current.by_addr.is_empty());
        }
        let a = c.take();
        assert_eq!(a.len(), 2);
        assert_eq!(total(&a, &SeriesKey::new("http_reqs", tags.clone())), 9.0);
        assert_eq!(total(&a, &SeriesKey::new("data_sent", tags)), 600.0);
        // The next delta starts empty and still finds the kept group.
        buf.push_group(&kept, values);
        c.flush(&mut buf);
        assert_eq!(total(&c.take(), &kept.members()[1].0), 100.0);
    }

    #[test]
    #[should_panic(expected = "at most 8")]
    fn a_group_holds_at_most_group_max_series() {
        let key = Arc::new(SeriesKey::untagged("x"));
        SeriesGroup::new(vec![(key, MetricKind::Counter); GROUP_MAX + 1]);
    }

    #[test]
    fn a_gauges_last_value_is_the_latest_across_deltas_whatever_their_sample_counts() {
        // The coordinator merges a worker's deltas (and several workers') into its totals: the
        // value last set wins, not the one of the delta that happened to hold more samples.
        let c = Collector::default();
        let key = Arc::new(SeriesKey::untagged("queue_depth"));
        let mut buf = SampleBuffer::default();
        for v in [5.0, 7.0, 6.0] {
            buf.push_shared(&key, MetricKind::Gauge, v);
        }
        c.flush(&mut buf);
        let mut total = c.take();
        buf.push_shared(&key, MetricKind::Gauge, 2.0);
        c.flush(&mut buf);
        total.merge(&c.take()).unwrap();
        let Some(Sink::Gauge(g)) = total.get(&key) else {
            panic!("no gauge: {total:?}");
        };
        assert_eq!((g.last, g.min, g.max, g.samples), (2.0, 2.0, 7.0, 4));
        // Within one delta, the order of the samples decides.
        let one = c.take();
        assert!(one.is_empty());
        for v in [1.0, 9.0, 3.0] {
            buf.push_shared(&key, MetricKind::Gauge, v);
        }
        c.flush(&mut buf);
        let Some(Sink::Gauge(g)) = c.take().get(&key).cloned() else {
            panic!("no gauge");
        };
        assert_eq!(g.last, 3.0);
    }

    #[test]
    fn threads_flush_into_shards_of_their_own_and_a_delta_merges_them_exactly() {
        let c = Arc::new(Collector::with_shards(3));
        let reqs = Arc::new(SeriesKey::untagged("http_reqs"));
        let duration = Arc::new(SeriesKey::untagged("http_req_duration"));
        // Shards 0 to 3 of three: the fourth thread shares shard 0 with this one.
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let (c, reqs, duration) = (c.clone(), reqs.clone(), duration.clone());
                std::thread::spawn(move || {
                    use_shard(k);
                    let mut buf = SampleBuffer::default();
                    for i in 0..1000 {
                        buf.push_shared(&reqs, MetricKind::Counter, 1.0);
                        buf.push_shared(&duration, MetricKind::Trend, (k * 1000 + i) as f64);
                        if i % 100 == 99 {
                            c.flush(&mut buf);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let a = c.take();
        assert_eq!(a.len(), 2);
        assert_eq!(total(&a, &reqs), 4000.0);
        let Some(Sink::Trend(t)) = a.get(&duration) else {
            panic!("no trend: {a:?}");
        };
        assert_eq!((t.count(), t.min(), t.max()), (4000, 0.0, 3999.0));
        assert!(c.take().is_empty());
    }

    #[test]
    fn a_gauge_set_on_two_threads_keeps_the_value_set_last_whatever_the_shards() {
        let c = Arc::new(Collector::with_shards(2));
        let key = Arc::new(SeriesKey::untagged("queue_depth"));
        let (c2, key2) = (c.clone(), key.clone());
        // First on shard 1, then on shard 0: the delta merges shard 0 first, so the later value
        // must win by its stamp, not by the order of the shards.
        std::thread::spawn(move || {
            use_shard(1);
            let mut buf = SampleBuffer::default();
            buf.push_shared(&key2, MetricKind::Gauge, 5.0);
            c2.flush(&mut buf);
        })
        .join()
        .unwrap();
        use_shard(0);
        let mut buf = SampleBuffer::default();
        buf.push_shared(&key, MetricKind::Gauge, 3.0);
        c.flush(&mut buf);
        let a = c.take();
        let Some(Sink::Gauge(g)) = a.get(&key) else {
            panic!("no gauge: {a:?}");
        };
        assert_eq!((g.last, g.min, g.max, g.samples), (3.0, 3.0, 5.0, 2));
    }

    #[test]
    fn a_delta_forgets_addresses_so_a_new_key_at_an_old_address_is_its_own_series() {
        let c = Collector::default();
        let mut buf = SampleBuffer::default();
        for i in 0..50 {
            // Each round's key is dropped after the delta; the allocator may reuse its address.
            let key = Arc::new(SeriesKey::new("m", TagSet::new([("i", i.to_string())])));
            buf.push_shared(&key, MetricKind::Counter, 1.0);
            buf.push_shared(&key, MetricKind::Counter, 1.0);
            c.flush(&mut buf);
            let a = c.take();
            assert_eq!(a.len(), 1);
            assert_eq!(total(&a, &key), 2.0);
        }
    }
}
