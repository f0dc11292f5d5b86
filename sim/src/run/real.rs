//! One seed of one scenario over real TCP on 127.0.0.1, in real time.
//!
//! The same supervisors, designs, socket drivers and trace as a simulated run; what
//! differs is underneath: a tokio runtime with a real clock (`NodeCtx` reads tokio's
//! time, which here is the wall clock measured from the run's start), `TokioTcp`
//! sockets on ephemeral ports, and a fault proxy on every link (`proxy.rs`) driven by
//! the simulator's own fault world and timetable. The invariants then read the trace
//! unchanged.
//!
//! A real run is not deterministic: the operating system schedules the sockets, so
//! two runs of a seed differ in timing and may differ in verdicts. The seed still
//! drives every draw the designs, the latency model and swarm faults make.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::design::Completion;
use crate::invariant::resend_tolerance;
use crate::net::{DriverEvent, EventSink, TokioTcp, out_of_descriptors};
use crate::plan::{Bind, Distribution, Group, GroupId, Replica, ScenarioPlan};
use crate::registry::Registry;
use crate::socket::SocketOptions;
use crate::trace::{EventKind, Recorder, SocketIndex, Trace};

use super::RunError;
use super::endpoints::Endpoints;
use super::faults::FaultWorld;
use super::node::sink_naming_peers;
use super::phases::Phases;
use super::platform::{Platform, ReplicaTask};
use super::process::{self, ProcessCtx, ProcessReplica, ProgramTrouble, free_port};
use super::proxy::RealNet;
use super::wiretap::{WireTaps, WireTrace};
use super::wiring::{Link, group_runtimes, links, start_replicas};

/// Descriptors a run holds besides its sockets: the runtime's poller and wake-up,
/// standard streams, the report being written, with room to spare.
const DESCRIPTORS_BASE: u64 = 64;
/// Descriptors one link holds while connected: the fault proxy's listener, the
/// connecting socket, the proxy's two ends, and the bound socket's accepted end.
const DESCRIPTORS_PER_LINK: u64 = 5;
/// A real run longer than this (after `--time-scale`) is refused: simulated time
/// covers it in seconds.
pub(crate) const REAL_TIME_MAX: Duration = Duration::from_secs(10 * 60);
/// The smallest time scale: at a hundredth a simulated second of the timetable
/// passes in 10 ms, one look of the run loop at the clock (`TICK`) and half the
/// timer slack real runs allow (`REAL_TIMER_SLACK`), so the timetable is still
/// kept to about a simulated second. A smaller factor squeezes it below what a real
/// run can tell apart: at 1e-300 a 4 s scenario ran in 0 ms with no verdict.
pub const TIME_SCALE_MIN: f64 = 0.01;
/// The largest time scale: at 100, six simulated seconds already fill the ten
/// minutes a real run may last (`REAL_TIME_MAX`), so a larger factor could only
/// turn the smallest scenarios into longer waits, and the products of the timetable
/// with it stay far inside a `Duration`.
pub const TIME_SCALE_MAX: f64 = 100.0;
/// How often the run loop looks at the clock between timetable entries: to sweep
/// `tcp_timeout` and to end the liveness phase once every finite workload is done.
const TICK: Duration = Duration::from_millis(10);
/// How long the endpoint table waits for patchbay's nodes to bind before it prints
/// what it knows (a node whose bind failed is shown as not bound).
const ENDPOINTS_WAIT: Duration = Duration::from_secs(2);

/// How to run on the real network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RealOptions {
    /// Every duration of the scenario's timetable is multiplied by this (see
    /// [`scaled`]); 1.0 runs the scenario as written. A factor outside
    /// [`TIME_SCALE_MIN`]`..=`[`TIME_SCALE_MAX`] is a [`skip_reason`].
    pub time_scale: f64,
    /// Which ports outside programs reach the bound sockets on.
    pub ports: Ports,
    /// Whether each run prints where every socket is (node, socket, the outside and
    /// the internal address) once its programs are ready: the command line does, for
    /// the person or tool about to talk to the topology; a library caller or a test
    /// need not.
    pub print_endpoints: bool,
}

impl Default for RealOptions {
    fn default() -> Self {
        RealOptions { time_scale: 1.0, ports: Ports::Ephemeral, print_endpoints: false }
    }
}

/// Which ports a real run opens for programs outside the topology.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ports {
    /// None: every socket binds an ephemeral port, reached through its links' proxies
    /// on ephemeral ports too, so runs side by side never meet.
    #[default]
    Ephemeral,
    /// A socket the topology binds on a port (`bind: 5555`) also gets a proxy on
    /// 127.0.0.1 at that port, for outside programs (`cargo xtask cat`); the socket
    /// itself still binds an ephemeral port behind it. A port already taken fails
    /// the run, naming the socket and the port.
    AsWritten,
}

/// Why a scenario cannot be run on the real network, if it cannot: the simulator's
/// own reasons, too many replicas for one machine, or a run too long in real time.
/// (A time scale leaves socket timers as they are, so a scenario whose outcome
/// hangs on a workload time against a timer, such as `lru-idle-resend`, runs but
/// may differ from its `expect`: reported, as every real-timing difference is.)
pub fn skip_reason(plan: &ScenarioPlan, registry: &Registry, opts: RealOptions) -> Option<String> {
    if let Err(e) = super::wiring::check_runnable(plan, registry, true) {
        return Some(e.to_string());
    }
    if let Some(why) = ports_clash(plan, opts.ports) {
        return Some(why);
    }
    if let Some(why) = descriptors_short(descriptors_needed(plan), descriptor_limit()) {
        return Some(why);
    }
    // The command line holds `--time-scale` to this range; a library caller's
    // factor is checked here.
    if !(TIME_SCALE_MIN..=TIME_SCALE_MAX).contains(&opts.time_scale) {
        return Some(format!(
            "time scale {} is outside {TIME_SCALE_MIN} to {TIME_SCALE_MAX}",
            opts.time_scale
        ));
    }
    let length = scale(plan.duration.saturating_add(plan.liveness), opts.time_scale);
    if length > REAL_TIME_MAX {
        return Some(format!(
            "needs simulated time: {length:?} of real time (at most {REAL_TIME_MAX:?}; a smaller --time-scale shortens it)"
        ));
    }
    None
}

/// Why `--ports as-written` cannot give every written port one listener: a group of
/// several replicas binding one port would need the port once per replica, and
/// 127.0.0.1 has it once.
fn ports_clash(plan: &ScenarioPlan, ports: Ports) -> Option<String> {
    if ports != Ports::AsWritten {
        return None;
    }
    let g =
        plan.topology.groups.iter().find(|g| {
            g.count > 1 && g.sockets.iter().any(|s| matches!(s.bind, Some(Bind::Port(_))))
        })?;
    let s = g.sockets.iter().find(|s| matches!(s.bind, Some(Bind::Port(_))))?;
    let Some(Bind::Port(port)) = s.bind else { return None };
    Some(format!(
        "`--ports as-written`: `{}.{}` binds port {port} in each of its {} replicas, and 127.0.0.1 has port {port} once; give `{}` one replica, or run without `--ports as-written`",
        g.name, s.name, g.count, g.name
    ))
}

/// The descriptors a run of `plan` holds at once: one listener per bound socket and
/// `DESCRIPTORS_PER_LINK` per link, over `DESCRIPTORS_BASE`. Replicas cost
/// descriptors only through their sockets, so this, not a replica count, says what
/// fits on the machine.
pub(crate) fn descriptors_needed(plan: &ScenarioPlan) -> u64 {
    let binds: u64 = plan
        .topology
        .groups
        .iter()
        .map(|g| u64::from(g.count) * g.sockets.iter().filter(|s| s.bind.is_some()).count() as u64)
        .sum();
    DESCRIPTORS_BASE + binds + DESCRIPTORS_PER_LINK * links(plan).len() as u64
}

/// This process's limits on open file descriptors (`RLIMIT_NOFILE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// What the process may open now; `None` is unlimited.
    pub soft: Option<u64>,
    /// What the soft limit may be raised to without privileges; `None` is unlimited.
    pub hard: Option<u64>,
    /// What the kernel lets any process's hard limit be raised to (Linux's
    /// `fs.nr_open`); `None` where it is not known.
    pub ceiling: Option<u64>,
}

/// The descriptor limit after raising the soft limit to the hard one, which any
/// process may do (so a shell's default 1,024 does not cap a run the machine allows).
/// Raised once per process; a failure to raise leaves the limit as it was.
pub(crate) fn descriptor_limit() -> DescriptorLimit {
    static RAISED: OnceLock<DescriptorLimit> = OnceLock::new();
    *RAISED.get_or_init(|| {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            limit.current = limit.maximum;
            // Refused (some platforms cap below the hard limit): keep the old one.
            let _ = setrlimit(Resource::Nofile, limit);
        }
        let now = getrlimit(Resource::Nofile);
        DescriptorLimit { soft: now.current, hard: now.maximum, ceiling: kernel_ceiling() }
    })
}

/// Linux's cap on any process's descriptor limit, which even root's `prlimit` cannot
/// pass without raising it first; `None` elsewhere.
fn kernel_ceiling() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open").ok()?.trim().parse().ok()
}

/// Why `needed` descriptors do not fit under `limit`, naming what to raise.
pub(crate) fn descriptors_short(needed: u64, limit: DescriptorLimit) -> Option<String> {
    let soft = limit.soft?;
    if needed <= soft {
        return None;
    }
    let how = match (limit.hard, limit.ceiling) {
        (Some(hard), Some(ceiling)) if ceiling < needed => format!(
            "raise the hard limit too (it is {hard}), past this kernel's cap of {ceiling} a process (fs.nr_open): as root, `sysctl -w fs.nr_open={needed}`, then run the same command under `prlimit --nofile={needed}:{needed} --`"
        ),
        (Some(hard), _) if hard < needed => format!(
            "raise the hard limit too (it is {hard}; as root, run the same command under `prlimit --nofile={needed}:{needed} --`)"
        ),
        _ => "patchbay raises its soft limit to the hard one itself".to_owned(),
    };
    Some(format!(
        "needs {needed} file descriptors at once and the limit is {soft}: EMFILE: raise ulimit -n to {needed}; {how}"
    ))
}

/// A descriptor limit met during the run, from the trace or the proxies: such a run
/// measured the machine's limit, not the scenario, so it could not run.
/// `noted` is what the proxies and binds met; `needed` what the run was estimated to
/// hold.
fn descriptor_failure(trace: &Trace, noted: Option<String>, needed: u64) -> Option<RunError> {
    let from_trace = trace.iter().find_map(|e| match &e.kind {
        EventKind::ConnectFailed { reason, out_of_descriptors: true }
        | EventKind::AcceptFailed { reason, out_of_descriptors: true } => Some(reason.clone()),
        _ => None,
    });
    let reason = noted.or(from_trace)?;
    let soft = descriptor_limit().soft.map_or("unlimited".to_owned(), |s| s.to_string());
    Some(RunError::NotRunnable(format!(
        "ran out of file descriptors ({reason}) under a limit of {soft}: EMFILE: raise ulimit -n to at least {needed} per run at once (runs side by side add up; --jobs 1 runs one)"
    )))
}

/// How late a timer of patchbay's own may fire over real TCP before a checker calls
/// it late, unless the scenario says otherwise: the operating system's scheduling
/// delay, about 1.5 ms on an idle two-core machine and more on a loaded one, where
/// the simulator's timers fire on their tick.
pub const REAL_TIMER_SLACK: Duration = Duration::from_millis(20);

/// The scenario as a real run checks it: `resend_interval` without a `tolerance` of
/// the scenario's gets [`REAL_TIMER_SLACK`], not the simulator's tick.
pub(crate) fn with_real_slack(mut plan: ScenarioPlan) -> ScenarioPlan {
    for invariant in &mut plan.invariants {
        resend_tolerance(invariant, REAL_TIMER_SLACK);
    }
    plan
}

/// The scenario with its timetable scaled by `f`: the safety and liveness phases,
/// fault times, `tcp_timeout`, swarm fault lengths, the workload's start, join, leave,
/// session and offline times, and its rates and bandwidths (divided by `f`, so a link
/// stays as busy relative to its workload). Per-message costs
/// (latency, service times) and socket options are left as they are: a millisecond
/// of latency shrunk further means nothing on a real network.
pub fn scaled(plan: &ScenarioPlan, f: f64) -> ScenarioPlan {
    let mut p = plan.clone();
    if f == 1.0 {
        return p;
    }
    let d = |x: Duration| scale(x, f);
    let dist = |x: &mut Option<Distribution>| {
        if let Some(x) = x.as_mut() {
            *x = scale_distribution(*x, f);
        }
    };
    p.duration = d(p.duration);
    p.liveness = d(p.liveness);
    p.tcp_timeout = d(p.tcp_timeout);
    for fault in &mut p.faults {
        fault.at = d(fault.at);
        // `until: end` stays the run's end, whatever the scale.
        fault.until = fault.until.map(|u| if u == Duration::MAX { u } else { d(u) });
        fault.bandwidth = fault.bandwidth.map(|b| b / f);
    }
    p.network.bandwidth /= f;
    for link in &mut p.network.links {
        link.bandwidth = link.bandwidth.map(|b| b / f);
    }
    if let Some(swarm) = p.swarm.as_mut() {
        dist(&mut swarm.duration);
    }
    for w in p.workload.values_mut() {
        w.rate = w.rate.map(|r| r / f);
        w.publish_rate = w.publish_rate.map(|r| r / f);
        for x in [&mut w.start_at, &mut w.join_at, &mut w.leave_at, &mut w.session, &mut w.offline]
        {
            dist(x);
        }
    }
    p
}

/// `x` times `f`, `Duration::MAX` where that does not fit: a time that long (a
/// `tcp_timeout` or a fault's end written to outlast any run) is never reached
/// either way.
fn scale(x: Duration, f: f64) -> Duration {
    // What `Duration::mul_f64` computes, without its panic.
    Duration::try_from_secs_f64(f * x.as_secs_f64()).unwrap_or(Duration::MAX)
}

fn scale_distribution(d: Distribution, f: f64) -> Distribution {
    match d {
        Distribution::Fixed(v) => Distribution::Fixed(v * f),
        Distribution::Uniform { min, max } => Distribution::Uniform { min: min * f, max: max * f },
        Distribution::Exponential { mean } => Distribution::Exponential { mean: mean * f },
        Distribution::Normal { mean, stddev } => {
            Distribution::Normal { mean: mean * f, stddev: stddev * f }
        }
        Distribution::LogNormal { median, p99 } => {
            Distribution::LogNormal { median: median * f, p99: p99 * f }
        }
    }
}

/// A finished real run: its trace (or why it could not run), the output files of
/// its external programs (`process:` nodes), which exist either way, and what went
/// wrong with those programs while it went on.
#[derive(Debug)]
pub(super) struct RealRun {
    pub trace: Result<Trace, RunError>,
    pub process_output: Vec<PathBuf>,
    pub program_troubles: Vec<ProgramTrouble>,
}

/// Runs an already scaled plan on the real network and returns its trace.
pub(super) fn run(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
    opts: RealOptions,
) -> RealRun {
    run_tracing_wires(plan, registry, seed, WireTrace::External, opts)
}

/// Runs `plan` on the real network as `run` does, with the fault proxies decoding
/// every link's traffic into events at each socket (`run/wiretap.rs`) recorded in
/// `into`, apart from the run's own trace: the sockets' own events and what the
/// proxies read off the wire for them can then be compared.
pub fn run_wire_traced(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
    into: Recorder,
) -> Result<Trace, RunError> {
    run_tracing_wires(plan, registry, seed, WireTrace::Everything(into), RealOptions::default())
        .trace
}

fn run_tracing_wires(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
    wire: WireTrace,
    opts: RealOptions,
) -> RealRun {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let trace = Err(RunError::Internal(format!("tokio runtime: {e}")));
            return RealRun { trace, process_output: Vec::new(), program_troubles: Vec::new() };
        }
    };
    let local = tokio::task::LocalSet::new();
    let files = Rc::new(RefCell::new(Vec::new()));
    let troubles = RefCell::new(Vec::new());
    let run =
        Run { plan, registry, seed, ports: opts.ports, print_endpoints: opts.print_endpoints };
    let trace = local.block_on(&runtime, drive(run, wire, &files, &troubles));
    // Dropping the set drops every node, socket and proxy task of the run.
    drop(local);
    // A folder for program output that got none (no program could start) goes; one
    // with files stays until they are moved (`real` moves them, and removes it).
    for dir in OUTPUT_DIRS.take() {
        let _ = std::fs::remove_dir(dir);
    }
    RealRun { trace, process_output: files.take(), program_troubles: troubles.take() }
}

/// A fresh folder for one run's program output, under the system's temporary folder
/// (the `real` command moves its files beside its report, and removes it): made new,
/// never one already there nor a link to one, under a name no one can guess, and open
/// to its owner only, so the files made in it are the run's own.
fn output_dir() -> Result<PathBuf, RunError> {
    let dir = new_output_dir()?;
    OUTPUT_DIRS.with_borrow_mut(|dirs| dirs.push(dir.clone()));
    Ok(dir)
}

thread_local! {
    /// The folders [`output_dir`] made for the run on this thread (a run's tasks all
    /// run on the thread that runs it), for its end to remove the empty ones.
    static OUTPUT_DIRS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

fn new_output_dir() -> Result<PathBuf, RunError> {
    use std::hash::BuildHasher;
    use std::os::unix::fs::DirBuilderExt;
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let mut tries = 0;
    loop {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        // std's hash keys are drawn from the operating system's randomness.
        let unguessable = std::collections::hash_map::RandomState::new().hash_one(n);
        let name = format!("patchbay-output-{}-{n}-{unguessable:016x}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
            Err(e) => {
                let why = format!("cannot create `{}` for program output: {e}", dir.display());
                return Err(RunError::Internal(why));
            }
        }
    }
}

/// The real network as a platform: `TokioTcp` sockets, each bound one on an
/// ephemeral port of 127.0.0.1 that the fault proxies learn, each connecting one
/// dialling its links' proxies; supervisors on the run's `LocalSet`.
#[derive(Debug)]
struct RealPlatform {
    net: Rc<RealNet>,
    world: Rc<FaultWorld>,
    recorder: Recorder,
    /// The run's external programs, told when one of patchbay's sockets closes a
    /// connection with one of them for a protocol error.
    programs: Rc<ProcessCtx>,
    /// The groups whose replicas are external programs (`process:`).
    program_groups: BTreeSet<GroupId>,
    /// The sockets that bind; each takes an ephemeral port every incarnation.
    binds: BTreeSet<(Replica, usize)>,
    /// The proxies each connecting socket dials.
    connects: BTreeMap<(Replica, usize), Vec<SocketAddr>>,
    /// The run's time zero, which the timetable counts from too.
    epoch: tokio::time::Instant,
}

impl Platform for RealPlatform {
    type Transport = TokioTcp;

    fn transport(&self, _replica: Replica) -> TokioTcp {
        TokioTcp
    }

    fn bind_addr(&self, replica: Replica, socket: usize) -> Option<SocketAddr> {
        self.binds.contains(&(replica, socket)).then(RealNet::ephemeral)
    }

    fn connects(&self, replica: Replica, socket: usize) -> Vec<SocketAddr> {
        self.connects.get(&(replica, socket)).cloned().unwrap_or_default()
    }

    fn event_sink(&self, replica: Replica, socket: SocketIndex, opts: &SocketOptions) -> EventSink {
        let sink = sink_naming_peers(
            self.recorder.clone(),
            replica,
            socket,
            opts,
            Some(self.world.clone()),
        );
        if self.program_groups.is_empty() {
            return sink;
        }
        // A connection closed for what an external program sent is the program's
        // doing: the run's account of its programs says so (`ProgramTrouble`).
        let (world, programs, groups) =
            (self.world.clone(), self.programs.clone(), self.program_groups.clone());
        Rc::new(move |at, event| {
            if let DriverEvent::ProtocolError { peer, reason } = &event
                && let Some(program) = world.peer_at(*peer).filter(|r| groups.contains(&r.group))
            {
                programs.protocol_error(program, (replica, socket), reason, at);
            }
            sink(at, event);
        })
    }

    fn bound(&self, replica: Replica, socket: usize, addr: SocketAddr) {
        self.net.bound(replica, socket, addr);
    }

    fn start_failed(&self, what: &str, err: &io::Error) {
        self.net.io_failed(err, what);
    }

    fn spawn(&self, _replica: Replica, task: ReplicaTask) {
        tokio::task::spawn_local(task(self.epoch));
    }
}

/// What one real run is asked to do.
struct Run<'a> {
    plan: &'a ScenarioPlan,
    registry: &'a Registry,
    seed: u64,
    ports: Ports,
    print_endpoints: bool,
}

/// Runs `run`, filling `troubles` with what went wrong with its external programs
/// (whether or not it could run).
async fn drive(
    run: Run<'_>,
    wire: WireTrace,
    files: &Rc<RefCell<Vec<PathBuf>>>,
    troubles: &RefCell<Vec<ProgramTrouble>>,
) -> Result<Trace, RunError> {
    let Run { plan, registry, seed, ports, print_endpoints: show_endpoints } = run;
    let world = FaultWorld::with_base_latency(plan, seed, true);
    // A real run may last many minutes: its trace goes to disk a batch at a time, so
    // its memory levels off (`trace/spill.rs`).
    let recorder = Recorder::spilling(&std::env::temp_dir())
        .map_err(|e| RunError::Internal(format!("cannot open a trace spill file: {e}")))?;
    let completion = Completion::default();
    let groups = group_runtimes(plan, registry, &world);
    let net = RealNet::new(world.clone(), recorder.clone(), &plan.topology);
    let mut endpoints =
        Endpoints { proxies: open_proxies(plan, &net).await?, ..Endpoints::default() };
    if ports == Ports::AsWritten {
        endpoints.doors = open_doors(plan, &net).await?;
    }
    let connects: BTreeMap<_, Vec<SocketAddr>> = (endpoints.proxies.iter())
        .map(|(k, v)| (*k, v.iter().map(|(addr, _)| *addr).collect()))
        .collect();
    let programs = Rc::new(ProcessCtx::new(world.clone(), recorder.clone(), files.clone()));
    // The proxies decode what external programs send and receive (`wiretap.rs`), from
    // their first connection on: the taps are in place before any program starts.
    // An external REQ past its ids ends the run as a failed program would.
    net.tap_wires(WireTaps::new(plan, &recorder, wire).failing_into(programs.failed.clone()));
    for group in plan.topology.groups.iter().filter(|g| g.process.is_some()) {
        for socket in 0..group.sockets.len() {
            net.trace_wire(group.id, socket);
        }
    }
    let programs_total = start_programs(plan, &net, &connects, &programs)?;
    // The run starts once every external program is ready, so patchbay's nodes do
    // not spend the first second in reconnect backoff and no fault meets a program
    // still starting. A supervisor that failed or ended stops the wait.
    programs.until_ready(programs_total).await;
    if programs.failed.borrow().is_some() {
        // A program that never got ready: the run never starts, so nothing of it is
        // printed (an endpoint table of sockets never bound, before the error).
        programs.stop_all().await;
        *troubles.borrow_mut() = programs.troubles(&plan.topology);
        return Err(programs.failed.take().expect("just seen"));
    }
    let epoch = tokio::time::Instant::now();
    net.count_from(epoch);
    programs.epoch.set(epoch);
    let platform = RealPlatform {
        net: net.clone(),
        world: world.clone(),
        recorder: recorder.clone(),
        programs: programs.clone(),
        program_groups: (plan.topology.groups.iter())
            .filter(|g| g.process.is_some())
            .map(|g| g.id)
            .collect(),
        binds: bound_sockets(plan, false),
        connects,
        epoch,
    };
    let rt = start_replicas(platform, &world, &recorder, &completion, seed, &groups);
    let phases = Phases::new(plan, registry, &world, &recorder, &completion);
    let (trace, ()) = tokio::join!(step_through(phases, epoch, &programs.failed), async {
        if show_endpoints {
            print_endpoints(plan, seed, &net, endpoints).await;
        }
    },);
    programs.stop_all().await;
    *troubles.borrow_mut() = programs.troubles(&plan.topology);
    let out_of_ids = || rt.out_of_ids.take().map(RunError::NotRunnable);
    if let Some(error) = programs.failed.take().or_else(out_of_ids) {
        return Err(error);
    }
    match descriptor_failure(&trace, net.out_of_descriptors(), descriptors_needed(plan)) {
        Some(err) => Err(err),
        None => Ok(trace),
    }
}

/// Every bound socket of every replica: of patchbay's nodes only, or of every node
/// (`process:` nodes' too) when `programs`.
fn bound_sockets(plan: &ScenarioPlan, programs: bool) -> BTreeSet<(Replica, usize)> {
    plan.topology
        .groups
        .iter()
        .filter(|g| programs || g.process.is_none())
        .flat_map(|g| (0..g.count).map(move |index| (g, Replica { group: g.id, index })))
        .flat_map(|(g, r)| {
            let bound = g.sockets.iter().enumerate().filter(|(_, s)| s.bind.is_some());
            bound.map(move |(si, _)| (r, si))
        })
        .collect()
}

/// Opens the door of every socket bound on a written port (`--ports as-written`).
/// A port already taken fails the run, naming the socket and the port: falling back
/// to another port would leave outside programs dialling the wrong one.
async fn open_doors(
    plan: &ScenarioPlan,
    net: &Rc<RealNet>,
) -> Result<BTreeMap<(Replica, usize), SocketAddr>, RunError> {
    let mut doors = BTreeMap::new();
    for g in &plan.topology.groups {
        for (si, s) in g.sockets.iter().enumerate() {
            let Some(Bind::Port(port)) = s.bind else { continue };
            // `skip_reason` refused a written port in a group of several replicas.
            let replica = Replica { group: g.id, index: 0 };
            let addr = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), port);
            let door = net.open_door(replica, si, addr).await.map_err(|e| {
                RunError::NotRunnable(format!(
                    "`--ports as-written`: `{}.{}` binds port {port}, and 127.0.0.1:{port} cannot be listened on ({e}); free the port, or run without `--ports as-written`",
                    g.name, s.name
                ))
            })?;
            doors.insert((replica, si), door);
        }
    }
    Ok(doors)
}

/// Prints the endpoint table once every bound socket has bound (patchbay's nodes bind
/// as their supervisors first run, just after the run starts), or after
/// `ENDPOINTS_WAIT` with what is known by then.
async fn print_endpoints(plan: &ScenarioPlan, seed: u64, net: &RealNet, mut table: Endpoints) {
    let wanted = bound_sockets(plan, true);
    let started = tokio::time::Instant::now();
    while started.elapsed() < ENDPOINTS_WAIT
        && wanted.iter().any(|&(r, si)| net.bound_at(r, si).is_none())
    {
        crate::net::timer::sleep(TICK).await;
    }
    table.bound =
        wanted.iter().filter_map(|&(r, si)| Some(((r, si), net.bound_at(r, si)?))).collect();
    table.print(plan, seed);
}

/// Starts the supervisor of every replica of every `process:` group: each bound
/// socket gets a free port, fixed for all its incarnations, which the proxies of its
/// links learn at once; its connects are its links' proxies. Returns how many
/// programs were started.
fn start_programs(
    plan: &ScenarioPlan,
    net: &Rc<RealNet>,
    connects: &BTreeMap<(Replica, usize), Vec<SocketAddr>>,
    ctx: &Rc<ProcessCtx>,
) -> Result<usize, RunError> {
    let groups: Vec<&Group> = plan.topology.groups.iter().filter(|g| g.process.is_some()).collect();
    if groups.is_empty() {
        return Ok(0);
    }
    let total = groups.iter().map(|g| g.count as usize).sum();
    let out_dir = output_dir()?;
    for g in groups {
        for index in 0..g.count {
            let replica = Replica { group: g.id, index };
            let mut binds = BTreeMap::new();
            for (si, _) in g.sockets.iter().enumerate().filter(|(_, s)| s.bind.is_some()) {
                let addr = free_port().map_err(|e| {
                    RunError::Internal(format!("no free port for `{}.{index}`: {e}", g.name))
                })?;
                net.bound(replica, si, addr);
                binds.insert(si, addr);
            }
            let connects = (0..g.sockets.len())
                .filter_map(|si| connects.get(&(replica, si)).map(|a| (si, a.clone())))
                .collect();
            let p = ProcessReplica {
                group: g.clone(),
                replica,
                binds,
                connects,
                out_dir: out_dir.clone(),
            };
            tokio::task::spawn_local(process::supervise(Rc::new(p), ctx.clone()));
        }
    }
    Ok(total)
}

/// Opens one fault proxy per link; returns the proxies each connecting socket dials,
/// with the link each carries.
async fn open_proxies(
    plan: &ScenarioPlan,
    net: &Rc<RealNet>,
) -> Result<BTreeMap<(Replica, usize), Vec<(SocketAddr, Link)>>, RunError> {
    let mut connects: BTreeMap<(Replica, usize), Vec<_>> = BTreeMap::new();
    for link in links(plan) {
        let addr = net.listen(link).await.map_err(|e| match out_of_descriptors(&e) {
            true => RunError::NotRunnable(format!(
                "cannot open a fault proxy ({e}): EMFILE: raise ulimit -n to at least {} per run at once",
                descriptors_needed(plan)
            )),
            false => RunError::Internal(format!("cannot open a fault proxy: {e}")),
        })?;
        connects.entry((link.from, link.from_socket)).or_default().push((addr, link));
    }
    Ok(connects)
}

/// The simulator's phases in real time: between timetable entries the loop wakes
/// every `TICK` to sweep `tcp_timeout` and to see whether the workload is done.
/// A program that failed to start (`failed`) ends the run at once.
async fn step_through(
    mut phases: Phases<'_>,
    epoch: tokio::time::Instant,
    failed: &RefCell<Option<RunError>>,
) -> Trace {
    while failed.borrow().is_none() && phases.advance(epoch.elapsed()) {
        let due = phases.next_due().min(epoch.elapsed() + TICK);
        crate::net::timer::sleep_until(epoch + due).await;
    }
    phases.finish(epoch.elapsed())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::TraceEvent;

    /// F13 of the real-run probe: the folder was `patchbay-output-<pid>-<n>`, taken
    /// with `create_dir_all` (a folder or a link to one already there was used as it
    /// was, and the programs' files made in it with `File::create`). Each is a folder
    /// made new now, under a name no one can guess, open to its owner alone.
    #[test]
    fn a_run_s_output_folder_is_new_and_its_owner_s_alone() {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (output_dir().expect("a folder"), output_dir().expect("another"));
        assert_ne!(a, b);
        for dir in [&a, &b] {
            let meta = std::fs::symlink_metadata(dir).expect("made");
            assert!(meta.is_dir(), "{}", dir.display());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", dir.display());
            let name = dir.file_name().expect("a name").to_string_lossy().into_owned();
            let [_, _, pid, _, unguessable] = name.split('-').collect::<Vec<_>>()[..] else {
                panic!("patchbay-output-PID-N-UNGUESSABLE: {name}");
            };
            assert_eq!(pid, std::process::id().to_string());
            assert_eq!(unguessable.len(), 16, "{name}");
            std::fs::remove_dir(dir).expect("empty");
        }
    }

    #[test]
    fn a_time_scale_outside_its_range_is_a_skip_reason_not_a_panic() {
        // The command line holds `--time-scale` to the range; a library caller's
        // 1e20 panicked in `Duration::mul_f64`, and 1e-300 ran in 0 ms.
        let (plan, registry) = (crate::plan::testing::plan(), Registry::builtin());
        let skip = |time_scale| {
            skip_reason(&plan, &registry, RealOptions { time_scale, ..RealOptions::default() })
        };
        assert_eq!(skip(1.0), None);
        for f in [1e20, 1e-300, f64::NAN] {
            assert_eq!(skip(f), Some(format!("time scale {f} is outside 0.01 to 100")));
        }
        // Within the range, too long a run is refused for its length.
        let long = skip(TIME_SCALE_MAX).expect("20 s at 100 is 2000 s");
        assert!(long.starts_with("needs simulated time: 2000s of real time"), "{long}");
    }

    #[test]
    fn scaling_a_time_past_what_a_duration_holds_saturates() {
        // A `tcp_timeout` or a fault's end may be written to outlast any run: scaled
        // up, it panicked in `Duration::mul_f64` (`compare --real --time-scale 1e10`).
        let mut plan = crate::plan::testing::plan();
        plan.tcp_timeout = Duration::from_secs(u64::MAX / 2);
        let as_run = scaled(&plan, TIME_SCALE_MAX);
        assert_eq!(as_run.tcp_timeout, Duration::MAX);
        assert_eq!(as_run.duration, plan.duration.mul_f64(TIME_SCALE_MAX), "as before");
        assert_eq!(scaled(&plan, 0.3).tcp_timeout, plan.tcp_timeout.mul_f64(0.3));
    }

    /// A real run gives `resend_interval` the scheduler's slack where the scenario
    /// gave no tolerance, keeps a tolerance it gave, and touches no other invariant.
    #[test]
    fn a_real_run_gives_resend_interval_the_schedulers_slack_unless_the_scenario_says() {
        use crate::plan::{InvariantPlan, ParamValue};
        let invariant = |name, tolerance: Option<Duration>| InvariantPlan {
            name,
            params: tolerance
                .map(|t| ("tolerance".to_owned(), ParamValue::Duration(t)))
                .into_iter()
                .collect(),
        };
        let mut plan = crate::plan::testing::plan();
        plan.invariants = vec![
            invariant("resend_interval", None),
            invariant("resend_interval", Some(Duration::from_millis(3))),
            invariant("no_lost_replies", None),
        ];
        let tolerances: Vec<Option<ParamValue>> = with_real_slack(plan)
            .invariants
            .iter()
            .map(|i| i.params.get("tolerance").cloned())
            .collect();
        assert_eq!(
            tolerances,
            [
                Some(ParamValue::Duration(REAL_TIMER_SLACK)),
                Some(ParamValue::Duration(Duration::from_millis(3))),
                None
            ]
        );
    }

    fn trace_with(kind: EventKind) -> Trace {
        let event = TraceEvent { at: Duration::from_secs(1), node: None, socket: None, kind };
        Trace { events: vec![event], ..Trace::default() }
    }

    /// Regression (issue 17): a run pinned at the descriptor limit reported "never
    /// routed" as a timing difference. Such a failure now makes it could-not-run.
    #[test]
    fn a_run_that_met_a_descriptor_limit_could_not_run_with_the_limit_to_set() {
        let reason = "Too many open files (os error 24)".to_owned();
        let accept = EventKind::AcceptFailed { reason: reason.clone(), out_of_descriptors: true };
        let Some(RunError::NotRunnable(why)) = descriptor_failure(&trace_with(accept), None, 1570)
        else {
            panic!("an EMFILE accept failure must make the run not runnable");
        };
        assert!(why.starts_with("ran out of file descriptors (Too many open files"), "{why}");
        assert!(why.contains("EMFILE: raise ulimit -n to at least 1570 per run"), "{why}");
        let noted = Some("socket `rep` failed to start: Too many open files".to_owned());
        let from_bind = descriptor_failure(&Trace::default(), noted, 70);
        assert!(matches!(from_bind, Some(RunError::NotRunnable(why)) if why.contains("`rep`")));
    }

    /// Refused connects are the network's doing (a killed peer): the run stands.
    #[test]
    fn other_connect_failures_leave_the_run_standing() {
        let refused = EventKind::ConnectFailed {
            reason: "Connection refused (os error 111)".to_owned(),
            out_of_descriptors: false,
        };
        assert_eq!(descriptor_failure(&trace_with(refused), None, 70), None);
    }

    #[test]
    fn the_limit_to_set_is_what_the_run_needs() {
        let ceiling = Some(1 << 20);
        let limit = DescriptorLimit { soft: Some(1024), hard: Some(4096), ceiling };
        assert_eq!(descriptors_short(1024, limit), None);
        let why = descriptors_short(2000, limit).expect("2000 > 1024");
        assert!(why.starts_with("needs 2000 file descriptors at once and the limit is 1024: EMFILE: raise ulimit -n to 2000;"), "{why}");
        let capped = DescriptorLimit { soft: Some(1024), hard: Some(1024), ceiling };
        let why = descriptors_short(2000, capped).expect("2000 > 1024");
        assert!(why.contains("prlimit --nofile=2000:2000") && !why.contains("nr_open"), "{why}");
        // Past the kernel's cap, prlimit alone fails (EPERM): raise the cap first.
        let why = descriptors_short(5_000_071, capped).expect("over the cap");
        assert!(
            why.contains("cap of 1048576 a process (fs.nr_open): as root, `sysctl -w fs.nr_open=5000071`, then"),
            "{why}"
        );
        let unlimited = DescriptorLimit { soft: None, hard: None, ceiling: None };
        assert_eq!(descriptors_short(u64::MAX, unlimited), None);
    }
}
