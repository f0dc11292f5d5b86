//! The `ventilator` design: the guide's task ventilator (`taskvent`).
//!
//! After `workload.start_at` it tells the sink that a batch is starting (when it has
//! the optional `sink` socket), then pushes `workload.requests` tasks on `push` at
//! `workload.rate`: `Task` payloads with fresh ids and modelled sizes from
//! `workload.size`, each recorded as `TaskIssued`. The batch start carries the task
//! count, so a sink told nothing else knows when the batch is complete. PUSH blocks
//! at its high-water mark, which paces the ventilator to the workers.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit::{Pacer, sample_size, stay_up, wait_start};
use crate::wire::payload::{Payload, PayloadKind};

/// The extra bytes of a batch start, before the task count in decimal.
pub(super) const BATCH_TAG: &str = "batch=";

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        wait_start(&ctx).await;
        let tasks = ctx.workload.requests.unwrap_or(0);
        if ctx.has_socket("sink") {
            announce_batch(&ctx, tasks).await;
        }
        push_tasks(&ctx, tasks).await;
        ctx.finished();
        stay_up().await;
    })
}

/// Tells the sink that `tasks` tasks are on their way.
async fn announce_batch(ctx: &NodeCtx, tasks: u64) {
    let start = Payload::new(PayloadKind::Control, ctx.next_msg_id(), 0)
        .with_extra(format!("{BATCH_TAG}{tasks}"));
    if let Err(e) = ctx.socket("sink").send(Msg::new(start.encode())).await {
        ctx.record(AppEvent::Note { text: format!("ventilator could not start the batch: {e:?}") });
    }
}

/// Pushes the tasks in turn until one cannot be sent.
async fn push_tasks(ctx: &NodeCtx, tasks: u64) {
    let push = ctx.socket("push");
    let mut pacer = Pacer::new(ctx.workload.rate);
    for _ in 0..tasks {
        pacer.wait(ctx).await;
        let id = ctx.next_msg_id();
        let task = Payload::new(PayloadKind::Task, id, sample_size(ctx));
        ctx.record(AppEvent::TaskIssued { id });
        // PUSH waits at its high-water mark; an error is a state that will not change.
        if let Err(e) = push.send(Msg::new(task.encode())).await {
            let text = format!("ventilator stopped: could not push task {id}: {e:?}");
            return ctx.record(AppEvent::Note { text });
        }
    }
}
