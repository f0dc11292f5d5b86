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

/// Reads until `buf` holds a whole frame, then removes it and returns its length (all
/// a benchmark needs); `None` once the peer has closed.
async fn next_frame<R: AsyncRead + Unpin>(read: &mut R, buf: &mut BytesMut) -> Option<usize> {
    loop {
        if buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() >= 4 + len {
                buf.advance(4 + len);
                return Some(len);
            }
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
    let addr = addr.recv().expect("the server bound");
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
