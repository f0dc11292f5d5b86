//! What traces and reports say about a run: message ids that cannot collide, faults
//! named in full, internal errors kept apart from misbehaving peers, and a contract
//! that every event shape a checker matches on occurs in real traces.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use patchbay::design::{DesignSpec, NodeCtx, Registry, Role, SocketRole};
use patchbay::plan::{self, Replica};
use patchbay::run::{RunError, run_seed};
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
        plan::resolve_topology_source(&src, &registry, &Default::default())
    };
    let at_limit = resolve(limit);
    assert!(at_limit.diagnostics.iter().all(|d| d.code != "too-many-nodes"));
    // (Placement refuses that many hosts today, with its own `too-many-hosts`: a bound
    // on simulation cost that may move, where the id limit may not.)
    let codes: Vec<&str> = at_limit.diagnostics.iter().map(|d| d.code).collect();
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

/// The panicking design's one socket.
static PANICKING_SOCKETS: [SocketRole; 1] = [SocketRole {
    name: "rep",
    required: true,
    types: &[SocketType::Rep],
    doc: "where the request that makes it panic arrives",
}];

/// A worker with a bug: it panics on its first request.
fn panicking_worker() -> DesignSpec {
    DesignSpec {
        name: "panicking-worker",
        summary: "Panics on its first request, as a design with a bug does.",
        roles: &[Role::Replier],
        sockets: &PANICKING_SOCKETS,
        params: &[],
        workload: &[],
        broken: false,
        run: Some(|ctx: NodeCtx| {
            Box::pin(async move {
                if ctx.socket("rep").recv().await.is_ok() {
                    panic!("the worker's bug");
                }
            }) as Pin<Box<dyn Future<Output = ()>>>
        }),
    }
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
    let loaded = plan::load_scenario(&files.dir.join("panicky.yaml"), &registry);
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
