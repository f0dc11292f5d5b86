//! The public extension API end to end: a user writes a design in Rust, registers
//! it, names it in YAML, and runs a scenario over it in the simulator.
//!
//! The design is a `counting-worker`: a REP that answers every request with the
//! request's id and a running count, starting from its `start` parameter. Its
//! topology resolves against a registry that has it and fails with `unknown-design`
//! against the built-in one; a scenario over it runs with `no_lost_replies` passing,
//! and the counts the worker noted show that its parameter and its behaviour both
//! came from the user's code.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use patchbay::design::{DesignSpec, NodeCtx, ParamKind, ParamSpec, Role, SocketRole};
use patchbay::invariant::Verdict;
use patchbay::plan::ParamValue;
use patchbay::registry::Registry;
use patchbay::resolve::{load_scenario, load_topology};
use patchbay::run::run_seed;
use patchbay::socket::{Msg, SocketType};
use patchbay::trace::{AppEvent, EventKind};
use patchbay::wire::payload::{Payload, PayloadKind};

/// The counting worker's one socket.
static SOCKETS: [SocketRole; 1] = [SocketRole {
    name: "rep",
    required: true,
    types: &[SocketType::Rep],
    doc: "where requests arrive",
}];

/// The counting worker's one parameter.
static PARAMS: [ParamSpec; 1] = [ParamSpec {
    name: "start",
    kind: ParamKind::Count,
    default: Some("0"),
    doc: "the count before the first request",
}];

/// The user's design, as they would declare it.
fn counting_worker() -> DesignSpec {
    DesignSpec {
        name: "counting-worker",
        summary: "Answers each request on a REP socket with its id and a running count.",
        roles: &[Role::Replier],
        sockets: &SOCKETS,
        params: &PARAMS,
        workload: &[],
        broken: false,
        run: Some(run_counting_worker),
    }
}

/// The user's behaviour: count each request with a patchbay payload, note the count,
/// and reply with the request's id and the count as the payload's extra bytes.
fn run_counting_worker(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let rep = ctx.socket("rep");
        // Resolution filled in the default if the topology gave none.
        let mut count = match ctx.params.get("start") {
            Some(ParamValue::Count(start)) => *start,
            other => panic!("resolution guarantees a count for `start`, got {other:?}"),
        };
        while let Ok(request) = rep.recv().await {
            let Some(payload) = Payload::decode(&request.body) else { continue };
            count += 1;
            ctx.record(AppEvent::WorkDone { id: payload.id });
            ctx.record(AppEvent::Note { text: format!("counting-worker count {count}") });
            let reply =
                Payload::new(PayloadKind::Reply, payload.id, 0).with_extra(count.to_string());
            if rep.send(Msg { header: request.header, body: reply.encode() }).await.is_err() {
                return;
            }
        }
    })
}

const TOPOLOGY: &str = r#"# REQ clients straight to the user's counting worker.
name: counting
nodes:
  - name: client
    count: 3
    design: client
    sockets:
      - {name: req, type: REQ, connect: counter.rep}
  - name: counter
    design: counting-worker
    params:
      start: 100
    sockets:
      - {name: rep, type: REP, bind: 5555}
"#;

const SCENARIO: &str = r#"name: counting-steady
topology: counting.topology.yaml
duration: 2s
liveness: 2s
workload:
  client:
    requests: 10
invariants:
  - no_lost_replies
  - no_duplicate_delivery
expect: pass
"#;

/// The topology and the scenario, written to a temporary directory of their own (per
/// process and per test) and removed with it when dropped, even by a failing test.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn write(test: &str) -> Files {
        let dir = std::env::temp_dir()
            .join(format!("patchbay-user-design-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        std::fs::write(dir.join("counting.topology.yaml"), TOPOLOGY).expect("write the topology");
        std::fs::write(dir.join("counting.yaml"), SCENARIO).expect("write the scenario");
        Files { dir }
    }

    fn topology(&self) -> PathBuf {
        self.dir.join("counting.topology.yaml")
    }

    fn scenario(&self) -> PathBuf {
        self.dir.join("counting.yaml")
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The built-in designs plus the user's, as an application embedding patchbay builds it.
fn with_counting_worker() -> Registry {
    let mut registry = Registry::builtin();
    registry.register(counting_worker());
    registry
}

#[test]
fn a_user_design_resolves_only_against_the_registry_it_was_registered_in() {
    let files = Files::write("resolves");
    let topology = files.topology();

    let builtin = load_topology(&topology, &Registry::builtin());
    assert!(builtin.plan.is_none(), "the built-in registry has no counting-worker");
    let codes: Vec<&str> = builtin.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["unknown-design"], "{:#?}", builtin.diagnostics);
    let at = builtin.diagnostics[0].location.expect("the diagnostic points into the file");
    assert_eq!((at.line, at.column), (10, 13), "at the value of `design: counting-worker`");

    let loaded = load_topology(&topology, &with_counting_worker());
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    let counter = plan.groups.iter().find(|g| g.name == "counter").expect("the counter node");
    assert_eq!(counter.design, "counting-worker");
    assert_eq!(counter.params.get("start"), Some(&ParamValue::Count(100)));
}

#[test]
fn a_user_design_runs_over_the_simulator_and_answers_every_request() {
    let files = Files::write("runs");
    let scenario = files.scenario();
    let registry = with_counting_worker();
    let loaded = load_scenario(&scenario, &registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };

    let report = run_seed(&plan, &registry, 1, true);
    assert_eq!(report.error, None, "{}", report.repro());
    for outcome in &report.invariants {
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
    }
    assert!(report.as_expected);

    // Thirty requests, each counted once, from the topology's start of 100.
    let trace = report.trace.expect("kept");
    let counts: Vec<String> = trace
        .app_events()
        .filter_map(|(_, app)| match app {
            AppEvent::Note { text } => {
                text.strip_prefix("counting-worker count ").map(str::to_owned)
            }
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (101..=130).map(|n| n.to_string()).collect();
    assert_eq!(counts, expected);
    let replies_accepted = trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::App(AppEvent::ReplyAccepted { .. })))
        .count();
    assert_eq!(replies_accepted, 30);
}
