//! `subscription_delivery`: every message published while a subscriber's matching
//! subscription was in effect reaches that subscriber exactly once.
//!
//! Publishes are the publishers' `AppEvent::Published { id, topic }` when the trace
//! has any, else every `Send` with an id at a PUB or XPUB socket (topic unknown: only
//! the empty prefix matches it). A subscriber receives an id by a `Receive` carrying
//! it or, for a multipart envelope whose id the socket trace cannot see, by its
//! design's `AppEvent::PartsReceived`. A subscriber is a SUB or XSUB socket; its own
//! `Subscription { pipe: None }` events give its prefixes over time, its `Connect`
//! and `Disconnect` whether it is connected (a socket whose trace shows no `Connect`
//! at all is taken as connected), and a kill or crash of its node clears both. A
//! publish is *expected* at a subscriber when one of its prefixes matches the topic
//! and it is connected at that point of the trace.
//!
//! Expected publishes fall into windows: a window ends whenever the subscriber loses
//! something (a prefix cancelled, a pipe down, its process killed), and a publisher's
//! window whenever its process is killed or crashed (its next incarnation's PUB knows
//! no subscription until one reaches it again, through any device on the way). In a
//! window the subscription reaches the publisher some time after it takes effect, and
//! until then the publisher does not send to it: the slow joiner
//! (docs/library-semantics.md). The
//! trace does not name the peer of a pipe, so the checker reads the moment of reach
//! from the first message that got through: expected publishes before the first one
//! received in a window are slow-joiner losses, counted in the note and not
//! violations. After it every expected publish must arrive; a gap is a violation. A
//! loss at the end of a window the subscriber left is counted as in flight when it
//! left; at the end of a window still open when the run ended it is a violation if
//! the liveness phase ran and in flight (making an otherwise clean run `Unknown`) if
//! not. A window in which nothing got through has only slow-joiner losses: the note
//! counts such windows. Any second receive of a published id is a violation.
//!
//! The slow joiner has a first half too: a subscriber incarnation is on its way in
//! from its first event (its process started, or its connect was issued) until the
//! first publish it expects. Publishes in that span that its subscription, once
//! made, matches were lost because it had not subscribed yet; they are slow-joiner
//! losses as well, counted apart in the note. Slow-joiner losses are `allowed` by
//! default (the ZeroMQ guide calls them expected behaviour); `slow_joiners:
//! violation` makes each subscriber's count one violation, dated at its first loss.
//!
//! A trace with no subscriber, or in which nothing was published while a
//! subscriber was running with a matching subscription or on its way to one, is
//! `Unknown`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::plan::{FaultKind, ParamValue, Replica};
use crate::socket::{PipeId, SocketType};
use crate::trace::{AppEvent, EventKind, MsgId, SocketIndex};
use crate::vocab::{Param, ParamDefault, ParamKind};

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, any_socket, requires};

pub const NAME: &str = "subscription_delivery";

const SLOW_JOINERS: Param = Param {
    name: "slow_joiners",
    kind: ParamKind::OneOf(&["allowed", "violation"]),
    default: ParamDefault::Value("allowed"),
    doc: "whether messages lost before a subscription took effect (the slow joiner: published after the subscriber started or connected) are `allowed`, counted and reported (the default: the ZeroMQ guide calls them expected), or each seed's count is a `violation`",
};

/// `subscription_delivery` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "every message published while a subscriber's matching subscription was in effect reaches it exactly once";
    Invariant::new(NAME, summary, check).param(SLOW_JOINERS).applies(|t, _| {
        requires(
            any_socket(t, &[SocketType::Sub, SocketType::XSub]),
            "no node has a SUB or XSUB socket",
        )
    })
}

type SocketKey = (Replica, Option<SocketIndex>);

/// Something that changed what a subscriber socket receives, at a trace index.
#[derive(Debug)]
enum Change {
    Prefix {
        prefix: String,
        on: bool,
    },
    Up(PipeId),
    Down(PipeId),
    /// Its process was killed or crashed.
    Reset,
}

#[derive(Debug, Default)]
struct Subscriber {
    changes: Vec<(usize, Change)>,
    /// Whether any `Connect` was seen; if not, connection is not judged.
    saw_connect: bool,
    /// Receives of ids, with when.
    received: BTreeMap<MsgId, Vec<Duration>>,
    /// Receives the design reported (`PartsReceived`), merged into `received` once
    /// the trace is read.
    app_received: BTreeMap<MsgId, Vec<Duration>>,
}

#[derive(Debug)]
struct Publish {
    index: usize,
    at: Duration,
    node: Replica,
    /// How many kills or crashes of `node` came before: its process's incarnation.
    incarnation: usize,
    id: MsgId,
    topic: Option<String>,
}

/// What a subscriber holds at one point of the trace.
#[derive(Debug, Default)]
struct State {
    prefixes: BTreeSet<String>,
    up: BTreeSet<PipeId>,
    /// Bumped whenever the subscriber loses something: a new window begins.
    window: u64,
}

impl State {
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Prefix { prefix, on: true } => {
                self.prefixes.insert(prefix.clone());
            }
            Change::Prefix { prefix, on: false } => {
                self.prefixes.remove(prefix);
                self.window += 1;
            }
            Change::Up(pipe) => {
                self.up.insert(*pipe);
            }
            Change::Down(pipe) => {
                self.up.remove(pipe);
                self.window += 1;
            }
            Change::Reset => {
                *self = State { window: self.window + 1, ..State::default() };
            }
        }
    }

    fn expects(&self, topic: Option<&str>, judge_connection: bool) -> bool {
        let matches = match topic {
            Some(topic) => self.prefixes.iter().any(|p| topic.starts_with(p.as_str())),
            None => self.prefixes.contains(""),
        };
        matches && (!judge_connection || !self.up.is_empty())
    }
}

/// A subscriber incarnation on its way in: from its first event (the process
/// started, or its connect was issued) until the first publish it expects, publishes
/// it could not expect yet are held here; those its subscription turns out to match
/// were lost to the slow joiner.
#[derive(Debug, Default)]
struct Joining<'p> {
    started: bool,
    joined: bool,
    pending: Vec<&'p Publish>,
    /// The slow-joiner losses counted so far, with the first one's time.
    lost: u64,
    first_lost_at: Option<Duration>,
}

impl<'p> Joining<'p> {
    /// Counts the pending publishes that `state`'s prefixes match, and forgets them.
    fn settle(&mut self, state: &State) {
        let mut kept = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            if state.expects(p.topic.as_deref(), false) {
                self.lost += 1;
                self.first_lost_at.get_or_insert(p.at);
            } else {
                kept.push(p);
            }
        }
        self.pending = kept;
    }

    fn on_change(&mut self, change: &Change, state: &State) {
        match change {
            // A new incarnation starts with its own first event.
            Change::Reset => {
                self.started = false;
                self.joined = false;
                self.pending.clear();
            }
            Change::Prefix { on: true, .. } if !self.joined => {
                self.started = true;
                self.settle(state);
            }
            _ => self.started = true,
        }
    }

    fn on_publish(&mut self, publish: &'p Publish, expected: bool, state: &State) {
        if expected && !self.joined {
            self.settle(state);
            self.joined = true;
            self.pending.clear();
        } else if !expected && self.started && !self.joined {
            self.pending.push(publish);
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    expected: u64,
    delivered: u64,
    /// Expected publishes lost before the first one got through in their window.
    slow_joiner: u64,
    /// Publishes lost after the subscriber started or connected but before it
    /// subscribed to them: the other half of the slow joiner.
    before_subscribing: u64,
    left_in_flight: u64,
    end_in_flight: u64,
    silent_windows: u64,
}

pub fn check(input: &CheckInput) -> Outcome {
    let (subscribers, publishes) = collect(input);
    if subscribers.is_empty() {
        return Outcome::unknown(NAME, "no subscriber in the trace: nothing to check");
    }
    let mut tally = Tally::default();
    let mut violations = Vec::new();
    for (key, sub) in &subscribers {
        judge(input, *key, sub, &publishes, &mut tally, &mut violations);
    }
    if tally.expected == 0 && tally.before_subscribing == 0 && violations.is_empty() {
        return Outcome::unknown(
            NAME,
            format!(
                "{} publishes, none while a subscriber was running with a matching subscription or on its way to one: nothing to check",
                publishes.len()
            ),
        );
    }
    let note = format!(
        "{} publishes, {} expected deliveries, {} delivered; slow-joiner losses: {} ({} before the subscription was made, {} before it reached the publisher); lost in flight when a subscriber left: {}; windows in which nothing got through: {}",
        publishes.len(),
        tally.expected,
        tally.delivered,
        tally.before_subscribing + tally.slow_joiner,
        tally.before_subscribing,
        tally.slow_joiner,
        tally.left_in_flight,
        tally.silent_windows
    );
    if tally.end_in_flight > 0 && violations.is_empty() {
        let why = format!(
            "{note}; {} expected deliveries were still missing when the run ended before its liveness phase",
            tally.end_in_flight
        );
        return Outcome::unknown(NAME, why);
    }
    Outcome::from_violations(NAME, violations).with_note(note)
}

/// Reads every subscriber socket's changes and receives, and every publish.
fn collect(input: &CheckInput) -> (BTreeMap<SocketKey, Subscriber>, Vec<Publish>) {
    let is = |node, socket, types: &[SocketType]| {
        input.socket_type(node, socket).is_some_and(|t| types.contains(&t))
    };
    let app_publishes =
        input.trace.iter().any(|e| matches!(e.kind, EventKind::App(AppEvent::Published { .. })));
    let mut subscribers: BTreeMap<SocketKey, Subscriber> = BTreeMap::new();
    let mut publishes = Vec::new();
    // A publisher's incarnation: how many times its process ended before.
    let ends = input.process_ends();
    let incarnation = |node: Replica, at: Duration| ends.of(node).filter(|&t| t < at).count();
    for (index, event) in input.trace.iter().enumerate() {
        if let EventKind::FaultBegin { fault, .. } = event.kind {
            let Some(f) = input.plan.faults.get(fault as usize) else { continue };
            if !matches!(f.kind, FaultKind::Kill | FaultKind::Crash) {
                continue;
            }
            for ((node, _), sub) in subscribers.iter_mut() {
                if f.nodes.iter().any(|s| s.picks(*node)) {
                    sub.changes.push((index, Change::Reset));
                }
            }
            continue;
        }
        let Some(node) = event.node else { continue };
        match &event.kind {
            EventKind::App(AppEvent::PartsReceived { id, .. }) => {
                // A multipart envelope's id is in a later frame, which the socket
                // trace cannot see: the subscriber's own report is its receive.
                let group = input.plan.topology.groups.get(node.group.0 as usize);
                let sockets = group.map_or(0, |g| g.sockets.len());
                for socket in (0..sockets).filter_map(|s| SocketIndex::try_from(s).ok()) {
                    if is(node, Some(socket), &[SocketType::Sub, SocketType::XSub]) {
                        let sub = subscribers.entry((node, Some(socket))).or_default();
                        sub.app_received.entry(*id).or_default().push(event.at);
                    }
                }
            }
            EventKind::App(AppEvent::Published { id, topic }) => publishes.push(Publish {
                index,
                at: event.at,
                node,
                incarnation: incarnation(node, event.at),
                id: *id,
                topic: Some(topic.clone()),
            }),
            EventKind::Send { msg }
                if !app_publishes
                    && is(node, event.socket, &[SocketType::Pub, SocketType::XPub]) =>
            {
                if let Some(id) = msg.id {
                    let incarnation = incarnation(node, event.at);
                    publishes.push(Publish {
                        index,
                        at: event.at,
                        node,
                        incarnation,
                        id,
                        topic: None,
                    });
                }
            }
            kind if is(node, event.socket, &[SocketType::Sub, SocketType::XSub]) => {
                let sub = subscribers.entry((node, event.socket)).or_default();
                let change = match kind {
                    EventKind::Subscription { pipe: None, prefix, on } => {
                        Change::Prefix { prefix: prefix.clone(), on: *on }
                    }
                    EventKind::Connect { pipe, .. } => {
                        sub.saw_connect = true;
                        Change::Up(*pipe)
                    }
                    EventKind::Disconnect { pipe, .. } => Change::Down(*pipe),
                    EventKind::Receive { msg: crate::trace::MsgInfo { id: Some(id), .. } } => {
                        sub.received.entry(*id).or_default().push(event.at);
                        continue;
                    }
                    _ => continue,
                };
                sub.changes.push((index, change));
            }
            _ => {}
        }
    }
    // A single-part message is seen twice, by the socket's `Receive` and by the
    // design's `PartsReceived`, at the same instant in simulation but microseconds
    // apart on a real network; a multipart one only by the design. Whichever saw
    // more receives of an id is the count.
    for sub in subscribers.values_mut() {
        for (id, times) in std::mem::take(&mut sub.app_received) {
            let socket = sub.received.entry(id).or_default();
            if times.len() > socket.len() {
                *socket = times;
            }
        }
    }
    (subscribers, publishes)
}

/// One subscriber's slow-joiner losses, before and after it subscribed.
struct SlowJoiner {
    lost: u64,
    first_at: Option<Duration>,
}

impl SlowJoiner {
    fn add(&mut self, lost: u64, at: Option<Duration>) {
        self.lost += lost;
        if let Some(at) = at {
            self.first_at = Some(self.first_at.map_or(at, |t| t.min(at)));
        }
    }
}

/// Judges one subscriber against every publish.
fn judge(
    input: &CheckInput,
    (node, socket): SocketKey,
    sub: &Subscriber,
    publishes: &[Publish],
    tally: &mut Tally,
    violations: &mut Vec<Violation>,
) {
    let slow_joiners_violate =
        input.params.get("slow_joiners") == Some(&ParamValue::Text("violation".to_owned()));
    let name = input.socket_name(node, socket);
    // The expected publishes, by (publisher, its incarnation, window), in publish
    // order.
    let mut windows: BTreeMap<(Replica, usize, u64), Vec<&Publish>> = BTreeMap::new();
    let mut state = State::default();
    let mut joining = Joining::default();
    let mut next = 0;
    for publish in publishes {
        while let Some((index, change)) = sub.changes.get(next)
            && *index < publish.index
        {
            state.apply(change);
            joining.on_change(change, &state);
            next += 1;
        }
        let expected = state.expects(publish.topic.as_deref(), sub.saw_connect);
        joining.on_publish(publish, expected, &state);
        if expected {
            let key = (publish.node, publish.incarnation, state.window);
            windows.entry(key).or_default().push(publish);
        }
    }
    for (_, change) in &sub.changes[next..] {
        state.apply(change);
        joining.on_change(change, &state);
    }
    tally.before_subscribing += joining.lost;
    let mut slow = SlowJoiner { lost: joining.lost, first_at: joining.first_lost_at };
    let final_window = state.window;

    for ((_, _, window), expected) in &windows {
        tally.expected += expected.len() as u64;
        let got = |p: &Publish| sub.received.contains_key(&p.id);
        let Some(first) = expected.iter().position(|p| got(p)) else {
            tally.slow_joiner += expected.len() as u64;
            tally.silent_windows += 1;
            slow.add(expected.len() as u64, expected.first().map(|p| p.at));
            continue;
        };
        let last = expected.iter().rposition(|p| got(p)).expect("one was received");
        tally.slow_joiner += first as u64;
        slow.add(first as u64, expected.first().filter(|_| first > 0).map(|p| p.at));
        for (i, publish) in expected.iter().enumerate().skip(first) {
            if got(publish) {
                tally.delivered += 1;
                continue;
            }
            let lost = format!(
                "message {} published at {} by {} while {name}'s subscription was in effect never reached it",
                publish.id,
                dur(publish.at),
                input.node_name(publish.node)
            );
            if i < last {
                let text = format!("{lost}, though later messages did");
                violations.push(Violation::new(publish.at, Some(node), text));
            } else if *window != final_window {
                tally.left_in_flight += 1;
            } else if input.trace.healed_at.is_some() {
                let text = format!("{lost} (run ended at {})", dur(input.end()));
                violations.push(Violation::new(publish.at, Some(node), text));
            } else {
                tally.end_in_flight += 1;
            }
        }
    }

    if slow_joiners_violate
        && slow.lost > 0
        && let Some(at) = slow.first_at
    {
        let text = format!(
            "{name} lost {} messages before its subscription took effect (slow joiner; a violation because `slow_joiners: violation`)",
            slow.lost
        );
        violations.push(Violation::new(at, Some(node), text));
    }
    let published: BTreeMap<MsgId, &Publish> = publishes.iter().map(|p| (p.id, p)).collect();
    for (id, times) in &sub.received {
        let Some(publish) = published.get(id) else { continue };
        for again in &times[1..] {
            violations.push(Violation::new(
                *again,
                Some(node),
                format!(
                    "message {id} published at {} by {} reached {name} twice: at {} and again at {}",
                    dur(publish.at),
                    input.node_name(publish.node),
                    dur(times[0]),
                    dur(*again), id = input.msg_name(id)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{
        at, ms, msg, node, node_fault, plan_with, run, run_event, texts, trace,
    };
    use crate::plan::{ParamValue, ScenarioPlan};
    use crate::trace::TraceEvent;

    /// One `publisher` (PUB) and two `subscriber`s (SUB); subscriber.1 is killed at
    /// 900ms if the trace says so.
    fn pubsub() -> ScenarioPlan {
        let mut plan = plan_with(&[
            ("publisher", 1, &[SocketType::Pub]),
            ("subscriber", 2, &[SocketType::Sub]),
        ]);
        plan.faults = vec![node_fault(FaultKind::Kill, ms(900), node(1, 1))];
        plan
    }

    fn publish(t: u64, id: MsgId) -> TraceEvent {
        at(ms(t), node(0, 0), Some(0), EventKind::Send { msg: msg(Some(id), None) })
    }

    fn sub_event(t: u64, sub: u32, kind: EventKind) -> TraceEvent {
        at(ms(t), node(1, sub), Some(0), kind)
    }

    /// Subscriber `sub` subscribes to everything and connects at `t`.
    fn join(t: u64, sub: u32) -> [TraceEvent; 2] {
        [
            sub_event(
                t,
                sub,
                EventKind::Subscription { pipe: None, prefix: String::new(), on: true },
            ),
            sub_event(t, sub, EventKind::Connect { pipe: 1, peer: None }),
        ]
    }

    fn receive(t: u64, sub: u32, id: MsgId) -> TraceEvent {
        sub_event(t, sub, EventKind::Receive { msg: msg(Some(id), None) })
    }

    fn outcome(events: Vec<TraceEvent>, healed_at: Option<u64>) -> Outcome {
        run(check, &trace(events, healed_at.map(ms), ms(5000)), &pubsub())
    }

    #[test]
    fn passes_when_every_subscriber_gets_every_message_after_it_joined() {
        let mut events = vec![publish(0, 1)];
        events.extend(join(5, 0));
        events.extend(join(5, 1));
        events.extend([publish(10, 2), receive(11, 0, 2), receive(12, 1, 2)]);
        events.extend([publish(20, 3), receive(21, 0, 3), receive(22, 1, 3)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some(
                "3 publishes, 4 expected deliveries, 4 delivered; slow-joiner losses: 0 (0 before the subscription was made, 0 before it reached the publisher); lost in flight when a subscriber left: 0; windows in which nothing got through: 0"
            )
        );
    }

    #[test]
    fn a_slow_joiner_loss_is_counted_but_not_a_violation() {
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), publish(20, 2), publish(30, 3), receive(31, 0, 3)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert!(outcome.note.as_deref().is_some_and(|n| n.contains("slow-joiner losses: 2")));
    }

    #[test]
    fn slow_joiner_losses_are_violations_when_the_scenario_counts_them() {
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), publish(20, 2), publish(30, 3), receive(31, 0, 3)]);
        let trace = trace(events, Some(ms(1000)), ms(5000));
        let outcome = check_violating(&trace);
        assert_eq!(outcome.verdict, Verdict::Fail, "{outcome:?}");
        assert_eq!(
            texts(&outcome),
            [
                "subscriber.0.sub lost 2 messages before its subscription took effect (slow joiner; a violation because `slow_joiners: violation`)"
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(10), "dated at the first loss");
    }

    /// The outcome with `slow_joiners: violation`.
    fn check_violating(trace: &crate::trace::Trace) -> Outcome {
        let params =
            BTreeMap::from([("slow_joiners".to_owned(), ParamValue::Text("violation".into()))]);
        check(&CheckInput { trace, plan: &pubsub(), params: &params })
    }

    /// Subscriber `sub` has started and connected at `t`, subscribed to nothing yet.
    fn connect(t: u64, sub: u32) -> TraceEvent {
        sub_event(t, sub, EventKind::Connect { pipe: 1, peer: None })
    }

    fn subscribe(t: u64, sub: u32) -> TraceEvent {
        sub_event(t, sub, EventKind::Subscription { pipe: None, prefix: String::new(), on: true })
    }

    #[test]
    fn publishes_between_a_subscriber_s_connect_and_its_subscription_are_slow_joiner_losses() {
        let events = vec![
            connect(0, 0),
            publish(10, 1),
            publish(20, 2),
            subscribe(25, 0),
            publish(30, 3),
            receive(31, 0, 3),
        ];
        let outcome = outcome(events.clone(), Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        let note = outcome.note.as_deref().unwrap_or_default();
        assert!(note.contains("slow-joiner losses: 2 (2 before the subscription was made, 0 before it reached the publisher)"), "{note}");
        let failing = check_violating(&trace(events, Some(ms(1000)), ms(5000)));
        assert_eq!(failing.verdict, Verdict::Fail, "{failing:?}");
        assert_eq!(failing.violations[0].at, ms(10));
    }

    #[test]
    fn a_subscriber_that_joins_after_the_last_publish_is_judged_not_unknown() {
        // Regression: every publish came before the late subscription, so none was
        // "expected" and the checker answered unknown however the join was written.
        let events = vec![connect(0, 0), publish(10, 1), publish(20, 2), subscribe(500, 0)];
        let outcome = outcome(events.clone(), Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert!(
            outcome.note.as_deref().is_some_and(|n| n.contains("slow-joiner losses: 2 (2 before")),
            "{outcome:?}"
        );
        let failing = check_violating(&trace(events, Some(ms(1000)), ms(5000)));
        assert_eq!(
            texts(&failing),
            [
                "subscriber.0.sub lost 2 messages before its subscription took effect (slow joiner; a violation because `slow_joiners: violation`)"
            ]
        );
    }

    #[test]
    fn publishes_before_a_subscriber_started_or_to_other_topics_are_not_slow_joiner_losses() {
        // Nothing of subscriber.0 exists before 500ms: there was truly nothing to judge.
        let events = vec![publish(10, 1), publish(20, 2), connect(500, 0), subscribe(500, 0)];
        assert_eq!(outcome(events, Some(1000)).verdict, Verdict::Unknown);
        let sub =
            |prefix: &str| EventKind::Subscription { pipe: None, prefix: prefix.into(), on: true };
        let published = |t, id, topic: &str| {
            at(
                ms(t),
                node(0, 0),
                None,
                EventKind::App(AppEvent::Published { id, topic: topic.into() }),
            )
        };
        let events = vec![
            connect(0, 0),
            published(10, 1, "sport"),
            published(20, 2, "weather.oslo"),
            sub_event(30, 0, sub("weather")),
            published(40, 3, "weather.rome"),
            receive(41, 0, 3),
        ];
        let outcome = outcome(events, Some(1000));
        let note = outcome.note.as_deref().unwrap_or_default();
        assert!(
            note.contains("slow-joiner losses: 1 (1 before"),
            "only weather.oslo matched: {note}"
        );
    }

    #[test]
    fn a_lost_publish_after_the_subscription_reached_the_publisher_is_a_violation() {
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), receive(11, 0, 1), publish(20, 2), publish(30, 3)]);
        events.extend([receive(31, 0, 3), publish(40, 4)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "message 2 published at 20ms by publisher.0 while subscriber.0.sub's subscription was in effect never reached it, though later messages did",
                "message 4 published at 40ms by publisher.0 while subscriber.0.sub's subscription was in effect never reached it (run ended at 5s)",
            ]
        );
    }

    #[test]
    fn a_message_in_flight_when_the_subscriber_was_killed_is_counted_not_blamed() {
        let mut events = join(0, 1).to_vec();
        events.extend([publish(10, 1), receive(11, 1, 1), publish(890, 2)]);
        events.push(run_event(ms(900), EventKind::FaultBegin { fault: 0, touched: 1 }));
        events.push(publish(950, 3));
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert!(outcome.note.as_deref().is_some_and(|n| n.contains("left: 1")), "{outcome:?}");
    }

    /// A restarted publisher's PUB knows no subscription until one reaches it again
    /// (through a FORWARDER's XSUB, when the device resubscribes): what it published
    /// before then was lost to the slow joiner, not a gap in a window.
    #[test]
    fn a_restarted_publisher_starts_a_new_window() {
        let mut plan = pubsub();
        plan.faults = vec![node_fault(FaultKind::Kill, ms(100), node(0, 0))];
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), receive(11, 0, 1)]);
        events.push(run_event(ms(100), EventKind::FaultBegin { fault: 0, touched: 1 }));
        // Back at 110ms: 2 goes out before the subscription reaches the new PUB.
        events.extend([publish(110, 2), publish(120, 3), receive(121, 0, 3)]);
        let outcome = run(check, &trace(events, Some(ms(1000)), ms(5000)), &plan);
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        let note = outcome.note.unwrap_or_default();
        assert!(note.contains("slow-joiner losses: 1 (0 before the subscription was made, 1 before it reached the publisher)"), "{note}");
    }

    #[test]
    fn a_duplicate_is_a_violation() {
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), receive(11, 0, 1), receive(12, 0, 1)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(
            texts(&outcome),
            [
                "message publisher.0#1 published at 10ms by publisher.0 reached subscriber.0.sub twice: at 11ms and again at 12ms"
            ]
        );
    }

    #[test]
    fn topics_from_published_events_are_matched_against_prefixes() {
        let sub =
            |prefix: &str| EventKind::Subscription { pipe: None, prefix: prefix.into(), on: true };
        let published = |t, id, topic: &str| {
            let kind = EventKind::App(AppEvent::Published { id, topic: topic.into() });
            at(ms(t), node(0, 0), None, kind)
        };
        let events = vec![
            sub_event(0, 0, sub("weather")),
            published(10, 1, "weather.paris"),
            receive(11, 0, 1),
            published(20, 2, "sport"),
            published(30, 3, "weather.oslo"),
        ];
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violations.len(), 1, "only weather.oslo was expected: {outcome:?}");
        assert!(texts(&outcome)[0].starts_with("message 3 "));
    }

    #[test]
    fn a_multipart_receive_is_read_from_the_subscriber_s_parts_report() {
        let parts = |t, id| {
            let kind = EventKind::App(AppEvent::PartsReceived { id, parts: 2, expected: 2 });
            at(ms(t), node(1, 0), None, kind)
        };
        let bare = EventKind::Receive { msg: msg(None, None) };
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), sub_event(11, 0, bare.clone()), parts(11, 1)]);
        events.extend([publish(20, 2), publish(30, 3), sub_event(31, 0, bare), parts(31, 3)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.violations.len(), 1, "{outcome:?}");
        assert!(texts(&outcome)[0].starts_with("message 2 "));
    }

    #[test]
    fn a_receive_the_socket_and_the_design_both_report_counts_once_even_apart_in_time() {
        let parts = |t, id| {
            let kind = EventKind::App(AppEvent::PartsReceived { id, parts: 1, expected: 1 });
            at(ms(t), node(1, 0), None, kind)
        };
        // On a real network the design's report trails the socket's by microseconds
        // (here a millisecond); a second socket receive is still a duplicate.
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), receive(11, 0, 1), parts(12, 1)]);
        events.extend([publish(20, 2), receive(21, 0, 2), parts(22, 2), receive(23, 0, 2)]);
        let outcome = outcome(events, Some(1000));
        assert_eq!(outcome.violations.len(), 1, "{outcome:?}");
        assert!(texts(&outcome)[0].starts_with("message publisher.0#2 "), "{outcome:?}");
    }

    #[test]
    fn no_subscriber_is_unknown_and_a_missing_tail_without_liveness_is_unknown() {
        assert_eq!(outcome(vec![publish(0, 1)], Some(1000)).verdict, Verdict::Unknown);
        let mut events = join(0, 0).to_vec();
        events.extend([publish(10, 1), receive(11, 0, 1), publish(20, 2)]);
        assert_eq!(outcome(events, None).verdict, Verdict::Unknown);
    }
}
