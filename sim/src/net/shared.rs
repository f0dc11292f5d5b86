//! The state one socket's tasks share: the core, the wake-ups between tasks, and the
//! shutdown and panic bookkeeping.
//!
//! Every task of a socket runs on one thread, so the core sits in a `RefCell` and is
//! borrowed only for the length of one core call, never across an `.await`. After
//! every call [`Shared::with_core`] drains the core's events into the trace and wakes
//! whoever may now make progress, so no task ever has to poll the core on a timer.
//! A connection's writer taking queued messages ([`Shared::with_core_transmitting`])
//! can only have made room for a send, so it wakes the application only when a send
//! is waiting.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::event::{DriverEvent, EventSink, discards};
use super::timer::{Deadline, Sleep};
use super::wake::{LazyNotify, LocalNotify};
use crate::socket::{
    ByPipe, EventDetail, Linger, PipeId, SocketCore, SocketEvent, SocketOptions, SocketType,
};
use crate::wire::Padding;
use crate::wire::payload::msg_info;

/// A socket's entry in the run's timer account, and the core deadline it was set to.
#[derive(Debug, Default)]
struct WatchedDeadline {
    at: Option<Duration>,
    entry: Deadline,
}

/// Where a socket's timer task is (`Shared::spawn_timer_if_wanted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerTask {
    /// The socket's tasks are being spawned; the timer comes after them.
    NotYet,
    /// Not needed so far.
    Idle,
    Running,
}

pub(super) struct Shared {
    core: RefCell<Box<dyn SocketCore>>,
    pub(super) socket_type: SocketType,
    /// Shared with the other sockets made from the same declaration (a group's
    /// replicas), so a million comet users keep one copy (issue 16).
    pub(super) options: Rc<SocketOptions>,
    /// How the transport carries modelled messages' padding (`Transport::PADDING`).
    pub(super) padding: Padding,
    /// The run's time zero; under turmoil `Instant` is simulated time.
    epoch: Instant,
    /// The same instant on the operating system's clock, when the transport says time
    /// is real (`Transport::REAL_CLOCK`): `now` then skips tokio's clock.
    real_epoch: Option<std::time::Instant>,
    events: EventSink,
    /// False when `events` is the sink that keeps nothing (`event::no_events`): the
    /// driver then hands it nothing, and the core keeps no events, only the pipes
    /// whose writers it must wake (`Pipes::set_detail`).
    traced: bool,
    /// Whether a core call reads the clock. Only a traced socket's events and the
    /// cores that keep timers (`SocketType::keeps_timers`) use the time a core call
    /// is given; any other is given the last reading instead, which spares an
    /// untraced PUSH or PULL one `clock_gettime` per message.
    core_reads_clock: bool,
    /// The clock's last reading, for core calls that do not read it.
    last_now: Cell<Duration>,
    /// Wakes application calls waiting out a `WouldBlock`.
    app_wake: LocalNotify,
    /// Sends among them ([`Shared::app_woken_to_send`]).
    sends_waiting: Cell<u32>,
    /// Wakes readers stopped at a full inbound queue (RCVHWM backpressure).
    room_wake: LazyNotify,
    /// Wakes the timer task when the core wants a deadline earlier than the one it
    /// sleeps towards.
    timer_wake: LazyNotify,
    /// The deadline the timer task sleeps towards. A core call that takes the core's
    /// deadline away or moves it later does not wake the task: it wakes at this one,
    /// finds nothing due and sleeps again (a REQ sets and clears its resend deadline at
    /// every request and reply: two task polls and two timer-wheel changes a round
    /// trip, saved).
    armed_deadline: Cell<Option<Duration>>,
    /// The core's deadline as the run's timer account has it (`timer::Deadline`): the
    /// one that can make something happen, not the stale one the task may sleep
    /// towards. Boxed when first needed: only a socket whose core keeps timers has
    /// one, and a comet subscriber's socket pays 16 bytes for the field, not 72.
    watched: RefCell<Option<Box<WatchedDeadline>>>,
    /// Where the timer task is: a socket whose core never wants a timeout (a
    /// DEALER, a ROUTER) never has one, which is a task less per comet subscriber.
    timer: Cell<TimerTask>,
    /// This socket itself, for spawning the timer task from a core call.
    me: Weak<Shared>,
    /// One wake-up per connected pipe's writer, keyed by pipe (a socket's only one
    /// inline: `ByPipe`).
    writer_wakes: RefCell<ByPipe<Rc<LocalNotify>>>,
    next_pipe: Cell<PipeId>,
    /// Set once, when the handle is closed or dropped; every task winds down on it.
    shutting_down: Cell<bool>,
    /// Set when the socket's process ends (a kill or crash, [`Aborter`]): nothing
    /// lingers then, so no connect loop goes on for what is still queued.
    aborted: Cell<bool>,
    shutdown_wake: LocalNotify,
    /// Tasks spawned and not yet finished: `close` returns when this reaches zero,
    /// that is when every connection has flushed (or its linger ran out).
    live_tasks: Cell<usize>,
    /// Of those, connect loops going on past the close for messages still queued
    /// ([`Shared::linger_on`]), which `close` does not wait for.
    lingering_connects: Cell<usize>,
    tasks_done: LazyNotify,
    /// The first panic caught in one of this socket's tasks. turmoil would swallow it;
    /// the application's next call on the handle raises it again instead.
    panicked: RefCell<Option<String>>,
    /// Bytes read from the wire and not yet handed to the core, over all connections:
    /// partial messages and the rest of each read. Bounded per connection by the
    /// receive limit (or `wire::LEN_MAX_HARD`) plus one read (docs/limits.md).
    rx_buffered_bytes: Cell<usize>,
    /// The most `rx_buffered_bytes` has ever been, for tests and measurements.
    rx_buffered_bytes_peak: Cell<usize>,
    /// The socket's own random stream for its reconnect delays (libzmq's and NNG's
    /// draw one; `ReconnectBackoff`), a splitmix64 state seeded at spawn.
    reconnect_draws: Cell<u64>,
}

impl Shared {
    pub(super) fn new(
        core: Box<dyn SocketCore>,
        options: Rc<SocketOptions>,
        padding: Padding,
        epoch: Instant,
        real_clock: bool,
        events: EventSink,
        reconnect_seed: u64,
    ) -> Rc<Shared> {
        let mut core = core;
        let traced = !discards(&events);
        // A trace keeps what `msg_info` says of each message, so events carry that
        // rather than a copy of the message.
        let detail = if traced { EventDetail::Info(msg_info) } else { EventDetail::None };
        core.pipes_mut().set_detail(detail);
        let core_reads_clock = traced || core.socket_type().keeps_timers();
        Rc::new_cyclic(|me| Shared {
            me: me.clone(),
            timer: Cell::new(TimerTask::NotYet),
            socket_type: core.socket_type(),
            core: RefCell::new(core),
            options,
            padding,
            epoch,
            real_epoch: real_clock.then(|| epoch.into_std()),
            events,
            traced,
            core_reads_clock,
            last_now: Cell::new(Duration::ZERO),
            app_wake: LocalNotify::new(),
            sends_waiting: Cell::new(0),
            room_wake: LazyNotify::default(),
            timer_wake: LazyNotify::default(),
            armed_deadline: Cell::new(None),
            watched: RefCell::default(),
            writer_wakes: RefCell::default(),
            next_pipe: Cell::new(1),
            shutting_down: Cell::new(false),
            aborted: Cell::new(false),
            shutdown_wake: LocalNotify::new(),
            live_tasks: Cell::new(0),
            lingering_connects: Cell::new(0),
            tasks_done: LazyNotify::default(),
            panicked: RefCell::new(None),
            rx_buffered_bytes: Cell::new(0),
            rx_buffered_bytes_peak: Cell::new(0),
            reconnect_draws: Cell::new(reconnect_seed),
        })
    }

    /// The next number of the socket's reconnect stream (splitmix64: a seed repeats
    /// it, and neighbouring seeds give unrelated streams).
    pub(super) fn reconnect_draw(&self) -> u64 {
        let mut state = self.reconnect_draws.get();
        let drawn = crate::plan::seed::splitmix_next(&mut state);
        self.reconnect_draws.set(state);
        drawn
    }

    /// Time since the epoch; an epoch in the future reads as zero rather than panicking.
    /// Read on every core call, so on a real clock it is one `clock_gettime`.
    pub(super) fn now(&self) -> Duration {
        let now = match self.real_epoch {
            Some(epoch) => std::time::Instant::now().saturating_duration_since(epoch),
            None => Instant::now().saturating_duration_since(self.epoch),
        };
        self.last_now.set(now);
        now
    }

    /// The time a core call is given: the clock, or its last reading for a core that
    /// cannot tell (see `core_reads_clock`).
    fn core_now(&self) -> Duration {
        if self.core_reads_clock { self.now() } else { self.last_now.get() }
    }

    pub(super) fn epoch(&self) -> Instant {
        self.epoch
    }

    pub(super) fn emit(&self, event: DriverEvent) {
        if self.traced {
            (self.events)(self.now(), event);
        }
    }

    /// A fresh pipe id. Ids start at 1, are never reused, and stay below 2^31 so a
    /// ROUTER can use them as hop ids; running out is a broken invariant.
    pub(super) fn new_pipe(&self) -> PipeId {
        let pipe = self.next_pipe.get();
        assert!(pipe < crate::socket::REQUEST_ID_BIT, "pipe ids exhausted");
        self.next_pipe.set(pipe + 1);
        pipe
    }

    /// One connection's buffered bytes went from `old` to `new`.
    pub(super) fn rx_buffered_changed(&self, old: usize, new: usize) {
        let total = self.rx_buffered_bytes.get() - old + new;
        self.rx_buffered_bytes.set(total);
        self.rx_buffered_bytes_peak.set(self.rx_buffered_bytes_peak.get().max(total));
    }

    /// Bytes received and not yet delivered, now and at most so far.
    pub(super) fn rx_buffered(&self) -> (usize, usize) {
        (self.rx_buffered_bytes.get(), self.rx_buffered_bytes_peak.get())
    }

    /// Runs one core call, then drains its events and wakes whoever may progress.
    pub(super) fn with_core<R>(&self, call: impl FnOnce(&mut dyn SocketCore, Duration) -> R) -> R {
        let now = self.core_now();
        self.call_core(now, true, call)
    }

    /// [`Self::with_core`] where the caller has just read the clock in this same poll
    /// (`now`, time since this socket's epoch): nothing runs between that reading and
    /// this call, so it is the value `now()` would read, and the core call is given
    /// exactly what it would have been given. Spares a clock read per message.
    pub(super) fn with_core_at<R>(
        &self,
        now: Duration,
        call: impl FnOnce(&mut dyn SocketCore, Duration) -> R,
    ) -> R {
        let now = if self.core_reads_clock {
            self.last_now.set(now);
            now
        } else {
            self.last_now.get()
        };
        self.call_core(now, true, call)
    }

    /// [`Self::with_core`] for a connection's writer taking queued messages
    /// (`SocketCore::poll_transmit`). That frees room in an outbound queue and changes
    /// nothing a receive could see (no core's `poll_transmit` touches its inbound
    /// side), so it wakes the application only when a send is waiting. Waking a
    /// waiting receive too cost it a poll and a failed attempt for every message its
    /// socket sent: a device, a REQ client and a REP worker each paid one per hop.
    pub(super) fn with_core_transmitting<R>(
        &self,
        call: impl FnOnce(&mut dyn SocketCore, Duration) -> R,
    ) -> R {
        let now = self.core_now();
        self.call_core(now, self.sends_waiting.get() > 0, call)
    }

    /// Tells the core its transport has written everything `pipe` handed it, if the
    /// core wants to know (`SocketCore::tracks_writes`): an SP PUSH, PAIR or DEALER's
    /// pipe then takes its next message, and a send waiting for one is woken.
    pub(super) fn written(&self, pipe: PipeId) {
        if self.peek_core(|core| core.tracks_writes()) {
            self.with_core_transmitting(|core, now| core.on_written(pipe, now));
        }
    }

    /// Whether a writer that has just emptied `pipe` should ask the core for more
    /// ([`Self::with_core_transmitting`]): only if the core may have some
    /// (`SocketCore::may_transmit`), or a send is waiting, which that call would wake.
    /// Otherwise the call would change nothing: the core hands out nothing, so it has
    /// no events to settle, no deadline moves and nobody is woken.
    pub(super) fn may_transmit(&self, pipe: PipeId) -> bool {
        self.sends_waiting.get() > 0 || self.peek_core(|core| core.may_transmit(pipe))
    }

    /// Runs `call` on the core at `now`, then settles, waking the application's
    /// waiting calls only if `wake_app`.
    fn call_core<R>(
        &self,
        now: Duration,
        wake_app: bool,
        call: impl FnOnce(&mut dyn SocketCore, Duration) -> R,
    ) -> R {
        let result = call(&mut **self.core.borrow_mut(), now);
        self.settle(now, wake_app);
        result
    }

    /// The time the last core call was given, when it was a reading of the clock
    /// (`core_reads_clock`); asked in the same poll as that call, it is the clock now.
    pub(super) fn clock_reading(&self) -> Option<Duration> {
        self.core_reads_clock.then(|| self.last_now.get())
    }

    /// A read-only look at the core.
    pub(super) fn peek_core<R>(&self, look: impl FnOnce(&dyn SocketCore) -> R) -> R {
        look(&**self.core.borrow())
    }

    /// Drains the core's events into the trace and wakes writers, the timer and, if
    /// `wake_app`, the application's waiting calls. The callback runs with the core
    /// released, so it may call the handle.
    fn settle(&self, now: Duration, wake_app: bool) {
        if self.traced {
            while let Some(event) = self.next_core_event() {
                self.wake_writer_for(&event);
                (self.events)(now, DriverEvent::Socket(event));
            }
        } else {
            // An untraced core keeps no events, only the pipes whose writers have work.
            let mut core = self.core.borrow_mut();
            for pipe in core.pipes_mut().drain_woken() {
                self.wake_writer(pipe);
            }
        }
        let wanted = self.peek_core(|core| core.poll_timeout());
        if wanted != self.watched_at() {
            self.watch_deadline(wanted);
        }
        if wanted.is_some_and(|at| self.armed_deadline.get().is_none_or(|armed| at < armed)) {
            self.timer_wake.notify_waiters();
            self.spawn_timer_if_wanted();
        }
        if wake_app {
            self.app_wake.notify_waiters();
        }
    }

    /// Enters the core's deadline in the run's timer account, while a timer task is
    /// there (or about to be) to serve it: none once the socket is closing.
    fn watch_deadline(&self, at: Option<Duration>) {
        let at = at.filter(|_| !self.shutting_down.get());
        let mut watched = self.watched.borrow_mut();
        if at.is_none() && watched.is_none() {
            return;
        }
        let watched = watched.get_or_insert_with(Box::default);
        watched.at = at;
        watched.entry.set(at.and_then(|at| self.epoch.checked_add(at)));
    }

    /// The deadline [`Self::watch_deadline`] last entered.
    fn watched_at(&self) -> Option<Duration> {
        self.watched.borrow().as_ref().and_then(|w| w.at)
    }

    /// Lets the timer task start once the socket's other tasks are spawned, where the
    /// driver always spawned it, and starts it at once if the core already wants one.
    pub(super) fn allow_timer(&self) {
        self.timer.set(TimerTask::Idle);
        self.spawn_timer_if_wanted();
    }

    /// Spawns the timer task the first time the core wants a timeout. Its spawn wakes
    /// it where a notification would have woken a task that was already waiting, so
    /// the order of everything that runs is what it was with a task from the start.
    fn spawn_timer_if_wanted(&self) {
        if self.timer.get() != TimerTask::Idle || self.shutting_down.get() {
            return;
        }
        if self.peek_core(|core| core.poll_timeout()).is_none() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        self.timer.set(TimerTask::Running);
        me.spawn("timer", super::driver::timer_loop(Rc::clone(&me)));
    }

    fn next_core_event(&self) -> Option<SocketEvent> {
        self.core.borrow_mut().poll_event()
    }

    /// Cores report every message they put on a pipe's queue (`Enqueued`, `Resent`),
    /// which tells the driver exactly which writer has work without scanning pipes.
    fn wake_writer_for(&self, event: &SocketEvent) {
        if let SocketEvent::Enqueued { pipe, .. } | SocketEvent::Resent { pipe, .. } = event {
            self.wake_writer(*pipe);
        }
    }

    fn wake_writer(&self, pipe: PipeId) {
        if let Some(wake) = self.writer_wakes.borrow().get(&pipe) {
            wake.notify_waiters();
        }
    }

    pub(super) fn register_writer(&self, pipe: PipeId) -> Rc<LocalNotify> {
        let wake = Rc::new(LocalNotify::new());
        self.writer_wakes.borrow_mut().insert(pipe, Rc::clone(&wake));
        wake
    }

    pub(super) fn unregister_writer(&self, pipe: PipeId) {
        self.writer_wakes.borrow_mut().remove(&pipe);
    }

    /// Resolves once `ready` holds, re-checking after every wake-up of `notify`. The
    /// check and the waiter's creation have no `.await` between them, so on this one
    /// thread no wake-up can fall in between; when `ready` already holds, nothing
    /// registers at all.
    async fn wait_until(notify: &LocalNotify, ready: impl Fn() -> bool) {
        while !ready() {
            notify.notified().await;
        }
    }

    /// Wakes readers stopped at a full inbound queue, for a connection's own waits.
    pub(super) fn room_wake(&self) -> &LazyNotify {
        &self.room_wake
    }

    /// Notified once, when the socket begins to close, for a connection's own waits.
    pub(super) fn shutdown_wake(&self) -> &LocalNotify {
        &self.shutdown_wake
    }

    /// Waits until `pipe`'s inbound queue has room (or the socket is closing).
    pub(super) async fn wait_for_room(&self, pipe: PipeId) {
        self.room_wake.wait_until(|| self.peek_core(|core| core.can_receive(pipe))).await;
    }

    /// Called after the application took a message out, which may free room.
    pub(super) fn room_freed(&self) {
        self.room_wake.notify_waiters();
    }

    /// Waits for the next core call after this one registers: any of them may have
    /// made room or delivered a message for the waiting application call.
    pub(super) async fn app_woken(&self) {
        self.app_wake.notified().await;
    }

    /// [`Self::app_woken`] for a send, counted while it waits: a writer's taking of
    /// queued messages wakes the application only while one is.
    pub(super) async fn app_woken_to_send(&self) {
        let _counted = SendWaiting::new(&self.sends_waiting);
        self.app_wake.notified().await;
    }

    /// Waits for a change of the core's deadline; remembers `deadline` as armed.
    pub(super) fn arm_timer(&self, deadline: Option<Duration>) {
        self.armed_deadline.set(deadline);
    }

    pub(super) async fn timer_changed(&self) {
        self.timer_wake.notified().await;
    }

    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    pub(super) fn begin_shutdown(&self) {
        self.shutting_down.set(true);
        self.watch_deadline(None);
        self.shutdown_wake.notify_waiters();
    }

    pub(super) async fn shutdown(&self) {
        Self::wait_until(&self.shutdown_wake, || self.shutting_down.get()).await;
    }

    /// Shuts the socket down as its process ends: as a close, but nothing lingers.
    pub(super) fn abort(&self) {
        self.aborted.set(true);
        self.begin_shutdown();
    }

    /// A closing socket's connect loop lingering for a pipe that still holds
    /// messages (`net/driver.rs`, `stopped`): resolves when the linger runs out (never
    /// under `Linger::Forever`); `close` does not wait for it meanwhile. A libzmq
    /// session keeps its connecter until its pipe has been read, so what the
    /// application queued before `zmq_close` reaches a peer that comes back within
    /// the linger: the Lazy Pirate's abandoned request, unless it sets `ZMQ_LINGER` 0
    /// (docs/library-semantics.md, "Linger"). The timer starts when the loop first
    /// waits after the close (libzmq's at the close itself; the two differ only while
    /// a connection is up at the close, and then by that connection's life).
    pub(super) async fn linger_on(&self) {
        let _lingering = LingeringConnect::begin(self);
        self.linger_expired().await;
    }

    /// Whether a closing socket's connect loop for `pipe` has nothing to go on for.
    pub(super) fn nothing_to_linger_for(&self, pipe: PipeId) -> bool {
        self.aborted.get() || !self.peek_core(|core| core.pipes().holds_outbound(pipe))
    }

    /// Resolves when the socket is closing and its linger has run out; never under
    /// `Linger::Forever`. Every connection waits on this for its whole life, so the
    /// timer is made (boxed) only once the socket closes: an open connection holds
    /// a waiter, not a timer.
    pub(super) async fn linger_expired(&self) {
        self.shutdown().await;
        match self.options.linger {
            Linger::Forever => std::future::pending().await,
            Linger::For(linger) => {
                if let Some(timer) = linger_timer(linger) {
                    timer.await;
                }
            }
        }
    }

    /// Resolves once every task has ended but the connect loops still lingering for
    /// a pipe that holds messages: `close` waits for what its connections flush, and
    /// returns while a pipe with no connection goes on trying in the background, as
    /// `zmq_close` returns (it is libzmq's `zmq_ctx_term` that would wait for it).
    pub(super) async fn all_tasks_done(&self) {
        let done = || self.live_tasks.get() == self.lingering_connects.get();
        self.tasks_done.wait_until(done).await;
    }

    /// Spawns one of the socket's tasks on the current `LocalSet`, counted for
    /// `close` and guarded so a panic is recorded rather than lost.
    pub(super) fn spawn(
        self: &Rc<Self>,
        task: &'static str,
        future: impl Future<Output = ()> + 'static,
    ) {
        self.live_tasks.set(self.live_tasks.get() + 1);
        let guarded = Guarded { inner: Box::pin(future), shared: Rc::clone(self), task };
        tokio::task::spawn_local(guarded);
    }

    fn task_finished(&self) {
        self.live_tasks.set(self.live_tasks.get() - 1);
        self.tasks_done.notify_waiters();
    }

    fn task_panicked(&self, task: &'static str, payload: &(dyn Any + Send)) {
        let message = panic_message(payload);
        self.panicked.borrow_mut().get_or_insert_with(|| format!("{task}: {message}"));
        self.emit(DriverEvent::TaskPanicked { task, message });
        self.app_wake.notify_waiters();
    }

    /// Raises, in the caller's task, a panic caught earlier in a driver task.
    pub(super) fn raise_if_panicked(&self) {
        if let Some(message) = self.panicked.borrow().as_ref() {
            panic!("patchbay driver task panicked: {message}");
        }
    }
}

/// A connect loop lingering past the close, counted apart from the socket's other
/// tasks for as long as it lingers (its future dropped included), so `close` does not
/// wait for it.
struct LingeringConnect<'a>(&'a Shared);

impl<'a> LingeringConnect<'a> {
    fn begin(shared: &'a Shared) -> Self {
        shared.lingering_connects.set(shared.lingering_connects.get() + 1);
        shared.tasks_done.notify_waiters();
        LingeringConnect(shared)
    }
}

impl Drop for LingeringConnect<'_> {
    fn drop(&mut self) {
        let connects = &self.0.lingering_connects;
        connects.set(connects.get() - 1);
    }
}

/// One send waiting out a `WouldBlock`, counted for as long as it waits, dropped
/// future included.
struct SendWaiting<'a>(&'a Cell<u32>);

impl<'a> SendWaiting<'a> {
    fn new(count: &'a Cell<u32>) -> Self {
        count.set(count.get() + 1);
        SendWaiting(count)
    }
}

impl Drop for SendWaiting<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A socket task with its panics caught: the default hook still prints the panic, and
/// the socket records it so that it surfaces in the application instead of vanishing
/// inside turmoil's runtime.
struct Guarded<F> {
    inner: Pin<Box<F>>,
    shared: Rc<Shared>,
    task: &'static str,
}

impl<F: Future<Output = ()>> Future for Guarded<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let polled = catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(())) => {}
            Err(payload) => this.shared.task_panicked(this.task, &*payload),
        }
        this.shared.task_finished();
        Poll::Ready(())
    }
}

/// The timer a closing socket's linger of `linger` runs, made when the socket closes;
/// `None` for a linger of 0 s, which is over at the close itself, not at the timer's
/// next tick (tokio's resolution is a millisecond, and under `real` a peer reading
/// meanwhile would let a cut message finish): NNG's and nanomsg's close waits for
/// nothing. The SP writer and the ZMTP connection both take their linger from here.
pub(super) fn linger_timer(linger: Duration) -> Option<Pin<Box<Sleep>>> {
    (!linger.is_zero()).then(|| Box::pin(super::timer::sleep(linger)))
}
