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

use std::cell::{Cell, OnceCell, RefCell};
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
    wakers: Vec<Slot>,
    /// The slot freed last by a waiter dropped before a notification, for reuse, so
    /// that waiters cancelled over and over (a `select!` branch that lost) take no
    /// more room. Each free slot names the one freed before it: the free slots are a
    /// stack threaded through `wakers`, reused last freed first, which costs a
    /// notifier no list of its own (every comet subscriber has several notifiers).
    free: Option<u32>,
}

/// One waiter's place in a notifier.
#[derive(Debug)]
enum Slot {
    /// The waker of a pending waiter.
    Taken(Waker),
    /// A slot given up, and the one freed before it, if any.
    Free(Option<u32>),
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
        slots.free = None;
        let mut wakers = std::mem::take(&mut slots.wakers);
        // Waking only queues the task, but the borrow is released first all the same.
        drop(slots);
        for slot in wakers.drain(..) {
            if let Slot::Taken(waker) = slot {
                waker.wake();
            }
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
        Notified { notify: self, waiter: self.waiter() }
    }
}

impl Notifier for LocalNotify {
    /// A waiter for the first notification after this call, which does not borrow
    /// the notifier: a connection's hand-written future (`zmtp::Connection`) keeps
    /// several, one of them on a notifier of its own, and hands the notifier to each
    /// call. It is what a [`Notified`] holds, so polling and cancelling one registers
    /// and frees waker slots exactly as a [`Notified`] does.
    fn waiter(&self) -> Waiter {
        Waiter { generation: self.generation.get(), slot: None }
    }

    /// Polls `waiter`, made by this notifier: ready once a notification came after
    /// its making, else its waker is kept in a slot until the next one.
    fn poll_waiter(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        if self.generation.get() != waiter.generation {
            waiter.slot = None;
            return Poll::Ready(());
        }
        let mut slots = self.slots.borrow_mut();
        match waiter.slot {
            Some(slot) => {
                let kept = &mut slots.wakers[slot as usize];
                if !matches!(kept, Slot::Taken(waker) if waker.will_wake(cx.waker())) {
                    *kept = Slot::Taken(cx.waker().clone());
                }
            }
            None => {
                let waker = Slot::Taken(cx.waker().clone());
                let slot = match slots.free {
                    Some(slot) => {
                        let Slot::Free(next) = slots.wakers[slot as usize] else {
                            unreachable!("the free list holds free slots only")
                        };
                        slots.free = next;
                        slots.wakers[slot as usize] = waker;
                        slot
                    }
                    None => {
                        push_first_exact(&mut slots.wakers, waker);
                        slot_index(slots.wakers.len() - 1)
                    }
                };
                waiter.slot = Some(slot);
            }
        }
        Poll::Pending
    }

    /// Gives up `waiter`, made by this notifier: its slot, if it was polled and not
    /// notified since, is freed for the next waiter. What dropping a [`Notified`] does.
    fn cancel(&self, waiter: Waiter) {
        let Some(slot) = waiter.slot else { return };
        if self.generation.get() != waiter.generation {
            return;
        }
        let mut slots = self.slots.borrow_mut();
        slots.wakers[slot as usize] = Slot::Free(slots.free);
        slots.free = Some(slot);
    }
}

/// What waiting on a notifier takes: making a waiter, polling it and giving it up
/// (`LocalNotify`'s and `SoleNotify`'s own ways), and the wait for a condition built on
/// them, the same for both.
pub(super) trait Notifier {
    /// A waiter for the first notification after this call, which does not borrow the
    /// notifier.
    fn waiter(&self) -> Waiter;

    /// Polls `waiter`, made by this notifier: ready once a notification came after its
    /// making.
    fn poll_waiter(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()>;

    /// Gives up `waiter`, made by this notifier.
    fn cancel(&self, waiter: Waiter);

    /// Polls a wait for `ready`, re-checked after every notification: what awaiting
    /// `while !ready() { notify.notified().await }` does, with `wait` as its state
    /// (`None` at the check, before any waiter exists). Ready leaves `wait` at `None`.
    fn poll_until(
        &self,
        wait: &mut Option<Waiter>,
        cx: &mut Context<'_>,
        ready: impl Fn() -> bool,
    ) -> Poll<()> {
        loop {
            let waiter = match wait {
                Some(waiter) => waiter,
                None if ready() => return Poll::Ready(()),
                None => wait.insert(self.waiter()),
            };
            if self.poll_waiter(waiter, cx).is_pending() {
                return Poll::Pending;
            }
            // Notified: its slot is gone, so it is dropped as is.
            *wait = None;
        }
    }

    /// Gives up the wait in `wait`, if any.
    fn cancel_wait(&self, wait: &mut Option<Waiter>) {
        if let Some(waiter) = wait.take() {
            self.cancel(waiter);
        }
    }
}

/// A [`LocalNotify`] for the waiters of one task, one at a time, which keeps the
/// waiter's waker in place of a list of slots: 24 bytes and nothing on the heap, where
/// a notifier is 48 and its first waiter's slot a 16-byte allocation. A connection's
/// heartbeat wake-up, at both ends of every connection, has only the heartbeat
/// waiting on it. With one waiter a notifier wakes it as this does, so traces are the
/// same.
#[derive(Default)]
pub(super) struct SoleNotify {
    /// As [`LocalNotify`]'s.
    generation: Cell<u64>,
    /// The waiter's waker, while it waits.
    waker: Cell<Option<Waker>>,
}

impl std::fmt::Debug for SoleNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoleNotify").field("generation", &self.generation.get()).finish()
    }
}

impl SoleNotify {
    /// [`LocalNotify::notify_waiters`].
    pub(super) fn notify_waiters(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Notifier for SoleNotify {
    /// [`Notifier::waiter`].
    fn waiter(&self) -> Waiter {
        Waiter { generation: self.generation.get(), slot: None }
    }

    /// [`Notifier::poll_waiter`]. A waiter dropped uncancelled leaves its waker
    /// behind, as it would leave its slot in a notifier; the next waiter's replaces it,
    /// which wakes the same: one task polls all of this notifier's waiters.
    fn poll_waiter(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        if self.generation.get() != waiter.generation {
            waiter.slot = None;
            return Poll::Ready(());
        }
        match self.waker.take() {
            Some(waker) if waker.will_wake(cx.waker()) => self.waker.set(Some(waker)),
            _ => self.waker.set(Some(cx.waker().clone())),
        }
        waiter.slot = Some(0);
        Poll::Pending
    }

    /// [`Notifier::cancel`].
    fn cancel(&self, waiter: Waiter) {
        if waiter.slot.is_some() && self.generation.get() == waiter.generation {
            self.waker.take();
        }
    }
}

/// A [`LocalNotify`] made when its first waiter is: 8 bytes until then, for waits
/// most sockets never make (room in a full inbound queue, a change of the timer's
/// deadline, the end of every task at close), three in every comet subscriber's
/// socket. Until it is made nobody waits, so a notification has nothing to wake, and
/// a waiter made later counts notifications from its making on, as it would anyway.
#[derive(Debug, Default)]
pub(super) struct LazyNotify(OnceCell<Box<LocalNotify>>);

impl LazyNotify {
    /// The notifier, made now if it was not yet: for a waiter about to be made.
    fn made(&self) -> &LocalNotify {
        self.0.get_or_init(Box::default)
    }

    /// [`LocalNotify::notify_waiters`]; nothing if no waiter was ever made.
    pub(super) fn notify_waiters(&self) {
        if let Some(notify) = self.0.get() {
            notify.notify_waiters();
        }
    }

    /// [`LocalNotify::notified`].
    pub(super) fn notified(&self) -> Notified<'_> {
        self.made().notified()
    }

    /// [`Notifier::poll_until`], making the notifier only when `ready` does not
    /// hold at the check (and calling `ready` no more often).
    pub(super) fn poll_until(
        &self,
        wait: &mut Option<Waiter>,
        cx: &mut Context<'_>,
        ready: impl Fn() -> bool,
    ) -> Poll<()> {
        if wait.is_none() {
            if ready() {
                return Poll::Ready(());
            }
            *wait = Some(self.made().waiter());
        }
        self.made().poll_until(wait, cx, ready)
    }

    /// [`Notifier::cancel_wait`]: a wait in `wait` was made by the notifier, so
    /// there is nothing to give up before it exists.
    pub(super) fn cancel_wait(&self, wait: &mut Option<Waiter>) {
        if let Some(notify) = self.0.get() {
            notify.cancel_wait(wait);
        }
    }

    /// Resolves once `ready` holds, re-checking it after every notification; makes
    /// the notifier only if it has to wait.
    pub(super) async fn wait_until(&self, ready: impl Fn() -> bool) {
        while !ready() {
            self.made().notified().await;
        }
    }
}

/// A slot's index as a waiter stores it. Four billion waiters at once on one notifier
/// would be a broken invariant.
fn slot_index(slot: usize) -> u32 {
    u32::try_from(slot).expect("fewer than 2^32 waiters on one notifier")
}

/// A waiter of a [`LocalNotify`] that does not borrow it (see [`Notifier::waiter`]).
/// Dropping one uncancelled leaves its slot taken until the next notification, so its
/// holder hands it back with [`Notifier::cancel`].
#[derive(Debug)]
#[must_use = "a waiter is polled, then cancelled or notified"]
pub(super) struct Waiter {
    /// The notifier's generation when this waiter was made.
    generation: u64,
    /// Where this waiter's waker is, once it has been polled. Valid only while the
    /// generation is unchanged: a notification empties every slot.
    slot: Option<u32>,
}

/// One waiter of a [`LocalNotify`], as a future.
#[derive(Debug)]
pub(super) struct Notified<'a> {
    notify: &'a LocalNotify,
    waiter: Waiter,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.notify.poll_waiter(&mut this.waiter, cx)
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let waiter = Waiter { generation: self.waiter.generation, slot: self.waiter.slot.take() };
        self.notify.cancel(waiter);
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
pub(super) mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// Counts the wake-ups of a waker handed to a future polled by hand.
    pub(in crate::net) struct Counter(AtomicUsize);

    impl Counter {
        /// Wake-ups so far.
        pub(in crate::net) fn count(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(in crate::net) fn counting_waker() -> (Arc<Counter>, Waker) {
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

    #[test]
    fn a_cancelled_waiter_frees_its_slot_for_the_next_as_a_dropped_future_does() {
        let notify = LocalNotify::new();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut first = notify.waiter();
        assert_eq!(notify.poll_waiter(&mut first, &mut cx), Poll::Pending);
        notify.cancel(first);
        let mut second = notify.waiter();
        assert_eq!(notify.poll_waiter(&mut second, &mut cx), Poll::Pending);
        assert_eq!(notify.slots.borrow().wakers.len(), 1, "the freed slot was reused");
        notify.notify_waiters();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "only the live waiter is woken");
        assert_eq!(notify.poll_waiter(&mut second, &mut cx), Poll::Ready(()));
    }

    /// Which task a notification wakes first decides the simulation's order, so freed
    /// slots are reused in a fixed order: the one freed last first.
    #[test]
    fn freed_slots_are_reused_last_freed_first_and_woken_in_slot_order() {
        struct Logger(usize, Arc<std::sync::Mutex<Vec<usize>>>);
        impl Wake for Logger {
            fn wake(self: Arc<Self>) {
                self.1.lock().unwrap().push(self.0);
            }
        }
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let waker = |id| Waker::from(Arc::new(Logger(id, Arc::clone(&log))));
        let notify = LocalNotify::new();
        let mut waiters: Vec<Waiter> = (0..4).map(|_| notify.waiter()).collect();
        for (id, waiter) in waiters.iter_mut().enumerate() {
            let w = waker(id);
            assert_eq!(notify.poll_waiter(waiter, &mut Context::from_waker(&w)), Poll::Pending);
        }
        let mut waiters = waiters.into_iter();
        let (zero, one, two, three) = (
            waiters.next().unwrap(),
            waiters.next().unwrap(),
            waiters.next().unwrap(),
            waiters.next().unwrap(),
        );
        // Slots 0, 3 and 2 freed, in that order; then three new waiters take 2, 3, 0.
        notify.cancel(zero);
        notify.cancel(three);
        notify.cancel(two);
        for id in [12, 13, 10] {
            let mut waiter = notify.waiter();
            let w = waker(id);
            assert_eq!(
                notify.poll_waiter(&mut waiter, &mut Context::from_waker(&w)),
                Poll::Pending
            );
        }
        assert_eq!(notify.slots.borrow().wakers.len(), 4, "every freed slot was reused");
        notify.notify_waiters();
        assert_eq!(*log.lock().unwrap(), [10, 1, 12, 13]);
        drop(one);
    }

    #[test]
    fn a_lazy_notifier_is_made_by_its_first_wait_and_then_wakes_as_a_notifier_does() {
        let lazy = LazyNotify::default();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        lazy.notify_waiters();
        let mut wait = None;
        lazy.cancel_wait(&mut wait);
        assert_eq!(lazy.poll_until(&mut wait, &mut cx, || true), Poll::Ready(()));
        assert!(lazy.0.get().is_none(), "no wait made, no notifier");
        let ready = Cell::new(false);
        assert_eq!(lazy.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        assert!(lazy.0.get().is_some() && wait.is_some());
        lazy.notify_waiters();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        assert_eq!(lazy.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        ready.set(true);
        lazy.notify_waiters();
        assert_eq!(lazy.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Ready(()));
        assert!(wait.is_none());
        assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    }

    /// What a task waiting alone on a notifier sees, the same for both notifiers: a
    /// given-up waiter is not woken, a waiter polled twice is woken once, and a wait
    /// for a condition checks it again after each notification.
    fn one_waiter_is_woken_as_a_notifier_wakes_it<N: Notifier>(notifier: &N, notify: impl Fn(&N)) {
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut cancelled = notifier.waiter();
        assert_eq!(notifier.poll_waiter(&mut cancelled, &mut cx), Poll::Pending);
        notifier.cancel(cancelled);
        notify(notifier);
        assert_eq!(counter.0.load(Ordering::Relaxed), 0, "a cancelled waiter is not woken");
        let mut waiter = notifier.waiter();
        assert_eq!(notifier.poll_waiter(&mut waiter, &mut cx), Poll::Pending);
        assert_eq!(notifier.poll_waiter(&mut waiter, &mut cx), Poll::Pending);
        notify(notifier);
        assert_eq!(counter.0.load(Ordering::Relaxed), 1, "polled twice, woken once");
        assert_eq!(notifier.poll_waiter(&mut waiter, &mut cx), Poll::Ready(()));
        let ready = Cell::new(false);
        let mut wait = None;
        assert_eq!(notifier.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        notify(notifier);
        assert_eq!(notifier.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        ready.set(true);
        notify(notifier);
        assert_eq!(counter.0.load(Ordering::Relaxed), 3);
        assert_eq!(notifier.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Ready(()));
        assert!(wait.is_none());
        let mut late = None;
        assert_eq!(notifier.poll_until(&mut late, &mut cx, || false), Poll::Pending);
        notifier.cancel_wait(&mut late);
        notify(notifier);
        assert_eq!(counter.0.load(Ordering::Relaxed), 3, "a given-up wait is not woken");
    }

    /// `SoleNotify` keeps a waker in place of slots; for its one waiter it must wake as
    /// `LocalNotify` does, or a connection's heartbeat would wake in another order.
    #[test]
    fn a_notifier_for_one_wakes_its_waiter_as_a_notifier_does() {
        one_waiter_is_woken_as_a_notifier_wakes_it(
            &LocalNotify::new(),
            LocalNotify::notify_waiters,
        );
        one_waiter_is_woken_as_a_notifier_wakes_it(
            &SoleNotify::default(),
            SoleNotify::notify_waiters,
        );
    }

    #[test]
    fn a_wait_until_checks_its_condition_again_after_each_notification() {
        let notify = LocalNotify::new();
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let ready = Cell::new(false);
        let mut wait = None;
        assert_eq!(notify.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        notify.notify_waiters();
        assert_eq!(notify.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Pending);
        assert!(wait.is_some(), "notified while not ready: waits again");
        ready.set(true);
        notify.notify_waiters();
        assert_eq!(notify.poll_until(&mut wait, &mut cx, || ready.get()), Poll::Ready(()));
        assert!(wait.is_none());
        let mut already = None;
        assert_eq!(notify.poll_until(&mut already, &mut cx, || true), Poll::Ready(()));
        assert!(notify.slots.borrow().wakers.is_empty(), "a met condition registers nothing");
    }
}
