//! The `forwarder` design: the FORWARDER device (`zmq_proxy` over XSUB and XPUB), the
//! guide's weather-update proxy.
//!
//! Data flows down: whatever the `frontend` XSUB receives from the publishers goes out
//! on the `backend` XPUB to the subscribers. Subscriptions flow up: the XPUB hands the
//! device each subscriber's `0x01`/`0x00`+prefix message, and sending that on the XSUB
//! passes it to the publishers, so they filter at the source. With a plain PUB
//! backend (the catalog allows one) the subscription path is off, as a PUB has nothing
//! to receive; a plain SUB frontend takes the subscriptions as its own.

use std::future::Future;
use std::pin::Pin;

use crate::socket::SocketType;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let frontend = ctx.socket("frontend");
        let backend = ctx.socket("backend");
        let upstream = backend.socket_type() == SocketType::XPub;
        loop {
            // Subscriptions first: they are few and change what the publishers send,
            // so they should not wait behind a flood of data.
            let (received, to, direction) = tokio::select! {
                biased;
                sub = backend.recv(), if upstream => (sub, frontend, "subscription"),
                data = frontend.recv() => (data, backend, "message"),
            };
            let msg = match received {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("forwarder stopped: {direction} recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            // XPUB drops at its high-water mark and XSUB drops upstream messages it
            // cannot queue, so an error is the socket's state; the device carries on.
            if let Err(e) = to.send(msg).await {
                let text = format!("forwarder could not pass on a {direction}: {e:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    })
}
