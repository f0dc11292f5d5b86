//! The `comet-user` design: one of article 004's users, logging in and out and sending
//! messages to its followers while logged in.
//!
//! User `u` is replica `u` of its group, the index the follower graph knows it by.
//! It holds one DEALER connection to the router for the whole run; logging in and
//! out are messages on it (`Login`, `Logout`, the user's index in the extra bytes),
//! as the seed's comet clients identified themselves on their long-poll request. At
//! start (after `start_at`) a user is logged in with probability `online_fraction`
//! (1 when absent); it then stays logged in for a draw of `session` and out for a
//! draw of `offline`, alternately (without both it never changes state). While
//! logged in it sends `Publish` messages (a fresh id, its index in the extra bytes)
//! with exponential gaps averaging `1 / publish_rate`, so ten thousand users do not
//! send in lockstep; each is recorded as `AppEvent::Published` so `fanout_correct`
//! can tell a message the router never passed on. It reads everything the router
//! pushes at once, logged in or not; the socket trace records each `Receive`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::plan::Distribution;
use crate::socket::Msg;
use crate::trace::AppEvent;

use super::comet_router::request_id;
use super::ctx::NodeCtx;
use super::kit::{sample_size, start_time};
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let start = start_time(&ctx);
        let mut user = User { online: false, next_toggle: None, next_publish: None };
        ctx.sleep_until(start).await;
        let online_fraction = ctx.workload.online_fraction.unwrap_or(1.0);
        if ctx.unit() < online_fraction {
            Box::pin(user.toggle(&ctx)).await;
        } else {
            user.next_toggle = draw(&ctx, ctx.workload.offline.as_ref());
        }
        let conn = ctx.socket("conn");
        loop {
            let wake = user.next_wake();
            tokio::select! {
                biased;
                received = conn.recv() => {
                    // The socket recorded the receive; a DEALER error will not go away.
                    if let Err(e) = received {
                        let text = format!("comet-user stopped: recv failed: {e:?}");
                        return ctx.record(AppEvent::Note { text });
                    }
                }
                // Boxed: what a timer does is needed for an instant, and unboxed it
                // would size the user's future to it for the whole run (issue 16).
                () = ctx.sleep_until_or_never(wake) => Box::pin(user.on_timer(&ctx)).await,
            }
        }
    })
}

/// A user's session state; instants are times since the run's epoch.
#[derive(Debug)]
struct User {
    online: bool,
    /// When the user next logs in or out; `None` never.
    next_toggle: Option<Duration>,
    /// When the user next sends, while logged in; `None` never.
    next_publish: Option<Duration>,
}

impl User {
    fn next_wake(&self) -> Option<Duration> {
        match (self.next_toggle, self.next_publish) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does whatever is due: a toggle first, since a session that has ended sends
    /// nothing more.
    async fn on_timer(&mut self, ctx: &NodeCtx) {
        let now = ctx.now();
        if self.next_toggle.is_some_and(|t| t <= now) {
            self.toggle(ctx).await;
        } else if self.next_publish.is_some_and(|t| t <= now) {
            self.publish(ctx).await;
        }
    }

    /// Logs in or out, and draws how long the new state lasts.
    async fn toggle(&mut self, ctx: &NodeCtx) {
        self.online = !self.online;
        let (kind, lasts) = if self.online {
            (PayloadKind::Login, ctx.workload.session.as_ref())
        } else {
            (PayloadKind::Logout, ctx.workload.offline.as_ref())
        };
        self.next_toggle = draw(ctx, lasts);
        self.next_publish =
            if self.online { gap(ctx).and_then(|g| ctx.now().checked_add(g)) } else { None };
        send(ctx, Payload::new(kind, ctx.next_msg_id(), 0)).await;
    }

    async fn publish(&mut self, ctx: &NodeCtx) {
        let id = ctx.next_msg_id();
        ctx.record(AppEvent::Published { id, topic: String::new() });
        send(ctx, Payload::new(PayloadKind::Publish, id, sample_size(ctx))).await;
        self.next_publish = gap(ctx).and_then(|g| ctx.now().checked_add(g));
    }
}

/// Sends `payload` with this user's index on the connection. The request id in the
/// header is what lets the router's ROUTER accept a DEALER's message.
async fn send(ctx: &NodeCtx, payload: Payload) {
    let id = payload.id;
    let body = payload.with_extra(ctx.replica.index.to_be_bytes().to_vec()).encode();
    let msg = Msg { header: vec![request_id(id)], body };
    if let Err(e) = ctx.socket("conn").send(msg).await {
        ctx.record(AppEvent::Note {
            text: format!("comet-user could not send {}: {e:?}", ctx.msg_label(id)),
        });
    }
}

/// When a state drawn from `lasts` ends, from now; `None` lasts for ever, as does a
/// draw that ends past what a `Duration` holds.
fn draw(ctx: &NodeCtx, lasts: Option<&Distribution>) -> Option<Duration> {
    lasts.and_then(|d| ctx.now().checked_add(ctx.sample_duration(d)))
}

/// The wait until the next send: exponential with mean `1 / publish_rate`. The
/// caller takes a send due past what a `Duration` holds as none.
fn gap(ctx: &NodeCtx) -> Option<Duration> {
    let rate = ctx.workload.publish_rate.filter(|r| r.is_finite() && *r > 0.0)?;
    let mean = Distribution::Exponential { mean: 1e9 / rate };
    Some(ctx.sample_duration(&mean))
}
