//! The `sync-publisher` design: the guide's synchronized publisher (`syncpub`).
//!
//! Before it publishes, it waits until `params.subscribers` subscribers have checked
//! in on its `sync` REP socket, answering each check-in as it arrives; then it
//! publishes exactly as the `publisher` design does. Waiting for the check-ins is the
//! guide's cure for the slow joiner: a subscriber checks in only once subscribed.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit::{stay_up, wait_start};
use super::publisher::publish_all;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let expected = ctx.param_count("subscribers");
        if !await_check_ins(&ctx, expected).await {
            return;
        }
        wait_start(&ctx).await;
        publish_all(&ctx).await;
        ctx.finished();
        stay_up().await;
    })
}

/// Answers check-ins on `sync` until `expected` have arrived. `false` when the REP
/// fails, which no later attempt would mend.
async fn await_check_ins(ctx: &NodeCtx, expected: u64) -> bool {
    let sync = ctx.socket("sync");
    for _ in 0..expected {
        let answered = match sync.recv().await {
            Ok(check_in) => sync.send(answer(check_in)).await.map_err(|e| format!("{e:?}")),
            Err(e) => Err(format!("{e:?}")),
        };
        if let Err(why) = answered {
            let text = format!("sync-publisher stopped waiting for subscribers: {why}");
            ctx.record(AppEvent::Note { text });
            return false;
        }
    }
    true
}

/// The reply to a check-in: a `Reply` with its id, or the check-in itself when it
/// carries no payload. The REP puts the requester's backtrace back itself.
fn answer(check_in: Msg) -> Msg {
    match Payload::peek(&check_in.body) {
        Some((_, id, _)) => Msg::new(Payload::new(PayloadKind::Reply, id, 0).encode()),
        None => check_in,
    }
}
