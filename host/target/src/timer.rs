//! Sleeps precise to well under a millisecond, for `/delay/{ms}`.
//!
//! tokio's timers fire on whole-millisecond ticks, so `sleep(1 ms)` takes anywhere from 1 to 2 ms
//! depending on where in the tick the request arrived. A client's measured latency against
//! `/delay/1` then depends on the phase between its own timer ticks and the target's, which differs
//! from run to run, instead of on the client. One thread keeps the pending deadlines in a heap and
//! waits for the earliest with a nanosecond timeout (the kernel's timer slack, ~50 us, is the
//! remaining error), then wakes the requests due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::LazyLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A request waiting for its deadline.
struct Due {
    at: Instant,
    /// Arrival order: equal deadlines wake in the order they were asked for.
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The process's timer thread, started on first use. It blocks in `recv` while nothing is pending.
static TIMER: LazyLock<mpsc::Sender<(Instant, oneshot::Sender<()>)>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("stampede-target-timer".into())
        .spawn(move || run(&rx))
        .expect("starting the target's timer thread");
    tx
});

fn run(rx: &mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut pending: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while pending.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Reverse(due) = pending.pop().expect("peeked");
            // The request may be gone (client disconnected): nothing to wake then.
            let _ = due.wake.send(());
        }
        let next = match pending.peek() {
            Some(Reverse(d)) => rx.recv_timeout(d.at - now),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((at, wake)) => {
                seq += 1;
                pending.push(Reverse(Due { at, seq, wake }));
                // Requests whose client went away wait in the heap until their deadline (up to a
                // minute): drop them whenever the heap has doubled.
                if pending.len() >= 1024 && pending.len().is_power_of_two() {
                    pending.retain(|Reverse(d)| !d.wake.is_closed());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Wait `d`, give or take the kernel's timer slack.
pub(crate) async fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    let at = Instant::now() + d;
    let (wake, woken) = oneshot::channel();
    if TIMER.send((at, wake)).is_ok() {
        let _ = woken.await;
    }
    // Never early, whatever happened to the thread.
    let left = at.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        tokio::time::sleep(left).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_are_never_early_and_wake_in_deadline_order() {
        let started = Instant::now();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for ms in [150u64, 50, 100, 0] {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                assert!(started.elapsed() >= Duration::from_millis(ms));
                order.lock().unwrap().push(ms);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 50, 100, 150]);
    }
}
