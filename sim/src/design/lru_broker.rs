//! The `lru-broker` design: article 000's load-balancing broker with the ZeroMQ guide's
//! least-recently-used queue of idle workers.
//!
//! Clients send requests to the `frontend` ROUTER; ready-workers send "ready" (or the
//! previous job's result, which doubles as "ready") to the `backend` ROUTER. The
//! broker queues each worker's routing header as it arrives and answers the oldest
//! one with the oldest job. A result goes back to the client that owns the job and,
//! when the node has a `publish` socket, its id is announced there (the gif service's
//! "your gif is ready"). Like article 000's broker it does not de-duplicate workers: a
//! REQ that resends its "ready" is queued twice, which is the hazard this design
//! exists to show.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    run_with(ctx, Requeue::AfterResult)
}

/// Whether a worker rejoins the idle queue after returning a result. `Never` is the
/// guide's classic load-balancing bug, kept for `design/broken/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Requeue {
    AfterResult,
    Never,
}

pub(crate) fn run_with(ctx: NodeCtx, requeue: Requeue) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let mut broker = Broker { requeue, ..Broker::default() };
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        loop {
            // Workers first, as the guide's broker polls its backend first: a result
            // frees a worker and answers a client, both of which make room.
            let (received, from_worker) = tokio::select! {
                biased;
                msg = backend.recv() => (msg, true),
                msg = frontend.recv() => (msg, false),
            };
            // ROUTER receives wait out an empty queue; an error will not go away.
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("lru-broker stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            if from_worker {
                broker.on_worker(&ctx, msg).await;
            } else {
                broker.on_client(&ctx, msg);
            }
            broker.dispatch(&ctx).await;
        }
    })
}

/// The broker's queues. Headers are kept exactly as the ROUTER delivered them (its
/// hop id, then the REQ's request id), which is all it takes to answer later.
#[derive(Debug)]
struct Broker {
    requeue: Requeue,
    /// Workers waiting for a job, oldest first: the reply to each one's last request.
    idle: VecDeque<Vec<u32>>,
    /// Requests waiting for a worker, oldest first, with their client's header.
    jobs: VecDeque<(Vec<u32>, Payload)>,
    /// Which client each job in progress belongs to, by job id.
    owners: BTreeMap<MsgId, Vec<u32>>,
}

impl Default for Broker {
    fn default() -> Broker {
        Broker {
            requeue: Requeue::AfterResult,
            idle: VecDeque::new(),
            jobs: VecDeque::new(),
            owners: BTreeMap::new(),
        }
    }
}

impl Broker {
    /// A worker's request: a "ready", or a result that is also a "ready". Either way
    /// the worker's REQ now waits for a reply, so it joins the idle queue.
    async fn on_worker(&mut self, ctx: &NodeCtx, msg: Msg) {
        match Payload::decode(&msg.body) {
            Some(result) if result.kind == PayloadKind::Result => {
                self.deliver(ctx, &result).await;
                if self.requeue == Requeue::Never {
                    return;
                }
            }
            Some(ready) if ready.kind == PayloadKind::Ready => {}
            other => {
                let text = format!("lru-broker got an odd worker message: {other:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
        self.idle.push_back(msg.header);
    }

    /// Answers the client that owns `result`'s job and announces the job as done.
    async fn deliver(&mut self, ctx: &NodeCtx, result: &Payload) {
        let Some(client) = self.owners.remove(&result.id) else {
            // A second result for one job (a resent request was dispatched twice).
            let text =
                format!("lru-broker got a result for unknown job {}", ctx.msg_label(result.id));
            return ctx.record(AppEvent::Note { text });
        };
        let reply = Payload::new(PayloadKind::Reply, result.id, result.modelled_len);
        let sent = ctx.socket("frontend").send(Msg { header: client, body: reply.encode() }).await;
        if let Err(e) = sent {
            let text = format!("lru-broker could not reply for {}: {e:?}", result.id);
            ctx.record(AppEvent::Note { text });
        }
        if ctx.has_socket("publish") {
            publish(ctx, result.id).await;
        }
    }

    /// A client's request becomes a job; anything without a request payload has no id
    /// to answer by and is noted instead.
    fn on_client(&mut self, ctx: &NodeCtx, msg: Msg) {
        match Payload::decode(&msg.body) {
            Some(request) if request.kind == PayloadKind::Request => {
                self.jobs.push_back((msg.header, request));
            }
            other => {
                let text = format!("lru-broker got an odd client message: {other:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }

    /// Hands out jobs while there are both jobs and idle workers, oldest to oldest.
    async fn dispatch(&mut self, ctx: &NodeCtx) {
        while !self.idle.is_empty() && !self.jobs.is_empty() {
            let worker = self.idle.pop_front().expect("checked non-empty");
            let (client, request) = self.jobs.pop_front().expect("checked non-empty");
            self.owners.insert(request.id, client);
            let job = Payload::new(PayloadKind::Job, request.id, request.modelled_len);
            let sent = ctx.socket("backend").send(Msg { header: worker, body: job.encode() }).await;
            if let Err(e) = sent {
                let text = format!("lru-broker could not dispatch {}: {e:?}", request.id);
                ctx.record(AppEvent::Note { text });
            }
        }
    }
}

/// Announces that job `id` is done, as article 000's collect loop publishes the job's
/// uuid: an envelope whose first frame is the id's decimal text, so each front end
/// subscribes to its own job by prefix, then the payload.
async fn publish(ctx: &NodeCtx, id: MsgId) {
    let done = Payload::new(PayloadKind::Publish, id, 0).with_extra(id.to_string());
    let body = crate::socket::multipart::encode(&[id.to_string().into(), done.encode()]);
    ctx.record(AppEvent::Published { id, topic: id.to_string() });
    if let Err(e) = ctx.socket("publish").send(Msg::new(body)).await {
        ctx.record(AppEvent::Note { text: format!("lru-broker could not publish {id}: {e:?}") });
    }
}
