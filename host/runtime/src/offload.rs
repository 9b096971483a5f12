//! A VU's requests polled on its task's own stack, not on the fiber stack of the guest call that
//! made them.
//!
//! Without the component model's concurrency, wasmtime polls an import's future on the fiber of the
//! guest call, and every page of that stack a call ever touches stays resident for the VU's life
//! (see `fiber_stack`). The guest runs ~2.8 KiB below the stack's top and wasmtime's import
//! machinery takes ~2-3.5 KiB more, so an import's own frames start ~5-6 KiB down; a request's
//! future (the pool, the connection's reads and writes, the response's parsing) went on from there
//! to ~12 KiB, the third page of every VU's stack. Here `http.send` parks what the request needs in
//! the VU's [`Offload`] slot and waits; the VU task's call of the guest ([`Offload::drive`], around
//! every guest call of such a store) makes the request's future and polls it on the task's own
//! stack, the thread's, which all VUs share, and resumes the guest once the request is done. The
//! request is polled with the same waker as before (the VU task's), so it wakes the task as it did.
//! A VU's stack keeps two pages (BENCHMARKS.md, `bench/memory_breakdown.py`).
//!
//! A slot nobody drives (an engine with the component model's concurrency polls imports its own
//! way) runs the work where it is, as before.

use pin_project_lite::pin_project;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// Work polled off the fiber, holding its output once done (so the slot needs no room for it).
pub(crate) type Parked<T> = Pin<Box<dyn Job<Output = T>>>;

/// A future that keeps its output until taken.
pub(crate) trait Job: Send {
    type Output;
    /// Poll until done.
    fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// The output, once done. Moves only the output (not the whole job, as `MaybeDone` would):
    /// the import calls it on the fiber.
    fn take(self: Pin<&mut Self>) -> Option<Self::Output>;
}

pin_project! {
    /// A future and, once it is done, its output (the future is kept, done, until the job is
    /// dropped: replacing it with the output would copy the whole job).
    struct Finishing<F: Future> {
        #[pin]
        future: F,
        output: Option<F::Output>,
        done: bool,
    }
}

impl<F: Future + Send> Job for Finishing<F>
where
    F::Output: Send,
{
    type Output = F::Output;

    fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if !*this.done {
            *this.output = Some(std::task::ready!(this.future.poll(cx)));
            *this.done = true;
        }
        Poll::Ready(())
    }

    fn take(self: Pin<&mut Self>) -> Option<F::Output> {
        self.project().output.take()
    }
}

/// Box `future` as a [`Parked`] job.
pub(crate) fn park<F>(future: F) -> Parked<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    Box::pin(Finishing {
        future,
        output: None,
        done: false,
    })
}

/// What an [`Offload`] runs: [`start`](Work::start) makes the job from what the import hands over,
/// on the driver's stack (a request's future is ~1.5 KiB; made on the fiber, it would take that
/// much room there too).
pub(crate) trait Work: Send + 'static {
    type Input: Send;
    type Output: Send;
    fn start(&self, input: Self::Input) -> Parked<Self::Output>;
}

/// Where an import's work waits to be polled off the fiber, and its result for the import.
pub(crate) struct Offload<W: Work> {
    slot: Arc<Mutex<Slot<W>>>,
}

struct Slot<W: Work> {
    work: W,
    /// True while [`Offload::drive`] runs a guest call of this store.
    driven: bool,
    state: State<W>,
}

enum State<W: Work> {
    Empty,
    /// Handed over by the import, for the driver to start.
    Queued(W::Input),
    /// Started by the driver; `true` once done.
    Started(Parked<W::Output>, bool),
}

/// Work handed to [`Offload::submit`]: with the driver, or here when there is none.
pub(crate) struct Submitted<T>(Option<Parked<T>>);

impl<W: Work> Clone for Offload<W> {
    fn clone(&self) -> Self {
        Offload {
            slot: self.slot.clone(),
        }
    }
}

impl<W: Work> Offload<W> {
    pub(crate) fn new(work: W) -> Self {
        Offload {
            slot: Arc::new(Mutex::new(Slot {
                work,
                driven: false,
                state: State::Empty,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<W>> {
        // Nothing panics while holding the lock but a job's poll, which the runtime turns into a
        // trap of the VU's task; its slot is as good as any then.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand `input` over: to the driver, when a [`drive`](Self::drive) runs the guest call this
    /// import belongs to; otherwise its job is started here, for [`finished`](Self::finished) to
    /// poll in place.
    pub(crate) fn submit(&self, input: W::Input) -> Submitted<W::Output> {
        let mut slot = self.lock();
        if !slot.driven {
            return Submitted(Some(slot.work.start(input)));
        }
        slot.state = State::Queued(input);
        Submitted(None)
    }

    /// Wait for the job [`submit`](Self::submit) started, and have it back done: its output is
    /// [`Job::take`]n by the caller (in a frame of its own, off the future polled on the fiber).
    pub(crate) async fn finished(&self, submitted: Submitted<W::Output>) -> Parked<W::Output> {
        if let Some(mut job) = submitted.0 {
            poll_fn(|cx| job.as_mut().poll_done(cx)).await;
            return job;
        }
        poll_fn(|_| {
            let mut slot = self.lock();
            if !matches!(slot.state, State::Started(_, true)) {
                // The driver polls it (with this task's waker) and resumes the guest once it is
                // done.
                return Poll::Pending;
            }
            match std::mem::replace(&mut slot.state, State::Empty) {
                State::Started(job, _) => Poll::Ready(job),
                _ => unreachable!("matched above"),
            }
        })
        .await
    }

    /// Run the work for `input` to completion.
    #[cfg(test)]
    async fn run(&self, input: W::Input) -> W::Output {
        let mut job = self.finished(self.submit(input)).await;
        job.as_mut().take().expect("a finished job's output")
    }

    /// Run the guest call `call`, polling the work its imports park here on this stack.
    /// (`call` is pinned by the caller: moved in here, a guest call's future, ~1.6 KiB, would be
    /// copied into this one's.)
    pub(crate) async fn drive<F: Future>(&self, mut call: Pin<&mut F>) -> F::Output {
        struct Undrive<'a, W: Work>(&'a Offload<W>);
        impl<W: Work> Drop for Undrive<'_, W> {
            fn drop(&mut self) {
                // A call ended or dropped (a timeout): work it left is dropped with it.
                let mut slot = self.0.lock();
                slot.driven = false;
                slot.state = State::Empty;
            }
        }
        self.lock().driven = true;
        let _undrive = Undrive(self);
        poll_fn(|cx| {
            loop {
                if self.poll_work(cx).is_pending() {
                    // The guest waits for it: no use resuming it.
                    return Poll::Pending;
                }
                if let Poll::Ready(out) = call.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                // The guest stopped for new work (poll it now: nothing else will wake this task
                // for it), or for anything else (its future woke the task or will).
                if !matches!(self.lock().state, State::Queued(_)) {
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Start queued work and poll started work: `Pending` while there is work not done.
    fn poll_work(&self, cx: &mut Context<'_>) -> Poll<()> {
        let slot = &mut *self.lock();
        if let State::Queued(_) = slot.state
            && let State::Queued(input) = std::mem::replace(&mut slot.state, State::Empty)
        {
            slot.state = State::Started(slot.work.start(input), false);
        }
        if let State::Started(job, done @ false) = &mut slot.state {
            std::task::ready!(job.as_mut().poll_done(cx));
            *done = true;
        }
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Gives back its input after two polls that return `Pending`; `Flag`s show when its future is
    /// dropped.
    struct Echo;

    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Work for Echo {
        type Input = (u32, Option<Flag>);
        type Output = u32;
        fn start(&self, (n, flag): Self::Input) -> Parked<u32> {
            park(async move {
                let _flag = flag;
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                n
            })
        }
    }

    #[tokio::test]
    async fn an_undriven_slot_runs_the_work_in_place() {
        let offload = Offload::new(Echo);
        assert_eq!(offload.run((7, None)).await, 7);
    }

    #[tokio::test]
    async fn a_driven_call_gets_each_result_of_the_work_its_imports_parked() {
        let offload = Offload::new(Echo);
        let inner = offload.clone();
        let total = offload
            .drive(std::pin::pin!(async move {
                let mut total = 0;
                for i in 1..=3 {
                    total += inner.run((i, None)).await;
                    // Work of its own between requests, as a guest's.
                    tokio::task::yield_now().await;
                }
                total
            }))
            .await;
        assert_eq!(total, 6);
        assert!(!offload.lock().driven);
    }

    #[test]
    fn a_dropped_call_drops_the_work_it_parked() {
        let offload = Offload::new(Echo);
        let inner = offload.clone();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        // Polled once (the work starts and waits), then dropped, as a timeout drops a call.
        let guest = std::pin::pin!(async move { inner.run((1, Some(flag))).await });
        let call = offload.drive(guest);
        assert_eq!(call.now_or_never(), None);
        assert!(dropped.load(Ordering::SeqCst));
        assert!(matches!(offload.lock().state, State::Empty));
        assert!(!offload.lock().driven);
    }
}
