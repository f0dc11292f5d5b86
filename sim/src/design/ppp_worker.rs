//! The `ppp-worker` design: the ZeroMQ guide's Paranoid Pirate worker (chapter 4),
//! a DEALER connected to a `ppp-broker`'s backend.
//!
//! It says "ready", then does each job it is sent for a sampled service time and
//! returns the result (which makes it ready again). It beats every `heartbeat_ivl`,
//! also while it works (the broker must not mistake a long job for a death), and
//! counts the broker's silence: after `liveness` intervals without a word it backs
//! off (one interval, doubling up to 32) and announces itself again with a fresh
//! "ready", as the guide's worker reconnects. The socket's own reconnection is the
//! driver's, with libzmq's backoff; what the design can do is make a restarted
//! broker, which has forgotten it, learn of it again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::socket::{Msg, REQUEST_ID_BIT};
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use crate::wire::payload::{Payload, PayloadKind};

/// Result size when the workload names none, in bytes.
const DEFAULT_RESULT_BYTES: u64 = 64;
/// The longest back-off, in heartbeat intervals (the guide's 32 s at 1 s).
const BACKOFF_MAX_BEATS: u32 = 32;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        // Both are declared positive (`catalog.rs`): beats move time on, and the
        // count of missed beats reaches 0 from above.
        let ivl = ctx.param_duration("heartbeat_ivl");
        let liveness_max = ctx.param_count("liveness");
        let dealer = ctx.socket("dealer");
        let mut liveness = liveness_max;
        let mut backoff = ivl;
        // `None`: the interval reaches past any run, and the worker never beats.
        let mut next_beat = ctx.now().checked_add(ivl);
        // The job in hand and when it will be done.
        let mut job: Option<(MsgId, Duration)> = None;
        send(&ctx, ready(&ctx)).await;
        loop {
            let done_at = job.map_or(Duration::ZERO, |(_, at)| at);
            tokio::select! {
                biased;
                msg = dealer.recv() => {
                    let msg = match msg {
                        Ok(msg) => msg,
                        Err(e) => {
                            let text = format!("ppp-worker stopped: recv failed: {e:?}");
                            return ctx.record(AppEvent::Note { text });
                        }
                    };
                    (liveness, backoff) = (liveness_max, ivl);
                    match Payload::peek(&msg.body) {
                        Some((PayloadKind::Job, id, _)) if job.is_none() => {
                            let service = ctx.workload.service_time.as_ref();
                            let took = service.map(|d| ctx.sample_duration(d)).unwrap_or_default();
                            job = Some((id, ctx.now().saturating_add(took)));
                        }
                        Some((PayloadKind::Heartbeat, ..)) => {}
                        other => {
                            let text = format!("ppp-worker did not expect {other:?}");
                            ctx.record(AppEvent::Note { text });
                        }
                    }
                }
                () = ctx.sleep_until(done_at), if job.is_some() => {
                    let (id, _) = job.take().expect("guarded");
                    ctx.record(AppEvent::WorkDone { id });
                    let len = ctx.workload.size.as_ref().map_or(DEFAULT_RESULT_BYTES, |d| ctx.sample(d) as u64);
                    send(&ctx, Payload::new(PayloadKind::Result, id, len)).await;
                }
                () = ctx.sleep_until_or_never(next_beat) => {
                    liveness -= 1;
                    if liveness == 0 {
                        let text = format!("ppp-worker: broker silent, backing off {backoff:?}");
                        ctx.record(AppEvent::Note { text });
                        ctx.sleep(backoff).await;
                        backoff = backoff.saturating_mul(2).min(ivl.saturating_mul(BACKOFF_MAX_BEATS));
                        liveness = liveness_max;
                        if job.is_none() {
                            send(&ctx, ready(&ctx)).await;
                        }
                    }
                    // A beat the socket cannot take now is dropped: the next one follows,
                    // and waiting here would stop the worker counting the silence.
                    let beat = Payload::new(PayloadKind::Heartbeat, ctx.next_msg_id(), 0);
                    let _ = dealer.try_send(to_broker(&beat));
                    next_beat = ctx.now().checked_add(ivl);
                }
            }
        }
    })
}

fn ready(ctx: &NodeCtx) -> Payload {
    Payload::new(PayloadKind::Ready, ctx.next_msg_id(), 0)
}

/// A DEALER message with a request id on its stack, as NNG's raw REQ sends: the
/// broker's ROUTER (SP's raw REP) drops a message without one as malformed.
fn to_broker(payload: &Payload) -> Msg {
    Msg { header: vec![(payload.id as u32) | REQUEST_ID_BIT], body: payload.encode() }
}

/// Sends to the broker; a send that fails is noted (the beat timer carries on).
async fn send(ctx: &NodeCtx, payload: Payload) {
    if let Err(e) = ctx.socket("dealer").send(to_broker(&payload)).await {
        let text = format!("ppp-worker could not send {:?}: {e:?}", payload.kind);
        ctx.record(AppEvent::Note { text });
    }
}
