//! `duplicating-queue-device` (broken): a QUEUE device that forwards every client
//! request to its backend twice.
//!
//! The bug class is a retry without idempotence: a device (or a proxy's error path)
//! that sends a message again although the first send succeeded. The backend DEALER
//! deals the two copies round-robin, so with one worker that worker's application
//! receives the same message id twice and `no_duplicate_delivery` must report it.
//! Both replies come back; the requester's REQ accepts the first and drops the second
//! as late, so the requester alone would never notice. Replies are copied back once,
//! as in the correct device.

use std::future::Future;
use std::pin::Pin;

use crate::design::ctx::{NodeCtx, Socket};
use crate::socket::Msg;
use crate::trace::AppEvent;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        loop {
            // Replies first, as in `queue-device`, so a flood of requests cannot
            // starve them.
            let (received, to, copies, direction) = tokio::select! {
                biased;
                reply = backend.recv() => (reply, frontend, 1, "reply"),
                request = frontend.recv() => (request, backend, 2, "request"),
            };
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text =
                        format!("duplicating-queue-device stopped: {direction} recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            for _ in 0..copies {
                forward(&ctx, to, msg.clone(), direction).await;
            }
        }
    })
}

/// Sends `msg` on; a refusal loses it, as in a real device, and is noted.
async fn forward(ctx: &NodeCtx, to: Socket<'_>, msg: Msg, direction: &str) {
    if let Err(e) = to.send(msg).await {
        let text = format!("duplicating-queue-device could not forward a {direction}: {e:?}");
        ctx.record(AppEvent::Note { text });
    }
}
