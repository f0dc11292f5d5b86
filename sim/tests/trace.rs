//! What traces and reports say about a run: message ids that cannot collide, faults
//! named in full, internal errors kept apart from misbehaving peers, and a contract
//! that every event shape a checker matches on occurs in real traces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use patchbay::design::{Design, NodeCtx, Role};
use patchbay::plan::{self, Replica};
use patchbay::registry::Registry;
use patchbay::resolve;
use patchbay::run::{Job, RunError, run_many, run_seed};
use patchbay::socket::SocketType;
use patchbay::spec::SourceFile;
use patchbay::trace::EventKind;

/// A topology of `nodes` one-socket nodes, one per line from line 3 on.
fn topology_of(nodes: usize) -> String {
    let mut text = String::from("name: wide\nnodes:\n");
    for i in 0..nodes {
        text.push_str(&format!(
            "  - {{name: n{i}, design: bus-node, sockets: [{{name: bus, type: BUS, bind: true}}]}}\n"
        ));
    }
    text
}

/// Regression (issue 11): message ids hold the node index in 12 bits, and a topology
/// of more nodes resolved, so ids of node 4096 collided with node 0's.
#[test]
fn a_topology_whose_node_indexes_overflow_message_ids_is_refused_where_it_overflows() {
    let registry = Registry::builtin();
    let limit = patchbay::trace::MAX_GROUPS as usize;
    let resolve = |nodes: usize| {
        let src = SourceFile::new("wide.yaml", topology_of(nodes));
        resolve::resolve_topology_source(&src, &registry, &Default::default())
    };
    let at_limit = resolve(limit);
    assert!(at_limit.diagnostics.iter().all(|d| d.code != "too-many-nodes"));
    // (Placement refuses that many hosts today, with its own `too-many-hosts`: a bound
    // on simulation cost that may move, where the id limit may not.)
    let codes: Vec<&str> = at_limit.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["too-many-hosts"]);

    let over = resolve(limit + 1);
    assert!(over.plan.is_none());
    let refused: Vec<_> = over.diagnostics.iter().filter(|d| d.code == "too-many-nodes").collect();
    assert_eq!(refused.len(), 1, "{:?}", over.diagnostics);
    let d = refused[0];
    assert_eq!(
        d.message,
        format!("a topology may have at most {limit} nodes, this one has {}", limit + 1)
    );
    // The first node past the limit, `nodes[4096]`, is on line 3 + 4096.
    assert_eq!(d.location.map(|l| l.line), Some(3 + limit));
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("12 bits")));
}

/// A worker with a bug: it panics on its first request.
fn panicking_worker() -> Design {
    Design::new("panicking-worker")
        .summary("Panics on its first request, as a design with a bug does.")
        .role(Role::Replier)
        .socket("rep", &[SocketType::Rep], "where the request that makes it panic arrives")
        .run(|ctx: NodeCtx| async move {
            if ctx.socket("rep").recv().await.is_ok() {
                panic!("the worker's bug");
            }
        })
}

/// A scenario and its topology in a temporary directory of their own, removed on drop.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn write(test: &str, files: &[(&str, &str)]) -> Files {
        let dir =
            std::env::temp_dir().join(format!("patchbay-trace-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("write a test file");
        }
        Files { dir }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Regression (issue 11): a panic inside patchbay was recorded as a `ProtocolError`
/// (or, in a design, vanished with the replica's task), so a patchbay bug read as a
/// misbehaving peer or a lost reply.
#[test]
fn a_panic_in_a_design_is_an_internal_error_event_and_fails_the_run_as_internal() {
    let topology = "name: panicky\nnodes:\n  - name: client\n    design: client\n    sockets:\n      - {name: req, type: REQ, connect: worker.rep}\n  - name: worker\n    design: panicking-worker\n    sockets:\n      - {name: rep, type: REP, bind: 5555}\n";
    let scenario = "name: panicky\ntopology: panicky.topology.yaml\nduration: 2s\nliveness: 1s\nworkload:\n  client:\n    requests: 1\ninvariants:\n  - no_lost_replies\nexpect: pass\n";
    let files =
        Files::write("panic", &[("panicky.topology.yaml", topology), ("panicky.yaml", scenario)]);
    let mut registry = Registry::builtin();
    registry.register(panicking_worker());
    let loaded = resolve::load_scenario(&files.dir.join("panicky.yaml"), &registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };

    let report = run_seed(&plan, &registry, 1, true);
    let trace = report.trace.as_ref().expect("kept");
    let internal: Vec<_> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InternalError { reason } => Some((e.node, reason.as_str())),
            _ => None,
        })
        .collect();
    let worker = Replica { group: plan.topology.groups[1].id, index: 0 };
    assert_eq!(internal, [(Some(worker), "design `panicking-worker` panicked: the worker's bug")]);
    assert!(
        !trace.events.iter().any(|e| matches!(e.kind, EventKind::ProtocolError { .. })),
        "no peer misbehaved"
    );
    match &report.error {
        Some(RunError::Internal(why)) => {
            assert!(
                why.starts_with(
                    "design `panicking-worker` panicked: the worker's bug (at worker.0, "
                ),
                "{why}"
            )
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
    assert!(!report.as_expected);
}

/// The event shapes each checker matches on (read from its `match`es): a shape that no
/// shipped scenario's trace shows is a branch that runs only on hand-built traces.
const CONTRACT: [(&str, &[&str]); 14] = [
    ("no_lost_replies", &["App::RequestIssued", "App::ReplyAccepted"]),
    ("no_duplicate_delivery", &["Receive{id}"]),
    (
        "resend_interval",
        &[
            "Send",
            "Enqueue",
            "Deliver",
            "Receive",
            "Cancel",
            "Connect",
            "Disconnect",
            "Resend{timer}",
            "Resend{no timer}",
            "FaultBegin",
            "FaultEnd",
        ],
    ),
    ("faults_fired", &["FaultBegin{touched}", "FaultEnd"]),
    (
        "subscription_delivery",
        &[
            "App::Published",
            "Send",
            "Receive{id}",
            "Connect",
            "Disconnect",
            "Subscription{own}",
            "FaultBegin",
        ],
    ),
    ("hwm_bound", &["Enqueue", "Deliver", "Drop{Hwm}"]),
    (
        "pipeline_conservation",
        &[
            "App::TaskIssued",
            "App::WorkDone",
            "Connect{peer}",
            "Send",
            "Enqueue",
            "Deliver",
            "Receive",
        ],
    ),
    ("per_pipe_order", &["Connect{peer}", "Deliver"]),
    ("fair_queuing", &["Deliver", "Receive{id}", "Drop", "FaultBegin"]),
    ("multipart_atomicity", &["App::PartsReceived"]),
    ("survey_deadline", &["Send", "Enqueue", "Deliver", "Receive", "SurveyExpired"]),
    ("aggregate_complete", &["App::ChunkSent", "App::ChunkAggregated", "App::JobFinished"]),
    ("fanout_correct", &["App::CometLogin", "App::CometLogout", "App::CometRouted", "Receive{id}"]),
    ("liveness", &["App::RequestIssued", "App::ReplyAccepted", "Send", "Receive{id}"]),
];

/// The shapes an event shows: its kind, and the refinements checkers branch on.
fn shapes(kind: &EventKind) -> Vec<String> {
    let name = format!("{kind:?}");
    let base = name.split([' ', '(']).next().unwrap_or_default().to_owned();
    let mut all = vec![base];
    match kind {
        EventKind::Receive { msg } if msg.id.is_some() => all.push("Receive{id}".into()),
        EventKind::Resend { timer: true, .. } => all.push("Resend{timer}".into()),
        EventKind::Resend { timer: false, .. } => all.push("Resend{no timer}".into()),
        EventKind::Subscription { pipe: None, .. } => all.push("Subscription{own}".into()),
        EventKind::Connect { peer: Some(_), .. } => all.push("Connect{peer}".into()),
        EventKind::Drop { reason, .. } => all.push(format!("Drop{{{reason:?}}}")),
        EventKind::FaultBegin { touched, .. } if *touched > 0 => {
            all.push("FaultBegin{touched}".into());
        }
        EventKind::App(app) => {
            let app = format!("{app:?}");
            all.push(format!("App::{}", app.split([' ', '(']).next().unwrap_or_default()));
        }
        _ => {}
    }
    all
}

/// Shapes a checker matches on that no shipped scenario checking it shows yet: those
/// branches run only on hand-built traces until a scenario exercises them. The test
/// fails when this list is wrong either way, so a scenario that covers one must take
/// it off, and a new gap must be written down here.
const UNCOVERED: [&str; 4] = [
    // No shipped design sends a new request while one is outstanding.
    "resend_interval: no trace shows `Cancel`",
    // The publish-subscribe scenarios cut no subscriber's connection.
    "subscription_delivery: no trace shows `Disconnect`",
    // `streamer`, the one scenario checking fair queuing, has no faults and no drops.
    "fair_queuing: no trace shows `Drop`",
    "fair_queuing: no trace shows `FaultBegin`",
];

/// Scenarios with more replicas than this (the comet router's thousands of users)
/// would take minutes in a debug build; `tests/comet.rs` runs those designs smaller.
const CONTRACT_REPLICAS_MAX: u64 = 1_000;

/// Regression (issue 11): `Connect { peer }` was always `None`, so the branches of
/// `pipeline_conservation` and `per_pipe_order` on `Some(peer)` ran only on traces
/// built by hand. Every shipped scenario small enough runs once (its first seed), and
/// every shape each checker matches on must occur in the trace of a scenario that
/// checks it.
#[test]
fn every_event_shape_a_checker_matches_on_occurs_in_a_shipped_scenario_that_checks_it() {
    let registry = Registry::builtin();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plans: Vec<_> = patchbay::files::shipped_files(&root)
        .expect("the shipped folders are readable")
        .into_iter()
        .filter(|path| path.starts_with(root.join("scenarios")))
        .filter_map(|path| resolve::load_scenario(&path, &registry).plan)
        .filter(|p| patchbay::run::runnable(p, &registry).is_ok())
        .filter(|p| p.topology.replica_count() <= CONTRACT_REPLICAS_MAX)
        .collect();
    assert!(plans.len() >= 20, "only {} shipped scenarios ran", plans.len());
    let jobs: Vec<Job> = plans.iter().map(|plan| Job { plan, seed: plan.seeds[0] }).collect();
    let reports = run_many(&jobs, &registry, 2, true, &|_| {});

    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (plan, report) in plans.iter().zip(&reports) {
        let trace = report.trace.as_ref().expect("kept");
        let shown: BTreeSet<String> = trace.events.iter().flat_map(|e| shapes(&e.kind)).collect();
        for inv in &plan.invariants {
            seen.entry(inv.name).or_default().extend(shown.iter().cloned());
        }
    }
    let declared: Vec<&str> = CONTRACT.iter().map(|(name, _)| *name).collect();
    let registry = Registry::builtin();
    let known: Vec<&str> = registry.invariants().map(|s| s.name()).collect();
    assert_eq!(declared, known, "every checker declares the shapes it matches on");
    let mut missing = Vec::new();
    for (checker, wanted) in CONTRACT {
        let Some(shown) = seen.get(checker) else {
            missing.push(format!("{checker}: no shipped scenario that ran checks it"));
            continue;
        };
        for shape in wanted {
            if !shown.contains(*shape) {
                missing.push(format!("{checker}: no trace shows `{shape}`"));
            }
        }
    }
    assert_eq!(missing, UNCOVERED, "checker branches no shipped trace reaches");
}

/// Regression (issue 11): faults a swarm drew showed as `FaultBegin { fault: 2 }` and
/// "fault #2", with no kind, target or time, in the trace, the JSON and the page.
#[test]
fn a_fault_drawn_by_a_swarm_is_named_in_full_in_the_trace_the_json_and_the_page() {
    let registry = Registry::builtin();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/queue-swarm.yaml");
    let loaded = resolve::load_scenario(&path, &registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    assert!(plan.faults.is_empty(), "queue-swarm writes no faults: every fault is drawn");
    let report = run_seed(&plan, &registry, plan.seeds[0], true);
    let trace = report.trace.as_ref().expect("kept");

    // The trace: every fault it begins is named, kind, target and times, as drawn.
    let drawn = &trace.faults;
    assert!(!drawn.is_empty(), "the swarm draws at least one fault");
    let groups: Vec<&str> = plan.topology.groups.iter().map(|g| g.name.as_str()).collect();
    for (i, f) in drawn.iter().enumerate() {
        assert!(f.drawn);
        assert!(f.text.starts_with(&format!("fault #{i} ({} ", f.fault.kind.name())), "{}", f.text);
        assert!(f.text.ends_with(", drawn by the swarm)"), "{}", f.text);
        assert!(groups.iter().any(|g| f.text.contains(g)), "a target is named: {}", f.text);
        let at_ms = f.fault.at.as_millis() as u64;
        let from = patchbay::spec::format_duration(std::time::Duration::from_millis(at_ms));
        assert!(f.text.contains(&format!(", {from} to ")), "its start: {}", f.text);
    }
    let begun: Vec<u32> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::FaultBegin { fault, .. } => Some(fault),
            _ => None,
        })
        .collect();
    assert!(!begun.is_empty() && begun.iter().all(|&i| (i as usize) < drawn.len()));

    // The JSON: each run row lists its faults in full.
    let json = patchbay::run::json::to_json(std::slice::from_ref(&report));
    let rows = json["runs"][0]["faults"].as_array().expect("a faults array");
    let texts: Vec<&str> = rows.iter().filter_map(|f| f["text"].as_str()).collect();
    let expected: Vec<&str> = drawn.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(texts, expected);
    assert!(rows.iter().all(|f| f["drawn"] == true && f["kind"].is_string()));

    // The page: a sequence diagram around the first fault names it on its band and row,
    // even drawn against the scenario's own plan, which lists no faults.
    let first = trace.events.iter().find(|e| matches!(e.kind, EventKind::FaultBegin { .. }));
    let first = first.expect("a fault began");
    let EventKind::FaultBegin { fault, .. } = first.kind else { unreachable!() };
    let v = patchbay::invariant::Violation::new(first.at, None, "around the fault");
    let d = patchbay::report::seqdiag::build(&plan, trace, "x", &v, 1, "repro".into());
    let name = &drawn[fault as usize].text;
    assert!(d.faults.iter().any(|b| &b.label == name), "{:?}", d.faults);
    assert!(d.rows.iter().any(|r| r.label == format!("{name} begins")));
}

/// A REQ client through a QUEUE device to two REP workers: connections in both
/// directions, on every node, accepted and dialled.
const QUEUE_SCENARIO: &str = "name: peers\ntopology: ../topologies/queue.yaml\nduration: 1s\nliveness: 2s\nworkload:\n  client:\n    requests: 3\ninvariants:\n  - no_lost_replies\nexpect: pass\n";

/// [`QUEUE_SCENARIO`], resolved as if it were a shipped scenario.
fn queue_plan(registry: &Registry) -> plan::ScenarioPlan {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/peers.yaml");
    let loaded = resolve::load_scenario_source(&SourceFile::new(path, QUEUE_SCENARIO), registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    plan
}

/// Every `Connect` of a trace names its peer, which is a replica of a group the
/// topology wires the connecting socket to. Returns how many connects it saw.
fn assert_every_connect_names_a_wired_peer(
    plan: &plan::ScenarioPlan,
    trace: &patchbay::trace::Trace,
) -> usize {
    let mut seen = 0;
    for e in &trace.events {
        let EventKind::Connect { peer, .. } = e.kind else { continue };
        let (node, socket) = (e.node.expect("a node"), e.socket.expect("a socket"));
        let peer =
            peer.unwrap_or_else(|| panic!("a connect at {node:?} socket {socket} names no peer"));
        let wired = plan.topology.connections.iter().any(|c| {
            let from = (c.from_group, c.from_socket);
            let to = (c.to.group, c.to.socket);
            (from == (node.group, usize::from(socket)) && to.0 == peer.group)
                || (to == (node.group, usize::from(socket)) && from.0 == peer.group)
        });
        assert!(wired, "{node:?} socket {socket} connected to {peer:?}, which it is not wired to");
        seen += 1;
    }
    seen
}

/// Regression (issue 11): `Connect { peer }` was always `None` on both backends.
#[test]
fn every_connect_names_its_peer_in_the_simulator_and_on_the_real_network() {
    let registry = Registry::builtin();
    let plan = queue_plan(&registry);
    // Three clients to the device's frontend, two workers to its backend: five pipes,
    // each with a `Connect` at both ends.
    let ends: u64 = 2 * plan.topology.connections.iter().map(|c| c.pipes).sum::<u64>();
    assert_eq!(ends, 10);

    let sim = run_seed(&plan, &registry, 1, true);
    let seen = assert_every_connect_names_a_wired_peer(&plan, sim.trace.as_ref().expect("kept"));
    assert!(seen as u64 >= ends, "{seen} connects in the simulator");

    let opts = patchbay::run::real::RealOptions::default();
    let real = patchbay::run::run_real_seed(&plan, &registry, 1, opts, true);
    assert_eq!(real.error, None);
    let seen = assert_every_connect_names_a_wired_peer(&plan, real.trace.as_ref().expect("kept"));
    assert!(seen as u64 >= ends, "{seen} connects on the real network");
}

/// A program outside the topology (a door's connection, whose `Connect` names no
/// peer) gets a lane of its own in a failure's diagram: what arrives on its
/// connection comes from that lane, and what is queued on it goes there. A connection
/// that names its peer is drawn as before, and without a door there is no such lane.
#[test]
fn a_door_s_connection_is_drawn_from_and_to_an_outside_lane() {
    use patchbay::report::seqdiag::{self, Mark, OUTSIDE_LANE};
    use patchbay::trace::{MsgInfo, Trace, TraceEvent};
    use std::time::Duration;
    let registry = Registry::builtin();
    let plan = queue_plan(&registry);
    let replica = |group: &str| Replica {
        group: plan.topology.group_by_name(group).expect(group).id,
        index: 0,
    };
    let (worker, client) = (replica("worker"), replica("client"));
    let msg = |id: Option<u64>| MsgInfo { id, request_id: None, len: 8 };
    let at = |ms: u64, node: Replica, kind: EventKind| TraceEvent {
        at: Duration::from_millis(ms),
        node: Some(node),
        socket: Some(0),
        kind,
    };
    // Pipe 7 came in through a door when `door` is true; pipe 8 is the client's.
    let trace = |door: bool| Trace {
        events: vec![
            at(1, worker, EventKind::Connect { pipe: 7, peer: (!door).then_some(client) }),
            at(1, worker, EventKind::Connect { pipe: 8, peer: Some(client) }),
            at(2, worker, EventKind::Deliver { pipe: 7, depth: 1, hwm: 0, msg: msg(None) }),
            at(3, worker, EventKind::Send { msg: msg(Some(41)) }),
            at(3, worker, EventKind::Enqueue { pipe: 7, depth: 1, hwm: 0, msg: msg(Some(41)) }),
            at(4, worker, EventKind::Deliver { pipe: 8, depth: 1, hwm: 0, msg: msg(None) }),
        ],
        ..Trace::default()
    };
    let v = patchbay::invariant::Violation::new(Duration::from_millis(2), Some(worker), "x");

    let d = seqdiag::build(&plan, &trace(true), "x", &v, 1, "repro".into());
    let outside = d.lanes.iter().position(|l| l == OUTSIDE_LANE).expect("an outside lane") as u32;
    let row_of = |mark: Mark, ms: u64| {
        d.rows.iter().position(|r| r.mark == mark && r.at_us == ms * 1000).expect("drawn") as u32
    };
    let (arrival, send, other) =
        (row_of(Mark::Deliver, 2), row_of(Mark::Send, 3), row_of(Mark::Deliver, 4));
    let from_outside: Vec<u32> =
        d.arrows.iter().filter(|a| a.from_lane == Some(outside)).map(|a| a.from_row).collect();
    assert_eq!(from_outside, [arrival], "only the door's arrival comes from outside");
    let to_outside: Vec<(u32, Option<u32>)> = d
        .arrows
        .iter()
        .filter(|a| a.to_lane == Some(outside))
        .map(|a| (a.from_row, a.to_row))
        .collect();
    assert_eq!(to_outside, [(send, Some(send))], "the send queued on the door goes outside");
    assert!(
        d.arrows.iter().all(|a| a.from_row != other),
        "the client's arrival has no outside arrow"
    );

    let named = seqdiag::build(&plan, &trace(false), "x", &v, 1, "repro".into());
    assert!(!named.lanes.iter().any(|l| l == OUTSIDE_LANE), "{:?}", named.lanes);
    assert!(named.arrows.iter().all(|a| a.from_lane.is_none() && a.to_lane.is_none()));
    let open: Vec<&seqdiag::Arrow> = named.arrows.iter().filter(|a| a.to_row.is_none()).collect();
    assert_eq!(open.len(), 1, "without a door, the send is not seen to arrive");
}
