//! The proxy's order to its connections to stop (after the grace period at shutdown), as each
//! relay waits for it.
//!
//! A watch channel would do, but its `changed()` future is 120 bytes, held in the relay's
//! `select!` for the connection's whole life, and it is what kept the passthrough task's cell
//! above 1,024 bytes, in the allocator's next size class (1,280). Here a connection holds a
//! pointer to one table shared by all, its key in it and which waker it left there (24
//! bytes), and the table holds the wakers to call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The stop order, given once to all connections.
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    next_key: AtomicU64,
    waiting: Mutex<HashMap<u64, Waker>>,
}

impl Inner {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waker>> {
        // A poisoned table only means a thread panicked while holding it; wakers are whole.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Stop {
    /// Stops every connection that waits, and every one that waits from now on.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let wakers: Vec<Waker> = self.inner.waiting().drain().map(|(_, w)| w).collect();
        for w in wakers {
            w.wake();
        }
    }

    /// One connection's wait for the order.
    pub fn waiter(&self) -> StopWait {
        StopWait {
            inner: Arc::clone(&self.inner),
            key: 0,
            waker_data: 0,
        }
    }
}

/// A connection's wait for [`Stop::stop`].
pub struct StopWait {
    inner: Arc<Inner>,
    /// Its key in the table once it waits (0: not yet).
    key: u64,
    /// Which waker is in the table, by its data pointer's address (a copy of the waker
    /// would be 8 bytes more): a task polled again with the same waker (every time, for a relay's
    /// task, whose waker's data is the task itself) does not take the table's lock.
    waker_data: usize,
}

impl StopWait {
    /// Ready once the proxy is stopping.
    pub fn poll_stopped(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if self.waker_data != 0 && self.waker_data == cx.waker().data() as usize {
            return Poll::Pending;
        }
        if self.key == 0 {
            self.key = self.inner.next_key.fetch_add(1, Ordering::Relaxed) + 1;
        }
        let mut waiting = self.inner.waiting();
        // Read again under the lock: `stop` sets the flag before it takes the table, so a
        // waker put in after it emptied the table would never be called.
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        waiting.insert(self.key, cx.waker().clone());
        self.waker_data = cx.waker().data() as usize;
        Poll::Pending
    }

    /// Waits for the order.
    pub async fn stopped(&mut self) {
        std::future::poll_fn(|cx| self.poll_stopped(cx)).await
    }
}

impl Drop for StopWait {
    fn drop(&mut self) {
        if self.key != 0 {
            self.inner.waiting().remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_connections_and_later_ones_stop() {
        let stop = Stop::default();
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let mut w = stop.waiter();
            waiters.push(tokio::spawn(async move { w.stopped().await }));
        }
        tokio::task::yield_now().await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        assert_eq!(stop.inner.waiting().len(), 3);
        stop.stop();
        for w in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(5), w)
                .await
                .expect("a waiting connection was not stopped")
                .unwrap();
        }
        // A connection that starts waiting after the order stops at once.
        stop.waiter().stopped().await;
    }

    #[tokio::test]
    async fn a_connection_that_ends_leaves_the_table() {
        let stop = Stop::default();
        let mut w = stop.waiter();
        let polled = std::future::poll_fn(|cx| Poll::Ready(w.poll_stopped(cx))).await;
        assert!(polled.is_pending());
        assert_eq!(stop.inner.waiting().len(), 1);
        drop(w);
        assert!(stop.inner.waiting().is_empty());
    }
}
