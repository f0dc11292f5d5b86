//! The `sync-subscriber` design: the guide's synchronized subscriber (`syncsub`).
//!
//! It joins as the `subscriber` design does (subscribing at `workload.join_at`),
//! then checks in with the publisher: one request on its `sync` REQ socket, whose
//! reply it awaits, so that the publisher starts only once every subscriber is
//! subscribed. Then it receives until `workload.leave_at`.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::subscriber::{join, receive_until_leave};
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let sub = ctx.socket("sub");
        join(&ctx, sub).await;
        if let Err(why) = check_in(&ctx).await {
            let text = format!("sync-subscriber could not check in: {why}");
            return ctx.record(AppEvent::Note { text });
        }
        receive_until_leave(&ctx, sub).await;
    })
}

/// Sends one check-in on `sync` and waits for its reply.
async fn check_in(ctx: &NodeCtx) -> Result<(), String> {
    let sync = ctx.socket("sync");
    let id = ctx.next_msg_id();
    let ready = Payload::new(PayloadKind::Ready, id, 0).encode();
    sync.send(Msg::new(ready)).await.map_err(|e| format!("send failed: {e:?}"))?;
    sync.recv().await.map_err(|e| format!("recv failed: {e:?}"))?;
    Ok(())
}
