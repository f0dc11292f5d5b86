//! ZeroMQ envelopes on the wire against a real libzmq 4.3 (pyzmq 26.2.0) over real
//! TCP: a `library: zeromq` ROUTER's generated identities and a REQ's
//! `req_correlate` id frame have the bytes libzmq's have (docs/zmtp.md, "Envelopes").
//!
//! The libzmq side is `tests/interop/zmq_envelope_peer.py`, which reports every frame
//! it receives in hex; its stdout lines are the only waits, each bounded by a
//! timeout, and nothing sleeps.

use bytes::Bytes;
use patchbay::net::{SocketHandle, TokioTcp, spawn_socket};
use patchbay::socket::{Dealer, Msg, REQUEST_ID_BIT, Rep, Req, Router, SocketCore, SocketOptions};

use crate::util::{loopback, run_local};
use crate::zmtp_matrix::{Faults, ZmqPeer, hex, recv, require_pyzmq, send};

const PEER_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/zmq_envelope_peer.py");

fn zmtp() -> SocketOptions {
    SocketOptions { zmtp: true, req_resend_ivl: None, ..SocketOptions::default() }
}

/// A libzmq REQ with `REQ_RELAXED` and `REQ_CORRELATE`, as the plan makes it.
fn correlating_req() -> SocketOptions {
    SocketOptions {
        req_strict: false,
        req_correlate: true,
        req_resend_on_pipe_loss: false,
        ..zmtp()
    }
}

/// Starts the Python peer in `role`, binding; returns it and its URL.
async fn bound_peer(role: &str) -> Result<(ZmqPeer, String), String> {
    let mut peer = ZmqPeer::spawn(PEER_SCRIPT, &[role], None)?;
    let port: u16 = peer.expect("READY ").await?.parse().map_err(|_| "bad port")?;
    Ok((peer, format!("127.0.0.1:{port}")))
}

async fn bind(core: Box<dyn SocketCore>, options: &SocketOptions, faults: &Faults) -> SocketHandle {
    let epoch = tokio::time::Instant::now();
    spawn_socket(TokioTcp, core, options, vec![loopback(0)], vec![], epoch, faults.sink())
        .await
        .expect("bind on loopback")
}

async fn connect(
    core: Box<dyn SocketCore>,
    options: &SocketOptions,
    url: &str,
    faults: &Faults,
) -> SocketHandle {
    let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
    let epoch = tokio::time::Instant::now();
    spawn_socket(TokioTcp, core, options, vec![], vec![loopback(port)], epoch, faults.sink())
        .await
        .expect("connect on loopback")
}

fn body(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Runs `test` on a local runtime and fails with its error.
fn run(test: impl std::future::Future<Output = Result<(), String>>) {
    require_pyzmq();
    let outcome = std::cell::RefCell::new(Ok(()));
    run_local(async { *outcome.borrow_mut() = test.await });
    if let Err(err) = outcome.into_inner() {
        panic!("{err}");
    }
}

/// Two pyzmq DEALERs (no `Identity`) reach a patchbay ROUTER, which forwards each
/// request through a patchbay DEALER to a pyzmq ROUTER: it sees the identity frame
/// our ROUTER made in front of the delimiter, as libzmq's ROUTER would make it, and
/// the replies route back.
#[test]
fn zmtp_router_gives_pyzmq_dealers_libzmqs_generated_identities() {
    run(async {
        let faults = Faults::default();
        let (mut upstream, upstream_url) = bound_peer("router-report").await?;
        let dealer = connect(Box::new(Dealer::new(zmtp())), &zmtp(), &upstream_url, &faults).await;
        let router = bind(Box::new(Router::new(zmtp())), &zmtp(), &faults).await;
        let url = format!("tcp://{}", router.local_addrs()[0]);
        let mut dealers = ZmqPeer::spawn(PEER_SCRIPT, &["dealers"], Some(url))?;
        dealers.expect("READY ").await?;
        let mut ids = Vec::new();
        for i in 0..2 {
            let request = recv(&router).await?;
            ids.push(request.header[0]);
            send(&dealer, request).await?;
            let seen = upstream.expect("GOT ").await?;
            let want = format!("006b8b456{},,{}", 7 + i, hex(format!("hello-{i}").as_bytes()));
            if seen != want {
                return Err(format!("pyzmq ROUTER got {seen:?}, want {want:?}"));
            }
            let reply = recv(&dealer).await?;
            send(&router, reply).await?;
            let answer = dealers.expect("GOT ").await?;
            if answer != format!(",{}", hex(b"echo")) {
                return Err(format!("pyzmq DEALER {i} got {answer:?}"));
            }
        }
        if ids != [0x6b8b_4567, 0x6b8b_4568] {
            return Err(format!("routing ids {ids:#x?}, want libzmq's 0x6b8b4567 and 0x6b8b4568"));
        }
        dealers.expect("OK").await?;
        dealers.finish()?;
        upstream.expect("OK").await?;
        upstream.finish()?;
        router.close().await;
        dealer.close().await;
        faults.check()
    });
}

/// A patchbay DEALER (no `Identity`) to a pyzmq ROUTER that answers with the
/// identity frame it made for us: libzmq's 5 bytes, `00 6b 8b 45 67` in a fresh
/// process, which reach our DEALER as the body behind the delimiter.
#[test]
fn zmtp_dealer_gets_its_identity_from_a_pyzmq_router() {
    run(async {
        let faults = Faults::default();
        let (mut peer, url) = bound_peer("router-echo-id").await?;
        let dealer = connect(Box::new(Dealer::new(zmtp())), &zmtp(), &url, &faults).await;
        send(&dealer, Msg { header: vec![REQUEST_ID_BIT | 1], body: body("hello") }).await?;
        let seen = peer.expect("GOT ").await?;
        if seen != format!("006b8b4567,,{}", hex(b"hello")) {
            return Err(format!("pyzmq ROUTER got {seen:?}"));
        }
        let reply = recv(&dealer).await?;
        if reply.header.len() != 1 || reply.body[..] != [0, 0x6b, 0x8b, 0x45, 0x67] {
            return Err(format!("our DEALER got {reply:?}"));
        }
        peer.expect("OK").await?;
        peer.finish()?;
        dealer.close().await;
        faults.check()
    });
}

/// A patchbay REQ with `req_relaxed` and `req_correlate` to a pyzmq ROUTER: each
/// request goes out as `[id, "", body]` with a 4-byte id counting up, and when the
/// ROUTER answers the abandoned request first, the REQ drops that reply and takes
/// the new request's.
#[test]
fn zmtp_correlating_req_sends_libzmqs_id_frame_to_pyzmq() {
    run(async {
        let faults = Faults::default();
        let (mut peer, url) = bound_peer("router-late").await?;
        let options = correlating_req();
        let req = connect(Box::new(Req::new(options.clone(), 1)), &options, &url, &faults).await;
        // Each request is seen to arrive before the next is sent: a relaxed REQ takes
        // a request it abandons out of its queue if it has not gone out yet.
        for (id, text) in [("00000001", "a"), ("00000002", "b")] {
            send(&req, Msg::new(body(text))).await?;
            let seen = peer.expect("GOT ").await?;
            let want = format!("006b8b4567,{id},,{}", hex(text.as_bytes()));
            if seen != want {
                return Err(format!("pyzmq ROUTER got {seen:?}, want {want:?}"));
            }
        }
        let reply = recv(&req).await?;
        if reply.body != body("reply-b") {
            return Err(format!("our REQ took {reply:?}, want reply-b"));
        }
        peer.expect("OK").await?;
        peer.finish()?;
        req.close().await;
        faults.check()
    });
}

/// A pyzmq REQ with `REQ_CORRELATE` and `REQ_RELAXED` to a patchbay REP: our REP
/// answers both requests behind the envelope each came with (libzmq's 4-byte id
/// frame included), and libzmq's REQ takes only the second request's reply.
#[test]
fn zmtp_rep_answers_a_correlating_pyzmq_req_behind_its_id_frame() {
    run(async {
        let faults = Faults::default();
        let rep = bind(Box::new(Rep::new(zmtp())), &zmtp(), &faults).await;
        let url = format!("tcp://{}", rep.local_addrs()[0]);
        let mut peer = ZmqPeer::spawn(PEER_SCRIPT, &["req-correlate"], Some(url))?;
        peer.expect("READY ").await?;
        for text in ["a", "b"] {
            let request = recv(&rep).await?;
            if request.body != body(text) {
                return Err(format!("our REP got {request:?}, want {text}"));
            }
            let echo = [b"echo:", text.as_bytes()].concat();
            send(&rep, Msg { header: request.header, body: echo.into() }).await?;
        }
        let seen = peer.expect("GOT ").await?;
        if seen != hex(b"echo:b") {
            return Err(format!("pyzmq REQ took {seen:?}, want echo:b"));
        }
        peer.expect("OK").await?;
        peer.finish()?;
        rep.close().await;
        faults.check()
    });
}
