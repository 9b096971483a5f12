//! `http-async` and `time-async`: the imports of shared isolation. They suspend only the calling VU's
//! task, so the other VUs of the instance run meanwhile. The store's state is borrowed only around the
//! await (never across it), through the [`Accessor`].

use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::shared::{http_async, time_async};
use crate::state::VuState;
use std::time::Duration;
use wasmtime::component::{Accessor, HasSelf};

impl http_async::Host for VuState {}
impl time_async::Host for VuState {}

impl<T> http_async::HostWithStore<T> for HasSelf<VuState> {
    async fn send(accessor: &Accessor<T, Self>, req: Request) -> Result<Response, HttpError> {
        let (pending, outgoing, client) = accessor.with(|mut access| {
            let state = access.get();
            // The guest reached a host call: whatever it did before was not a runaway loop.
            state.ticks = 0;
            let (pending, outgoing) = state.prepare_request(req);
            (pending, outgoing, state.run.client.clone())
        });
        let result = client.send(outgoing).await;
        accessor.with(|mut access| access.get().finish_request(pending, result))
    }
}

impl<T> time_async::HostWithStore<T> for HasSelf<VuState> {
    async fn sleep(accessor: &Accessor<T, Self>, ms: u32) {
        accessor.with(|mut access| access.get().ticks = 0);
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}
