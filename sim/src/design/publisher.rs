//! The `publisher` design: the guide's weather server (`wuserver`) and envelope
//! publisher (`psenvpub`), publishing `workload.publishes` messages on its `pub`
//! socket at `workload.publish_rate` after `workload.start_at`.
//!
//! Each message is a `Publish` payload with a fresh id. With the `topics` parameter
//! (say `"A,B"`) each goes out as the multipart envelope `[topic, payload]`, topics
//! taken in turn; without it, as the bare payload. Every publish is recorded as
//! `AppEvent::Published` with its topic, because an envelope's id sits in its second
//! frame, where the socket trace cannot see it.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::socket::{Msg, multipart};
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit::{Pacer, sample_size, stay_up, wait_start};
use super::subscriber::FRAMES_TAG;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        wait_start(&ctx).await;
        publish_all(&ctx).await;
        ctx.finished();
        stay_up().await;
    })
}

/// Publishes the workload's messages on `pub`, paced, in turn over the topics.
pub(super) async fn publish_all(ctx: &NodeCtx) {
    // `sync-publisher` publishes through here too and declares no topics.
    let topics = ctx
        .param("topics")
        .map_or("", |_| ctx.param_text("topics"))
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let out = ctx.socket("pub");
    let mut pacer = Pacer::new(ctx.workload.publish_rate);
    for n in 0..ctx.workload.publishes.unwrap_or(0) {
        pacer.wait(ctx).await;
        let id = ctx.next_msg_id();
        let payload = Payload::new(PayloadKind::Publish, id, sample_size(ctx));
        let topic = topics.get(n as usize % topics.len().max(1)).cloned();
        let body = match &topic {
            // The payload says how many frames were written, so a receiver can tell
            // a torn envelope from a whole one (`multipart_atomicity`).
            Some(t) => multipart::encode(&[
                Bytes::from(t.clone()),
                payload.with_extra([FRAMES_TAG, b"2"].concat()).encode(),
            ]),
            None => payload.encode(),
        };
        ctx.record(AppEvent::Published { id, topic: topic.unwrap_or_default() });
        // PUB drops at its high-water mark rather than failing, so an error here is a
        // state that will not change; the rest of the workload goes the same way.
        if let Err(e) = out.send(Msg::new(body)).await {
            let text = format!("publisher could not publish {id}: {e:?}");
            return ctx.record(AppEvent::Note { text });
        }
    }
}
