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
//!
//! The receiver may also be put aside while nothing is queued ([`Receiver::park`]): its task
//! ends, and the sender that queues the next value (or the last one to go) starts it again.
//! A connection that is idle then keeps no decoder task at all, only the decoder's state
//! ([`crate::relay::live`]).

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
            parked: None,
            handles: 1,
            done_waker: None,
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
    // Counts as `u32`, next to each other: the state is kept per connection.
    reserved: u32,
    senders: u32,
    /// The receiver still exists.
    receiver: bool,
    receiver_waker: Option<Waker>,
    /// Senders waiting in [`Sender::send`] for room.
    sender_wakers: Vec<Waker>,
    /// The receiver asked for the connection to be cut ([`Receiver::cut`]).
    cut: bool,
    /// The one task waiting in [`Sender::cut_asked`].
    cut_waker: Option<Waker>,
    /// The receiver's work while it is put aside ([`Receiver::park`]).
    parked: Option<Resume<T>>,
    /// Receivers, the parked work counted as one. Two for a moment when a parked receiver
    /// is resumed before the receiver that parked it is dropped; the queue closes at none.
    handles: u32,
    /// The one task waiting in [`Finished::wait`].
    done_waker: Option<Waker>,
}

/// What starts a parked receiver's work again, given the receiver back.
type Resume<T> = Box<dyn FnOnce(Receiver<T>) + Send>;

/// Whom a queued value (or the last sender's going) wakes: the receiver's task, or, when the
/// receiver was put aside, its work started again. Done outside the lock.
enum Wake<T> {
    Nobody,
    Task(Waker),
    Resume(Resume<T>),
}

impl<T> Wake<T> {
    fn receiver(s: &mut State<T>) -> Wake<T> {
        if let Some(r) = s.parked.take() {
            return Wake::Resume(r);
        }
        s.receiver_waker.take().map_or(Wake::Nobody, Wake::Task)
    }

    fn run(self, shared: &Arc<Shared<T>>) {
        match self {
            Wake::Nobody => {}
            Wake::Task(w) => w.wake(),
            Wake::Resume(r) => r(Receiver {
                shared: shared.clone(),
            }),
        }
    }
}

impl<T> Shared<T> {
    /// The state; a panic elsewhere while it was held leaves nothing half done (each change
    /// is one push, pop or count), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Shared<T> {
    /// Ready when `ready` holds; otherwise the task is woken through the one waker `slot`
    /// names when it may (a second task polling takes the first one's place).
    fn poll_until(
        &self,
        cx: &mut Context<'_>,
        ready: impl Fn(&State<T>) -> bool,
        slot: impl Fn(&mut State<T>) -> &mut Option<Waker>,
    ) -> Poll<()> {
        let mut s = self.lock();
        if ready(&s) {
            return Poll::Ready(());
        }
        keep_waker(slot(&mut s), cx);
        Poll::Pending
    }
}

/// Keeps `cx`'s waker in `slot`, unless the one there already wakes the same task.
fn keep_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

impl<T> State<T> {
    fn has_room(&self, bound: usize) -> bool {
        self.items.len() + (self.reserved as usize) < bound
    }

    /// Queues `value` and says who to wake (outside the lock).
    fn push(&mut self, value: T) -> Wake<T> {
        self.items.push_back(value);
        Wake::receiver(self)
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
        let wake = {
            let mut s = self.shared.lock();
            s.senders -= 1;
            if s.senders == 0 {
                Wake::receiver(&mut s)
            } else {
                Wake::Nobody
            }
        };
        wake.run(&self.shared);
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
        waker.run(&self.shared);
        Ok(())
    }

    /// Ready once the receiver has asked for the connection to be cut ([`Receiver::cut`]);
    /// never, if it does not. One task waits for this (the relay): a second one polling it
    /// takes the first one's place.
    pub async fn cut_asked(&self) {
        poll_fn(|cx| self.poll_cut_asked(cx)).await
    }

    /// [`Sender::cut_asked`] as a poll, for a `select!` that every connection keeps: a
    /// `poll_fn` around it is 8 bytes there, the `async fn`'s future 24.
    pub fn poll_cut_asked(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.poll_until(cx, |s| s.cut, |s| &mut s.cut_waker)
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
        waker.run(&self.shared);
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
                Wake::Nobody
            }
        };
        let shared = &self.sender.shared;
        std::mem::forget(self);
        waker.run(shared);
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

    /// A handle that learns when this receiver is gone for good ([`Finished::wait`]).
    pub fn finished(&self) -> Finished<T> {
        Finished {
            shared: self.shared.clone(),
        }
    }

    /// Puts the receiver's work aside while nothing is queued: the receiver and `state` are
    /// kept in the queue, the caller's task may end, and `resume` gets both back from the
    /// sender that queues the next value, or from the last sender as it goes (so the work
    /// sees the queue close). They come straight back (`Err`) when something is queued or
    /// every sender has gone already. `resume` runs inside that sender's call, under no lock;
    /// it should only start a task.
    pub fn park<S: Send + 'static>(
        self,
        state: S,
        resume: fn(S, Receiver<T>),
    ) -> Result<(), (Receiver<T>, S)>
    where
        T: 'static,
    {
        {
            let mut s = self.shared.lock();
            if !s.items.is_empty() || s.senders == 0 {
                drop(s);
                return Err((self, state));
            }
            s.items = VecDeque::new();
            s.receiver_waker = None;
            s.parked = Some(Box::new(move |rx| resume(state, rx)));
            // The parked work is a receiver of its own until it is resumed as one.
            s.handles += 1;
        }
        drop(self);
        Ok(())
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
        keep_waker(&mut s.receiver_waker, cx);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    /// Closes the queue: senders learn it, those waiting for room are woken, and what was
    /// queued is dropped (outside the lock: a dropped value may give back a budget).
    fn drop(&mut self) {
        let (items, wakers, done) = {
            let mut s = self.shared.lock();
            s.handles -= 1;
            if s.handles > 0 {
                // Parked, not gone: the parked work (or the receiver it resumed as) remains.
                return;
            }
            s.receiver = false;
            s.receiver_waker = None;
            (
                std::mem::take(&mut s.items),
                std::mem::take(&mut s.sender_wakers),
                s.done_waker.take(),
            )
        };
        drop(items);
        wakers.into_iter().for_each(Waker::wake);
        if let Some(w) = done {
            w.wake();
        }
    }
}

/// Learns when a queue's receiver is gone for good (dropped, not parked): for a decoder,
/// when its work is over. It holds the queue's state alive but is neither a sender nor a
/// receiver.
pub struct Finished<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Finished<T> {
    /// Ready once the receiver is gone. One task waits for this.
    pub async fn wait(self) {
        poll_fn(|cx| {
            self.shared
                .poll_until(cx, |s| !s.receiver, |s| &mut s.done_waker)
        })
        .await
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

    /// What a parked receiver's resumption hands on: the state, and the receiver.
    type Resumed = std::sync::mpsc::Sender<(u32, Receiver<u8>)>;

    /// A resumption that hands the state and the receiver to the test.
    fn resume((state, to): (u32, Resumed), rx: Receiver<u8>) {
        let _ = to.send((state, rx));
    }

    #[tokio::test]
    async fn a_parked_receiver_is_resumed_by_the_next_value_with_its_state() {
        let (tx, rx) = channel::<u8>(4);
        let (to, from) = std::sync::mpsc::channel();
        assert!(rx.park((7, to), resume).is_ok());
        // Parked: the queue is open, nothing waits, nothing was resumed.
        assert!(!tx.is_closed());
        assert!(from.try_recv().is_err());
        tx.try_send(1).unwrap();
        let (state, mut rx) = from.try_recv().expect("resumed by the send");
        assert_eq!(state, 7);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test]
    async fn a_receiver_is_not_parked_while_something_is_queued_or_no_sender_is_left() {
        let (tx, rx) = channel::<u8>(4);
        tx.try_send(3).unwrap();
        let (to, _from) = std::sync::mpsc::channel();
        let (mut rx, (state, to)) = rx.park((1, to), resume).expect_err("refused");
        assert_eq!(state, 1);
        assert_eq!(rx.try_recv(), Ok(3));
        drop(tx);
        let (rx, _) = rx.park((2, to), resume).expect_err("refused");
        drop(rx);
    }

    #[tokio::test]
    async fn the_last_sender_going_resumes_a_parked_receiver_which_then_sees_the_end() {
        let (tx, rx) = channel::<u8>(4);
        let tx2 = tx.clone();
        let finished = rx.finished();
        let (to, from) = std::sync::mpsc::channel();
        assert!(rx.park((9, to), resume).is_ok());
        drop(tx);
        assert!(from.try_recv().is_err(), "a sender remains");
        drop(tx2);
        let (_, mut rx) = from.try_recv().expect("resumed by the last sender");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        // Finished only once the resumed receiver is dropped, not when it was parked.
        let waiting = tokio::spawn(finished.wait());
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(rx);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("finished once the receiver is gone")
            .unwrap();
    }

    #[tokio::test]
    async fn a_receiver_resumed_before_the_parking_one_is_dropped_keeps_the_queue_open() {
        // The count of receivers, not a flag, decides when the queue closes: here the parked
        // work is taken (resumed) while the receiver that parked it still exists.
        let (tx, rx) = channel::<u8>(4);
        let (to, from) = std::sync::mpsc::channel();
        let shared = rx.shared.clone();
        {
            let mut s = shared.lock();
            s.parked = Some(Box::new(move |rx| resume((0, to), rx)));
            s.handles += 1;
        }
        tx.try_send(5).unwrap();
        let (_, mut resumed_rx) = from.try_recv().unwrap();
        drop(rx);
        assert!(!tx.is_closed());
        assert_eq!(resumed_rx.try_recv(), Ok(5));
        drop(resumed_rx);
        assert!(tx.is_closed());
    }
}
