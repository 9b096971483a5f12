//! `http-async` and `time-async`: the imports of shared isolation. They suspend only the calling VU's
//! task, so the other VUs of the instance run meanwhile. The store's state is borrowed only around the
//! await (never across it), through the [`Accessor`].

use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::shared::{http_async, time_async};
use crate::client::{CompletedResponse, RequestError};
use crate::host::http::Pending;
use crate::state::{RunContext, VuState};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::component::{Accessor, HasSelf};

impl http_async::Host for VuState {}
impl time_async::Host for VuState {}

impl<T> http_async::HostWithStore<T> for HasSelf<VuState> {
    async fn send(accessor: &Accessor<T, Self>, req: Request) -> Result<Response, HttpError> {
        let (pending, outgoing, run) = accessor.with(|mut access| {
            let state = access.get();
            // The guest reached a host call: whatever it did before was not a runaway loop.
            state.ticks = 0;
            let (pending, outgoing) = state.prepare_request(req);
            (pending, outgoing, state.run.clone())
        });
        // The request runs in a task of its own, and its outcome is recorded exactly once: here, or,
        // if another VU trapped the instance meanwhile (dropping this future with the store), by
        // `Delivery`'s drop wherever the outcome is then left (the task, or the channel).
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let result = run.client.send(outgoing).await;
            let _ = tx.send(Delivery {
                outcome: Some((pending, result)),
                run,
            });
        });
        let Ok(mut delivery) = rx.await else {
            return Err(HttpError::Protocol(
                "the request's task ended without an answer (an internal error; see the log)"
                    .into(),
            ));
        };
        let (pending, result) = delivery
            .outcome
            .take()
            .expect("a delivery carries an outcome");
        accessor.with(|mut access| access.get().finish_request(pending, result))
    }
}

/// A request's outcome on its way back to the VU that sent it. Dropped undelivered, it records
/// itself straight into the collector.
struct Delivery {
    outcome: Option<(Pending, Result<CompletedResponse, RequestError>)>,
    run: Arc<RunContext>,
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some((pending, result)) = self.outcome.take() {
            pending.record_orphan(&self.run, &result);
        }
    }
}

impl<T> time_async::HostWithStore<T> for HasSelf<VuState> {
    async fn sleep(accessor: &Accessor<T, Self>, ms: u32) {
        accessor.with(|mut access| access.get().ticks = 0);
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}
