//! `shared-iterations`: VUs take iterations from one shared pool of `iterations` until it is empty
//! or `max-duration` passes; fast VUs run more of them (also across a worker's VU threads).

use super::{RunShared, ScenarioRun, spawn_vus};
use crate::vu::VuFactory;
use stampede_plan::SharedIterations;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &SharedIterations,
) {
    // This thread's part of the worker's share; when it is done, its VUs take what is left of
    // the other threads' parts, so that fast VUs run more of them across threads too.
    let mine = Arc::new(AtomicU64::new(c.iterations));
    let siblings = shared.siblings(run.index);
    super::lock(&siblings.left).push(mine.clone());
    spawn_vus(factory, shared, run, c.vus, c.max_duration, move |_| {
        siblings.take_iteration(&mine)
    })
    .await;
}
