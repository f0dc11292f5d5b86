//! patchbay's ZMTP codec (`wire::zmtp`) against a real libzmq 4.3 (pyzmq) over real
//! TCP: handshakes, multipart messages, heartbeats and subscriptions both ways, in
//! ZMTP 3.1 and, offering 3.0, as an older peer would.
//!
//! The libzmq side is `tests/interop/zmq_peer.py`, a child process reporting each step
//! on a line of stdout, so nothing here sleeps. Blocking std sockets with a read
//! timeout keep a hung peer from hanging the test. The tests fail, never skip, when
//! pyzmq is missing (`cargo xtask test` installs the pinned version).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use patchbay::socket::SocketType;
use patchbay::wire::zmtp::{self, Decoder, Event, Handshake, Limits, Peer, Version};

use crate::util;

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/zmq_peer.py");
/// A guard against a hung peer, not a wait for one: each step takes milliseconds.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const MESSAGES: usize = 5;

fn require_pyzmq() {
    let found = Command::new("python3")
        .args(["-c", "import zmq"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "the ZMTP interop tests need python3 with pyzmq (it bundles libzmq 4.3): run \
         `python3 -m pip install pyzmq==26.2.0` or `cargo xtask test`; they never skip"
    );
}

/// A running `zmq_peer.py`; killed if the test fails first.
struct ZmqPeer {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl ZmqPeer {
    fn start(args: &[&str]) -> ZmqPeer {
        require_pyzmq();
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(PEER_SCRIPT)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut peer = ZmqPeer { child, lines };
        let version = peer.expect("ZMQ ");
        assert!(version.starts_with("ZMQ 4.3"), "expected libzmq 4.3, got {version}");
        peer
    }

    /// The next line, which must start with `prefix`. Blocking is bounded: the peer
    /// exits (closing stdout) on any error of its own.
    fn expect(&mut self, prefix: &str) -> String {
        let line = self
            .lines
            .next()
            .unwrap_or_else(|| panic!("zmq peer exited; wanted {prefix:?}"))
            .expect("read the zmq peer's stdout");
        assert!(line.starts_with(prefix), "zmq peer said {line:?}, wanted {prefix:?}");
        line
    }

    fn port(&mut self) -> u16 {
        self.expect("READY ")["READY ".len()..].parse().expect("port number")
    }

    fn finish(mut self) {
        let status = util::wait_bounded(&mut self.child, STEP_TIMEOUT, "the zmq peer");
        let status = status.unwrap_or_else(|err| panic!("{err}"));
        assert!(status.success(), "zmq peer exited with {status}");
    }
}

impl Drop for ZmqPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One ZMTP connection driven by the codec over a blocking stream.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
    peer: Peer,
}

impl Conn {
    /// Greets, then reads until the handshake yields the peer.
    fn handshake(mut stream: TcpStream, ours: SocketType, offered: Version) -> Conn {
        stream.set_read_timeout(Some(STEP_TIMEOUT)).expect("set a read timeout");
        let mut shake = Handshake::new(ours, Bytes::from_static(b"rust"), Limits::default())
            .expect("a ZeroMQ socket type")
            .offering(offered);
        stream.write_all(&shake.greeting()).expect("send our greeting");
        let mut buf = BytesMut::new();
        let peer = loop {
            let mut out = BytesMut::new();
            let done = shake.advance(&mut buf, &mut out).expect("a good handshake");
            stream.write_all(&out).expect("send READY");
            match done {
                Some(peer) => break peer,
                None => read_some(&mut stream, &mut buf),
            }
        };
        Conn { stream, buf, decoder: Decoder::new(ours, Limits::default()), peer }
    }

    fn send(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        let mut out = BytesMut::new();
        encode(&mut out);
        self.stream.write_all(&out).expect("write to the zmq peer");
    }

    /// The next event; PINGs are answered and returned too.
    fn next(&mut self) -> Event {
        loop {
            if let Some(event) = self.decoder.decode(&mut self.buf).expect("well-formed ZMTP") {
                if let Event::Ping { context, .. } = &event {
                    let context = context.clone();
                    self.send(|out| zmtp::encode_pong(&context, out));
                }
                return event;
            }
            read_some(&mut self.stream, &mut self.buf);
        }
    }

    /// The next data message, skipping heartbeats.
    fn message(&mut self) -> Vec<Bytes> {
        loop {
            match self.next() {
                Event::Message(frames) => return frames,
                Event::Ping { .. } | Event::Pong { .. } => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }
}

fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).expect("read from the zmq peer (timed out?)");
    assert!(n > 0, "the zmq peer closed the connection");
    buf.extend_from_slice(&chunk[..n]);
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to the zmq peer")
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// A REQ or DEALER client: empty delimiter, short and long frames, echoed back.
fn request_reply_round_trips_as(ours: SocketType) {
    let mut peer = ZmqPeer::start(&["rep", "--count", &MESSAGES.to_string()]);
    let mut conn = Conn::handshake(connect(peer.port()), ours, Version::V3_1);
    assert_eq!(conn.peer.socket_type, SocketType::Rep);
    assert_eq!(conn.peer.version, Version::V3_1);
    // The PING goes first: once the last reply is out the peer closes its socket, and
    // a PING sent after that would race the close (a reset instead of a PONG).
    conn.send(|out| zmtp::encode_ping(10, b"ctx-1", out));
    assert_eq!(conn.next(), Event::Pong { context: b("ctx-1") });
    let long = "L".repeat(300);
    for i in 0..MESSAGES {
        let body = format!("hello {i}");
        conn.send(|out| zmtp::encode_message(&[&b""[..], body.as_bytes(), long.as_bytes()], out));
        let reply = conn.message();
        assert_eq!(reply, vec![Bytes::new(), b(&format!("echo:{body}")), b(&long)]);
    }
    peer.expect("OK ");
    peer.finish();
}

#[test]
fn zmtp_req_and_dealer_round_trip_multipart_with_pyzmq_rep() {
    request_reply_round_trips_as(SocketType::Req);
    request_reply_round_trips_as(SocketType::Dealer);
}

/// Over real TCP a modelled message's last frame counts its padding, the zeros sent
/// after its real bytes (docs/zmtp.md, "Modelled sizes"). libzmq takes it as one
/// well-formed frame of the modelled length and echoes it whole; patchbay's decoder
/// made for real padding hands back only the real bytes, one that is not the frame
/// whole, zeros and all.
#[test]
fn zmtp_padded_frame_crosses_pyzmq_whole_and_comes_back_real() {
    use patchbay::wire::payload::{Payload, PayloadKind};
    const PAD: u64 = 200_000;
    let mut body = Payload::new(PayloadKind::Task, 7, PAD).encode().to_vec();
    body.extend_from_slice(b"job");
    for real_padding in [true, false] {
        let mut peer = ZmqPeer::start(&["rep", "--count", "1"]);
        let mut conn = Conn::handshake(connect(peer.port()), SocketType::Req, Version::V3_1);
        if real_padding {
            conn.decoder = std::mem::replace(
                &mut conn.decoder,
                Decoder::new(SocketType::Req, Limits::default()),
            )
            .with_real_padding();
        }
        conn.send(|out| {
            let padding = zmtp::encode_message_padded(&[&b""[..], b"hello", &body[..]], out);
            assert_eq!(padding, PAD);
            out.extend_from_slice(&vec![0; PAD as usize]);
        });
        let reply = conn.message();
        assert_eq!(reply.len(), 3, "delimiter, echo, body: {} frames", reply.len());
        assert_eq!((&reply[0][..], &reply[1][..]), (&b""[..], &b"echo:hello"[..]));
        if real_padding {
            assert_eq!(reply[2], Bytes::from(body.clone()), "the real bytes only");
        } else {
            assert_eq!(reply[2].len() as u64, body.len() as u64 + PAD, "libzmq kept it whole");
            assert!(reply[2][body.len()..].iter().all(|&b| b == 0));
        }
        peer.expect("OK ");
        peer.finish();
    }
}

#[test]
fn zmtp_answers_pyzmq_heartbeat_with_its_ttl() {
    let mut peer = ZmqPeer::start(&["rep", "--count", "1", "--heartbeat-ms", "20"]);
    let mut conn = Conn::handshake(connect(peer.port()), SocketType::Req, Version::V3_1);
    // libzmq pings every 20 ms here; the first PING is an event we wait for.
    let ping = conn.next();
    assert_eq!(ping, Event::Ping { ttl_ds: 20, context: Bytes::new() }, "TTL 2000 ms is 20 ds");
    conn.send(|out| zmtp::encode_message(&[&b""[..], b"after ping"], out));
    assert_eq!(conn.message(), vec![Bytes::new(), b("echo:after ping")]);
    peer.expect("OK ");
    peer.finish();
}

#[test]
fn zmtp_sub_subscribes_and_cancels_at_pyzmq_xpub_in_3_1_and_3_0() {
    for offered in [Version::V3_1, Version::V3_0] {
        let mut peer = ZmqPeer::start(&["xpub", "--count", &MESSAGES.to_string()]);
        let mut conn = Conn::handshake(connect(peer.port()), SocketType::Sub, offered);
        assert_eq!((conn.peer.socket_type, conn.peer.version), (SocketType::XPub, offered));
        conn.send(|out| zmtp::encode_subscribe(offered, b"news", out));
        assert_eq!(peer.expect("SUB "), "SUB 016e657773", "XPUB reports 01 + prefix");
        for i in 0..MESSAGES {
            // The unmatched message was published first: libzmq filtered it for us.
            assert_eq!(conn.message(), vec![b("news"), b(&i.to_string())], "{offered:?}");
        }
        conn.send(|out| zmtp::encode_cancel(offered, b"news", out));
        assert_eq!(peer.expect("CANCEL "), "CANCEL 006e657773");
        peer.expect("OK ");
        peer.finish();
    }
}

#[test]
fn zmtp_pub_receives_pyzmq_sub_subscription_in_3_1_and_3_0() {
    for (offered, form) in [(Version::V3_1, 0x04u8), (Version::V3_0, 0x00)] {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let url = format!("tcp://{}", listener.local_addr().expect("address"));
        let mut peer =
            ZmqPeer::start(&["sub", "--connect", &url, "--count", &MESSAGES.to_string()]);
        peer.expect("CONNECTED");
        let (stream, _) = listener.accept().expect("accept the SUB");
        let mut conn = Conn::handshake(stream, SocketType::Pub, offered);
        assert_eq!((conn.peer.socket_type, conn.peer.version), (SocketType::Sub, offered));
        if conn.buf.is_empty() {
            read_some(&mut conn.stream, &mut conn.buf);
        }
        // 3.1 sends a SUBSCRIBE command (flags 04), 3.0 a data frame (flags 00).
        assert_eq!(conn.buf[0], form, "subscription form for {offered:?}: {:x?}", &conn.buf[..]);
        assert_eq!(conn.next(), Event::Subscribe(b("news")));
        conn.send(|out| zmtp::encode_message(&[&b"other"[..], b"dropped by libzmq"], out));
        for i in 0..MESSAGES {
            let body = i.to_string();
            conn.send(|out| zmtp::encode_message(&[&b"news"[..], body.as_bytes()], out));
        }
        for i in 0..MESSAGES {
            assert_eq!(peer.expect("GOT "), format!("GOT news|{i}"));
        }
        peer.expect("OK ");
        peer.finish();
    }
}
