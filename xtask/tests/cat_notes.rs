//! What `cat` says on stderr about peers that misbehave and about a machine out of
//! descriptors (docs/cat.md, "Output"): a message its socket drops as malformed, a
//! connection its library closes for one, a PAIR of the other version (with the cure a
//! `cat` user has, `--library`), a ZMTP frame above the 4 GiB ceiling, and a listener
//! that cannot accept. The misbehaving peer is a raw TCP socket of the test's own,
//! speaking SP or ZMTP by hand.
//!
//! Nothing waits by sleeping: each test reads `cat`'s stderr line by line until the
//! note it expects (every `cat` here ends by itself within its `--recv-timeout`, which
//! bounds a read that never gets it), and every process is killed when its test ends.

use std::io::{BufRead as _, BufReader, Lines, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

/// A `cat` running with its stderr read line by line, killed when dropped.
struct Cat {
    child: Child,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Where it bound (its first stderr line).
    at: SocketAddr,
}

impl Cat {
    /// Starts `cat ARGS --bind tcp://127.0.0.1:0` under `ulimit -n` at `descriptors`
    /// (when given) and reads where it bound.
    fn bind(args: &[&str], descriptors: Option<u32>) -> Cat {
        let limit = descriptors.map_or_else(String::new, |n| format!("ulimit -n {n} && "));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{limit}exec \"$0\" cat \"$@\""))
            .arg(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .args(["--bind", "tcp://127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh and the xtask binary run");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
        let first = stderr.next().and_then(Result::ok).unwrap_or_default();
        let Some(at) = first.strip_prefix("cat: bound tcp://") else {
            let _ = child.kill();
            panic!("expected `cat: bound ...`, got {first:?}");
        };
        let at = at.parse().expect("an address");
        Cat { child, stderr, at }
    }

    /// The lines up to and including the first that contains `wanted`; panics with
    /// everything read when `cat` ends first.
    fn until(&mut self, wanted: &str) -> String {
        let mut seen = Vec::new();
        for line in self.stderr.by_ref() {
            let line = line.expect("stderr is text");
            if line.contains(wanted) {
                return line;
            }
            seen.push(line);
        }
        panic!("`cat` ended without saying {wanted:?}; it said {seen:#?}");
    }
}

impl Drop for Cat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SP handshake for protocol `id`, then each of `messages` length-prefixed.
fn sp(id: u16, messages: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0, b'S', b'P', 0];
    out.extend(id.to_be_bytes());
    out.extend([0, 0]);
    for m in messages {
        out.extend((m.len() as u64).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// A raw REQ (SP 0x30) that sends `messages` to `at`; reads the REP's handshake.
fn raw_req(at: SocketAddr, messages: &[&[u8]]) -> TcpStream {
    let mut stream = TcpStream::connect(at).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("a read timeout");
    stream.write_all(&sp(0x30, messages)).expect("write");
    let mut handshake = [0u8; 8];
    stream.read_exact(&mut handshake).expect("the REP's handshake");
    assert_eq!(handshake, [0, b'S', b'P', 0, 0, 0x31, 0, 0]);
    stream
}

/// The next SP message on `stream`, or `None` at its end.
fn next_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 8];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u64::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    Some(body)
}

/// nanomsg drops a request too short for a request id and keeps the connection:
/// `cat` says so once, naming the peer and what was wrong, and answers the good
/// request that follows on the same connection. Before, it said nothing.
#[test]
fn a_malformed_request_that_nanomsg_drops_is_noted_once_and_the_connection_serves_on() {
    let mut cat = Cat::bind(&["--rep", "--library", "nanomsg", "--recv-timeout", "20"], None);
    let good: &[u8] = b"\x80\x00\x00\x07ping";
    let mut peer = raw_req(cat.at, &[b"abc", b"\x00\x00\x00\x01\x00\x00\x00\x02", good]);
    let me = peer.local_addr().expect("an address");
    let note = cat.until("cannot use");
    assert_eq!(
        note,
        format!(
            "cat: {me} sent a message the REP cannot use: 3-byte request has no id with the high \
             bit set; dropped, as are any more from this connection (without a note)"
        )
    );
    assert_eq!(next_message(&mut peer), Some(good.to_vec()), "the good request is echoed");
}

/// NNG closes the connection on a request that ends before its request id (its
/// rep0 "kicks" the pipe): so does `cat --library nng`, saying why.
#[test]
fn a_request_without_a_request_id_closes_an_nng_cats_connection_with_the_reason() {
    let mut cat = Cat::bind(&["--rep", "--recv-timeout", "20"], None);
    let mut peer = raw_req(cat.at, &[b"\x00\x00\x00\x01\x00\x00\x00\x02", b"\x80\0\0\x07ping"]);
    let me = peer.local_addr().expect("an address");
    let note = cat.until("broke the protocol");
    assert_eq!(
        note,
        format!(
            "cat: {me} broke the protocol and was cut off: 8-byte request ends before an id \
             with the high bit set"
        )
    );
    assert_eq!(next_message(&mut peer), None, "closed, the request after it unanswered");
}

/// L3: a PAIR of the other version is refused with the cure a `cat` user has, its
/// `--library`, not the topology option `pair_version` it once named.
#[test]
fn a_pair_of_the_other_version_is_refused_with_the_library_to_use() {
    for (library, peer_id, cure) in [
        (
            "nng",
            0x10,
            "the peer's PAIR is v0 (nanomsg's, NNG's pair0, pynng's Pair0): talk to it \
                       with `--library nanomsg`, whose PAIR is v0",
        ),
        (
            "nanomsg",
            0x11,
            "the peer's PAIR is v1 (NNG's default, pynng's Pair1): talk to it with \
                           `--library nng`, whose PAIR is v1",
        ),
    ] {
        let mut cat = Cat::bind(&["--pair", "--library", library, "--recv-timeout", "20"], None);
        let mut peer = TcpStream::connect(cat.at).expect("connect");
        peer.write_all(&sp(peer_id, &[])).expect("write");
        let note = cat.until("broke the protocol");
        assert!(note.ends_with(&format!("; hint: {cure}")), "{library}: {note}");
        assert!(!note.contains("pair_version"), "{library}: {note}");
    }
}

/// L5: a `cat` out of descriptors said nothing, so a full descriptor table looked like
/// a dead peer. Under `ulimit -n 20` the connections a raw peer keeps open use them
/// up; `cat` says so once, though its listener fails again at each pause until it
/// gives up waiting (its receive timeout, 2 s: accepts fail at 0, 0.1, 0.3, 0.7, 1.5 s).
#[test]
fn a_listener_out_of_descriptors_is_noted_once() {
    let mut cat = Cat::bind(&["--rep", "--recv-timeout", "2"], Some(20));
    // Silent peers held open: each accepted one takes a descriptor of `cat`'s until
    // its 10 s handshake deadline, after `cat` has ended.
    let held: Vec<TcpStream> =
        (0..40).map(|_| TcpStream::connect(cat.at).expect("the kernel accepts")).collect();
    let note = cat.until("cannot accept");
    assert!(
        note.starts_with(&format!(
            "cat: cannot accept a connection on tcp://{}: Too many open files (os error 24); \
             the process is out of file descriptors (raise `ulimit -n`",
            cat.at
        )),
        "{note}"
    );
    let rest: Vec<String> = cat.stderr.by_ref().map_while(Result::ok).collect();
    assert_eq!(rest, ["cat: no message arrived within the receive timeout"], "noted once");
    drop(held);
}

/// F6: a ZMTP frame whose header says 5 GiB is refused from its header alone, with no
/// receive limit (libzmq's default, `cat --library zeromq`'s): the connection closes
/// before a byte of the body is sent, and `cat` says why. Before, only `isize::MAX`
/// was refused, and such a frame's body was buffered as it came.
#[test]
fn a_zmtp_frame_above_the_4_gib_ceiling_is_cut_off_from_its_header() {
    let mut cat = Cat::bind(&["--pull", "--library", "zeromq", "--recv-timeout", "20"], None);
    let mut peer = TcpStream::connect(cat.at).expect("connect");
    peer.set_read_timeout(Some(Duration::from_secs(20))).expect("a read timeout");
    // ZMTP 3.1's greeting (NULL, as a client), READY as a PUSH, then one long frame's
    // header: flags 02 and the size, and nothing of its body.
    let mut bytes = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1];
    bytes.extend(b"NULL".iter().copied().chain([0; 16]));
    bytes.extend([0; 32]);
    bytes.extend([0x04, 26, 5]);
    bytes.extend(b"READY".iter().chain(&[11]).chain(b"Socket-Type").chain(&[0, 0, 0, 4]));
    bytes.extend(b"PUSH");
    bytes.push(0x02);
    bytes.extend((5u64 << 30).to_be_bytes());
    peer.write_all(&bytes).expect("write");
    let note = cat.until("broke the protocol");
    assert!(
        note.ends_with(
            "broke the protocol and was cut off: frame length 5368709120 exceeds the hard \
             ceiling of 4294967296 bytes, refused whatever the receive limit"
        ),
        "{note}"
    );
    // `cat`'s greeting and READY, then the end of the stream: closed on the header.
    let mut got = Vec::new();
    match peer.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was not closed: {e}"),
    }
    assert!(got.starts_with(&[0xff]), "cat's greeting came first: {got:?}");
}

/// A reply of 4 bytes or more whose first id is no request id: NNG's and nanomsg's
/// REQ find no request of that id and drop it, keeping the connection; `cat` says so.
#[test]
fn a_reply_without_a_request_id_is_noted_and_the_connection_kept() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("tcp://{}", listener.local_addr().expect("bound"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["cat", "--req", "--connect", &url, "--data", "ping", "--recv-timeout", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xtask binary runs");
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    let (mut server, _) = listener.accept().expect("cat dials");
    server.write_all(&sp(0x31, &[])).expect("write");
    let mut handshake = [0u8; 8];
    server.read_exact(&mut handshake).expect("cat's handshake");
    let request = next_message(&mut server).expect("cat's request");
    assert!(request.ends_with(b"ping") && request[0] & 0x80 != 0, "{request:?}");
    let me = server.local_addr().expect("an address");
    let noid: &[u8] = b"\x00\x00\x00\x01\x00\x00\x00\x02";
    server.write_all(&[&(noid.len() as u64).to_be_bytes()[..], noid].concat()).expect("write");
    let status = child.wait().expect("cat ends at its receive timeout");
    let lines: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert_eq!(
        lines,
        [
            format!(
                "cat: {me} sent a message the REQ cannot use: a reply of 8 bytes that does \
                 not start with a request id; dropped, as are any more from this connection \
                 (without a note)"
            ),
            "cat: no message arrived within the receive timeout".to_owned(),
        ]
    );
    assert_eq!(status.code(), Some(3));
}
