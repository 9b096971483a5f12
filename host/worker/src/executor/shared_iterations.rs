//! `shared-iterations`: VUs take iterations from one shared pool of `iterations` until it is empty
//! or `max-duration` passes; fast VUs run more of them.

use super::{RunShared, ScenarioRun, spawn_vus};
use crate::vu::VuFactory;
use stampede_plan::SharedIterations;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &SharedIterations,
) {
    let left = AtomicU64::new(c.iterations);
    spawn_vus(factory, shared, run, c.vus, c.max_duration, move |_| {
        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    })
    .await;
}
