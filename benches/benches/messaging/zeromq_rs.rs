//! zeromq-rs (the `zeromq` crate, pure Rust on tokio): the same PUSH/PULL and REQ/REP
//! patterns as patchbay's rigs, each side on its own current-thread runtime.
//!
//! Its PUSH fails a send while no peer is connected (libzmq would queue), so the
//! pusher retries such a send after a short pause; once the puller is connected (in
//! the warm-up) that path is never taken again.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use bytes::Bytes;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::rig::{Flow, RoundTrip, local_thread, receive_batches, send_batches, serve_asks};

const LOOPBACK_ANY_PORT: &str = "tcp://127.0.0.1:0";
/// How long a PUSH send refused for want of a peer waits before trying again.
const NO_PEER_RETRY: Duration = Duration::from_millis(1);

pub fn push_pull(size: usize) -> Flow {
    let (mut flow, ends) = Flow::new();
    let (endpoint_tx, endpoint) = std_mpsc::channel();
    let commands = ends.sender;
    flow.join_on_finish(local_thread("zeromq-push", move || async move {
        let mut push = zeromq::PushSocket::new();
        let bound = push.bind(LOOPBACK_ANY_PORT).await.expect("zeromq bind");
        endpoint_tx.send(bound.to_string()).expect("the bench is waiting");
        let body = Bytes::from(vec![0xa5u8; size]);
        send_batches(commands, async || {
            while push.send(ZmqMessage::from(body.clone())).await.is_err() {
                tokio::time::sleep(NO_PEER_RETRY).await;
            }
        })
        .await;
    }));
    let endpoint = endpoint.recv().expect("the PUSH thread bound");
    let (commands, done) = (ends.receiver, ends.done);
    flow.join_on_finish(local_thread("zeromq-pull", move || async move {
        let mut pull = zeromq::PullSocket::new();
        pull.connect(&endpoint).await.expect("zeromq connect");
        receive_batches(commands, done, async || {
            pull.recv().await.expect("zeromq PULL recv");
        })
        .await;
    }));
    flow
}

pub fn req_rep() -> RoundTrip {
    let (endpoint_tx, endpoint) = std_mpsc::channel();
    // The server stays parked on its socket after the benchmark; see main.rs.
    local_thread("zeromq-rep", move || async move {
        let mut rep = zeromq::RepSocket::new();
        let bound = rep.bind(LOOPBACK_ANY_PORT).await.expect("zeromq bind");
        endpoint_tx.send(bound.to_string()).expect("the bench is waiting");
        while let Ok(request) = rep.recv().await {
            if rep.send(request).await.is_err() {
                return;
            }
        }
    });
    let endpoint = endpoint.recv().expect("the REP thread bound");
    let (round_trip, ends) = RoundTrip::new();
    local_thread("zeromq-req", move || async move {
        let mut req = zeromq::ReqSocket::new();
        req.connect(&endpoint).await.expect("zeromq connect");
        let body = Bytes::from(vec![0x5au8; crate::REQUEST_BYTES]);
        serve_asks(ends, async || {
            req.send(ZmqMessage::from(body.clone())).await.expect("zeromq REQ send");
            req.recv().await.expect("zeromq REQ recv");
        })
        .await;
    });
    round_trip
}
