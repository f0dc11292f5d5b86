//! External programs (`process:` nodes) under `real`: the shipped pyzmq example ends
//! as its `expect` says, faults on the program show in the trace, no program outlives
//! a run or a failed one, and the resolver and the simulator say what is wrong.
//!
//! These run `python3` with pyzmq (installed by `cargo xtask test`); they never skip.

use std::path::Path;
use std::time::Duration;

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::{load_scenario, load_scenario_source};
use patchbay::run::real::{Ports, RealOptions, skip_reason};
use patchbay::run::{RunError, RunReport, run_real_seed, runnable};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{AppEvent, EventKind, Trace};

use crate::util::{TempDir, root};

fn load(path: &Path, text: &str) -> ScenarioPlan {
    let loaded =
        load_scenario_source(&SourceFile::new(path.to_path_buf(), text), &Registry::builtin());
    let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    loaded.plan.unwrap_or_else(|| panic!("does not resolve:\n{}", diags.join("\n")))
}

fn run(plan: &ScenarioPlan) -> RunReport {
    run_real_seed(plan, &Registry::builtin(), 1, RealOptions::default(), true)
}

/// The notes the run recorded about external programs, in order.
fn process_notes(trace: &Trace) -> Vec<String> {
    let notes = trace.events.iter().filter_map(|e| match &e.kind {
        EventKind::App(AppEvent::Note { text }) if text.starts_with("process ") => {
            Some(text.clone())
        }
        _ => None,
    });
    notes.collect()
}

/// The pids named by "process started" notes.
fn started_pids(notes: &[String]) -> Vec<u32> {
    let pid = |n: &String| n.split("(pid ").nth(1)?.split(',').next()?.parse().ok();
    notes.iter().filter_map(pid).collect()
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_pyzmq_lru_broker_loses_a_job_when_a_worker_crashes_as_expected() {
    let path = root().join("scenarios/external/lru-zmq-worker-crash.yaml");
    let plan = load_scenario(&path, &Registry::builtin()).plan.expect("the shipped file resolves");
    let report = run(&plan);
    assert_eq!(report.error, None, "it ran");
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Fail, "the crashed worker's job is never answered");
    assert!(report.as_expected, "{:?}", report.invariants);
    let notes = process_notes(report.trace.as_ref().expect("kept"));
    assert!(
        notes[0].starts_with("process started: `python3 lru_broker.py tcp://127.0.0.1:"),
        "{notes:?}"
    );
    assert_eq!(notes[1], "process ready");
    let out = report.process_output.iter().find(|p| p.ends_with("broker.0.0.out")).expect("kept");
    let text = std::fs::read_to_string(out).expect("readable");
    assert_eq!(text, "lru-broker ready\n", "its standard output, kept");
    let pids = started_pids(&notes);
    assert_eq!(pids.len(), 1);
    assert!(gone(pids[0]), "the broker (pid {}) outlived its run", pids[0]);
}

#[test]
fn a_stall_a_kill_and_a_crash_of_an_external_broker_show_in_its_trace() {
    let topology = root().join("topologies/external/lru-zmq.yaml");
    let text = format!(
        "name: broker-faults\ntopology: {}\nduration: 9s\nliveness: 3s\n\
         workload: {{client: {{requests: 5}}}}\n\
         faults:\n\
         - {{at: 500ms, for: 500ms, kind: stall, node: broker}}\n\
         - {{at: 1500ms, for: 500ms, kind: kill, node: broker}}\n\
         - {{at: 6s, for: 500ms, kind: crash, node: broker}}\n\
         invariants: [faults_fired]\nexpect: pass\n",
        topology.display()
    );
    let plan = load(&root().join("scenarios/external/broker-faults.yaml"), &text);
    let report = run(&plan);
    assert_eq!(report.error, None, "it ran");
    let notes = process_notes(report.trace.as_ref().expect("kept"));
    let kinds: Vec<&str> =
        notes.iter().map(|n| n.split([':', '(']).next().unwrap_or_default().trim()).collect();
    assert_eq!(
        kinds,
        [
            "process started",
            "process ready",
            "process stalled",
            "process continued",
            "process killed",
            "process started",
            "process ready",
            "process crashed",
            "process restarting",
            "process started",
            "process ready",
        ],
        "{notes:?}"
    );
    assert!(
        notes[5].ends_with("incarnation 1)") && notes[9].ends_with("incarnation 2)"),
        "{notes:?}"
    );
    let pids = started_pids(&notes);
    assert_eq!(pids.len(), 3, "{notes:?}");
    for pid in pids {
        assert!(gone(pid), "incarnation pid {pid} outlived its run");
    }
    let files: Vec<String> = report
        .process_output
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into())
        .collect();
    assert_eq!(
        files,
        [
            "broker.0.0.out",
            "broker.0.0.err",
            "broker.0.1.out",
            "broker.0.1.err",
            "broker.0.2.out",
            "broker.0.2.err"
        ]
    );
}

#[test]
fn a_program_that_never_gets_ready_fails_the_run_and_is_killed() {
    let dir = TempDir::new("never-ready");
    let pidfile = dir.path().join("pid");
    let topology = dir.path().join("never.topology.yaml");
    let body = format!(
        "name: never\nnodes:\n\
         - {{name: client, design: client, sockets: [{{name: req, type: REQ, connect: server.rep}}]}}\n\
         - name: server\n  process:\n    command: [sh, -c, 'echo $$ > {}; exec sleep 60', '{{rep}}']\n    ready: {{line: never, timeout: 1s}}\n  sockets: [{{name: rep, type: REP, bind: true}}]\n",
        pidfile.display()
    );
    std::fs::write(&topology, body).expect("written");
    let text = "topology: never.topology.yaml\nduration: 3s\nworkload: {client: {requests: 1}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    let plan = load(&dir.path().join("never.yaml"), text);
    let report = run(&plan);
    let Some(RunError::ProgramFailed { why, output }) = &report.error else {
        panic!("a program that never gets ready fails the run: {:?}", report.error);
    };
    assert_eq!(output.file_name().and_then(|n| n.to_str()), Some("server.0.0.out"), "{why}");
    assert!(why.contains("node `server.0` (incarnation 0): the program did not print a line containing `never` within 1s"), "{why}");
    let pid: u32 =
        std::fs::read_to_string(&pidfile).expect("it started").trim().parse().expect("a pid");
    assert!(gone(pid), "the program (pid {pid}) outlived the failed run");
}

#[test]
fn a_placeholder_naming_no_socket_is_a_located_diagnostic_listing_the_sockets() {
    let dir = TempDir::new("bad-placeholder");
    let topology = dir.path().join("t.yaml");
    let body = "name: t\nnodes:\n- name: server\n  process:\n    command: [prog, '{frontend}', '{rep.connect}']\n  sockets: [{name: rep, type: REP, bind: true}]\n";
    std::fs::write(&topology, body).expect("written");
    let loaded = patchbay::resolve::load_topology(&topology, &Registry::builtin());
    let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(loaded.plan.is_none());
    let all = diags.join("\n");
    assert!(
        all.contains("error[unknown-placeholder]: `{frontend}` names no socket of this node"),
        "{all}"
    );
    assert!(all.contains("t.yaml:5:21"), "located at the argument: {all}");
    assert!(all.contains("its sockets: rep"), "{all}");
    assert!(all.contains("`{rep.connect}`: socket `rep` never connects"), "{all}");
}

#[test]
fn the_simulator_refuses_an_external_program_and_names_the_real_command() {
    let path = root().join("scenarios/external/lru-zmq-worker-crash.yaml");
    let plan = load_scenario(&path, &Registry::builtin()).plan.expect("the shipped file resolves");
    let why = runnable(&plan, &Registry::builtin()).expect_err("real-only").to_string();
    assert!(why.contains("real-only: node `broker` runs an external program"), "{why}");
    assert!(why.contains("cargo xtask real") && why.contains("lru-zmq-worker-crash.yaml"), "{why}");
}

/// A scenario whose `worker` (of `workers` replicas) binds its REP on `port`, with a
/// client asking it once, written in `dir`.
fn written_port_plan(dir: &TempDir, port: u16, workers: u32) -> ScenarioPlan {
    let topology = dir.path().join("written.topology.yaml");
    let body = format!(
        "name: written\nnodes:\n\
         - {{name: client, design: client, sockets: [{{name: req, type: REQ, connect: worker.rep}}]}}\n\
         - {{name: worker, count: {workers}, design: echo-worker, sockets: [{{name: rep, type: REP, bind: {port}}}]}}\n"
    );
    std::fs::write(&topology, body).expect("written");
    let text = "topology: written.topology.yaml\nduration: 1s\nworkload: {client: {requests: 1}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    load(&dir.path().join("written.yaml"), text)
}

/// Issue 13: `--ports as-written` listens on the written port itself; a port another
/// program holds fails the run naming the socket and the port, with no fallback to
/// another port (outside programs would dial the wrong one).
#[test]
fn as_written_ports_refuse_a_taken_port_naming_the_socket_and_the_port() {
    let dir = TempDir::new("taken-port");
    // Held for the whole test: the port is taken, with no race.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = holder.local_addr().expect("bound").port();
    let plan = written_port_plan(&dir, port, 1);
    let opts = RealOptions { ports: Ports::AsWritten, ..RealOptions::default() };
    let report = run_real_seed(&plan, &Registry::builtin(), 1, opts, true);
    let Some(RunError::NotRunnable(why)) = &report.error else {
        panic!("a taken written port fails the run: {:?}", report.error);
    };
    let says = format!(
        "`--ports as-written`: `worker.rep` binds port {port}, and 127.0.0.1:{port} cannot be listened on (Address already in use"
    );
    assert!(why.starts_with(&says), "{why}");
    // Without the option the same file runs: its sockets and proxies take free ports.
    assert_eq!(run(&plan).error, None);
}

/// A written port in a group of several replicas would be needed once per replica:
/// `--ports as-written` refuses the scenario before it starts, saying why.
#[test]
fn as_written_ports_refuse_a_written_port_shared_by_several_replicas() {
    let dir = TempDir::new("shared-port");
    let plan = written_port_plan(&dir, 5555, 3);
    let opts = RealOptions { ports: Ports::AsWritten, ..RealOptions::default() };
    let why = skip_reason(&plan, &Registry::builtin(), opts).expect("refused");
    assert_eq!(
        why,
        "`--ports as-written`: `worker.rep` binds port 5555 in each of its 3 replicas, and 127.0.0.1 has port 5555 once; give `worker` one replica, or run without `--ports as-written`"
    );
    assert_eq!(skip_reason(&plan, &Registry::builtin(), RealOptions::default()), None);
}

/// Issue 13: an external program's output, kept per incarnation beside the report in
/// `<report>-files/<scenario>-seed<N>/`, is linked from the page by relative links
/// (and listed in the JSON), so the page and its folder move together.
#[test]
fn the_real_report_links_each_programs_output_kept_beside_it() {
    let dir = TempDir::new("output-links");
    let topology = "name: talker\nnodes:\n\
        - name: prog\n  process:\n    command: [sh, -c, 'echo prog ready on $0; echo to stderr >&2; exec sleep 60', '{pull}']\n    ready: {line: prog ready}\n  sockets: [{name: pull, type: PULL, bind: true}]\n\
        - {name: pusher, design: ventilator, sockets: [{name: push, type: PUSH, connect: prog.pull}]}\n";
    std::fs::write(dir.path().join("talker.topology.yaml"), topology).expect("written");
    let scenario = "name: talker\ntopology: talker.topology.yaml\nduration: 500ms\nliveness: 0s\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    let file = dir.path().join("talker.yaml");
    std::fs::write(&file, scenario).expect("written");
    let json = dir.path().join("r.json");
    let args =
        ["xtask", "real", &file.display().to_string(), "--json", &json.display().to_string()];
    let code = patchbay::cli::run(Registry::builtin(), "xtask", args);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let html = std::fs::read_to_string(dir.path().join("r.html")).expect("the page");
    for stream in ["out", "err"] {
        let (href, label) = (
            format!("r-files/talker-seed1/prog.0.0.{stream}"),
            format!("talker seed 1: prog.0.0.{stream}"),
        );
        let link = format!("<a href=\"{href}\">{label}</a>");
        assert!(html.contains(&link), "{link} is not on the page");
    }
    let kept = dir.path().join("r-files/talker-seed1");
    let out = std::fs::read_to_string(kept.join("prog.0.0.out")).expect("kept");
    assert!(out.starts_with("prog ready on tcp://127.0.0.1:"), "{out:?}");
    let err = std::fs::read_to_string(kept.join("prog.0.0.err")).expect("kept");
    assert_eq!(err, "to stderr\n");
    let text = std::fs::read_to_string(&json).expect("the JSON");
    assert!(text.contains("\"href\": \"r-files/talker-seed1/prog.0.0.out\""), "{text}");
}

/// Issue 13: the report's sequence diagram of each shipped external example shows the
/// external broker's traffic, decoded by the proxies' wire taps: its lane has the
/// clients' requests arriving on `frontend` and leaving on `backend`, with arrows from
/// its sends to the workers' arrivals.
#[test]
fn the_shipped_external_examples_draw_the_brokers_traffic_in_their_sequence_diagrams() {
    use patchbay::report::seqdiag::Mark;
    use patchbay::report::sweep::{Measurements, real_report};
    use patchbay::run::{Job, run_many_real};
    let registry = Registry::builtin();
    let plans: Vec<ScenarioPlan> = ["lru-zmq-worker-crash.yaml", "lru-nng-worker-kill.yaml"]
        .map(|f| {
            let path = root().join("scenarios/external").join(f);
            load_scenario(&path, &registry).plan.expect("the shipped file resolves")
        })
        .into();
    let jobs: Vec<Job<'_>> = plans.iter().map(|plan| Job { plan, seed: 1 }).collect();
    let measured = Measurements::default();
    let opts = RealOptions::default();
    let reports = run_many_real(&jobs, &registry, 2, opts, true, &|r: &mut RunReport| {
        let plan = plans.iter().find(|p| p.file == r.file).expect("one of ours");
        measured.add(plan, r.trace.as_ref().expect("kept"));
    });
    let report = real_report("test".into(), &plans, &registry, &reports, &measured, &[]);
    for section in &report.sections {
        let d = section.sequences.first().unwrap_or_else(|| panic!("{}: a diagram", section.name));
        let lane = d.lanes.iter().position(|l| l == "broker.0").expect("a broker lane") as u32;
        let on_broker = |mark: Mark, prefix: &str| {
            d.rows
                .iter()
                .filter(|r| r.lane == Some(lane) && r.mark == mark)
                .filter(|r| r.label.starts_with(prefix))
                .count()
        };
        let arrived = on_broker(Mark::Deliver, "frontend: arrive client.");
        let forwarded = on_broker(Mark::Send, "backend: send client.");
        assert!(
            arrived > 0 && forwarded > 0,
            "{}: {arrived} arrivals, {forwarded} sends",
            section.name
        );
        let from_broker = d.arrows.iter().filter(|a| {
            let row = &d.rows[a.from_row as usize];
            row.lane == Some(lane) && a.to_row.is_some()
        });
        assert!(from_broker.count() > 0, "{}: no arrow leaves the broker", section.name);
    }
}

/// A pynng `Req0` client (an external program) asking `requests` times of a patchbay
/// REP echo worker, which a fault may kill; the scenario judges `no_lost_replies`.
/// The client dials without blocking: patchbay's nodes start once it is ready, so
/// until then its proxy refuses it and NNG dials again.
fn pynng_client_plan(dir: &TempDir, requests: u32, faults: &str) -> ScenarioPlan {
    let client = "import sys, pynng\n\
        s = pynng.Req0()\n\
        s.dial(sys.argv[1], block=False)\n\
        print('client ready', flush=True)\n\
        for i in range(int(sys.argv[2])):\n    \
            s.send(b'job-%d' % i)\n    \
            print(s.recv().decode(), flush=True)\n\
        print('client done', flush=True)\n\
        import time; time.sleep(60)\n";
    std::fs::write(dir.path().join("client.py"), client).expect("written");
    let topology = format!(
        "name: pynng-req\nlibrary: nng\nnodes:\n\
         - name: client\n  process:\n    command: [python3, client.py, '{{req.connect}}', '{requests}']\n    ready: {{line: client ready}}\n  sockets: [{{name: req, type: REQ, connect: worker.rep}}]\n\
         - {{name: worker, design: echo-worker, sockets: [{{name: rep, type: REP, bind: true}}]}}\n"
    );
    std::fs::write(dir.path().join("pynng-req.topology.yaml"), topology).expect("written");
    let text = format!(
        "topology: pynng-req.topology.yaml\nduration: 3s\nliveness: 1s\n\
         workload: {{worker: {{service_time: 300ms}}}}\n{faults}invariants: [no_lost_replies]\nexpect: pass\n"
    );
    load(&dir.path().join("pynng-req.yaml"), &text)
}

/// The app events the wire trace derived at the external client, in order.
fn requester_events(trace: &Trace) -> Vec<&'static str> {
    let events = trace.events.iter().filter_map(|e| match &e.kind {
        EventKind::App(AppEvent::RequestIssued { .. }) => Some("issued"),
        EventKind::App(AppEvent::ReplyAccepted { .. }) => Some("accepted"),
        _ => None,
    });
    events.collect()
}

/// The pyzmq counterpart: a libzmq REQ client (an external program) round-robins its
/// requests over two patchbay REP echo workers on ZMTP, where no request id travels.
/// Each request is issued and the next message back accepted as its reply, no resend
/// is made up, and `resend_interval` says it cannot tell resends there. (The wire trace
/// once read the id the REP's rule makes up for each delimiter as the REQ's: the
/// second worker's first request looked like a timer resend of the first's, and no
/// reply was ever accepted, so a client that got every reply failed both checks.)
#[test]
fn an_external_pyzmq_req_over_two_workers_gets_every_reply_and_no_made_up_resend() {
    let dir = TempDir::new("pyzmq-req-answered");
    let client = "import sys, zmq\n\
        s = zmq.Context().socket(zmq.REQ)\n\
        s.setsockopt(zmq.LINGER, 0)\n\
        for endpoint in sys.argv[1].split(','):\n    s.connect(endpoint)\n\
        print('client ready', flush=True)\n\
        for i in range(6):\n    \
            s.send(b'job-%d' % i)\n    \
            print(s.recv().decode(), flush=True)\n\
        print('client done', flush=True)\n\
        import time; time.sleep(60)\n";
    std::fs::write(dir.path().join("client.py"), client).expect("written");
    let topology = "name: pyzmq-req\nlibrary: zeromq\nnodes:\n\
         - name: client\n  process:\n    command: [python3, client.py, '{req.connect}']\n    ready: {line: client ready}\n  sockets: [{name: req, type: REQ, connect: worker.rep}]\n\
         - {name: worker, count: 2, design: echo-worker, sockets: [{name: rep, type: REP, bind: true}]}\n";
    std::fs::write(dir.path().join("pyzmq-req.topology.yaml"), topology).expect("written");
    let text = "topology: pyzmq-req.topology.yaml\nduration: 2s\nliveness: 1s\n\
         invariants: [no_lost_replies, resend_interval]\nexpect: pass\n";
    let report = run(&load(&dir.path().join("pyzmq-req.yaml"), text));
    assert_eq!(report.error, None, "it ran");
    let trace = report.trace.as_ref().expect("kept");
    assert_eq!(requester_events(trace), ["issued", "accepted"].repeat(6));
    let resends = trace.events.iter().filter(|e| matches!(e.kind, EventKind::Resend { .. }));
    assert_eq!(resends.count(), 0, "a libzmq REQ never resends");
    let outcome = |name| report.invariants.iter().find(|o| o.name == name).expect("checked");
    let lost = outcome("no_lost_replies");
    assert_eq!(lost.verdict, Verdict::Pass, "{lost:?}");
    // With no request id on the wire a resend looks like a new request: unknown, and
    // said why, not a pass nobody could have checked.
    let resend = outcome("resend_interval");
    assert_eq!(resend.verdict, Verdict::Unknown, "{resend:?}");
    assert!(
        resend
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("6 requests went out with no request id")),
        "{resend:?}"
    );
}

/// A pyzmq REP worker (an external program) that sends each request back unchanged,
/// its payload header still saying "request": the built-in client takes a REQ's
/// next message as the reply, finds it is not one, and says so in its note, naming
/// the kind byte a reply needs; `no_lost_replies` fails on the request. (The client
/// once waited on for another message, which a REQ cannot receive, and its note said
/// only "recv failed: State".)
#[test]
fn a_worker_program_echoing_requests_unchanged_is_told_what_a_reply_must_carry() {
    let dir = TempDir::new("pyzmq-echo-unchanged");
    let worker = "import sys, zmq\n\
        s = zmq.Context().socket(zmq.REP)\n\
        s.setsockopt(zmq.LINGER, 0)\n\
        s.bind(sys.argv[1])\n\
        print('worker ready', flush=True)\n\
        while True:\n    s.send(s.recv())\n";
    std::fs::write(dir.path().join("worker.py"), worker).expect("written");
    let topology = "name: pyzmq-echo\nlibrary: zeromq\nnodes:\n\
         - {name: client, design: client, sockets: [{name: req, type: REQ, connect: worker.rep}]}\n\
         - name: worker\n  process:\n    command: [python3, worker.py, '{rep}']\n    ready: {line: worker ready}\n  sockets: [{name: rep, type: REP, bind: true}]\n";
    std::fs::write(dir.path().join("pyzmq-echo.topology.yaml"), topology).expect("written");
    let text = "topology: pyzmq-echo.topology.yaml\nduration: 2s\nliveness: 1s\n\
         workload: {client: {requests: 3}}\ninvariants: [no_lost_replies]\n\
         expect: {violated: [no_lost_replies]}\n";
    let report = run(&load(&dir.path().join("pyzmq-echo.yaml"), text));
    assert_eq!(report.error, None, "it ran");
    assert!(report.as_expected, "{:?}", report.invariants);
    let trace = report.trace.as_ref().expect("kept");
    let gave_up: Vec<&str> = (trace.events.iter())
        .filter_map(|e| match &e.kind {
            EventKind::App(AppEvent::Note { text }) if text.starts_with("client gave up") => {
                Some(text.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(gave_up.len(), 1, "the first request ends the client: {gave_up:?}");
    assert!(
        gave_up[0].contains("its reply was a Request payload of id")
            && gave_up[0].contains("with kind 2"),
        "{gave_up:?}"
    );
}

/// Issue 13: `no_lost_replies` judges an external REQ. The proxy's wire trace turns
/// a pynng client's SP requests and the replies that reach it into `RequestIssued`
/// and `ReplyAccepted` at the client: five asked, five answered, a pass.
#[test]
fn no_lost_replies_passes_an_external_pynng_req_whose_every_request_is_answered() {
    let dir = TempDir::new("pynng-req-answered");
    let report = run(&pynng_client_plan(&dir, 5, ""));
    assert_eq!(report.error, None, "it ran");
    let trace = report.trace.as_ref().expect("kept");
    assert_eq!(requester_events(trace), ["issued", "accepted"].repeat(5));
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Pass, "{:?}", lost.violations);
}

/// The checker shown to fail at an external REQ: the REP is killed for good (until
/// the run's end) while it holds the client's request (its service takes 300 ms, and
/// the client asks without pause), so that request is never answered. (A REP that
/// came back would get it again: NNG's REQ resends at once on a new pipe.) The kill
/// can still fall in the instant between a reply and the next request, when nothing
/// is in flight; a longer service makes that rarer (at 100 ms a loaded run hit it).
#[test]
fn no_lost_replies_fails_an_external_pynng_req_whose_rep_was_killed() {
    let dir = TempDir::new("pynng-req-killed");
    let faults = "faults:\n  - {at: 1500ms, until: end, kind: kill, node: worker.0}\n";
    let report = run(&pynng_client_plan(&dir, 1000, faults));
    assert_eq!(report.error, None, "it ran");
    let trace = report.trace.as_ref().expect("kept");
    let events = requester_events(trace);
    assert_eq!(events.last(), Some(&"issued"), "the last request got no reply: {events:?}");
    assert!(events.contains(&"accepted"), "the client was answered before the kill: {events:?}");
    let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("checked");
    assert_eq!(lost.verdict, Verdict::Fail, "{:?}", lost.note);
    let why = &lost.violations[0].text;
    assert!(why.contains("issued at") && why.contains("by client.0 never got a reply"), "{why}");
}

/// A pynng REP echo (an external program) whose REP binds `port` as written, and a
/// patchbay client asking it once, on the other side of a partition from 2 s to 3 s.
fn door_plan(dir: &TempDir, port: u16) -> ScenarioPlan {
    let server = "import sys, pynng\n\
        s = pynng.Rep0()\n\
        s.listen(sys.argv[1])\n\
        print('server ready', flush=True)\n\
        while True:\n    s.send(s.recv())\n";
    std::fs::write(dir.path().join("server.py"), server).expect("written");
    let topology = format!(
        "name: door\nlibrary: nng\nnodes:\n\
         - name: server\n  process:\n    command: [python3, server.py, '{{rep}}']\n    ready: {{line: server ready}}\n  sockets: [{{name: rep, type: REP, bind: {port}}}]\n\
         - {{name: client, design: client, sockets: [{{name: req, type: REQ, connect: server.rep}}]}}\n"
    );
    std::fs::write(dir.path().join("door.topology.yaml"), topology).expect("written");
    let text = "topology: door.topology.yaml\nduration: 4s\nliveness: 1s\n\
                workload: {client: {requests: 1}}\n\
                faults:\n  - {at: 2s, for: 1s, kind: partition, between: [server, client]}\n\
                invariants: [faults_fired]\nexpect: pass\n";
    load(&dir.path().join("door.yaml"), text)
}

/// Issue 13: a connection an outside program makes through a door (`--ports
/// as-written`) is wire-traced at the external program it reaches, its peer named as
/// no replica, and a partition that names that program's node cuts it: of the
/// outside client's requests, some arrive before the partition, none while it lasts
/// and some after it heals (in trace order: the proxy releases nothing while the
/// partition holds, and the wire trace records an arrival as the proxy releases it).
/// The outside client is a pynng REQ asking every 20 ms from before the run starts
/// (it dials without blocking, so NNG dials again until the door opens) until the
/// test kills it.
#[test]
fn a_door_connection_is_wire_traced_and_cut_by_a_partition_naming_its_node() {
    let dir = TempDir::new("door-partition");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let plan = door_plan(&dir, port);
    let outside = "import sys, time, pynng\n\
        s = pynng.Req0(resend_time=60000)\n\
        s.dial(sys.argv[1], block=False)\n\
        while True:\n    s.send(b'outside')\n    s.recv()\n    time.sleep(0.02)\n";
    let client = std::process::Command::new("python3")
        .args(["-c", outside, &format!("tcp://127.0.0.1:{port}")])
        .spawn()
        .expect("python3 with pynng");
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _client = Killed(client);
    let opts = RealOptions { ports: Ports::AsWritten, ..RealOptions::default() };
    let report = run_real_seed(&plan, &Registry::builtin(), 1, opts, true);
    assert_eq!(report.error, None, "it ran");
    let trace = report.trace.as_ref().expect("kept");
    let server = plan.topology.groups.iter().find(|g| g.name == "server").expect("a node").id;
    let at_server = |e: &&patchbay::trace::TraceEvent| e.node.is_some_and(|n| n.group == server);
    // The door's connections: at the server, with no peer named; the client's is named.
    let door_pipes: Vec<u32> = (trace.events.iter().filter(at_server))
        .filter_map(|e| match e.kind {
            EventKind::Connect { pipe, peer: None } => Some(pipe),
            _ => None,
        })
        .collect();
    assert!(!door_pipes.is_empty(), "the door's connection is traced at the server");
    let named =
        trace.events.iter().filter(at_server).any(
            |e| matches!(e.kind, EventKind::Connect { peer: Some(p), .. } if p.group != server),
        );
    assert!(named, "the patchbay client's connection names its peer");
    let position = |want: fn(&EventKind) -> bool| {
        trace.events.iter().position(|e| want(&e.kind)).expect("in the trace")
    };
    let begins = position(|k| matches!(k, EventKind::FaultBegin { fault: 0, .. }));
    let ends = position(|k| matches!(k, EventKind::FaultEnd { fault: 0, .. }));
    let arrivals: Vec<usize> = (trace.events.iter().enumerate())
        .filter(|(_, e)| at_server(e))
        .filter_map(|(i, e)| match e.kind {
            EventKind::Deliver { pipe, .. } if door_pipes.contains(&pipe) => Some(i),
            _ => None,
        })
        .collect();
    let before = arrivals.iter().filter(|&&i| i < begins).count();
    let during = arrivals.iter().filter(|&&i| begins < i && i < ends).count();
    let after = arrivals.iter().filter(|&&i| i > ends).count();
    assert!(before > 0, "the outside client was answered before the partition: {arrivals:?}");
    assert_eq!(during, 0, "nothing reached the server from outside during the partition");
    assert!(after > 0, "the outside client's requests flow again once it heals");
}

/// A pynng `Req0` (an external program) with a 300 ms resend time and NNG's resend
/// tick at 50 ms, asking once of a patchbay REP echo worker whose service takes a
/// second, so the request waits long enough for a run of timer resends. `declared`
/// is what the topology says of the client's tick: the checker judges its resends
/// against that, from what the proxy read off the wire alone.
fn pynng_resend_plan(dir: &TempDir, declared: &str) -> ScenarioPlan {
    // It sends once its pipe is up, so NNG arms its timer when the request leaves.
    let client = "import sys, time, threading, pynng, pynng.options as o\n\
        s = pynng.Req0(resend_time=300)\n\
        o._setopt_ms(s, b'req:resend-tick', 50)\n\
        up = threading.Event()\n\
        s.add_post_pipe_connect_cb(lambda pipe: up.set())\n\
        s.dial(sys.argv[1], block=False)\n\
        print('client ready', flush=True)\n\
        up.wait()\n\
        s.send(b'job-0')\n\
        print(s.recv().decode(), flush=True)\n\
        time.sleep(60)\n";
    std::fs::write(dir.path().join("client.py"), client).expect("written");
    let topology = format!(
        "name: pynng-resend\nlibrary: nng\nnodes:\n\
         - name: client\n  process:\n    command: [python3, client.py, '{{req.connect}}']\n    ready: {{line: client ready}}\n  sockets:\n    - {{name: req, type: REQ, connect: worker.rep, options: {{req_resend_ivl: 300ms, req_resend_tick: {declared}}}}}\n\
         - {{name: worker, design: echo-worker, sockets: [{{name: rep, type: REP, bind: true}}]}}\n"
    );
    std::fs::write(dir.path().join("pynng-resend.topology.yaml"), topology).expect("written");
    // The tolerance is for the proxy seeing each resend a scheduling delay after the
    // program's timer fired (gaps of 47 to 55 ms were seen at a 50 ms tick): read off
    // the wire, it applies on both sides of a resend's due time.
    let text = "topology: pynng-resend.topology.yaml\nduration: 1500ms\nliveness: 1s\n\
                workload: {worker: {service_time: 1s}}\n\
                invariants: [{resend_interval: {tolerance: 10ms}}]\nexpect: pass\n";
    load(&dir.path().join("pynng-resend.yaml"), text)
}

/// The timer resends the trace shows at `node`'s replicas, in order.
fn timer_resends_at(plan: &ScenarioPlan, trace: &Trace, node: &str) -> Vec<Duration> {
    let group = plan.topology.groups.iter().find(|g| g.name == node).expect("a node").id;
    let resends = trace.events.iter().filter(|e| e.node.is_some_and(|n| n.group == group));
    let resends =
        resends.filter(|e| matches!(e.kind, EventKind::Resend { timer: true, .. })).map(|e| e.at);
    resends.collect()
}

/// Issue 13: an external pynng REQ under `real`, judged by `resend_interval` from the
/// proxy's trace alone, shows NNG 1.11's resends: the first after the 300 ms resend
/// time, then one on every 50 ms tick. Declared with its tick, that is what the
/// library does and the check passes; declared as an NNG 1.6 REQ (`req_resend_tick:
/// off`) every resend after the first is early and the check fails, saying so.
#[test]
fn resend_interval_reads_a_pynng_reqs_per_tick_resends_off_the_wire() {
    for (declared, verdict) in [("50ms", Verdict::Pass), ("off", Verdict::Fail)] {
        let dir = TempDir::new("pynng-resend");
        let plan = pynng_resend_plan(&dir, declared);
        let report = run(&plan);
        assert_eq!(report.error, None, "it ran");
        let trace = report.trace.as_ref().expect("kept");
        let resends = timer_resends_at(&plan, trace, "client");
        // Waiting about a second: the first resend at 300 ms, then every 50 ms.
        assert!(resends.len() >= 8, "per-tick resends, read off the wire: {resends:?}");
        let outcome = report.invariants.iter().find(|o| o.name == "resend_interval");
        let outcome = outcome.expect("checked");
        let note = outcome.note.as_deref().unwrap_or_default();
        assert!(note.starts_with("resends on every tick after the first (NNG ≥1.7)"), "{note}");
        assert_eq!(outcome.verdict, verdict, "declared {declared}: {outcome:?}");
        if verdict == Verdict::Fail {
            assert!(outcome.violations.len() >= resends.len() - 2, "{outcome:?}");
        }
    }
}

/// The same exchange with patchbay's own REQ, an NNG 1.6 one (`req_resend_tick:
/// off`), under `real` with every link decoded by the proxies: `resend_interval`
/// reports one resend per interval, and the proxy read each of those resends off the
/// wire as the REQ recorded it, one per 300 ms. (patchbay's own sockets are judged
/// from their own events, which time the timer itself; the wire's copy lags them by
/// the proxy's delay.)
#[test]
fn resend_interval_reads_a_patchbay_reqs_one_resend_per_interval_off_the_wire() {
    use patchbay::invariant::CheckInput;
    use patchbay::plan::{InvariantPlan, ParamValue};
    use patchbay::run::real::run_wire_traced;
    use patchbay::trace::Recorder;

    let dir = TempDir::new("patchbay-resend");
    let topology = "name: patchbay-resend\nlibrary: nng\nnodes:\n\
         - {name: client, design: client, sockets: [{name: req, type: REQ, connect: worker.rep, options: {req_resend_ivl: 300ms, req_resend_tick: off}}]}\n\
         - {name: worker, design: echo-worker, sockets: [{name: rep, type: REP, bind: true}]}\n";
    std::fs::write(dir.path().join("patchbay-resend.topology.yaml"), topology).expect("written");
    let text = "topology: patchbay-resend.topology.yaml\nduration: 1500ms\nliveness: 1s\n\
                workload: {client: {requests: 1}, worker: {service_time: 1s}}\n\
                invariants: [resend_interval]\nexpect: pass\n";
    let plan = load(&dir.path().join("patchbay-resend.yaml"), text);
    let wire = Recorder::default();
    let own = run_wire_traced(&plan, &Registry::builtin(), 1, wire.clone()).expect("it ran");
    let events = wire.take();
    let ended_at = events.last().map_or(Duration::ZERO, |e| e.at);
    let read = Trace { events, ended_at, ..Trace::default() };
    let resends = timer_resends_at(&plan, &read, "client");
    let recorded = timer_resends_at(&plan, &own, "client");
    assert_eq!(resends.len(), recorded.len(), "the wire shows the REQ's own: {resends:?}");
    let mut lag = resends.iter().zip(&recorded).map(|(wire, own)| wire.saturating_sub(*own));
    assert!(lag.all(|l| l < Duration::from_millis(20)), "{resends:?}, {recorded:?}");
    assert!((2..=4).contains(&resends.len()), "about a second at 300 ms: {resends:?}");
    let mut gaps = resends.windows(2).map(|w| w[1] - w[0]);
    assert!(gaps.all(|g| g >= Duration::from_millis(290)), "{resends:?}");
    // A timer on a loaded machine may fire a little late: 20 ms of slack.
    let params = [("tolerance".to_owned(), ParamValue::Duration(Duration::from_millis(20)))];
    let invariant = InvariantPlan { name: "resend_interval", params: params.into() };
    let input = CheckInput { trace: &own, plan: &plan, params: &invariant.params };
    let outcome = Registry::builtin().check(&invariant, &input);
    let note = outcome.note.as_deref().unwrap_or_default();
    assert!(note.starts_with("one resend per interval (nanomsg, NNG ≤1.6)"), "{note}");
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
}

/// A scenario whose `prog` node runs `script` (written to `prog.sh` in `dir`) under
/// `sh`, from `cwd` when one is given, ready as `ready` says, with a patchbay
/// ventilator pushing to its PULL.
fn script_plan(dir: &TempDir, script: &str, ready: &str, cwd: Option<&str>) -> ScenarioPlan {
    std::fs::write(dir.path().join("prog.sh"), script).expect("written");
    let program = match cwd {
        Some(cwd) => format!("\n    cwd: {cwd}"),
        None => String::new(),
    };
    let topology = format!(
        "name: script\nnodes:\n\
         - name: prog\n  process:{program}\n    command: [sh, prog.sh, '{{pull}}']\n    ready: {ready}\n  sockets: [{{name: pull, type: PULL, bind: true}}]\n\
         - {{name: pusher, design: ventilator, sockets: [{{name: push, type: PUSH, connect: prog.pull}}]}}\n"
    );
    std::fs::write(dir.path().join("script.topology.yaml"), topology).expect("written");
    let text = "topology: script.topology.yaml\nduration: 500ms\nliveness: 0s\n\
                invariants: [no_duplicate_delivery]\nexpect: pass\n";
    // Written too, for the tests that run it through the command line.
    std::fs::write(dir.path().join("script.yaml"), text).expect("written");
    load(&dir.path().join("script.yaml"), text)
}

/// The output file of `prog`'s first incarnation.
fn prog_output(report: &RunReport) -> Vec<u8> {
    let out = report.process_output.iter().find(|p| p.ends_with("prog.0.0.out")).expect("kept");
    std::fs::read(out).expect("readable")
}

/// F4 and F5 of the real-run probe: the copy of a program's standard output read it
/// as UTF-8 lines, so one byte that is not UTF-8 stopped it (the output lost, the
/// ready line never seen, the program dead of EPIPE at its next write), and a line
/// without end was held whole in memory. Bytes are copied as they come: the ready
/// line after a `\xff` and 3 MB without a newline is seen, and the file holds every
/// byte.
#[test]
fn a_program_s_output_is_copied_byte_for_byte_and_its_ready_line_found_after_any_bytes() {
    let dir = TempDir::new("binary-output");
    let script =
        "printf '\\377\\n'\nhead -c 3000000 /dev/zero\nprintf '\\nprog ready\\n'\nexec sleep 60\n";
    let report = run(&script_plan(&dir, script, "{line: prog ready}", None));
    assert_eq!(report.error, None, "it was ready and ran");
    let want = [&b"\xff\n"[..], &vec![0; 3_000_000], b"\nprog ready\n"].concat();
    let out = prog_output(&report);
    assert!(out == want, "{} bytes kept of {}", out.len(), want.len());
}

/// L1 of the real-run probe: a program that printed its ready line and exited was
/// said to have "exited before it was ready", pointing at its `.err` alone. Here the
/// ready line reaches patchbay only after it has seen the program exit (a child
/// prints it once the program has been reaped), the order that misled the message.
#[test]
fn a_program_that_printed_its_ready_line_and_exited_is_said_to_have_done_so() {
    let dir = TempDir::new("ready-then-exit");
    let script = "(while kill -0 $$ 2>/dev/null; do :; done; echo prog ready) &\nexit 3\n";
    let report = run(&script_plan(&dir, script, "{line: prog ready}", None));
    let Some(RunError::ProgramFailed { why, output }) = &report.error else {
        panic!("a program that exits fails the run: {:?}", report.error);
    };
    let says = "node `prog.0` (incarnation 0): the program printed `prog ready` and then exited (exit status: 3), before the run began";
    assert!(why.starts_with(says), "{why}");
    assert_eq!(output.file_name().and_then(|n| n.to_str()), Some("prog.0.0.out"), "{why}");
}

/// L4 of the real-run probe: a missing `cwd:` and a missing program both said "No
/// such file or directory"; each now names what is missing.
#[test]
fn a_program_that_cannot_start_is_told_apart_from_a_missing_working_folder() {
    let dir = TempDir::new("cannot-start");
    let error = |plan: &ScenarioPlan| match run(plan).error {
        Some(RunError::NotRunnable(why)) => why,
        other => panic!("it could not run: {other:?}"),
    };
    let no_folder = dir.path().join("no-such-folder");
    let why = error(&script_plan(&dir, "", "{line: up}", Some(&no_folder.display().to_string())));
    let says = format!("its working folder `{}` (`cwd:`) does not exist", no_folder.display());
    assert!(why.contains(&says), "{why}");
    let topology = "name: script\nnodes:\n\
        - name: prog\n  process:\n    command: [no-such-program-of-patchbay, '{pull}']\n  sockets: [{name: pull, type: PULL, bind: true}]\n\
        - {name: pusher, design: ventilator, sockets: [{name: push, type: PUSH, connect: prog.pull}]}\n";
    std::fs::write(dir.path().join("script.topology.yaml"), topology).expect("written");
    let text = "topology: script.topology.yaml\nduration: 500ms\nliveness: 0s\n\
                invariants: [no_duplicate_delivery]\nexpect: pass\n";
    let why = error(&load(&dir.path().join("script.yaml"), text));
    assert!(why.contains("there is no program `no-such-program-of-patchbay` on PATH"), "{why}");
}

/// A new-user audit: a program that exited halfway showed only as "never got a
/// reply" in the verdicts, its exit a note that `--trace` alone printed. The run
/// now says it: the node, when, its exit status and its output file.
#[test]
fn a_program_that_exits_while_the_run_goes_on_is_told_with_its_status_and_output() {
    let dir = TempDir::new("exits-halfway");
    let script = "echo prog ready\nsleep 0.2\nexit 1\n";
    let report = run(&script_plan(&dir, script, "{line: prog ready}", None));
    assert_eq!(report.error, None, "it was ready, and the run went on without it");
    let [trouble] = &report.program_troubles[..] else {
        panic!("one exit: {:?}", report.program_troubles);
    };
    assert_eq!(trouble.node, "prog.0");
    assert!(
        trouble.what.starts_with("exited on its own (exit status: 1) while the run went on"),
        "{}",
        trouble.what
    );
    let output = trouble.output.as_ref().expect("its output file");
    assert!(output.ends_with("prog.0.0.out"), "{}", output.display());
    assert!(report.process_output.contains(output), "{}", output.display());
    let ended = Duration::from_millis(report.sim_ms + 1);
    assert!(trouble.at > Duration::ZERO && trouble.at <= ended, "{:?}", trouble.at);
}

/// The program troubles `real` prints are saved in its report too, each row's
/// `program_troubles` naming the output file where the report kept it (they were
/// printed only, and the JSON had no trace of them).
#[test]
fn the_real_report_saves_each_programs_trouble_with_its_kept_output() {
    let dir = TempDir::new("troubles-saved");
    let plan =
        script_plan(&dir, "echo prog ready\nsleep 0.2\nexit 1\n", "{line: prog ready}", None);
    let json = dir.path().join("r.json");
    let args =
        ["xtask", "real", &plan.file.display().to_string(), "--json", &json.display().to_string()];
    let code = patchbay::cli::run(Registry::builtin(), "xtask", args);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "the run went on without the program");
    let text = std::fs::read_to_string(&json).expect("the JSON");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let run = &report["runs"][0];
    let troubles = run["program_troubles"].as_array().unwrap_or_else(|| panic!("{run}"));
    let [trouble] = &troubles[..] else { panic!("one exit: {troubles:?}") };
    assert_eq!(trouble["node"], "prog.0");
    let what = trouble["what"].as_str().expect("text");
    assert!(what.starts_with("exited on its own (exit status: 1) while the run went on"), "{what}");
    let at = trouble["at_ms"].as_u64().expect("a time");
    assert!(at > 0 && at <= run["sim_ms"].as_u64().expect("its length") + 1, "{at}");
    let kept = dir
        .path()
        .join(format!("r-files/{}-seed1/prog.0.0.out", run["scenario"].as_str().expect("a name")));
    assert_eq!(trouble["output"].as_str(), Some(kept.display().to_string().as_str()), "{trouble}");
    assert!(kept.is_file(), "{}", kept.display());
}

/// A program answering HTTP where the topology's `library:` says `library`, and a
/// client that sends one request: the run's report.
fn http_program_run(dir: &TempDir, library: &str) -> RunReport {
    let server = "import socket, sys\n\
        s = socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind(('127.0.0.1', int(sys.argv[1])))\n\
        s.listen(16)\n\
        print('prog ready', flush=True)\n\
        held = []\n\
        while True:\n\
        \x20   c, _ = s.accept()\n\
        \x20   c.sendall(b'HTTP/1.1 200 OK\\r\\n\\r\\n' + b'garbage' * 10)\n\
        \x20   held.append(c)\n";
    std::fs::write(dir.path().join("http.py"), server).expect("written");
    let topology = format!(
        "name: http\nlibrary: {library}\nnodes:\n\
         - {{name: client, design: client, sockets: [{{name: req, type: REQ, connect: prog.rep}}]}}\n\
         - name: prog\n  process:\n    command: [python3, http.py, '{{rep.port}}']\n    ready: {{line: prog ready}}\n  sockets: [{{name: rep, type: REP, bind: true}}]\n"
    );
    std::fs::write(dir.path().join("http.topology.yaml"), topology).expect("written");
    let text = "topology: http.topology.yaml\nduration: 1s\nliveness: 0s\n\
                workload: {client: {requests: 1}}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    let report = run(&load(&dir.path().join("http.yaml"), text));
    assert_eq!(report.error, None, "it ran");
    report
}

/// The connections a run's patchbay sockets closed for a protocol error.
fn protocol_closes(report: &RunReport) -> usize {
    let events = report.trace.as_ref().expect("kept").events.iter();
    events.filter(|e| matches!(e.kind, EventKind::ProtocolError { .. })).count()
}

/// A new-user audit: a program answering with HTTP showed only as "never got a
/// reply"; that patchbay's client closed each connection for a protocol error was in
/// `--trace` alone. The run now says it once per program: the first close, by which
/// socket, why, and how many there were. NNG dials again after each close.
#[test]
fn a_program_whose_connections_are_closed_for_a_protocol_error_is_told_once() {
    let dir = TempDir::new("protocol-error");
    let report = http_program_run(&dir, "nng");
    let [trouble] = &report.program_troubles[..] else {
        panic!("one line for the program: {:?}", report.program_troubles);
    };
    assert_eq!(trouble.node, "prog.0");
    let says = "broke the protocol, so `client.0.req` closed its connection with it (";
    assert!(trouble.what.starts_with(says), "{}", trouble.what);
    let output = trouble.output.as_ref().expect("its output file");
    assert!(output.ends_with("prog.0.0.out"), "{}", output.display());
    // The client reconnects and is closed again: each close is counted, not told.
    let closes = protocol_closes(&report);
    assert!(closes > 1, "the client tried once only: {closes}");
    let counted = format!("; {closes} connections with it were closed so in all;");
    assert!(trouble.what.contains(&counted), "{counted} in {}", trouble.what);
}

/// libzmq's session ends a dialled pipe for good on a protocol error (a greeting
/// that is not ZMTP's here), so a ZeroMQ client closes the program's connection once
/// and never dials it again, and the line says so with no count.
#[test]
fn a_zeromq_client_closes_a_program_breaking_zmtp_once_and_never_dials_it_again() {
    let dir = TempDir::new("protocol-error-zmq");
    let report = http_program_run(&dir, "zeromq");
    let [trouble] = &report.program_troubles[..] else {
        panic!("one line for the program: {:?}", report.program_troubles);
    };
    let says = "broke the protocol, so `client.0.req` closed its connection with it (bad ZMTP signature 48 54 54 50";
    assert!(trouble.what.starts_with(says), "{}", trouble.what);
    assert!(!trouble.what.contains("connections with it were closed"), "{}", trouble.what);
    assert_eq!(protocol_closes(&report), 1);
}

/// A new-user audit: under `--trace` a real run printed `1.751s - connect failed:
/// fault proxy connect: Connection refused` before `1.623s worker.0 process ready`.
/// The proxies counted time from their own start, before the programs were ready,
/// where the rest of the run counts from the run's start; and the line named no
/// link. A program that takes half a second to bind, killed and restarted, has its
/// clients' connects refused while it starts again: each refusal is in time order
/// among its neighbours and names the link.
#[test]
fn the_proxy_s_refused_connects_are_in_time_order_and_name_their_link() {
    let dir = TempDir::new("refused-in-order");
    let worker = "import sys, time, zmq\n\
        time.sleep(0.5)\n\
        s = zmq.Context().socket(zmq.REP)\n\
        s.bind(sys.argv[1])\n\
        print('worker ready', flush=True)\n\
        while True:\n\
        \x20   body = s.recv()\n\
        \x20   s.send(body[:3] + bytes([2]) + body[4:])\n";
    std::fs::write(dir.path().join("slow.py"), worker).expect("written");
    let topology = "name: slow\nlibrary: zeromq\nnodes:\n\
        - {name: client, design: client, sockets: [{name: req, type: REQ, connect: worker.rep}]}\n\
        - name: worker\n  process:\n    command: [python3, slow.py, '{rep}']\n    ready: {line: worker ready}\n  sockets: [{name: rep, type: REP, bind: true}]\n";
    std::fs::write(dir.path().join("slow.topology.yaml"), topology).expect("written");
    let text = "topology: slow.topology.yaml\nduration: 2s\nliveness: 0s\n\
                workload: {client: {requests: 100, rate: 50/s}}\n\
                faults:\n  - {at: 300ms, for: 200ms, kind: kill, node: worker}\n\
                invariants: [faults_fired]\nexpect: pass\n";
    let report = run(&load(&dir.path().join("slow.yaml"), text));
    assert_eq!(report.error, None, "it ran");
    let events = &report.trace.as_ref().expect("kept").events;
    let refused: Vec<usize> = (0..events.len())
        .filter(|&i| match &events[i].kind {
            EventKind::ConnectFailed { reason, .. } => reason.starts_with("fault proxy connect"),
            _ => false,
        })
        .collect();
    assert!(!refused.is_empty(), "no connect was refused while the worker started again");
    for i in refused {
        let EventKind::ConnectFailed { reason, .. } = &events[i].kind else { unreachable!() };
        let says = "fault proxy connect from client.0.req to worker.0.rep at 127.0.0.1:";
        assert!(reason.starts_with(says), "{reason}");
        let (before, at) = (events[i.saturating_sub(1)].at, events[i].at);
        let after = events.get(i + 1).map_or(at, |e| e.at);
        assert!(before <= at && at <= after, "{before:?}, then {reason} at {at:?}, then {after:?}");
    }
}
