//! The harness every implementation plugs into, so patchbay and its peers are
//! measured by the same code: a one-way [`Flow`] for throughput and a [`RoundTrip`]
//! for latency, each driven from criterion's thread over channels while the
//! implementation's sockets run on threads of their own (one per side, so a sender
//! and a receiver use the two cores as the peers' do).
//!
//! Latency is measured open-loop ([`OpenLoop`]): requests go out at a fixed offered
//! rate, each stamped with the time it was *meant* to leave, and its latency is the
//! reply's arrival minus that intended time. A slow reply that delays the next
//! request is therefore charged to every request it held up, which is the
//! coordinated-omission correction (wrk2, HdrHistogram's `recordValueWithExpectedInterval`
//! done by construction rather than by back-filling).

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Environment variable naming a busy delay, in nanoseconds, that patchbay's rigs
/// add before every message they send: a deliberately slowed build, to prove that
/// `cargo xtask bench --baseline` catches a regression. Peers never read it.
pub const SLOWDOWN_ENV: &str = "PATCHBAY_BENCH_SLOWDOWN_NS";

/// The last stretch before an intended send time is spun rather than slept:
/// `thread::sleep` wakes tens of microseconds late, which would be charged to the
/// request as latency.
const SPIN_BEFORE_SEND: Duration = Duration::from_micros(100);
/// Histograms hold nanoseconds from 1 ns to one minute with 3 significant digits.
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;

static SLOWDOWN: OnceLock<Duration> = OnceLock::new();

/// Reads [`SLOWDOWN_ENV`] once; a value that is not a whole number is an error.
pub fn init_slowdown() -> Result<Duration, String> {
    let delay = match std::env::var(SLOWDOWN_ENV) {
        Ok(text) => text.trim().parse::<u64>().map(Duration::from_nanos).map_err(|_| {
            format!("{SLOWDOWN_ENV}={text}: want a whole number of nanoseconds, e.g. 2000")
        })?,
        Err(_) => Duration::ZERO,
    };
    Ok(*SLOWDOWN.get_or_init(|| delay))
}

/// Spins for the configured slowdown (nothing when it is zero). Called by patchbay's
/// rigs once per message sent, on the sending thread.
pub fn slow_down() {
    let delay = SLOWDOWN.get().copied().unwrap_or_default();
    if delay.is_zero() {
        return;
    }
    let start = Instant::now();
    while start.elapsed() < delay {
        std::hint::spin_loop();
    }
}

/// Runs `body` on a new thread with its own current-thread tokio runtime and a
/// `LocalSet`, which is what patchbay's single-threaded driver needs (and what the
/// pure-Rust peers are happy with).
pub fn local_thread<F, Fut>(name: &str, body: F) -> JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
            // The body runs as a spawned task, not as `block_on`'s own future: the
            // current-thread scheduler polls its driver once more, without sleeping,
            // each time a task wakes that future, which cost patchbay's client two
            // extra `epoll_wait` calls a round trip (docs/peers.md). A panic in the
            // body still ends the thread with that panic.
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                if let Err(e) = tokio::task::spawn_local(body()).await
                    && e.is_panic()
                {
                    std::panic::resume_unwind(e.into_panic());
                }
            });
        })
        .expect("spawn a bench thread")
}

/// A one-way stream of messages: `time(n)` has the sender send `n` messages and
/// returns how long it took until the receiver had them all.
#[derive(Debug)]
pub struct Flow {
    to_sender: Option<UnboundedSender<u64>>,
    to_receiver: Option<UnboundedSender<u64>>,
    /// The receiver's count of what it got for each batch; less than asked only
    /// where the pattern may drop (PUB at its high-water mark).
    done: std_mpsc::Receiver<u64>,
    threads: Vec<JoinHandle<()>>,
    /// Messages asked for over every batch so far: with the process's CPU time this
    /// gives CPU per message (`finish` prints it).
    asked: std::cell::Cell<u64>,
}

/// The implementation's ends of a [`Flow`].
#[derive(Debug)]
pub struct FlowEnds {
    /// How many messages to send next.
    pub sender: UnboundedReceiver<u64>,
    /// How many messages to expect next.
    pub receiver: UnboundedReceiver<u64>,
    /// Where the receiver reports a batch complete, with what it counted.
    pub done: std_mpsc::Sender<u64>,
}

impl Flow {
    pub fn new() -> (Flow, FlowEnds) {
        let (to_sender, sender) = unbounded_channel();
        let (to_receiver, receiver) = unbounded_channel();
        let (done_tx, done) = std_mpsc::channel();
        let flow = Flow {
            to_sender: Some(to_sender),
            to_receiver: Some(to_receiver),
            done,
            threads: Vec::new(),
            asked: std::cell::Cell::new(0),
        };
        (flow, FlowEnds { sender, receiver, done: done_tx })
    }

    /// Joins `thread` when the flow finishes; it must end once its command channel
    /// closes.
    pub fn join_on_finish(&mut self, thread: JoinHandle<()>) {
        self.threads.push(thread);
    }

    /// Sends `n` messages; returns the time until the receiver had them, and what it
    /// counted. The receiver is told first so it never misses the batch's start.
    pub fn time(&self, n: u64) -> (Duration, u64) {
        self.asked.set(self.asked.get() + n);
        let start = Instant::now();
        // A send fails only when that side is not listening (a pattern whose sender
        // also receives), which the rig that built it chose.
        let _ = self.to_receiver.as_ref().map(|tx| tx.send(n));
        let _ = self.to_sender.as_ref().map(|tx| tx.send(n));
        let counted = self.done.recv().expect("the receiving side ended early: see its panic");
        (start.elapsed(), counted)
    }

    /// Closes the command channels and waits for the flow's threads; returns how many
    /// messages were asked for in all.
    pub fn finish(mut self) -> u64 {
        self.to_sender = None;
        self.to_receiver = None;
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                panic!("a bench thread panicked; its message is above");
            }
        }
        self.asked.get()
    }
}

/// Serves a flow's sending side: for each command, `send_one` that many times.
pub async fn send_batches(mut commands: UnboundedReceiver<u64>, mut send_one: impl AsyncFnMut()) {
    while let Some(n) = commands.recv().await {
        for _ in 0..n {
            send_one().await;
        }
    }
}

/// Serves a flow's receiving side: for each command, `recv_one` that many times,
/// then reports the batch done.
pub async fn receive_batches(
    mut commands: UnboundedReceiver<u64>,
    done: std_mpsc::Sender<u64>,
    mut recv_one: impl AsyncFnMut(),
) {
    while let Some(n) = commands.recv().await {
        for _ in 0..n {
            recv_one().await;
        }
        if done.send(n).is_err() {
            return;
        }
    }
}

/// What a [`RoundTrip`] client is asked to do.
#[derive(Clone, Copy, Debug)]
pub enum Ask {
    /// `n` round trips back to back (criterion's closed-loop figure).
    Closed(u64),
    /// `count` round trips at `rate_per_sec`, open loop.
    Open { rate_per_sec: f64, count: u64 },
}

/// What the client answers.
#[derive(Debug)]
pub enum Answer {
    Closed(Duration),
    Open(Box<Histogram<u64>>),
}

/// A request-reply client and whatever serves it.
#[derive(Debug)]
pub struct RoundTrip {
    to_client: UnboundedSender<Ask>,
    answers: std_mpsc::Receiver<Answer>,
    /// Round trips asked for so far, closed and open loop: with the process's CPU
    /// time or system calls this gives a cost per round trip.
    asked: std::cell::Cell<u64>,
}

/// The implementation's end of a [`RoundTrip`].
#[derive(Debug)]
pub struct RoundTripEnds {
    pub asks: UnboundedReceiver<Ask>,
    pub answers: std_mpsc::Sender<Answer>,
}

impl RoundTrip {
    pub fn new() -> (RoundTrip, RoundTripEnds) {
        let (to_client, asks) = unbounded_channel();
        let (answers_tx, answers) = std_mpsc::channel();
        let round_trip = RoundTrip { to_client, answers, asked: std::cell::Cell::new(0) };
        (round_trip, RoundTripEnds { asks, answers: answers_tx })
    }

    /// Time for `n` round trips back to back.
    pub fn closed(&self, n: u64) -> Duration {
        match self.ask(Ask::Closed(n)) {
            Answer::Closed(elapsed) => elapsed,
            Answer::Open(_) => unreachable!("a closed-loop ask gets a closed-loop answer"),
        }
    }

    /// The latency histogram (ns) of an open-loop run.
    pub fn open(&self, rate_per_sec: f64, count: u64) -> Histogram<u64> {
        match self.ask(Ask::Open { rate_per_sec, count }) {
            Answer::Open(histogram) => *histogram,
            Answer::Closed(_) => unreachable!("an open-loop ask gets an open-loop answer"),
        }
    }

    /// Round trips asked for so far.
    pub fn asked(&self) -> u64 {
        self.asked.get()
    }

    fn ask(&self, ask: Ask) -> Answer {
        let n = match ask {
            Ask::Closed(n) => n,
            Ask::Open { count, .. } => count,
        };
        self.asked.set(self.asked.get() + n);
        self.to_client.send(ask).expect("the client thread ended early: see its panic");
        self.answers.recv().expect("the client thread ended early: see its panic")
    }
}

/// Serves a round-trip client whose `round_trip` is async.
pub async fn serve_asks(ends: RoundTripEnds, mut round_trip: impl AsyncFnMut()) {
    let RoundTripEnds { mut asks, answers } = ends;
    while let Some(ask) = asks.recv().await {
        let answer = match ask {
            Ask::Closed(n) => {
                let start = Instant::now();
                for _ in 0..n {
                    round_trip().await;
                }
                Answer::Closed(start.elapsed())
            }
            Ask::Open { rate_per_sec, count } => {
                let mut open = OpenLoop::new(rate_per_sec, count);
                while let Some(intended) = open.wait_turn() {
                    round_trip().await;
                    open.record(intended);
                }
                Answer::Open(Box::new(open.histogram))
            }
        };
        if answers.send(answer).is_err() {
            return;
        }
    }
}

/// Serves a round-trip client whose `round_trip` blocks (libzmq).
#[cfg(feature = "peers")]
pub fn serve_asks_blocking(ends: RoundTripEnds, mut round_trip: impl FnMut()) {
    let RoundTripEnds { mut asks, answers } = ends;
    while let Some(ask) = asks.blocking_recv() {
        let answer = match ask {
            Ask::Closed(n) => {
                let start = Instant::now();
                for _ in 0..n {
                    round_trip();
                }
                Answer::Closed(start.elapsed())
            }
            Ask::Open { rate_per_sec, count } => {
                let mut open = OpenLoop::new(rate_per_sec, count);
                while let Some(intended) = open.wait_turn() {
                    round_trip();
                    open.record(intended);
                }
                Answer::Open(Box::new(open.histogram))
            }
        };
        if answers.send(answer).is_err() {
            return;
        }
    }
}

/// An open-loop schedule: request `i` is meant to leave at `start + i × interval`.
#[derive(Debug)]
pub struct OpenLoop {
    interval: Duration,
    next: Instant,
    remaining: u64,
    histogram: Histogram<u64>,
}

impl OpenLoop {
    pub fn new(rate_per_sec: f64, count: u64) -> OpenLoop {
        OpenLoop {
            interval: Duration::from_secs_f64(1.0 / rate_per_sec),
            next: Instant::now() + SPIN_BEFORE_SEND,
            remaining: count,
            histogram: Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3).expect("valid bounds"),
        }
    }

    /// Blocks the thread until the next request's intended send time and returns
    /// that time; `None` when the schedule is done. When behind (a slow reply held
    /// the client up) it returns at once: the request leaves late, and the lateness
    /// counts as latency. Blocking is safe because the client's socket is idle
    /// between a reply and the next request.
    pub fn wait_turn(&mut self) -> Option<Instant> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let intended = self.next;
        self.next += self.interval;
        let now = Instant::now();
        if intended > now + SPIN_BEFORE_SEND {
            std::thread::sleep(intended - now - SPIN_BEFORE_SEND);
        }
        while Instant::now() < intended {
            std::hint::spin_loop();
        }
        Some(intended)
    }

    /// Records the request meant to leave at `intended` as answered now.
    pub fn record(&mut self, intended: Instant) {
        let nanos = u64::try_from(intended.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(nanos.max(1));
    }
}
