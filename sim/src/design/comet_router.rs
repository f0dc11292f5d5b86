//! The `comet-router` design: article 004's router, which pushes each message a user
//! sends to that user's logged-in followers and drops the rest.
//!
//! Users hold one DEALER connection each to the router's `users` ROUTER. A user's
//! `Login` payload (its index in the extra bytes) maps the user to the hop id the
//! ROUTER tagged the message with, which is how the router reaches it later; a
//! `Logout` removes the mapping. The seed's router kept the same table of connected
//! users, and discarded messages for anyone not in it ("user not connected").
//!
//! A `Publish` from user X goes to X's followers, which the router asks the
//! subscription manager for once per sender (the seed's `get_subscribers`) and then
//! keeps. Messages from a sender whose followers are not known yet wait for the
//! answer. Queries are pipelined on a DEALER, at most [`QUERIES_IN_FLIGHT_MAX`] at a
//! time: far below the sockets' high-water marks, so neither the query pipe blocks
//! nor the manager's REP drops an answer while the router is busy with users. On a
//! REQ (which the catalogue also allows) one query is in flight at a time.
//!
//! The router records its own view for `fanout_correct`: `CometLogin`, `CometLogout`
//! and, before sending a message on, `CometRouted` with how many followers it went to
//! and how many were skipped as logged out.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::socket::{Msg, REQUEST_ID_BIT, SocketType};
use crate::trace::{AppEvent, MsgId};

use super::comet_manager::{decode_answer, encode_query};
use super::ctx::NodeCtx;
use crate::wire::payload::{Payload, PayloadKind};

/// Follower queries outstanding at once on a DEALER (the default HWM is 1000).
const QUERIES_IN_FLIGHT_MAX: usize = 256;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(serve(ctx, OnLogout::ForgetHop))
}

/// What a logout does to the router's table of connected users. Only the broken
/// `leaky-comet-router` keeps the hop, so its users go on receiving after logout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnLogout {
    ForgetHop,
    KeepHop,
}

/// Runs the router until a socket fails.
pub(crate) async fn serve(ctx: NodeCtx, on_logout: OnLogout) {
    let users = ctx.socket("users");
    let manager = ctx.socket("manager");
    let window = if manager.socket_type() == SocketType::Req { 1 } else { QUERIES_IN_FLIGHT_MAX };
    let mut router = CometRouter::new(on_logout, window);
    loop {
        // Answers first: each one releases messages waiting for it. A REQ may only
        // receive while it has a query out, so the arm waits for one.
        let (received, from_manager) = tokio::select! {
            biased;
            msg = manager.recv(), if router.in_flight > 0 => (msg, true),
            msg = users.recv() => (msg, false),
        };
        let msg = match received {
            Ok(msg) => msg,
            Err(e) => {
                let text = format!("comet-router stopped: recv failed: {e:?}");
                return ctx.record(AppEvent::Note { text });
            }
        };
        if from_manager {
            router.on_answer(&ctx, &msg).await;
        } else {
            router.on_user(&ctx, msg).await;
        }
        router.ask(&ctx).await;
    }
}

#[derive(Debug)]
struct CometRouter {
    on_logout: OnLogout,
    /// Each logged-in user's hop id on the `users` ROUTER: the seed's `clients[]`.
    hops: BTreeMap<u32, u32>,
    /// Each sender's followers, as the manager answered.
    followers: BTreeMap<u32, Vec<u32>>,
    /// Messages (id, body) from senders whose followers are not known yet, in order.
    waiting: BTreeMap<u32, Vec<(MsgId, Bytes)>>,
    /// Senders to ask the manager about, oldest first.
    to_ask: VecDeque<u32>,
    /// Queries sent and not yet answered.
    in_flight: usize,
    /// How many queries may be outstanding.
    window: usize,
}

impl CometRouter {
    fn new(on_logout: OnLogout, window: usize) -> CometRouter {
        CometRouter {
            on_logout,
            hops: BTreeMap::new(),
            followers: BTreeMap::new(),
            waiting: BTreeMap::new(),
            to_ask: VecDeque::new(),
            in_flight: 0,
            window,
        }
    }

    /// A message from a user: a login, a logout, or something to pass on.
    async fn on_user(&mut self, ctx: &NodeCtx, msg: Msg) {
        let payload = Payload::decode(&msg.body);
        let user = payload.as_ref().and_then(|p| user_of(&p.extra));
        let (Some(payload), Some(user), Some(&hop)) = (payload, user, msg.header.first()) else {
            let text = format!("comet-router ignored an odd user message: {msg:?}");
            return ctx.record(AppEvent::Note { text });
        };
        match payload.kind {
            PayloadKind::Login => {
                self.hops.insert(user, hop);
                ctx.record(AppEvent::CometLogin { user });
            }
            PayloadKind::Logout => {
                if self.on_logout == OnLogout::ForgetHop {
                    self.hops.remove(&user);
                }
                ctx.record(AppEvent::CometLogout { user });
            }
            PayloadKind::Publish if self.followers.contains_key(&user) => {
                self.route(ctx, user, payload.id, &msg.body).await;
            }
            PayloadKind::Publish => {
                let queue = self.waiting.entry(user).or_default();
                if queue.is_empty() {
                    self.to_ask.push_back(user);
                }
                queue.push((payload.id, msg.body));
            }
            other => {
                let text = format!("comet-router ignored a {other:?} from user {user}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }

    /// The manager's answer: remember the followers and pass on what waited for them.
    async fn on_answer(&mut self, ctx: &NodeCtx, msg: &Msg) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some((user, followers)) = decode_answer(&msg.body) else {
            let text = format!("comet-router could not read the manager's answer: {msg:?}");
            return ctx.record(AppEvent::Note { text });
        };
        self.followers.insert(user, followers);
        for (id, body) in self.waiting.remove(&user).unwrap_or_default() {
            self.route(ctx, user, id, &body).await;
        }
    }

    /// Sends queries while the window has room.
    async fn ask(&mut self, ctx: &NodeCtx) {
        while self.in_flight < self.window
            && let Some(user) = self.to_ask.pop_front()
        {
            let id = ctx.next_msg_id();
            // A REQ replaces this header with its own; a DEALER needs a request id or
            // the REP drops the query as malformed.
            let header = vec![request_id(id)];
            let manager = ctx.socket("manager");
            if let Err(e) = manager.send(Msg { header, body: encode_query(id, user) }).await {
                let text = format!("comet-router could not ask about user {user}: {e:?}");
                ctx.record(AppEvent::Note { text });
                continue;
            }
            self.in_flight += 1;
        }
    }

    /// Sends message `id` from `from` to every follower with a hop; the rest are the
    /// seed's "discarding ... user not connected".
    async fn route(&mut self, ctx: &NodeCtx, from: u32, id: MsgId, body: &Bytes) {
        let followers = self.followers.get(&from).map_or(&[][..], Vec::as_slice);
        let hops: Vec<u32> = followers.iter().filter_map(|f| self.hops.get(f).copied()).collect();
        let (delivered, dropped) = (hops.len() as u32, (followers.len() - hops.len()) as u32);
        ctx.record(AppEvent::CometRouted { id, from, delivered, dropped });
        let users = ctx.socket("users");
        for hop in hops {
            // The hop picks the connection; the user's DEALER peels one id off the
            // front of every message, so the body must come after one.
            let msg = Msg { header: vec![hop, request_id(id)], body: body.clone() };
            if let Err(e) = users.send(msg).await {
                let id = ctx.msg_label(id);
                let text = format!("comet-router could not pass {id} to hop {hop}: {e:?}");
                ctx.record(AppEvent::Note { text });
            }
        }
    }
}

/// The user index at the front of a comet payload's extra bytes.
pub(crate) fn user_of(extra: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(extra.get(..4)?.try_into().ok()?))
}

/// A request id for the SP header, made from a message id's low bits.
pub(crate) fn request_id(id: MsgId) -> u32 {
    (id as u32) | REQUEST_ID_BIT
}
