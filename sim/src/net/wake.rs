//! A wake-up between tasks of one thread: `tokio::sync::Notify` without its lock.
//!
//! Every task of a socket runs on one thread (a `LocalSet`), and the driver notifies
//! after every core call, that is several times per message. tokio's `Notify` is built
//! for threads: each `notify_waiters` takes a mutex, and each waiter registers and
//! unregisters under it. In the PUSH/PULL benchmark those locks were a fifth of the
//! receiving thread's time; here a notification is a counter bump and, only when
//! someone waits, a wake-up.
//!
//! There is one kind of notification, "wake every waiter created before now", which
//! is `Notify::notify_waiters`. It also serves where tokio's `notify_one` was used
//! (one writer per pipe, one timer task): those waiters check their condition and
//! create their waiter with no `.await` in between, so on one thread no notification
//! can fall in that gap, and `notify_one`'s stored permit is never needed.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The most waker slots a notifier keeps room for once it has woken its waiters.
const KEPT_WAKER_SLOTS_MAX: usize = 8;

#[derive(Debug, Default)]
pub(super) struct LocalNotify {
    /// Bumped by every notification. A waiter is done once this differs from the
    /// value it saw when it was created.
    generation: Cell<u64>,
    /// The wakers of pending waiters, one slot each, emptied by every notification.
    slots: RefCell<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    /// Slots of waiters dropped before a notification, for reuse, so that waiters
    /// cancelled over and over (a `select!` branch that lost) take no more room.
    free: Vec<usize>,
}

impl LocalNotify {
    pub(super) fn new() -> LocalNotify {
        LocalNotify::default()
    }

    /// Wakes every waiter created before this call, whether it was polled yet or not.
    pub(super) fn notify_waiters(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let mut slots = self.slots.borrow_mut();
        if slots.wakers.is_empty() {
            return;
        }
        slots.free.clear();
        let mut wakers = std::mem::take(&mut slots.wakers);
        // Waking only queues the task, but the borrow is released first all the same.
        drop(slots);
        for waker in wakers.drain(..).flatten() {
            waker.wake();
        }
        // The woken tasks wait again at once, most of them: the emptied vector's room
        // serves them, instead of a free here and an allocation at their next poll
        // (one of each per wake-up: a tenth of the simulator's allocations). A vector
        // that a crowd of waiters grew is freed, so no notifier keeps much.
        let mut slots = self.slots.borrow_mut();
        if slots.wakers.capacity() == 0 && wakers.capacity() <= KEPT_WAKER_SLOTS_MAX {
            slots.wakers = wakers;
        }
    }

    /// A future that resolves at the first notification after this call.
    pub(super) fn notified(&self) -> Notified<'_> {
        Notified { notify: self, generation: self.generation.get(), slot: None }
    }
}

/// One waiter of a [`LocalNotify`].
#[derive(Debug)]
pub(super) struct Notified<'a> {
    notify: &'a LocalNotify,
    /// The notifier's generation when this waiter was created.
    generation: u64,
    /// Where this waiter's waker is, once it has been polled. Valid only while the
    /// generation is unchanged: a notification empties every slot.
    slot: Option<usize>,
}

impl Notified<'_> {
    fn is_notified(&self) -> bool {
        self.notify.generation.get() != self.generation
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.is_notified() {
            this.slot = None;
            return Poll::Ready(());
        }
        let mut slots = this.notify.slots.borrow_mut();
        match this.slot {
            Some(slot) => {
                let waker = &mut slots.wakers[slot];
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
            }
            None => {
                let waker = Some(cx.waker().clone());
                let slot = match slots.free.pop() {
                    Some(slot) => {
                        slots.wakers[slot] = waker;
                        slot
                    }
                    None => {
                        push_first_exact(&mut slots.wakers, waker);
                        slots.wakers.len() - 1
                    }
                };
                this.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        if self.is_notified() {
            return;
        }
        let mut slots = self.notify.slots.borrow_mut();
        slots.wakers[slot] = None;
        push_first_exact(&mut slots.free, slot);
    }
}

/// Pushes `item`, making room for exactly one when `list` has none: most notifiers
/// have one waiter at a time (a pipe's writer, a design's receive), and a first
/// `push` reserves four, 64 bytes of wakers where 16 do, in several notifiers of
/// every comet subscriber (issue 16). Later pushes grow the list as usual.
fn push_first_exact<T>(list: &mut Vec<T>, item: T) {
    if list.capacity() == 0 {
        list.reserve_exact(1);
    }
    list.push(item);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counting_waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (Arc::clone(&counter), Waker::from(counter))
    }

    fn poll(notified: &mut Pin<&mut Notified<'_>>, waker: &Waker) -> Poll<()> {
        notified.as_mut().poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_waiter_created_before_a_notification_is_woken_polled_or_not() {
        let notify = LocalNotify::new();
        let (counter, waker) = counting_waker();
        let mut polled = std::pin::pin!(notify.notified());
        let mut unpolled = std::pin::pin!(notify.notified());
        assert_eq!(poll(&mut polled, &waker), Poll::Pending);
        notify.notify_waiters();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        assert_eq!(poll(&mut polled, &waker), Poll::Ready(()));
        assert_eq!(poll(&mut unpolled, &waker), Poll::Ready(()));
    }

    #[test]
    fn a_waiter_created_after_a_notification_waits_for_the_next() {
        let notify = LocalNotify::new();
        notify.notify_waiters();
        let (counter, waker) = counting_waker();
        let mut late = std::pin::pin!(notify.notified());
        assert_eq!(poll(&mut late, &waker), Poll::Pending);
        assert_eq!(poll(&mut late, &waker), Poll::Pending);
        notify.notify_waiters();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "polled twice, woken once");
        assert_eq!(poll(&mut late, &waker), Poll::Ready(()));
    }

    #[test]
    fn a_notifier_keeps_room_for_a_few_waiters_but_not_for_a_crowd() {
        let notify = LocalNotify::new();
        let (_, waker) = counting_waker();
        let wait = |n: usize| {
            let mut waiters: Vec<_> = (0..n).map(|_| Box::pin(notify.notified())).collect();
            for w in &mut waiters {
                assert_eq!(w.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Pending);
            }
            notify.notify_waiters();
        };
        wait(2);
        let room = notify.slots.borrow().wakers.capacity();
        assert!((2..=KEPT_WAKER_SLOTS_MAX).contains(&room), "kept room for {room}");
        wait(KEPT_WAKER_SLOTS_MAX * 4);
        assert_eq!(notify.slots.borrow().wakers.capacity(), 0, "a crowd's room is freed");
    }

    #[test]
    fn dropped_waiters_are_not_woken_and_their_slots_are_reused() {
        let notify = LocalNotify::new();
        let (counter, waker) = counting_waker();
        for _ in 0..100 {
            let mut cancelled = Box::pin(notify.notified());
            assert_eq!(cancelled.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Pending);
        }
        assert_eq!(notify.slots.borrow().wakers.len(), 1);
        notify.notify_waiters();
        assert_eq!(counter.0.load(Ordering::Relaxed), 0);
    }
}
