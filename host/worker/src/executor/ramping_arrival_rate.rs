//! `ramping-arrival-rate`: the arrival rate follows the plan's stages, open model (see
//! `arrival_rate.rs`).

use super::{RunShared, ScenarioRun, arrival_rate};
use crate::vu::VuFactory;
use stampede_plan::RampingArrivalRate;
use std::sync::Arc;

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &RampingArrivalRate,
) {
    let schedule = c.arrivals().map(|(_, at)| at);
    let duration = c.max_duration();
    arrival_rate::run(
        factory,
        shared,
        run,
        schedule,
        c.pre_allocated_vus,
        c.max_vus,
        duration,
    )
    .await;
}
