//! What one VU's `Store` holds, and what all VUs of a worker share.

use crate::client::HttpClient;
use crate::cookies::VuCookies;
use crate::host::{FetchHooks, FetchState, Requests};
use crate::offload::Offload;
use crate::orphans::Orphans;
use crate::output::TailPipe;
use crate::series::SeriesCache;
use stampede_metrics::{Catalog, Collector, MetricKind, SampleBuffer, SeriesKey, TagSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Samples a VU buffers before handing them to the worker's collector (one lock per batch; a
/// response's group counts as its eight).
const FLUSH_EVERY: usize = 256;

/// Everything the VUs of one run on one worker share.
pub struct RunContext {
    /// The pooled HTTP client with the allowlist.
    pub client: HttpClient,
    /// Default per-request timeout.
    pub http_timeout: Duration,
    /// `[params]`.
    pub params: Vec<(String, String)>,
    /// Granted environment variables and their values.
    pub env: Vec<(String, String)>,
    /// This worker's id.
    pub worker_id: String,
    /// Where samples go.
    pub collector: Arc<Collector>,
    /// Metric kinds, builtins plus custom metrics registered at first use (one per worker, shared
    /// by its threads).
    pub catalog: Arc<Mutex<Catalog>>,
    /// CPU budget per guest call.
    pub cpu_budget: Duration,
    /// Wall-clock limit per guest call.
    pub call_timeout: Duration,
    /// Linear memory limit per VU.
    pub memory_limit: u64,
    /// The plan's `discard-response-bodies`: `http.send` responses reach the guest without body.
    pub discard_response_bodies: bool,
    /// The plan's `cookies`: a cookie jar per VU (with one instance per VU).
    pub cookies: bool,
    /// The plan's `max-redirects`: redirects a request follows (0: none).
    pub max_redirects: u32,
    /// The plan's `release-stack-after`: a VU with an instance of its own that sleeps in its
    /// iteration at least this long gives back its fiber stack's dead pages (`fiber_stack`).
    pub release_stack_after: Option<Duration>,
    /// Requests of ended shared instances still on their way (one set per VU thread).
    pub orphans: Arc<Orphans>,
}

impl RunContext {
    /// The same run for another thread of the worker: everything shared but the HTTP client's
    /// connection pool (of at most `max_connections`, the thread's share of the plan's), so that
    /// each thread's VUs use connections that thread drives.
    pub fn for_thread(&self, max_connections: Option<u64>) -> RunContext {
        RunContext {
            client: self.client.with_own_pool(max_connections),
            http_timeout: self.http_timeout,
            params: self.params.clone(),
            env: self.env.clone(),
            worker_id: self.worker_id.clone(),
            collector: self.collector.clone(),
            catalog: self.catalog.clone(),
            cpu_budget: self.cpu_budget,
            call_timeout: self.call_timeout,
            memory_limit: self.memory_limit,
            discard_response_bodies: self.discard_response_bodies,
            cookies: self.cookies,
            max_redirects: self.max_redirects,
            release_stack_after: self.release_stack_after,
            orphans: Arc::default(),
        }
    }
}

/// Who a VU is. The VUs of one scenario on one thread are made with [`with_id`](Self::with_id)
/// from one identity, and so share its tags and its cache of series keys.
#[derive(Clone)]
pub struct VuIdentity {
    /// Fleet-unique id, from 1 (0 is the setup/teardown instance).
    pub id: u64,
    /// Plan scenario name.
    pub scenario: Arc<str>,
    /// Tags every sample of this VU carries (`scenario` plus the scenario's tags).
    pub tags: Arc<TagSet>,
    /// The series keys its requests and checks record into. One per scenario and thread: every VU
    /// of a scenario records into the same series, so the keys (a few KiB of tag sets) need not be
    /// built and kept per VU.
    pub(crate) series: Arc<Mutex<SeriesCache>>,
}

impl VuIdentity {
    /// VU `id` of `scenario`, tagged with `tags`, with a cache of series keys of its own.
    pub fn new(id: u64, scenario: Arc<str>, tags: TagSet) -> Self {
        VuIdentity {
            id,
            scenario,
            tags: Arc::new(tags),
            series: Arc::default(),
        }
    }

    /// Another VU of the same scenario (sharing its tags and series keys).
    pub fn with_id(&self, id: u64) -> Self {
        VuIdentity { id, ..self.clone() }
    }

    /// The series cache, locked. Only VUs of one thread share it, so it is never contended. (A
    /// panic while it was held leaves it consistent: it only ever appends or starts over.)
    pub(crate) fn series(&self) -> std::sync::MutexGuard<'_, SeriesCache> {
        self.series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for VuIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VuIdentity")
            .field("id", &self.id)
            .field("scenario", &self.scenario)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

/// The data of one VU's store.
pub struct VuState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) run: Arc<RunContext>,
    pub(crate) who: VuIdentity,
    pub(crate) iteration: u64,
    pub(crate) samples: SampleBuffer,
    pub(crate) output: TailPipe,
    pub(crate) limiter: MemoryLimiter,
    /// Epoch ticks spent in the current call.
    pub(crate) ticks: u64,
    /// Set when the epoch callback interrupted the guest.
    pub(crate) cpu_exceeded: bool,
    /// Custom metrics used with a conflicting kind, already reported once.
    pub(crate) warned: Vec<String>,
    /// The guest's last error-level log line during the current call (the SDK logs panics there).
    pub(crate) last_error_log: Option<String>,
    /// `wasi:http` (`fetch()`) state.
    pub(crate) fetch: FetchState,
    /// The VU's cookie jar, shared with its `fetch()` hooks.
    pub(crate) cookies: VuCookies,
    /// The store of a shared instance: many VUs, so the per-VU context imports (and the cookie
    /// jar) are unavailable. Set with [`VuState::share`].
    pub(crate) shared: bool,
    /// True when the imports' futures are polled on the fiber stack of the guest call that made
    /// them (one instance per VU, on an engine without the component model's concurrency).
    pub(crate) imports_on_fiber: bool,
    /// The timer of this VU's requests, one after the other (see `HttpClient::send_within`);
    /// made by its first request. Unused in a shared instance, whose requests overlap.
    pub(crate) request_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Where `http.send` parks its request for the VU task to poll off the fiber (see `offload`):
    /// set when imports run on a fiber in a process with many VUs (`vu::OFFLOAD_FROM_VUS`), and then
    /// the VU's guest calls are driven by it.
    pub(crate) offload: Option<Offload<Requests>>,
}

impl VuState {
    pub(crate) fn new(run: Arc<RunContext>, who: VuIdentity) -> Self {
        let output = TailPipe::printing(who.id, who.scenario.clone());
        let wasi = wasi_ctx(&output);
        let limiter = MemoryLimiter {
            limit: run.memory_limit,
            memories: crate::engine::MEMORIES_PER_VU,
            hit: false,
        };
        let cookies = VuCookies::new(run.cookies);
        let fetch = FetchState {
            ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            hooks: FetchHooks::new(run.clone(), who.tags.clone(), who.id, cookies.clone()),
        };
        VuState {
            wasi,
            fetch,
            cookies,
            table: ResourceTable::new(),
            run,
            who,
            iteration: 0,
            samples: SampleBuffer::default(),
            output,
            limiter,
            ticks: 0,
            cpu_exceeded: false,
            warned: Vec::new(),
            last_error_log: None,
            shared: false,
            imports_on_fiber: false,
            offload: None,
            request_deadline: None,
        }
    }

    /// Make this the store of a shared instance: its host calls do not say which of its VUs made
    /// them, so there is no VU to keep cookies for.
    pub(crate) fn share(&mut self) {
        self.shared = true;
        self.output.share();
        self.cookies = VuCookies::default();
        self.fetch.hooks.cookies = VuCookies::default();
    }

    /// Record one sample under a builtin metric with the VU's tags plus `extra`.
    pub(crate) fn record(&mut self, metric: &str, kind: MetricKind, tags: &TagSet, value: f64) {
        self.samples
            .push(SeriesKey::new(metric, tags.clone()), kind, value);
        self.flush_if_full();
    }

    /// Hand samples to the collector once enough have gathered (one lock per batch).
    pub(crate) fn flush_if_full(&mut self) {
        if self.samples.len() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// The VU's tags merged with guest-supplied ones (guest tags cannot override `scenario`).
    pub(crate) fn tags_with(&self, extra: &[(String, String)]) -> TagSet {
        Self::merge_tags(&self.who.tags, extra)
    }

    /// `vu_tags` over `extra`: the VU's own tags win.
    pub(crate) fn merge_tags(vu_tags: &TagSet, extra: &[(String, String)]) -> TagSet {
        let mut tags = TagSet::new(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (k, v) in vu_tags.iter() {
            tags.insert(k, v);
        }
        tags
    }

    /// Hand buffered samples to the collector.
    pub(crate) fn flush(&mut self) {
        self.run.collector.flush(&mut self.samples);
    }

    /// What the guest said before it trapped: its last error log line, else the tail of whatever
    /// it wrote to stdout/stderr.
    pub(crate) fn guest_output_tail(&self) -> String {
        if let Some(line) = &self.last_error_log {
            return line.replace('\n', " ");
        }
        let text = self.output.contents();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }
}

impl Drop for VuState {
    /// An interrupted iteration leaves the store mid-call, and it is dropped with the VU or at the
    /// VU's next use: what the iteration recorded until then still counts.
    fn drop(&mut self) {
        self.flush();
    }
}

impl WasiView for VuState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps a VU's linear memory and remembers that the cap was hit, for a precise error.
pub(crate) struct MemoryLimiter {
    limit: u64,
    /// Linear memories the store may create: what the capacity check counted for the component.
    memories: u32,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= crate::engine::TABLE_ELEMENTS)
    }

    // Growth the limit allowed but the system refused (no address space or memory mappings left
    // for a memory to move to): the guest sees `memory.grow` fail, and the log says why.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        tracing::warn!("a VU's linear memory could not grow: {error:#}");
        Ok(())
    }

    // A store holds one component instance: these bound what its core modules may create (each
    // memory reserves up to the memory limit's address space, and mappings, which `capacity`
    // counted).
    fn instances(&self) -> usize {
        crate::engine::CORE_INSTANCES_PER_VU as usize
    }

    fn memories(&self) -> usize {
        self.memories as usize
    }

    fn tables(&self) -> usize {
        crate::engine::TABLES_PER_VU as usize
    }
}

/// A new store for `state` with the memory limiter and the CPU-budget epoch callback installed.
pub(crate) fn new_store(
    engine: &crate::engine::EngineHandle,
    mut state: VuState,
) -> Store<VuState> {
    state.limiter.memories = engine.memories();
    let engine = engine.engine();
    let budget_ticks =
        (state.run.cpu_budget.as_millis() / crate::engine::EPOCH_TICK.as_millis()).max(1) as u64;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut ctx| {
        let s = ctx.data_mut();
        s.ticks += 1;
        if s.ticks > budget_ticks {
            s.cpu_exceeded = true;
            Ok(wasmtime::UpdateDeadline::Interrupt)
        } else {
            Ok(wasmtime::UpdateDeadline::Yield(1))
        }
    });
    store
}

/// A VU's WASI context: stdout and stderr into `output`, random numbers from [`ThreadRandom`], and
/// nothing else. No WASI environment, arguments, stdin, preopens or sockets: the Rust SDK's allocator
/// (`fast-alloc`) relies on it, since wasi-libc frees what those return with its own `free`
/// (sdk/rust/src/alloc.rs; random bytes, which wasi-libc would free the same way, the SDK draws with
/// `get-random-u64`). Plan params and granted variables go through `context`. The e2e test
/// `the_host_grants_no_wasi_environment_arguments_stdin_or_files` checks it.
fn wasi_ctx(output: &TailPipe) -> WasiCtx {
    WasiCtx::builder()
        .stdout(output.clone())
        .stderr(output.clone())
        .secure_random(ThreadRandom)
        .insecure_random(ThreadRandom)
        .build()
}

/// `wasi:random` for a VU without a generator of its own: every call draws from the thread's
/// (`rand::rng()`: ChaCha12 seeded from the OS and reseeded from it every 64 KiB of output; the
/// `StdRng` it replaces is the same ChaCha12, seeded once). wasmtime-wasi's default gives each
/// context a `StdRng` and a `SmallRng` of its own, boxed: ~350 bytes of every VU's heap for
/// generators a scenario rarely calls. (Stampede never forks, the one case where a thread's
/// generator would repeat itself.)
struct ThreadRandom;

impl rand::TryRng for ThreadRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(rand::Rng::next_u32(&mut rand::rng()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(rand::Rng::next_u64(&mut rand::rng()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand::Rng::fill_bytes(&mut rand::rng(), dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenarios_vus_share_its_tags_and_series_keys() {
        let first = VuIdentity::new(0, "main".into(), TagSet::new([("scenario", "main")]));
        let vu = first.with_id(7);
        assert_eq!(vu.id, 7);
        assert!(Arc::ptr_eq(&first.tags, &vu.tags));
        assert!(Arc::ptr_eq(&first.series, &vu.series));
        let other = VuIdentity::new(0, "other".into(), TagSet::new([("scenario", "other")]));
        assert!(!Arc::ptr_eq(&first.series, &other.series));
    }

    /// wasmtime allocates a store's state with the `VuState` in it: 1,984 bytes with a 592-byte
    /// `VuState` (heaptrack, 2026-12-06), so within mimalloc's 2,048 class with 64 bytes to spare.
    /// Past that the store takes a 2,560 block: ~0.5 KiB more per VU. A `VuState` that has to grow
    /// further should give back room elsewhere (or box what is rarely used).
    #[test]
    fn a_vus_store_state_stays_in_a_2_kib_block() {
        let size = std::mem::size_of::<VuState>();
        assert!(size <= 592 + 64, "VuState is {size} bytes");
    }

    #[test]
    fn a_vus_wasi_random_numbers_are_fresh_and_its_own() {
        use wasmtime_wasi::p2::bindings::random::{insecure, random};
        assert_eq!(
            std::mem::size_of::<ThreadRandom>(),
            0,
            "boxed without an allocation"
        );
        let mut wasi = wasi_ctx(&TailPipe::default());
        let r = wasi.random();
        let a = random::Host::get_random_bytes(r, 32).unwrap();
        let b = random::Host::get_random_bytes(r, 32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b, "two draws differ");
        assert_ne!(a, vec![0; 32]);
        let x = insecure::Host::get_insecure_random_u64(r).unwrap();
        let y = insecure::Host::get_insecure_random_u64(r).unwrap();
        assert_ne!(x, y);
        // Another VU's context draws other numbers.
        let mut other = wasi_ctx(&TailPipe::default());
        assert_ne!(
            random::Host::get_random_bytes(other.random(), 32).unwrap(),
            a
        );
    }
}
