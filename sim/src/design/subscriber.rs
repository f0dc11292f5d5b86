//! The `subscriber` design: the guide's weather client (`wuclient`) and envelope
//! subscriber (`psenvsub`), receiving on its `sub` socket from `workload.join_at`
//! until `workload.leave_at`.
//!
//! How joining is modelled: a real slow joiner is a process that subscribes late, so
//! what it misses is everything published before its subscription reached the
//! publisher. The runtime opens the SUB at node start, already subscribed to its
//! configured prefixes, and a design cannot read its socket's options. So a subscriber
//! whose `join_at` lies in the future holds back the catch-all prefix: it cancels `""`
//! at once (`0x00`) and subscribes to it again (`0x01`) at `join_at`, recording
//! `Joined`. Every shipped topology whose scenario delays a join subscribes to `""`,
//! for which this is exact; a socket configured with narrower prefixes keeps them
//! from the start, and would gain `""` at the join, so such a topology should not set
//! `join_at`. At `leave_at` it cancels `""`, records `Left` and stops receiving.
//!
//! What it receives is in the socket trace; for multipart envelopes, whose id the
//! trace cannot see, it records `PartsReceived` as well.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::socket::{Msg, multipart};
use crate::trace::AppEvent;

use super::ctx::{NodeCtx, Socket};
use crate::wire::payload::Payload;

/// The prefix a delayed join holds back: everything.
const CATCH_ALL: &[u8] = b"";

/// Tags a payload's extra bytes with the number of frames its message was sent as.
pub(super) const FRAMES_TAG: &[u8] = b"frames=";

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let sub = ctx.socket("sub");
        join(&ctx, sub).await;
        receive_until_leave(&ctx, sub).await;
    })
}

/// Subscribes at `workload.join_at` (see the module comment) and records `Joined`.
pub(super) async fn join(ctx: &NodeCtx, sub: Socket<'_>) {
    let join_at = ctx.workload.join_at.as_ref().map(|d| ctx.sample_duration(d));
    if let Some(join_at) = join_at.filter(|at| *at > ctx.now()) {
        set_subscription(ctx, sub, false, CATCH_ALL).await;
        ctx.sleep_until(join_at).await;
        set_subscription(ctx, sub, true, CATCH_ALL).await;
    }
    ctx.record(AppEvent::Joined);
}

/// Receives until `workload.leave_at` (for ever without one), then leaves.
pub(super) async fn receive_until_leave(ctx: &NodeCtx, sub: Socket<'_>) {
    let leave_at = ctx.workload.leave_at.as_ref().map(|d| ctx.sample_duration(d));
    let leave = async {
        match leave_at {
            Some(at) => ctx.sleep_until(at).await,
            None => std::future::pending::<()>().await,
        }
    };
    let mut leave = std::pin::pin!(leave);
    loop {
        tokio::select! {
            biased;
            () = &mut leave => break,
            received = sub.recv() => match received {
                Ok(msg) => note_parts(ctx, &msg),
                Err(e) => {
                    let text = format!("{} stopped receiving: {e:?}", ctx.name);
                    return ctx.record(AppEvent::Note { text });
                }
            },
        }
    }
    set_subscription(ctx, sub, false, CATCH_ALL).await;
    ctx.record(AppEvent::Left);
}

/// Records how many frames a multipart message arrived as, against the count its
/// payload says the sender wrote; a bare payload is in the socket trace already.
pub(super) fn note_parts(ctx: &NodeCtx, msg: &Msg) {
    let frames = multipart::decode(&msg.body);
    let Some(payload) = frames.iter().rev().find_map(Payload::decode) else { return };
    let expected = frames_written(&payload.extra).unwrap_or(1);
    if frames.len() > 1 || expected > 1 {
        let parts = frames.len() as u32;
        ctx.record(AppEvent::PartsReceived { id: payload.id, parts, expected });
    }
}

/// The frame count a publisher wrote into a payload's extra bytes (`frames=N`).
pub(super) fn frames_written(extra: &[u8]) -> Option<u32> {
    std::str::from_utf8(extra.strip_prefix(FRAMES_TAG)?).ok()?.parse().ok()
}

/// Subscribes to (`on`) or cancels `prefix`, the way ZeroMQ's XSUB is told to.
pub(super) async fn set_subscription(ctx: &NodeCtx, sub: Socket<'_>, on: bool, prefix: &[u8]) {
    let mut body = Vec::with_capacity(prefix.len() + 1);
    body.push(u8::from(on));
    body.extend_from_slice(prefix);
    if let Err(e) = sub.send(Msg::new(Bytes::from(body))).await {
        let text = format!("{} could not change its subscription: {e:?}", ctx.name);
        ctx.record(AppEvent::Note { text });
    }
}
