//! The `echo-worker` design: answers every request on its `rep` socket (REP, or a
//! DEALER behind a device) after a sampled service time.
//!
//! A request with a patchbay payload is answered with a `Reply` carrying the same id,
//! and counted as work done; a foreign body (from a real NNG peer, say) is echoed
//! unchanged. The reply keeps the request's header: a REP restores the backtrace
//! itself, a DEALER needs the header back to route the reply through the device.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let rep = ctx.socket("rep");
        loop {
            let request = match rep.recv().await {
                Ok(request) => request,
                Err(e) => {
                    let text = format!("echo-worker stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            kit::serve(&ctx).await;
            // A failed send loses one reply, which the requester sees; the worker
            // itself can go on serving.
            if let Err(e) = rep.send(answer(&ctx, request)).await {
                ctx.record(AppEvent::Note { text: format!("echo-worker send failed: {e:?}") });
            }
        }
    })
}

/// The reply to `request`: a `Reply` with the request's id when it has a payload
/// (sized from `workload.size`, else as the request), the request itself when not.
fn answer(ctx: &NodeCtx, request: Msg) -> Msg {
    let Some(payload) = Payload::decode(&request.body) else { return request };
    ctx.record(AppEvent::WorkDone { id: payload.id });
    let len = ctx.workload.size.as_ref().map_or(payload.modelled_len, |d| ctx.sample(d) as u64);
    let body = Payload::new(PayloadKind::Reply, payload.id, len).encode();
    Msg { header: request.header, body }
}
