//! A stalled subscriber keeps what its library keeps (docs/library-semantics.md,
//! "Behaviour per socket type"): libzmq's PUB drops the new messages at its full pipe
//! and its SUB stops reading, so the subscriber comes back to the oldest it missed;
//! NNG's PUB and SUB discard the oldest of a full queue, so it comes back to the
//! newest, the last message included. Each test runs one of the shipped
//! `pub-hwm-stalled-subscriber*` scenarios and reads the stalled subscriber's trace.

use std::path::PathBuf;
use std::time::Duration;

use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::run_seed;
use patchbay::trace::{EventKind, MsgOrigin};

/// Messages the scenarios publish, numbered from 0.
const PUBLISHED: u32 = 2000;

/// The publisher's numbers of the messages `subscriber.1`'s application took, split at
/// the start of its stall.
fn received_around_the_stall(scenario: &str) -> (Vec<u32>, Vec<u32>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf();
    let registry = Registry::builtin();
    let loaded = load_scenario(&root.join("scenarios").join(scenario), &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("{scenario} resolves"));
    let stalled = plan.topology.group_by_name("subscriber").expect("a subscriber group").id;
    let report = run_seed(&plan, &registry, 1, true);
    assert!(report.as_expected, "{scenario}: {:?}", report.invariants);
    let trace = report.trace.as_ref().expect("kept");
    let stall = trace.events.iter().find(|e| matches!(e.kind, EventKind::FaultBegin { .. }));
    let stall_at: Duration = stall.expect("the stall is in the trace").at;
    let mut around = (Vec::new(), Vec::new());
    for e in &trace.events {
        let at_stalled = e.node.is_some_and(|n| n.group == stalled && n.index == 1);
        let EventKind::Receive { msg } = &e.kind else { continue };
        let Some(id) = msg.id.filter(|_| at_stalled) else { continue };
        let number = MsgOrigin::of(id).counter;
        if e.at < stall_at { around.0.push(number) } else { around.1.push(number) }
    }
    around
}

#[test]
fn libzmqs_stalled_subscriber_comes_back_to_the_oldest_it_missed() {
    let (before, after) = received_around_the_stall("pub-hwm-stalled-subscriber.yaml");
    let last_before = *before.last().expect("it received before the stall");
    assert_eq!(after.first(), Some(&(last_before + 1)), "it resumes where it stopped");
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "with no gap: {after:?}");
    assert!(!after.contains(&(PUBLISHED - 1)), "and never gets the last message");
}

#[test]
fn nngs_stalled_subscriber_comes_back_to_the_newest_and_the_last_message() {
    let (before, after) = received_around_the_stall("pub-hwm-stalled-subscriber-nng.yaml");
    let last_before = *before.last().expect("it received before the stall");
    assert!(after.first().is_some_and(|n| *n > last_before + 1), "a gap: {after:?}");
    assert_eq!(after.last(), Some(&(PUBLISHED - 1)), "the last message arrived");
    // The SUB's queue (10) and the PUB's pipe (10) each kept their newest.
    assert!(after.len() <= 20, "at most both queues' worth: {after:?}");
    assert!(after.windows(2).all(|w| w[0] < w[1]), "in order: {after:?}");
}
