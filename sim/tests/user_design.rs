//! The public extension API end to end: a user writes a design in Rust, registers
//! it, names it in YAML, and runs a scenario over it in the simulator.
//!
//! The design is a `counting-worker`: a REP that answers every request with the
//! request's id and a running count, starting from its `start` parameter. Its
//! topology resolves against a registry that has it and fails with `unknown-design`
//! against the built-in one; a scenario over it runs with `no_lost_replies` passing,
//! and the counts the worker recorded as typed events of its own show that its
//! parameter and its behaviour both came from the user's code.

use std::path::PathBuf;

use patchbay::invariant::Verdict;
use patchbay::prelude::*;
use patchbay::resolve::{load_scenario, load_topology};
use patchbay::run::run_seed;
use patchbay::trace::EventKind;

/// The user's design, as they would declare it: the behaviour counts each request
/// with a patchbay payload in steps of `step` (configuration the closure captures),
/// records the count as a typed event of its own, and replies with the request's id
/// and the count as the payload's extra bytes.
fn counting_worker(step: u64) -> Design {
    Design::new("counting-worker")
        .summary("Answers each request on a REP socket with its id and a running count.")
        .role(Role::Replier)
        .socket("rep", &[SocketType::Rep], "where requests arrive")
        .param("start", ParamKind::Count, Some("0"), "the count before the first request")
        .run(move |ctx| async move {
            let rep = ctx.socket("rep");
            // Resolution filled in the default if the topology gave none.
            let mut count = ctx.param_count("start");
            while let Ok(request) = rep.recv().await {
                let Some(payload) = Payload::decode(&request.body) else { continue };
                count += step;
                ctx.record(AppEvent::WorkDone { id: payload.id });
                ctx.record(
                    UserEvent::new("counted").field("count", count).msg("request", payload.id),
                );
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
    with_counting_worker_by(1)
}

/// The same, counting in steps of `step`.
fn with_counting_worker_by(step: u64) -> Registry {
    let mut registry = Registry::builtin();
    registry.register(counting_worker(step));
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

    // Thirty requests, each counted once, from the topology's start of 100: read back
    // from the worker's own typed events, field by field.
    let trace = report.trace.expect("kept");
    let counted: Vec<&UserEvent> = trace
        .app_events()
        .filter_map(|(_, app)| match app {
            AppEvent::User(e) if e.name == "counted" => Some(e),
            _ => None,
        })
        .collect();
    let counts: Vec<Option<&FieldValue>> = counted.iter().map(|e| e.get("count")).collect();
    let expected: Vec<FieldValue> = (101..=130).map(FieldValue::Uint).collect();
    assert_eq!(counts, expected.iter().map(Some).collect::<Vec<_>>());
    // Each names the request it counted, and no request twice.
    let mut requests: Vec<MsgId> = counted.iter().filter_map(|e| e.first_msg()).collect();
    requests.sort_unstable();
    requests.dedup();
    assert_eq!(requests.len(), 30);
    let replies_accepted = trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::App(AppEvent::ReplyAccepted { .. })))
        .count();
    assert_eq!(replies_accepted, 30);
}

#[test]
fn a_user_event_is_drawn_in_the_sequence_diagram_with_its_fields_and_message_names() {
    let files = Files::write("seqdiag");
    let registry = with_counting_worker();
    let loaded = load_scenario(&files.scenario(), &registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    let report = run_seed(&plan, &registry, 1, true);
    let trace = report.trace.expect("kept");

    // A diagram around the worker's first typed event draws it as its label says (the
    // diagram pins the violation to the first application event at that instant, the
    // `WorkDone` recorded just before).
    let (first, counted) = trace
        .app_events()
        .find_map(|(e, app)| match app {
            AppEvent::User(u) => Some((e, u)),
            _ => None,
        })
        .expect("the worker recorded a typed event");
    let id = counted.first_msg().expect("it names its request");
    let v = patchbay::invariant::Violation::new(first.at, first.node, "around the count");
    let d = patchbay::report::seqdiag::build(&plan, &trace, "x", &v, 1, "repro".into());
    let name = patchbay::trace::msg_label(&plan.topology, id);
    assert!(name.starts_with("client."), "{name}");
    let labels: Vec<&str> = d.rows.iter().map(|r| r.label.as_str()).collect();
    let at = labels.iter().position(|l| *l == format!("work {name} done")).expect("pinned");
    assert_eq!(labels[at + 1], format!("counted count=101 request={name}"), "{labels:#?}");
}

#[test]
fn a_user_design_runs_with_the_configuration_its_closure_captured() {
    let files = Files::write("captured");
    let registry = with_counting_worker_by(5);
    let loaded = load_scenario(&files.scenario(), &registry);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    let report = run_seed(&plan, &registry, 1, true);
    assert!(report.as_expected, "{}", report.repro());
    let trace = report.trace.expect("kept");
    let counts: Vec<FieldValue> = trace
        .app_events()
        .filter_map(|(_, app)| match app {
            AppEvent::User(e) => e.get("count").cloned(),
            _ => None,
        })
        .collect();
    // Thirty requests from the topology's start of 100, five at a time.
    let expected: Vec<FieldValue> = (1..=30).map(|n| FieldValue::Uint(100 + 5 * n)).collect();
    assert_eq!(counts, expected);
}
