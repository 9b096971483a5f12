//! The [`Vu`] and [`VuFactory`] implementations backed by the Wasm runtime.

use crate::vu::{IterationOutcome, Vu, VuFactory, VuSpec};
use stampede_metrics::TagSet;
use stampede_runtime::{CallError, LoadedScenario, RunContext, VuIdentity, WasmVu};
use std::sync::Arc;

/// Per plan scenario: the name passed to `iteration` and the tags of its samples.
#[derive(Clone)]
pub struct ScenarioInfo {
    /// Plan scenario name.
    pub name: Arc<str>,
    /// `exec`: what `iteration(scenario)` receives.
    pub exec: Arc<str>,
    /// `scenario` tag plus the scenario's own tags.
    pub tags: TagSet,
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
    vu: WasmVu,
    exec: Arc<str>,
}

impl VuFactory for WasmFactory {
    type Vu = WasmVuAdapter;

    async fn create(&self, spec: VuSpec) -> Result<WasmVuAdapter, String> {
        let info = &self.scenarios[spec.scenario];
        let who = VuIdentity {
            id: spec.id,
            scenario: info.name.clone(),
            tags: info.tags.clone(),
        };
        match self
            .scenario
            .new_vu(self.run.clone(), who, self.setup_data.clone())
            .await
        {
            Ok(vu) => Ok(WasmVuAdapter {
                vu,
                exec: info.exec.clone(),
            }),
            Err(e) => Err(format!("the vu constructor {e}")),
        }
    }
}

impl Vu for WasmVuAdapter {
    async fn iteration(&mut self) -> IterationOutcome {
        if self.vu.needs_restart()
            && let Err(e) = self.vu.restart().await
        {
            return IterationOutcome::InitFailed(format!(
                "VU {}: the vu constructor {e}",
                self.vu.id()
            ));
        }
        match self.vu.iteration(&self.exec).await {
            Ok(Ok(())) => IterationOutcome::Completed,
            Ok(Err(msg)) => IterationOutcome::Failed(msg),
            Err(e) => {
                let kind = match e {
                    CallError::Trap(_) => "trap",
                    CallError::CpuBudget(_) => "cpu-budget",
                    CallError::Memory { .. } => "memory",
                    CallError::Timeout { .. } => "timeout",
                };
                IterationOutcome::Aborted {
                    kind,
                    message: format!("VU {} {e}", self.vu.id()),
                }
            }
        }
    }

    async fn close(self) {
        self.vu.close().await;
    }
}
