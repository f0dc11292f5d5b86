//! The `client` design: a closed-loop requester that issues `workload.requests`
//! requests one at a time on its `req` socket (REQ or DEALER) and waits for each reply.
//!
//! Message ids are born here (`ctx.next_msg_id()`) and travel in the payload through
//! every broker and device, so invariants can pair each `RequestIssued` with its
//! `ReplyAccepted`. Anything odd that arrives is noted, never panicked on.
//!
//! A request that fails is given up on (`RequestAbandoned`, with a note saying why)
//! and the client stops, except one its REQ reports lost with the pipe it went out
//! on (`RecvError::ConnectionReset`: NNG's REQ with resends off): the socket takes
//! a new request, so the client goes on with the next, as a program handling
//! `NNG_ECONNRESET` would.
//!
//! Time comes through the context (`ctx.now()`, `ctx.sleep`), simulated under turmoil.

use std::future::Future;
use std::pin::Pin;

use crate::socket::{Msg, REQUEST_ID_BIT, RecvError, SocketType};
use crate::trace::{AppEvent, MsgId};

use super::ctx::{NodeCtx, Socket};
use super::kit::Pacer;
use crate::wire::payload::{Payload, PayloadKind};

/// Request size when the workload names none, in bytes.
const DEFAULT_SIZE_BYTES: u64 = 64;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let requests = ctx.workload.requests.unwrap_or(0);
        if requests > 0 {
            issue_all(&ctx, requests).await;
        }
        ctx.finished();
    })
}

/// Waits out `start_at`, then issues the requests in turn until one fails (one lost
/// to a connection reset is given up on, and the next issued).
async fn issue_all(ctx: &NodeCtx, requests: u64) {
    if let Some(start_at) = &ctx.workload.start_at {
        ctx.sleep(ctx.sample_duration(start_at)).await;
    }
    let req = ctx.socket("req");
    let mut pacer = Pacer::new(ctx.workload.rate);
    for _ in 0..requests {
        pacer.wait(ctx).await;
        let id = ctx.next_msg_id();
        if let Err(GaveUp { why, go_on }) = round_trip(ctx, req, id).await {
            ctx.record(AppEvent::Note {
                text: format!("client gave up on {}: {why}", ctx.msg_label(id)),
            });
            ctx.record(AppEvent::RequestAbandoned { id });
            if !go_on {
                return;
            }
        }
    }
}

/// Why a request's reply never came, and whether the socket takes the next one.
struct GaveUp {
    why: String,
    go_on: bool,
}

impl From<String> for GaveUp {
    fn from(why: String) -> GaveUp {
        GaveUp { why, go_on: false }
    }
}

/// What the note says of a failed receive.
fn recv_failed(e: RecvError) -> GaveUp {
    match e {
        RecvError::ConnectionReset => GaveUp {
            why: "recv failed: connection reset (the pipe holding the request was lost and \
                  the REQ does not resend it: NNG's ECONNRESET with resends off)"
                .to_owned(),
            go_on: true,
        },
        RecvError::WouldBlock | RecvError::State => format!("recv failed: {e:?}").into(),
    }
}

/// Issues request `id` and waits for its reply. `Err` says why it never came.
async fn round_trip(ctx: &NodeCtx, req: Socket<'_>, id: MsgId) -> Result<(), GaveUp> {
    ctx.record(AppEvent::RequestIssued { id });
    let size = ctx.workload.size.as_ref().map_or(DEFAULT_SIZE_BYTES, |d| ctx.sample(d) as u64);
    let body = Payload::new(PayloadKind::Request, id, size).encode();
    let header = request_header(req.socket_type(), id);
    req.send(Msg { header, body }).await.map_err(|e| format!("send failed: {e:?}"))?;
    loop {
        let msg = req.recv().await.map_err(recv_failed)?;
        match Payload::peek(&msg.body) {
            Some((PayloadKind::Reply, got, _)) if got == id => break,
            // A REQ's next message is the reply: there is no other to wait for.
            other if req.socket_type() == SocketType::Req => {
                return Err(not_its_reply(other).into());
            }
            other => ctx.record(AppEvent::Note {
                text: format!("client waiting for {id} ignored {other:?}"),
            }),
        }
    }
    ctx.record(AppEvent::ReplyAccepted { id });
    Ok(())
}

/// Why a REQ's reply was not the one its request awaits, as the note says it. A
/// program answering patchbay's requests (a `process:` worker) must send back the
/// request's 20-byte payload header with its kind byte set to Reply (docs/wire-trace.md).
fn not_its_reply(got: Option<(PayloadKind, MsgId, u64)>) -> String {
    let what = match got {
        None => "a body with no patchbay payload header".to_owned(),
        Some((kind, got, _)) => format!("a {kind:?} payload of id {got}"),
    };
    format!(
        "its reply was {what}, where a Reply payload (kind byte 2) with the request's id was \
         awaited; a worker must send back the request's payload header with kind 2 \
         (docs/wire-trace.md)"
    )
}

/// The header the request goes out with. REQ adds its own request id. A DEALER gets
/// one too, as NNG's raw REQ does: without it a REP behind a device finds no request
/// id and drops the request as malformed. The id is the message counter, which is
/// unique within this replica; replies are matched by the payload id regardless.
fn request_header(socket_type: SocketType, id: MsgId) -> Vec<u32> {
    match socket_type {
        SocketType::Dealer => vec![(id as u32) | REQUEST_ID_BIT],
        _ => Vec::new(),
    }
}
