//! A VU's reusable timers: one for its requests' timeouts, one for its iterations'. Resetting a
//! registered tokio timer to a later instant is one atomic operation, where a new timer per call
//! (`tokio::time::timeout`) takes the timer wheel's lock twice (registration, removal).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A timer not set yet: it waits for an instant no call reaches until [`Sleep::reset`] sets it.
pub(crate) fn unset() -> Sleep {
    tokio::time::sleep_until(far_future())
}

/// `d` after `start`, or an instant no call reaches for a `d` too long to add (as
/// `tokio::time::timeout` does).
pub(crate) fn after(start: Instant, d: Duration) -> Instant {
    start.checked_add(d).unwrap_or_else(far_future)
}

/// tokio's own "far future" (`Instant::far_future`) is not public: about 30 years from now.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// `work`'s output, or `None` if `deadline` (already set) comes first. The timer is polled outside
/// tokio's cooperative budget, as `tokio::time::timeout` polls its own: work that finds data on
/// every read uses the budget up on every poll, and must still time out. `work` is pinned by the
/// caller, so the future is not moved (a VU's request future is a few KiB).
pub(crate) fn before<'a, F: Future>(
    mut deadline: Pin<&'a mut Sleep>,
    mut work: Pin<&'a mut F>,
) -> impl Future<Output = Option<F::Output>> + 'a {
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let mut timer = tokio::task::unconstrained(deadline.as_mut());
        Pin::new(&mut timer).poll(cx).map(|()| None)
    })
}
