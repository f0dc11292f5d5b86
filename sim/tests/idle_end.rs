//! A simulated run ends once provably nothing more can happen in it (issue 16, item
//! 2), and the run cut short is the full run: the same trace, events, verdicts and
//! end, in fewer steps. What must keep a run going does: a timer armed through the
//! design's context, data still on its way to a reader, a design that might arm
//! timers the simulator does not see. What need not does not: a reader that has
//! stopped reading.

use std::path::Path;
use std::time::Duration;

use patchbay::invariant::Verdict;
use patchbay::plan::ScenarioPlan;
use patchbay::prelude::*;
use patchbay::resolve::load_scenario;
use patchbay::run::{KeepTrace, RunReport, run_seed};
use patchbay::trace::{EventKind, Trace};

use crate::util::{TempDir, root};

fn shipped(name: &str) -> ScenarioPlan {
    load(&root().join(format!("scenarios/{name}.yaml")), &Registry::builtin())
}

fn load(path: &Path, registry: &Registry) -> ScenarioPlan {
    let loaded = load_scenario(path, registry);
    loaded.plan.unwrap_or_else(|| panic!("{}: {:#?}", path.display(), loaded.diagnostics))
}

/// Seed 1 of `plan` with its trace, cut short where it may be (`end_when_idle`) or
/// not.
fn run(plan: &ScenarioPlan, registry: &Registry, end_when_idle: bool) -> (RunReport, Trace) {
    let mut plan = plan.clone();
    plan.end_when_idle = end_when_idle;
    let mut report = run_seed(&plan, registry, 1, KeepTrace::Expanded);
    assert_eq!(report.error, None, "{} did not run", plan.name);
    let trace = report.trace.take().expect("kept");
    (report, trace)
}

fn verdicts(report: &RunReport) -> Vec<(&'static str, Verdict, u64)> {
    report.invariants.iter().map(|o| (o.name, o.verdict, o.violation_count())).collect()
}

/// Runs `plan` cut short and in full, asserts they are the same run, and hands back
/// the cut one.
fn cut_equals_full(plan: &ScenarioPlan, registry: &Registry) -> (RunReport, Trace) {
    let (cut, cut_trace) = run(plan, registry, true);
    let (full, full_trace) = run(plan, registry, false);
    assert_eq!(full.idle_from_ms, None, "the full run is not cut");
    assert!(cut.idle_from_ms.is_some(), "{} seed 1 was never proved idle", plan.name);
    assert_eq!(cut.trace_hash, full.trace_hash, "{}: the trace hash", plan.name);
    assert_eq!(cut_trace.events, full_trace.events, "{}: the events", plan.name);
    assert_eq!(cut_trace.ended_at, full_trace.ended_at, "{}: the end", plan.name);
    assert_eq!(cut_trace.quiesced, full_trace.quiesced, "{}: the drain", plan.name);
    assert_eq!((cut.sim_ms, cut.events), (full.sim_ms, full.events));
    assert_eq!(verdicts(&cut), verdicts(&full), "{}: the verdicts", plan.name);
    assert_eq!(cut.as_expected, full.as_expected);
    assert!(
        cut.steps < full.steps,
        "{}: cut short took {} steps, the full run {}",
        plan.name,
        cut.steps,
        full.steps
    );
    (cut, cut_trace)
}

/// The case: the killed worker's job is lost, its client waits for ever, and
/// from just after the restart at 20 s nothing happens until the liveness bound at
/// 50 s.
#[test]
fn a_run_cut_short_is_the_full_run_in_fewer_steps() {
    let plan = shipped("lru-worker-crash");
    let (cut, trace) = cut_equals_full(&plan, &Registry::builtin());
    assert_eq!(trace.ended_at, Duration::from_secs(50), "the liveness bound");
    let idle_from = Duration::from_millis(cut.idle_from_ms.expect("cut"));
    let last = trace.events.last().expect("events").at;
    assert!(idle_from > last && idle_from < Duration::from_secs(21), "idle from {idle_from:?}");
    // One step a millisecond up to where it was proved idle, not to 50 s.
    assert_eq!(cut.steps, idle_from.as_millis() as u64);
}

/// A run whose workloads all finish drains for a second after the heal; the drain
/// is cut short the same way, and the run still ends where the drain would have.
#[test]
fn a_drain_cut_short_ends_where_the_drain_would_have() {
    let plan = shipped("rrbroker-steady");
    let (_, trace) = cut_equals_full(&plan, &Registry::builtin());
    assert!(trace.quiesced, "every workload finished, so the run drained");
    assert_eq!(trace.ended_at, plan.duration + Duration::from_secs(1), "the drain's end");
}

/// A topology and a scenario over it, in a folder of their own.
struct Files {
    dir: TempDir,
}

impl Files {
    fn write(test: &str, topology: &str, scenario: &str) -> Files {
        let dir = TempDir::new(test);
        std::fs::write(dir.path().join("t.topology.yaml"), topology).expect("write");
        std::fs::write(dir.path().join("s.yaml"), scenario).expect("write");
        Files { dir }
    }

    fn plan(&self, registry: &Registry) -> ScenarioPlan {
        load(&self.dir.path().join("s.yaml"), registry)
    }
}

/// When the design recorded the user event `name`, if it did.
fn user_event(trace: &Trace, name: &str) -> Option<Duration> {
    trace.events.iter().find_map(|e| match &e.kind {
        EventKind::App(AppEvent::User(u)) if u.name == name => Some(e.at),
        _ => None,
    })
}

const LATE_TOPOLOGY: &str = "name: late\nnodes:\n  - name: late\n    design: late-note\n    \
                             sockets:\n      - {name: rep, type: REP, bind: 5555}\n";
const LATE_SCENARIO: &str = "name: late\ntopology: t.topology.yaml\nduration: 5s\nliveness: 20s\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
/// 10 s into the liveness phase.
const LATE_AT: Duration = Duration::from_secs(15);

/// A design that waits until [`LATE_AT`] and then records `late`: nothing else
/// happens in its run, so only its timer can keep the run going.
fn late_note(through_ctx: bool) -> Design {
    let design = Design::new("late-note")
        .summary("Records `late` 15 s into the run and nothing else.")
        .socket("rep", &[SocketType::Rep], "unused")
        .run(move |ctx| async move {
            if through_ctx {
                ctx.sleep_until(LATE_AT).await;
            } else {
                // A user's design may wait on tokio itself; the simulator cannot see it.
                tokio::time::sleep(LATE_AT - ctx.now()).await;
            }
            ctx.record(UserEvent::new("late"));
        });
    if through_ctx { design.timers_through_ctx() } else { design }
}

#[test]
fn a_timer_armed_through_the_context_keeps_the_run_going_until_it_fires() {
    let mut registry = Registry::builtin();
    registry.register(late_note(true));
    let files = Files::write("idle-end-late-timer", LATE_TOPOLOGY, LATE_SCENARIO);
    let (report, trace) = cut_equals_full(&files.plan(&registry), &registry);
    assert_eq!(user_event(&trace, "late"), Some(LATE_AT), "the timer fired in the run");
    let idle_from = Duration::from_millis(report.idle_from_ms.expect("cut"));
    assert!(idle_from > LATE_AT, "proved idle at {idle_from:?}, before the timer fired");
}

/// A design that does not declare `timers_through_ctx` may arm timers the simulator
/// cannot see: its runs go to their end.
#[test]
fn a_design_that_may_arm_its_own_timers_runs_to_the_end() {
    let mut registry = Registry::builtin();
    registry.register(late_note(false));
    let files = Files::write("idle-end-own-timer", LATE_TOPOLOGY, LATE_SCENARIO);
    let plan = files.plan(&registry);
    let (report, trace) = run(&plan, &registry, true);
    assert_eq!(report.idle_from_ms, None, "never cut");
    assert_eq!(report.steps, 25_000, "every millisecond of 5 s + 20 s");
    assert_eq!(user_event(&trace, "late"), Some(LATE_AT));
}

/// `senders` PUSHes, packed onto `senders` turmoil hosts, connected to a receiver's
/// PULL, the receiver running `receiver`. The first host is shared with the receiver.
fn pipe_topology(senders: u32, receiver: &str) -> String {
    format!(
        "name: pipe\nnodes:\n  - name: sender\n    count: {senders}\n    hosts: {senders}\n    \
         design: late-push\n    sockets:\n      \
         - {{name: push, type: PUSH, connect: receiver.pull}}\n  - name: receiver\n    \
         design: {receiver}\n    sockets:\n      - {{name: pull, type: PULL, bind: 5555}}\n"
    )
}

/// At `at`, sender `from` sends `count` messages as fast as its socket takes them,
/// records `sent`, and then waits for nothing with its socket open; the others send
/// nothing.
/// What the late pusher sends, each: big enough that a burst of them overflows the
/// kernel buffers between it and a reader that stopped (4.25 MiB) as well as both
/// high-water marks, so the sender blocks.
static LATE: [u8; 1024] = [b'l'; 1024];

fn late_pusher(from: u32, at: Duration, count: u32) -> Design {
    Design::new("late-push")
        .summary("Pushes a burst late in the run.")
        .socket("push", &[SocketType::Push], "where the burst goes")
        .timers_through_ctx()
        .run(move |ctx| async move {
            let push = ctx.socket("push");
            if ctx.replica.index != from {
                return std::future::pending().await;
            }
            ctx.sleep_until(at).await;
            for _ in 0..count {
                if push.send(Msg::new(&LATE[..])).await.is_err() {
                    return;
                }
            }
            ctx.record(UserEvent::new("sent"));
            // Holds its socket open, so what it queued still goes.
            std::future::pending::<()>().await;
        })
}

/// Records `got` at each message.
fn reader() -> Design {
    Design::new("reader")
        .summary("Records each message it receives.")
        .socket("pull", &[SocketType::Pull], "where messages arrive")
        .timers_through_ctx()
        .run(|ctx| async move {
            let pull = ctx.socket("pull");
            while pull.recv().await.is_ok() {
                ctx.record(UserEvent::new("got"));
            }
        })
}

/// Binds and never reads: what is sent to it stays in its buffers.
fn stalled_reader() -> Design {
    Design::new("stalled-reader")
        .summary("Never reads.")
        .socket("pull", &[SocketType::Pull], "where messages pile up")
        .timers_through_ctx()
        .run(|ctx| async move {
            // Holds its context, and so its socket, open for ever.
            let _pull = ctx.socket("pull");
            std::future::pending::<()>().await;
        })
}

fn pipe_registry(pusher: Design) -> Registry {
    let mut registry = Registry::builtin();
    registry.register(pusher);
    registry.register(reader());
    registry.register(stalled_reader());
    registry
}

/// A message sent 6 s into the run over a 3 s link is on its way, with no task
/// waiting on it, until it lands: the run may not end before. From sender.0, on the
/// receiver's turmoil host, the shim holds it (a timer, for 3 s less turmoil's
/// one-tick delivery); from sender.1, on a host of its own, turmoil's link does,
/// out of patchbay's sight.
#[test]
fn data_in_flight_keeps_the_run_going_until_it_lands() {
    let scenario = "name: pipe\ntopology: t.topology.yaml\n\
                    duration: 5s\nliveness: 20s\nnetwork: {latency: 3s}\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    let files = Files::write("idle-end-in-flight", &pipe_topology(2, "reader"), scenario);
    for (from, held) in [(0, Duration::from_millis(2_999)), (1, Duration::from_secs(3))] {
        let registry = pipe_registry(late_pusher(from, Duration::from_secs(6), 1));
        let (report, trace) = cut_equals_full(&files.plan(&registry), &registry);
        let sent = user_event(&trace, "sent").expect("sent");
        let got = user_event(&trace, "got").expect("the message landed in the run");
        assert!(got >= sent + held, "sender.{from}: sent at {sent:?}, got at {got:?}");
        let idle_from = Duration::from_millis(report.idle_from_ms.expect("cut"));
        assert!(idle_from > got, "sender.{from}: idle at {idle_from:?}, before it landed");
    }
}

/// A reader that stops reading leaves what was sent to it in its buffers for good,
/// and the sender blocked at its high-water mark: nothing more can happen, and the
/// run ends early with the full run's trace.
#[test]
fn a_stalled_reader_does_not_keep_the_run_going() {
    let registry = pipe_registry(late_pusher(0, Duration::from_secs(1), 100_000));
    let scenario = "name: pipe\ntopology: t.topology.yaml\nduration: 5s\nliveness: 20s\ninvariants: [no_duplicate_delivery]\nexpect: pass\n";
    let files = Files::write("idle-end-stalled", &pipe_topology(1, "stalled-reader"), scenario);
    let (report, trace) = cut_equals_full(&files.plan(&registry), &registry);
    assert_eq!(user_event(&trace, "sent"), None, "the sender is blocked at its high-water mark");
    let idle_from = Duration::from_millis(report.idle_from_ms.expect("cut"));
    assert!(idle_from < Duration::from_secs(6), "proved idle only at {idle_from:?}");
}
