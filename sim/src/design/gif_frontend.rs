//! The `gif-frontend` design: article 000's HTTP front end.
//!
//! For each of `workload.requests` jobs (at `workload.rate`, after
//! `workload.start_at`) it generates the job's id, subscribes to the id's decimal
//! text on its `done` SUB, posts the movie on `jobs` (a `Request` payload whose
//! modelled size comes from `workload.size`: up to 100 MB stands for itself in the
//! header and is never allocated), takes the broker's reply, and then waits on `done`
//! for the `Publish` announcing its job (the `lru-broker` puts the id's text after the
//! payload header). `RequestIssued` and `ReplyAccepted` bracket the REQ round trip as
//! in the `client` design, so `no_lost_replies` applies.
//!
//! The broker's announcement starts with the payload header, not the id's text, so
//! the per-job subscription matches it only through a catch-all `""` on the socket
//! (as the shipped topology configures); the design subscribes anyway, as article 000's
//! front end does, and cancels the subscription once its job is done.

use std::future::Future;
use std::pin::Pin;

use crate::socket::{Msg, REQUEST_ID_BIT, SocketType};
use crate::trace::{AppEvent, MsgId};

use super::ctx::{NodeCtx, Socket};
use super::kit::{Pacer, sample_size, start_time, stay_up};
use super::subscriber::set_subscription;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let mut pacer = Pacer::new(ctx.workload.rate).not_before(start_time(&ctx));
        for _ in 0..ctx.workload.requests.unwrap_or(0) {
            pacer.wait(&ctx).await;
            let id = ctx.next_msg_id();
            if let Err(why) = job(&ctx, id).await {
                ctx.record(AppEvent::Note {
                    text: format!("gif-frontend gave up on {}: {why}", ctx.msg_label(id)),
                });
                break;
            }
        }
        ctx.finished();
        stay_up().await;
    })
}

/// One job from subscription to announcement.
async fn job(ctx: &NodeCtx, id: MsgId) -> Result<(), String> {
    let done = ctx.socket("done");
    let topic = id.to_string();
    set_subscription(ctx, done, true, topic.as_bytes()).await;
    if let Err(why) = post(ctx, ctx.socket("jobs"), id).await {
        ctx.record(AppEvent::RequestAbandoned { id });
        return Err(why);
    }
    await_announcement(done, &topic).await?;
    set_subscription(ctx, done, false, topic.as_bytes()).await;
    Ok(())
}

/// Posts job `id` and waits for the broker's reply to it.
async fn post(ctx: &NodeCtx, jobs: Socket<'_>, id: MsgId) -> Result<(), String> {
    ctx.record(AppEvent::RequestIssued { id });
    let body = Payload::new(PayloadKind::Request, id, sample_size(ctx)).encode();
    // A DEALER needs a request id of its own, as in the `client` design.
    let header = match jobs.socket_type() {
        SocketType::Dealer => vec![(id as u32) | REQUEST_ID_BIT],
        _ => Vec::new(),
    };
    jobs.send(Msg { header, body }).await.map_err(|e| format!("send failed: {e:?}"))?;
    loop {
        let reply = jobs.recv().await.map_err(|e| format!("recv failed: {e:?}"))?;
        match Payload::peek(&reply.body) {
            Some((PayloadKind::Reply, got, _)) if got == id => break,
            other => ctx.record(AppEvent::Note {
                text: format!("gif-frontend waiting for {id} ignored {other:?}"),
            }),
        }
    }
    ctx.record(AppEvent::ReplyAccepted { id });
    Ok(())
}

/// Waits on `done` for the announcement whose text is `topic`; the other front
/// ends' announcements pass by.
async fn await_announcement(done: Socket<'_>, topic: &str) -> Result<(), String> {
    loop {
        let msg = done.recv().await.map_err(|e| format!("done recv failed: {e:?}"))?;
        // The announcement is `[id text, payload]`; the subscription already filters
        // on the first frame, and the payload's own copy of the text is checked too.
        let frames = crate::socket::multipart::decode(&msg.body);
        let announced = frames.as_slice().last().and_then(Payload::decode).is_some_and(|p| {
            p.kind == PayloadKind::Publish
                && p.extra == topic.as_bytes()
                && frames[0] == topic.as_bytes()
        });
        if announced {
            return Ok(());
        }
    }
}
