//! The `sink` design: the guide's result sink with a kill signal (`tasksink2`).
//!
//! It pulls results from `pull` and counts the distinct task ids. The batch is
//! complete after `params.tasks` results, or, with `tasks: 0`, after as many as the
//! ventilator's batch start announced. Then it publishes KILL on the optional
//! `control` PUB, recorded as `KillSent`, and goes on collecting, so that stragglers
//! still show in the trace.
//!
//! A batch whose tasks were lost (a worker died holding them) never completes, and
//! the guide's sink would wait for ever with its workers. This sink takes a batch as
//! complete, short, once no result has come for `params.idle_timeout` since the
//! batch started, so that the kill signal still reaches every live worker.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use super::pipeline_worker::KILL;
use super::ventilator::BATCH_TAG;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let tasks = ctx.param_count("tasks");
        let mut batch = Batch {
            target: (tasks > 0).then_some(tasks),
            results: BTreeSet::new(),
            last_at: None,
            killed: false,
            idle_timeout: ctx.param_duration("idle_timeout"),
        };
        loop {
            let Some(received) = batch.next(&ctx).await else {
                batch.kill(&ctx, "no result came for the idle timeout").await;
                continue;
            };
            match received {
                Ok(msg) => batch.take(&ctx, &msg),
                Err(e) => {
                    let text = format!("sink stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            }
            if batch.target.is_some_and(|t| batch.results.len() as u64 >= t) {
                batch.kill(&ctx, "the batch is complete").await;
            }
        }
    })
}

/// What the sink knows of the batch.
#[derive(Debug)]
struct Batch {
    /// Results that complete the batch, once known.
    target: Option<u64>,
    /// Distinct task ids collected.
    results: BTreeSet<MsgId>,
    /// When the batch last showed progress (its start or a result).
    last_at: Option<Duration>,
    /// Whether the kill signal has gone out; it goes once.
    killed: bool,
    idle_timeout: Duration,
}

impl Batch {
    /// The next message, or `None` when a started batch has been idle too long.
    async fn next(&self, ctx: &NodeCtx) -> Option<Result<Msg, crate::socket::RecvError>> {
        let pull = ctx.socket("pull");
        let Some(last_at) = self.last_at.filter(|_| !self.killed) else {
            return Some(pull.recv().await);
        };
        tokio::select! {
            biased;
            received = pull.recv() => Some(received),
            () = ctx.sleep_until(last_at + self.idle_timeout) => None,
        }
    }

    /// Counts a result or learns the batch size from a batch start.
    fn take(&mut self, ctx: &NodeCtx, msg: &Msg) {
        self.last_at = Some(ctx.now());
        match Payload::decode(&msg.body) {
            Some(p) if p.kind == PayloadKind::Result => {
                self.results.insert(p.id);
            }
            Some(p) if p.kind == PayloadKind::Control => {
                let count = std::str::from_utf8(&p.extra)
                    .ok()
                    .and_then(|t| t.strip_prefix(BATCH_TAG))
                    .and_then(|n| n.parse().ok());
                self.target = self.target.or(count);
            }
            other => {
                ctx.record(AppEvent::Note { text: format!("sink got an odd message: {other:?}") })
            }
        }
    }

    /// Publishes the kill signal, once, when the node has a `control` socket.
    async fn kill(&mut self, ctx: &NodeCtx, why: &str) {
        if self.killed {
            return;
        }
        self.killed = true;
        let text = format!("sink ends the batch with {} results: {why}", self.results.len());
        ctx.record(AppEvent::Note { text });
        if !ctx.has_socket("control") {
            return;
        }
        let id = ctx.next_msg_id();
        ctx.record(AppEvent::KillSent { id });
        let kill = Payload::new(PayloadKind::Control, id, 0).with_extra(KILL);
        if let Err(e) = ctx.socket("control").send(Msg::new(kill.encode())).await {
            ctx.record(AppEvent::Note { text: format!("sink could not send KILL: {e:?}") });
        }
    }
}
