//! `immortal-ppp-broker` (broken): the `ppp-broker` that never expires a silent
//! worker.
//!
//! It beats and queues like the real broker, but a worker that dies mid-job is kept
//! for ever, so its job is never handed to anyone else: a client that does not
//! resend waits for ever and `no_lost_replies` must fail under a worker crash. The
//! rest is the correct broker's own code.

use std::future::Future;
use std::pin::Pin;

use crate::design::ctx::NodeCtx;
use crate::design::ppp_broker::{Expiry, run_with};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    run_with(ctx, Expiry::Never)
}
