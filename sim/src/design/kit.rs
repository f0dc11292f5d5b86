//! The design kit: the small helpers the built-in designs are written with, public so
//! a user's design is written the same way.
//!
//! - pacing sends at a workload's rate ([`Pacer`]),
//! - start times drawn from `workload.start_at` ([`start_time`], [`wait_start`]),
//! - payload sizes drawn from `workload.size` ([`sample_size`]) and service times
//!   from `workload.service_time` ([`serve`]),
//! - staying up once the work is done ([`stay_up`]).
//!
//! Parameters are read with the context's typed accessors
//! ([`NodeCtx::param_duration`] and the others). Every draw comes from the replica's
//! seeded generator, in the order the calls are made, so a design stays deterministic.
//!
//! ```
//! use patchbay::prelude::*;
//!
//! // A producer that sends `workload.requests` messages at `workload.rate` per second.
//! let spec = Design::new("steady-producer")
//!     .role(Role::Producer)
//!     .socket("out", &[SocketType::Push], "where messages go")
//!     .workload(&["requests", "rate", "start_at", "size"])
//!     .run(|ctx| async move {
//!         let mut pacer = kit::Pacer::new(ctx.workload.rate).not_before(kit::start_time(&ctx));
//!         for _ in 0..ctx.workload.requests.unwrap_or(0) {
//!             pacer.wait(&ctx).await;
//!             let payload = Payload::new(PayloadKind::Task, ctx.next_msg_id(), kit::sample_size(&ctx));
//!             if ctx.socket("out").send(Msg::new(payload.encode())).await.is_err() {
//!                 return;
//!             }
//!         }
//!         ctx.finished();
//!         kit::stay_up().await;
//!     });
//! assert_eq!(spec.workload_fields(), ["requests", "rate", "start_at", "size"]);
//! ```

use std::time::Duration;

use super::ctx::NodeCtx;
use crate::trace::MAX_COUNTER;

/// Payload size when the workload names none, in bytes.
pub const DEFAULT_SIZE_BYTES: u64 = 64;

/// The most messages one replica's workload may ask for (`requests`, `publishes`,
/// `chunks`), which the resolver holds a workload to, in every topology. Each is one
/// message id, and an incarnation of a node of any count may number [`MAX_COUNTER`]
/// ids (2^20; `plan/msg_id.rs`), so that ids stay unique across a run. A design may
/// make one id besides its workload's (the ventilator's batch start, an aggregator
/// client's hello), hence one less. Ids past the workload's (heartbeats, replies)
/// may go on to the group's own limit,
/// [`MsgIdLayout::max_counter`](crate::plan::MsgIdLayout::max_counter) (2^32 for a
/// node of up to 4,096 replicas); a workload is not allowed that far, which would take
/// a replica billions of messages that no trace holds.
pub const WORKLOAD_MESSAGES_MAX: u64 = MAX_COUNTER - 1;

/// Keeps a finished node running. Its sockets live as long as the design does, and a
/// socket dropped early discards what it has not yet written (a connection that is
/// not up yet loses its whole queue), so a process that has done its work stays up,
/// as the guide's examples do, until the run ends or a fault kills it.
pub async fn stay_up() {
    std::future::pending::<()>().await;
}

/// Waits out `workload.start_at`, if the scenario gives one.
pub async fn wait_start(ctx: &NodeCtx) {
    ctx.sleep_until(start_time(ctx)).await;
}

/// When `workload.start_at` says to start (drawn once per call), zero without one.
pub fn start_time(ctx: &NodeCtx) -> Duration {
    ctx.workload.start_at.as_ref().map_or(Duration::ZERO, |d| ctx.sample_duration(d))
}

/// A modelled payload size drawn from `workload.size`, [`DEFAULT_SIZE_BYTES`] without one.
pub fn sample_size(ctx: &NodeCtx) -> u64 {
    ctx.workload.size.as_ref().map_or(DEFAULT_SIZE_BYTES, |d| ctx.sample(d) as u64)
}

/// Spends one service time drawn from `workload.service_time` (none without one), as
/// a worker does between taking a request and answering it.
pub async fn serve(ctx: &NodeCtx) {
    if let Some(service_time) = &ctx.workload.service_time {
        ctx.sleep(ctx.sample_duration(service_time)).await;
    }
}

/// How late a timer may wake: tokio's resolution, a millisecond, which is also the
/// simulator's smallest tick. A pacer takes a sender this late as on time.
const TIMER_GRAIN: Duration = Duration::from_millis(1);

/// Keeps sends at most `rate` per second: each send waits until one interval after
/// the previous one was due. A wait's timer that wakes late (on the simulator's next
/// tick, or the OS's next millisecond) costs no rate: the next interval counts from
/// the instant waited for, so 300/s is 300 a second though 3.33 ms is no whole tick,
/// and 1,000/s over real TCP is not about 475. A sender slower than the interval, by a
/// timer's grain (1 ms) or more, sends at once and counts from then, never in a burst to
/// catch up. Dropping a `wait` half way is harmless: the next call waits for the same
/// instant.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    /// When the next send may go, as time since the run's epoch.
    next_at: Option<Duration>,
}

impl Pacer {
    /// A pacer at `rate` sends per second. A rate that is not a positive finite
    /// number leaves sends unpaced; the resolver refuses such rates in a workload. A
    /// rate so low that its interval is longer than a `Duration` holds (under about
    /// one send in 584 billion years) is paced at that longest interval: the first send
    /// goes, and no run lasts until the second, as the rate says.
    pub fn new(rate: Option<f64>) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::try_from_secs_f64(1.0 / r).unwrap_or(Duration::MAX));
        Pacer { interval, next_at: None }
    }

    /// A pacer whose first send waits until `at` (time since the run's start).
    pub fn not_before(mut self, at: Duration) -> Pacer {
        self.next_at = Some(at);
        self
    }

    /// Waits until the next send may go.
    pub async fn wait(&mut self, ctx: &NodeCtx) {
        let called = ctx.now();
        if let Some(at) = self.next_at {
            ctx.sleep_until(at).await;
        }
        // On time, or late by less than a timer's grain (the last wake-up's lateness):
        // the next counts from the instant this one was due. Later (the sender was
        // slower than the interval): from now.
        let on_time = |at: &Duration| called < at.saturating_add(TIMER_GRAIN);
        let due = self.next_at.filter(on_time).unwrap_or_else(|| ctx.now());
        self.next_at = self.interval.map(|interval| due.saturating_add(interval));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_too_low_for_its_interval_to_fit_a_duration_is_paced_not_unpaced() {
        // 1e-20 a second: an interval of 1e20 s, past the 1.8e19 s a `Duration` holds.
        // Taken as no pacing at all, it sent a whole workload at once.
        assert_eq!(Pacer::new(Some(1e-20)).interval, Some(Duration::MAX));
        assert_eq!(Pacer::new(Some(4.0)).interval, Some(Duration::from_millis(250)));
        assert_eq!(Pacer::new(None).interval, None);
    }
}
