//! `http-future` and `time-future`: shared isolation's imports for toolchains that cannot import an
//! `async func` but can await a `future` (componentize-qjs). A call returns at once with a future;
//! the request (or the pause) starts right then, and wasmtime polls the future's producer while the
//! guest reads it, with the store at hand, so the request is recorded into the VU's samples exactly
//! as `http-async.send` records it.

use crate::bindings::http::{HttpError, Request, Response};
use crate::bindings::shared_futures::{http_future, time_future};
use crate::host::http::Pending;
use crate::redirect::Followed;
use crate::state::VuState;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::StoreContextMut;
use wasmtime::component::{Access, FutureProducer, FutureReader, HasSelf};

impl http_future::Host for VuState {}
impl time_future::Host for VuState {}

/// A finished request (with the redirects it followed) on its way to the future's reader.
type Outcome = (Pending, Followed);

impl http_future::HostWithStore<VuState> for HasSelf<VuState> {
    fn send(
        mut host: Access<VuState, Self>,
        req: Request,
    ) -> wasmtime::Result<FutureReader<Result<Response, HttpError>>> {
        let state = host.get();
        // The guest reached a host call: whatever it did before was not a runaway loop.
        state.ticks = 0;
        let (pending, outgoing) = state.prepare_request(req);
        let run = state.run.clone();
        // None in a shared instance's VUs; `setup` and `teardown` of a shared world have theirs.
        let cookies = state.cookies.clone();
        let (tx, rx) = oneshot::channel();
        // The future first: if the store cannot take another handle, nothing is sent.
        let future = FutureReader::new(host, Receiving(rx))?;
        // The request runs in a task of its own, so it goes on whether or not (or however late) the
        // guest reads the future: a read the guest cancels, or a future it drops, does not stall the
        // connection. Whoever ends up with the outcome records it once: the reader through the
        // store, or, when nobody will read it (future dropped, instance ended), the task itself.
        let orphan = run.orphans.adopt();
        tokio::spawn(async move {
            let followed = crate::redirect::send_following_all(
                &run.client,
                outgoing,
                run.max_redirects,
                &cookies,
            )
            .await;
            if let Err((pending, followed)) = tx.send((pending, followed)) {
                pending.record_orphan(&run, &followed);
            }
            drop(orphan);
        });
        Ok(future)
    }
}

/// The producer of `http-future.send`'s future: the request's outcome, from its task.
struct Receiving(oneshot::Receiver<Outcome>);

impl FutureProducer<VuState> for Receiving {
    type Item = Result<Response, HttpError>;

    fn poll_produce(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<VuState>,
        finish: bool,
    ) -> Poll<wasmtime::Result<Option<Self::Item>>> {
        let rx = &mut self.get_mut().0;
        let (pending, followed) = if finish {
            // The read was cancelled: unless the outcome is here, the request goes on in its task
            // for a later read.
            match rx.try_recv() {
                Ok(outcome) => outcome,
                Err(_) => return Poll::Ready(Ok(None)),
            }
        } else {
            ready!(Pin::new(rx).poll(cx)).map_err(|_| {
                wasmtime::format_err!("the task sending this request ended without an outcome")
            })?
        };
        Poll::Ready(Ok(Some(
            store.data_mut().finish_followed(pending, followed),
        )))
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
