//! `constant-vus`: a fixed number of VUs loop over iterations for a fixed duration.

use super::{RunShared, ScenarioRun, spawn_vus};
use crate::vu::VuFactory;
use stampede_plan::ConstantVus;
use std::sync::Arc;

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &ConstantVus,
) {
    spawn_vus(factory, shared, run, c.vus, c.duration, |_| true).await;
}
