//! The `ready-worker` design: article 000's worker, a REQ connected to the broker's
//! backend ROUTER.
//!
//! Its first request says "ready"; the broker holds it until there is a job and
//! answers with the job. Each later request carries the previous job's result and
//! doubles as the next "ready". This is the design that exposes article 000's hazard:
//! when the broker holds a "ready" longer than the REQ's resend interval, the REQ
//! resends it, the broker queues the worker twice, and the REQ discards one of the
//! two jobs it is sent as a late reply.
//!
//! A receive that fails with a connection reset (NNG's REQ with resends off, whose
//! pipe to the broker was lost with the request on it) loses that request, and any
//! result it carried; the worker notes it and says "ready" again, as the socket takes
//! a new request. Any other failure stops the worker.

use std::future::Future;
use std::pin::Pin;

use crate::socket::{Msg, RecvError};
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use super::kit;
use crate::wire::payload::{Payload, PayloadKind};

/// Result size when the workload names none, in bytes.
const DEFAULT_RESULT_BYTES: u64 = 64;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let req = ctx.socket("req");
        let mut next = ready(&ctx);
        loop {
            if let Err(e) = req.send(Msg::new(next.encode())).await {
                let text = format!("ready-worker stopped: send failed: {e:?}");
                return ctx.record(AppEvent::Note { text });
            }
            let reply = match req.recv().await {
                Ok(reply) => reply,
                Err(RecvError::ConnectionReset) => {
                    let text = "ready-worker's request was lost with its connection \
                                (connection reset: the REQ does not resend); ready again"
                        .to_owned();
                    ctx.record(AppEvent::Note { text });
                    next = ready(&ctx);
                    continue;
                }
                Err(e) => {
                    let text = format!("ready-worker stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            next = match Payload::peek(&reply.body) {
                Some((PayloadKind::Job, id, _)) => work(&ctx, id).await,
                other => {
                    // The REQ is idle again after any reply, so a fresh "ready" is
                    // the only way to ask for work once more.
                    let text = format!("ready-worker expected a job, got {other:?}");
                    ctx.record(AppEvent::Note { text });
                    ready(&ctx)
                }
            };
        }
    })
}

/// A "ready" with a fresh id and no result in it.
fn ready(ctx: &NodeCtx) -> Payload {
    Payload::new(PayloadKind::Ready, ctx.next_msg_id(), 0)
}

/// Does job `id` for a sampled service time and returns its result.
async fn work(ctx: &NodeCtx, id: MsgId) -> Payload {
    kit::serve(ctx).await;
    ctx.record(AppEvent::WorkDone { id });
    let len = ctx.workload.size.as_ref().map_or(DEFAULT_RESULT_BYTES, |d| ctx.sample(d) as u64);
    Payload::new(PayloadKind::Result, id, len)
}
