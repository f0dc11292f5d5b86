//! The `comet-manager` design: article 004's subscription manager, which knows who
//! follows whom and answers the router's `get_subscribers(User)` queries.
//!
//! The follower graph is `FollowerGraph::barabasi_albert(users, edges_per_user,
//! graph_seed)`, built once at start from the node's parameters. It is a function of
//! the plan alone, so `fanout_correct` rebuilds the same graph to judge the router
//! without trusting either node. The seed kept its subscriptions in Mnesia; a graph
//! in memory answers the same question.
//!
//! Wire format (shared with `comet_router.rs`): a query is a `Request` payload whose
//! extra bytes are the user's index (`u32`, big-endian); the answer is a `Reply` with
//! the query's id whose extra bytes are the user's index and then each follower's
//! index. A query for a user outside the graph is answered with no followers.

use std::future::Future;
use std::pin::Pin;

use bytes::{BufMut, Bytes, BytesMut};

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use crate::plan::follower_graph::FollowerGraph;
use crate::wire::payload::{HEADER_LEN, Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let graph = FollowerGraph::barabasi_albert(
            ctx.param_count("users") as u32,
            ctx.param_count("edges_per_user") as u32,
            ctx.param_count("graph_seed"),
        );
        let api = ctx.socket("api");
        loop {
            // A REP waits out an empty queue; an error here will not go away.
            let query = match api.recv().await {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("comet-manager stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            let Some(answer) = answer(&graph, &query) else {
                let text = format!("comet-manager ignored a query it cannot read: {query:?}");
                ctx.record(AppEvent::Note { text });
                continue;
            };
            // The header is the query's backtrace, so the answer finds its way back.
            if let Err(e) = api.send(Msg { header: query.header, body: answer }).await {
                ctx.record(AppEvent::Note {
                    text: format!("comet-manager could not answer: {e:?}"),
                });
            }
        }
    })
}

/// The encoded answer to a follower query, `None` when the body is not one.
fn answer(graph: &FollowerGraph, query: &Msg) -> Option<Bytes> {
    let request = Payload::decode(&query.body).filter(|p| p.kind == PayloadKind::Request)?;
    let user = u32::from_be_bytes(request.extra.get(..4)?.try_into().ok()?);
    let followers = if user < graph.users() { graph.followers(user) } else { &[] };
    Some(encode_answer(request.id, user, followers))
}

/// A query for `user`'s followers, as the router sends it.
pub(crate) fn encode_query(id: u64, user: u32) -> Bytes {
    Payload::new(PayloadKind::Request, id, (HEADER_LEN + 4) as u64)
        .with_extra(user.to_be_bytes().to_vec())
        .encode()
}

/// The answer to query `id`: `user`, then its followers.
pub(crate) fn encode_answer(id: u64, user: u32, followers: &[u32]) -> Bytes {
    let mut extra = BytesMut::with_capacity(4 * (followers.len() + 1));
    extra.put_u32(user);
    for &f in followers {
        extra.put_u32(f);
    }
    let len = (HEADER_LEN + extra.len()) as u64;
    Payload::new(PayloadKind::Reply, id, len).with_extra(extra.freeze()).encode()
}

/// The user and followers an answer carries, `None` when the body is not an answer.
pub(crate) fn decode_answer(body: &Bytes) -> Option<(u32, Vec<u32>)> {
    let reply = Payload::decode(body).filter(|p| p.kind == PayloadKind::Reply)?;
    let mut ids = reply.extra.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    let user = ids.next()?;
    Some((user, ids.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_answered_with_the_users_followers_and_round_trips() {
        let graph = FollowerGraph::barabasi_albert(50, 2, 9);
        let query = Msg { header: vec![0x8000_0007], body: encode_query(42, 17) };
        let body = answer(&graph, &query).expect("a query");
        assert_eq!(decode_answer(&body), Some((17, graph.followers(17).to_vec())));
        let outside = Msg { header: Vec::new(), body: encode_query(43, 50) };
        let body = answer(&graph, &outside).expect("a query");
        assert_eq!(decode_answer(&body), Some((50, Vec::new())));
        assert_eq!(answer(&graph, &Msg::new(Bytes::from_static(b"not ours"))), None);
    }
}
