//! `http-future` and `time-future`: shared isolation's imports for toolchains that cannot import an
//! `async func` but can await a `future` (componentize-qjs). A call returns at once with a future;
//! wasmtime polls its producer while the guest reads it, with the store at hand, so the request is
//! recorded into the VU's samples exactly as `http-async.send` records it.

use super::shared::InFlight;
use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::shared_futures::{http_future, time_future};
use crate::state::VuState;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime::StoreContextMut;
use wasmtime::component::{Access, FutureProducer, FutureReader, HasSelf};

impl http_future::Host for VuState {}
impl time_future::Host for VuState {}

impl http_future::HostWithStore<VuState> for HasSelf<VuState> {
    fn send(
        mut host: Access<VuState, Self>,
        req: Request,
    ) -> wasmtime::Result<FutureReader<Result<Response, HttpError>>> {
        let state = host.get();
        // The guest reached a host call: whatever it did before was not a runaway loop.
        state.ticks = 0;
        let (pending, outgoing) = state.prepare_request(req);
        let flight = InFlight::new(pending, outgoing, state.run.clone());
        FutureReader::new(host, Sending(flight))
    }
}

/// The producer of `http-future.send`'s future: the request, sent when the guest first reads the
/// future. Dropped before it finished (the guest dropped the future, or the instance ended), the
/// request goes on in a task of its own and is recorded there ([`InFlight`]'s drop).
struct Sending(InFlight);

impl FutureProducer<VuState> for Sending {
    type Item = Result<Response, HttpError>;

    fn poll_produce(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<VuState>,
        finish: bool,
    ) -> Poll<wasmtime::Result<Option<Self::Item>>> {
        match self.get_mut().0.poll_done(cx) {
            Poll::Ready((pending, result)) => {
                Poll::Ready(Ok(Some(store.data_mut().finish_request(pending, result))))
            }
            // The guest cancelled its read: the request stays in flight for a later read.
            Poll::Pending if finish => Poll::Ready(Ok(None)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl time_future::HostWithStore<VuState> for HasSelf<VuState> {
    fn sleep(mut host: Access<VuState, Self>, ms: u32) -> wasmtime::Result<FutureReader<u32>> {
        host.get().ticks = 0;
        // The deadline is set now, so the pause counts from the call, not from the first read.
        let pause = tokio::time::sleep(Duration::from_millis(u64::from(ms)));
        FutureReader::new(host, async move {
            pause.await;
            Ok::<u32, wasmtime::Error>(ms)
        })
    }
}
