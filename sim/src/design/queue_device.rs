//! The `queue-device` design: the QUEUE device (`zmq_proxy`, `nn_device`), a ROUTER
//! `frontend` facing the clients and a DEALER `backend` facing the workers, every
//! message copied across with its header untouched.
//!
//! The frontend ROUTER pushes the client's hop id onto a request's header; the
//! workers hand the header back with the reply, and the frontend pops the hop id to
//! route it home. The device itself keeps no state.

use std::future::Future;
use std::pin::Pin;

use crate::trace::AppEvent;

use super::ctx::NodeCtx;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        loop {
            // Replies first: they are bounded by the requests already forwarded, so
            // they cannot starve the frontend, whereas an open-loop flood of requests
            // could starve the replies if the frontend came first.
            let (received, to, direction) = tokio::select! {
                biased;
                reply = backend.recv() => (reply, frontend, "reply"),
                request = frontend.recv() => (request, backend, "request"),
            };
            // ROUTER and DEALER receives wait out an empty queue; an error is a state
            // that will not change, so retrying would only spin.
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("queue-device stopped: {direction} recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            // A message the far side refuses is lost, as in a real device; the other
            // clients keep being served.
            if let Err(e) = to.send(msg).await {
                let text = format!("queue-device could not forward a {direction}: {e:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    })
}
