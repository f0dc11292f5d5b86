//! The `streamer` design: the STREAMER device (`zmq_proxy` over PULL and PUSH),
//! copying every message from its `frontend` PULL to its `backend` PUSH unchanged.
//!
//! The PUSH blocks at its high-water mark, so a slow pipeline holds the device back,
//! and the device in turn stops taking from its producers: backpressure end to end.

use std::future::Future;
use std::pin::Pin;

use crate::trace::AppEvent;

use super::ctx::NodeCtx;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        loop {
            // PULL waits out an empty queue; an error is a state that will not change.
            let msg = match frontend.recv().await {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("streamer stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            if let Err(e) = backend.send(msg).await {
                ctx.record(AppEvent::Note { text: format!("streamer could not forward: {e:?}") });
            }
        }
    })
}
