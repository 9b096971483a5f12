//! The [`Vu`] and [`VuFactory`] implementations backed by the Wasm runtime.

use crate::vu::{IterationOutcome, Vu, VuFactory, VuSpec};
use stampede_runtime::{
    CallError, LoadedScenario, RunContext, SharedGroup, SharedVu, VuIdentity, WasmVu,
};
use std::sync::Arc;

/// Per plan scenario: the name passed to `iteration` and what its VUs share.
#[derive(Clone)]
pub struct ScenarioInfo {
    /// The identity its VUs are made from (name, tags and series keys; its id is unused).
    pub who: VuIdentity,
    /// `exec`: what `iteration(scenario)` receives.
    pub exec: Arc<str>,
    /// The instances hosting this scenario's VUs, for a component of the world `scenario-shared`.
    pub shared: Option<Arc<SharedGroup>>,
}

/// Creates Wasm VUs for every scenario of the plan.
pub struct WasmFactory {
    /// The compiled component.
    pub scenario: Arc<LoadedScenario>,
    /// Shared run state.
    pub run: Arc<RunContext>,
    /// What `setup` returned.
    pub setup_data: Arc<[u8]>,
    /// Indexed like the plan's scenarios.
    pub scenarios: Vec<ScenarioInfo>,
}

/// A Wasm VU bound to its plan scenario.
pub struct WasmVuAdapter {
    vu: Inner,
    exec: Arc<str>,
}

/// Its own instance, or a place in a shared one. (`WasmVu` is boxed: a VU's task holds this for the
/// VU's whole life, and shared VUs should not pay for the larger variant.)
enum Inner {
    Instance(Box<WasmVu>),
    Shared(SharedVu),
}

impl VuFactory for WasmFactory {
    type Vu = WasmVuAdapter;

    async fn create(&self, spec: VuSpec) -> Result<WasmVuAdapter, String> {
        let info = &self.scenarios[spec.scenario];
        if let Some(group) = &info.shared {
            return match Box::pin(group.new_vu(spec.id)).await {
                Ok(vu) => Ok(WasmVuAdapter {
                    vu: Inner::Shared(vu),
                    exec: info.exec.clone(),
                }),
                Err(e) => Err(format!("the vu constructor or init {e}")),
            };
        }
        let who = info.who.with_id(spec.id);
        match Box::pin(
            self.scenario
                .new_vu(self.run.clone(), who, self.setup_data.clone()),
        )
        .await
        {
            Ok(vu) => Ok(WasmVuAdapter {
                vu: Inner::Instance(Box::new(vu)),
                exec: info.exec.clone(),
            }),
            Err(e) => Err(format!("the vu constructor {e}")),
        }
    }
}

impl WasmVuAdapter {
    fn id(&self) -> u64 {
        match &self.vu {
            Inner::Instance(vu) => vu.id(),
            Inner::Shared(vu) => vu.id(),
        }
    }

    fn needs_restart(&self) -> bool {
        match &self.vu {
            Inner::Instance(vu) => vu.needs_restart(),
            Inner::Shared(vu) => vu.needs_restart(),
        }
    }

    async fn restart(&mut self) -> Result<(), CallError> {
        match &mut self.vu {
            Inner::Instance(vu) => vu.restart().await,
            Inner::Shared(vu) => vu.restart().await,
        }
    }
}

impl Vu for WasmVuAdapter {
    async fn iteration(&mut self) -> IterationOutcome {
        // Boxed: the rare path need not take room in every VU's task.
        if self.needs_restart()
            && let Err(e) = Box::pin(self.restart()).await
        {
            return IterationOutcome::InitFailed(format!(
                "VU {}: the vu constructor {e}",
                self.id()
            ));
        }
        // The instance path is boxed: a VU's task lives as long as the VU, and an unboxed future
        // would reserve room for it (a few KiB) in every VU, also in shared VUs that never need it.
        let shared = matches!(self.vu, Inner::Shared(_));
        let result = match &mut self.vu {
            Inner::Instance(vu) => Box::pin(vu.iteration(&self.exec)).await,
            Inner::Shared(vu) => vu.iteration(&self.exec).await,
        };
        match result {
            Ok(Ok(())) => IterationOutcome::Completed,
            Ok(Err(msg)) => IterationOutcome::Failed(msg),
            Err(e) => {
                let kind = match e {
                    CallError::Trap(_) | CallError::Failed(_) => "trap",
                    CallError::CpuBudget(_) => "cpu-budget",
                    CallError::Memory { .. } => "memory",
                    CallError::Timeout { .. } => "timeout",
                };
                let message = match e {
                    // The instance ended, and every VU in it got its error, whichever VU's call
                    // caused it (the host cannot tell): said once, naming no VU.
                    CallError::Trap(_) | CallError::CpuBudget(_) | CallError::Memory { .. }
                        if shared =>
                    {
                        format!("its shared instance {e}")
                    }
                    _ => format!("VU {} {e}", self.id()),
                };
                IterationOutcome::Aborted { kind, message }
            }
        }
    }

    async fn close(self) {
        // Boxed: a VU's loop future need not make room for either.
        match self.vu {
            Inner::Instance(vu) => Box::pin((*vu).close()).await,
            Inner::Shared(vu) => Box::pin(vu.close()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Clock, RunShared, ScenarioRun, vu_loop};

    /// The size and alignment of the future `f` returns, without calling it.
    fn future_layout<A, F: Future>(_: impl FnOnce(A) -> F) -> std::alloc::Layout {
        std::alloc::Layout::new::<F>()
    }

    /// A VU's task holds this future for the VU's whole life, so with shared isolation it is a
    /// good part of what a VU costs (bench/memory.py). It was 1,128 bytes before the scenario-wide
    /// deadline timer, the thread's sample buffer and the boxed rare paths; now 672.
    #[test]
    fn a_wasm_vus_loop_stays_small() {
        let size = future_layout(
            |(factory, shared, run, spec, clock): (
                &'static WasmFactory,
                &'static RunShared,
                &'static ScenarioRun,
                VuSpec,
                Clock,
            )| vu_loop(factory, shared, run, spec, clock, || true),
        )
        .size();
        assert!(size <= 768, "a Wasm VU's loop future is {size} bytes");
    }

    /// A VU with one instance per VU spends its think time inside `WasmVu::iteration` (the guest
    /// sleeps in its call), and `iteration` above boxes that future for each iteration, so the box
    /// is part of what an idle VU costs. mimalloc rounds a block up to a quarter step between
    /// powers of two: 2,200 bytes (the future while it held the store, bindings and resource handle
    /// itself) took 2,560, 2,048 take 2,048. wasmtime's `call_async` future is ~1,580 of it.
    #[test]
    fn an_instance_vus_iteration_future_fits_a_2_kib_block() {
        let layout =
            future_layout(|(vu, exec): (&'static mut WasmVu, &'static str)| vu.iteration(exec));
        assert!(
            layout.size() <= 2048,
            "WasmVu::iteration's future is {} bytes",
            layout.size()
        );
        // More alignment would take mimalloc's aligned path, outside its size classes.
        assert!(layout.align() <= 16, "{layout:?}");
    }
}
