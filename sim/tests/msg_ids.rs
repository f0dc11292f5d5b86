//! Message ids past the counter's own 2^20 in one incarnation (`plan/msg_id.rs`), end
//! to end through the simulator: a replica of a node that leaves replica bits unused
//! makes more ids than that, and its ids read back as its own; a replica that makes
//! every id its node's layout has room for ends the run with a run error naming it
//! and the limit, not an internal error.
//!
//! The replica under test is a user's design, `id-hog`, which makes its ids at time
//! zero without sending them: a Paranoid Pirate broker beating to ten workers every
//! millisecond makes as many, but in 105 simulated seconds. A user's checker,
//! `ids_read_back`, reads each replica's last id as a checker reads a run's ids.

use std::path::PathBuf;

use patchbay::invariant::{Invariant, Outcome, Verdict, Violation};
use patchbay::plan::{MsgIdLayout, ScenarioPlan};
use patchbay::prelude::*;
use patchbay::resolve::load_scenario;
use patchbay::run::{RunError, run_seed};
use patchbay::trace::{MsgOrigin, msg_label};

/// 2^20 + 5: five ids past what a counter held before it could carry.
const PAST_2_20: u64 = (1 << 20) + 5;

/// Makes `ids` message ids at replica 3 (one at every other replica) and records how
/// many and the last; with `whole_field` it makes them in the layout of a node of
/// more than 2^23 replicas, whose limit is 2^20, the only way to reach a limit in a
/// test's time.
fn id_hog() -> Design {
    Design::new("id-hog")
        .summary("Makes message ids without sending them, and records the last.")
        .param("ids", ParamKind::Count, Some("1"), "ids replica 3 makes")
        .param("whole_field", ParamKind::Bool, Some("false"), "limit itself to 2^20 ids")
        .run(|ctx| async move {
            let ctx = match ctx.param_bool("whole_field") {
                true => ctx.with_msg_ids(MsgIdLayout::WHOLE_FIELD),
                false => ctx,
            };
            let ids = if ctx.replica.index == 3 { ctx.param_count("ids") } else { 1 };
            let mut last = None;
            for _ in 0..ids {
                last = Some(ctx.next_msg_id());
            }
            if let Some(id) = last {
                ctx.record(UserEvent::new("made").field("ids", ids).msg("last", id));
            }
            kit::stay_up().await;
        })
}

/// A user's checker: every replica's last id reads, in the run's topology, as made by
/// that replica's first incarnation with the counter its count of ids gives.
fn ids_read_back() -> Invariant {
    Invariant::new("ids_read_back", "each replica's last id reads as its own", |input| {
        let mut violations = Vec::new();
        for (event, app) in input.trace.app_events() {
            let AppEvent::User(made) = app else { continue };
            let (Some(node), Some(id)) = (event.node, made.first_msg()) else { continue };
            let Some(FieldValue::Uint(ids)) = made.get("ids") else { continue };
            let origin = MsgOrigin::decode(&input.plan.topology, id);
            if origin != (MsgOrigin { node, incarnation: 0, counter: (*ids - 1) as u32 }) {
                let text = format!("{} made {ids} ids, the last read as {origin:?}", node.index);
                violations.push(Violation::new(event.at, Some(node), text));
            }
        }
        Outcome::from_violations("ids_read_back", violations)
    })
}

/// The scenario over ten hogs with these `params`, resolved against a registry that
/// has `id-hog`, from files in a temporary directory of the test's own.
fn scenario(test: &str, params: &str) -> (ScenarioPlan, Registry) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("patchbay-msg-ids-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let topology = format!(
        "name: hogs\nnodes:\n  - name: hog\n    count: 10\n    design: id-hog\n    params: {params}\n"
    );
    std::fs::write(dir.join("hogs.topology.yaml"), topology).expect("write the topology");
    let scenario = "name: hogs\ntopology: hogs.topology.yaml\nduration: 1s\nliveness: 1s\n\
                    seeds: 1\ninvariants: [ids_read_back]\nexpect: pass\n";
    std::fs::write(dir.join("hogs.yaml"), scenario).expect("write the scenario");
    let mut registry = Registry::builtin();
    registry.register(id_hog());
    registry.invariant(ids_read_back());
    let loaded = load_scenario(&dir.join("hogs.yaml"), &registry);
    let _ = std::fs::remove_dir_all(&dir);
    let Some(plan) = loaded.plan else { panic!("{:#?}", loaded.diagnostics) };
    (plan, registry)
}

#[test]
fn a_replica_makes_more_than_2_20_ids_in_one_incarnation_and_each_reads_as_its_own() {
    let (plan, registry) = scenario("past", &format!("{{ids: {PAST_2_20}}}"));
    let report = run_seed(&plan, &registry, 1, true);
    assert_eq!(report.error, None, "{}", report.repro());
    assert_eq!(report.invariants[0].verdict, Verdict::Pass, "{:?}", report.invariants);
    assert!(report.as_expected);
    let trace = report.trace.expect("kept");
    let made: Vec<(u32, MsgId)> = trace
        .app_events()
        .filter_map(|(e, app)| match app {
            AppEvent::User(u) if u.name == "made" => Some((e.node?.index, u.first_msg()?)),
            _ => None,
        })
        .collect();
    assert_eq!(made.len(), 10, "{made:?}");
    let &(_, last) = made.iter().find(|(index, _)| *index == 3).expect("replica 3's last id");
    let origin = MsgOrigin::decode(&plan.topology, last);
    assert_eq!((origin.node.index, origin.incarnation), (3, 0));
    assert_eq!(u64::from(origin.counter), PAST_2_20 - 1);
    assert_eq!(msg_label(&plan.topology, last), "hog.3#1048580");
    // Every other replica's only id is its counter 0, and no id is another's.
    let mut ids: Vec<MsgId> = made.iter().map(|&(_, id)| id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    for &(index, id) in &made {
        assert_eq!(MsgOrigin::decode(&plan.topology, id).node.index, index);
    }
}

#[test]
fn a_replica_past_its_limit_ends_the_run_with_an_error_naming_it_and_the_limit() {
    let (plan, registry) = scenario("limit", &format!("{{ids: {PAST_2_20}, whole_field: true}}"));
    let report = run_seed(&plan, &registry, 1, false);
    let Some(RunError::NotRunnable(why)) = &report.error else {
        panic!("a run error, not {:?}", report.error);
    };
    assert!(
        why.starts_with("`hog.3` had made all 1048576 (2^20) message ids one incarnation of it has room for, 0 into the run:"),
        "{why}"
    );
    assert!(why.contains("docs/limits.md"), "{why}");
    assert!(!report.as_expected);
    // The run stops at the step the replica ran out in, not at its end (2,000 steps).
    assert!(report.steps <= 2, "stepped {} times", report.steps);
    // Within the limit the same replica runs.
    let (plan, registry) = scenario("within", "{ids: 1048576, whole_field: true}");
    assert_eq!(run_seed(&plan, &registry, 1, false).error, None);
}
