//! Hostile ZMTP peers over real TCP against a `library: zeromq` PULL that keeps
//! serving a good patchbay PUSH: a frame larger than the receive limit, refused from
//! its header before its body is stored, and a frame with reserved flag bits. Each
//! closes only the bad connection, with a `ProtocolError` naming why.
//!
//! The bad peer is a tokio stream driven by the codec's own handshake; the waits are
//! for patchbay's answers, each bounded by a timeout that only guards against a hang.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use patchbay::net::{DriverEvent, EventSink, SocketHandle, TokioTcp, spawn_socket};
use patchbay::socket::{Msg, Pull, Push, SocketOptions, SocketType};
use patchbay::wire::zmtp::{Handshake, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{loopback, run_local};

const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const RCVMAXSIZE_BYTES: u64 = 1024;

#[derive(Clone, Default)]
struct ProtocolErrors(Rc<RefCell<Vec<String>>>);

impl ProtocolErrors {
    fn sink(&self) -> EventSink {
        let log = Rc::clone(&self.0);
        Rc::new(move |_at: Duration, event: DriverEvent| {
            if let DriverEvent::ProtocolError { reason, .. } = event {
                log.borrow_mut().push(reason);
            }
        })
    }
}

fn zmtp(options: SocketOptions) -> SocketOptions {
    SocketOptions { zmtp: true, ..options }
}

/// A raw PUSH that completes the ZMTP handshake, sends `bytes`, and reads until
/// patchbay closes the connection; returns what it read after the handshake.
async fn hostile_push(addr: std::net::SocketAddr, bytes: &[u8]) -> usize {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut shake =
        Handshake::new(SocketType::Push, Bytes::new(), Limits::default()).expect("a ZMTP type");
    stream.write_all(&shake.greeting()).await.expect("greet");
    let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
    loop {
        let done = shake.advance(&mut buf, &mut out).expect("patchbay's handshake is good");
        stream.write_all(&out).await.expect("send READY");
        out.clear();
        if done.is_some() {
            break;
        }
        assert!(stream.read_buf(&mut buf).await.expect("read") > 0, "closed mid-handshake");
    }
    stream.write_all(bytes).await.expect("send the bad frame");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(STEP_TIMEOUT, stream.read_to_end(&mut rest)).await;
    read.expect("patchbay closes the bad connection").map_or(0, |_| rest.len())
}

/// Runs a bad peer sending `bad` and a good PUSH against one PULL; returns the
/// protocol errors logged and checks the good messages all arrive.
fn against_a_good_peer(bad: &'static [u8]) -> Vec<String> {
    let errors = ProtocolErrors::default();
    run_local(async {
        let pull_options = zmtp(SocketOptions {
            rcvmaxsize_bytes: Some(RCVMAXSIZE_BYTES),
            ..SocketOptions::default()
        });
        let epoch = tokio::time::Instant::now();
        let core = Box::new(Pull::new(pull_options.clone()));
        let pull: SocketHandle = spawn_socket(
            TokioTcp,
            core,
            &pull_options,
            vec![loopback(0)],
            vec![],
            epoch,
            errors.sink(),
        )
        .await
        .expect("bind PULL");
        let addr = pull.local_addrs()[0];
        hostile_push(addr, bad).await;
        let push_options = zmtp(SocketOptions::default());
        let core = Box::new(Push::new(push_options.clone()));
        let push =
            spawn_socket(TokioTcp, core, &push_options, vec![], vec![addr], epoch, errors.sink())
                .await
                .expect("connect PUSH");
        for i in 0..3 {
            push.send(Msg::new(format!("good-{i}"))).await.expect("PUSH send");
        }
        for i in 0..3 {
            let got = tokio::time::timeout(STEP_TIMEOUT, pull.recv()).await.expect("in time");
            assert_eq!(got.expect("PULL recv").body, Bytes::from(format!("good-{i}")));
        }
        assert!(
            pull.rx_buffered_bytes_peak() < 64 * 1024 + 1024,
            "nothing of the big frame stored"
        );
        push.close().await;
        pull.close().await;
    });
    errors.0.take()
}

#[test]
fn a_frame_over_the_receive_limit_closes_only_its_connection_before_it_is_stored() {
    // A long frame announcing 1 MiB, and only its first bytes.
    const TOO_LONG: &[u8] = &[0x02, 0, 0, 0, 0, 0, 0x10, 0, 0, b'x', b'x'];
    let errors = against_a_good_peer(TOO_LONG);
    assert_eq!(
        errors,
        ["frame length 1048576 exceeds the receive limit of 1024 bytes".to_owned()],
        "one protocol error, for the bad peer"
    );
}

#[test]
fn reserved_frame_flags_close_only_their_connection() {
    const RESERVED: &[u8] = &[0x08, 0x01, b'x'];
    let errors = against_a_good_peer(RESERVED);
    assert_eq!(
        errors,
        ["frame flags 0x08 set a reserved bit (only 0x07 are defined)".to_owned()],
        "one protocol error, for the bad peer"
    );
}
