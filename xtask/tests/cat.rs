//! `cargo xtask cat` against real peers, in both directions: Debian's nanocat
//! (nanomsg 1.1.5), pynng (NNG 1.11), pyzmq (libzmq 4.3.5), and itself. Each cell
//! runs the built binary and the peer as processes, one binding and one dialling,
//! and asserts the bytes each receiving side printed; the matrix is in docs/cat.md
//! and each test prints its rows.
//!
//! Nothing here waits by sleeping: every process ends by itself (a `--count`, a
//! receive timeout) or is ended by the test once the receivers have printed, and
//! every one is killed by a Drop guard if the test fails first.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A running process, killed and reaped when dropped.
struct Proc {
    child: Child,
    stdout: BufReader<ChildStdout>,
    what: String,
}

impl Proc {
    fn start(program: &str, args: &[String]) -> Proc {
        let what = format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Proc { child, stdout, what }
    }

    /// The next line printed, without its newline; empty at end of output. Bounded:
    /// every process in these tests has a receive timeout of its own.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line.trim_end_matches('\n').to_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who is on one end of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Cat(&'static str),
    Nanocat,
    Pynng,
    Pyzmq,
}

impl Tool {
    fn name(self) -> String {
        match self {
            Tool::Cat(lib) => format!("cat --library {lib}"),
            Tool::Nanocat => "nanocat".to_owned(),
            Tool::Pynng => "pynng".to_owned(),
            Tool::Pyzmq => "pyzmq".to_owned(),
        }
    }

    /// How this tool prints a received message: `-Q` quoted for the cats, `GOT <hex>`
    /// for the Python peer.
    fn shows(self, bytes: &str) -> String {
        match self {
            Tool::Cat(_) | Tool::Nanocat => format!("\"{bytes}\""),
            Tool::Pynng | Tool::Pyzmq => {
                let hex: String = bytes.bytes().map(|b| format!("{b:02x}")).collect();
                format!("GOT {hex}")
            }
        }
    }

    /// Starts this tool as `role`, binding or dialling `url`. `data` is what it sends
    /// (for a Python SUB, its subscription).
    fn start(self, role: &str, bind: bool, url: &str, data: Option<&str>) -> Proc {
        let how = if bind { "--bind" } else { "--connect" };
        match self {
            Tool::Cat(lib) => {
                let mut args: Vec<String> =
                    ["cat", &format!("--{role}"), "--library", lib, how, url]
                        .map(str::to_owned)
                        .to_vec();
                args.extend(cat_script(role, data));
                Proc::start(env!("CARGO_BIN_EXE_xtask"), &args)
            }
            Tool::Nanocat => {
                let mut args: Vec<String> =
                    [format!("--{role}"), how.to_owned(), url.to_owned()].into();
                let data_flag = if role == "sub" { "--subscribe" } else { "-D" };
                args.extend(
                    data.map(|d| [data_flag.to_owned(), d.to_owned()]).into_iter().flatten(),
                );
                // Once is not enough for nanocat: it sends and exits at once, and
                // nanomsg 1.1.5 drops what is still queued at exit; a PUB's or BUS's
                // peer may join late, and a survey sent before it did is lost.
                //
                // A PAIR sends once: its send waits for the peer (up to the send
                // timeout), and then nanocat only receives. Sending again would break
                // the cell: once `cat --count 1` has its message and exits, nanocat's
                // next send reaches a closed socket, whose kernel answers with a reset,
                // and nanomsg 1.1.5 holds a received message in its connection until
                // the application takes it (`stcp.c`'s `inmsg`), so the reset drops
                // `cat`'s message if nanocat's thread had not yet taken it. Under load
                // it had not, at times, and nanocat printed nothing (docs/cat.md).
                //
                // A BUS and a SURVEYOR must repeat (a BUS drops what it sends before
                // the peer joins), but they also wait for `cat`'s answer, so they
                // repeat once a second: the same reset could drop `cat`'s answer if
                // the next send came 50 ms after it, and a SURVEYOR drops answers to
                // a survey it has replaced. A second is far longer than any answer
                // takes, even under load. PUSH and PUB wait for nothing and repeat
                // every 50 ms.
                let interval = match role {
                    "push" | "pub" => Some("0.05"),
                    "bus" | "surveyor" => Some("1"),
                    _ => None,
                };
                if let Some(interval) = interval {
                    args.extend(["-i".to_owned(), interval.to_owned()]);
                }
                // nanocat refuses the output options on a socket that only sends.
                if role != "pub" && role != "push" {
                    args.extend(["-Q", "--recv-timeout", "10"].map(str::to_owned));
                }
                // nanocat's sends block for ever by default: a PAIR whose peer has gone
                // would never exit, and the cell would never end (seen once in CI).
                // nanocat refuses the option on a socket that only receives.
                if role != "pull" && role != "sub" {
                    args.extend(["--send-timeout", "10"].map(str::to_owned));
                }
                Proc::start("nanocat", &args)
            }
            Tool::Pynng | Tool::Pyzmq => {
                let lib = if self == Tool::Pynng { "nng" } else { "zmq" };
                let script = root().join("xtask/tests/data/cat_peer.py");
                let how = if bind { "bind" } else { "dial" };
                let mut args = vec![script.display().to_string(), lib.into(), role.into()];
                args.extend([how.to_owned(), url.to_owned()]);
                args.extend(data.map(str::to_owned));
                Proc::start("python3", &args)
            }
        }
    }
}

/// `cat`'s options for a role in a cell: one message, bounded waits.
fn cat_script(role: &str, data: Option<&str>) -> Vec<String> {
    let mut args: Vec<&str> = Vec::new();
    match role {
        "sub" => args.extend(["--subscribe", data.unwrap_or("")]),
        _ => args.extend(data.map(|d| ["--data", d]).into_iter().flatten()),
    }
    args.extend(match role {
        "push" => &["--count", "1", "--send-timeout", "10"][..],
        // A PUB's subscribers may join late: publish until the test ends it.
        "pub" => &["--interval", "0.05", "--count", "200", "--send-timeout", "10"],
        "pair" | "bus" => {
            &["--interval", "0.05", "--count", "1", "--recv-timeout", "10", "--send-timeout", "10"]
        }
        "surveyor" => &["--interval", "0.05", "--count", "1"],
        _ => &["--count", "1", "--recv-timeout", "10"],
    });
    args.into_iter().map(str::to_owned).collect()
}

/// One exchange between two sides: the first plays `roles.0` and sends `sends.0`, the
/// second `roles.1` and `sends.1` (a SUB's is its subscription); `wants` is what each
/// should print first.
struct Cell {
    roles: (&'static str, &'static str),
    sends: (Option<&'static str>, Option<&'static str>),
    wants: (Option<&'static str>, Option<&'static str>),
}

impl Cell {
    fn pattern_a(&self) -> String {
        self.roles.0.to_uppercase()
    }

    fn pattern_b(&self) -> String {
        let sub = self.sends.1.filter(|_| self.roles.1 == "sub");
        format!(
            "→ {}{}",
            self.roles.1.to_uppercase(),
            sub.map(|p| format!(" {p:?}")).unwrap_or_default()
        )
    }
}

/// The patterns (libzmq has no survey or bus): each is played four ways, patchbay on
/// either side and either side binding, so both directions of every pair are covered.
fn cells(peer: Tool) -> Vec<Cell> {
    let zeromq = matches!(peer, Tool::Pyzmq | Tool::Cat("zeromq"));
    let cell = |roles, sends, wants| Cell { roles, sends, wants };
    let mut cells = vec![
        // REQ sends, REP answers: the peer REP replies "re:"+request, patchbay's echoes.
        cell(("req", "rep"), (Some("ping"), Some("re:ping")), (Some("re:ping"), Some("ping"))),
        cell(("push", "pull"), (Some("job"), None), (None, Some("job"))),
        cell(("pub", "sub"), (Some("a-news"), Some("a-")), (None, Some("a-news"))),
    ];
    cells.push(cell(("pair", "pair"), (Some("p1"), Some("p2")), (Some("p2"), Some("p1"))));
    if matches!(peer, Tool::Cat(_) | Tool::Pyzmq) {
        // nanocat and NNG have neither DEALER nor ROUTER.
        cells.push(cell(
            ("dealer", "router"),
            (Some("hello"), Some("back")),
            (Some("back"), Some("hello")),
        ));
    }
    if !zeromq {
        cells.extend([
            cell(("surveyor", "respondent"), (Some("q"), Some("re:q")), (Some("re:q"), Some("q"))),
            cell(("bus", "bus"), (Some("b1"), Some("b2")), (Some("b2"), Some("b1"))),
        ]);
    }
    cells
}

/// Plays `cell` with `a` on its first side and `b` on its second; `a_binds` says
/// which one binds. Returns what went wrong, if anything.
fn play(cell: &Cell, a: Tool, b: Tool, a_binds: bool) -> Result<(), String> {
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let side_a = (a, cell.roles.0, cell.sends.0, cell.wants.0);
    let side_b = (b, cell.roles.1, cell.sends.1, cell.wants.1);
    let (binder, dialler) = if a_binds { (side_a, side_b) } else { (side_b, side_a) };
    let mut procs = [(binder, true), (dialler, false)]
        .map(|((tool, role, data, want), bind)| (tool, tool.start(role, bind, &url, data), want));
    let mut problems = Vec::new();
    for (tool, proc, want) in &mut procs {
        let Some(want) = want else { continue };
        let got = proc.line();
        if got != tool.shows(want) {
            problems.push(format!("{} printed {got:?}, want {:?}", proc.what, tool.shows(want)));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// A turn of the tests that pick free ports and bind them later: taken one at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A port nothing listens on now, below Linux's ephemeral range (32768 and up). A
/// dialler that retries toward a port in that range, before its peer listens, may be
/// given that very port as its own and connect to itself (TCP's simultaneous open),
/// and a PAIR then answers itself (seen: nanocat's PAIR got its own "p1"). Ports are
/// tried from a base set by the process id, so test binaries running at once start
/// apart, and one taken is skipped.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let offset = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2_000;
        let port = base + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Plays every cell against `peer` both ways, prints the matrix rows, and fails
/// naming every cell that did not carry its bytes.
fn matrix(ours: Tool, peer: Tool) {
    // One matrix at a time: cells pick a free port and then bind it, and two matrices
    // in parallel threads could take the same port between the pick and the bind, so
    // one cell's peer would talk to another cell's (seen: nanocat's PAIR got pynng's
    // "p1").
    let _turn = one_at_a_time();
    let mut failed = Vec::new();
    let (us, them) = ("patchbay".to_owned(), peer.name());
    for cell in cells(peer) {
        for (patchbay_first, first_binds) in
            [(true, true), (true, false), (false, true), (false, false)]
        {
            let (a, b) = if patchbay_first { (ours, peer) } else { (peer, ours) };
            let (a_name, b_name) = if patchbay_first { (&us, &them) } else { (&them, &us) };
            let binds = if first_binds { a_name } else { b_name };
            let result = play(&cell, a, b, first_binds);
            let shown = result.as_ref().map_or_else(|e| format!("FAIL {e}"), |()| "ok".to_owned());
            let row = format!(
                "{} {} {} {}, {binds} binds",
                cell.pattern_a(),
                a_name,
                cell.pattern_b(),
                b_name
            );
            println!("{row:<72} {shown}");
            if let Err(e) = result {
                failed.push(format!("{row}: {e}"));
            }
        }
    }
    assert!(failed.is_empty(), "cells failed:\n{}", failed.join("\n"));
}

#[test]
fn cat_round_trips_with_nanocat() {
    matrix(Tool::Cat("nanomsg"), Tool::Nanocat);
}

#[test]
fn cat_round_trips_with_pynng() {
    matrix(Tool::Cat("nng"), Tool::Pynng);
}

#[test]
fn cat_round_trips_with_pyzmq() {
    matrix(Tool::Cat("zeromq"), Tool::Pyzmq);
}

#[test]
fn cat_round_trips_with_itself() {
    matrix(Tool::Cat("nng"), Tool::Cat("nng"));
    matrix(Tool::Cat("zeromq"), Tool::Cat("zeromq"));
}

/// Runs `xtask cat ARGS` to its end: exit code, stdout, stderr.
fn cat_run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("cat")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run xtask cat");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn cat_exits_3_when_nothing_arrives_within_the_receive_timeout() {
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let (code, stdout, stderr) = cat_run(&["--pull", "--bind", &url, "--recv-timeout", "0.2"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("no message arrived within the receive timeout"), "{stderr}");
}

#[test]
fn cat_exits_4_when_no_peer_takes_a_send_within_the_send_timeout() {
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let (code, _, stderr) =
        cat_run(&["--push", "--connect", &url, "--data", "x", "--send-timeout", "0.2"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("could not leave within the send timeout"), "{stderr}");
}

#[test]
fn cat_refuses_what_a_library_lacks_and_options_that_would_do_nothing() {
    let url = "tcp://127.0.0.1:5555";
    let refused = [
        (&["--bus", "--library", "zeromq", "--bind", url][..], "libzmq 4.3.5 has no BUS socket"),
        (&["--pull", "--bind", url, "--data", "x"], "--pull only receives"),
        (&["--push", "--bind", url], "needs a message to send"),
        (&["--pub", "--bind", url, "--data", "x", "--subscribe", "a"], "only a SUB subscribes"),
        (&["--rep", "--bind", url, "--interval", "1"], "sends only to answer"),
        (&["--pull", "--connect", "ipc:///tmp/x"], "TCP only"),
        (&["--pull"], "nothing to talk to"),
        (&["--req", "--rep", "--bind", url], "cannot be used with"),
    ];
    for (args, why) in refused {
        let (code, stdout, stderr) = cat_run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

#[test]
fn a_rep_without_data_echoes_each_request_and_prints_it_in_the_chosen_format() {
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let rep_args = ["cat", "--rep", "--bind", &url, "--count", "1", "--format", "hex"];
    let mut rep = Proc::start(env!("CARGO_BIN_EXE_xtask"), &rep_args.map(str::to_owned));
    let (code, stdout, stderr) =
        cat_run(&["--req", "--connect", &url, "--data", "hi\n", "--recv-timeout", "10"]);
    assert_eq!((code, stdout.as_str()), (Some(0), "\"hi\\n\"\n"), "{stderr}");
    assert_eq!(rep.line(), "\"\\x68\\x69\\x0a\"");
}

/// A body with every byte class the formats treat apart: printable, `"`, `\`, the
/// named escapes, a control byte and a byte above ASCII (not UTF-8).
const AWKWARD_BODY: &[u8] = b"a\"b\\\n\r\x01\xff";

/// The line a PULL (`program` with `pull_args`) printed for [`AWKWARD_BODY`], sent
/// by patchbay's PUSH.
fn printed_by(program: &str, pull_args: &[&str]) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let args: Vec<String> =
        pull_args.iter().copied().chain(["--bind", &url]).map(str::to_owned).collect();
    let mut pull = Proc::start(program, &args);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["cat", "--push", "--library", "nanomsg", "--connect", &url])
        .args(["--send-timeout", "10", "--data"])
        .arg(std::ffi::OsStr::from_bytes(AWKWARD_BODY))
        .output()
        .expect("run cat --push");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    pull.line()
}

#[test]
fn each_format_prints_byte_for_byte_what_nanocat_prints() {
    let xtask = env!("CARGO_BIN_EXE_xtask");
    for (ours, theirs) in [("quoted", "-Q"), ("ascii", "-A"), ("hex", "--hex")] {
        let cat_args = ["cat", "--pull", "--library", "nanomsg", "--count", "1", "--format", ours];
        let cat_printed = printed_by(xtask, &[&cat_args[..], &["--recv-timeout", "10"]].concat());
        let nanocat_printed = printed_by("nanocat", &["--pull", theirs, "--recv-timeout", "10"]);
        assert_eq!(cat_printed, nanocat_printed, "--format {ours} against nanocat {theirs}");
        // Each format shows all eight bytes: at least one character for each.
        assert!(cat_printed.len() >= AWKWARD_BODY.len(), "{cat_printed:?}");
    }
}

/// A topology of a REP echo worker and a PUB publishing `[news, payload]`, bound on
/// the two ports given, in a fresh folder; returns its scenario's path. The run is
/// long: the test ends it once `cat` has had its answers.
fn door_scenario(rep_port: u16, pub_port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patchbay-cat-door-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let topology = format!(
        "name: door\nlibrary: zeromq\nnodes:\n\
         \x20 - name: worker\n    design: echo-worker\n    sockets:\n\
         \x20     - {{name: rep, type: REP, bind: {rep_port}}}\n\
         \x20 - name: news\n    design: publisher\n    params: {{topics: news}}\n    sockets:\n\
         \x20     - {{name: pub, type: PUB, bind: {pub_port}}}\n"
    );
    let scenario = "name: door\ntopology: door.yaml\nduration: 60s\nliveness: 1s\n\
                    workload:\n  news: {publishes: 100000, publish_rate: 20/s}\n\
                    invariants: [no_duplicate_delivery]\nexpect: pass\n";
    std::fs::write(dir.join("door.yaml"), topology).expect("write the topology");
    std::fs::write(dir.join("door-scenario.yaml"), scenario).expect("write the scenario");
    dir.join("door-scenario.yaml")
}

/// Issue 13: outside tools talk to a running `real` topology on the ports it wrote.
/// `real --ports as-written` prints the endpoint table before its timetable starts;
/// once it has, `cat --req` gets its request echoed by the topology's REP and `cat
/// --sub` receives the topology's PUB's messages, topic frame and payload header.
#[test]
fn cat_talks_to_a_running_real_topology_on_its_written_ports() {
    // Free ports picked here, as the matrices pick theirs, in the same turns; the run
    // listens on them itself, as written.
    let _turn = one_at_a_time();
    let (rep_port, pub_port) = (free_port(), free_port());
    let scenario = door_scenario(rep_port, pub_port);
    let json = scenario.with_file_name("report.json");
    let args = ["real", &scenario.display().to_string(), "--ports", "as-written", "--json"]
        .map(str::to_owned)
        .into_iter()
        .chain([json.display().to_string()])
        .collect::<Vec<_>>();
    let mut real = Proc::start(env!("CARGO_BIN_EXE_xtask"), &args);
    // The table: a title, a header, one row per socket.
    let mut table = Vec::new();
    loop {
        let line = real.line();
        assert!(!line.is_empty(), "real ended before printing its endpoints: {table:?}");
        let title = line.starts_with("endpoints of door seed 1:");
        if title || !table.is_empty() {
            table.push(line);
        }
        if table.len() == 4 {
            break;
        }
    }
    let cols = |row: &str| row.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let (worker, news) = (cols(&table[2]), cols(&table[3]));
    assert_eq!(
        cols(&table[1])[..7],
        ["NODE", "REPLICA", "SOCKET", "TYPE", "LIBRARY", "HOW", "OUTSIDE"]
    );
    assert_eq!(
        worker[..7],
        ["worker", "0", "rep", "REP", "zeromq", "bind", &format!("tcp://127.0.0.1:{rep_port}")]
    );
    assert_eq!(
        news[..7],
        ["news", "0", "pub", "PUB", "zeromq", "bind", &format!("tcp://127.0.0.1:{pub_port}")]
    );
    // Behind the proxy, each socket is on a port of its own.
    assert!(worker[7].starts_with("tcp://127.0.0.1:") && worker[7] != worker[6], "{worker:?}");

    let rep_url = format!("tcp://127.0.0.1:{rep_port}");
    let (code, stdout, stderr) = cat_run(&[
        "--req",
        "--library",
        "zeromq",
        "--connect",
        &rep_url,
        "--data",
        "ping",
        "--count",
        "1",
        "--recv-timeout",
        "10",
        "--send-timeout",
        "10",
    ]);
    assert_eq!((code, stdout.as_str()), (Some(0), "\"ping\"\n"), "{stderr}");

    let pub_url = format!("tcp://127.0.0.1:{pub_port}");
    let (code, stdout, stderr) = cat_run(&[
        "--sub",
        "--library",
        "zeromq",
        "--connect",
        &pub_url,
        "--subscribe",
        "news",
        "--count",
        "1",
        "--recv-timeout",
        "10",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    // The topic frame, then patchbay's payload header (`PB1`, wire/payload.rs).
    assert!(stdout.starts_with("\"news\" \"PB1"), "{stdout:?}");
    drop(real);
    let _ = std::fs::remove_dir_all(scenario.parent().expect("a folder"));
}
