//! Helpers the integration-test modules share: the workspace root, a scenario
//! written inline in a test as if it lived in `scenarios/`, the registry with the
//! deliberately broken designs, a seed run that must reach a verdict and the outcome
//! of one invariant in it, a temporary folder removed when dropped; for the
//! driver-level tests, a single-threaded runtime on 127.0.0.1, a log of a socket's
//! driver events and which of them are faults.

use std::cell::RefCell;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use patchbay::design::broken;
use patchbay::invariant::Outcome;
use patchbay::net::{DriverEvent, EventSink};
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::{RunReport, run_seed};
use patchbay::socket::SocketEvent;
use patchbay::spec::source::SourceFile;

/// Waits for `child` to exit, for at most `limit`. A child still running then (a
/// library hanging in its own teardown) is killed and the wait fails, naming `what`:
/// a test fails instead of hanging.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> Result<std::process::ExitStatus, String> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    let pid = rustix::process::Pid::from_raw(child.id() as i32).ok_or("no pid")?;
    let (done, watched) = channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let expired = watched.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
        if expired {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        expired
    });
    let status = child.wait().map_err(|err| format!("wait for {what}: {err}"));
    let _ = done.send(());
    if watchdog.join().unwrap_or(false) {
        return Err(format!("{what} had not exited within {limit:?}: killed"));
    }
    status
}

/// The workspace root, where `scenarios/` and `topologies/` are.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Resolves a scenario written in a test as if it lived in `scenarios/NAME.yaml`, so
/// its `topology: ../topologies/…` reaches the shipped files.
pub fn scenario(name: &str, text: &str) -> ScenarioPlan {
    scenario_with(name, text, &Registry::builtin())
}

/// [`scenario`], resolved against `registry` (one with user or broken designs).
pub fn scenario_with(name: &str, text: &str, registry: &Registry) -> ScenarioPlan {
    let path = root().join(format!("scenarios/{name}.yaml"));
    let loaded = load_scenario_source(&SourceFile::new(path, text), registry);
    let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    loaded.plan.unwrap_or_else(|| panic!("{name} does not resolve:\n{}", diags.join("\n")))
}

/// The built-in designs plus every deliberately broken one, for the tests that show
/// a checker failing on a broken design.
pub fn registry_with_broken() -> Registry {
    let mut registry = Registry::builtin();
    for spec in broken::designs() {
        registry.register(spec);
    }
    registry
}

/// Runs `seed` of `plan`, which must run to a verdict: a run error fails the test
/// with its repro line. `keep_trace` keeps the trace in the report.
pub fn run_to_verdict(
    plan: &ScenarioPlan,
    registry: &Registry,
    seed: u64,
    keep_trace: bool,
) -> RunReport {
    let report = run_seed(plan, registry, seed, keep_trace);
    assert_eq!(report.error, None, "{} did not run: {}", plan.name, report.repro());
    report
}

/// The outcome of invariant `name` in `report`; a report that did not check it fails
/// the test.
pub fn outcome<'a>(report: &'a RunReport, name: &str) -> &'a Outcome {
    report.invariants.iter().find(|o| o.name == name).unwrap_or_else(|| {
        panic!("{} did not check {name}: {:?}", report.scenario, report.invariants)
    })
}

/// A fresh folder under the system's temporary one, named after the test and this
/// process (so parallel tests and runs do not meet), removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("patchbay-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a real-network test on one thread, as patchbay's sockets expect (their tasks
/// are spawned on a `LocalSet`).
pub fn run_local(test: impl Future<Output = ()>) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tokio::task::LocalSet::new().block_on(&runtime, test);
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

/// Whether a driver event means something went wrong: a drop, a failed connect or
/// accept, a protocol error, a panic. A clean exchange has none; the match is
/// exhaustive so that a new kind of event must be sorted here.
pub fn is_fault(event: &DriverEvent) -> bool {
    match event {
        DriverEvent::Socket(SocketEvent::Dropped { .. }) => true,
        DriverEvent::Socket(_)
        | DriverEvent::Connected { .. }
        | DriverEvent::Disconnected { .. } => false,
        DriverEvent::ConnectFailed { .. }
        | DriverEvent::AcceptFailed { .. }
        | DriverEvent::ProtocolError { .. }
        | DriverEvent::TaskPanicked { .. } => true,
    }
}

/// Every driver event of one socket, in order; its [`EventLog::sink`] is what the
/// test hands to `spawn_socket`. Times are left out: over real TCP they differ from
/// run to run by nature.
#[derive(Clone, Default)]
pub struct EventLog(Rc<RefCell<Vec<DriverEvent>>>);

impl EventLog {
    /// A sink that appends to this log.
    pub fn sink(&self) -> EventSink {
        let log = Rc::clone(&self.0);
        Rc::new(move |_at: Duration, event: DriverEvent| log.borrow_mut().push(event))
    }

    /// What `pick` takes from the events so far, in order.
    pub fn find<T>(&self, pick: impl Fn(&DriverEvent) -> Option<T>) -> Vec<T> {
        self.0.borrow().iter().filter_map(pick).collect()
    }
}

/// What a test keeps of a socket's driver events, for [`Watch`].
pub trait Seen: Default + 'static {
    fn record(&mut self, event: DriverEvent);
}

/// A socket's driver events, kept as `S` takes them, with a wake-up for whoever waits
/// on them: the socket-level matrices and the conformance rows wait on it for a
/// connection, a close or a drop.
pub struct Watch<S> {
    pub seen: Rc<RefCell<S>>,
    changed: Rc<tokio::sync::Notify>,
}

impl<S> Clone for Watch<S> {
    fn clone(&self) -> Self {
        Watch { seen: Rc::clone(&self.seen), changed: Rc::clone(&self.changed) }
    }
}

impl<S: Seen> Default for Watch<S> {
    fn default() -> Self {
        Watch { seen: Rc::default(), changed: Rc::default() }
    }
}

impl<S: Seen> Watch<S> {
    /// A sink that records into this watch and wakes its waiters.
    pub fn sink(&self) -> EventSink {
        let watch = self.clone();
        Rc::new(move |_at: Duration, event: DriverEvent| {
            watch.seen.borrow_mut().record(event);
            watch.changed.notify_waiters();
        })
    }

    /// Waits until `done` holds, for at most `within`; whether it came to hold.
    pub async fn until(&self, within: Duration, done: impl Fn(&S) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.changed.notified();
            if done(&self.seen.borrow()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.seen.borrow());
            }
        }
    }
}

/// `wait_bounded` gives a child's status when it exits in time, and kills one that
/// does not, failing with its name.
#[test]
fn wait_bounded_kills_a_child_that_outlives_its_limit() {
    use std::process::Command;
    let mut quick = Command::new("true").spawn().expect("run true");
    let status = wait_bounded(&mut quick, Duration::from_secs(30), "true");
    assert!(status.is_ok_and(|s| s.success()));
    let mut stuck = Command::new("sleep").arg("600").spawn().expect("run sleep");
    let pid = rustix::process::Pid::from_raw(stuck.id() as i32).expect("a pid");
    let err = wait_bounded(&mut stuck, Duration::from_millis(100), "a stuck peer").unwrap_err();
    assert_eq!(err, "a stuck peer had not exited within 100ms: killed");
    let gone = rustix::process::test_kill_process(pid);
    assert_eq!(gone, Err(rustix::io::Errno::SRCH), "the stuck child is gone");
}
