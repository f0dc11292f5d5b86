//! External programs under `real`: a node with `process:` is a program of the user's
//! own, spawned for each incarnation of each replica with its sockets' endpoints
//! substituted into its command (its binds on ports patchbay picked, its connects on
//! the fault proxies of its links), and driven by the same fault world as every
//! other replica. A fault acts on the program through signals to its whole tree (its
//! process group, and every process it started that left the group, found as a kill
//! finds them: `stop_trees`, `continue_trees`, `kill_trees`):
//!
//! - **kill**: SIGKILL (the proxies reset its connections, as for any node); the
//!   restart at the fault's end spawns the next incarnation;
//! - **crash**: SIGSTOP while the proxies black-hole its links; at the restart the
//!   stopped program is killed (SIGKILL) and the next incarnation spawned;
//! - **stall**: SIGSTOP, then SIGCONT at the stall's end.
//!
//! Each is recorded in the trace as a note on the node. A program's standard output
//! and error are kept per incarnation in files (`<node>.<replica>.<incarnation>.out`
//! and `.err`): each is copied there from a pipe as bytes, whatever they are, in
//! chunks of at most `COPY_CHUNK` (a line without end is never held whole), at most
//! `OUTPUT_FILE_MAX` bytes of it kept (the rest read, counted and dropped), and the
//! output searched for the ready text on the way (`ReadySearch`), past the cap too.
//!
//! Every program runs in its own process group, which a guard kills on
//! drop (the run's end, a failure, a panic), and which [`kill_all_live`] kills when
//! SIGINT, SIGTERM, SIGHUP or SIGQUIT ends patchbay (`stop_programs_on_signals`).
//! Each program gets a mark in its environment (`MARK_VAR`); a kill takes the
//! group, every process holding the mark and every descendant of either
//! (`kill_trees`), so a child that left the group (`setsid`, a daemon) dies too, and
//! no program or child of one outlives its run. What no handler sees (a SIGKILL of
//! patchbay, the OOM killer, an abort) the guardian (`guardian.rs`) answers: a shell
//! told of every program, which kills those still running once patchbay has ended.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use memchr::memmem;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::plan::{EndpointPart, Group, ProcessPlan, Ready, Replica};
use crate::trace::{AppEvent, EventKind, Recorder, TraceEvent};

use super::RunError;
use super::faults::{FaultWorld, Status};
use super::guardian;
use super::real::REAL_TIME_MAX;

/// How often a supervisor looks at the fault world and its program between wake-ups.
const TICK: Duration = Duration::from_millis(10);
/// How often a port is tried while waiting for a program to accept on it, and how
/// often a program waited for is looked at to see whether it has exited.
const READY_POLL: Duration = Duration::from_millis(20);
/// The most of a program's standard output the copy holds: one read of the pipe. L2
/// of the real-run probe: the copy read lines (a line without end grew without bound:
/// 790 MB for 800 MB of zeros) and wrote and flushed each through `tokio::fs`, which
/// held a chatty program to about 3 MB/s where a pipe takes 250 MB/s.
const COPY_CHUNK: usize = 64 * 1024;
/// How long what a program printed may take to reach its file once it has exited or
/// been killed (the copy has then only the pipe's last 64 KiB to write); a child of
/// it that keeps the pipe open (one that left its process group) is not waited for
/// longer.
const COPY_DRAIN: Duration = Duration::from_secs(1);
/// The most of one stream (standard output or error) of one incarnation of a program
/// kept in its file; the rest is read and dropped, and counted in a last line. The
/// copy runs at hundreds of MB/s (3.3 GB in 9 s from a program printing flat out), so
/// without it a chatty program filled the disk in minutes; 1 GiB is far more than any
/// person reads of a log, and several runs' files still fit on a usual disk.
pub(crate) const OUTPUT_FILE_MAX: u64 = 1 << 30;

/// The programs running in this process, for [`kill_all_live`].
static LIVE: Mutex<Live> =
    Mutex::new(Live { groups: BTreeMap::new(), dirs: BTreeSet::new(), closed: false });

/// The environment variable that carries a program's mark (`Running::mark`) to every
/// process it starts: when the program ends, every process holding its mark ends too,
/// wherever it went (`setsid`, a daemon's double fork).
pub(crate) const MARK_VAR: &str = "PATCHBAY_PROGRAM";

/// How many times [`kill_trees`] looks again for processes started while it was
/// stopping those it found; a stopped process starts no other, so a tree is whole
/// within a few looks however fast it forks.
const TREE_ROUNDS: usize = 32;

/// What [`LIVE`] holds.
#[derive(Debug)]
struct Live {
    /// Every running program's process group, with its mark.
    groups: BTreeMap<i32, String>,
    /// Every folder a program wrote its output in, named when a signal ends patchbay.
    dirs: BTreeSet<PathBuf>,
    /// Set once a signal handler took `groups` to kill them: no program starts after.
    closed: bool,
}

fn live() -> std::sync::MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every external program still running, with every process each started
/// (see `kill_trees`), and lets no other start: the signal handler
/// (`stop_programs_on_signals`) calls this before ending the process. Returns how
/// many programs it killed.
pub fn kill_all_live() -> usize {
    let groups = {
        let mut live = live();
        live.closed = true;
        std::mem::take(&mut live.groups)
    };
    let programs: Vec<(i32, &str)> = groups.iter().map(|(g, m)| (*g, m.as_str())).collect();
    kill_trees(&programs);
    // Killed: the process ends next, and whoever adopts the programs reaps them.
    for &(pgid, mark) in &programs {
        guardian::forget(pgid, mark);
    }
    programs.len()
}

fn signal_group(pgid: i32, signal: Signal) -> bool {
    Pid::from_raw(pgid).is_some_and(|p| kill_process_group(p, signal).is_ok())
}

/// A mark no other program of this or another patchbay process has: the process id,
/// the time and a count.
fn new_mark() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MARKS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}.{nanos}.{}", std::process::id(), MARKS.fetch_add(1, Ordering::Relaxed))
}

/// Makes SIGINT, SIGTERM, SIGHUP and SIGQUIT kill every program ([`kill_all_live`])
/// before this process ends, with the code a shell gives a command such a signal
/// ended (128 + its number), naming the folders that hold the programs' output so
/// far. Without it those signals' default action ends patchbay alone: the programs
/// run in process groups of their own, which a terminal's or `timeout`'s signal does
/// not reach, and would run on. Installed once, by the first program's start, and in
/// place before that start, so every command (and a library caller) that runs a
/// program has it. SIGKILL cannot be caught (nor the OOM killer's, nor an abort):
/// for those the same start starts the guardian (`guardian.rs`), a shell that kills
/// the programs once patchbay has ended, since `PR_SET_PDEATHSIG` would need an
/// unsafe `pre_exec`, which the workspace forbids.
fn stop_programs_on_signals() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let (installed, done) = std::sync::mpsc::channel::<()>();
        let watch = move || {
            use tokio::signal::unix::{Signal as Stream, SignalKind, signal};
            // A stream that could not be made, or whose driver is gone, never fires.
            async fn next(stream: &mut Option<Stream>) {
                if let Some(s) = stream
                    && s.recv().await.is_some()
                {
                    return;
                }
                std::future::pending().await
            }
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            let (number, name) = rt.block_on(async move {
                let kinds = [
                    SignalKind::interrupt(),
                    SignalKind::terminate(),
                    SignalKind::hangup(),
                    SignalKind::quit(),
                ];
                let [mut int, mut term, mut hup, mut quit] = kinds.map(|k| signal(k).ok());
                drop(installed);
                // Biased as every `select!` here: two signals at once are taken in
                // this order, not by tokio's draw.
                tokio::select! {
                    biased;
                    () = next(&mut int) => (SignalKind::interrupt(), "SIGINT"),
                    () = next(&mut term) => (SignalKind::terminate(), "SIGTERM"),
                    () = next(&mut hup) => (SignalKind::hangup(), "SIGHUP"),
                    () = next(&mut quit) => (SignalKind::quit(), "SIGQUIT"),
                }
            });
            let killed = kill_all_live();
            let dirs: Vec<PathBuf> = (live().dirs.iter())
                .filter(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()))
                .cloned()
                .collect();
            // Written after the kill, and never unwrapped: a hung-up terminal refuses it.
            use std::io::Write as _;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "interrupted: killed {killed} external program(s) on {name}");
            for dir in dirs {
                let _ = writeln!(err, "the programs' output so far is in {}", dir.display());
            }
            std::process::exit(128 + number.as_raw_value());
        };
        // Detached: it lives as long as the process and holds nothing a run needs.
        let spawned = std::thread::Builder::new().name("patchbay-signals".into()).spawn(watch);
        // Once the handlers are in place (or the thread could not start): a signal
        // from here on finds them.
        if spawned.is_ok() {
            let _ = done.recv();
        }
    });
}

/// Kills each program (its process group's number, with its mark) and every process
/// it started, wherever that went: stops them all ([`stop_trees`]), then kills
/// (SIGKILL) them all.
#[cfg(target_os = "linux")]
fn kill_trees(programs: &[(i32, &str)]) {
    for h in stop_trees(programs).values() {
        h.signal(Signal::KILL);
    }
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::KILL);
    }
}

/// Stops (SIGSTOP) each program and every process it started, wherever that went:
/// every process of the group, every process whose environment holds the mark, and
/// every descendant of either, looking again until no new one turns up (a stopped
/// process starts no other). A process that left the group and dropped the mark from
/// its environment is found only while its chain of parents leads back to one found.
/// Returns the processes stopped, each held so that a later signal reaches it alone.
#[cfg(target_os = "linux")]
fn stop_trees(programs: &[(i32, &str)]) -> BTreeMap<i32, tree::Held> {
    let mut held: BTreeMap<i32, tree::Held> = BTreeMap::new();
    if programs.is_empty() {
        return held;
    }
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::STOP);
    }
    let trees = tree::Trees::of(programs);
    let mut lost = BTreeSet::new();
    for _ in 0..TREE_ROUNDS {
        let table = tree::processes();
        let found = trees.members(&table, held.keys().copied().collect());
        let new: Vec<i32> = (table.iter())
            .filter(|p| found.contains(&p.pid) && !p.ended)
            .map(|p| p.pid)
            .filter(|pid| !held.contains_key(pid) && !lost.contains(pid))
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            let belongs = |p: &tree::Proc| trees.is_root(p) || found.contains(&p.ppid);
            match tree::Held::open(pid, belongs).filter(|h| h.signal(Signal::STOP)) {
                Some(h) => {
                    held.insert(pid, h);
                }
                None => {
                    lost.insert(pid);
                }
            }
        }
    }
    held
}

/// Continues (SIGCONT) each program and every process it started, found as
/// [`stop_trees`] finds them: a stall's end reaches what its start stopped.
#[cfg(target_os = "linux")]
fn continue_trees(programs: &[(i32, &str)]) {
    let trees = tree::Trees::of(programs);
    let table = tree::processes();
    let found = trees.members(&table, BTreeSet::new());
    for &pid in &found {
        let belongs = |p: &tree::Proc| trees.is_root(p) || found.contains(&p.ppid);
        if let Some(h) = tree::Held::open(pid, belongs) {
            h.signal(Signal::CONT);
        }
    }
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::CONT);
    }
}

/// Without `/proc` and pidfds, the process groups alone.
#[cfg(not(target_os = "linux"))]
fn kill_trees(programs: &[(i32, &str)]) {
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::KILL);
    }
}

/// Without `/proc` and pidfds, the process groups alone.
#[cfg(not(target_os = "linux"))]
fn stop_trees(programs: &[(i32, &str)]) {
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::STOP);
    }
}

/// Without `/proc` and pidfds, the process groups alone.
#[cfg(not(target_os = "linux"))]
fn continue_trees(programs: &[(i32, &str)]) {
    for &(pgid, _) in programs {
        signal_group(pgid, Signal::CONT);
    }
}

/// Reading the process table (`/proc`) and signalling a process found there.
#[cfg(target_os = "linux")]
mod tree {
    use std::collections::BTreeSet;
    use std::os::fd::OwnedFd;

    use rustix::io::Errno;
    use rustix::process::{Pid, PidfdFlags, Signal, kill_process, pidfd_open, pidfd_send_signal};

    use super::MARK_VAR;

    /// One process as `/proc/PID/stat` shows it.
    #[derive(Debug)]
    pub(super) struct Proc {
        pub pid: i32,
        pub ppid: i32,
        pub pgid: i32,
        /// A zombie (or dying): nothing to stop or kill.
        pub ended: bool,
    }

    /// Every process `/proc` lists now.
    pub(super) fn processes() -> Vec<Proc> {
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        (dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()))
            .filter_map(process)
            .collect()
    }

    fn process(pid: i32) -> Option<Proc> {
        let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
        // The name, the second field, may hold spaces, parentheses and any byte: the
        // fields after it follow its last `)`.
        let after = stat.iter().rposition(|&b| b == b')')? + 1;
        let rest = std::str::from_utf8(&stat[after..]).ok()?;
        let mut fields = rest.split_ascii_whitespace();
        let ended = matches!(fields.next()?, "Z" | "X" | "x");
        let ppid = fields.next()?.parse().ok()?;
        let pgid = fields.next()?.parse().ok()?;
        Some(Proc { pid, ppid, pgid, ended })
    }

    /// Whether process `pid`'s environment holds one of `marks` (`NAME=VALUE`). One
    /// of another user is not readable, and not patchbay's to kill.
    pub(super) fn carries(pid: i32, marks: &[Vec<u8>]) -> bool {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
        env.split(|&b| b == 0).any(|var| marks.iter().any(|m| var == m.as_slice()))
    }

    /// The programs whose trees are looked for: their process groups and the
    /// environment entries that carry their marks.
    pub(super) struct Trees {
        groups: BTreeSet<i32>,
        marks: Vec<Vec<u8>>,
        me: i32,
    }

    impl Trees {
        pub fn of(programs: &[(i32, &str)]) -> Trees {
            Trees {
                groups: programs.iter().map(|&(g, _)| g).collect(),
                marks: programs
                    .iter()
                    .map(|(_, m)| format!("{MARK_VAR}={m}").into_bytes())
                    .collect(),
                me: rustix::process::getpid().as_raw_pid(),
            }
        }

        /// Whether `p` is in a program's group or carries its mark.
        pub fn is_root(&self, p: &Proc) -> bool {
            self.groups.contains(&p.pgid) || carries(p.pid, &self.marks)
        }

        /// Every process of `table` that is a root, or descends from one or from a
        /// process in `found` (never this process).
        pub fn members(&self, table: &[Proc], mut found: BTreeSet<i32>) -> BTreeSet<i32> {
            found.extend(
                table.iter().filter(|p| p.pid != self.me && self.is_root(p)).map(|p| p.pid),
            );
            loop {
                let children: Vec<i32> = (table.iter())
                    .filter(|p| {
                        p.pid != self.me && found.contains(&p.ppid) && !found.contains(&p.pid)
                    })
                    .map(|p| p.pid)
                    .collect();
                if children.is_empty() {
                    return found;
                }
                found.extend(children);
            }
        }
    }

    /// A process of a program's tree, held by a pidfd where the kernel has them, so
    /// the signals reach that process and never one that took its number after it.
    #[derive(Debug)]
    pub(super) struct Held {
        pid: i32,
        fd: Option<OwnedFd>,
    }

    impl Held {
        /// Holds `pid` if, looked at once it is held, it still `belongs`.
        pub fn open(pid: i32, belongs: impl Fn(&Proc) -> bool) -> Option<Held> {
            let fd = match pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()) {
                Ok(fd) => Some(fd),
                Err(Errno::NOSYS) => None,
                Err(_) => return None,
            };
            process(pid).is_some_and(|p| belongs(&p)).then_some(Held { pid, fd })
        }

        pub fn signal(&self, signal: Signal) -> bool {
            match &self.fd {
                Some(fd) => pidfd_send_signal(fd, signal).is_ok(),
                None => Pid::from_raw(self.pid).is_some_and(|p| kill_process(p, signal).is_ok()),
            }
        }
    }
}

/// One running program: its child, its process group and its mark ([`MARK_VAR`]),
/// killed with every process it started when dropped.
#[derive(Debug)]
pub(super) struct Running {
    child: Child,
    pgid: i32,
    mark: String,
    /// Whether [`kill_trees`] has killed it and all it started.
    killed: Cell<bool>,
}

impl Running {
    /// Signals the program: SIGKILL, the first time, kills every process it started
    /// too ([`kill_trees`]), and SIGSTOP and SIGCONT (a crash, a stall) stop and
    /// continue every one ([`stop_trees`], [`continue_trees`]).
    fn signal(&self, signal: Signal) {
        let program = [(self.pgid, self.mark.as_str())];
        match signal {
            Signal::KILL if !self.killed.replace(true) => kill_trees(&program),
            // A crash or stall stops what the program started too, and its end
            // continues it: a child that left the group would serve on otherwise.
            Signal::STOP if !self.killed.get() => drop(stop_trees(&program)),
            Signal::CONT if !self.killed.get() => continue_trees(&program),
            _ => {
                signal_group(self.pgid, signal);
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The whole group, and whatever left it: the program's own children die with it.
        self.signal(Signal::KILL);
        // Told at once: the child is reaped next (by `stop_all` just before, or by the
        // runtime once dropped after this), and the guardian must not keep a group
        // whose number the kernel may deal again.
        guardian::forget(self.pgid, &self.mark);
        let mut live = live();
        if live.groups.get(&self.pgid) == Some(&self.mark) {
            live.groups.remove(&self.pgid);
        }
    }
}

/// What one replica of a `process:` group needs to run its program.
#[derive(Debug)]
pub(super) struct ProcessReplica {
    pub group: Group,
    pub replica: Replica,
    /// Where each bound socket's program must bind (fixed for every incarnation: the
    /// proxies dial it there).
    pub binds: BTreeMap<usize, SocketAddr>,
    /// The proxies each connecting socket must dial.
    pub connects: BTreeMap<usize, Vec<SocketAddr>>,
    /// Where its output files go.
    pub out_dir: PathBuf,
}

/// Something a `process:` node's program did in a real run that the verdicts alone
/// do not show, so that `real` can say it after its table: it exited on its own while
/// the run went on, or patchbay's sockets closed their connections with it because
/// what it sent broke the protocol (`protocol error: ...`). Either may be why an
/// invariant failed ("never got a reply").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramTrouble {
    /// The node, as the trace names it (`worker.0`).
    pub node: String,
    /// When it happened on the run's clock; for a protocol error, the first time.
    pub at: Duration,
    /// What happened, in words (`exited on its own (exit status: 1) ...`).
    pub what: String,
    /// The standard output file (`.out`) of the program's incarnation then, where the
    /// run left it; its standard error is the `.err` beside it. `None` if it has none.
    pub output: Option<PathBuf>,
}

/// What [`ProcessCtx`] notes of a program as the run goes, made into a
/// [`ProgramTrouble`] at the run's end ([`ProcessCtx::troubles`]).
#[derive(Debug)]
struct Noted {
    replica: Replica,
    incarnation: u32,
    at: Duration,
    what: NotedKind,
}

#[derive(Debug)]
enum NotedKind {
    /// It exited on its own, as the status says.
    Exited(String),
    /// Socket `by` (patchbay's) closed a connection with it for a protocol error.
    ProtocolError { by: (Replica, crate::trace::SocketIndex), reason: String },
}

/// What every program supervisor of a run shares.
#[derive(Debug)]
pub(super) struct ProcessCtx {
    pub world: Rc<FaultWorld>,
    pub recorder: Recorder,
    /// The run's time zero, set once every program is ready (notes before it are at 0).
    pub epoch: std::cell::Cell<tokio::time::Instant>,
    /// How many replicas' programs have been ready at least once.
    pub ready: std::cell::Cell<usize>,
    /// The first failure to start a program, which makes the run one that could not run.
    pub failed: Rc<RefCell<Option<RunError>>>,
    /// Every output file written, in the order written.
    pub files: Rc<RefCell<Vec<PathBuf>>>,
    /// How many supervisors ([`supervise`]) have ended. One ends only on a failure it
    /// recorded in `failed`, or by a panic (recorded there too): either way the run
    /// cannot go on, and the wait for readiness ([`ProcessCtx::until_ready`]) stops.
    pub ended: Cell<usize>,
    /// The standard output and error copies of every incarnation not known to have
    /// ended.
    pub outputs: RefCell<Vec<Rc<Output>>>,
    /// The program each replica runs now. Held here, not in its supervisor, so the
    /// run's end can kill and reap every one ([`ProcessCtx::stop_all`]) whatever its
    /// supervisor was doing; borrowed only between awaits.
    pub live: RefCell<BTreeMap<Replica, Running>>,
    /// What went wrong with a program while the run went on, in the order noted.
    noted: RefCell<Vec<Noted>>,
}

impl ProcessCtx {
    /// The context of a run's programs, before any has started.
    pub fn new(
        world: Rc<FaultWorld>,
        recorder: Recorder,
        files: Rc<RefCell<Vec<PathBuf>>>,
    ) -> Self {
        ProcessCtx {
            world,
            recorder,
            // Until every program is ready, notes are at time zero.
            epoch: Cell::new(tokio::time::Instant::now() + REAL_TIME_MAX),
            ready: Cell::new(0),
            failed: Rc::default(),
            files,
            ended: Cell::new(0),
            outputs: RefCell::default(),
            live: RefCell::default(),
            noted: RefCell::default(),
        }
    }

    /// Now on the run's clock (zero until every program is ready).
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.epoch.get())
    }

    fn note(&self, replica: Replica, text: String) {
        self.recorder.record(TraceEvent {
            at: self.now(),
            node: Some(replica),
            socket: None,
            kind: EventKind::App(AppEvent::Note { text }),
        });
    }

    /// Notes that patchbay's socket `by` closed a connection with replica `program`'s
    /// program at `at` because what it sent broke the protocol.
    pub fn protocol_error(
        &self,
        program: Replica,
        by: (Replica, crate::trace::SocketIndex),
        reason: &str,
        at: Duration,
    ) {
        let incarnation = self.world.incarnation(program);
        let what = NotedKind::ProtocolError { by, reason: reason.to_owned() };
        self.noted.borrow_mut().push(Noted { replica: program, incarnation, at, what });
    }

    /// What went wrong with the programs while the run went on, one entry per exit
    /// and one per program whose connections were closed for a protocol error (the
    /// first such close, with how many there were: a program that speaks something
    /// else is redialled and closed again every reconnect), in time order.
    pub fn troubles(&self, topology: &crate::plan::TopologyPlan) -> Vec<ProgramTrouble> {
        let noted = self.noted.borrow();
        let files = self.files.borrow();
        let output = |n: &Noted| {
            let name = format!("{}.{}.out", topology.replica_name(n.replica), n.incarnation);
            files.iter().find(|f| f.file_name().is_some_and(|f| *f == *name)).cloned()
        };
        let mut troubles = Vec::new();
        let mut first_errors: Vec<(Replica, &Noted, usize)> = Vec::new();
        for n in noted.iter() {
            match &n.what {
                NotedKind::Exited(status) => troubles.push(ProgramTrouble {
                    node: topology.replica_name(n.replica),
                    at: n.at,
                    what: format!(
                        "exited on its own ({status}) while the run went on; a program must run until the run ends (its errors may say why)"
                    ),
                    output: output(n),
                }),
                NotedKind::ProtocolError { .. } => {
                    match first_errors.iter_mut().find(|(r, ..)| *r == n.replica) {
                        Some((_, _, count)) => *count += 1,
                        None => first_errors.push((n.replica, n, 1)),
                    }
                }
            }
        }
        for (replica, n, count) in first_errors {
            let NotedKind::ProtocolError { by: (node, socket), reason } = &n.what else {
                continue;
            };
            let by = topology.socket_name(*node, usize::from(*socket));
            let times = match count {
                1 => String::new(),
                n => format!("; {n} connections with it were closed so in all"),
            };
            troubles.push(ProgramTrouble {
                node: topology.replica_name(replica),
                at: n.at,
                what: format!(
                    "broke the protocol, so `{by}` closed its connection with it ({reason}){times}; does it speak the topology's `library:` on the address it was given?"
                ),
                output: output(n),
            });
        }
        troubles.sort_by_key(|t| t.at);
        troubles
    }

    fn fail(&self, error: RunError) {
        self.failed.borrow_mut().get_or_insert(error);
    }

    /// Signals replica `r`'s program's group, if it has one running.
    fn signal(&self, r: Replica, signal: Signal) {
        if let Some(running) = self.live.borrow().get(&r) {
            running.signal(signal);
        }
    }

    /// How replica `r`'s program ended, once it has (and it is reaped: the guardian
    /// is told its group's number may be another's now).
    fn exited(&self, r: Replica) -> Option<String> {
        let mut live = self.live.borrow_mut();
        let running = live.get_mut(&r)?;
        match running.child.try_wait() {
            Ok(Some(status)) => {
                guardian::reaped(running.pgid, &running.mark);
                Some(status.to_string())
            }
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// Waits until `total` programs have been ready, or a supervisor has failed or
    /// ended: F3 of the real-run probe, a supervisor that panicked (`ready.timeout`
    /// overflowing its deadline) neither became ready nor recorded a failure, and
    /// `real` waited here for ever. Every supervisor that ends records why
    /// ([`supervise`]); one that ended without a word would still stop the wait,
    /// as an internal error.
    pub async fn until_ready(&self, total: usize) {
        while self.ready.get() < total && self.failed.borrow().is_none() && self.ended.get() == 0 {
            crate::net::timer::sleep(TICK).await;
        }
        if self.ended.get() > 0 {
            self.fail(RunError::Internal(
                "a program's supervisor ended before every program was ready".to_owned(),
            ));
        }
    }

    /// Kills every program still running and waits for each to be reaped, so none
    /// outlives the run (not even as a zombie); then gives their output copies
    /// `COPY_DRAIN` to write what was left in the pipes.
    pub async fn stop_all(&self) {
        let live = std::mem::take(&mut *self.live.borrow_mut());
        for (_, mut running) in live {
            running.signal(Signal::KILL);
            let _ = running.child.wait().await;
        }
        let until = Instant::now() + COPY_DRAIN;
        let outputs = std::mem::take(&mut *self.outputs.borrow_mut());
        for output in outputs {
            output.ended_by(until).await;
        }
    }

    /// Keeps `output` for [`ProcessCtx::stop_all`], forgetting copies that ended.
    fn keep_output(&self, output: &Rc<Output>) {
        let mut outputs = self.outputs.borrow_mut();
        outputs.retain(|o| !o.ended.get());
        outputs.push(output.clone());
    }
}

impl ProcessReplica {
    fn plan(&self) -> &ProcessPlan {
        self.group.process.as_ref().expect("a process group")
    }

    fn name(&self) -> String {
        format!("{}.{}", self.group.name, self.replica.index)
    }

    /// Why the program could not start, naming what is missing: its working folder or
    /// the program itself, for both of which the system says only "No such file or
    /// directory" (L4 of the real-run probe).
    fn start_failed(&self, argv: &[String], e: &std::io::Error) -> String {
        let (line, cwd, program) = (argv.join(" "), &self.plan().cwd, &argv[0]);
        if !cwd.is_dir() {
            let what = if cwd.exists() { "is not a folder" } else { "does not exist" };
            return format!(
                "cannot start `{line}`: its working folder `{}` (`cwd:`) {what} ({e})",
                cwd.display()
            );
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            // A name with a slash is a path (from the working folder, unless it is
            // absolute); one without is looked for on `PATH`.
            let missing = if Path::new(program).is_absolute() {
                format!("there is no program `{program}`")
            } else if program.contains('/') {
                format!("there is no program `{program}` in `{}`", cwd.display())
            } else {
                format!("there is no program `{program}` on PATH")
            };
            return format!("cannot start `{line}`: {missing} ({e})");
        }
        format!("cannot start `{line}` in `{}`: {e}", cwd.display())
    }

    /// Socket `socket`'s name, as the topology gives it.
    fn socket_name(&self, socket: usize) -> String {
        self.group.sockets.get(socket).map_or_else(|| format!("#{socket}"), |s| s.name.clone())
    }

    /// One endpoint as the program is told it.
    fn endpoint(&self, socket: usize, part: EndpointPart) -> String {
        let bind = self.binds.get(&socket);
        match part {
            EndpointPart::Bind => bind.map_or(String::new(), |a| format!("tcp://{a}")),
            EndpointPart::Port => bind.map_or(String::new(), |a| a.port().to_string()),
            EndpointPart::Connect => {
                let all = self.connects.get(&socket).map(Vec::as_slice).unwrap_or_default();
                all.iter().map(|a| format!("tcp://{a}")).collect::<Vec<_>>().join(",")
            }
        }
    }

    /// The command line with every endpoint substituted.
    pub fn argv(&self) -> Vec<String> {
        self.plan().command.iter().map(|t| t.render(&|s, p| self.endpoint(s, p))).collect()
    }

    fn spawn(
        &self,
        incarnation: u32,
        ctx: &Rc<ProcessCtx>,
    ) -> Result<(Running, Rc<Output>), String> {
        let argv = self.argv();
        let stem = format!("{}.{incarnation}", self.name());
        let out = self.out_dir.join(format!("{stem}.out"));
        let err = self.out_dir.join(format!("{stem}.err"));
        // A new file, never one already there (nor a link's target).
        let open = |p: &Path| {
            let new = std::fs::OpenOptions::new().write(true).create_new(true).open(p);
            new.map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        };
        let err_file = open(&err)?;
        let out_file = match open(&out) {
            Ok(file) => file,
            Err(why) => {
                let _ = std::fs::remove_file(&err);
                return Err(why);
            }
        };
        let mark = new_mark();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.plan().cwd)
            .envs(self.plan().env.iter().map(|(k, v)| (k, v.render(&|s, p| self.endpoint(s, p)))))
            .env(MARK_VAR, &mark)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        stop_programs_on_signals();
        guardian::start_once();
        // Held while the program starts, so a signal's handler kills it too.
        let mut live = live();
        if live.closed {
            let _ = std::fs::remove_file(&err);
            let _ = std::fs::remove_file(&out);
            return Err("not started: patchbay is stopping on a signal".to_owned());
        }
        live.dirs.insert(self.out_dir.clone());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                // Nothing was written to them: the error says why.
                let _ = std::fs::remove_file(&err);
                let _ = std::fs::remove_file(&out);
                return Err(self.start_failed(&argv, &e));
            }
        };
        let pid = child.id().ok_or("the program exited at once")? as i32;
        live.groups.insert(pid, mark.clone());
        drop(live);
        guardian::watch(pid, &mark);
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        ctx.files.borrow_mut().extend([out.clone(), err.clone()]);
        let running = Running { child, pgid: pid, mark, killed: Cell::new(false) };
        let ready_text = match &self.plan().ready {
            Ready::Line(text) => Some(text.as_str()),
            Ready::Ports | Ready::Port(_) => None,
        };
        let capped = |path: &Path| {
            let (ctx, r, path) = (ctx.clone(), self.replica, path.display().to_string());
            let name = self.name();
            move || {
                ctx.note(
                    r,
                    format!(
                        "node `{name}`'s program wrote more than {OUTPUT_FILE_MAX} bytes to `{path}`: the rest is read but not kept (`OUTPUT_FILE_MAX`)"
                    ),
                );
            }
        };
        let errors =
            copy_output(stderr, err_file, err.clone(), None, OUTPUT_FILE_MAX, capped(&err));
        ctx.keep_output(&errors);
        let output =
            copy_output(stdout, out_file, out.clone(), ready_text, OUTPUT_FILE_MAX, capped(&out));
        ctx.keep_output(&output);
        Ok((running, output))
    }
}

/// One incarnation's standard output (or error): the file it is copied to, and what
/// the copy has seen of it.
#[derive(Debug)]
pub(super) struct Output {
    /// The `.out` file.
    path: PathBuf,
    /// The ready text (`ready: {line: ...}`) has gone by.
    ready: Cell<bool>,
    /// The copy reached the output's end (every holder of the pipe closed it) and
    /// wrote everything to the file.
    ended: Cell<bool>,
    /// Woken when either changes.
    changed: Notify,
}

impl Output {
    /// Waits until the copy has reached the output's end, or `until`; whether it has.
    async fn ended_by(&self, until: Instant) -> bool {
        while !self.ended.get() {
            tokio::select! {
                biased;
                () = self.changed.notified() => {}
                () = crate::net::timer::sleep_until(until) => break,
            }
        }
        self.ended.get()
    }
}

/// Starts copying a program's standard output (or error) to `file`, at `path`, byte
/// for byte, looking for `ready_text` on the way. The copy drains the pipe to its end
/// whatever arrives: F4 of the real-run probe, a copy by lines stopped at the first
/// byte that was not UTF-8, lost the rest, and the program died of EPIPE at its next
/// write. A file that cannot be written any more (a full disk) is given up, and the
/// pipe still drained; past `cap` bytes the file is not written either (`on_cap` is
/// called once then), and ends with a line saying how many bytes were not kept.
fn copy_output(
    stream: impl tokio::io::AsyncRead + Unpin + 'static,
    file: std::fs::File,
    path: PathBuf,
    ready_text: Option<&str>,
    cap: u64,
    on_cap: impl FnOnce() + 'static,
) -> Rc<Output> {
    let output = Rc::new(Output {
        path,
        ready: Cell::new(false),
        ended: Cell::new(false),
        changed: Notify::new(),
    });
    let search = ready_text.map(|t| ReadySearch::new(t.as_bytes()));
    let seen = output.clone();
    let file = tokio::fs::File::from_std(file);
    tokio::task::spawn_local(copy_stream(stream, file, search, cap, on_cap, seen));
    output
}

/// [`copy_output`]'s loop: reads `stream` to its end, writing at most `cap` bytes of
/// it to `file` and then a line saying how many more were read and not kept.
async fn copy_stream(
    mut stream: impl tokio::io::AsyncRead + Unpin,
    file: tokio::fs::File,
    mut search: Option<ReadySearch>,
    cap: u64,
    on_cap: impl FnOnce(),
    seen: Rc<Output>,
) {
    // Written behind (`tokio::fs` hands each chunk to a blocking thread and takes the
    // next read meanwhile), never flushed per chunk.
    let mut file = Some(file);
    let mut on_cap = Some(on_cap);
    let mut buf = vec![0; COPY_CHUNK];
    // Bytes read so far, and of those written (or given to a file given up).
    let (mut read, mut kept) = (0u64, 0u64);
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        read += n as u64;
        if search.as_mut().is_some_and(|s| s.found_in(chunk)) {
            search = None;
            seen.ready.set(true);
            seen.changed.notify_one();
        }
        let room = usize::try_from(cap - kept).unwrap_or(usize::MAX).min(n);
        kept += room as u64;
        if let Some(f) = file.as_mut()
            && room > 0
            && f.write_all(&chunk[..room]).await.is_err()
        {
            file = None;
        }
        if room < n
            && let Some(on_cap) = on_cap.take()
        {
            on_cap();
        }
    }
    if let Some(mut f) = file {
        if read > kept {
            let line = format!(
                "\n[patchbay: this file stops at {cap} bytes (OUTPUT_FILE_MAX); the program wrote {} bytes more, read and not kept]\n",
                read - kept
            );
            let _ = f.write_all(line.as_bytes()).await;
        }
        let _ = f.flush().await;
    }
    seen.ended.set(true);
    seen.changed.notify_one();
}

/// Finds a text in a stream that arrives in chunks, holding of what went before only
/// the text's length less one byte: enough for a text split across chunks.
struct ReadySearch {
    text: memmem::Finder<'static>,
    /// The last bytes seen, at most the text's length less one.
    tail: Vec<u8>,
}

impl ReadySearch {
    fn new(text: &[u8]) -> ReadySearch {
        ReadySearch { text: memmem::Finder::new(text).into_owned(), tail: Vec::new() }
    }

    /// Whether the text ends in `chunk` (it may have begun in chunks before).
    fn found_in(&mut self, chunk: &[u8]) -> bool {
        let keep = self.text.needle().len().saturating_sub(1);
        // Across the boundary: the tail, then the chunk's first bytes.
        let mut joined = std::mem::take(&mut self.tail);
        joined.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        if self.text.find(&joined).is_some() || self.text.find(chunk).is_some() {
            return true;
        }
        if chunk.len() >= keep {
            joined.clear();
            joined.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            // The whole chunk is in `joined`: keep its last `keep` bytes.
            joined.drain(..joined.len().saturating_sub(keep));
        }
        self.tail = joined;
        false
    }
}

/// Runs every incarnation of one replica's program for as long as the run lasts.
/// It ends only on a failure, which it records in the context, or by a panic, which
/// it records as an internal error; either way it counts itself in
/// [`ProcessCtx::ended`], so that nothing waits on it.
pub(super) async fn supervise(p: Rc<ProcessReplica>, ctx: Rc<ProcessCtx>) {
    let name = p.name();
    let ended = CatchPanic(Box::pin(run_incarnations(p, ctx.clone()))).await;
    if let Err(message) = ended {
        let why = format!("the supervisor of node `{name}`'s program panicked: {message}");
        ctx.fail(RunError::Internal(why));
    } else if ctx.failed.borrow().is_none() {
        let why = format!("the supervisor of node `{name}`'s program ended without a failure");
        ctx.fail(RunError::Internal(why));
    }
    ctx.ended.set(ctx.ended.get() + 1);
}

/// A future with its panics caught, as the panic's message. Left alone, a panic ends
/// the task inside the runtime and nothing hears of it.
struct CatchPanic<'a>(Pin<Box<dyn Future<Output = ()> + 'a>>);

impl Future for CatchPanic<'_> {
    type Output = Result<(), String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(payload) => Poll::Ready(Err(
                match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
                    (Some(text), _) => (*text).to_owned(),
                    (_, Some(text)) => text.clone(),
                    _ => "a panic without a message".to_owned(),
                },
            )),
        }
    }
}

/// [`supervise`]'s body: one incarnation after another.
async fn run_incarnations(p: Rc<ProcessReplica>, ctx: Rc<ProcessCtx>) {
    let r = p.replica;
    let notify = ctx.world.state.borrow().replicas[&r].notify.clone();
    loop {
        while ctx.world.status(r) != Status::Running {
            wake(&notify).await;
        }
        let incarnation = ctx.world.incarnation(r);
        let (running, output) = match p.spawn(incarnation, &ctx) {
            Ok(x) => x,
            Err(why) => {
                return ctx.fail(RunError::NotRunnable(format!("node `{}`: {why}", p.name())));
            }
        };
        let argv = p.argv().join(" ");
        let pid = running.pgid;
        ctx.note(r, format!("process started: `{argv}` (pid {pid}, incarnation {incarnation})"));
        ctx.live.borrow_mut().insert(r, running);
        if let Err((why, output)) = ready(&p, &ctx, &output).await {
            let why = format!("node `{}` (incarnation {incarnation}): {why}", p.name());
            return ctx.fail(RunError::ProgramFailed { why, output });
        }
        ctx.note(r, "process ready".to_owned());
        if incarnation == 0 {
            ctx.ready.set(ctx.ready.get() + 1);
        }
        follow(&p, &ctx, &notify, incarnation).await;
        // Dropping it kills its group; a killed program is reaped in the background.
        ctx.live.borrow_mut().remove(&r);
    }
}

async fn wake(notify: &tokio::sync::Notify) {
    tokio::select! {
        biased;
        () = notify.notified() => {}
        () = crate::net::timer::sleep(TICK) => {}
    }
}

/// Acts on one incarnation's program as the fault world changes, until it is killed
/// or must make way for the next incarnation.
async fn follow(
    p: &ProcessReplica,
    ctx: &ProcessCtx,
    notify: &tokio::sync::Notify,
    incarnation: u32,
) {
    let r = p.replica;
    let mut stopped: Option<&str> = None;
    let mut exited = false;
    loop {
        wake(notify).await;
        if !exited && let Some(how) = ctx.exited(r) {
            exited = true;
            // Killed by a fault, it would have left this loop when signalled: it
            // exited on its own.
            let (at, what) = (ctx.now(), NotedKind::Exited(how.clone()));
            ctx.noted.borrow_mut().push(Noted { replica: r, incarnation, at, what });
            ctx.note(r, format!("process exited: {how}"));
        }
        let (status, now, stalled) = {
            let st = ctx.world.state.borrow();
            let rs = &st.replicas[&r];
            (rs.status, rs.incarnation, rs.stalled)
        };
        let (signal, stop, text) = match status {
            Status::Killed => (Signal::KILL, None, "process killed (SIGKILL to its group)"),
            Status::Crashed if stopped != Some("crash") => (
                Signal::STOP,
                Some("crash"),
                "process crashed: stopped (SIGSTOP), its links black-holed",
            ),
            Status::Running if now != incarnation => {
                (Signal::KILL, None, "process restarting: the stopped incarnation killed (SIGKILL)")
            }
            Status::Running if stalled && stopped.is_none() => {
                (Signal::STOP, Some("stall"), "process stalled (SIGSTOP)")
            }
            Status::Running if !stalled && stopped == Some("stall") => {
                (Signal::CONT, None, "process continued (SIGCONT)")
            }
            _ => continue,
        };
        ctx.signal(r, signal);
        ctx.note(r, text.to_owned());
        if signal == Signal::KILL {
            return;
        }
        stopped = stop;
    }
}

/// Waits until the program is ready as its plan says, or its deadline passes. A
/// failure is what happened, ending with the words that introduce the output file
/// that says more, and that file.
async fn ready(
    p: &ProcessReplica,
    ctx: &ProcessCtx,
    output: &Output,
) -> Result<(), (String, PathBuf)> {
    let plan = p.plan();
    let out = &output.path;
    let timeout = crate::spec::format_duration(plan.ready_timeout);
    // The resolver bounds `ready.timeout` at a real run's length; a plan built by
    // hand may not, and past the clock's end a deadline overflowed (F3).
    let deadline = Instant::now().checked_add(plan.ready_timeout);
    let Some(deadline) = deadline.filter(|_| plan.ready_timeout <= REAL_TIME_MAX) else {
        let max = crate::spec::format_duration(REAL_TIME_MAX);
        let why = format!(
            "`ready.timeout` is {timeout}, longer than a real run may last ({max}); its output"
        );
        return Err((why, out.clone()));
    };
    // The bound sockets to try, by name, until each has once accepted.
    let mut waiting: Vec<(String, SocketAddr)> = match &plan.ready {
        Ready::Ports => p.binds.iter().map(|(&s, &a)| (p.socket_name(s), a)).collect(),
        Ready::Port(s) => p.binds.get(s).map(|&a| (p.socket_name(*s), a)).into_iter().collect(),
        Ready::Line(_) => Vec::new(),
    };
    let mut missed = None;
    loop {
        if let Some(status) = ctx.exited(p.replica) {
            return Err(exited_before_ready(plan, output, &status, deadline).await);
        }
        let done = match &plan.ready {
            Ready::Line(_) => output.ready.get(),
            Ready::Ports | Ready::Port(_) => {
                missed = accept_each(&mut waiting, deadline).await;
                waiting.is_empty()
            }
        };
        if done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let why = match (&plan.ready, missed) {
                (Ready::Line(text), _) => format!(
                    "the program did not print a line containing `{text}` within {timeout} (raise `ready.timeout`); its output"
                ),
                (_, missed) => {
                    let names: Vec<String> =
                        waiting.iter().map(|(name, a)| format!("`{name}` ({a})")).collect();
                    let how = match missed {
                        Some(Missed::NoAnswer) => "the last connection to it was neither accepted nor refused in the time left, as when its listen queue is full (the program listens but does not accept)".to_owned(),
                        Some(Missed::Refused) => "nothing listens there (connection refused): does the program bind the address it was given? (raise `ready.timeout` if it is only slow to start)".to_owned(),
                        Some(Missed::Failed(e)) => format!("connecting to it failed: {e}"),
                        None => "it was not tried".to_owned(),
                    };
                    format!(
                        "the program did not accept on {} within {timeout}: {how}; its output",
                        names.join(", ")
                    )
                }
            };
            return Err((why, out.clone()));
        }
        tokio::select! {
            biased;
            () = output.changed.notified() => {}
            () = crate::net::timer::sleep(READY_POLL) => {}
        }
    }
}

/// Why a program that exited while it was waited for failed the run. What it printed
/// may still be in the pipe: its copy is given until the deadline (at most
/// `COPY_DRAIN`) to reach the end, so a program that printed its ready text and then
/// exited is told from one that never printed it (L1 of the real-run probe: it was
/// "exited before it was ready", pointing at the `.err` alone).
async fn exited_before_ready(
    plan: &ProcessPlan,
    output: &Output,
    status: &str,
    deadline: Instant,
) -> (String, PathBuf) {
    if let Ready::Line(text) = &plan.ready {
        output.ended_by(deadline.min(Instant::now() + COPY_DRAIN)).await;
        if output.ready.get() {
            let why = format!(
                "the program printed `{text}` and then exited ({status}), before the run began: it must keep running for the whole run; its errors are in the `.err` beside its output"
            );
            return (why, output.path.clone());
        }
    }
    let why = format!("the program exited ({status}) before it was ready; its errors");
    (why, output.path.with_extension("err"))
}

/// Why a bound socket did not accept at its last try.
#[derive(Debug)]
enum Missed {
    /// Its connect was refused: nothing listens there.
    Refused,
    /// Its connect was neither accepted nor refused before the deadline.
    NoAnswer,
    /// Its connect failed otherwise.
    Failed(std::io::Error),
}

/// Tries each socket in `waiting` in turn, each connect bounded by the time left
/// before `deadline` (F14 of the real-run probe: a full listen queue drops the SYN,
/// and the kernel retried for 130 s against a 3 s timeout). A socket that accepts
/// leaves `waiting` for good: it is not dialled again while the others are waited
/// for. Returns why the first socket still waiting did not accept.
async fn accept_each(waiting: &mut Vec<(String, SocketAddr)>, deadline: Instant) -> Option<Missed> {
    while let Some((_, addr)) = waiting.first() {
        let left = deadline.saturating_duration_since(Instant::now());
        match crate::net::timer::timeout(left, tokio::net::TcpStream::connect(*addr)).await {
            Ok(Ok(_)) => {
                waiting.remove(0);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Some(Missed::Refused);
            }
            Ok(Err(e)) => return Some(Missed::Failed(e)),
            Err(_) => return Some(Missed::NoAnswer),
        }
    }
    None
}

/// The lowest port handed to a program (see [`free_port`]).
const PROGRAM_PORTS_LOW: u16 = 20_000;

/// A free port on 127.0.0.1 for a program to bind, released at once for the program
/// to take. It comes from below the kernel's ephemeral range (Linux's
/// `ip_local_port_range`), where no outgoing connection and no bind to port 0 can take
/// it before the program binds it: a port the kernel picked was taken that way by a
/// run beside it (`cargo xtask real` with comet-logins' many connections beside
/// lru-zmq-worker-crash: the broker failed with "Address already in use"). Ports are
/// dealt in turn from a start drawn from the process id, so runs of one process never
/// share one and two processes seldom meet; each is bound once to check that nothing
/// holds it. Where the range cannot be read the kernel picks, as before.
pub(super) fn free_port() -> std::io::Result<SocketAddr> {
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let below = ephemeral_start().filter(|start| *start > PROGRAM_PORTS_LOW + 1_000);
    if let Some(start) = below {
        let span = u32::from(start - PROGRAM_PORTS_LOW);
        let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(7_919)));
        for _ in 0..span {
            let port = PROGRAM_PORTS_LOW + (next.fetch_add(1, Ordering::Relaxed) % span) as u16;
            if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                return l.local_addr();
            }
        }
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// The first port of the kernel's ephemeral range, where it is readable (Linux).
fn ephemeral_start() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program's port comes from below the ephemeral range, where a run beside it
    /// cannot take it by connecting or binding port 0, and two in a row differ.
    #[test]
    fn a_program_s_port_lies_below_the_ephemeral_range_and_is_not_dealt_twice() {
        let ports: Vec<u16> = (0..3).map(|_| free_port().expect("a free port").port()).collect();
        if let Some(start) = ephemeral_start() {
            assert!(ports.iter().all(|p| (PROGRAM_PORTS_LOW..start).contains(p)), "{ports:?}");
        }
        assert!(ports[0] != ports[1] && ports[1] != ports[2], "{ports:?}");
    }

    /// The ready text is found however the output is cut into chunks, split across
    /// any of them, and the search holds no more of the output than the text less
    /// one byte.
    #[test]
    fn the_ready_text_is_found_across_chunks_holding_only_its_length_less_one() {
        let text = b"lru-broker ready";
        let stream: Vec<u8> = [&b"\xff\x00 noise "[..], text, b" after"].concat();
        for first in 0..=stream.len() {
            for second in first..=stream.len() {
                let mut search = ReadySearch::new(text);
                let parts = [&stream[..first], &stream[first..second], &stream[second..]];
                let found = parts.iter().position(|part| search.found_in(part));
                let ends_in = match 9 + text.len() {
                    end if end <= first => 0,
                    end if end <= second => 1,
                    _ => 2,
                };
                assert_eq!(found, Some(ends_in), "cut at {first} and {second}");
            }
        }
        let mut search = ReadySearch::new(text);
        let byte_by_byte = stream.iter().position(|b| search.found_in(&[*b]));
        assert_eq!(byte_by_byte, Some(9 + text.len() - 1), "found at its last byte");
        // Never there: never found, and what is held stays under the text's length.
        let mut search = ReadySearch::new(text);
        for _ in 0..100 {
            assert!(!search.found_in(b"lru-broker read"));
            assert!(search.tail.len() < text.len(), "{}", search.tail.len());
        }
        assert!(!search.found_in(&vec![b'x'; COPY_CHUNK]));
        assert_eq!(search.tail, vec![b'x'; text.len() - 1]);
    }

    /// A program printing flat out once filled the disk through its copy (3.3 GB in
    /// 9 s): past the cap the copy keeps reading, so the program never blocks nor
    /// gets EPIPE, and keeps looking for the ready text, but writes only one last line
    /// saying how much it did not keep.
    #[test]
    fn past_the_cap_the_output_is_read_and_searched_but_not_kept() {
        let dir = std::env::temp_dir().join(format!("patchbay-output-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder");
        let path = dir.join("p.0.0.out");
        let cap = 100_000u64;
        // Chunks of a pipe's size; the ready text well past the cap, split across two.
        let mut input = vec![b'x'; 3 * COPY_CHUNK + 10];
        let at = 2 * COPY_CHUNK - 2;
        input[at..at + 5].copy_from_slice(b"READY");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let runtime = runtime.expect("a runtime");
        let mut rest: &[u8] = &input;
        let capped = Rc::new(Cell::new(0));
        let seen = Rc::new(Output {
            path: path.clone(),
            ready: Cell::new(false),
            ended: Cell::new(false),
            changed: Notify::new(),
        });
        let file = std::fs::File::create(&path).expect("the file");
        runtime.block_on(async {
            let file = tokio::fs::File::from_std(file);
            let search = Some(ReadySearch::new(b"READY"));
            let count = capped.clone();
            let on_cap = move || count.set(count.get() + 1);
            copy_stream(&mut rest, file, search, cap, on_cap, seen.clone()).await;
        });
        assert!(rest.is_empty(), "{} bytes left unread", rest.len());
        assert!(seen.ended.get());
        assert!(seen.ready.get(), "the ready text past the cap was found");
        assert_eq!(capped.get(), 1, "noted once");
        let written = std::fs::read(&path).expect("the file");
        let dropped = input.len() as u64 - cap;
        let marker = format!(
            "\n[patchbay: this file stops at {cap} bytes (OUTPUT_FILE_MAX); the program wrote {dropped} bytes more, read and not kept]\n"
        );
        assert_eq!(written.len(), cap as usize + marker.len());
        assert_eq!(&written[..cap as usize], &input[..cap as usize]);
        assert_eq!(String::from_utf8_lossy(&written[cap as usize..]), marker);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// F3 of the real-run probe: a supervisor that panicked neither became ready nor
    /// recorded a failure, and `real` waited for its readiness for ever. This one
    /// panics (its group runs a design, not a program, which `start_programs` never
    /// hands a supervisor): the wait ends, with the panic as the run's error.
    #[test]
    fn a_supervisor_that_panics_ends_the_wait_for_readiness_with_an_internal_error() {
        let plan = crate::plan::testing::plan();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let runtime = runtime.expect("a runtime");
        let world = FaultWorld::with_base_latency(&plan, 1, true);
        world.add_replica(crate::plan::testing::client(0));
        let ctx = Rc::new(ProcessCtx::new(world, Recorder::default(), Rc::default()));
        ctx.epoch.set(Instant::now());
        let p = ProcessReplica {
            group: plan.topology.groups[0].clone(),
            replica: crate::plan::testing::client(0),
            binds: BTreeMap::new(),
            connects: BTreeMap::new(),
            out_dir: std::env::temp_dir(),
        };
        let local = tokio::task::LocalSet::new();
        let waited = local.block_on(&runtime, async {
            tokio::task::spawn_local(supervise(Rc::new(p), ctx.clone()));
            // Bounded only so that a wait that never ends fails the test, not hangs it.
            crate::net::timer::timeout(Duration::from_secs(60), ctx.until_ready(1)).await
        });
        assert!(waited.is_ok(), "the wait for readiness went on after its supervisor ended");
        let failed = ctx.failed.borrow().clone();
        let says = "the supervisor of node `client.0`'s program panicked: a process group";
        assert!(matches!(&failed, Some(RunError::Internal(why)) if why == says), "{failed:?}");
        assert_eq!((ctx.ended.get(), ctx.ready.get()), (1, 0));
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        runtime.expect("a runtime").block_on(f)
    }

    /// F14 of the real-run probe: a port whose listen queue is full drops the SYN,
    /// and the kernel retried a probe's connect for 130 s against a 3 s
    /// `ready.timeout`. Each try is now bounded by the time left, and the miss says
    /// what was seen.
    #[test]
    fn a_probe_of_a_full_listen_queue_ends_at_the_deadline_saying_so() {
        block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bound");
            let listener = socket.listen(0).expect("listening");
            let addr = listener.local_addr().expect("an address");
            // A backlog of 0 holds one connection, never accepted here: then it is full.
            let _held = std::net::TcpStream::connect(addr).expect("queued");
            let mut waiting = vec![("rep".to_owned(), addr)];
            let deadline = Instant::now() + Duration::from_millis(300);
            // Bounded only so that a probe the kernel retries fails the test, not hangs it.
            let probe = accept_each(&mut waiting, deadline);
            let missed = crate::net::timer::timeout(Duration::from_secs(30), probe).await;
            let missed = missed.expect("the probe ended at its deadline");
            assert!(matches!(missed, Some(Missed::NoAnswer)), "{missed:?}");
            assert!(Instant::now() >= deadline, "it waited the time it had");
            assert_eq!(waiting, [("rep".to_owned(), addr)], "still waited for");
        });
    }

    /// A port that accepted is not dialled again while another is waited for (each
    /// poll dialled every port, 50 empty connections a second on a program's first
    /// socket while it bound its second).
    #[test]
    fn a_port_that_accepted_is_not_dialled_again_while_another_is_awaited() {
        let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
        first.set_nonblocking(true).expect("non-blocking");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
        let closed = closed.expect("a port, closed again");
        let first_addr = first.local_addr().expect("an address");
        let mut waiting = vec![("a".to_owned(), first_addr), ("b".to_owned(), closed)];
        for _ in 0..3 {
            let deadline = Instant::now() + Duration::from_secs(10);
            let missed = block_on(accept_each(&mut waiting, deadline));
            assert!(matches!(missed, Some(Missed::Refused)), "{missed:?}");
        }
        assert_eq!(waiting, [("b".to_owned(), closed)]);
        let dialled = std::iter::from_fn(|| first.accept().ok()).count();
        assert_eq!(dialled, 1, "the first port was dialled once");
    }

    /// The resolver bounds `ready.timeout` at a real run's length, so the longest
    /// timeout a file may write is one a supervisor takes, and a second more is
    /// refused where it is written.
    #[test]
    fn the_longest_ready_timeout_a_file_may_write_is_a_real_run_s_length() {
        use crate::registry::Registry;
        use crate::resolve::{TopologyOverrides, resolve_topology_source};
        use crate::spec::format_duration;
        use crate::spec::source::SourceFile;
        let resolve = |timeout: Duration| {
            let text = format!(
                "name: t\nnodes:\n- name: server\n  process: {{command: [prog, '{{rep}}'], ready: {{line: up, timeout: {}}}}}\n  sockets: [{{name: rep, type: REP, bind: true}}]\n",
                format_duration(timeout)
            );
            let src = SourceFile::new(PathBuf::from("t.yaml"), &text);
            resolve_topology_source(&src, &Registry::builtin(), &TopologyOverrides::default())
        };
        let longest = resolve(REAL_TIME_MAX);
        let group = &longest.plan.expect("10 minutes is allowed").groups[0];
        assert_eq!(group.process.as_ref().map(|p| p.ready_timeout), Some(REAL_TIME_MAX));
        let past = resolve(REAL_TIME_MAX + Duration::from_secs(1));
        assert!(past.plan.is_none());
        let codes: Vec<String> = past.diagnostics.iter().map(|d| d.code.to_string()).collect();
        assert_eq!(codes, ["out-of-range"]);
    }
}
