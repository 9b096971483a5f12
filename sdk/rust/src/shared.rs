//! Shared isolation (feature `shared`): many VUs as concurrent async calls into one instance.
//!
//! The host creates one exported `vu` per virtual user and calls `init` and `iteration` on many of them
//! at once; each call is an async task of the component. [`SharedRunner<S>`] and [`SharedVu<S>`] adapt a
//! [`SharedScenario`] to the generated `shared-runner` bindings.
//!
//! The host cannot tell which VU calls an import, so the SDK answers [`context::vu_id`],
//! [`context::iteration`] and [`context::scenario`] itself: every poll of a VU's future runs with that
//! VU's identity in a thread-local (the instance is single-threaded, and one VU's future is polled at a
//! time).
//!
//! [`context::vu_id`]: crate::context::vu_id
//! [`context::iteration`]: crate::context::iteration
//! [`context::scenario`]: crate::context::scenario

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::bindings::exports::stampede::scenario::shared_runner::{Guest, GuestVu};
use crate::install_panic_hook;

/// A load-test scenario for shared isolation: many VUs share one instance (and its globals), each an
/// async task. Export it with [`export_shared_scenario!`](crate::export_shared_scenario) and run it with
/// `isolation = "shared"` in the plan.
///
/// Inside `init` and `iteration`, send requests with
/// [`RequestBuilder::send_async`](crate::http::RequestBuilder::send_async) and pause with
/// [`sleep_async`]: they suspend only this VU. The blocking [`send`](crate::http::RequestBuilder::send)
/// and [`sleep`](crate::sleep) stall every VU of the instance; use them only in `setup`/`teardown`.
///
/// A panic traps the instance and ends all of its VUs (the host recreates them): return `Err` instead.
pub trait SharedScenario: Sized + 'static {
    /// Runs once per test run, in an instance of its own, before any VU is created. As
    /// [`Scenario::setup`](https://docs.rs/stampede-sdk) without the feature. The default returns no data.
    fn setup() -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    /// Creates one VU (log in, build per-VU state), once before its first iteration, with the bytes
    /// [`setup`](SharedScenario::setup) returned. An `Err` fails this VU's start; the host retries later.
    fn init(setup_data: &[u8]) -> impl Future<Output = Result<Self, String>>;

    /// Runs one iteration of the plan scenario named `scenario`. An `Err` counts the iteration as failed.
    fn iteration(&mut self, scenario: &str) -> impl Future<Output = Result<(), String>>;

    /// Runs once after every VU has stopped, with the bytes [`setup`](SharedScenario::setup) returned.
    fn teardown(setup_data: &[u8]) -> Result<(), String> {
        let _ = setup_data;
        Ok(())
    }
}

/// Pause this VU for `duration` without stalling the other VUs of the instance. Same resolution and
/// cap as [`sleep`](crate::sleep).
pub async fn sleep_async(duration: Duration) {
    crate::bindings::stampede::scenario::time_async::sleep(crate::duration_to_ms(duration)).await;
}

/// Who the VU being polled is.
pub(crate) struct Current {
    pub(crate) id: u64,
    pub(crate) iteration: u64,
    pub(crate) scenario: Rc<str>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Read the identity of the VU whose future is being polled. Outside a VU (setup, teardown) there is
/// none: id 0, iteration 0, scenario `""`.
pub(crate) fn current<R>(read: impl FnOnce(&Current) -> R) -> R {
    CURRENT.with(|c| match &*c.borrow() {
        Some(vu) => read(vu),
        None => read(&Current {
            id: 0,
            iteration: 0,
            scenario: Rc::from(""),
        }),
    })
}

/// Polls `inner` with `who` installed as the current VU, restoring the previous one afterwards.
struct AsVu<F> {
    who: Option<Current>,
    inner: F,
}

impl<F: Future + Unpin> Future for AsVu<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let previous = CURRENT.with(|c| c.replace(this.who.take()));
        let result = Pin::new(&mut this.inner).poll(cx);
        this.who = CURRENT.with(|c| c.replace(previous));
        result
    }
}

/// The `Guest` implementation for a [`SharedScenario`]; named by
/// [`export_shared_scenario!`](crate::export_shared_scenario).
#[doc(hidden)]
pub struct SharedRunner<S>(PhantomData<S>);

/// The exported `vu` resource: the VU's id, the setup data until `init`, then the scenario value.
#[doc(hidden)]
pub struct SharedVu<S> {
    id: u64,
    setup_data: RefCell<Vec<u8>>,
    state: RefCell<Option<S>>,
}

impl<S: SharedScenario> Guest for SharedRunner<S> {
    type Vu = SharedVu<S>;

    fn setup() -> Result<Vec<u8>, String> {
        install_panic_hook();
        S::setup()
    }

    fn teardown(setup_data: Vec<u8>) -> Result<(), String> {
        install_panic_hook();
        S::teardown(&setup_data)
    }
}

impl<S: SharedScenario> GuestVu for SharedVu<S> {
    fn new(id: u64, setup_data: Vec<u8>) -> Self {
        install_panic_hook();
        SharedVu {
            id,
            setup_data: RefCell::new(setup_data),
            state: RefCell::new(None),
        }
    }

    async fn init(&self) -> Result<(), String> {
        let setup_data = std::mem::take(&mut *self.setup_data.borrow_mut());
        let who = Current {
            id: self.id,
            iteration: 0,
            scenario: Rc::from(""),
        };
        let state = AsVu {
            who: Some(who),
            inner: Box::pin(S::init(&setup_data)),
        }
        .await?;
        *self.state.borrow_mut() = Some(state);
        Ok(())
    }

    async fn iteration(&self, scenario: String, number: u64) -> Result<(), String> {
        // Taken out for the call (no borrow across the await); the host never runs two calls of one
        // VU at once, so nothing else looks for it meanwhile.
        let Some(mut state) = self.state.borrow_mut().take() else {
            return Err(
                "iteration without a successful init: the host must call init first".into(),
            );
        };
        let who = Current {
            id: self.id,
            iteration: number,
            scenario: Rc::from(scenario.as_str()),
        };
        let result = AsVu {
            who: Some(who),
            inner: Box::pin(state.iteration(&scenario)),
        }
        .await;
        *self.state.borrow_mut() = Some(state);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn outside_a_vu_the_identity_is_empty() {
        assert_eq!(current(|vu| (vu.id, vu.iteration)), (0, 0));
        assert_eq!(current(|vu| vu.scenario.to_string()), "");
    }

    #[test]
    fn each_poll_sees_its_own_vu_and_restores_the_previous_one() {
        let who = |id, iteration| Current {
            id,
            iteration,
            scenario: Rc::from("main"),
        };
        let read = || std::future::poll_fn(|_| Poll::Ready(current(|vu| (vu.id, vu.iteration))));
        let mut a = AsVu {
            who: Some(who(7, 3)),
            inner: Box::pin(read()),
        };
        let mut b = AsVu {
            who: Some(who(9, 0)),
            inner: Box::pin(async {
                // A nested VU poll inside another one (not something the host does, but the
                // thread-local must unwind correctly either way).
                let inner = current(|vu| vu.id);
                (inner, current(|vu| vu.scenario.to_string()))
            }),
        };
        assert_eq!(poll_once(&mut a), Poll::Ready((7, 3)));
        assert_eq!(poll_once(&mut b), Poll::Ready((9, "main".to_string())));
        assert_eq!(current(|vu| vu.id), 0, "restored after the polls");
    }
}
