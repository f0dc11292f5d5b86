//! The `aggregator-client` design: one client connection of article 001's multiplexing
//! aggregator, and the small protocol it speaks.
//!
//! The seed's client is a bunch of processes, one per job, each on its own TCP
//! connection. Here one replica is one such connection carrying one job's chunks: a
//! client working on several jobs is several replicas, and replica `r` serves job
//! `r % params.jobs`. After `workload.start_at` it sends its first packet, which names
//! the job and says how many chunks will follow (the seed's routing information: TCP
//! has no metadata, so the first packet carries it), then `workload.chunks` chunks of
//! sizes drawn from `workload.size` (modelled, never allocated), paced by
//! `workload.rate`. Each chunk is recorded as `ChunkSent` before it goes, so a chunk
//! that never got out still counts as sent and lost.
//!
//! The socket is a DEALER so the aggregator's ROUTER can tell connections apart by hop
//! id. A DEALER's message needs a request id (high bit set) on its stack, as `client.rs`
//! explains, or the ROUTER side cannot parse its backtrace.

use std::future::Future;
use std::pin::Pin;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::socket::{Msg, REQUEST_ID_BIT};
use crate::trace::{AppEvent, MsgId};

use super::ctx::NodeCtx;
use super::kit::{Pacer, sample_size, stay_up, wait_start};
use crate::wire::payload::{Payload, PayloadKind};

/// What a `Chunk` payload's extra bytes say. The first packet of a connection is a
/// `Hello`; every later one a `Data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Packet {
    /// The connection's first packet: it serves `job` and will send `chunks` chunks.
    Hello { job: u64, chunks: u64 },
    /// Chunk number `seq` (0, 1, ...) of the connection's job.
    Data { job: u64, seq: u64 },
}

/// Tag bytes that open a packet's extra, before two big-endian `u64`s.
const HELLO_TAG: u8 = b'H';
const DATA_TAG: u8 = b'D';

impl Packet {
    pub(super) fn encode(self) -> Bytes {
        let (tag, job, n) = match self {
            Packet::Hello { job, chunks } => (HELLO_TAG, job, chunks),
            Packet::Data { job, seq } => (DATA_TAG, job, seq),
        };
        let mut b = BytesMut::with_capacity(17);
        b.put_u8(tag);
        b.put_u64(job);
        b.put_u64(n);
        b.freeze()
    }

    /// `None` for extra bytes that are not a packet of this protocol.
    pub(super) fn decode(extra: &[u8]) -> Option<Packet> {
        if extra.len() != 17 {
            return None;
        }
        let mut b = &extra[1..];
        let (job, n) = (b.get_u64(), b.get_u64());
        match extra[0] {
            HELLO_TAG => Some(Packet::Hello { job, chunks: n }),
            DATA_TAG => Some(Packet::Data { job, seq: n }),
            _ => None,
        }
    }
}

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        wait_start(&ctx).await;
        // Declared at least 1 (`catalog.rs`).
        let job = u64::from(ctx.replica.index) % ctx.param_count("jobs");
        send_job(&ctx, job).await;
        ctx.finished();
        // The socket must outlive the sends, or chunks still queued would be discarded.
        stay_up().await;
    })
}

/// Sends the first packet, then the chunks in order, until one cannot be sent.
async fn send_job(ctx: &NodeCtx, job: u64) {
    let chunks = ctx.workload.chunks.unwrap_or(0);
    let hello = Payload::new(PayloadKind::Chunk, ctx.next_msg_id(), 0)
        .with_extra(Packet::Hello { job, chunks }.encode());
    if let Err(text) = send(ctx, hello).await {
        return ctx.record(AppEvent::Note { text: format!("{text}: no job {job} from here") });
    }
    let mut pacer = Pacer::new(ctx.workload.rate);
    for seq in 0..chunks {
        pacer.wait(ctx).await;
        let (id, len) = (ctx.next_msg_id(), sample_size(ctx));
        ctx.record(AppEvent::ChunkSent { id, job, seq, len });
        let chunk = Payload::new(PayloadKind::Chunk, id, len)
            .with_extra(Packet::Data { job, seq }.encode());
        if let Err(text) = send(ctx, chunk).await {
            return ctx.record(AppEvent::Note { text: format!("{text}: job {job} stops here") });
        }
    }
}

/// Sends one packet with the request id a DEALER needs; `Err` says why it failed.
async fn send(ctx: &NodeCtx, payload: Payload) -> Result<(), String> {
    let id: MsgId = payload.id;
    let msg = Msg { header: vec![(id as u32) | REQUEST_ID_BIT], body: payload.encode() };
    // DEALER waits at its high-water mark, so an error is a state that will not change.
    ctx.socket("out").send(msg).await.map_err(|e| format!("could not send {id}: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_and_foreign_extras_are_refused() {
        for p in [Packet::Hello { job: 2, chunks: 20 }, Packet::Data { job: 7, seq: 19 }] {
            assert_eq!(Packet::decode(&p.encode()), Some(p));
        }
        assert_eq!(Packet::decode(b"topic"), None);
        let mut bad = Packet::Data { job: 1, seq: 1 }.encode().to_vec();
        bad[0] = b'X';
        assert_eq!(Packet::decode(&bad), None);
    }
}
