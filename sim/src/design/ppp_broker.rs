//! The `ppp-broker` design: the ZeroMQ guide's Paranoid Pirate broker (chapter 4),
//! a load-balancing broker that knows when a worker has died.
//!
//! Clients' requests arrive on the `frontend` ROUTER; `ppp-worker`s talk to the
//! `backend` ROUTER over DEALERs. A worker's "ready" or result puts it at the back of
//! the idle queue; any message from a worker (heartbeats included) renews its
//! expiry. Every `heartbeat_ivl` the broker beats to every worker it knows and
//! expires those it has not heard from for `liveness` intervals. The guide's broker
//! then leaves recovery to the client's retries (Lazy Pirate); this one also puts an
//! expired worker's job back at the front of the queue, so a client that never
//! resends (the gif service's front ends) still gets its reply: the fix for
//! `lru-worker-crash`. A worker is identified by the hop id of its connection, as a
//! ZeroMQ ROUTER identifies a peer by its identity frame.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use crate::wire::payload::{Payload, PayloadKind};

/// The guide's defaults: a beat a second, three missed beats and a worker is dead.
pub(crate) const HEARTBEAT_IVL_DEFAULT: Duration = Duration::from_secs(1);
pub(crate) const LIVENESS_DEFAULT: u64 = 3;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    run_with(ctx, Expiry::Expire)
}

/// Whether silent workers are expired. `Never` is the bug `design/broken/` keeps: a
/// dead worker's job is never handed to anyone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    Expire,
    Never,
}

pub(crate) fn run_with(ctx: NodeCtx, expiry: Expiry) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        // Both are declared positive (`catalog.rs`), so beats move time on.
        let ivl = ctx.param_duration("heartbeat_ivl");
        let liveness = ctx.param_count("liveness");
        let ttl = u32::try_from(liveness).ok().and_then(|n| ivl.checked_mul(n));
        let mut broker = Broker { expiry, ttl, ..Broker::default() };
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        // `None`: the interval reaches past any run, and the broker never beats.
        let mut next_beat = ctx.now().checked_add(ivl);
        loop {
            // Workers first, as the guide polls its backend first; the beat is last so
            // a busy broker still beats (its sleep is ready whenever it is polled).
            let (received, from_worker) = tokio::select! {
                biased;
                msg = backend.recv() => (msg, true),
                msg = frontend.recv() => (msg, false),
                () = ctx.sleep_until_or_never(next_beat) => {
                    broker.beat(&ctx).await;
                    next_beat = next_beat.and_then(|at| after_beat(at, ivl, ctx.now()));
                    broker.dispatch(&ctx).await;
                    continue;
                }
            };
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("ppp-broker stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            if from_worker {
                broker.on_worker(&ctx, msg).await;
            } else {
                broker.on_client(&ctx, msg);
            }
            broker.dispatch(&ctx).await;
        }
    })
}

/// When the beat after the one due at `due` is due, seen at `now`. The guide sets it
/// an interval after the beat went out (`heartbeat_at = zclock_time () +
/// HEARTBEAT_INTERVAL`); counting from when the beat was due instead keeps the beats
/// on their interval when the timer wakes a little late (a tick, an OS timer's
/// grain). A broker late by a whole interval or more (it was blocked, or the interval
/// is shorter than the simulator's tick) skips the beats it missed and beats an
/// interval from now, as the guide's does, where a burst of them at one instant would
/// never let time move on under an interval of a nanosecond. `None`: past any run.
fn after_beat(due: Duration, ivl: Duration, now: Duration) -> Option<Duration> {
    let next = due.checked_add(ivl)?;
    if next > now { Some(next) } else { now.checked_add(ivl) }
}

/// What the broker knows of one worker.
#[derive(Debug)]
struct Worker {
    /// The header of its latest message (hop id, then its request id): how to reach it.
    route: Vec<u32>,
    /// When the worker is declared dead unless it is heard from before; `None`: never
    /// in any run.
    expires_at: Option<Duration>,
    /// The job it is doing, if any, to requeue when it dies.
    job: Option<(Vec<u32>, Payload)>,
}

#[derive(Debug)]
struct Broker {
    expiry: Expiry,
    /// How long a worker may be silent: `liveness` heartbeat intervals; `None` when
    /// that is longer than a `Duration` holds, which no run reaches.
    ttl: Option<Duration>,
    /// Every live worker, by the hop id of its connection.
    workers: BTreeMap<u32, Worker>,
    /// Idle workers, longest idle first.
    idle: VecDeque<u32>,
    /// Requests waiting for a worker, oldest first, with their client's header.
    jobs: VecDeque<(Vec<u32>, Payload)>,
    /// Which client each job in progress belongs to, by job id.
    owners: BTreeMap<MsgId, Vec<u32>>,
}

impl Default for Broker {
    fn default() -> Broker {
        Broker {
            expiry: Expiry::Expire,
            ttl: Some(HEARTBEAT_IVL_DEFAULT * LIVENESS_DEFAULT as u32),
            workers: BTreeMap::new(),
            idle: VecDeque::new(),
            jobs: VecDeque::new(),
            owners: BTreeMap::new(),
        }
    }
}

impl Broker {
    async fn on_worker(&mut self, ctx: &NodeCtx, msg: Msg) {
        let Some(&hop) = msg.header.first() else {
            return ctx.record(AppEvent::Note {
                text: "ppp-broker: a worker message with no hop id".into(),
            });
        };
        let expires_at = self.ttl.and_then(|ttl| ctx.now().checked_add(ttl));
        let worker = self.workers.entry(hop).or_insert(Worker {
            route: msg.header.clone(),
            expires_at,
            job: None,
        });
        worker.route = msg.header;
        worker.expires_at = expires_at;
        match Payload::decode(&msg.body) {
            Some(p) if p.kind == PayloadKind::Heartbeat => {}
            Some(p) if p.kind == PayloadKind::Ready => self.ready(hop),
            Some(p) if p.kind == PayloadKind::Result => {
                worker.job = None;
                self.deliver(ctx, &p).await;
                self.ready(hop);
            }
            other => {
                let text = format!("ppp-broker got an odd worker message: {other:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }

    /// The worker waits for a job: to the back of the idle queue (once).
    fn ready(&mut self, hop: u32) {
        self.idle.retain(|h| *h != hop);
        self.idle.push_back(hop);
    }

    async fn deliver(&mut self, ctx: &NodeCtx, result: &Payload) {
        let Some(client) = self.owners.remove(&result.id) else {
            // A job requeued from a worker presumed dead, which was only slow.
            let text = format!("ppp-broker got a result for unknown job {}", result.id);
            return ctx.record(AppEvent::Note { text });
        };
        let reply = Payload::new(PayloadKind::Reply, result.id, result.modelled_len);
        let sent = ctx.socket("frontend").send(Msg { header: client, body: reply.encode() }).await;
        if let Err(e) = sent {
            let text = format!("ppp-broker could not reply for {}: {e:?}", result.id);
            ctx.record(AppEvent::Note { text });
        }
    }

    fn on_client(&mut self, ctx: &NodeCtx, msg: Msg) {
        match Payload::decode(&msg.body) {
            Some(request) if request.kind == PayloadKind::Request => {
                self.jobs.push_back((msg.header, request));
            }
            other => {
                let text = format!("ppp-broker got an odd client message: {other:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }

    /// Beats to every known worker and expires the silent ones, requeueing their jobs
    /// ahead of newer ones.
    async fn beat(&mut self, ctx: &NodeCtx) {
        let now = ctx.now();
        if self.expiry == Expiry::Expire {
            let dead =
                self.workers.iter().filter(|(_, w)| w.expires_at.is_some_and(|at| at <= now));
            let dead: Vec<u32> = dead.map(|(h, _)| *h).collect();
            for hop in dead {
                let worker = self.workers.remove(&hop).expect("listed above");
                self.idle.retain(|h| *h != hop);
                let text = format!("ppp-broker expired the worker on pipe {hop}");
                ctx.record(AppEvent::Note { text });
                if let Some(job) = worker.job {
                    self.jobs.push_front(job);
                }
            }
        }
        let backend = ctx.socket("backend");
        for worker in self.workers.values() {
            let beat = Payload::new(PayloadKind::Heartbeat, ctx.next_msg_id(), 0);
            // A beat that cannot be sent is not worth waiting for: the next one follows.
            let _ = backend.try_send(Msg { header: worker.route.clone(), body: beat.encode() });
        }
    }

    async fn dispatch(&mut self, ctx: &NodeCtx) {
        while !self.idle.is_empty() && !self.jobs.is_empty() {
            let hop = self.idle.pop_front().expect("checked non-empty");
            let (client, request) = self.jobs.pop_front().expect("checked non-empty");
            self.owners.insert(request.id, client.clone());
            let worker = self.workers.get_mut(&hop).expect("idle workers are known");
            worker.job = Some((client, request.clone()));
            let header = worker.route.clone();
            let job = Payload::new(PayloadKind::Job, request.id, request.modelled_len);
            let sent = ctx.socket("backend").send(Msg { header, body: job.encode() }).await;
            if let Err(e) = sent {
                let text = format!("ppp-broker could not dispatch {}: {e:?}", request.id);
                ctx.record(AppEvent::Note { text });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn beats_keep_their_interval_and_skip_what_a_late_broker_missed() {
        // On time, and late by less than an interval: the next beat stays on the grid.
        assert_eq!(after_beat(ms(1000), ms(1000), ms(1000)), Some(ms(2000)));
        assert_eq!(after_beat(ms(1000), ms(1000), ms(1500)), Some(ms(2000)));
        // Late by an interval or more: an interval from now, not a burst to catch up.
        assert_eq!(after_beat(ms(1000), ms(1000), ms(2500)), Some(ms(3500)));
        // An interval of a nanosecond under a 1 ms tick: the timer woke at the tick,
        // and the next beat is the next tick's, not a million beats at this one.
        let ns = Duration::from_nanos(1);
        assert_eq!(after_beat(ms(1) + ns, ns, ms(2)), Some(ms(2) + ns));
        // Past what a `Duration` holds: no beat in any run.
        assert_eq!(after_beat(ms(1000), Duration::MAX, ms(1000)), None);
    }
}
