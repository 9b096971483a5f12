//! `per-vu-iterations`: each VU runs exactly `iterations` iterations, within `max-duration`.

use super::{RunShared, ScenarioRun, spawn_vus};
use crate::vu::VuFactory;
use stampede_plan::PerVuIterations;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) async fn run<F: VuFactory>(
    factory: Arc<F>,
    shared: Arc<RunShared>,
    run: Arc<ScenarioRun>,
    c: &PerVuIterations,
) {
    let done: Arc<[AtomicU64]> = (0..c.vus).map(|_| AtomicU64::new(0)).collect();
    let per_vu = c.iterations;
    spawn_vus(factory, shared, run, c.vus, c.max_duration, move |i| {
        done[i as usize].fetch_add(1, Ordering::Relaxed) < per_vu
    })
    .await;
}
