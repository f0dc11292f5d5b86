//! `forgetful-lru-broker` (broken): the `lru-broker` with the ZeroMQ guide's classic
//! load-balancing bug, a worker not requeued after it returns a result.
//!
//! A worker's "ready" puts it in the idle queue; its result is delivered to the
//! client, but the worker, whose REQ is waiting for its next job, is forgotten. So
//! each worker does one job and then starves: once every worker has done one, the
//! remaining jobs wait for ever and `no_lost_replies` must fail when the liveness
//! phase ends. A worker's REQ that resends its result is forgotten again. The rest
//! (routing, ownership, dispatch) is the correct broker's, without its `publish`
//! socket.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;

use crate::design::ctx::NodeCtx;
use crate::design::payload::{Payload, PayloadKind};
use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let mut broker = Broker::default();
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        loop {
            let (received, from_worker) = tokio::select! {
                biased;
                msg = backend.recv() => (msg, true),
                msg = frontend.recv() => (msg, false),
            };
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("forgetful-lru-broker stopped: recv failed: {e:?}");
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

/// The broker's queues, as in `lru-broker`.
#[derive(Debug, Default)]
struct Broker {
    /// Workers waiting for a job, oldest first: the header to reply to each on.
    idle: VecDeque<Vec<u32>>,
    /// Requests waiting for a worker, oldest first, with their client's header.
    jobs: VecDeque<(Vec<u32>, Payload)>,
    /// Which client each job in progress belongs to, by job id.
    owners: BTreeMap<MsgId, Vec<u32>>,
}

impl Broker {
    /// A worker's "ready" queues it; its result is delivered and the worker is not
    /// queued again. That is the planted bug.
    async fn on_worker(&mut self, ctx: &NodeCtx, msg: Msg) {
        match Payload::decode(&msg.body) {
            Some(result) if result.kind == PayloadKind::Result => self.deliver(ctx, &result).await,
            Some(ready) if ready.kind == PayloadKind::Ready => self.idle.push_back(msg.header),
            other => {
                let text = format!("forgetful-lru-broker got an odd worker message: {other:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }

    /// Answers the client that owns `result`'s job.
    async fn deliver(&mut self, ctx: &NodeCtx, result: &Payload) {
        let Some(client) = self.owners.remove(&result.id) else {
            let text = format!("forgetful-lru-broker got a result for unknown job {}", result.id);
            return ctx.record(AppEvent::Note { text });
        };
        let reply = Payload::new(PayloadKind::Reply, result.id, result.modelled_len);
        let sent = ctx.socket("frontend").send(Msg { header: client, body: reply.encode() }).await;
        if let Err(e) = sent {
            let text = format!("forgetful-lru-broker could not reply for {}: {e:?}", result.id);
            ctx.record(AppEvent::Note { text });
        }
    }

    /// A client's request becomes a job.
    fn on_client(&mut self, ctx: &NodeCtx, msg: Msg) {
        match Payload::decode(&msg.body) {
            Some(request) if request.kind == PayloadKind::Request => {
                self.jobs.push_back((msg.header, request));
            }
            other => {
                let text = format!("forgetful-lru-broker got an odd client message: {other:?}");
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
                let text = format!("forgetful-lru-broker could not dispatch {}: {e:?}", request.id);
                ctx.record(AppEvent::Note { text });
            }
        }
    }
}
