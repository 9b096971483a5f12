//! `constant-arrival-rate`: `rate` iterations per `time-unit` for `duration`, open model (see
//! `arrival_rate.rs`).

use super::{RunShared, ScenarioRun, arrival_rate};
use crate::vu::VuFactory;
use stampede_plan::ConstantArrivalRate;
use std::sync::Arc;

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &ConstantArrivalRate,
) {
    let schedule = c.arrivals().map(|(_, at)| at);
    arrival_rate::run(
        factory,
        shared,
        run,
        schedule,
        c.pre_allocated_vus,
        c.max_vus,
        c.duration,
    )
    .await;
}
