//! `lossy-echo-worker` (broken): an `echo-worker` that silently drops every 5th
//! request it receives, counted per incarnation.
//!
//! The dropped request is neither answered nor noted: the bug class is a worker that
//! swallows work on some path (an error branch that `continue`s, a full buffer it
//! ignores). Unless the requester's REQ resends within the run, that request never
//! gets a reply, and `no_lost_replies` must say so. Everything else is the built-in
//! worker's behaviour: same sockets, same service time, same reply.

use std::future::Future;
use std::pin::Pin;

use crate::design::ctx::NodeCtx;
use crate::socket::Msg;
use crate::trace::AppEvent;
use crate::wire::payload::{Payload, PayloadKind};

/// Every this-many-th request is dropped.
const DROP_EVERY: u64 = 5;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let rep = ctx.socket("rep");
        let mut received = 0u64;
        loop {
            let request = match rep.recv().await {
                Ok(request) => request,
                Err(e) => {
                    let text = format!("lossy-echo-worker stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            received += 1;
            if received.is_multiple_of(DROP_EVERY) {
                // The planted bug: no reply, no note. An SP REP forgets the pending
                // request at the next receive; a `zeromq` one refuses that receive
                // (libzmq's EFSM), and the worker stops with a note.
                continue;
            }
            if let Some(service_time) = &ctx.workload.service_time {
                ctx.sleep(ctx.sample_duration(service_time)).await;
            }
            if let Err(e) = rep.send(answer(&ctx, request)).await {
                ctx.record(AppEvent::Note {
                    text: format!("lossy-echo-worker send failed: {e:?}"),
                });
            }
        }
    })
}

/// The reply to `request`, as `echo-worker` builds it: a `Reply` with the request's id
/// (sized from `workload.size`, else as the request), or the request itself when it
/// has no patchbay payload.
fn answer(ctx: &NodeCtx, request: Msg) -> Msg {
    let Some(payload) = Payload::decode(&request.body) else { return request };
    ctx.record(AppEvent::WorkDone { id: payload.id });
    let len = ctx.workload.size.as_ref().map_or(payload.modelled_len, |d| ctx.sample(d) as u64);
    let body = Payload::new(PayloadKind::Reply, payload.id, len).encode();
    Msg { header: request.header, body }
}
