//! Every timer patchbay arms, so that the simulator can prove a run idle.
//!
//! A simulated run may end before its timetable says once provably nothing more can
//! happen in it (`run/simulated.rs`, docs/turmoil.md): no fault left to apply, nothing
//! on the wire, and no timer that would fire before the end. tokio does not say which
//! timers a runtime holds, so patchbay keeps its own account: every `sleep`,
//! `sleep_until` and `timeout` in the crate goes through this module (`sim/clippy.toml`
//! refuses tokio's own), and under a run that installed a [`Watch`] each timer's
//! deadline, in simulated time, is entered in the watch from the first poll that
//! finds it pending (when tokio registers it) and taken out when it fires or is
//! dropped. Each arm and disarm also counts as activity: a timer that has just fired
//! may have woken a task that has not yet run. The wrappers are tokio's futures with
//! one entry beside them, so a waiting connection costs a few bytes more, not a box.
//! One timer is accounted otherwise: a socket's timer task may sleep towards a stale
//! deadline it was not woken to move, so its sleep enters nothing and the socket
//! enters its core's current deadline instead ([`Deadline`], `Shared::settle`).
//!
//! Outside such a run (real TCP, a hand-built turmoil harness) there is no watch and
//! these are tokio's functions, at the cost of one thread-local read.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

pub use tokio::time::error::Elapsed;

thread_local! {
    /// The watch of the simulated run on this thread: one run at a time per thread.
    static WATCH: RefCell<Option<Rc<Watch>>> = const { RefCell::new(None) };
}

/// The armed timers of one simulated run, by deadline in simulated time, and a count
/// of every arm and disarm.
#[derive(Debug, Default)]
pub struct Watch {
    /// Deadline to the number of timers armed for it.
    armed: RefCell<BTreeMap<Duration, u32>>,
    changes: Cell<u64>,
}

impl Watch {
    /// Installs a fresh watch for the run about to start on this thread; the run's
    /// timers are entered in it until the guard is dropped.
    pub fn install() -> WatchGuard {
        let watch = Rc::new(Watch::default());
        let previous = WATCH.with(|w| w.borrow_mut().replace(watch.clone()));
        WatchGuard { watch, previous }
    }

    /// Whether a timer is armed to fire in `from..until` (simulated time), or has
    /// fired in it and its task has not yet seen it. An entry stays until its timer is
    /// polled after firing or dropped, and an owner may skip polling a timer it knows
    /// is due (the shim releases a chunk whose time has come without asking its
    /// timer): the caller passes as `from` a time by which a timer that fired has
    /// certainly woken its task.
    pub fn armed_between(&self, from: Duration, until: Duration) -> bool {
        from < until && self.armed.borrow().range(from..until).next().is_some()
    }

    /// How many timers have been armed or disarmed so far.
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }

    fn arm(&self, at: Duration) {
        *self.armed.borrow_mut().entry(at).or_default() += 1;
        self.changes.set(self.changes.get() + 1);
    }

    fn disarm(&self, at: Duration) {
        let mut armed = self.armed.borrow_mut();
        if let Some(n) = armed.get_mut(&at) {
            *n -= 1;
            if *n == 0 {
                armed.remove(&at);
            }
        }
        self.changes.set(self.changes.get() + 1);
    }
}

/// Keeps a [`Watch`] installed on this thread; dropping it puts back whatever was
/// installed before.
#[derive(Debug)]
pub struct WatchGuard {
    watch: Rc<Watch>,
    previous: Option<Rc<Watch>>,
}

impl WatchGuard {
    /// The installed watch.
    pub fn watch(&self) -> &Watch {
        &self.watch
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        WATCH.with(|w| *w.borrow_mut() = self.previous.take());
    }
}

/// One timer's entry in the run's watch, taken out when dropped.
#[derive(Debug)]
struct Armed {
    watch: Rc<Watch>,
    at: Duration,
}

impl Armed {
    /// Enters a timer due at `deadline` in the watch, if a run installed one and the
    /// caller is inside its simulation (turmoil knows the simulated time).
    fn new(deadline: Instant) -> Option<Armed> {
        let watch = WATCH.with(|w| w.borrow().clone())?;
        let now = turmoil::sim_elapsed()?;
        let at = now + deadline.saturating_duration_since(Instant::now());
        watch.arm(at);
        Some(Armed { watch, at })
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.watch.disarm(self.at);
    }
}

/// A deadline entered in the run's watch by its owner rather than by a timer: a
/// socket enters the deadline its core wants, while its timer task may still sleep
/// towards an earlier one, stale, that it was not woken to move (`Shared::settle`).
/// Waking up early at a stale deadline does nothing, so the watch holds the deadline
/// that can make something happen.
#[derive(Debug, Default)]
pub struct Deadline {
    armed: Option<Armed>,
}

impl Deadline {
    /// Moves the entry to `at`, or takes it out; the owner calls it when its deadline
    /// changed (each call counts as activity in the watch).
    pub fn set(&mut self, at: Option<Instant>) {
        self.armed = at.and_then(Armed::new);
    }
}

pin_project_lite::pin_project! {
    /// tokio's `Sleep`, entered in the run's watch from its first poll that finds it
    /// pending until it fires or is dropped; a `reset` takes the entry out until the
    /// next such poll. One made and never polled never fires, and is never entered;
    /// nor is one whose deadline a [`Deadline`] accounts for instead.
    #[derive(Debug)]
    pub struct Sleep {
        #[pin]
        inner: tokio::time::Sleep,
        armed: Option<Armed>,
        watched: bool,
    }
}

/// Waits `d`: tokio's `sleep`, with the deadline taken when this is called.
pub fn sleep(d: Duration) -> Sleep {
    #[allow(clippy::disallowed_methods, reason = "the one place tokio's timer is armed")]
    Sleep { inner: tokio::time::sleep(d), armed: None, watched: true }
}

/// Waits until `deadline`: tokio's `sleep_until`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    #[allow(clippy::disallowed_methods, reason = "the one place tokio's timer is armed")]
    Sleep { inner: tokio::time::sleep_until(deadline), armed: None, watched: true }
}

/// Waits until `deadline`, or for ever when there is none (a `cat` that has no
/// receive timeout).
pub async fn sleep_until_or_never(deadline: Option<Instant>) {
    until_or_never(deadline, true).await;
}

/// [`sleep_until_or_never`], entering nothing in the run's watch: the caller, a
/// socket's timer task, has its core's deadline accounted for by a [`Deadline`].
pub async fn sleep_until_or_never_unwatched(deadline: Option<Instant>) {
    until_or_never(deadline, false).await;
}

async fn until_or_never(deadline: Option<Instant>, watched: bool) {
    match deadline {
        Some(deadline) => Sleep { watched, ..sleep_until(deadline) }.await,
        None => std::future::pending().await,
    }
}

impl Sleep {
    /// Moves the timer to `deadline`, as tokio's `Sleep::reset`.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.project();
        this.inner.reset(deadline);
        *this.armed = None;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.inner.as_mut().poll(cx).is_ready() {
            *this.armed = None;
            return Poll::Ready(());
        }
        if *this.watched && this.armed.is_none() {
            *this.armed = Armed::new(this.inner.deadline());
        }
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// tokio's `Timeout`, its timer entered in the run's watch from its first poll
    /// that finds it pending until the future finishes, the time runs out or it is
    /// dropped.
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        deadline: Option<Instant>,
        armed: Option<Armed>,
    }
}

/// Runs `future` for at most `d`: tokio's `timeout`, with the deadline taken when
/// this is called.
pub fn timeout<F: Future>(d: Duration, future: F) -> Timeout<F> {
    #[allow(clippy::disallowed_methods, reason = "the one place tokio's timer is armed")]
    let inner = tokio::time::timeout(d, future);
    // Past the end of time it never fires, so it is never entered.
    Timeout { inner, deadline: Instant::now().checked_add(d), armed: None }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            *this.armed = None;
            return Poll::Ready(out);
        }
        if let (None, Some(deadline)) = (&this.armed, this.deadline) {
            *this.armed = Armed::new(*deadline);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on one turmoil host for `steps` steps of 1 ms under a watch, handing
    /// back after each step whether a timer is armed within 30 s and the changes so far.
    fn simulate<F, Fut>(steps: u32, f: F) -> Vec<(bool, u64)>
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let guard = Watch::install();
        let mut sim = turmoil::Builder::new()
            .tick_duration(Duration::from_millis(1))
            .simulation_duration(Duration::from_secs(60))
            .build();
        sim.host("h", move || {
            let run = f();
            async move {
                run.await;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let mut seen = Vec::new();
        for _ in 0..steps {
            sim.step().expect("steps");
            let at = sim.elapsed();
            let watch = guard.watch();
            seen.push((watch.armed_between(at, at + Duration::from_secs(30)), watch.changes()));
        }
        seen
    }

    #[test]
    fn a_sleep_is_armed_until_it_fires_and_counts_both() {
        let seen = simulate(20, || sleep(Duration::from_millis(10)));
        // Armed from the first step; fired by the tenth or eleventh.
        assert_eq!(seen[0], (true, 1));
        assert_eq!(seen[19], (false, 2));
        let fired = seen.iter().position(|(armed, _)| !armed).expect("it fires");
        assert!((9..=11).contains(&fired), "fired after step {fired}");
    }

    #[test]
    fn a_timeout_is_disarmed_when_its_future_finishes_first() {
        let seen = simulate(5, || async {
            let quick = sleep(Duration::from_millis(2));
            timeout(Duration::from_secs(20), quick).await.expect("in time");
        });
        assert_eq!(seen[0], (true, 2), "the timeout and the sleep");
        assert_eq!(seen[4], (false, 4));
    }

    #[test]
    fn a_timer_past_the_horizon_does_not_count_and_a_dropped_one_is_gone() {
        let seen = simulate(3, || async {
            let far = Box::pin(sleep(Duration::from_secs(40)));
            // Polled once, so armed, then left pending.
            let _ = futures_poll_once(far).await;
        });
        // The 40 s timer is past the 30 s horizon the helper asks about.
        assert_eq!(seen[0], (false, 2), "armed then dropped");
        let kept = simulate(3, || async {
            sleep(Duration::from_secs(40)).await;
        });
        assert_eq!(kept[2], (false, 1), "armed, past the horizon");
    }

    #[test]
    fn a_reset_moves_the_entry_and_firing_takes_it_out() {
        let seen = simulate(10, || async {
            let mut timer = Box::pin(sleep_until(Instant::now() + Duration::from_secs(20)));
            // Entered at 20 s by its first poll, then moved to 3 ms.
            let _ = futures_poll_once(timer.as_mut()).await;
            timer.as_mut().reset(Instant::now() + Duration::from_millis(3));
            timer.await;
        });
        assert_eq!(seen[0], (true, 3), "armed at 20 s, out, in at 3 ms");
        assert_eq!(seen[9], (false, 4));
    }

    #[test]
    fn a_timer_never_polled_is_never_entered() {
        let seen = simulate(3, || async {
            let _never = sleep(Duration::from_millis(1));
            std::future::pending::<()>().await;
        });
        assert_eq!(seen[2], (false, 0));
    }

    #[test]
    fn outside_a_watched_run_nothing_is_entered() {
        let guard = Watch::install();
        let watch = Rc::clone(&guard.watch);
        drop(guard);
        let mut sim = turmoil::Builder::new().build();
        sim.host("h", || async {
            sleep(Duration::from_millis(1)).await;
            Ok(())
        });
        sim.step().expect("steps");
        assert_eq!(watch.changes(), 0);
    }

    /// Polls `f` once and drops it.
    async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut f).poll(cx))).await
    }
}
