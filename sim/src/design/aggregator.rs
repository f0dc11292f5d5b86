//! The `aggregator` design: article 001's multiplexing aggregator, with its lost wake-up.
//!
//! In the seed, an acceptor reads the first packet of each new TCP connection, which
//! names a job, and hands the connection to that job's worker thread (creating the
//! worker with the connection if the job is new). A worker blocks in `select()` on a
//! copy of its descriptor set, which the acceptor owns and writes into. A connection
//! added while the worker is blocked is not in the copy `select()` waits on, so the
//! acceptor writes a byte to the worker's wake-up pipe, whose read end is in the set:
//! `select()` returns, and the next iteration copies the set with the new connection.
//!
//! Here the ROUTER `ingest` stands for the listening socket and every accepted
//! connection: the hop id it pushes onto each message says which connection the
//! message came in on. The acceptor is this design's receive loop. A message from a
//! hop it has not seen is a first packet, and the connection is handed over; a later
//! message is filed under its connection, standing for bytes in that connection's
//! kernel buffer, which only the worker that owns the connection reads. Workers are
//! plain state machines run inside this one future after each acceptor step, so the
//! whole node stays on one task and deterministic; a worker's `select()` is modelled
//! exactly: it is ready when its wake-up pipe holds bytes or a connection in the copy
//! it blocked on (`watched`) has data, and data on any other connection does not
//! wake it.
//!
//! With `params.wakeup: false` the acceptor adds the connection to the worker's set
//! without writing to the pipe: the lost wake-up. The worker then reads the new
//! connection only once something it does watch wakes it; if its other connections
//! have already sent everything, the new connection's data sits unread and the job
//! never finishes. A job is complete when `params.connections_per_job` connections
//! have named it and each has sent the chunks its first packet announced; it is
//! recorded as `JobFinished`, and each chunk appended to its aggregate (in the order
//! its connection delivered it) as `ChunkAggregated`.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::{AppEvent, MsgId};

use super::aggregator_client::Packet;
use super::ctx::NodeCtx;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let wakeup = ctx.param_bool("wakeup");
        let mut aggregator = Aggregator {
            wakeup,
            connections_per_job: ctx.param_count("connections_per_job"),
            connections: BTreeMap::new(),
            workers: BTreeMap::new(),
        };
        let ingest = ctx.socket("ingest");
        loop {
            // A ROUTER receive waits out an empty queue; an error will not go away.
            let msg = match ingest.recv().await {
                Ok(msg) => msg,
                Err(e) => {
                    let text = format!("aggregator stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            aggregator.accept(&ctx, msg);
            aggregator.run_workers(&ctx);
        }
    })
}

/// One client connection, as the acceptor and its worker see it.
#[derive(Debug)]
struct Connection {
    job: u64,
    /// Chunks its first packet announced.
    chunks: u64,
    /// Chunks arrived but not yet read by the worker (the kernel's socket buffer):
    /// message id, sequence number, modelled length.
    buffered: VecDeque<(MsgId, u64, u64)>,
    /// Chunks the worker has appended to the job's aggregate.
    read: u64,
}

/// One job's worker thread.
#[derive(Debug, Default)]
struct Worker {
    /// The descriptor set the acceptor writes into: every connection handed over.
    connections: Vec<u32>,
    /// The copy `select()` is blocked on, taken at the end of the worker's last
    /// iteration; connections handed over since are not in it.
    watched: Vec<u32>,
    /// Bytes written to the wake-up pipe and not yet read.
    pipe_bytes: u32,
    /// Modelled bytes in the job's aggregate.
    aggregate_bytes: u64,
    finished: bool,
}

#[derive(Debug)]
struct Aggregator {
    wakeup: bool,
    connections_per_job: u64,
    /// Every connection seen, by hop id.
    connections: BTreeMap<u32, Connection>,
    /// One worker per job, by job number.
    workers: BTreeMap<u64, Worker>,
}

impl Aggregator {
    /// The acceptor's step: a first packet hands its connection over, anything later
    /// waits in its connection's buffer for the worker.
    fn accept(&mut self, ctx: &NodeCtx, msg: Msg) {
        let note = |text: String| ctx.record(AppEvent::Note { text });
        let Some(&hop) = msg.header.first() else {
            return note("aggregator got a message with no hop id".into());
        };
        let payload = Payload::decode(&msg.body).filter(|p| p.kind == PayloadKind::Chunk);
        let packet = payload.as_ref().and_then(|p| Packet::decode(&p.extra).map(|k| (p, k)));
        match (packet, self.connections.get_mut(&hop)) {
            (Some((p, Packet::Data { job, seq })), Some(conn)) => {
                // The connection belongs to the job its first packet named, as in the
                // seed, where later packets carry no routing at all.
                if job != conn.job {
                    let named = conn.job;
                    note(format!(
                        "aggregator got job {job}'s chunk on job {named}'s connection {hop}"
                    ));
                }
                conn.buffered.push_back((p.id, seq, p.modelled_len));
            }
            (Some((_, Packet::Hello { job, chunks })), None) => {
                self.hand_over(ctx, hop, job, chunks)
            }
            (other, known) => note(format!(
                "aggregator ignored {other:?} from connection {hop} ({})",
                if known.is_some() { "a known connection" } else { "before its first packet" }
            )),
        }
    }

    /// Gives connection `hop` to `job`'s worker, creating the worker if the job is new.
    fn hand_over(&mut self, ctx: &NodeCtx, hop: u32, job: u64, chunks: u64) {
        let conn = Connection { job, chunks, buffered: VecDeque::new(), read: 0 };
        self.connections.insert(hop, conn);
        let how = match self.workers.get_mut(&job) {
            // A new thread's first `select()` copies a set that already holds the
            // connection, so it needs no wake-up.
            None => {
                let worker =
                    Worker { connections: vec![hop], watched: vec![hop], ..Worker::default() };
                self.workers.insert(job, worker);
                "to a new worker"
            }
            Some(worker) => {
                worker.connections.push(hop);
                if self.wakeup {
                    worker.pipe_bytes += 1;
                    "and woke its worker"
                } else {
                    "without waking its worker"
                }
            }
        };
        let text =
            format!("aggregator handed connection {hop} ({chunks} chunks) to job {job} {how}");
        ctx.record(AppEvent::Note { text });
    }

    /// Lets every worker whose `select()` would return run until it blocks again.
    fn run_workers(&mut self, ctx: &NodeCtx) {
        for (job, worker) in &mut self.workers {
            if !worker.serve(ctx, *job, &mut self.connections) {
                continue;
            }
            let all_named = worker.connections.len() as u64 >= self.connections_per_job;
            let all_read = worker
                .connections
                .iter()
                .all(|h| self.connections.get(h).is_some_and(|c| c.read >= c.chunks));
            if !worker.finished && all_named && all_read {
                worker.finished = true;
                ctx.record(AppEvent::JobFinished { job: *job });
                let text = format!(
                    "aggregator finished job {job}: {} bytes from {} connections",
                    worker.aggregate_bytes,
                    worker.connections.len()
                );
                ctx.record(AppEvent::Note { text });
            }
        }
    }
}

impl Worker {
    /// Whether `select()` on the watched copy plus the wake-up pipe would return.
    fn ready(&self, connections: &BTreeMap<u32, Connection>) -> bool {
        self.pipe_bytes > 0
            || self
                .watched
                .iter()
                .any(|h| connections.get(h).is_some_and(|c| !c.buffered.is_empty()))
    }

    /// Runs the worker's loop while `select()` would return: drain the pipe, read
    /// every watched connection with data, then copy the set for the next
    /// `select()`. Returns whether it ran at all (a blocked worker notices nothing).
    fn serve(
        &mut self,
        ctx: &NodeCtx,
        job: u64,
        connections: &mut BTreeMap<u32, Connection>,
    ) -> bool {
        let mut ran = false;
        while self.ready(connections) {
            ran = true;
            self.pipe_bytes = 0;
            for hop in &self.watched {
                let Some(conn) = connections.get_mut(hop) else { continue };
                while let Some((id, seq, len)) = conn.buffered.pop_front() {
                    conn.read += 1;
                    self.aggregate_bytes += len;
                    ctx.record(AppEvent::ChunkAggregated { id, job, conn: *hop, seq, len });
                }
            }
            self.watched = self.connections.clone();
        }
        ran
    }
}
