//! The `lazy-pirate-client` design: the ZeroMQ guide's Lazy Pirate client (chapter
//! 4), reliable request-reply done in the client alone.
//!
//! libzmq's REQ never resends: a request lost with its connection leaves the socket
//! waiting for ever, and it refuses another send (docs/library-semantics.md, "REQ").
//! The guide's cure: wait for the reply at most `request_timeout` (2,500 ms in the
//! guide); on a timeout, close the REQ socket, open a fresh one, and send the same
//! request again; after `retries` timeouts of one request (3 in the guide, which
//! counts the first send: so two resends) give up, record `RequestAbandoned`, and
//! stop, as the guide's client exits. A reply resets the count. The guide sets
//! `ZMQ_LINGER` 0 on its REQ so that the request it gives up on goes with the closed
//! socket; that is the topology's `linger: 0s` here (topologies/lazy-pirate.yaml),
//! and without it the old socket delivers the request when the server is back.
//!
//! Messages carry the same payload ids as the `client` design's, so `no_lost_replies`
//! pairs each `RequestIssued` with its `ReplyAccepted`; a resend is the same request
//! (the same id), not a new one. One difference from the guide: after an unexpected
//! message the wait goes on to the same deadline, where the guide polls a full
//! timeout again.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

use super::ctx::{NodeCtx, Socket};
use crate::wire::payload::{Payload, PayloadKind};

/// Request size when the workload names none, in bytes.
const DEFAULT_SIZE_BYTES: u64 = 64;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let requests = ctx.workload.requests.unwrap_or(0);
        if let Some(start_at) = &ctx.workload.start_at {
            ctx.sleep(ctx.sample_duration(start_at)).await;
        }
        let pirate = Pirate {
            ctx: &ctx,
            timeout: ctx.param_duration("request_timeout"),
            // Declared at least 1 (`catalog.rs`): the guide's 0 would send nothing.
            retries: ctx.param_count("retries"),
        };
        for _ in 0..requests {
            if !pirate.request(ctx.next_msg_id()).await {
                break;
            }
        }
        ctx.finished();
    })
}

/// One client's settings.
struct Pirate<'a> {
    ctx: &'a NodeCtx,
    /// How long to wait for a reply before reopening and resending.
    timeout: Duration,
    /// Timeouts of one request before it is abandoned, the first send included.
    retries: u64,
}

impl Pirate<'_> {
    /// Issues request `id` until it is answered (`true`) or abandoned (`false`).
    async fn request(&self, id: MsgId) -> bool {
        let ctx = self.ctx;
        ctx.record(AppEvent::RequestIssued { id });
        let size = ctx.workload.size.as_ref().map_or(DEFAULT_SIZE_BYTES, |d| ctx.sample(d) as u64);
        let request =
            Msg { header: Vec::new(), body: Payload::new(PayloadKind::Request, id, size).encode() };
        let mut left = self.retries;
        let mut sent = self.send(id, &request).await;
        loop {
            // `None`: a timeout past what a `Duration` holds, which no run reaches.
            let deadline = ctx.now().checked_add(self.timeout);
            if sent && self.await_reply(id, deadline).await {
                ctx.record(AppEvent::ReplyAccepted { id });
                return true;
            }
            left -= 1;
            if left == 0 {
                let text = format!(
                    "lazy pirate: no reply to {}, server seems to be offline, abandoning",
                    ctx.msg_label(id)
                );
                ctx.record(AppEvent::Note { text });
                ctx.record(AppEvent::RequestAbandoned { id });
                return false;
            }
            let text = format!(
                "lazy pirate: no reply to {}, reopening and resending ({left} tries left)",
                ctx.msg_label(id)
            );
            ctx.record(AppEvent::Note { text });
            if let Err(why) = ctx.reopen("req").await {
                ctx.record(AppEvent::Note { text: format!("lazy pirate: {why}") });
                ctx.record(AppEvent::RequestAbandoned { id });
                return false;
            }
            sent = self.send(id, &request).await;
        }
    }

    fn req(&self) -> Socket<'_> {
        self.ctx.socket("req")
    }

    /// Sends the request; a refusal is noted and counts as a timeout (a fresh socket
    /// is the cure either way).
    async fn send(&self, id: MsgId, request: &Msg) -> bool {
        let req = self.req();
        let sent = tokio::select! {
            biased;
            sent = req.send(request.clone()) => sent,
            () = self.ctx.sleep(self.timeout) => {
                return self.note(format!("lazy pirate: send of {id} timed out"));
            }
        };
        match sent {
            Ok(()) => true,
            Err(e) => self.note(format!("lazy pirate: send of {id} failed: {e:?}")),
        }
    }

    /// Waits until `deadline` (for ever without one) for the reply to `id`; anything
    /// else is noted and ignored.
    async fn await_reply(&self, id: MsgId, deadline: Option<Duration>) -> bool {
        let req = self.req();
        loop {
            let got = tokio::select! {
                biased;
                got = req.recv() => got,
                () = self.ctx.sleep_until_or_never(deadline) => return false,
            };
            match got.map(|msg| Payload::peek(&msg.body)) {
                Ok(Some((PayloadKind::Reply, got, _))) if got == id => return true,
                Ok(other) => {
                    self.note(format!("lazy pirate waiting for {id} ignored {other:?}"));
                }
                Err(e) => return self.note(format!("lazy pirate: recv failed: {e:?}")),
            }
        }
    }

    /// Records `text`; returns `false` so failure paths can end with it.
    fn note(&self, text: String) -> bool {
        self.ctx.record(AppEvent::Note { text });
        false
    }
}
