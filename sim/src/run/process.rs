//! External programs under `real`: a node with `process:` is a program of the user's
//! own, spawned for each incarnation of each replica with its sockets' endpoints
//! substituted into its command (its binds on ports patchbay picked, its connects on
//! the fault proxies of its links), and driven by the same fault world as every
//! other replica. A fault acts on the program through signals to its process group:
//!
//! - **kill**: SIGKILL (the proxies reset its connections, as for any node); the
//!   restart at the fault's end spawns the next incarnation;
//! - **crash**: SIGSTOP while the proxies black-hole its links; at the restart the
//!   stopped program is killed (SIGKILL) and the next incarnation spawned;
//! - **stall**: SIGSTOP, then SIGCONT at the stall's end.
//!
//! Each is recorded in the trace as a note on the node. A program's standard output
//! and error are kept per incarnation in files (`<node>.<replica>.<incarnation>.out`
//! and `.err`). Every program runs in its own process group, which a guard kills on
//! drop (the run's end, a failure, a panic), and which [`kill_all_live`] kills from a
//! Ctrl-C handler, so no program or child of one outlives its run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::plan::{EndpointPart, Group, ProcessPlan, Ready, Replica};
use crate::trace::{AppEvent, EventKind, Recorder, TraceEvent};

use super::RunError;
use super::faults::{FaultWorld, Status};

/// How often a supervisor looks at the fault world and its program between wake-ups.
const TICK: Duration = Duration::from_millis(10);
/// How often a port is tried while waiting for a program to accept on it.
const READY_POLL: Duration = Duration::from_millis(20);

/// The process groups of every program running in this process, for [`kill_all_live`].
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Kills every external program's process group still running (a Ctrl-C handler
/// calls this before exiting). Returns how many groups it signalled.
pub fn kill_all_live() -> usize {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    live.iter().filter(|&&pgid| signal_group(pgid, Signal::KILL)).count()
}

fn signal_group(pgid: i32, signal: Signal) -> bool {
    Pid::from_raw(pgid).is_some_and(|p| kill_process_group(p, signal).is_ok())
}

/// One running program: its child and its process group, killed when dropped.
#[derive(Debug)]
pub(super) struct Running {
    child: Child,
    pgid: i32,
}

impl Running {
    fn signal(&self, signal: Signal) {
        signal_group(self.pgid, signal);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The whole group: the program's own children die with it.
        self.signal(Signal::KILL);
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.pgid);
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
    /// The program each replica runs now. Held here, not in its supervisor, so the
    /// run's end can kill and reap every one ([`ProcessCtx::stop_all`]) whatever its
    /// supervisor was doing; borrowed only between awaits.
    pub live: RefCell<BTreeMap<Replica, Running>>,
}

impl ProcessCtx {
    fn note(&self, replica: Replica, text: String) {
        self.recorder.record(TraceEvent {
            at: tokio::time::Instant::now().saturating_duration_since(self.epoch.get()),
            node: Some(replica),
            socket: None,
            kind: EventKind::App(AppEvent::Note { text }),
        });
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

    /// How replica `r`'s program ended, once it has.
    fn exited(&self, r: Replica) -> Option<String> {
        let mut live = self.live.borrow_mut();
        let running = live.get_mut(&r)?;
        match running.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// Kills every program still running and waits for each to be reaped, so none
    /// outlives the run (not even as a zombie).
    pub async fn stop_all(&self) {
        let live = std::mem::take(&mut *self.live.borrow_mut());
        for (_, mut running) in live {
            running.signal(Signal::KILL);
            let _ = running.child.wait().await;
        }
    }
}

impl ProcessReplica {
    fn plan(&self) -> &ProcessPlan {
        self.group.process.as_ref().expect("a process group")
    }

    fn name(&self) -> String {
        format!("{}.{}", self.group.name, self.replica.index)
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

    fn spawn(&self, incarnation: u32, ctx: &ProcessCtx) -> Result<(Running, PathBuf), String> {
        let argv = self.argv();
        let stem = format!("{}.{incarnation}", self.name());
        let out = self.out_dir.join(format!("{stem}.out"));
        let err = self.out_dir.join(format!("{stem}.err"));
        let open = |p: &Path| {
            std::fs::File::create(p).map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        };
        let err_file = open(&err)?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.plan().cwd)
            .envs(self.plan().env.iter().map(|(k, v)| (k, v.render(&|s, p| self.endpoint(s, p)))))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err_file))
            .kill_on_drop(true)
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            format!("cannot start `{}` in `{}`: {e}", argv.join(" "), self.plan().cwd.display())
        })?;
        let pid = child.id().ok_or("the program exited at once")? as i32;
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
        let stdout = child.stdout.take().expect("piped");
        ctx.files.borrow_mut().extend([out.clone(), err.clone()]);
        let running = Running { child, pgid: pid };
        Ok((running, out_and_copy(stdout, out)?))
    }
}

/// Starts copying a program's standard output to `path`; returns `path`. The copy
/// also serves readiness by line: [`ready`] reads the file.
fn out_and_copy(stdout: tokio::process::ChildStdout, path: PathBuf) -> Result<PathBuf, String> {
    let file = std::fs::File::create(&path)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    let mut file = tokio::fs::File::from_std(file);
    tokio::task::spawn_local(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if file.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                break;
            }
            let _ = file.flush().await;
        }
    });
    Ok(path)
}

/// Runs every incarnation of one replica's program for as long as the run lasts.
pub(super) async fn supervise(p: Rc<ProcessReplica>, ctx: Rc<ProcessCtx>) {
    let r = p.replica;
    let notify = ctx.world.state.borrow().replicas[&r].notify.clone();
    loop {
        while ctx.world.status(r) != Status::Running {
            wake(&notify).await;
        }
        let incarnation = ctx.world.incarnation(r);
        let (running, out) = match p.spawn(incarnation, &ctx) {
            Ok(x) => x,
            Err(why) => {
                return ctx.fail(RunError::NotRunnable(format!("node `{}`: {why}", p.name())));
            }
        };
        let argv = p.argv().join(" ");
        let pid = running.pgid;
        ctx.note(r, format!("process started: `{argv}` (pid {pid}, incarnation {incarnation})"));
        ctx.live.borrow_mut().insert(r, running);
        if let Err((why, output)) = ready(&p, &ctx, &out).await {
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
async fn ready(p: &ProcessReplica, ctx: &ProcessCtx, out: &Path) -> Result<(), (String, PathBuf)> {
    let plan = p.plan();
    let deadline = tokio::time::Instant::now() + plan.ready_timeout;
    let ports: Vec<SocketAddr> = match &plan.ready {
        Ready::Ports => p.binds.values().copied().collect(),
        Ready::Port(s) => p.binds.get(s).copied().into_iter().collect(),
        Ready::Line(_) => Vec::new(),
    };
    loop {
        if let Some(status) = ctx.exited(p.replica) {
            let why = format!("the program exited ({status}) before it was ready; its errors");
            return Err((why, out.with_extension("err")));
        }
        let done = match &plan.ready {
            Ready::Line(text) => {
                std::fs::read_to_string(out).is_ok_and(|s| s.contains(text.as_str()))
            }
            _ => accepting(&ports).await,
        };
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let what = match &plan.ready {
                Ready::Line(text) => format!("print a line containing `{text}`"),
                _ => {
                    let ports: Vec<String> = ports.iter().map(ToString::to_string).collect();
                    format!("accept on {}", ports.join(", "))
                }
            };
            let timeout = crate::spec::format_duration(plan.ready_timeout);
            let why = format!(
                "the program did not {what} within {timeout} (raise `ready.timeout`); its output"
            );
            return Err((why, out.to_path_buf()));
        }
        crate::net::timer::sleep(READY_POLL).await;
    }
}

/// Whether every address accepts a TCP connection now.
async fn accepting(ports: &[SocketAddr]) -> bool {
    for a in ports {
        if tokio::net::TcpStream::connect(a).await.is_err() {
            return false;
        }
    }
    true
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
}
