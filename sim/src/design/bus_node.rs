//! The `bus-node` design: a peer on nanomsg's BUS mesh.
//!
//! After `workload.start_at` it sends `workload.publishes` messages at
//! `workload.publish_rate` (a `Publish` payload with a fresh id each; BUS sends a
//! copy to every peer) while receiving whatever the other peers send, which the
//! socket trace records. It keeps receiving after its own messages are out.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit::{Pacer, sample_size, start_time};
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let bus = ctx.socket("bus");
        let mut pacer = Pacer::new(ctx.workload.publish_rate).not_before(start_time(&ctx));
        let mut to_send = ctx.workload.publishes.unwrap_or(0);
        loop {
            // Receiving first: a peer that only sent would let its inbound pipes fill.
            let received = tokio::select! {
                biased;
                received = bus.recv() => received,
                () = pacer.wait(&ctx), if to_send > 0 => {
                    to_send -= 1;
                    send_one(&ctx).await;
                    continue;
                }
            };
            if let Err(e) = received {
                let text = format!("bus-node stopped: recv failed: {e:?}");
                return ctx.record(AppEvent::Note { text });
            }
        }
    })
}

async fn send_one(ctx: &NodeCtx) {
    let id = ctx.next_msg_id();
    let body = Payload::new(PayloadKind::Publish, id, sample_size(ctx)).encode();
    // BUS drops at its high-water mark rather than failing; an error loses this one.
    if let Err(e) = ctx.socket("bus").send(Msg::new(body)).await {
        ctx.record(AppEvent::Note {
            text: format!("bus-node could not send {}: {e:?}", ctx.msg_label(id)),
        });
    }
}
