//! `forgetful-lru-broker` (broken): the `lru-broker` with the ZeroMQ guide's classic
//! load-balancing bug, a worker not requeued after it returns a result.
//!
//! A worker's "ready" puts it in the idle queue; its result is delivered to the
//! client, but the worker, whose REQ is waiting for its next job, is forgotten. So
//! each worker does one job and then starves: once every worker has done one, the
//! remaining jobs wait for ever and `no_lost_replies` must fail when the liveness
//! phase ends. A worker's REQ that resends its result is forgotten again. The rest
//! (routing, ownership, dispatch, publishing) is the correct broker's own code.

use std::future::Future;
use std::pin::Pin;

use crate::design::ctx::NodeCtx;
use crate::design::lru_broker::{Requeue, run_with};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    run_with(ctx, Requeue::Never)
}
