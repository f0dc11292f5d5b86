//! Every implemented invariant can fail: for each checker, a deliberately broken
//! design, core or scenario makes it report violations, and its correct counterpart,
//! in the same topology and on the same seed, makes it pass. A checker that passed
//! both would be checking nothing.
//!
//! The broken designs come from `patchbay::design::broken` and are registered here by
//! hand, as they are nowhere else. Topologies are written inline, with the design
//! under test as a placeholder, to a per-process temporary directory that the
//! scenario names them from. `resend_interval` judges timing that lives in the REQ
//! core, not in a design, so its broken counterpart is a REQ core that fires its
//! timer half an interval early, run over the simulator's own network (the fault
//! shim over turmoil) by a small hand-made harness.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use patchbay::design::{Completion, NodeCtx, NodeParts};
use patchbay::invariant::{CheckInput, Outcome, Verdict};
use patchbay::net::spawn_socket;
use patchbay::plan::{Group, Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::{RunReport, SimNetwork, event_sink};
use patchbay::socket::{
    Msg, PipeId, Pipes, RecvError, Rep, Req, Respondent, SendError, SocketCore, SocketEvent,
    SocketOptions, SocketType, Surveyor,
};
use patchbay::spec::source::SourceFile;
use patchbay::trace::{EventKind, Recorder, Trace};

use crate::util::{outcome, registry_with_broken, run_to_verdict};

/// The seed every run here uses, broken and correct alike.
const SEED: u64 = 1;

/// REQ clients straight to one REP worker. The clients' resend interval outlasts the
/// run, so a request the worker drops is not rescued by a resend.
const DIRECT: &str = r#"
name: direct
nodes:
  - name: client
    count: 2
    design: client
    sockets:
      - name: req
        type: REQ
        connect: worker.rep
        options:
          req_resend_ivl: 23d
  - name: worker
    design: WORKER
    sockets:
      - {name: rep, type: REP, bind: 5555}
"#;

/// REQ clients, a QUEUE device and a single REP worker, so that the device's backend
/// DEALER deals every copy of a request to the same worker.
const QUEUE_ONE_WORKER: &str = r#"
name: queue-one-worker
nodes:
  - name: client
    count: 2
    design: client
    sockets:
      - {name: req, type: REQ, connect: device.frontend}
  - name: device
    design: DEVICE
    sockets:
      - {name: frontend, type: ROUTER, bind: 5559}
      - {name: backend, type: DEALER, bind: 5560}
  - name: worker
    design: echo-worker
    sockets:
      - {name: rep, type: REP, connect: device.backend}
"#;

/// Article 000's load-balancing broker with two clients and two ready-workers.
const LRU: &str = r#"
name: lru
nodes:
  - name: client
    count: 2
    design: client
    sockets:
      - name: req
        type: REQ
        connect: broker.frontend
        options:
          req_resend_ivl: 23d
  - name: broker
    design: BROKER
    sockets:
      - {name: frontend, type: ROUTER, bind: 5555}
      - {name: backend, type: ROUTER, bind: 5556}
  - name: worker
    count: 2
    design: ready-worker
    sockets:
      - {name: req, type: REQ, connect: broker.backend}
"#;

/// One REQ client with a 1 s resend interval and one REP worker slower than that,
/// so every request is resent by the timer before its reply comes.
const SLOW_WORKER: &str = r#"
name: slow-worker
nodes:
  - name: client
    design: client
    sockets:
      - name: req
        type: REQ
        connect: worker.rep
        options:
          req_resend_ivl: 1s
  - name: worker
    design: echo-worker
    sockets:
      - {name: rep, type: REP, bind: 5555}
"#;

/// Writes `topology` to a temporary directory of its own as `<name>.topology.yaml`,
/// resolves `scenario` (which must not name a topology itself) beside it, and removes
/// the directory again. `name` must be unique among the tests, which run side by side.
fn resolve(name: &str, topology: &str, scenario: &str, registry: &Registry) -> ScenarioPlan {
    let dir = std::env::temp_dir()
        .join(format!("patchbay-invariants-fail-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    std::fs::write(dir.join(format!("{name}.topology.yaml")), topology)
        .expect("write the topology");
    let text = format!("name: {name}\ntopology: {name}.topology.yaml\n{scenario}");
    let loaded =
        load_scenario_source(&SourceFile::new(dir.join(format!("{name}.yaml")), text), registry);
    // Resolution has read the topology; the plan no longer needs the file.
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    match loaded.plan {
        Some(plan) => plan,
        None => {
            let diags: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
            panic!("scenario `{name}` does not resolve:\n{}", diags.join("\n"))
        }
    }
}

/// Runs [`SEED`] of `plan`, which must run to a verdict.
fn run(plan: &ScenarioPlan, registry: &Registry) -> RunReport {
    run_to_verdict(plan, registry, SEED, false)
}

/// Asserts that `correct` passes `name` and `broken` fails it, each as its scenario
/// expects, and returns the broken run's violation texts.
fn discriminates(name: &str, correct: &RunReport, broken: &RunReport) -> Vec<String> {
    let good = outcome(correct, name);
    assert_eq!(good.verdict, Verdict::Pass, "the correct run must pass {name}: {good:?}");
    assert!(correct.as_expected, "{}: {:?}", correct.repro(), correct.invariants);
    let bad = outcome(broken, name);
    assert_eq!(bad.verdict, Verdict::Fail, "the broken run must fail {name}: {bad:?}");
    assert!(!bad.violations.is_empty(), "a failure names its violations: {bad:?}");
    assert!(broken.as_expected, "{}: {:?}", broken.repro(), broken.invariants);
    bad.violations.iter().map(|v| v.text.clone()).collect()
}

/// A scenario body (everything but its name and topology) of a few simulated
/// seconds: 2 s of safety phase and at most 2 s of liveness. `workload` holds the
/// workload's entries, `fault` one fault or nothing, and the scenario checks
/// `invariant` alone, expecting it to fail when `fails` says so and to pass if not.
fn short_scenario(workload: &str, fault: &str, invariant: &str, fails: bool) -> String {
    let faults = if fault.is_empty() { String::new() } else { format!("faults:\n  - {fault}\n") };
    let expect = if fails { format!("{{violated: [{invariant}]}}") } else { "pass".to_owned() };
    format!(
        "duration: 2s\nliveness: 2s\nworkload:\n  {workload}\n{faults}invariants: [{invariant}]\nexpect: {expect}\n"
    )
}

#[test]
fn no_lost_replies_fails_when_a_worker_drops_every_fifth_request() {
    let registry = registry_with_broken();
    let scenario = |fails| {
        let workload = "client: {requests: 6}\n  worker: {service_time: 5ms}";
        short_scenario(workload, "", "no_lost_replies", fails)
    };
    let correct = resolve(
        "lossy-correct",
        &DIRECT.replace("WORKER", "echo-worker"),
        &scenario(false),
        &registry,
    );
    let broken = resolve(
        "lossy-broken",
        &DIRECT.replace("WORKER", "lossy-echo-worker"),
        &scenario(true),
        &registry,
    );
    let texts =
        discriminates("no_lost_replies", &run(&correct, &registry), &run(&broken, &registry));
    assert!(texts.iter().all(|t| t.contains("never got a reply")), "{texts:#?}");
}

#[test]
fn no_duplicate_delivery_fails_when_a_device_forwards_each_request_twice() {
    let registry = registry_with_broken();
    let scenario = |fails| {
        let workload = "client: {requests: 5}\n  worker: {service_time: 2ms}";
        short_scenario(workload, "", "no_duplicate_delivery", fails)
    };
    let correct = resolve(
        "duplicating-correct",
        &QUEUE_ONE_WORKER.replace("DEVICE", "queue-device"),
        &scenario(false),
        &registry,
    );
    let broken = resolve(
        "duplicating-broken",
        &QUEUE_ONE_WORKER.replace("DEVICE", "duplicating-queue-device"),
        &scenario(true),
        &registry,
    );
    let texts =
        discriminates("no_duplicate_delivery", &run(&correct, &registry), &run(&broken, &registry));
    // The one worker is handed each of the ten requests twice. (The device's backend
    // gets each reply twice too, but a DEALER reads the backtrace as body bytes, so
    // those replies carry no id the checker could match.)
    assert_eq!(texts.len(), 10, "{texts:#?}");
    assert!(
        texts.iter().all(|t| t.contains("delivered twice to the application at worker.0.rep")),
        "{texts:#?}"
    );
}

#[test]
fn no_lost_replies_fails_when_a_broker_forgets_to_requeue_its_workers() {
    let registry = registry_with_broken();
    let scenario = |fails| {
        let workload = "client: {requests: 5}\n  worker: {service_time: 10ms}";
        short_scenario(workload, "", "no_lost_replies", fails)
    };
    let correct = resolve(
        "forgetful-correct",
        &LRU.replace("BROKER", "lru-broker"),
        &scenario(false),
        &registry,
    );
    let broken = resolve(
        "forgetful-broken",
        &LRU.replace("BROKER", "forgetful-lru-broker"),
        &scenario(true),
        &registry,
    );
    let broken_run = run(&broken, &registry);
    let texts = discriminates("no_lost_replies", &run(&correct, &registry), &broken_run);
    // Each worker does one job and is forgotten; every client's next request starves
    // through the whole liveness phase.
    assert_eq!(texts.len(), 2, "one starved request per client: {texts:#?}");
    assert!(texts.iter().all(|t| t.contains("never got a reply")), "{texts:#?}");
    assert_eq!(broken_run.sim_ms, 4_000, "a starved run lasts to the end of its liveness phase");
}

#[test]
fn faults_fired_fails_for_a_partition_between_nodes_that_never_talk() {
    let registry = registry_with_broken();
    // Paced so that the clients are still at work when the partition begins.
    let scenario = |between: &str, fails| {
        let workload = "client: {requests: 20, rate: 10/s}";
        let fault = format!("{{at: 500ms, for: 500ms, kind: partition, between: [{between}]}}");
        short_scenario(workload, &fault, "faults_fired", fails)
    };
    let topology = DIRECT.replace("WORKER", "echo-worker");
    let correct =
        resolve("partition-correct", &topology, &scenario("client.0, worker", false), &registry);
    // The clients talk only to the worker: nothing runs between them to cut.
    let broken =
        resolve("partition-broken", &topology, &scenario("client.0, client.1", true), &registry);
    let texts = discriminates("faults_fired", &run(&correct, &registry), &run(&broken, &registry));
    assert_eq!(
        texts,
        [
            "fault #0 (partition between [client.0] and [client.1], 500ms to 1s) began at 500ms but touched nothing"
        ]
    );
}

/// How a deliberately broken core's clock differs from the run's: the time the
/// wrapped core is told, and when its deadlines are said to fall. A core wrapped in
/// [`Skewed`] is the real core in every other respect.
trait Skew: std::fmt::Debug {
    /// The time the core is told at `now`; `timer` when its timer fires.
    fn now(&self, now: Duration, timer: bool) -> Duration;
    /// When the core's own `deadline` is said to fall.
    fn deadline(&self, deadline: Duration) -> Duration;
    /// The time the core is told when the application sends at `now`.
    fn send(&mut self, now: Duration) -> Duration {
        self.now(now, false)
    }
}

/// A real core told the time through a [`Skew`]: one forwarding impl serves every
/// broken core of this file.
#[derive(Debug)]
struct Skewed<C, S> {
    inner: C,
    skew: S,
}

impl<C: SocketCore + std::fmt::Debug, S: Skew> SocketCore for Skewed<C, S> {
    fn socket_type(&self) -> SocketType {
        self.inner.socket_type()
    }
    fn pipes(&self) -> &Pipes {
        self.inner.pipes()
    }
    fn pipes_mut(&mut self) -> &mut Pipes {
        self.inner.pipes_mut()
    }
    fn attach(&mut self, pipe: PipeId, now: Duration) {
        self.inner.attach(pipe, self.skew.now(now, false));
    }
    fn set_connected(&mut self, pipe: PipeId, connected: bool, now: Duration) {
        self.inner.set_connected(pipe, connected, self.skew.now(now, false));
    }
    fn detach(&mut self, pipe: PipeId, now: Duration) {
        self.inner.detach(pipe, self.skew.now(now, false));
    }
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        let now = self.skew.send(now);
        self.inner.send(msg, now)
    }
    fn recv(&mut self, now: Duration) -> Result<Msg, RecvError> {
        self.inner.recv(self.skew.now(now, false))
    }
    fn on_message(&mut self, pipe: PipeId, msg: Msg, now: Duration) {
        self.inner.on_message(pipe, msg, self.skew.now(now, false));
    }
    fn can_receive(&self, pipe: PipeId) -> bool {
        self.inner.can_receive(pipe)
    }
    fn poll_transmit(&mut self, pipe: PipeId, now: Duration) -> Option<Msg> {
        self.inner.poll_transmit(pipe, self.skew.now(now, false))
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout().map(|deadline| self.skew.deadline(deadline))
    }
    fn on_timeout(&mut self, now: Duration) {
        self.inner.on_timeout(self.skew.now(now, true));
    }
    fn poll_event(&mut self) -> Option<SocketEvent> {
        self.inner.poll_event()
    }
}

/// A REQ whose resend timer fires `lead` early: a deliberately broken core, since
/// resend timing lives in the core and not in any design. The deadline it reports
/// is the real one moved earlier, and when it fires the REQ is told that the real
/// deadline has come; every other call sees the true time.
#[derive(Debug)]
struct Eager {
    /// How much earlier than due every timer resend comes.
    lead: Duration,
}

impl Skew for Eager {
    fn now(&self, now: Duration, timer: bool) -> Duration {
        if timer { now + self.lead } else { now }
    }
    fn deadline(&self, deadline: Duration) -> Duration {
        deadline.saturating_sub(self.lead)
    }
}

/// The group called `name`, and its first replica.
fn group<'a>(plan: &'a ScenarioPlan, name: &str) -> (&'a Group, Replica) {
    let group = plan.topology.groups.iter().find(|g| g.name == name).expect("group in the plan");
    (group, Replica { group: group.id, index: 0 })
}

/// A socket core built from the socket's options.
type MakeCore = fn(SocketOptions) -> Box<dyn SocketCore>;

/// Runs the first replica of group `name` with its built-in design, its one socket
/// driven over the simulator's own network (`net`: the fault shim over turmoil) by
/// the core `make_core` builds; binds `bind` or connects to `connect`. Returns when
/// the design does.
async fn start_node(
    plan: &ScenarioPlan,
    name: &str,
    net: &SimNetwork,
    make_core: MakeCore,
    (bind, connect): (Option<SocketAddr>, Option<SocketAddr>),
    (recorder, completion): (Recorder, Completion),
) -> std::io::Result<()> {
    let (group, replica) = group(plan, name);
    let socket = &group.sockets[0];
    let options = socket.options.socket_options();
    let epoch = tokio::time::Instant::now();
    let sink = event_sink(recorder.clone(), replica, 0, &options);
    let handle = spawn_socket(
        net.transport(replica, turmoil::lookup(name)),
        make_core(options.clone()),
        &options,
        bind.into_iter().collect(),
        connect.into_iter().collect(),
        epoch,
        sink,
    )
    .await?;
    let ctx = NodeCtx::new(NodeParts {
        replica,
        name: format!("{name}.0"),
        incarnation: 0,
        params: group.params.clone(),
        workload: plan.workload.get(&group.id).cloned().unwrap_or_default().into(),
        sockets: BTreeMap::from([(socket.name.clone(), (0, handle))]),
        seed: SEED,
        recorder,
        epoch,
        completion,
    });
    let design = Registry::builtin()
        .get(&group.design)
        .and_then(|d| d.behaviour().cloned())
        .expect("a built-in design");
    design.call(ctx).await;
    Ok(())
}

/// The trace of a hand-built run that ended with no fault and nothing healed.
fn finished(recorder: &Recorder, sim: &turmoil::Sim<'_>) -> Trace {
    Trace {
        events: recorder.take(),
        healed_at: None,
        ended_at: sim.elapsed(),
        quiesced: true,
        faults: Vec::new(),
        compact: None,
    }
}

/// Runs the slow-worker scenario by hand over turmoil, with the client's REQ core
/// made by `client_core`, until the client has its replies; returns the trace.
fn run_by_hand(plan: &ScenarioPlan, client_core: MakeCore) -> Trace {
    const PORT: u16 = 5555;
    let (recorder, completion) = (Recorder::default(), Completion::default());
    let mut sim = turmoil::Builder::new()
        .rng_seed(SEED)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .tick_duration(plan.network.tick)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(60))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let net = SimNetwork::default();
    let (worker_plan, worker_run) = (Rc::new(plan.clone()), (recorder.clone(), completion.clone()));
    let worker_net = net.clone();
    sim.host("worker", move || {
        let (plan, run, net) = (Rc::clone(&worker_plan), worker_run.clone(), worker_net.clone());
        async move {
            let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
            let rep: MakeCore = |options| Box::new(Rep::new(options));
            start_node(&plan, "worker", &net, rep, (Some(bind), None), run).await?;
            Ok(())
        }
    });
    net.listens_at(SocketAddr::new(sim.lookup("worker"), PORT), group(plan, "worker").1);
    let (client_plan, client_run) = (plan.clone(), (recorder.clone(), completion.clone()));
    sim.client("client", async move {
        let worker = SocketAddr::new(turmoil::lookup("worker"), PORT);
        let connect = (None, Some(worker));
        start_node(&client_plan, "client", &net, client_core, connect, client_run).await?;
        Ok(())
    });
    sim.run().expect("the client gets every reply within the simulation");
    assert_eq!(completion.count(), 1, "the client finished its workload");
    finished(&recorder, &sim)
}

/// Checks the scenario's one invariant over a trace made by hand.
fn check(plan: &ScenarioPlan, trace: &Trace) -> Outcome {
    let params = BTreeMap::new();
    Registry::builtin().check(&plan.invariants[0], &CheckInput { trace, plan, params: &params })
}

#[test]
fn resend_interval_fails_for_a_req_core_that_resends_half_an_interval_early() {
    let registry = registry_with_broken();
    // The harness runs the plan's nodes and workload by hand; the invariant is judged
    // against the plan's sockets, so the scenario's phases do not matter here.
    let workload = "client: {requests: 2}\n  worker: {service_time: 1200ms}";
    let scenario = short_scenario(workload, "", "resend_interval", false);
    let plan = resolve("eager-req", SLOW_WORKER, &scenario, &registry);
    let ivl = group(&plan, "client").0.sockets[0].options.socket_options().req_resend_ivl;
    assert_eq!(ivl, Some(Duration::from_secs(1)));

    let correct = run_by_hand(&plan, |options| Box::new(Req::new(options, 1)));
    let timer_resends = |trace: &Trace| {
        trace
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Resend { timer: true, .. }))
            .count()
    };
    // The worker is slower than the interval: a pass here is a pass over resends.
    assert!(timer_resends(&correct) >= 2, "{:#?}", correct.events);
    let good = check(&plan, &correct);
    assert_eq!(good.verdict, Verdict::Pass, "{good:?}");

    let eager = run_by_hand(&plan, |options| {
        let lead = options.req_resend_ivl.expect("resending") / 2;
        Box::new(Skewed { inner: Req::new(options, 1), skew: Eager { lead } })
    });
    assert!(timer_resends(&eager) >= 2, "{:#?}", eager.events);
    let bad = check(&plan, &eager);
    assert_eq!(bad.verdict, Verdict::Fail, "{bad:?}");
    // The first timer resend of each of the two requests comes 500 ms after the send.
    let texts: Vec<&str> = bad.violations.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    for text in texts {
        assert!(text.contains(", early: 500ms after its timer was armed at"), "{text}");
    }
}

/// A surveyor, a respondent that answers in time and one that answers late.
const SURVEY: &str = r#"
name: survey-two
nodes:
  - name: surveyor
    design: surveyor
    sockets:
      - name: survey
        type: SURVEYOR
        bind: 6000
        options: {survey_deadline: 500ms}
  - name: fast
    design: respondent
    sockets:
      - {name: respond, type: RESPONDENT, connect: surveyor.survey}
  - name: slow
    design: respondent
    sockets:
      - {name: respond, type: RESPONDENT, connect: surveyor.survey}
"#;

/// A SURVEYOR core whose deadline comes `slack` late: it hands the application
/// responses that arrive after the survey's deadline. Deliberately broken: it is the
/// real `Surveyor`, told the true time when it starts a survey and a clock running
/// `slack` behind (never before that start) afterwards.
#[derive(Debug)]
struct Late {
    slack: Duration,
    /// When the current survey started.
    started: Duration,
}

impl Skew for Late {
    fn now(&self, now: Duration, _timer: bool) -> Duration {
        now.saturating_sub(self.slack).max(self.started)
    }
    fn deadline(&self, deadline: Duration) -> Duration {
        deadline + self.slack
    }
    fn send(&mut self, now: Duration) -> Duration {
        self.started = now;
        now
    }
}

/// Runs the survey topology by hand over the simulator's shim for eight simulated
/// seconds, the surveyor's SURVEYOR made by `surveyor_core`; returns the trace.
fn survey_by_hand(plan: &ScenarioPlan, surveyor_core: MakeCore) -> Trace {
    const PORT: u16 = 6000;
    let (recorder, completion) = (Recorder::default(), Completion::default());
    let mut sim = turmoil::Builder::new()
        .rng_seed(SEED)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(60))
        .tcp_capacity(SimNetwork::TCP_CAPACITY)
        .build();
    let plan = Rc::new(plan.clone());
    let run = (recorder.clone(), completion.clone());
    let net = SimNetwork::default();
    let (p, r, n) = (Rc::clone(&plan), run.clone(), net.clone());
    sim.host("surveyor", move || {
        let (plan, run, net) = (Rc::clone(&p), r.clone(), n.clone());
        async move {
            let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
            start_node(&plan, "surveyor", &net, surveyor_core, (Some(bind), None), run).await?;
            Ok(())
        }
    });
    net.listens_at(SocketAddr::new(sim.lookup("surveyor"), PORT), group(&plan, "surveyor").1);
    for name in ["fast", "slow"] {
        let (p, r, n) = (Rc::clone(&plan), run.clone(), net.clone());
        sim.host(name, move || {
            let (plan, run, net) = (Rc::clone(&p), r.clone(), n.clone());
            async move {
                let surveyor = SocketAddr::new(turmoil::lookup("surveyor"), PORT);
                let core: MakeCore = |options| Box::new(Respondent::new(options));
                start_node(&plan, name, &net, core, (None, Some(surveyor)), run).await?;
                Ok(())
            }
        });
    }
    // The surveyor stays up after its surveys; this client bounds the run.
    sim.client("clock", async {
        tokio::time::sleep(Duration::from_secs(8)).await;
        Ok(())
    });
    sim.run().expect("the run completes");
    finished(&recorder, &sim)
}

#[test]
fn survey_deadline_fails_for_a_surveyor_core_that_accepts_late_responses() {
    let registry = registry_with_broken();
    let workload = "surveyor: {requests: 3, rate: 0.4/s, start_at: 500ms}\n  \
                    fast: {service_time: 100ms}\n  slow: {service_time: 800ms}";
    let scenario = short_scenario(workload, "", "survey_deadline", false);
    let plan = resolve("late-surveyor", SURVEY, &scenario, &registry);
    let receives = |trace: &Trace| {
        trace.events.iter().filter(|e| matches!(e.kind, EventKind::Receive { .. })).count()
    };

    let correct = survey_by_hand(&plan, |options| Box::new(Surveyor::new(options, 1)));
    let good = check(&plan, &correct);
    assert_eq!(good.verdict, Verdict::Pass, "{good:?}");

    let late = survey_by_hand(&plan, |options| {
        let inner = Surveyor::new(options, 1);
        let skew = Late { slack: Duration::from_secs(1), started: Duration::ZERO };
        Box::new(Skewed { inner, skew })
    });
    // The late core hands over the slow respondent's answers the correct one drops.
    assert!(receives(&late) > receives(&correct), "{} vs {}", receives(&late), receives(&correct));
    let bad = check(&plan, &late);
    assert_eq!(bad.verdict, Verdict::Fail, "{bad:?}");
    let texts: Vec<&str> = bad.violations.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts.len(), 3, "one late answer per survey: {texts:#?}");
    for text in texts {
        assert!(text.contains("after its deadline"), "{text}");
    }
}
