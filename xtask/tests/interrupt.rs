//! Ctrl-C during `cargo xtask real` (issue 13): the command exits 130, says what it
//! stopped, and no external program it started outlives it, nor a child the program
//! started itself (each program runs in a process group of its own, killed whole).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::{ended_within, read_until};

/// `pid` as the kernel numbers it.
fn pid_of(pid: u32) -> i32 {
    i32::try_from(pid).expect("a pid")
}

/// A program that starts a child of its own, writes both pids to the file named by
/// its first argument, says it is ready and then waits for ever; and a scenario
/// running it as a `process:` node beside a patchbay client, for a minute.
fn scenario(dir: &Path) -> PathBuf {
    let program = "import os, subprocess, sys, time\n\
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n\
        open(sys.argv[1], 'w').write('%d %d' % (os.getpid(), child.pid))\n\
        print('ready', flush=True)\n\
        time.sleep(600)\n";
    std::fs::write(dir.join("server.py"), program).expect("write the program");
    let pids = dir.join("pids");
    let topology = format!(
        "name: held\nlibrary: nng\nnodes:\n\
         \x20 - name: server\n    process:\n      command: [python3, server.py, '{}']\n      ready: {{line: ready}}\n    sockets:\n\
         \x20     - {{name: rep, type: REP, bind: true}}\n\
         \x20 - name: client\n    design: client\n    sockets:\n\
         \x20     - {{name: req, type: REQ, connect: server.rep}}\n",
        pids.display()
    );
    let scenario = "name: held\ntopology: held.yaml\nduration: 60s\nliveness: 1s\n\
                    workload: {client: {requests: 1}}\n\
                    invariants: [no_duplicate_delivery]\nexpect: pass\n";
    std::fs::write(dir.join("held.yaml"), topology).expect("write the topology");
    std::fs::write(dir.join("held-scenario.yaml"), scenario).expect("write the scenario");
    dir.join("held-scenario.yaml")
}

#[test]
fn ctrl_c_during_a_real_run_leaves_no_external_program_or_its_child_running() {
    let dir = std::env::temp_dir().join(format!("patchbay-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let json = dir.join("report.json");
    let mut real = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["real", &scenario(&dir).display().to_string(), "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xtask real");
    // The endpoint table is printed once every program is ready, so its pids are
    // written by then.
    let (_stdout, _) = read_until(&mut real, "endpoints of held seed 1:");
    let pids = std::fs::read_to_string(dir.join("pids")).expect("the program wrote its pids");
    let pids: Vec<u32> = pids.split_whitespace().map(|p| p.parse().expect("a pid")).collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    let zero = Duration::ZERO;
    assert!(
        !pids.iter().any(|&p| ended_within(pid_of(p), zero)),
        "the program and its child run: {pids:?}"
    );

    let status = Command::new("kill").args(["-INT", &real.id().to_string()]).status();
    assert!(status.expect("run kill").success(), "SIGINT sent");
    // A guard against a command that ignores the interrupt, not a wait for it.
    let stderr = real.stderr.take().expect("piped");
    let (done, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        let _ = done.send((real.wait().map(|s| s.code()), text));
    });
    let (code, stderr) = exited.recv_timeout(Duration::from_secs(60)).expect("real exited");
    assert_eq!(code.expect("waited"), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: killed 1 external program(s)"), "{stderr}");
    let left: Vec<u32> =
        pids.into_iter().filter(|&p| !ended_within(pid_of(p), Duration::from_secs(10))).collect();
    assert!(left.is_empty(), "still running after the interrupt: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
