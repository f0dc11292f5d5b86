//! No external program outlives the command that started it (the real-run probe's
//! F1, F10, F2): SIGTERM, SIGHUP and SIGQUIT end `real` as Ctrl-C does (every
//! program killed, the shell's code for the signal, the output's folder named, no
//! trace spill left), `compare --real` kills its programs on Ctrl-C too, and a child
//! a program started in a session of its own (`setsid`, a daemon's double fork) dies
//! with the program at the run's end, and a SIGKILL of `real`, which nothing in it
//! can catch, still ends its programs (through its guardian). The programs are `sh`;
//! each writes its pid to a file of the test's, and the test waits for the endpoint
//! table (printed once every program is ready) and for the command's end, never for
//! a time.

mod common;

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{TempDir, ended_within, read_until};
use rustix::process::{Pid, Signal, kill_process};

/// A guard on every wait for the command, not a wait itself.
const GUARD: Duration = Duration::from_secs(60);

/// A topology whose `server` node runs `program` (`sh -c`, in the test's folder) with
/// a patchbay client beside it, and a scenario of `duration` over it; returns the
/// scenario's path.
fn scenario(dir: &Path, name: &str, program: &str, duration: &str) -> PathBuf {
    let topology = format!(
        "name: {name}\nlibrary: nng\nnodes:\n\
         \x20 - name: server\n    process:\n      command: [sh, -c, '{program}']\n      ready: {{line: ready}}\n    sockets:\n\
         \x20     - {{name: rep, type: REP, bind: true}}\n\
         \x20 - name: client\n    design: client\n    sockets:\n\
         \x20     - {{name: req, type: REQ, connect: server.rep}}\n"
    );
    let scenario = format!(
        "name: {name}\ntopology: {name}-topology.yaml\nduration: {duration}\nliveness: 1s\n\
         workload: {{client: {{requests: 1}}}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n"
    );
    std::fs::write(dir.join(format!("{name}-topology.yaml")), topology).expect("the topology");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, scenario).expect("the scenario");
    path
}

/// Starts the xtask binary with `args` in `dir`, its output piped.
fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xtask")
}

/// Waits (with `GUARD`) for `child` to end; its exit code and the rest of its output.
fn finish(
    mut child: Child,
    stdout: Option<BufReader<std::process::ChildStdout>>,
) -> (Option<i32>, String, String) {
    let stderr = child.stderr.take().expect("piped");
    let mut stdout: Box<dyn Read + Send> = match stdout {
        Some(s) => Box::new(s),
        None => Box::new(child.stdout.take().expect("piped")),
    };
    let (done, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out);
        let _ = BufReader::new(stderr).read_to_string(&mut err);
        let _ = done.send((child.wait().map(|s| s.code()), out, err));
    });
    let (code, out, err) = ended.recv_timeout(GUARD).expect("the command ended");
    (code.expect("waited"), out, err)
}

/// The pids a program wrote to `files` (in the test's folder).
fn pids(dir: &Path, files: &[&str]) -> Vec<i32> {
    (files.iter())
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).expect("the program wrote its pid");
            text.trim().parse().expect("a pid")
        })
        .collect()
}

/// The pids of `pids` still running a few seconds after the command ended; the test
/// kills them (they are its programs') before failing on them.
fn left_running(pids: &[i32]) -> Vec<i32> {
    let left: Vec<i32> =
        pids.iter().copied().filter(|&p| !ended_within(p, Duration::from_secs(5))).collect();
    for &p in &left {
        let _ = kill_process(Pid::from_raw(p).expect("not 0"), Signal::KILL);
    }
    left
}

/// Trace spill files the process `pid` left in the temporary folder.
fn spills_of(pid: u32) -> Vec<String> {
    let prefix = format!("patchbay-trace-{pid}-");
    let entries = std::fs::read_dir(std::env::temp_dir()).expect("the temporary folder");
    (entries.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn sigterm_sighup_and_sigquit_kill_every_program_and_end_as_a_shell_reports_them() {
    let dir = TempDir::new("program-signals");
    let program = "echo $$ > pid; echo ready; exec sleep 600";
    for (signal, name, number) in
        [(Signal::TERM, "SIGTERM", 15), (Signal::HUP, "SIGHUP", 1), (Signal::QUIT, "SIGQUIT", 3)]
    {
        let _ = std::fs::remove_file(dir.0.join("pid"));
        let scenario = scenario(&dir.0, "held", program, "60s");
        let json = dir.at(&format!("{name}.json"));
        let mut real = start(&dir.0, &["real", &scenario.display().to_string(), "--json", &json]);
        let (stdout, _) = read_until(&mut real, "endpoints of held seed 1:");
        let program = pids(&dir.0, &["pid"]);
        assert!(!ended_within(program[0], Duration::ZERO), "the program runs");
        let xtask = real.id();
        let xtask_pid = Pid::from_raw(i32::try_from(xtask).expect("a pid")).expect("not 0");
        kill_process(xtask_pid, signal).expect("signal xtask");
        let (code, _, stderr) = finish(real, Some(stdout));

        let left = left_running(&program);
        assert!(left.is_empty(), "{name}: the program outlived xtask: {left:?}; {stderr}");
        assert_eq!(code, Some(128 + number), "{name}: {stderr}");
        let said = format!("interrupted: killed 1 external program(s) on {name}");
        assert!(stderr.contains(&said), "{name}: {stderr}");
        // Where the program's output is, as it was when the signal came.
        let at = "the programs' output so far is in ";
        let line = stderr.lines().find(|l| l.starts_with(at)).unwrap_or_else(|| panic!("{stderr}"));
        let output = PathBuf::from(&line[at.len()..]);
        let out = std::fs::read_to_string(output.join("server.0.0.out")).expect("its output");
        assert_eq!(out, "ready\n", "{name}");
        let _ = std::fs::remove_dir_all(&output);
        assert_eq!(spills_of(xtask), Vec::<String>::new(), "{name}: no trace spill left");
    }
}

#[test]
fn ctrl_c_during_compare_real_kills_its_programs() {
    let dir = TempDir::new("compare-interrupt");
    // A side whose broker is a program (that routes nothing, and need not).
    let topology = "name: ext\nlibrary: zeromq\nparams: {clients: 2, workers: 1}\nnodes:\n\
        \x20 - name: client\n    count: $clients\n    design: client\n    sockets:\n\
        \x20     - {name: req, type: REQ, connect: broker.frontend}\n\
        \x20 - name: broker\n    process:\n\
        \x20     command: [sh, -c, 'echo $$ > pid; echo ready; exec sleep 600']\n\
        \x20     ready: {line: ready}\n    sockets:\n\
        \x20     - {name: frontend, type: ROUTER, bind: true}\n\
        \x20     - {name: backend, type: ROUTER, bind: true}\n\
        \x20 - name: worker\n    count: $workers\n    design: ready-worker\n    sockets:\n\
        \x20     - {name: req, type: REQ, connect: broker.backend}\n";
    std::fs::write(dir.0.join("ext.yaml"), topology).expect("the topology");
    let scenario = common::root().join("scenarios/lru-worker-crash.yaml").display().to_string();
    let json = dir.at("compare.json");
    let args: [&str; 9] = [
        "compare",
        &scenario,
        "--design",
        "ext=ext.yaml",
        "--real",
        "--seeds",
        "1",
        "--json",
        &json,
    ];
    let mut compare = start(&dir.0, &args);
    let (stdout, _) = read_until(&mut compare, "endpoints of lru-worker-crash seed 1:");
    let program = pids(&dir.0, &["pid"]);
    assert!(!ended_within(program[0], Duration::ZERO), "the program runs");
    let pid = Pid::from_raw(i32::try_from(compare.id()).expect("a pid")).expect("not 0");
    kill_process(pid, Signal::INT).expect("signal xtask");
    let (code, _, stderr) = finish(compare, Some(stdout));

    let left = left_running(&program);
    assert!(left.is_empty(), "the program outlived `compare --real`: {left:?}; {stderr}");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: killed 1 external program(s) on SIGINT"), "{stderr}");
    let at = "the programs' output so far is in ";
    if let Some(line) = stderr.lines().find(|l| l.starts_with(at)) {
        let _ = std::fs::remove_dir_all(&line[at.len()..]);
    }
}

#[test]
fn a_child_that_left_the_program_s_session_dies_with_it_at_the_run_s_end() {
    let dir = TempDir::new("program-setsid");
    // `kept`: a session of its own, its parent (the program) alive to the end;
    // `orphan`: a daemon's double fork, its parent gone at once.
    let program = "setsid sh -c \"echo \\$\\$ > kept; exec sleep 600\" & \
        (setsid sh -c \"echo \\$\\$ > orphan; exec sleep 600\" &); \
        while [ ! -s kept ] || [ ! -s orphan ]; do sleep 0.05; done; \
        echo ready; exec sleep 600";
    let scenario = scenario(&dir.0, "daemons", program, "1s");
    let real = start(&dir.0, &["real", &scenario.display().to_string(), "--json", "r.json"]);
    let (code, stdout, stderr) = finish(real, None);
    // Read after the run: the program wrote them before it was ready.
    let children = pids(&dir.0, &["kept", "orphan"]);
    let left = left_running(&children);
    assert!(left.is_empty(), "outlived the run (kept, orphan: {children:?}): {left:?}");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// The processes running as the guardian of the patchbay process `pid` (`sh -c SCRIPT
/// patchbay-guardian PATCHBAY_PROGRAM PID`).
fn guardians_of(pid: u32) -> Vec<i32> {
    let tail = format!("\0patchbay-guardian\0PATCHBAY_PROGRAM\0{pid}\0");
    let procs = std::fs::read_dir("/proc").expect("/proc");
    (procs.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()))
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            cmdline.ends_with(tail.as_bytes())
        })
        .collect()
}

/// A SIGKILL of `real` (as the OOM killer's) cannot be caught, and its programs ran
/// on: its guardian, a shell that sees the end of its input however `real` ends,
/// kills them, then exits itself.
#[test]
fn a_sigkill_of_real_leaves_neither_a_program_nor_its_guardian_running() {
    let dir = TempDir::new("program-sigkill");
    let scenario = scenario(&dir.0, "held", "echo $$ > pid; echo ready; exec sleep 600", "60s");
    // What a killed `real` cannot remove (the programs' output, trace spills) goes
    // in the test's folder.
    let mut real = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["real", &scenario.display().to_string(), "--json", &dir.at("r.json")])
        .current_dir(&dir.0)
        .env("TMPDIR", &dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xtask");
    let (_stdout, _) = read_until(&mut real, "endpoints of held seed 1:");
    let program = pids(&dir.0, &["pid"]);
    assert!(!ended_within(program[0], Duration::ZERO), "the program runs");
    let guardians = guardians_of(real.id());
    real.kill().expect("SIGKILL xtask");
    real.wait().expect("xtask reaped");

    let left = left_running(&program);
    assert!(left.is_empty(), "the program outlived a SIGKILL of xtask: {left:?}");
    assert_eq!(guardians.len(), 1, "one guardian: {guardians:?}");
    let guardian = guardians[0];
    assert!(ended_within(guardian, Duration::from_secs(5)), "the guardian outlived its work");
    assert_eq!(guardians_of(real.id()), Vec::<i32>::new(), "no guardian of xtask is left");
}

/// The longest gap between the child's ticks (nanosecond times, one a line, written
/// every 100 ms while it runs), and whether it ticked again after that gap.
fn longest_gap(ticks: &str) -> (Duration, bool) {
    let times: Vec<u64> = ticks.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let gaps = times.windows(2).enumerate().map(|(i, w)| (w[1].saturating_sub(w[0]), i));
    let (longest, at) = gaps.max().unwrap_or((0, 0));
    (Duration::from_nanos(longest), at + 2 < times.len())
}

/// A `stall` stops the program with every process it started, and continues them at
/// its end: a child in a session of its own (`setsid`), outside the program's process
/// group, used to serve on through the stall. The child stamps the time every 100 ms;
/// after the run its stamps show the 2 s stall as a gap, and stamps after it.
#[test]
fn a_stall_stops_and_continues_a_child_that_left_the_program_s_group() {
    let dir = TempDir::new("program-stall");
    let program = "setsid sh -c \"echo \\$\\$ > kept; \
        while :; do date +%s%N >> ticks; sleep 0.1; done\" & \
        while [ ! -s kept ]; do sleep 0.05; done; echo ready; exec sleep 600";
    let path = scenario(&dir.0, "stalled", program, "4s");
    let text = std::fs::read_to_string(&path).expect("the scenario");
    let faults = "faults:\n  - {at: 1s, for: 2s, kind: stall, node: server}\n";
    std::fs::write(&path, text.replace("invariants:", &format!("{faults}invariants:")))
        .expect("the scenario");
    let real = start(&dir.0, &["real", &path.display().to_string(), "--json", "r.json"]);
    let (code, out, err) = finish(real, None);
    let child = pids(&dir.0, &["kept"]);
    let left = left_running(&child);
    let ticks = std::fs::read_to_string(dir.0.join("ticks")).expect("the child's ticks");
    let (gap, ticked_after) = longest_gap(&ticks);
    assert!(gap >= Duration::from_millis(1500), "the stall did not stop the child: {gap:?}");
    assert!(ticked_after, "the stall's end did not continue the child");
    assert!(left.is_empty(), "outlived the run: {left:?}");
    assert_eq!(code, Some(0), "{out}{err}");
}
