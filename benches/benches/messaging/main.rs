//! patchbay's messaging benchmarks over real TCP on 127.0.0.1, beside libzmq,
//! zeromq-rs and raw tokio TCP measured in the same run, then a table of ratios
//! against the targets (`reports/bench/latest.{json,md}`).
//!
//! patchbay's side runs shipped topologies that name `library: zeromq`, so its
//! sockets speak ZMTP 3.1 (`sim/src/net/zmtp.rs`), the same wire as libzmq beside
//! it: `push_pull/{patchbay,libzmq}/{64B,64KiB}` and `req_rep/{patchbay,libzmq}` are
//! ZMTP against ZMTP, and the table prints their ratios.
//!
//! `cargo bench -p patchbay-benches --bench messaging [-- FILTER] [--quick]`, or
//! `cargo xtask bench`, which adds the regression gate. Criterion ids:
//!
//! - `push_pull/{patchbay,libzmq,zeromq-rs,tokio}/{64B,1KiB,64KiB,1MiB}`: one
//!   iteration is one message, timed until the receiver has it;
//! - `req_rep/{patchbay,libzmq,zeromq-rs,tokio}`: one closed-loop round trip of
//!   64 bytes; then an open-loop run at a fixed offered rate ([`OPEN_LOOP_RATE`]),
//!   corrected for coordinated omission, in an HdrHistogram (p50 … p99.99);
//! - `queue_device/{patchbay,libzmq,tokio}`: the same through a QUEUE device
//!   (patchbay's `queue-device` design, libzmq's `zmq_proxy`, and a bare tokio
//!   forwarder of length-prefixed frames: the least a hop costs), closed and open loop;
//! - `lru_broker/patchbay/{1,4,16}_workers`: one iteration is one request answered;
//! - `pub_sub/patchbay/{1,10,100}_subscribers`: one iteration is one publication
//!   delivered to every subscriber (time per delivery if PUB dropped some).
//!
//! Every rig's threads are started when criterion first runs that benchmark (a
//! filter starts nothing else). Flows are joined when their benchmark ends; servers
//! and devices stay parked on their idle sockets until the process exits, which
//! costs no CPU and spares every implementation a shutdown protocol.
//!
//! `PATCHBAY_BENCH_SLOWDOWN_NS=N` adds a busy delay of N ns before every message
//! patchbay's rigs send, to prove the regression gate (peers are unaffected).

mod deploy;
#[cfg(feature = "peers")]
mod libzmq;
mod patchbay_rigs;
mod raw_tokio;
mod rig;
mod table;
#[cfg(feature = "peers")]
mod zeromq_rs;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput};
use hdrhistogram::Histogram;

use patchbay_benches::sched::{self, ThreadCost};

use crate::rig::{Flow, RoundTrip};

/// Request size of every request-reply benchmark, in bytes.
pub const REQUEST_BYTES: usize = 64;
/// PUSH/PULL message sizes, with the labels used in ids.
const SIZES: [(usize, &str); 4] =
    [(64, "64B"), (1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];
const LRU_WORKERS: [u32; 3] = [1, 4, 16];
const SUBSCRIBERS: [u32; 3] = [1, 10, 100];
/// The offered rate of the open-loop latency runs, the same for every
/// implementation: well under any of their capacities (tens of thousands of round
/// trips a second), so the figures are latency rather than queueing.
pub const OPEN_LOOP_RATE: f64 = 2_000.0;
const OPEN_LOOP_COUNT: u64 = 10_000;
const OPEN_LOOP_COUNT_QUICK: u64 = 2_000;

/// The implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Patchbay,
    Libzmq,
    ZeromqRs,
    Tokio,
}

impl Peer {
    /// Every implementation this build measures: libzmq and zeromq-rs need the
    /// `peers` feature (`cargo xtask bench` turns it on).
    #[cfg(feature = "peers")]
    pub const ALL: &[Peer] = &[Peer::Patchbay, Peer::Libzmq, Peer::ZeromqRs, Peer::Tokio];
    #[cfg(not(feature = "peers"))]
    pub const ALL: &[Peer] = &[Peer::Patchbay, Peer::Tokio];
    /// The peers patchbay is compared with, measured or not.
    pub const PEERS: [Peer; 3] = [Peer::Libzmq, Peer::ZeromqRs, Peer::Tokio];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Patchbay => "patchbay",
            Peer::Libzmq => "libzmq",
            Peer::ZeromqRs => "zeromq-rs",
            Peer::Tokio => "tokio",
        }
    }

    fn push_pull(self, size: usize) -> Flow {
        match self {
            Peer::Patchbay => patchbay_rigs::push_pull(size),
            #[cfg(feature = "peers")]
            Peer::Libzmq => libzmq::push_pull(size),
            #[cfg(feature = "peers")]
            Peer::ZeromqRs => zeromq_rs::push_pull(size),
            #[cfg(not(feature = "peers"))]
            Peer::Libzmq | Peer::ZeromqRs => unreachable!("not in Peer::ALL without `peers`"),
            Peer::Tokio => raw_tokio::push_pull(size),
        }
    }

    fn req_rep(self) -> RoundTrip {
        match self {
            Peer::Patchbay => patchbay_rigs::req_rep(),
            #[cfg(feature = "peers")]
            Peer::Libzmq => libzmq::req_rep(),
            #[cfg(feature = "peers")]
            Peer::ZeromqRs => zeromq_rs::req_rep(),
            #[cfg(not(feature = "peers"))]
            Peer::Libzmq | Peer::ZeromqRs => unreachable!("not in Peer::ALL without `peers`"),
            Peer::Tokio => raw_tokio::req_rep(),
        }
    }
}

/// What this run measured besides criterion's estimates.
#[derive(Debug, Default)]
pub struct Run {
    /// Criterion ids of the benchmarks that ran (a filter skips the others).
    pub ran: Vec<String>,
    /// Open-loop latency histograms (ns), by criterion id.
    pub latencies: BTreeMap<String, Histogram<u64>>,
    /// Publications PUB dropped at its high-water mark, by criterion id.
    pub dropped: BTreeMap<String, u64>,
    /// What each round-trip rig's threads cost during its open-loop run, by criterion
    /// id (Linux only; `patchbay_benches::sched`).
    pub thread_costs: BTreeMap<String, Vec<ThreadCost>>,
}

fn main() -> ExitCode {
    // `cargo test --benches` runs this binary without `--bench`: build-check only.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("messaging: run with `cargo bench -p patchbay-benches --bench messaging`");
        return ExitCode::SUCCESS;
    }
    let slowdown = match rig::init_slowdown() {
        Ok(delay) => delay,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !slowdown.is_zero() {
        println!("messaging: patchbay slowed down by {slowdown:?} per message sent");
    }
    let open_loop_count =
        if args.iter().any(|a| a == "--quick") { OPEN_LOOP_COUNT_QUICK } else { OPEN_LOOP_COUNT };
    let started = SystemTime::now();
    // Where the table reads the estimates back: criterion's own default is relative
    // to the working directory when the binary runs outside `cargo bench`, and the
    // throughput rows then went missing from the table without a word.
    let mut c = Criterion::default()
        .output_directory(&table::criterion_dir())
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut run = Run::default();
    push_pull(&mut c, &mut run);
    req_rep(&mut c, &mut run, open_loop_count);
    queue_device(&mut c, &mut run, open_loop_count);
    lru_broker(&mut c, &mut run);
    pub_sub(&mut c, &mut run);
    c.final_summary();
    match table::report(&run, started) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn push_pull(c: &mut Criterion, run: &mut Run) {
    let mut group = c.benchmark_group("push_pull");
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for &peer in Peer::ALL {
            let mut flow = None;
            group.bench_function(BenchmarkId::new(peer.name(), label), |b| {
                let flow = flow.get_or_insert_with(|| peer.push_pull(size));
                b.iter_custom(|n| flow.time(n).0);
            });
            if let Some(flow) = flow {
                let id = format!("push_pull/{}/{label}", peer.name());
                // With `perf stat` or `time` on a filtered run: CPU per message.
                println!("{id}: {} messages in all", flow.finish());
                run.ran.push(id);
            }
        }
    }
    group.finish();
}

/// Criterion's closed-loop round trip, then the open-loop latency run on the same
/// sockets.
fn round_trips(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    start: impl FnOnce() -> RoundTrip,
    run: &mut Run,
    open_loop_count: u64,
) {
    // The rig's threads are those its start leaves behind.
    let (mut rig, mut start) = (None, Some(start));
    let name = id.rsplit('/').next().unwrap_or(id);
    group.bench_function(name, |b| {
        let (rig, _) = rig.get_or_insert_with(|| {
            let before = sched::threads();
            let rig = (start.take().expect("started once"))();
            (rig, sched::started_since(&before))
        });
        b.iter_custom(|n| rig.closed(n));
    });
    if let Some((rig, threads)) = rig {
        let reading = sched::Reading::start(&threads);
        run.latencies.insert(id.to_owned(), rig.open(OPEN_LOOP_RATE, open_loop_count));
        let costs = reading.costs(open_loop_count);
        if !costs.is_empty() {
            run.thread_costs.insert(id.to_owned(), costs);
        }
        // With `perf stat` or `time` on a filtered run: cost per round trip.
        println!("{id}: {} round trips in all", rig.asked());
        run.ran.push(id.to_owned());
    }
}

fn req_rep(c: &mut Criterion, run: &mut Run, open_loop_count: u64) {
    let mut group = c.benchmark_group("req_rep");
    group.throughput(Throughput::Elements(1));
    for &peer in Peer::ALL {
        let id = format!("req_rep/{}", peer.name());
        round_trips(&mut group, &id, || peer.req_rep(), run, open_loop_count);
    }
    group.finish();
}

fn queue_device(c: &mut Criterion, run: &mut Run, open_loop_count: u64) {
    let mut group = c.benchmark_group("queue_device");
    group.throughput(Throughput::Elements(1));
    let id = "queue_device/patchbay";
    round_trips(&mut group, id, patchbay_rigs::queue_device, run, open_loop_count);
    // libzmq's own device in the same run, and a bare tokio forwarder: what an added
    // hop costs on this machine at the least.
    #[cfg(feature = "peers")]
    round_trips(&mut group, "queue_device/libzmq", libzmq::queue_device, run, open_loop_count);
    round_trips(&mut group, "queue_device/tokio", raw_tokio::queue_device, run, open_loop_count);
    group.finish();
}

fn lru_broker(c: &mut Criterion, run: &mut Run) {
    let mut group = c.benchmark_group("lru_broker");
    group.throughput(Throughput::Elements(1));
    for workers in LRU_WORKERS {
        let label = format!("{workers}_workers");
        let mut flow = None;
        group.bench_function(BenchmarkId::new("patchbay", &label), |b| {
            let flow = flow.get_or_insert_with(|| patchbay_rigs::lru_broker(workers));
            b.iter_custom(|n| flow.time(n).0);
        });
        if let Some(flow) = flow {
            flow.finish();
            run.ran.push(format!("lru_broker/patchbay/{label}"));
        }
    }
    group.finish();
}

fn pub_sub(c: &mut Criterion, run: &mut Run) {
    let mut group = c.benchmark_group("pub_sub");
    for subscribers in SUBSCRIBERS {
        let label = format!("{subscribers}_subscribers");
        group.throughput(Throughput::Elements(u64::from(subscribers)));
        let (mut flow, mut dropped) = (None, 0);
        group.bench_function(BenchmarkId::new("patchbay", &label), |b| {
            let flow = flow.get_or_insert_with(|| patchbay_rigs::pub_sub(subscribers));
            b.iter_custom(|n| {
                let (elapsed, got) = flow.time(n);
                let wanted = n * u64::from(subscribers);
                dropped += wanted.saturating_sub(got);
                // Charged per delivery: a dropped copy must not make a run look fast.
                elapsed.mul_f64(wanted as f64 / got.max(1) as f64)
            });
        });
        if let Some(flow) = flow {
            flow.finish();
            let id = format!("pub_sub/patchbay/{label}");
            run.dropped.insert(id.clone(), dropped);
            run.ran.push(id);
        }
    }
    group.finish();
}
