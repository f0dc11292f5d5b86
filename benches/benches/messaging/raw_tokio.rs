//! The practical limit: raw tokio TCP with 4-byte length prefixes and batched
//! writes, no sockets' semantics at all, each side on its own current-thread
//! runtime. PUSH/PULL becomes a stream of frames; REQ/REP a frame each way.

use std::sync::mpsc as std_mpsc;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::rig::{Flow, RoundTrip, local_thread, receive_batches, serve_asks};

/// A batch is written once it holds this much, as patchbay's writer batches.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
const READ_CHUNK_BYTES: usize = 64 * 1024;

async fn listen() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound address");
    (listener, addr)
}

async fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = listener.accept().await.expect("accept");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

async fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

fn put_frame(batch: &mut BytesMut, body: &[u8]) {
    batch.put_u32(body.len() as u32);
    batch.put_slice(body);
}

/// The length of the whole frame at the start of `buf`, prefix included; `None`
/// while it is incomplete.
fn whole_frame(buf: &[u8]) -> Option<usize> {
    let prefix: [u8; 4] = buf.get(..4)?.try_into().expect("four bytes");
    let whole = 4 + u32::from_be_bytes(prefix) as usize;
    (buf.len() >= whole).then_some(whole)
}

/// Reads until `buf` holds a whole frame, then removes it and returns its length (all
/// a benchmark needs); `None` once the peer has closed.
async fn next_frame<R: AsyncRead + Unpin>(read: &mut R, buf: &mut BytesMut) -> Option<usize> {
    loop {
        if let Some(whole) = whole_frame(buf) {
            buf.advance(whole);
            return Some(whole - 4);
        }
        buf.reserve(READ_CHUNK_BYTES);
        if read.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

pub fn push_pull(size: usize) -> Flow {
    let (mut flow, ends) = Flow::new();
    let (addr_tx, addr) = std_mpsc::channel();
    let mut commands = ends.sender;
    flow.join_on_finish(local_thread("tokio-push", move || async move {
        let (listener, bound) = listen().await;
        addr_tx.send(bound).expect("the bench is waiting");
        let mut stream = accept(&listener).await;
        let (body, mut batch) = (vec![0xa5u8; size], BytesMut::new());
        while let Some(n) = commands.recv().await {
            for _ in 0..n {
                put_frame(&mut batch, &body);
                if batch.len() >= WRITE_BATCH_BYTES {
                    stream.write_all(&batch).await.expect("write");
                    batch.clear();
                }
            }
            stream.write_all(&batch).await.expect("write");
            batch.clear();
        }
    }));
    let addr = addr.recv().expect("the sender bound");
    let (commands, done) = (ends.receiver, ends.done);
    flow.join_on_finish(local_thread("tokio-pull", move || async move {
        let mut stream = connect(addr).await;
        let mut buf = BytesMut::new();
        receive_batches(commands, done, async || {
            next_frame(&mut stream, &mut buf).await.expect("the sender closed mid-benchmark");
        })
        .await;
    }));
    flow
}

pub fn req_rep() -> RoundTrip {
    req_client(rep_echo())
}

/// REQ → a bare tokio forwarder → REP echo, each on its own thread: the least an
/// added hop can cost on this machine (two more loopback transfers and two more
/// thread wake-ups), for the table to set patchbay's QUEUE device beside.
pub fn queue_device() -> RoundTrip {
    let backend = rep_echo();
    let (addr_tx, addr) = std_mpsc::channel();
    // The forwarder stays parked on its sockets after the benchmark; see main.rs.
    local_thread("tokio-device", move || async move {
        let (listener, bound) = listen().await;
        addr_tx.send(bound).expect("the bench is waiting");
        let mut back = connect(backend).await;
        let mut front = accept(&listener).await;
        let (mut front_buf, mut back_buf) = (BytesMut::new(), BytesMut::new());
        // One pass per readable side, as a device's poll loop: whatever came in whole
        // goes out at once, in either direction.
        loop {
            let forwarded = tokio::select! {
                biased;
                read = front.read_buf(&mut front_buf) => {
                    forward(read, &mut front_buf, &mut back).await
                }
                read = back.read_buf(&mut back_buf) => {
                    forward(read, &mut back_buf, &mut front).await
                }
            };
            if forwarded.is_none() {
                return;
            }
            front_buf.reserve(READ_CHUNK_BYTES);
            back_buf.reserve(READ_CHUNK_BYTES);
        }
    });
    req_client(addr.recv().expect("the forwarder bound"))
}

/// Writes every whole frame in `buf` to `to` after a read of `read` bytes into it;
/// `None` once either side has closed.
async fn forward(
    read: std::io::Result<usize>,
    buf: &mut BytesMut,
    to: &mut TcpStream,
) -> Option<()> {
    if read.ok()? == 0 {
        return None;
    }
    let mut whole = 0;
    while let Some(frame) = whole_frame(&buf[whole..]) {
        whole += frame;
    }
    if whole > 0 {
        to.write_all(&buf[..whole]).await.ok()?;
        buf.advance(whole);
    }
    Some(())
}

/// An echo server on its own thread: answers each frame with a frame of the same
/// length (at most a request's). Returns its address.
fn rep_echo() -> std::net::SocketAddr {
    let (addr_tx, addr) = std_mpsc::channel();
    // The server stays parked on its socket after the benchmark; see main.rs.
    local_thread("tokio-rep", move || async move {
        let (listener, bound) = listen().await;
        addr_tx.send(bound).expect("the bench is waiting");
        let mut stream = accept(&listener).await;
        let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
        let reply = [0u8; crate::REQUEST_BYTES];
        while let Some(len) = next_frame(&mut stream, &mut buf).await {
            out.clear();
            put_frame(&mut out, &reply[..len.min(reply.len())]);
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    addr.recv().expect("the server bound")
}

/// A requester on its own thread, connected to `addr`, serving the bench's asks.
fn req_client(addr: std::net::SocketAddr) -> RoundTrip {
    let (round_trip, ends) = RoundTrip::new();
    local_thread("tokio-req", move || async move {
        let mut stream = connect(addr).await;
        let (mut buf, mut request) = (BytesMut::new(), BytesMut::new());
        put_frame(&mut request, &[0x5au8; crate::REQUEST_BYTES]);
        serve_asks(ends, async || {
            stream.write_all(&request).await.expect("write");
            next_frame(&mut stream, &mut buf).await.expect("the server closed mid-benchmark");
        })
        .await;
    });
    round_trip
}
