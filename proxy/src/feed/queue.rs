//! A connection's queue from the tasks that move its bytes to its decoder: bounded, many
//! senders, one receiver, and no memory held while it is empty.
//!
//! Most of a device's connection is idle (a keep-alive a minute), and the proxy may hold
//! thousands of them. tokio's `mpsc` channel allocates its slots in blocks of 32 as they are
//! first used and keeps the first block for the channel's life: 32 × 72 bytes of `Seen`, plus
//! its shared state, about 2.8 KiB per connection whether anything waits or not. This queue
//! is a `VecDeque` behind a mutex with the receiver's waker: its storage is given back as soon
//! as the receiver finds it empty and goes to sleep, so an idle connection holds the shared
//! state alone (about a hundred bytes). The lock is held only to push or pop one value; the
//! relay and the decoder touch it once per read, so it is never contended for long.
//!
//! The methods are those of tokio's bounded `mpsc` the relay was written against
//! (`try_reserve` and its permit, `try_send`, `send().await`, `recv().await`, `try_recv`,
//! `is_closed`), with the same meaning: a full queue is the bound, a closed one has lost its
//! receiver (for senders) or all its senders (for the receiver, once drained). One signal
//! goes the other way: the decoder asks the relay to cut the connection ([`Receiver::cut`],
//! its handshake deadline), which a `watch` channel of its own per connection carried before
//! (another 350 bytes).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A queue of at most `bound` values.
pub fn channel<T>(bound: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        bound: bound.max(1),
        state: Mutex::new(State {
            items: VecDeque::new(),
            reserved: 0,
            senders: 1,
            receiver: true,
            receiver_waker: None,
            sender_wakers: Vec::new(),
            cut: false,
            cut_waker: None,
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    bound: usize,
    state: Mutex<State<T>>,
}

struct State<T> {
    items: VecDeque<T>,
    /// Slots promised to [`Permit`]s not yet used.
    reserved: usize,
    senders: usize,
    /// The receiver still exists.
    receiver: bool,
    receiver_waker: Option<Waker>,
    /// Senders waiting in [`Sender::send`] for room.
    sender_wakers: Vec<Waker>,
    /// The receiver asked for the connection to be cut ([`Receiver::cut`]).
    cut: bool,
    /// The one task waiting in [`Sender::cut_asked`].
    cut_waker: Option<Waker>,
}

impl<T> Shared<T> {
    /// The state; a panic elsewhere while it was held leaves nothing half done (each change
    /// is one push, pop or count), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> State<T> {
    fn has_room(&self, bound: usize) -> bool {
        self.items.len() + self.reserved < bound
    }

    /// Queues `value` and says who to wake (outside the lock).
    fn push(&mut self, value: T) -> Option<Waker> {
        self.items.push_back(value);
        self.receiver_waker.take()
    }
}

/// Why a value could not be queued at once; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue holds `bound` values.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The receiver is gone; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Nothing to take now: `Empty` while a sender remains, `Disconnected` after.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    Empty,
    Disconnected,
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut s = self.shared.lock();
            s.senders -= 1;
            if s.senders == 0 {
                s.receiver_waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("queue::Sender")
    }
}

impl<T> Sender<T> {
    /// True once the receiver is gone.
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver
    }

    /// A slot for one value, kept until the permit is used or dropped.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let mut s = self.shared.lock();
        if !s.receiver {
            return Err(TrySendError::Closed(()));
        }
        if !s.has_room(self.shared.bound) {
            return Err(TrySendError::Full(()));
        }
        s.reserved += 1;
        Ok(Permit { sender: self })
    }

    /// Queues `value` now, or gives it back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let waker = {
            let mut s = self.shared.lock();
            if !s.receiver {
                return Err(TrySendError::Closed(value));
            }
            if !s.has_room(self.shared.bound) {
                return Err(TrySendError::Full(value));
            }
            s.push(value)
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Ready once the receiver has asked for the connection to be cut ([`Receiver::cut`]);
    /// never, if it does not. One task waits for this (the relay): a second one polling it
    /// takes the first one's place.
    pub async fn cut_asked(&self) {
        poll_fn(|cx| {
            let mut s = self.shared.lock();
            if s.cut {
                return Poll::Ready(());
            }
            match &s.cut_waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.cut_waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// Queues `value`, waiting for room while the queue is full.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        poll_fn(|cx| self.poll_send(cx, &mut value)).await
    }

    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        value: &mut Option<T>,
    ) -> Poll<Result<(), SendError<T>>> {
        let waker = {
            let mut s = self.shared.lock();
            let Some(v) = value.take() else {
                return Poll::Ready(Ok(()));
            };
            if !s.receiver {
                return Poll::Ready(Err(SendError(v)));
            }
            if !s.has_room(self.shared.bound) {
                *value = Some(v);
                if !s.sender_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.sender_wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            s.push(v)
        };
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

/// One reserved slot of the queue ([`Sender::try_reserve`]).
pub struct Permit<'a, T> {
    sender: &'a Sender<T>,
}

impl<T> Permit<'_, T> {
    /// Queues `value` in the reserved slot.
    pub fn send(self, value: T) {
        let waker = {
            let mut s = self.sender.shared.lock();
            s.reserved -= 1;
            if s.receiver {
                s.push(value)
            } else {
                None
            }
        };
        std::mem::forget(self);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        let wakers = {
            let mut s = self.sender.shared.lock();
            s.reserved -= 1;
            std::mem::take(&mut s.sender_wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("queue::Receiver")
    }
}

impl<T> Receiver<T> {
    /// The next value; `None` once every sender is gone and nothing is left.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Asks the senders' side to cut the connection ([`Sender::cut_asked`]); values still
    /// come until the senders are gone.
    pub fn cut(&self) {
        let waker = {
            let mut s = self.shared.lock();
            s.cut = true;
            s.cut_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next value, if one is queued.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let (item, wakers) = {
            let mut s = self.shared.lock();
            match s.items.pop_front() {
                Some(v) => (v, std::mem::take(&mut s.sender_wakers)),
                None if s.senders == 0 => return Err(TryRecvError::Disconnected),
                None => return Err(TryRecvError::Empty),
            }
        };
        wakers.into_iter().for_each(Waker::wake);
        Ok(item)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_recv() {
            Ok(v) => return Poll::Ready(Some(v)),
            Err(TryRecvError::Disconnected) => return Poll::Ready(None),
            Err(TryRecvError::Empty) => {}
        }
        let mut s = self.shared.lock();
        if let Some(v) = s.items.pop_front() {
            // Queued between the two locks.
            let wakers = std::mem::take(&mut s.sender_wakers);
            drop(s);
            wakers.into_iter().for_each(Waker::wake);
            return Poll::Ready(Some(v));
        }
        if s.senders == 0 {
            return Poll::Ready(None);
        }
        // Going to sleep on an empty queue: its storage goes back (the point of this queue).
        s.items = VecDeque::new();
        match &s.receiver_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.receiver_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    /// Closes the queue: senders learn it, those waiting for room are woken, and what was
    /// queued is dropped (outside the lock: a dropped value may give back a budget).
    fn drop(&mut self) {
        let (items, wakers) = {
            let mut s = self.shared.lock();
            s.receiver = false;
            s.receiver_waker = None;
            (
                std::mem::take(&mut s.items),
                std::mem::take(&mut s.sender_wakers),
            )
        };
        drop(items);
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_come_out_in_order_and_the_bound_holds() {
        let (tx, mut rx) = channel(2);
        tx.try_send(1).unwrap();
        let permit = tx.try_reserve().unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
        permit.send(2);
        assert_eq!(rx.recv().await, Some(1));
        // A dropped permit gives its slot back.
        drop(tx.try_reserve().unwrap());
        tx.try_send(4).unwrap();
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(4));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_full_queue_makes_send_wait_and_a_receiver_wakes_it() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let waiter = tokio::spawn(async move { tx2.send(2).await });
        tokio::task::yield_now().await;
        assert_eq!(rx.recv().await, Some(1));
        waiter.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
        // The receiver sleeps until a value comes, and wakes when the last sender goes.
        let sleeper = tokio::spawn(async move { (rx.recv().await, rx.recv().await) });
        tokio::task::yield_now().await;
        tx.send(3).await.unwrap();
        drop(tx);
        assert_eq!(sleeper.await.unwrap(), (Some(3), None));
    }

    #[tokio::test]
    async fn a_gone_receiver_closes_the_queue_and_drops_what_waited() {
        let (tx, rx) = channel(1);
        let held = Arc::new(());
        tx.try_send(held.clone()).unwrap();
        let tx2 = tx.clone();
        let waiter = tokio::spawn(async move { tx2.send(Arc::new(())).await.is_err() });
        tokio::task::yield_now().await;
        drop(rx);
        assert!(
            waiter.await.unwrap(),
            "a waiting send fails once the receiver is gone"
        );
        assert!(tx.is_closed());
        assert_eq!(Arc::strong_count(&held), 1, "the queued value was dropped");
        assert!(matches!(tx.try_send(held), Err(TrySendError::Closed(_))));
    }

    #[tokio::test]
    async fn a_cut_reaches_the_sender_that_waits_for_it() {
        let (tx, mut rx) = channel::<u8>(4);
        let waiter = tokio::spawn(async move {
            tx.cut_asked().await;
            tx.try_send(1).unwrap();
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        rx.cut();
        waiter.await.unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    }

    /// What an idle connection's queue holds: nothing but its shared state, once the receiver
    /// has drained it and waits.
    #[tokio::test]
    async fn a_drained_queue_holds_no_storage() {
        let (tx, mut rx) = channel::<[u8; 72]>(4096);
        for _ in 0..40 {
            tx.try_send([0; 72]).unwrap();
        }
        assert!(rx.shared.lock().items.capacity() >= 40);
        let taker = tokio::spawn(async move {
            while rx.recv().await.is_some() {}
            rx
        });
        let asleep = |tx: &Sender<[u8; 72]>| {
            let s = tx.shared.lock();
            s.items.is_empty() && s.receiver_waker.is_some()
        };
        while !asleep(&tx) {
            tokio::task::yield_now().await;
        }
        assert_eq!(tx.shared.lock().items.capacity(), 0);
        drop(tx);
        let rx = taker.await.unwrap();
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }
}
