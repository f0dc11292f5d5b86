//! The `pipeline-worker` design: the guide's task worker with a kill signal
//! (`taskwork2`).
//!
//! It pulls a task from `pull`, works on it for a sampled `workload.service_time`,
//! records `WorkDone` and pushes a `Result` with the task's id to `push`. With the
//! optional `control` SUB it stops for good on the sink's KILL message, which it
//! polls before each task (the guide's poller puts the controller second, but a
//! worker that has been told to stop should not start another task first).

use std::future::Future;
use std::pin::Pin;

use crate::socket::{Msg, RecvError};
use crate::trace::{AppEvent, MsgId};

use super::ctx::{NodeCtx, Socket};
use super::kit;
use crate::wire::payload::{Payload, PayloadKind};

/// The extra bytes of the kill signal.
pub(super) const KILL: &[u8] = b"KILL";

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let control = ctx.has_socket("control").then(|| ctx.socket("control"));
        let pull = ctx.socket("pull");
        loop {
            let next = tokio::select! {
                biased;
                signal = recv_or_never(control) => Next::Control(signal),
                task = pull.recv() => Next::Task(task),
            };
            let stop = match next {
                Next::Control(Ok(msg)) => is_kill(&msg),
                Next::Task(Ok(msg)) => {
                    work(&ctx, &msg).await;
                    false
                }
                Next::Control(Err(e)) | Next::Task(Err(e)) => {
                    let text = format!("pipeline-worker stopped: recv failed: {e:?}");
                    ctx.record(AppEvent::Note { text });
                    true
                }
            };
            if stop {
                return;
            }
        }
    })
}

/// What the worker took next.
enum Next {
    Control(Result<Msg, RecvError>),
    Task(Result<Msg, RecvError>),
}

/// Receives on `socket`, or waits for ever when the node has no such socket.
async fn recv_or_never(socket: Option<Socket<'_>>) -> Result<Msg, RecvError> {
    match socket {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}

fn is_kill(msg: &Msg) -> bool {
    Payload::decode(&msg.body).is_some_and(|p| p.kind == PayloadKind::Control && p.extra == KILL)
}

/// Works on one task and pushes its result; a body without a task payload is noted.
async fn work(ctx: &NodeCtx, msg: &Msg) {
    let Some((PayloadKind::Task, id, len)) = Payload::peek(&msg.body) else {
        let text = format!("pipeline-worker got something that is not a task: {:?}", msg.body);
        return ctx.record(AppEvent::Note { text });
    };
    kit::serve(ctx).await;
    ctx.record(AppEvent::WorkDone { id });
    push_result(ctx, id, len).await;
}

async fn push_result(ctx: &NodeCtx, id: MsgId, len: u64) {
    let result = Payload::new(PayloadKind::Result, id, len).encode();
    // PUSH waits at its high-water mark; an error loses this one result, which the
    // sink's count shows, and the worker can go on.
    if let Err(e) = ctx.socket("push").send(Msg::new(result)).await {
        ctx.record(AppEvent::Note {
            text: format!("pipeline-worker lost result {}: {e:?}", ctx.msg_label(id)),
        });
    }
}
