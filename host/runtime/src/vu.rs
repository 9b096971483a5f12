//! Loading a scenario component and running VUs: one store and one instance per VU, kept across
//! iterations and replaced after a trap.

use crate::bindings::shared::ScenarioSharedPre;
use crate::bindings::{Scenario, ScenarioPre};
use crate::engine::{Concurrency, EngineHandle, EngineLimits, Memories, MemoryInit};
use crate::error::{CallError, RuntimeError};
use crate::host::Requests;
use crate::offload::Offload;
use crate::state::{RunContext, VuIdentity, VuState, new_store};
use crate::timer;
use stampede_metrics::TagSet;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Store;
use wasmtime::component::{Component, ResourceAny};

/// The version of the package `stampede:scenario` (wit/stampede.wit) this host implements.
pub const WORLD_VERSION: &str = "0.2.0";

/// The plan option behind the limit of VU calls (instantiation, constructor, iteration, drop).
const ITERATION_TIMEOUT: &str = "iteration-timeout";

/// From how many VUs per process a VU's requests run off its guest call's fiber stack (see
/// `offload`): it keeps one page (4 KiB) fewer of each VU's stack resident, and costs ~1 us of CPU
/// per request (BENCHMARKS.md). Below this many VUs the memory is not worth that.
pub(crate) const OFFLOAD_FROM_VUS: u64 = 1_000;

/// A compiled scenario, ready to instantiate VUs from.
pub struct LoadedScenario {
    engine: Arc<EngineHandle>,
    pre: Flavor,
    world: &'static str,
    /// Whether VUs' requests run off their fibers ([`OFFLOAD_FROM_VUS`]).
    offload: bool,
}

/// Which world the component is built for.
enum Flavor {
    /// `scenario`: one instance per VU, synchronous calls.
    Instance(ScenarioPre<VuState>),
    /// `scenario-shared` (or `scenario-shared-futures`, the same exports): VUs are concurrent async
    /// calls, many per instance.
    Shared(ScenarioSharedPre<VuState>),
}

impl LoadedScenario {
    /// Check, compile (or load from `cache_dir`) and link a component, on an engine checked for
    /// `limits`. `what` names it in errors. Fails up front with [`RuntimeError::Capacity`] when this
    /// process cannot host that many VUs, and with [`RuntimeError::Limits`] when one instance of the
    /// component would create more than a VU may.
    ///
    /// The component is compiled for an engine without the component model's concurrency first
    /// (faster calls); a component that needs it (the world `scenario-shared`, or async features in
    /// the world `scenario`) fails that engine's validation at once and gets one with concurrency.
    pub fn load(
        limits: EngineLimits,
        bytes: &[u8],
        sha256: &str,
        what: &str,
        cache_dir: Option<&Path>,
    ) -> Result<Self, RuntimeError> {
        check_magic(bytes, what)?;
        let memories = Memories::of_component(bytes);
        let plain = EngineHandle::new(limits, Concurrency::Off, memories)?;
        let (mut engine, component) =
            match crate::cache::compile(plain.engine(), bytes, sha256, cache_dir) {
                Ok(component) => (plain, component),
                Err(_) => {
                    drop(plain);
                    let concurrent = EngineHandle::new(limits, Concurrency::On, memories)?;
                    let component =
                        crate::cache::compile(concurrent.engine(), bytes, sha256, cache_dir)
                            .map_err(|e| RuntimeError::Compile {
                                what: what.into(),
                                detail: format!("{e:#}"),
                            })?;
                    (concurrent, component)
                }
            };
        tracing::debug!(concurrency = ?engine.concurrency(), "{what} compiled");
        let offload = limits.max_vus >= OFFLOAD_FROM_VUS;
        let linker = crate::host::linker(&engine, offload)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let wrong = |e: wasmtime::Error| match world_version(engine.engine(), &component) {
            Some(found) if !compatible(&found, WORLD_VERSION) => RuntimeError::WorldVersion {
                what: what.into(),
                found,
                expected: WORLD_VERSION.into(),
            },
            _ => RuntimeError::WrongWorld {
                what: what.into(),
                detail: format!("{e:#}"),
            },
        };
        let instance_pre = linker.instantiate_pre(&component).map_err(wrong)?;
        let (pre, world) = match ScenarioPre::new(instance_pre.clone()) {
            Ok(pre) => (Flavor::Instance(pre), "scenario"),
            Err(instance_err) => match ScenarioSharedPre::new(instance_pre) {
                Ok(pre) => (
                    Flavor::Shared(pre),
                    shared_world(engine.engine(), &component),
                ),
                Err(_) => return Err(wrong(instance_err)),
            },
        };
        engine.settle(&component, what)?;
        Ok(LoadedScenario {
            engine: Arc::new(engine),
            pre,
            world,
            offload,
        })
    }

    /// True when the component is built for the world `scenario-shared` (VUs as concurrent async
    /// calls); false for `scenario` (one synchronous instance per VU).
    pub fn is_shared(&self) -> bool {
        matches!(self.pre, Flavor::Shared(_))
    }

    /// The name of the world the component is built for: `scenario`, `scenario-shared` or
    /// `scenario-shared-futures`.
    pub fn world(&self) -> &'static str {
        self.world
    }

    /// True when the component needed an engine with the component model's concurrency (see
    /// [`load`](Self::load)); components of the world `scenario` normally do not.
    pub fn concurrency_support(&self) -> bool {
        self.engine.concurrency() == Concurrency::On
    }

    /// How its instances get their memory's initial data: copied for a small image, mapped
    /// copy-on-write for a large one (see [`MemoryInit`]).
    pub fn memory_init(&self) -> MemoryInit {
        self.engine.memory_init()
    }

    /// Its engine.
    pub(crate) fn handle(&self) -> &EngineHandle {
        &self.engine
    }

    pub(crate) fn shared_pre(&self) -> &ScenarioSharedPre<VuState> {
        match &self.pre {
            Flavor::Shared(pre) => pre,
            Flavor::Instance(_) => {
                unreachable!("shared_pre on a component of the world `scenario`")
            }
        }
    }

    async fn instance(&self, mut state: VuState) -> (Store<VuState>, Result<Scenario, CallError>) {
        // Without the component model's concurrency, wasmtime polls an import's future on the
        // fiber of the guest call that made it.
        state.imports_on_fiber = self.engine.concurrency() == Concurrency::Off;
        if state.imports_on_fiber && self.offload {
            state.offload = Some(Offload::new(Requests(state.run.clone())));
        }
        let mut store = new_store(&self.engine, state);
        let limit = (store.data().run.call_timeout, ITERATION_TIMEOUT);
        let result = match &self.pre {
            Flavor::Instance(pre) => {
                guarded(&mut store, limit, async |s| pre.instantiate_async(s).await).await
            }
            Flavor::Shared(_) => Err(CallError::Trap(
                "this component is built for shared isolation; its VUs run through a SharedGroup"
                    .into(),
            )),
        };
        (store, result)
    }

    /// A store and instance for `setup`/`teardown` of a shared-world component.
    async fn shared_instance(
        &self,
        pre: &ScenarioSharedPre<VuState>,
        state: VuState,
    ) -> (
        Store<VuState>,
        Result<crate::bindings::shared::ScenarioShared, CallError>,
    ) {
        let mut store = new_store(&self.engine, state);
        let limit = (store.data().run.call_timeout, ITERATION_TIMEOUT);
        let result = guarded(&mut store, limit, async |s| pre.instantiate_async(s).await).await;
        (store, result)
    }

    /// Run the scenario's `setup` in an instance of its own (VU id 0), within `limit`.
    pub async fn setup(
        &self,
        run: Arc<RunContext>,
        limit: Duration,
    ) -> Result<Result<Vec<u8>, String>, CallError> {
        if let Flavor::Shared(pre) = &self.pre {
            let (mut store, bindings) = self
                .shared_instance(pre, VuState::new(run, lifecycle_vu("setup")))
                .await;
            let bindings = bindings?;
            let result = guarded(&mut store, (limit, "setup-timeout"), async |s| {
                s.run_concurrent(async |a| {
                    bindings
                        .stampede_scenario_shared_runner()
                        .call_setup(a)
                        .await
                })
                .await?
            })
            .await;
            store.data_mut().flush();
            return result;
        }
        let (mut store, bindings) = self
            .instance(VuState::new(run, lifecycle_vu("setup")))
            .await;
        let bindings = bindings?;
        let result = guarded(&mut store, (limit, "setup-timeout"), async |s| {
            bindings.stampede_scenario_runner().call_setup(s).await
        })
        .await;
        store.data_mut().flush();
        result
    }

    /// Run the scenario's `teardown` in an instance of its own (VU id 0), within `limit`.
    pub async fn teardown(
        &self,
        run: Arc<RunContext>,
        setup_data: &[u8],
        limit: Duration,
    ) -> Result<Result<(), String>, CallError> {
        if let Flavor::Shared(pre) = &self.pre {
            let (mut store, bindings) = self
                .shared_instance(pre, VuState::new(run, lifecycle_vu("teardown")))
                .await;
            let bindings = bindings?;
            let data = setup_data.to_vec();
            let result = guarded(&mut store, (limit, "teardown-timeout"), async |s| {
                s.run_concurrent(async |a| {
                    bindings
                        .stampede_scenario_shared_runner()
                        .call_teardown(a, data)
                        .await
                })
                .await?
            })
            .await;
            store.data_mut().flush();
            return result;
        }
        let (mut store, bindings) = self
            .instance(VuState::new(run, lifecycle_vu("teardown")))
            .await;
        let bindings = bindings?;
        let result = guarded(&mut store, (limit, "teardown-timeout"), async |s| {
            bindings
                .stampede_scenario_runner()
                .call_teardown(s, setup_data)
                .await
        })
        .await;
        store.data_mut().flush();
        result
    }

    /// Create a VU: instantiate and run the `vu` constructor with `setup_data`.
    pub async fn new_vu(
        self: &Arc<Self>,
        run: Arc<RunContext>,
        who: VuIdentity,
        setup_data: Arc<[u8]>,
    ) -> Result<WasmVu, CallError> {
        let cfg = VuConfig {
            scenario: self.clone(),
            run,
            who,
            setup_data,
        };
        let live = cfg.start(0).await?;
        Ok(WasmVu {
            cfg,
            live: Some(live),
            iterations: 0,
            deadline: Box::pin(timer::unset()),
            in_call: false,
        })
    }
}

fn lifecycle_vu(stage: &str) -> VuIdentity {
    VuIdentity::new(0, Arc::from(stage), TagSet::new([("scenario", stage)]))
}

/// Whether wasmtime's linker would match the two versions: semver-compatible, that is the same
/// major, and for 0.x the same minor (`0.2.1` and `0.2.0` link; `0.1.0` and `0.2.0` do not).
pub(crate) fn compatible(a: &str, b: &str) -> bool {
    let key = |v: &str| {
        let mut parts = v.split('.');
        let major = parts.next().unwrap_or_default().to_owned();
        let minor = parts.next().unwrap_or_default().to_owned();
        if major == "0" {
            (major, minor)
        } else {
            (major, String::new())
        }
    };
    key(a) == key(b)
}

/// The version of `stampede:scenario` a component imports or exports, if it names the package at all.
fn world_version(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name);
    let exports = ty.exports(engine).map(|(name, _)| name);
    imports.chain(exports).find_map(|name| {
        let (_, version) = name.strip_prefix("stampede:scenario/")?.split_once('@')?;
        Some(version.to_owned())
    })
}

/// Which of the two shared worlds a component that exports `shared-runner` is built for: the one
/// whose imports are futures when it imports one of them.
fn shared_world(engine: &wasmtime::Engine, component: &Component) -> &'static str {
    let futures = component.component_type().imports(engine).any(|(name, _)| {
        name.strip_prefix("stampede:scenario/")
            .is_some_and(|n| n.starts_with("http-future@") || n.starts_with("time-future@"))
    });
    if futures {
        "scenario-shared-futures"
    } else {
        "scenario-shared"
    }
}

fn check_magic(bytes: &[u8], what: &str) -> Result<(), RuntimeError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(RuntimeError::NotWasm {
            what: what.into(),
            head: if head.is_empty() {
                "nothing: the file is empty".into()
            } else {
                head.join(" ")
            },
        });
    }
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(RuntimeError::CoreModule { what: what.into() });
    }
    Ok(())
}

/// Run one guest call with the CPU budget reset and the wall-clock limit applied, turning failures
/// into [`CallError`]s that say what happened.
pub(crate) async fn guarded<R>(
    store: &mut Store<VuState>,
    (limit, option): (Duration, &'static str),
    call: impl AsyncFnOnce(&mut Store<VuState>) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    let deadline = std::pin::pin!(tokio::time::sleep(limit));
    guarded_by(store, (limit, option), deadline, call).await
}

/// [`guarded`], with the wall-clock limit kept by `deadline`, which the caller has set to `limit`
/// from now (a VU's iterations reuse one timer: see [`crate::timer`]).
async fn guarded_by<R>(
    store: &mut Store<VuState>,
    (limit, option): (Duration, &'static str),
    deadline: Pin<&mut tokio::time::Sleep>,
    call: impl AsyncFnOnce(&mut Store<VuState>) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    {
        let s = store.data_mut();
        s.ticks = 0;
        s.cpu_exceeded = false;
        s.last_error_log = None;
        s.limiter.hit = false;
    }
    store.set_epoch_deadline(1);
    // Requests the call makes run on this task's stack, not the call's fiber (see `offload`).
    let offload = store.data().offload.clone();
    let outcome = {
        let call = std::pin::pin!(call(&mut *store));
        match &offload {
            Some(offload) => timer::before(deadline, std::pin::pin!(offload.drive(call))).await,
            None => timer::before(deadline, call).await,
        }
    }
    .ok_or(CallError::Timeout { limit, option })?;
    outcome.map_err(|e| classify(store.data(), e))
}

/// What a failed guest call means, from the store's flags: CPU budget, memory limit, or a trap (with
/// what the guest said before it).
pub(crate) fn classify(s: &VuState, e: wasmtime::Error) -> CallError {
    if s.cpu_exceeded {
        return CallError::CpuBudget(s.run.cpu_budget);
    }
    if s.limiter.hit {
        return CallError::Memory {
            limit: s.run.memory_limit,
        };
    }
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map_or_else(|| format!("{e}"), |t| t.to_string());
    let output = s.guest_output_tail();
    CallError::Trap(if output.is_empty() {
        trap
    } else {
        format!("{output} ({trap})")
    })
}

struct Live {
    store: Store<VuState>,
    bindings: Scenario,
    handle: ResourceAny,
}

/// What a VU needs to (re)create its instance. Shared-reference safe, unlike the store.
struct VuConfig {
    scenario: Arc<LoadedScenario>,
    run: Arc<RunContext>,
    who: VuIdentity,
    setup_data: Arc<[u8]>,
}

/// One virtual user: a store, an instance and the guest's `vu` resource.
pub struct WasmVu {
    cfg: VuConfig,
    live: Option<Live>,
    iterations: u64,
    /// The timer of the iteration timeout, reset for each iteration.
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Set while an iteration's call into the instance is under way. If it is still set when the
    /// VU is next used, the iteration's future was dropped mid-call (an interrupted iteration,
    /// after which the executors drop the VU anyway): the instance is then in an unknown state and
    /// is discarded first (`discard_interrupted`).
    in_call: bool,
}

impl VuConfig {
    async fn start(&self, iterations: u64) -> Result<Live, CallError> {
        let began = std::time::Instant::now();
        let (mut store, bindings) = self
            .scenario
            .instance(VuState::new(self.run.clone(), self.who.clone()))
            .await;
        store.data_mut().iteration = iterations;
        let instantiated = began.elapsed();
        let started = match bindings {
            Ok(bindings) => {
                let data = &*self.setup_data;
                let limit = (self.run.call_timeout, ITERATION_TIMEOUT);
                guarded(&mut store, limit, async |s| {
                    bindings
                        .stampede_scenario_runner()
                        .vu()
                        .call_constructor(s, data)
                        .await
                })
                .await
                .map(|handle| (bindings, handle))
            }
            Err(e) => Err(e),
        };
        store.data_mut().flush();
        // `STAMPEDE_LOG=stampede_runtime::vu_start=debug` prints these (bench/languages.py reads them).
        tracing::debug!(
            target: "stampede_runtime::vu_start",
            vu = self.who.id,
            instantiate_us = instantiated.as_micros() as u64,
            constructor_us = (began.elapsed() - instantiated).as_micros() as u64,
            ok = started.is_ok(),
        );
        let (bindings, handle) = started?;
        Ok(Live {
            store,
            bindings,
            handle,
        })
    }
}

impl WasmVu {
    /// This VU's id.
    pub fn id(&self) -> u64 {
        self.cfg.who.id
    }

    /// True after a trap or timeout discarded the instance, or an iteration was interrupted
    /// mid-call: the next iteration re-creates it.
    pub fn needs_restart(&self) -> bool {
        self.live.is_none() || self.in_call
    }

    /// Drop the instance if an iteration's future was dropped in the middle of its call.
    fn discard_interrupted(&mut self) {
        if std::mem::take(&mut self.in_call) {
            self.live = None;
        }
    }

    /// Re-create the instance and re-run the constructor (after a trap, a timeout or an
    /// interrupted iteration).
    pub async fn restart(&mut self) -> Result<(), CallError> {
        self.discard_interrupted();
        if self.live.is_none() {
            self.live = Some(self.cfg.start(self.iterations).await?);
        }
        Ok(())
    }

    /// Run one iteration of the plan scenario `exec`. `Ok(Err(msg))` is an iteration the guest
    /// reported as failed; `Err` means the instance was discarded (trap, budget, timeout) and the
    /// next iteration starts from a fresh instance, re-running the constructor.
    pub async fn iteration(&mut self, exec: &str) -> Result<Result<(), String>, CallError> {
        self.discard_interrupted();
        if self.live.is_none() {
            // Boxed: the rare path (callers normally `restart` first) need not take room in the
            // future of every iteration, which a parked VU holds for its think time.
            self.live = Some(Box::pin(self.cfg.start(self.iterations)).await?);
        }
        let Some(live) = self.live.as_mut() else {
            unreachable!("started above")
        };
        live.store.data_mut().iteration = self.iterations;
        self.iterations += 1;
        let limit = (self.cfg.run.call_timeout, ITERATION_TIMEOUT);
        self.deadline
            .as_mut()
            .reset(timer::after(tokio::time::Instant::now(), limit.0));
        // The instance stays in place: borrowed, not moved into this future, which a VU holds for
        // its think time (host/worker's `an_instance_vus_iteration_future_fits_a_2_kib_block`).
        let (bindings, handle) = (&live.bindings, &live.handle);
        self.in_call = true;
        let result = guarded_by(&mut live.store, limit, self.deadline.as_mut(), async |s| {
            bindings
                .stampede_scenario_runner()
                .vu()
                .call_iteration(s, *handle, exec)
                .await
        })
        .await;
        self.in_call = false;
        live.store.data_mut().flush();
        if result.is_err() {
            // The instance is discarded: the next iteration starts a new one.
            self.live = None;
        }
        result
    }

    /// Drop the guest's `vu` resource (running its destructor) and hand over the last samples.
    pub async fn close(mut self) {
        // An interrupted instance is dropped without its destructor.
        self.discard_interrupted();
        if let Some(Live {
            mut store, handle, ..
        }) = self.live.take()
        {
            let limit = (self.cfg.run.call_timeout, ITERATION_TIMEOUT);
            let _ = guarded(&mut store, limit, async |s| {
                handle.resource_drop_async(s).await
            })
            .await;
            store.data_mut().flush();
        }
    }
}
