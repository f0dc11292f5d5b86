//! The `pair-step` design: one step of the guide's multithreaded relay (`mtrelay`).
//!
//! A step with a `prev` PAIR waits for the signal from the step before it; a step
//! with a `next` PAIR then sends its own signal on, so the signal passes down the
//! chain once. The first step (no `prev`) starts at `workload.start_at`. Signals are
//! `Control` payloads with fresh ids, so the socket trace shows each hop.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit::{stay_up, wait_start};
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        if ctx.has_socket("prev") {
            if let Err(e) = ctx.socket("prev").recv().await {
                let text = format!("pair-step never got its signal: {e:?}");
                return ctx.record(AppEvent::Note { text });
            }
        } else {
            wait_start(&ctx).await;
        }
        if ctx.has_socket("next") {
            let signal = Payload::new(PayloadKind::Control, ctx.next_msg_id(), 0).encode();
            if let Err(e) = ctx.socket("next").send(Msg::new(signal)).await {
                ctx.record(AppEvent::Note { text: format!("pair-step could not signal: {e:?}") });
            }
        }
        stay_up().await;
    })
}
