//! The pattern designs (pub-sub, pipeline, devices, survey, bus, PAIR relay, the gif
//! service) run on their shipped scenarios, one seed each, and judged by facts read
//! from the trace: what was published, received, issued, done, killed and answered.
//!
//! These tests check that the designs do their job, not the invariant verdicts, which
//! have tests of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use patchbay::plan::{GroupId, Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario;
use patchbay::run::run_seed;
use patchbay::trace::{AppEvent, EventKind, MsgId, Trace, TraceEvent};

/// One seed of a shipped scenario, with its plan and trace.
struct Run {
    plan: ScenarioPlan,
    trace: Trace,
}

fn run(scenario: &str) -> Run {
    let registry = Registry::builtin();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(scenario);
    let loaded = load_scenario(&path, &registry);
    let plan = loaded.plan.unwrap_or_else(|| panic!("{scenario}: {:?}", loaded.diagnostics));
    let report = run_seed(&plan, &registry, 1, true);
    assert!(report.error.is_none(), "{scenario}: {:?}; {}", report.error, report.repro());
    let trace = report.trace.expect("asked to keep the trace");
    Run { plan, trace }
}

impl Run {
    fn group(&self, name: &str) -> GroupId {
        let groups = &self.plan.topology.groups;
        groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name}")).id
    }

    fn replicas(&self, name: &str) -> Vec<Replica> {
        let group = self.plan.topology.group(self.group(name));
        (0..group.count).map(|index| Replica { group: group.id, index }).collect()
    }

    fn replica(&self, name: &str, index: u32) -> Replica {
        Replica { group: self.group(name), index }
    }

    /// The trace index of `socket` in `node`'s group.
    fn socket_index(&self, node: Replica, socket: &str) -> u16 {
        let sockets = &self.plan.topology.group(node.group).sockets;
        sockets.iter().position(|s| s.name == socket).expect("socket declared") as u16
    }

    /// Events on one socket of one replica.
    fn on<'a>(&'a self, node: Replica, socket: &str) -> impl Iterator<Item = &'a TraceEvent> {
        let index = self.socket_index(node, socket);
        self.trace.at_node(node).filter(move |e| e.socket == Some(index))
    }

    /// Ids the application received on a socket, in order, with their times.
    fn received(&self, node: Replica, socket: &str) -> Vec<(Duration, MsgId)> {
        self.on(node, socket)
            .filter_map(|e| match e.kind {
                EventKind::Receive { msg } => msg.id.map(|id| (e.at, id)),
                _ => None,
            })
            .collect()
    }

    /// Ids the application sent on a socket.
    fn sent(&self, node: Replica, socket: &str) -> Vec<MsgId> {
        self.on(node, socket)
            .filter_map(|e| match e.kind {
                EventKind::Send { msg } => msg.id,
                _ => None,
            })
            .collect()
    }

    /// Application events at one replica, with their times.
    fn app_at(&self, node: Replica) -> Vec<(Duration, AppEvent)> {
        self.trace
            .at_node(node)
            .filter_map(|e| match &e.kind {
                EventKind::App(a) => Some((e.at, a.clone())),
                _ => None,
            })
            .collect()
    }

    /// Application events in a group, with their times.
    fn app_in(&self, group: &str) -> Vec<(Duration, AppEvent)> {
        self.replicas(group).into_iter().flat_map(|r| self.app_at(r)).collect()
    }

    /// What the publishers of `group` published, by id, with time and topic.
    fn published(&self, group: &str) -> BTreeMap<MsgId, (Duration, String)> {
        self.app_in(group)
            .into_iter()
            .filter_map(|(at, a)| match a {
                AppEvent::Published { id, topic } => Some((id, (at, topic))),
                _ => None,
            })
            .collect()
    }

    fn joined_at(&self, node: Replica) -> Duration {
        let joined = self.app_at(node).into_iter().find(|(_, a)| *a == AppEvent::Joined);
        joined.unwrap_or_else(|| panic!("{node:?} never joined")).0
    }

    /// Envelope ids a subscriber received, whole (every frame the sender wrote).
    fn envelopes(&self, node: Replica) -> Vec<MsgId> {
        self.app_at(node)
            .into_iter()
            .filter_map(|(_, a)| match a {
                AppEvent::PartsReceived { id, parts, expected } => {
                    assert_eq!(parts, expected, "{node:?} got {id} torn");
                    Some(id)
                }
                _ => None,
            })
            .collect()
    }
}

fn distinct(ids: impl IntoIterator<Item = MsgId>) -> BTreeSet<MsgId> {
    ids.into_iter().collect()
}

#[test]
fn naive_subscribers_receive_only_after_joining_and_miss_the_start() {
    let run = run("naive-pubsub.yaml");
    let published = run.published("publisher");
    assert_eq!(published.len(), 1000);
    for sub in run.replicas("subscriber") {
        let joined = run.joined_at(sub);
        assert!(joined >= Duration::from_millis(100), "{sub:?} joined at {joined:?}");
        let got = run.received(sub, "sub");
        assert!(got.iter().all(|(at, _)| *at >= joined), "{sub:?} received before joining");
        let ids = distinct(got.iter().map(|(_, id)| *id));
        assert!(ids.iter().all(|id| published.contains_key(id)));
        // It joined a tenth of a second or more into a one-second stream: it must have
        // missed the start but received most of what followed.
        let after = published.values().filter(|(at, _)| *at > joined).count();
        assert!(ids.len() < 1000, "{sub:?} missed nothing though it joined at {joined:?}");
        assert!(ids.len() * 10 >= after * 9, "{sub:?} got {} of {after}", ids.len());
    }
}

#[test]
fn synchronized_subscribers_receive_every_message() {
    let run = run("sync-pubsub.yaml");
    let published = run.published("publisher");
    assert_eq!(published.len(), 1000);
    let first = published.values().map(|(at, _)| *at).min().expect("published");
    for sub in run.replicas("subscriber") {
        assert!(run.joined_at(sub) <= first, "{sub:?} joined after the first publish");
        let ids = distinct(run.received(sub, "sub").into_iter().map(|(_, id)| id));
        assert_eq!(ids, published.keys().copied().collect(), "{sub:?}");
    }
}

#[test]
fn forwarder_passes_matching_envelopes_and_subscriptions_upstream() {
    let run = run("forwarder.yaml");
    let published = run.published("publisher");
    assert_eq!(published.len(), 400);
    let wanted: BTreeSet<MsgId> =
        published.iter().filter(|(_, (_, t))| t == "10001").map(|(id, _)| *id).collect();
    assert_eq!(wanted.len(), 200);
    // Only subscribed data crosses the device: the publishers filter at the source
    // once the proxy has passed the subscriptions up.
    let proxy = run.replica("proxy", 0);
    let forwarded = run.on(proxy, "backend").filter(|e| matches!(e.kind, EventKind::Send { .. }));
    assert!(forwarded.count() >= 150, "the proxy forwarded too little");
    for sub in run.replicas("subscriber") {
        let got = distinct(run.envelopes(sub));
        assert!(got.is_subset(&wanted), "{sub:?} got a topic it did not subscribe to");
        assert!(got.len() >= 150, "{sub:?} got only {} of 200", got.len());
    }
}

#[test]
fn envelope_subscribers_get_every_b_whole_and_never_an_a() {
    let run = run("pubsub-envelopes.yaml");
    let published = run.published("publisher");
    assert_eq!(published.len(), 200);
    assert!(published.values().all(|(at, _)| *at >= Duration::from_secs(1)), "start_at ignored");
    let b: BTreeSet<MsgId> =
        published.iter().filter(|(_, (_, t))| t == "B").map(|(id, _)| *id).collect();
    for sub in run.replicas("subscriber") {
        let got = run.envelopes(sub);
        assert_eq!(got.len(), 100, "{sub:?} received a duplicate or missed one");
        assert_eq!(distinct(got), b, "{sub:?}");
    }
}

#[test]
fn streamer_spreads_every_task_over_the_workers_to_the_sink() {
    let run = run("streamer.yaml");
    let issued: Vec<MsgId> = run
        .app_in("ventilator")
        .into_iter()
        .filter_map(|(_, a)| match a {
            AppEvent::TaskIssued { id } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(issued.len(), 100);
    let mut busy_workers = 0;
    let mut done = BTreeSet::new();
    for worker in run.replicas("worker") {
        let mine = run.app_at(worker).into_iter().filter_map(|(_, a)| match a {
            AppEvent::WorkDone { id } => Some(id),
            _ => None,
        });
        let before = done.len();
        done.extend(mine);
        busy_workers += usize::from(done.len() > before);
    }
    assert_eq!(done, distinct(issued.iter().copied()));
    assert!(busy_workers >= 2, "one worker did everything");
    let sink = run.replica("sink", 0);
    let collected = run.received(sink, "pull");
    assert_eq!(collected.len(), 100, "the sink got a duplicate or missed one");
    assert_eq!(distinct(collected.into_iter().map(|(_, id)| id)), done);
}

#[test]
fn pipeline_kill_signal_reaches_every_live_worker_after_a_worker_dies() {
    let run = run("pipeline-worker-killed.yaml");
    let sink = run.replica("sink", 0);
    let kills: Vec<MsgId> = run
        .app_at(sink)
        .into_iter()
        .filter_map(|(_, a)| match a {
            AppEvent::KillSent { id } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(kills.len(), 1, "the sink sent KILL {} times", kills.len());
    assert_eq!(run.sent(sink, "control"), kills);
    let dead = run.replica("worker", 1);
    for worker in run.replicas("worker").into_iter().filter(|w| *w != dead) {
        let got = run.received(worker, "control");
        assert!(got.iter().any(|(_, id)| *id == kills[0]), "{worker:?} never got KILL");
        // A worker stops at KILL: it takes no task after it.
        let killed_at = got[0].0;
        assert!(run.received(worker, "pull").iter().all(|(at, _)| *at <= killed_at));
    }
    // The dead worker's tasks are lost, so the sink collected fewer than were issued.
    let collected = distinct(run.received(sink, "pull").into_iter().map(|(_, id)| id));
    let issued = run
        .app_in("ventilator")
        .into_iter()
        .filter(|(_, a)| matches!(a, AppEvent::TaskIssued { .. }));
    assert_eq!(issued.count(), 100);
    assert!(collected.len() < 100, "nothing was lost with a worker killed");
}

#[test]
fn surveys_collect_timely_responses_and_lose_the_crashed_respondent() {
    let run = run("survey-respondent-crash.yaml");
    let surveyor = run.replica("surveyor", 0);
    let started: Vec<(Duration, MsgId)> = run
        .app_at(surveyor)
        .into_iter()
        .filter_map(|(at, a)| match a {
            AppEvent::SurveyStarted { id } => Some((at, id)),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 10);
    let responses = run.received(surveyor, "survey");
    let deadline = Duration::from_millis(500);
    for (at, id) in &started {
        let answers: Vec<Duration> =
            responses.iter().filter(|(_, got)| got == id).map(|(t, _)| *t).collect();
        assert!(answers.iter().all(|t| *t <= *at + deadline), "survey {id} answered late");
        // Five respondents answer within 300 ms; after the crash at 2 s, only four.
        let expected = if *at >= Duration::from_secs(2) { 4 } else { 5 };
        assert!(answers.len() <= 5);
        if *at >= Duration::from_secs(3) {
            assert_eq!(answers.len(), expected, "survey {id} at {at:?}");
        }
    }
    let crashed = run.replica("respondent", 2);
    let after_crash = run.sent(crashed, "respond").len();
    assert!(after_crash < 10, "the crashed respondent kept answering");
}

#[test]
fn bus_peers_each_receive_every_other_peers_messages_once() {
    let run = run("bus-mesh.yaml");
    let peers = run.replicas("peer");
    // BUS sends only to the peers connected at the moment, so only what goes out once
    // the mesh has formed (its last connection) must reach everyone.
    let meshed_at = run
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Connect { .. }))
        .map(|e| e.at)
        .max()
        .expect("the peers connected");
    let mut sent_at = BTreeMap::new();
    for peer in &peers {
        let sends = run.on(*peer, "bus").filter_map(|e| match e.kind {
            EventKind::Send { msg } => msg.id.map(|id| (id, (*peer, e.at))),
            _ => None,
        });
        sent_at.extend(sends);
    }
    assert_eq!(sent_at.len(), 50 * peers.len());
    for peer in &peers {
        let got: Vec<MsgId> = run.received(*peer, "bus").into_iter().map(|(_, id)| id).collect();
        let ids = distinct(got.iter().copied());
        assert_eq!(got.len(), ids.len(), "{peer:?} received a message twice");
        assert!(ids.iter().all(|id| sent_at[id].0 != *peer), "{peer:?} heard itself");
        let owed = sent_at.iter().filter(|(_, (from, at))| from != peer && *at > meshed_at);
        let owed: BTreeSet<MsgId> = owed.map(|(id, _)| *id).collect();
        assert!(owed.len() >= 140, "the mesh formed too late to test anything");
        assert!(owed.is_subset(&ids), "{peer:?} missed {:?}", owed.difference(&ids));
    }
}

#[test]
fn pair_relay_passes_the_signal_down_the_chain_once() {
    let run = run("pair-relay.yaml");
    let (step1, step2, step3) =
        (run.replica("step1", 0), run.replica("step2", 0), run.replica("step3", 0));
    let first = run.sent(step1, "next");
    assert_eq!(first.len(), 1);
    let at_step2 = run.received(step2, "prev");
    assert_eq!(at_step2.iter().map(|(_, id)| *id).collect::<Vec<_>>(), first);
    assert!(at_step2[0].0 >= Duration::from_millis(100), "step1 ignored start_at");
    let second = run.sent(step2, "next");
    assert_eq!(second.len(), 1);
    let at_step3 = run.received(step3, "prev");
    assert_eq!(at_step3.iter().map(|(_, id)| *id).collect::<Vec<_>>(), second);
}

#[test]
fn gif_front_ends_get_each_reply_and_their_own_announcement() {
    let run = run("gif-service.yaml");
    for frontend in run.replicas("frontend") {
        let app = run.app_at(frontend);
        let issued = app.iter().filter_map(|(_, a)| match a {
            AppEvent::RequestIssued { id } => Some(*id),
            _ => None,
        });
        let issued = distinct(issued);
        let accepted = app.iter().filter_map(|(_, a)| match a {
            AppEvent::ReplyAccepted { id } => Some(*id),
            _ => None,
        });
        assert_eq!(issued.len(), 5, "{frontend:?}");
        assert_eq!(distinct(accepted), issued, "{frontend:?}");
        let announced = distinct(run.received(frontend, "done").into_iter().map(|(_, id)| id));
        assert!(issued.is_subset(&announced), "{frontend:?} missed its own announcement");
    }
}
