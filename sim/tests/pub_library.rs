//! A stalled subscriber keeps what its library keeps (docs/library-semantics.md,
//! "Behaviour per socket type"): libzmq's PUB drops the new messages at its full pipe
//! and its SUB stops reading, so the subscriber comes back to the oldest it missed;
//! NNG's PUB and SUB discard the oldest of a full queue, so it comes back to the
//! newest, the last message included. The first tests run the shipped
//! `pub-hwm-stalled-subscriber*` scenarios and read the stalled subscriber's trace;
//! the last shows the kernel buffers between them deciding whether small messages
//! are lost at all (docs/library-semantics.md, "Kernel buffers").

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

/// The stalled-subscriber experiment with 64-byte messages, each socket's kernel
/// buffers as `options` writes them (appended to both sockets' options), on seed 1.
/// Returns what `subscription_delivery` found missing: the stalled subscriber's
/// losses.
fn small_messages_lost(options: &str) -> Vec<String> {
    let dir = crate::util::TempDir::new(&format!("pub-kernel-{}", options.len()));
    let topology = format!(
        "name: pub-kernel\nlibrary: zeromq\nnodes:\n\
         \x20 - name: publisher\n    design: publisher\n    sockets:\n\
         \x20     - {{name: pub, type: PUB, bind: 5570, options: {{sndhwm: 10{options}}}}}\n\
         \x20 - name: subscriber\n    count: 2\n    design: subscriber\n    sockets:\n\
         \x20     - {{name: sub, type: SUB, connect: publisher.pub, \
         options: {{subscribe: [\"\"], rcvhwm: 10{options}}}}}\n"
    );
    let scenario = "name: pub-kernel\ntopology: t.yaml\nduration: 5s\nliveness: 5s\n\
                    workload:\n  publisher: {publishes: 2000, publish_rate: 1000/s, start_at: 500ms}\n\
                    faults:\n  - {at: 1s, for: 2s, kind: stall, node: subscriber.1}\n\
                    invariants: [subscription_delivery]\nexpect: pass\n";
    std::fs::write(dir.path().join("t.yaml"), topology).expect("write");
    std::fs::write(dir.path().join("s.yaml"), scenario).expect("write");
    let registry = Registry::builtin();
    let loaded = load_scenario(&dir.path().join("s.yaml"), &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("resolves: {:?}", loaded.diagnostics));
    let report = run_seed(&plan, &registry, 1, true);
    assert!(report.error.is_none(), "{:?}", report.error);
    let delivery = report.invariants.iter().find(|o| o.name == "subscription_delivery");
    let violations = &delivery.expect("checked").violations;
    violations.iter().map(|v| v.text.clone()).collect()
}

/// Two seconds of a stalled subscriber at 1,000 messages of 64 bytes a second are
/// 128 kB, which the kernels between it and the publisher hold whole (libzmq leaves
/// their sizes to Linux: 4 MiB and more): nothing is dropped, as in production. With
/// `sndbuf` and `rcvbuf` of 4 KiB the same stall overflows the kernels and the
/// high-water marks, and the subscriber loses messages. (While the simulated window
/// counted 64 writes, whatever their size, it lost them either way.)
#[test]
fn a_stalled_subscriber_loses_small_messages_only_when_its_kernel_buffers_are_small() {
    let lost = small_messages_lost("");
    assert!(lost.is_empty(), "the system's buffers hold the stall: {lost:?}");
    let lost = small_messages_lost(", sndbuf: 4KiB, rcvbuf: 4KiB");
    assert!(!lost.is_empty(), "4 KiB buffers do not");
    assert!(
        lost.iter().all(|v| v.contains("subscriber.1.sub") && v.contains("never reached it")),
        "only the stalled subscriber lost messages: {lost:?}"
    );
}

/// A publisher at 300 a second publishes 300 a second, though its interval, 3.33 ms,
/// is no whole tick: each wait counts from the instant it waited for, not from the
/// tick its timer woke on (`design::kit::Pacer`). When it counted from the wake-up,
/// every interval became 4 ms and the 300th message went out at 1,196 ms, a rate of
/// 250 a second; over real TCP, where the OS's timer wakes up to a millisecond late,
/// 1,000 a second became about 460.
#[test]
fn a_publisher_keeps_a_rate_whose_interval_is_no_whole_tick() {
    let plan = crate::util::scenario(
        "publish-rate",
        "topology: ../topologies/pub-hwm.yaml\nduration: 2s\nliveness: 0s\n\
         workload:\n  publisher: {publishes: 300, publish_rate: 300/s}\n\
         invariants: [subscription_delivery]\nexpect: pass\n",
    );
    let report = run_seed(&plan, &Registry::builtin(), 1, true);
    assert!(report.as_expected, "{:?}", report.invariants);
    let trace = report.trace.as_ref().expect("kept");
    let published: Vec<Duration> = trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::App(patchbay::trace::AppEvent::Published { .. })))
        .map(|e| e.at)
        .collect();
    assert_eq!(published.len(), 300);
    // The n-th is due at n * 3.333 ms after the first, and goes on the tick after.
    let span = published[299] - published[0];
    assert!(
        (Duration::from_millis(996)..=Duration::from_millis(998)).contains(&span),
        "300 at 300/s took {span:?} from the first to the last"
    );
    for (n, pair) in published.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(
            gap == Duration::from_millis(3) || gap == Duration::from_millis(4),
            "gap {n} was {gap:?}"
        );
    }
}
