//! `fanout_correct`: each message a comet user sends reaches exactly the followers of
//! its sender who were logged in, as the router saw it, when the router routed it.
//!
//! The follower graph is rebuilt from the plan: the `comet-manager` node's `users`,
//! `edges_per_user` and `graph_seed` (its catalogue defaults where it gives none),
//! through the same `FollowerGraph::barabasi_albert` the manager answers from, so the
//! router and the manager are both judged, neither trusted. User `u` is replica `u`
//! of the `comet-user` node. Who is logged in is the router's own record, in trace
//! order: `CometLogin` and `CometLogout` (a kill or crash of the router empties its
//! view, as its restart starts with an empty table). A message is routed at the
//! router's `CometRouted`, which it records before sending; the followers logged in
//! at that point of the trace are the message's expected receivers. A user receives
//! a message by a `Receive` carrying its id on any of its sockets.
//!
//! Violations: an expected receiver that never got the message (when it later got
//! another message the router sent it after this one, the pipe being FIFO, or when
//! the message was routed before the heal, so the whole liveness phase had to
//! deliver it); a user that got a message while logged out or without following the
//! sender; a user that got one message twice; a message a user got that the router
//! never routed; a message a user sent (`Published`) before the heal that the router
//! never routed. Anything else still missing when the run ended is in flight, counted
//! in the note; it makes an otherwise clean run `Unknown` only when there was no
//! liveness phase. A trace with nothing routed to anyone logged in is `Unknown`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::plan::follower_graph::FollowerGraph;
use crate::plan::{FaultKind, GroupId, ParamValue, Replica, ScenarioPlan};
use crate::trace::{AppEvent, EventKind, MsgId};
use crate::vocab::Role;

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, any_role, requires};

pub const NAME: &str = "fanout_correct";

/// `fanout_correct` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "each message reaches exactly the followers of its sender who were logged in when the router routed it";
    let reason = "no node routes to dynamic receivers (no design with the router role, such as `comet-router`)";
    Invariant::new(NAME, summary, check)
        .applies(move |t, r| requires(any_role(t, r, Role::Router), reason))
}

/// The design whose node holds the follower graph's parameters.
const MANAGER_DESIGN: &str = "comet-manager";
/// The design whose replicas are the users, by index.
const USER_DESIGN: &str = "comet-user";

/// One routing decision.
#[derive(Debug)]
struct Routed {
    /// Position in the trace, to order deliveries to one user.
    index: usize,
    at: Duration,
    from: u32,
    /// Followers of `from` logged in at that point, ascending.
    expected: Vec<u32>,
}

/// When a user received one message: the first time, then any again (a duplicate).
#[derive(Debug)]
struct Receipts {
    first: Duration,
    /// Empty, and not allocated, unless the message came more than once.
    again: Vec<Duration>,
}

/// What the trace says, gathered in one pass.
#[derive(Debug, Default)]
struct Gathered {
    routed: BTreeMap<MsgId, Routed>,
    /// Messages users sent, with when and by whom.
    published: BTreeMap<MsgId, (Duration, u32)>,
    /// Per user and id, when the user received it. One flat map, not a map per user
    /// of vectors: at a million users there are millions of receives, and a nested
    /// map and a one-element vector cost about twice the bytes per receive.
    received: BTreeMap<(u32, MsgId), Receipts>,
    /// Followers skipped as logged out, over every routing decision.
    skipped: u64,
    logins: u64,
    logouts: u64,
    violations: Vec<Violation>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let Some(graph) = follower_graph(input.plan) else {
        let why = format!("no `{MANAGER_DESIGN}` node: the follower graph cannot be rebuilt");
        return Outcome::unknown(NAME, why);
    };
    let Some(users) = group_running(input.plan, USER_DESIGN) else {
        return Outcome::unknown(NAME, format!("no `{USER_DESIGN}` node: nobody to deliver to"));
    };
    let mut g = gather(input, &graph, users);
    if g.routed.is_empty() && g.published.is_empty() && g.received.is_empty() {
        return Outcome::unknown(
            NAME,
            "no user sent and the router routed nothing: nothing to check",
        );
    }
    let user = |u: u32| Replica { group: users, index: u };
    let mut tally = Tally { skipped: g.skipped, ..Tally::default() };
    let mut violations = std::mem::take(&mut g.violations);
    judge_expected(input, &g, user, &mut tally, &mut violations);
    judge_received(input, &g, &graph, user, &mut violations);
    judge_unrouted(input, &g, user, &mut tally, &mut violations);
    let note = format!(
        "{} messages routed, {} expected deliveries, {} delivered, {} skipped as logged out; {} still in flight at the end; the router saw {} logins and {} logouts",
        g.routed.len(),
        tally.expected,
        tally.delivered,
        tally.skipped,
        tally.in_flight,
        g.logins,
        g.logouts
    );
    if tally.expected == 0 && violations.is_empty() {
        let why = format!("{note}: no message had a logged-in follower, nothing to check");
        return Outcome::unknown(NAME, why);
    }
    if tally.in_flight > 0 && violations.is_empty() && input.trace.healed_at.is_none() {
        let why = format!("{note}; the run had no liveness phase to deliver them");
        return Outcome::unknown(NAME, why);
    }
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[derive(Debug, Default)]
struct Tally {
    expected: u64,
    delivered: u64,
    skipped: u64,
    in_flight: u64,
}

/// The first group running `design`.
fn group_running(plan: &ScenarioPlan, design: &str) -> Option<GroupId> {
    plan.topology.groups.iter().find(|g| g.design == design).map(|g| g.id)
}

/// The manager's graph, from its parameters and the catalogue's defaults.
fn follower_graph(plan: &ScenarioPlan) -> Option<FollowerGraph> {
    let manager = plan.topology.group(group_running(plan, MANAGER_DESIGN)?);
    let count = |name: &str, default: u64| match manager.params.get(name) {
        Some(ParamValue::Count(n)) => *n,
        Some(ParamValue::Raw(s) | ParamValue::Text(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    };
    let users = count("users", 0).min(u64::from(u32::MAX)) as u32;
    let m = count("edges_per_user", 3).min(u64::from(u32::MAX)) as u32;
    Some(FollowerGraph::barabasi_albert(users, m, count("graph_seed", 1)))
}

fn followers(graph: &FollowerGraph, user: u32) -> &[u32] {
    if user < graph.users() { graph.followers(user) } else { &[] }
}

/// Walks the trace once: the router's view, its routing decisions, what users sent
/// and what they received.
fn gather(input: &CheckInput, graph: &FollowerGraph, users: GroupId) -> Gathered {
    let mut g = Gathered::default();
    // Each router's view of who is logged in.
    let mut online: BTreeMap<Replica, BTreeSet<u32>> = BTreeMap::new();
    for (index, event) in input.trace.iter().enumerate() {
        if let EventKind::FaultBegin { fault, .. } = event.kind {
            let ends = input
                .plan
                .faults
                .get(fault as usize)
                .filter(|f| matches!(f.kind, FaultKind::Kill | FaultKind::Crash));
            if let Some(f) = ends {
                online.retain(|router, _| !f.nodes.iter().any(|s| s.picks(*router)));
            }
            continue;
        }
        let Some(node) = event.node else { continue };
        match &event.kind {
            EventKind::App(AppEvent::CometLogin { user }) => {
                g.logins += 1;
                online.entry(node).or_default().insert(*user);
            }
            EventKind::App(AppEvent::CometLogout { user }) => {
                g.logouts += 1;
                online.entry(node).or_default().remove(user);
            }
            EventKind::App(AppEvent::CometRouted { id, from, .. }) => {
                let view = online.get(&node);
                let expected = followers(graph, *from)
                    .iter()
                    .copied()
                    .filter(|f| view.is_some_and(|v| v.contains(f)))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>();
                g.skipped += (followers(graph, *from).len() - expected.len()) as u64;
                let routed = Routed { index, at: event.at, from: *from, expected };
                if g.routed.insert(*id, routed).is_some() {
                    let text = format!(
                        "{} routed message {id} from user {from} a second time at {}",
                        input.node_name(node),
                        dur(event.at),
                        id = input.msg_name(id)
                    );
                    g.violations.push(Violation::new(event.at, Some(node), text));
                }
            }
            EventKind::App(AppEvent::Published { id, .. }) if node.group == users => {
                g.published.insert(*id, (event.at, node.index));
            }
            EventKind::Receive { msg } if node.group == users => {
                if let Some(id) = msg.id {
                    g.received
                        .entry((node.index, id))
                        .and_modify(|r| r.again.push(event.at))
                        .or_insert(Receipts { first: event.at, again: Vec::new() });
                }
            }
            _ => {}
        }
    }
    g
}

/// Every expected receiver of every routed message got it, or it is in flight.
fn judge_expected(
    input: &CheckInput,
    g: &Gathered,
    user: impl Fn(u32) -> Replica,
    tally: &mut Tally,
    violations: &mut Vec<Violation>,
) {
    // Per user, the messages routed to it, in routing order (the pipe's order).
    let mut per_user: BTreeMap<u32, Vec<(usize, MsgId)>> = BTreeMap::new();
    for (id, routed) in &g.routed {
        for &v in &routed.expected {
            per_user.entry(v).or_default().push((routed.index, *id));
        }
    }
    for (v, list) in per_user.iter_mut() {
        list.sort_unstable();
        let has = |id: &MsgId| g.received.contains_key(&(*v, *id));
        let last = list.iter().rposition(|(_, id)| has(id));
        for (i, (_, id)) in list.iter().enumerate() {
            tally.expected += 1;
            if has(id) {
                tally.delivered += 1;
                continue;
            }
            let routed = &g.routed[id];
            let lost = format!(
                "message {id} from user {} routed at {} never reached {}, a follower logged in then",
                routed.from,
                dur(routed.at),
                input.node_name(user(*v)),
                id = input.msg_name(id)
            );
            let text = if last.is_some_and(|l| i < l) {
                format!("{lost}, though later messages routed to it did")
            } else if input.trace.healed_at.is_some_and(|h| routed.at <= h) {
                format!("{lost} (run ended at {})", dur(input.end()))
            } else {
                tally.in_flight += 1;
                continue;
            };
            violations.push(Violation::new(routed.at, Some(user(*v)), text));
        }
    }
}

/// Every message a user got was routed to it, while it was logged in, once.
fn judge_received(
    input: &CheckInput,
    g: &Gathered,
    graph: &FollowerGraph,
    user: impl Fn(u32) -> Replica,
    violations: &mut Vec<Violation>,
) {
    for (&(v, id), receipts) in &g.received {
        let (node, first) = (user(v), receipts.first);
        // Named only for a violation: most receives have none.
        let name = || input.node_name(node);
        let msg = || input.msg_name(id);
        match g.routed.get(&id) {
            None => {
                let text =
                    format!("{} received message {}, which the router never routed", name(), msg());
                violations.push(Violation::new(first, Some(node), text));
            }
            Some(r) if r.expected.binary_search(&v).is_err() => {
                let why = if followers(graph, r.from).contains(&v) {
                    "was logged out when it was routed".to_owned()
                } else {
                    format!("does not follow user {}", r.from)
                };
                let text = format!(
                    "message {} from user {} routed at {} reached {} at {}, which {why}",
                    msg(),
                    r.from,
                    dur(r.at),
                    name(),
                    dur(first)
                );
                violations.push(Violation::new(first, Some(node), text));
            }
            Some(_) => {}
        }
        for again in &receipts.again {
            let text = format!(
                "message {} reached {} twice: at {} and again at {}",
                msg(),
                name(),
                dur(first),
                dur(*again)
            );
            violations.push(Violation::new(*again, Some(node), text));
        }
    }
}

/// Every message a user sent before the heal was routed.
fn judge_unrouted(
    input: &CheckInput,
    g: &Gathered,
    user: impl Fn(u32) -> Replica,
    tally: &mut Tally,
    violations: &mut Vec<Violation>,
) {
    for (id, (at, from)) in &g.published {
        if g.routed.contains_key(id) {
            continue;
        }
        if input.trace.healed_at.is_some_and(|h| *at <= h) {
            let text = format!(
                "message {id} that user {from} sent at {} was never routed (run ended at {})",
                dur(*at),
                dur(input.end()),
                id = input.msg_name(id)
            );
            violations.push(Violation::new(*at, Some(user(*from)), text));
        } else {
            tally.in_flight += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, ms, msg, node, plan_with, run, texts, trace};
    use crate::socket::SocketType;
    use crate::trace::TraceEvent;

    /// Users in the test graph, which has `m = 2` and seed 1.
    const USERS: u32 = 8;
    /// The sender every test routes a message from.
    const SENDER: u32 = 0;
    const ID: MsgId = 77;

    /// A manager (group 0), a router (group 1) and [`USERS`] users (group 2).
    fn comet() -> ScenarioPlan {
        let mut plan = plan_with(&[
            ("comet-manager", 1, &[SocketType::Rep]),
            ("comet-router", 1, &[SocketType::Router, SocketType::Dealer]),
            ("comet-user", USERS, &[SocketType::Dealer]),
        ]);
        plan.topology.groups[0].params = [
            ("users".to_owned(), ParamValue::Count(u64::from(USERS))),
            ("edges_per_user".to_owned(), ParamValue::Count(2)),
            ("graph_seed".to_owned(), ParamValue::Count(1)),
        ]
        .into();
        plan
    }

    fn graph() -> FollowerGraph {
        FollowerGraph::barabasi_albert(USERS, 2, 1)
    }

    /// The sender's followers, and a user that is neither one nor the sender.
    fn followers_and_stranger() -> (Vec<u32>, u32) {
        let followers = graph().followers(SENDER).to_vec();
        let stranger = (1..USERS).find(|u| !followers.contains(u)).expect("a non-follower");
        assert!(followers.len() >= 2, "the test needs two followers: {followers:?}");
        (followers, stranger)
    }

    fn router(t: u64, event: AppEvent) -> TraceEvent {
        at(ms(t), node(1, 0), None, EventKind::App(event))
    }

    fn login(t: u64, user: u32) -> TraceEvent {
        router(t, AppEvent::CometLogin { user })
    }

    fn routed(t: u64) -> TraceEvent {
        router(t, AppEvent::CometRouted { id: ID, from: SENDER, delivered: 0, dropped: 0 })
    }

    fn receive(t: u64, user: u32) -> TraceEvent {
        at(ms(t), node(2, user), Some(0), EventKind::Receive { msg: msg(Some(ID), None) })
    }

    fn sent(t: u64) -> TraceEvent {
        let published = AppEvent::Published { id: ID, topic: String::new() };
        at(ms(t), node(2, SENDER), None, EventKind::App(published))
    }

    /// Every follower logs in, the message is sent and routed at 20ms, and each
    /// follower receives it at 21ms; `edit` changes the events before the check.
    fn check_with(edit: impl FnOnce(&mut Vec<TraceEvent>)) -> Outcome {
        let (followers, _) = followers_and_stranger();
        let mut events: Vec<TraceEvent> = followers.iter().map(|&f| login(10, f)).collect();
        events.extend([sent(19), routed(20)]);
        events.extend(followers.iter().map(|&f| receive(21, f)));
        edit(&mut events);
        events.sort_by_key(|e| e.at);
        run(check, &trace(events, Some(ms(100)), ms(200)), &comet())
    }

    #[test]
    fn every_logged_in_follower_receiving_once_passes() {
        let outcome = check_with(|_| {});
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        let (followers, _) = followers_and_stranger();
        let n = followers.len();
        let expected = format!("1 messages routed, {n} expected deliveries, {n} delivered");
        assert!(outcome.note.as_deref().is_some_and(|n| n.starts_with(&expected)), "{outcome:?}");
    }

    #[test]
    fn a_logged_in_follower_that_never_receives_fails() {
        let (followers, _) = followers_and_stranger();
        let missing = followers[0];
        let outcome = check_with(|events| {
            events.retain(|e| *e != receive(21, missing));
        });
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [format!(
                "message comet-manager.0#77 from user 0 routed at 20ms never reached comet-user.{missing}, a follower logged in then (run ended at 200ms)"
            )]
        );
    }

    #[test]
    fn a_follower_that_logged_out_before_routing_and_still_receives_fails() {
        let (followers, _) = followers_and_stranger();
        let gone = followers[1];
        let outcome = check_with(|events| {
            events.push(router(15, AppEvent::CometLogout { user: gone }));
        });
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [format!(
                "message comet-manager.0#77 from user 0 routed at 20ms reached comet-user.{gone} at 21ms, which was logged out when it was routed"
            )]
        );
    }

    #[test]
    fn a_user_that_does_not_follow_the_sender_receiving_fails() {
        let (_, stranger) = followers_and_stranger();
        let outcome = check_with(|events| {
            events.extend([login(10, stranger), receive(22, stranger)]);
        });
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [format!(
                "message comet-manager.0#77 from user 0 routed at 20ms reached comet-user.{stranger} at 22ms, which does not follow user 0"
            )]
        );
    }

    #[test]
    fn a_follower_receiving_twice_fails() {
        let (followers, _) = followers_and_stranger();
        let twice = followers[0];
        let outcome = check_with(|events| events.push(receive(30, twice)));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [format!(
                "message comet-manager.0#77 reached comet-user.{twice} twice: at 21ms and again at 30ms"
            )]
        );
    }

    #[test]
    fn a_message_sent_before_the_heal_and_never_routed_fails() {
        let outcome = check_with(|events| {
            events.retain(|e| !matches!(e.kind, EventKind::App(AppEvent::CometRouted { .. })));
            events.retain(|e| !matches!(e.kind, EventKind::Receive { .. }));
        });
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "message comet-manager.0#77 that user 0 sent at 19ms was never routed (run ended at 200ms)"
            ]
        );
    }

    #[test]
    fn a_message_routed_after_the_heal_and_not_yet_received_is_in_flight() {
        let (followers, _) = followers_and_stranger();
        let late = followers[0];
        let mut events: Vec<TraceEvent> = followers.iter().map(|&f| login(10, f)).collect();
        // Routed after the heal; one follower has not got it when the run ends.
        events.extend([sent(150), routed(150)]);
        events.extend(followers.iter().filter(|&&f| f != late).map(|&f| receive(151, f)));
        let outcome = run(check, &trace(events, Some(ms(100)), ms(200)), &comet());
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert!(outcome.note.as_deref().is_some_and(|n| n.contains("1 still in flight")));
    }

    #[test]
    fn nothing_routed_is_unknown_never_a_pass() {
        let outcome = run(check, &trace(vec![login(1, 1)], Some(ms(100)), ms(200)), &comet());
        assert_eq!(outcome.verdict, Verdict::Unknown);
    }
}
