//! Simulator throughput on one core: patchbay running `queue-partition` scaled to 100
//! clients, beside a hand-written turmoil simulation of the same traffic, and the ratio
//! of the two against the target (patchbay at most 2× raw turmoil), at two
//! rates: the scenario's own (10 requests a second per client, mostly idle stepping)
//! and a busy one (no pacing, no service time, no fault), where the messages
//! themselves are most of the cost.
//!
//! `cargo bench -p patchbay-benches --bench sim_throughput` prints one table.
//! `SIM_THROUGHPUT_SEEDS=n` changes how many seeds each row runs (default 3), and
//! `SIM_THROUGHPUT_REPEATS=n` how many times each seed runs, the fastest kept (default 3).
//! For a profiler, `SIM_THROUGHPUT_ONLY=scenario` (or `busy`) runs one of the two rates,
//! and `SIM_THROUGHPUT_ROWS=raw` (or `idle`) only that raw row beside patchbay's, which
//! always runs because it fixes how long the raw ones step: under
//! `valgrind --tool=callgrind`, `patchbay::run::simulated::simulate` is then patchbay's
//! cost and `run_raw` the one raw row's.
//!
//! The raw baseline has the same hosts (replicas packed as the simulator packs them:
//! every node fits on one turmoil host here, so all of it runs on one, its traffic
//! over turmoil's loopback), the same request count, rate, service times, link latency and tick,
//! and runs for the same simulated time; it has no faults, no fault shim, no sockets'
//! state machines and no trace: length-prefixed frames over `turmoil::net::TcpStream`,
//! the device forwarding each request to the workers round-robin and each reply back.
//! A third row steps the same hosts with nothing to do, because at a 1 ms tick the
//! fixed cost of stepping every host is a large part of both runs. Wall time here is
//! `std::time::Instant`: this code measures the simulator from outside it.

use std::cell::{Cell, RefCell};
use std::future::pending;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use patchbay::plan::{Distribution, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::run::run_seed;
use patchbay::trace::EventKind;
use patchbay_benches::{load_scenario, load_scenario_with_params};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use turmoil::net::TcpStream;
use turmoil::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const SCENARIO: &str = "scenarios/queue-partition.yaml";
const CLIENTS: &str = "100";
/// Printed on one line for reference, unscaled.
const REFERENCE_SCENARIO: &str = "scenarios/lru-steady.yaml";
const SEEDS_DEFAULT: u64 = 3;
/// Each seed of each row runs this many times and keeps its fastest run: the least
/// disturbed by other work on a shared machine.
const REPEATS_DEFAULT: u64 = 3;
/// The target: patchbay's wall time per delivered message at most this many
/// times raw turmoil's.
const TARGET_RATIO: f64 = 2.0;
/// Requests per client in the busy variant: enough that delivering them, not
/// stepping, is most of the wall time.
const BUSY_REQUESTS: u64 = 200;
/// The client design's default request size.
const REQUEST_BYTES: usize = 64;
const FRONTEND_PORT: u16 = 5559;
const BACKEND_PORT: u16 = 5560;
/// turmoil panics when more than 64 SYNs reach one listener in one step; the raw
/// clients start in waves of this many per tick.
const CONNECTS_PER_TICK: u32 = 32;
/// A fixed epoch, as patchbay uses: turmoil would otherwise read the wall clock.
const EPOCH_SECS: u64 = 1_700_000_000;
/// How much longer than patchbay's run the raw baseline may take to finish its work.
const RAW_OVERRUN_MAX: Duration = Duration::from_secs(600);
/// Distinguishes the raw workers' random streams from each other.
const WORKER_SEED_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

fn main() -> Result<(), String> {
    // `cargo test --benches` runs this binary without `--bench`: build-check only.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "sim_throughput: run with `cargo bench -p patchbay-benches --bench sim_throughput`"
        );
        return Ok(());
    }
    let seeds = env_number("SIM_THROUGHPUT_SEEDS", SEEDS_DEFAULT)?;
    let repeats = env_number("SIM_THROUGHPUT_REPEATS", REPEATS_DEFAULT)?;
    let only = std::env::var("SIM_THROUGHPUT_ONLY").ok();
    let rows = Rows::from_env()?;
    let registry = Registry::builtin();
    let plan = load_scenario_with_params(SCENARIO, &[("clients", CLIENTS)], &registry)?;
    match only.as_deref() {
        None => {}
        Some(variant @ ("scenario" | "busy")) => {
            let (label, plan) = match variant {
                "scenario" => ("the scenario's own rate", plan),
                _ => ("busy: unpaced, no service time, no fault", busy(plan)?),
            };
            return compare(label, &plan, &registry, seeds, repeats, rows);
        }
        Some(other) => {
            return Err(format!("SIM_THROUGHPUT_ONLY={other}: want `scenario` or `busy`"));
        }
    }
    compare("the scenario's own rate", &plan, &registry, seeds, repeats, rows)?;
    let busy = busy(plan)?;
    compare("busy: unpaced, no service time, no fault", &busy, &registry, seeds, repeats, rows)?;

    let reference = load_scenario(REFERENCE_SCENARIO, &registry)?;
    let mut lru = Tally::default();
    for seed in 1..=seeds {
        lru.add(best_of(repeats, || patchbay_seed(&reference, &registry, seed))?);
    }
    println!(
        "reference: lru-steady ({seeds} seeds, unscaled): {} trace events in {:.2} wall-s = {} \
         events/wall-s ({:.1} sim-s per wall-s)",
        lru.events,
        lru.wall.as_secs_f64(),
        thousands(lru.per_wall_sec(lru.events)),
        lru.sim.as_secs_f64() / lru.wall.as_secs_f64().max(1e-9),
    );
    Ok(())
}

/// The scenario with its clients unpaced, its workers answering at once and no fault
/// (nor `faults_fired`, which would then fail): the same hosts and traffic shape, with
/// the messages most of the cost.
fn busy(mut plan: ScenarioPlan) -> Result<ScenarioPlan, String> {
    for name in ["client", "worker"] {
        let group = plan.topology.groups.iter().find(|g| g.name == name);
        let id = group.ok_or_else(|| format!("{} has no `{name}` node", plan.name))?.id;
        let work = plan.workload.entry(id).or_default();
        if name == "client" {
            (work.rate, work.requests) = (None, Some(BUSY_REQUESTS));
        } else {
            work.service_time = None;
        }
    }
    plan.faults.clear();
    // With no fault, `faults_fired` would find none fired and the run would not end as
    // the scenario expects: the busy variant keeps only the invariants about traffic.
    plan.invariants.retain(|i| i.name != "faults_fired");
    Ok(plan)
}

/// Which raw rows run (`SIM_THROUGHPUT_ROWS`); patchbay's always does.
#[derive(Clone, Copy, Debug)]
struct Rows {
    raw: bool,
    idle: bool,
}

impl Rows {
    fn from_env() -> Result<Rows, String> {
        match std::env::var("SIM_THROUGHPUT_ROWS").as_deref() {
            Err(_) => Ok(Rows { raw: true, idle: true }),
            Ok("raw") => Ok(Rows { raw: true, idle: false }),
            Ok("idle") => Ok(Rows { raw: false, idle: true }),
            Ok(other) => Err(format!("SIM_THROUGHPUT_ROWS={other}: want `raw` or `idle`")),
        }
    }
}

/// The three rows and the ratios for one variant of the scenario.
fn compare(
    label: &str,
    plan: &ScenarioPlan,
    registry: &Registry,
    seeds: u64,
    repeats: u64,
    rows: Rows,
) -> Result<(), String> {
    let traffic = Traffic::of(plan)?;
    println!("== {label}");
    print_header(&traffic, seeds, repeats);
    let (mut patchbay, mut raw, mut idle) = (Tally::default(), Tally::default(), Tally::default());
    for seed in 1..=seeds {
        let one = best_of(repeats, || patchbay_seed(plan, registry, seed))?;
        // The raw runs step as long as patchbay's did, so both pay for the same steps.
        let sim = one.sim;
        patchbay.add(one);
        if rows.raw {
            raw.add(best_of(repeats, || run_raw(&traffic, seed, sim, Load::Traffic))?);
        }
        if rows.idle {
            idle.add(best_of(repeats, || run_raw(&traffic, seed, sim, Load::Idle))?);
        }
    }
    if !(rows.raw && rows.idle) {
        // A profiling run: the rows it ran, and no ratio, which needs all three.
        let ran = [
            ("patchbay queue-partition", &patchbay),
            ("raw turmoil, same traffic", &raw),
            ("raw turmoil, hosts idle", &idle),
        ];
        print_table(&ran.into_iter().filter(|(_, t)| t.seeds > 0).collect::<Vec<_>>());
        return Ok(());
    }
    print_table(&[
        ("patchbay queue-partition", &patchbay),
        ("raw turmoil, same traffic", &raw),
        ("raw turmoil, hosts idle", &idle),
    ]);
    print_ratios(&patchbay, &raw, &idle);
    Ok(())
}

fn print_header(t: &Traffic, seeds: u64, repeats: u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let build = if cfg!(debug_assertions) { "DEBUG build: figures meaningless" } else { "release" };
    println!(
        "sim_throughput: {SCENARIO} with clients={CLIENTS}, {seeds} seed(s) per row, \
         fastest of {repeats} per seed, one thread, {build}"
    );
    println!(
        "  {} clients, 1 device, {} workers on {}; {} requests each at {}/s; \
         tick {:?}, link latency {:?}",
        t.clients,
        t.workers,
        if t.one_host {
            "one turmoil host".to_owned()
        } else {
            format!("{} + 1 + {} hosts", t.client_hosts, t.worker_hosts)
        },
        t.requests,
        t.rate.map_or("unpaced".to_owned(), |r| r.to_string()),
        t.tick,
        t.latency,
    );
    println!(
        "  machine: {cores} core(s) available; wall figures vary 15-30% between runs \
         (shared machine): compare rows within one run only"
    );
}

/// Totals over the seeds of one row.
#[derive(Debug, Default)]
struct Tally {
    seeds: u64,
    sim: Duration,
    wall: Duration,
    /// Messages a receiver took in: `Receive` trace events for patchbay, frames read
    /// for raw turmoil. Four per request-reply round trip in both.
    deliveries: u64,
    /// Trace events (patchbay only).
    events: u64,
}

impl Tally {
    fn add(&mut self, one: Tally) {
        self.seeds += one.seeds;
        self.sim += one.sim;
        self.wall += one.wall;
        self.deliveries += one.deliveries;
        self.events += one.events;
    }

    fn per_wall_sec(&self, count: u64) -> f64 {
        count as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn wall_per_delivery_us(&self) -> f64 {
        self.wall.as_secs_f64() * 1e6 / self.deliveries.max(1) as f64
    }
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => match text.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{name}={text}: want a whole number above zero")),
        },
        Err(_) => Ok(default),
    }
}

/// Runs `one` `repeats` times and keeps the fastest. Every repeat must count the
/// same: a difference would mean the simulation is not deterministic.
fn best_of(repeats: u64, mut one: impl FnMut() -> Result<Tally, String>) -> Result<Tally, String> {
    let mut best = one()?;
    for _ in 1..repeats {
        let next = one()?;
        let counted = |t: &Tally| (t.sim, t.deliveries, t.events);
        if counted(&next) != counted(&best) {
            return Err(format!(
                "a repeat counted differently: {:?} then {:?} (sim, deliveries, events)",
                counted(&best),
                counted(&next)
            ));
        }
        if next.wall < best.wall {
            best = next;
        }
    }
    Ok(best)
}

/// One seed of a patchbay scenario.
fn patchbay_seed(plan: &ScenarioPlan, registry: &Registry, seed: u64) -> Result<Tally, String> {
    let report = run_seed(plan, registry, seed, true);
    if let Some(e) = &report.error {
        return Err(format!("SEED={seed} {}: {e}\nrepro: {}", plan.name, report.repro()));
    }
    if !report.as_expected {
        eprintln!("warning: SEED={seed} {} did not end as expected", plan.name);
    }
    let trace = report.trace.as_ref().ok_or("run_seed kept no trace")?;
    let receives =
        trace.events.iter().filter(|e| matches!(e.kind, EventKind::Receive { .. })).count();
    Ok(Tally {
        seeds: 1,
        sim: Duration::from_millis(report.sim_ms),
        // The simulation only: `run_seed` checks the invariants after this.
        wall: Duration::from_millis(report.wall_ms),
        deliveries: receives as u64,
        events: report.events as u64,
    })
}

fn print_table(rows: &[(&str, &Tally)]) {
    println!();
    println!(
        "{:<27} {:>5} {:>7} {:>7} {:>10} {:>12} {:>13} {:>10} {:>11}",
        "",
        "seeds",
        "sim s",
        "wall s",
        "delivered",
        "deliv/wall-s",
        "events/wall-s",
        "sim-s/wall-s",
        "us/deliv"
    );
    for (name, t) in rows {
        let events =
            if t.events > 0 { thousands(t.per_wall_sec(t.events)) } else { "-".to_owned() };
        let per_delivery = if t.deliveries > 0 {
            format!("{:.2}", t.wall_per_delivery_us())
        } else {
            "-".to_owned()
        };
        println!(
            "{:<27} {:>5} {:>7.1} {:>7.3} {:>10} {:>12} {:>13} {:>12.1} {:>11}",
            name,
            t.seeds,
            t.sim.as_secs_f64(),
            t.wall.as_secs_f64(),
            t.deliveries,
            thousands(t.per_wall_sec(t.deliveries)),
            events,
            t.sim.as_secs_f64() / t.wall.as_secs_f64().max(1e-9),
            per_delivery,
        );
    }
    println!();
}

fn print_ratios(patchbay: &Tally, raw: &Tally, idle: &Tally) {
    let verdict = |ratio: f64| if ratio <= TARGET_RATIO { "met" } else { "NOT met" };
    let whole = patchbay.wall_per_delivery_us() / raw.wall_per_delivery_us();
    println!(
        "patchbay / raw turmoil, wall time per delivered message, whole runs: {whole:.2}x  \
         (target <= {TARGET_RATIO}x: {})",
        verdict(whole)
    );
    // Both runs step the same hosts for the same simulated time; taking the idle row's
    // wall time off both leaves the cost of the traffic itself.
    let net_secs = |t: &Tally| t.wall.saturating_sub(idle.wall).as_secs_f64();
    if raw.deliveries == 0 || patchbay.deliveries == 0 || raw.wall <= idle.wall {
        println!("  (no net figure: the raw run took no longer than the idle one)\n");
        return;
    }
    let per_delivery = |t: &Tally| net_secs(t) / t.deliveries as f64;
    let net = per_delivery(patchbay) / per_delivery(raw);
    println!(
        "patchbay / raw turmoil, net of stepping idle hosts (wall minus the idle row): \
         {net:.2}x  (target <= {TARGET_RATIO}x: {})",
        verdict(net)
    );
    println!(
        "  net deliveries per wall-s: patchbay {}, raw turmoil {} \
         (docs/turmoil.md: 0.5-1.3 M)",
        thousands(1.0 / per_delivery(patchbay)),
        thousands(1.0 / per_delivery(raw)),
    );
    println!(
        "  stepping the idle hosts alone took {:.0}% of patchbay's wall time and {:.0}% of raw turmoil's",
        100.0 * idle.wall.as_secs_f64() / patchbay.wall.as_secs_f64(),
        100.0 * idle.wall.as_secs_f64() / raw.wall.as_secs_f64(),
    );
    println!();
}

/// `1234567.8` → `1,234,568`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the raw baseline must reproduce, read from the resolved plan.
#[derive(Clone, Debug)]
struct Traffic {
    clients: u32,
    client_hosts: u32,
    workers: u32,
    /// Whether the simulator runs every node on one turmoil host (each node fits on
    /// one host, so it packs them together); the raw baseline then does too.
    one_host: bool,
    worker_hosts: u32,
    requests: u64,
    /// Requests per second per client.
    rate: Option<f64>,
    service_time: Option<Distribution>,
    latency: Duration,
    tick: Duration,
}

impl Traffic {
    fn of(plan: &ScenarioPlan) -> Result<Traffic, String> {
        let group = |name: &str| {
            plan.topology
                .groups
                .iter()
                .find(|g| g.name == name)
                .ok_or_else(|| format!("{} has no `{name}` node", plan.name))
        };
        let (client, device, worker) = (group("client")?, group("device")?, group("worker")?);
        if device.count != 1 {
            return Err("the raw baseline models one device".into());
        }
        let workload = |id| plan.workload.get(&id).cloned().unwrap_or_default();
        let (client_work, worker_work) = (workload(client.id), workload(worker.id));
        let latency = match plan.network.latency {
            Distribution::Fixed(ns) => Duration::from_nanos(ns as u64),
            other => return Err(format!("the raw baseline needs a fixed latency, not {other:?}")),
        };
        Ok(Traffic {
            clients: client.count,
            client_hosts: client.hosts,
            one_host: client.hosts == 1 && device.hosts == 1 && worker.hosts == 1,
            workers: worker.count,
            worker_hosts: worker.hosts,
            requests: client_work.requests.unwrap_or(0),
            rate: client_work.rate,
            service_time: worker_work.service_time,
            latency,
            tick: plan.network.tick,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Load {
    Traffic,
    /// The same hosts, running nothing.
    Idle,
}

/// What the raw simulation's tasks count.
#[derive(Debug, Default)]
struct Counters {
    deliveries: Cell<u64>,
    clients_done: Cell<u32>,
}

impl Counters {
    fn delivered(&self) {
        self.deliveries.set(self.deliveries.get() + 1);
    }
}

/// Runs the raw baseline until every client is done and at least `at_least` of
/// simulated time has passed (the patchbay run's length, so both step alike).
fn run_raw(t: &Traffic, seed: u64, at_least: Duration, load: Load) -> Result<Tally, String> {
    let started = Instant::now();
    let counters = Rc::new(Counters::default());
    let traffic = Rc::new(t.clone());
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(t.tick)
        .min_message_latency(t.latency)
        .max_message_latency(t.latency)
        .simulation_duration(at_least + RAW_OVERRUN_MAX)
        .build();
    if t.one_host {
        one_host(&mut sim, &traffic, &counters, seed, load);
    } else {
        hosts_apart(&mut sim, &traffic, &counters, seed, load);
    }
    loop {
        let done = load == Load::Idle || counters.clients_done.get() >= t.clients;
        if done && sim.elapsed() >= at_least {
            break;
        }
        if sim.elapsed() >= at_least + RAW_OVERRUN_MAX {
            return Err(format!("SEED={seed} raw baseline: clients did not finish"));
        }
        sim.step().map_err(|e| format!("SEED={seed} raw baseline: {e}"))?;
    }
    let sim_time = sim.elapsed();
    drop(sim);
    Ok(Tally {
        seeds: 1,
        sim: sim_time,
        wall: started.elapsed(),
        deliveries: counters.deliveries.get(),
        events: 0,
    })
}

/// Every node on one host named `device` (the name the clients dial), talking over
/// turmoil's loopback, as the simulator packs a topology whose nodes all fit on one.
fn one_host(sim: &mut turmoil::Sim<'_>, t: &Rc<Traffic>, c: &Rc<Counters>, seed: u64, load: Load) {
    let (t, c) = (t.clone(), c.clone());
    sim.host("device", move || {
        let (t, c) = (t.clone(), c.clone());
        async move {
            if load == Load::Traffic {
                // The device first, so its listeners are bound before anyone dials.
                tokio::task::spawn_local(device(c.clone()));
                for index in 0..t.clients {
                    tokio::task::spawn_local(client(index, t.clone(), c.clone()));
                }
                for index in 0..t.workers {
                    tokio::task::spawn_local(worker(index, seed, t.clone(), c.clone()));
                }
            }
            pending().await
        }
    });
}

/// A device host, the clients round-robin over their hosts, the workers over theirs.
fn hosts_apart(
    sim: &mut turmoil::Sim<'_>,
    traffic: &Rc<Traffic>,
    counters: &Rc<Counters>,
    seed: u64,
    load: Load,
) {
    let t = traffic;
    for h in 0..t.client_hosts {
        let (t, c) = (Rc::clone(traffic), counters.clone());
        sim.host(format!("client{h}"), move || {
            let (t, c) = (t.clone(), c.clone());
            async move {
                if load == Load::Traffic {
                    for index in (h..t.clients).step_by(t.client_hosts as usize) {
                        tokio::task::spawn_local(client(index, t.clone(), c.clone()));
                    }
                }
                pending().await
            }
        });
    }
    let c = counters.clone();
    sim.host("device", move || {
        let c = c.clone();
        async move {
            match load {
                Load::Traffic => device(c).await,
                Load::Idle => pending().await,
            }
        }
    });
    for h in 0..t.worker_hosts {
        let (t, c) = (Rc::clone(traffic), counters.clone());
        sim.host(format!("worker{h}"), move || {
            let (t, c) = (t.clone(), c.clone());
            async move {
                if load == Load::Traffic {
                    for index in (h..t.workers).step_by(t.worker_hosts as usize) {
                        tokio::task::spawn_local(worker(index, seed, t.clone(), c.clone()));
                    }
                }
                pending().await
            }
        });
    }
}

/// A closed-loop client: paced requests, each waiting for its reply.
async fn client(index: u32, t: Rc<Traffic>, counters: Rc<Counters>) {
    tokio::time::sleep(t.tick * (index / CONNECTS_PER_TICK)).await;
    let Ok(stream) = TcpStream::connect(("device", FRONTEND_PORT)).await else {
        return;
    };
    let (mut read, mut write) = stream.into_split();
    let interval =
        t.rate.filter(|r| r.is_finite() && *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    let request = frame(&[&[0u8; REQUEST_BYTES]]);
    let mut buf = BytesMut::new();
    let mut next_at = None;
    for _ in 0..t.requests {
        if let Some(interval) = interval {
            if let Some(at) = next_at {
                tokio::time::sleep_until(at).await;
            }
            next_at = Some(tokio::time::Instant::now() + interval);
        }
        if write.write_all(&request).await.is_err() {
            return;
        }
        if next_frame(&mut read, &mut buf).await.is_none() {
            return;
        }
        counters.delivered();
    }
    counters.clients_done.set(counters.clients_done.get() + 1);
}

/// A worker answering one request at a time after a sampled service time.
async fn worker(index: u32, seed: u64, t: Rc<Traffic>, counters: Rc<Counters>) {
    let Ok(stream) = TcpStream::connect(("device", BACKEND_PORT)).await else {
        return;
    };
    let (mut read, mut write) = stream.into_split();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ WORKER_SEED_SALT.wrapping_mul(u64::from(index) + 1));
    let mut buf = BytesMut::new();
    while let Some(request) = next_frame(&mut read, &mut buf).await {
        counters.delivered();
        if let Some(service_time) = &t.service_time {
            let ns = service_time.sample(&mut rng).max(0.0) as u64;
            tokio::time::sleep(Duration::from_nanos(ns)).await;
        }
        if write.write_all(&frame(&[&request])).await.is_err() {
            return;
        }
    }
}

/// The device's routing state: a queue per connection, drained by that connection's
/// writer task.
#[derive(Debug, Default)]
struct Routes {
    clients: RefCell<Vec<mpsc::UnboundedSender<Bytes>>>,
    workers: RefCell<Vec<mpsc::UnboundedSender<Bytes>>>,
    next_worker: Cell<usize>,
    worker_joined: Notify,
}

impl Routes {
    /// Hands `frame` to the next worker round-robin, waiting for the first to connect.
    async fn to_worker(&self, frame: Bytes) {
        loop {
            let mut joined = pin!(self.worker_joined.notified());
            joined.as_mut().enable();
            {
                let workers = self.workers.borrow();
                if !workers.is_empty() {
                    let i = self.next_worker.get() % workers.len();
                    self.next_worker.set(i + 1);
                    let _ = workers[i].send(frame);
                    return;
                }
            }
            joined.await;
        }
    }
}

/// The QUEUE device: requests from any client to the workers round-robin, tagged
/// with the client's connection number; replies back by that number.
async fn device(counters: Rc<Counters>) -> turmoil::Result {
    let any = IpAddr::from(Ipv4Addr::UNSPECIFIED);
    let frontend = turmoil::net::TcpListener::bind((any, FRONTEND_PORT)).await?;
    let backend = turmoil::net::TcpListener::bind((any, BACKEND_PORT)).await?;
    let routes = Rc::new(Routes::default());
    let (r, c) = (routes.clone(), counters.clone());
    tokio::task::spawn_local(async move {
        while let Ok((stream, _)) = backend.accept().await {
            let (read, write) = stream.into_split();
            let (tx, rx) = mpsc::unbounded_channel();
            r.workers.borrow_mut().push(tx);
            r.worker_joined.notify_waiters();
            tokio::task::spawn_local(write_frames(rx, write));
            tokio::task::spawn_local(replies_from(read, r.clone(), c.clone()));
        }
    });
    while let Ok((stream, _)) = frontend.accept().await {
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let id = {
            let mut clients = routes.clients.borrow_mut();
            clients.push(tx);
            (clients.len() - 1) as u32
        };
        tokio::task::spawn_local(write_frames(rx, write));
        tokio::task::spawn_local(requests_from(id, read, routes.clone(), counters.clone()));
    }
    Ok(())
}

async fn requests_from(id: u32, mut read: OwnedReadHalf, routes: Rc<Routes>, c: Rc<Counters>) {
    let mut buf = BytesMut::new();
    while let Some(request) = next_frame(&mut read, &mut buf).await {
        c.delivered();
        routes.to_worker(frame(&[&id.to_be_bytes(), &request])).await;
    }
}

async fn replies_from(mut read: OwnedReadHalf, routes: Rc<Routes>, c: Rc<Counters>) {
    let mut buf = BytesMut::new();
    while let Some(mut reply) = next_frame(&mut read, &mut buf).await {
        c.delivered();
        if reply.len() < 4 {
            continue;
        }
        let id = reply.get_u32() as usize;
        if let Some(client) = routes.clients.borrow().get(id) {
            let _ = client.send(frame(&[&reply]));
        }
    }
}

/// Writes everything queued for one connection, batching what is ready into one write
/// as patchbay's connection writer does.
async fn write_frames(mut queue: mpsc::UnboundedReceiver<Bytes>, mut write: OwnedWriteHalf) {
    let mut batch = BytesMut::new();
    while let Some(first) = queue.recv().await {
        batch.extend_from_slice(&first);
        while let Ok(more) = queue.try_recv() {
            batch.extend_from_slice(&more);
        }
        if write.write_all(&batch).await.is_err() {
            return;
        }
        batch.clear();
    }
}

/// `[len u32][parts...]`.
fn frame(parts: &[&[u8]]) -> Bytes {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = BytesMut::with_capacity(4 + len);
    out.put_u32(len as u32);
    for p in parts {
        out.put_slice(p);
    }
    out.freeze()
}

/// The next whole frame's body, reading more only when `buf` holds none; `None` at
/// end of stream or on error.
async fn next_frame<R: AsyncRead + Unpin>(read: &mut R, buf: &mut BytesMut) -> Option<Bytes> {
    loop {
        if buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() >= 4 + len {
                buf.advance(4);
                return Some(buf.split_to(len).freeze());
            }
        }
        buf.reserve(64 * 1024);
        match read.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
