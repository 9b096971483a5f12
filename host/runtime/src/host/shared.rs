//! `http-async` and `time-async`: the imports of shared isolation. They suspend only the calling VU's
//! task, so the other VUs of the instance run meanwhile. The store's state is borrowed only around the
//! await (never across it), through the [`Accessor`].

use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::shared::{http_async, time_async};
use crate::host::http::Pending;
use crate::redirect::Followed;
use crate::state::{RunContext, VuState};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Accessor, HasSelf};

impl http_async::Host for VuState {}
impl time_async::Host for VuState {}

impl<T> http_async::HostWithStore<T> for HasSelf<VuState> {
    async fn send(accessor: &Accessor<T, Self>, req: Request) -> Result<Response, HttpError> {
        let (pending, outgoing, run, cookies) = accessor.with(|mut access| {
            let state = access.get();
            // The guest reached a host call: whatever it did before was not a runaway loop.
            state.ticks = 0;
            let (pending, outgoing) = state.prepare_request(req);
            (pending, outgoing, state.run.clone(), state.cookies.clone())
        });
        // Recorded exactly once: below, or, if another VU traps the instance while the request (or
        // one of its redirects) is in flight (dropping this future with the store), by `InFlight`'s
        // drop, which lets the request finish in a task of its own and records it then.
        let client = run.client.clone();
        let max = run.max_redirects;
        let mut flight = InFlight {
            request: Some(Box::pin(async move {
                crate::redirect::send_following_all(&client, outgoing, max, &cookies).await
            })),
            pending: Some(pending),
            run,
        };
        let followed = flight.request.as_mut().expect("set above").as_mut().await;
        flight.request = None;
        let pending = flight.pending.take().expect("set above");
        accessor.with(|mut access| access.get().finish_followed(pending, followed))
    }
}

type Sending = Pin<Box<dyn Future<Output = Followed> + Send>>;

/// A request on its way, owned by the guest's host call. Dropped before the response arrived (its
/// instance ended), it hands the request to a task that finishes and records it.
struct InFlight {
    request: Option<Sending>,
    pending: Option<Pending>,
    run: Arc<RunContext>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let (Some(request), Some(pending)) = (self.request.take(), self.pending.take()) else {
            return;
        };
        let run = self.run.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // Counted until recorded: the VU thread waits for it before stopping.
            let orphan = run.orphans.adopt();
            runtime.spawn(async move {
                let followed = request.await;
                pending.record_orphan(&run, &followed);
                drop(orphan);
            });
        }
    }
}

impl<T> time_async::HostWithStore<T> for HasSelf<VuState> {
    async fn sleep(accessor: &Accessor<T, Self>, ms: u32) {
        accessor.with(|mut access| access.get().ticks = 0);
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}
