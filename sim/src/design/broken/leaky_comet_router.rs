//! `leaky-comet-router` (broken): the `comet-router` that forgets to remove a user's
//! connection from its table when the user logs out.
//!
//! It sees and records the logout like the correct router, but the user's hop stays
//! in the table, so every later message from a user it follows is still pushed to
//! it: the seed's router would keep writing to a connection the user has left.
//! `fanout_correct` must fail with deliveries to logged-out users. Everything else
//! (queries to the manager, the follower cache, routing) is the correct router's.

use std::future::Future;
use std::pin::Pin;

use crate::design::comet_router::{OnLogout, serve};
use crate::design::ctx::NodeCtx;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(serve(ctx, OnLogout::KeepHop))
}
