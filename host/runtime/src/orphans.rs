//! Requests still finishing after the shared instance that sent them ended (a trap, a timeout):
//! they are recorded when their response arrives, so a VU thread waits for them before it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// The orphaned requests of one VU thread.
#[derive(Debug, Default)]
pub struct Orphans {
    pending: AtomicUsize,
    settled: Notify,
}

/// One orphaned request; dropping it (the request was recorded, or abandoned) ends it.
#[derive(Debug)]
pub(crate) struct Orphan(Arc<Orphans>);

impl Orphans {
    /// Count one more orphaned request until the returned guard drops.
    pub(crate) fn adopt(self: &Arc<Self>) -> Orphan {
        self.pending.fetch_add(1, Ordering::AcqRel);
        Orphan(self.clone())
    }

    /// Requests still pending.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Wait until no orphaned request is pending.
    pub async fn settled(&self) {
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            // Registered before the check, so a drop to zero in between is not missed.
            settled.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            settled.await;
        }
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.settled.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settled_waits_for_every_orphan() {
        let orphans = Arc::new(Orphans::default());
        orphans.settled().await;
        let (a, b) = (orphans.adopt(), orphans.adopt());
        let waiter = tokio::spawn({
            let orphans = orphans.clone();
            async move { orphans.settled().await }
        });
        tokio::task::yield_now().await;
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one orphan is still pending");
        drop(b);
        waiter.await.unwrap();
        assert_eq!(orphans.pending(), 0);
    }
}
