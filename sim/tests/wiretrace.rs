//! The fault proxy's wire trace (`run/wiretap.rs`) proved against the sockets' own
//! events.
//!
//! Under `real` the proxies can decode the traffic of sockets patchbay does not run.
//! Here they decode every socket's ends instead, into a recorder apart from the
//! run's trace, over real topologies on SP and on ZMTP: for each socket and each peer
//! it talks to, what the proxy read leaving the socket must be what the socket
//! queued (message ids, request ids on SP, resends and whether a timer sent them, in
//! order), and what the proxy handed to it must be what it took in, in order. Real
//! runs are not deterministic, so nothing here depends on timing: each run is
//! compared with itself.

use std::collections::BTreeMap;

use patchbay::plan::{Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::run::real::run_wire_traced;
use patchbay::socket::{DropReason, PipeId};
use patchbay::trace::{EventKind, MsgInfo, Recorder, SocketIndex, Trace, TraceEvent};

use crate::util::scenario;

/// A socket and the peer on the other end of its connection.
type Key = (Replica, SocketIndex, Replica);

/// One message as both traces can tell it: its kind (`sent`, `timer resend`,
/// `resend`, `arrived`), payload id and, where the wire carries it, request id.
type Item = (&'static str, Option<u64>, Option<u32>);

/// Each socket's messages per peer, leaving it and arriving at it, in trace order.
#[derive(Debug, Default, PartialEq)]
struct Flows {
    out: BTreeMap<Key, Vec<Item>>,
    arrived: BTreeMap<Key, Vec<Item>>,
}

impl Flows {
    /// Reads `events`; `request_ids` keeps SP's request ids (ZMTP's do not travel).
    fn of(events: &[TraceEvent], request_ids: bool) -> Flows {
        // A socket queues on a pipe from its dial, before the handshake's `Connect`
        // names the peer; pipes are not reused within a run without restarts.
        let peers: BTreeMap<(Replica, SocketIndex, PipeId), Replica> = events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Connect { pipe, peer: Some(peer) } => {
                    Some(((e.node?, e.socket?, pipe), peer))
                }
                _ => None,
            })
            .collect();
        let mut flows = Flows::default();
        for e in events {
            let (Some(node), Some(socket)) = (e.node, e.socket) else { continue };
            let item = |kind, msg: &MsgInfo| (kind, msg.id, msg.request_id.filter(|_| request_ids));
            let (pipe, out, item) = match &e.kind {
                EventKind::Enqueue { pipe, msg, .. } => (*pipe, true, item("sent", msg)),
                EventKind::Resend { pipe, timer, msg, .. } => {
                    (*pipe, true, item(if *timer { "timer resend" } else { "resend" }, msg))
                }
                EventKind::Deliver { pipe, msg, .. } => (*pipe, false, item("arrived", msg)),
                // A reply to a request no longer outstanding arrived all the same.
                EventKind::Drop { pipe: Some(pipe), reason: DropReason::LateReply, msg } => {
                    (*pipe, false, item("arrived", msg))
                }
                _ => continue,
            };
            let peer = *peers.get(&(node, socket, pipe)).unwrap_or_else(|| {
                panic!("{e:?} is on a pipe no `Connect` names");
            });
            let side = if out { &mut flows.out } else { &mut flows.arrived };
            side.entry((node, socket, peer)).or_default().push(item);
        }
        flows
    }

    fn count(side: &BTreeMap<Key, Vec<Item>>, kind: &str) -> usize {
        side.values().flatten().filter(|(k, _, _)| *k == kind).count()
    }
}

/// Runs `plan` on the real network with every link decoded; the run's own trace and
/// the proxies' events.
fn traced(plan: &ScenarioPlan) -> (Trace, Vec<TraceEvent>) {
    let wire = Recorder::default();
    let trace = run_wire_traced(plan, &Registry::builtin(), 1, wire.clone())
        .unwrap_or_else(|e| panic!("{} did not run: {e}", plan.name));
    (trace, wire.take())
}

/// Whether the wire's item is the socket's own: the same kind, and the same ids
/// where the socket knew them. A device's DEALER reads a reply's request id as body
/// (SP's raw REQ rule, `wire/sp.rs`), so the device's own events carry no ids for
/// what it routes on; the proxy reads them with the receiver's rule and knows more.
fn same(own: &Item, wire: &Item) -> bool {
    own.0 == wire.0
        && own.1.is_none_or(|id| Some(id) == wire.1)
        && own.2.is_none_or(|rid| Some(rid) == wire.2)
}

/// Asserts the proxies read what every socket recorded, and returns the sockets'
/// own flows and the run's trace.
fn assert_wire_matches_sockets(
    plan: &ScenarioPlan,
    request_ids: bool,
) -> (Flows, Trace, Vec<TraceEvent>) {
    let (trace, wire) = traced(plan);
    let notes: Vec<_> = wire.iter().filter(|e| matches!(e.kind, EventKind::App(_))).collect();
    assert!(notes.is_empty(), "the wire trace stopped: {notes:?}");
    let (own, read) = (Flows::of(&trace.events, request_ids), Flows::of(&wire, request_ids));
    let differences = differences(&own, &read);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    (own, trace, wire)
}

/// Where the wire's flows differ from the sockets' own: a connection only one of
/// them names, or a connection whose messages differ in number, kind, id or order.
fn differences(own: &Flows, wire: &Flows) -> Vec<String> {
    let mut out = Vec::new();
    for (side, own, wire) in [("out", &own.out, &wire.out), ("in", &own.arrived, &wire.arrived)] {
        let (a, b): (Vec<_>, Vec<_>) = (own.keys().collect(), wire.keys().collect());
        if a != b {
            out.push(format!("{side}: the sockets name connections {a:?}, the wire {b:?}"));
            continue;
        }
        for (key, items) in own {
            let matched = items.len() == wire[key].len()
                && items.iter().zip(&wire[key]).all(|(own, wire)| same(own, wire));
            if !matched {
                out.push(format!("{side} at {key:?}:\nsocket {items:?}\nwire   {:?}", wire[key]));
            }
        }
    }
    out
}

/// How many of a side's items the socket itself knew the payload id of.
fn with_ids(side: &BTreeMap<Key, Vec<Item>>) -> usize {
    side.values().flatten().filter(|(_, id, _)| id.is_some()).count()
}

#[test]
fn the_proxy_reads_off_sp_what_each_socket_of_a_queue_device_sent_and_took_in() {
    let plan = scenario(
        "wiretrace-sp-queue",
        "name: wiretrace-sp-queue\ntopology: ../topologies/queue.yaml\nparams: {clients: 2}\n\
         duration: 1s\nliveness: 3s\n\
         workload:\n  client: {requests: 10}\n  worker: {service_time: 1ms}\n\
         invariants: [no_lost_replies]\nexpect: pass\n",
    );
    let (flows, ..) = assert_wire_matches_sockets(&plan, true);
    // Two clients' ten requests each leave their REQs with ids and request ids, and
    // all twenty replies reach them; the device and the workers see every one.
    let client = plan.topology.group_by_name("client").expect("clients").id;
    let requests: Vec<_> =
        flows.out.iter().filter(|((node, ..), _)| node.group == client).collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for (_, items) in requests {
        assert_eq!(items.len(), 10, "{items:?}");
        assert!(items.iter().all(|(_, id, rid)| id.is_some() && rid.is_some()), "{items:?}");
    }
    assert_eq!(Flows::count(&flows.arrived, "arrived"), 4 * 20, "{flows:?}");
    // Requests out of clients and the device's backend, replies out of workers.
    assert_eq!(with_ids(&flows.out), 3 * 20, "{flows:?}");
}

#[test]
fn the_proxy_tells_an_sp_reqs_timer_resends_from_its_first_sends() {
    let plan = scenario(
        "wiretrace-sp-resend",
        "name: wiretrace-sp-resend\ntopology: ../topologies/queue.yaml\n\
         params: {clients: 1, workers: 1}\noverrides:\n  client.req: {req_resend_ivl: 100ms}\n\
         duration: 1s\nliveness: 3s\n\
         workload:\n  client: {requests: 3}\n  worker: {service_time: 250ms}\n\
         invariants: [resend_interval]\nexpect: pass\n",
    );
    let (flows, ..) = assert_wire_matches_sockets(&plan, true);
    let resends = Flows::count(&flows.out, "timer resend");
    // Each request waits at least 250 ms for the one worker against a 100 ms
    // interval: two timer resends at least, each read off the wire as the REQ's own.
    assert!(resends >= 3 * 2, "{resends} timer resends: {flows:?}");
    assert_eq!(Flows::count(&flows.out, "resend"), 0, "no pipe was lost: {flows:?}");
}

#[test]
fn the_proxy_reads_off_zmtp_what_a_req_and_a_rep_sent_and_took_in() {
    let plan = scenario(
        "wiretrace-zmtp-req-rep",
        "name: wiretrace-zmtp-req-rep\ntopology: ../topologies/req-rep.yaml\n\
         duration: 1s\nliveness: 3s\n\
         workload:\n  client: {requests: 10}\n  worker: {service_time: 1ms}\n\
         invariants: [no_lost_replies]\nexpect: pass\n",
    );
    let (flows, ..) = assert_wire_matches_sockets(&plan, false);
    assert_eq!(Flows::count(&flows.out, "sent"), 20, "{flows:?}");
    assert_eq!(Flows::count(&flows.arrived, "arrived"), 20, "{flows:?}");
    let ids = flows.out.values().flatten().filter(|(_, id, _)| id.is_some()).count();
    assert_eq!(ids, 20, "every request and reply carries its payload id: {flows:?}");
}

#[test]
fn the_proxy_reads_zmtp_subscriptions_and_multipart_publishes() {
    let plan = scenario(
        "wiretrace-zmtp-pubsub",
        "name: wiretrace-zmtp-pubsub\ntopology: ../topologies/pubsub-envelopes.yaml\n\
         duration: 2s\nliveness: 2s\n\
         workload:\n  publisher: {publishes: 50, publish_rate: 100/s, start_at: 500ms}\n\
         invariants: [subscription_delivery]\nexpect: pass\n",
    );
    let (flows, trace, wire) = assert_wire_matches_sockets(&plan, false);
    let subscriptions = |events: &[TraceEvent]| {
        let mut subs: Vec<_> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Subscription { pipe: None, prefix, on } => {
                    Some((e.node, e.socket, prefix.clone(), *on))
                }
                _ => None,
            })
            .collect();
        subs.sort();
        subs
    };
    let subs = subscriptions(&trace.events);
    assert_eq!(subs.len(), 2, "each subscriber subscribes once: {subs:?}");
    assert_eq!(subscriptions(&wire), subs, "socket (left) and wire (right)");
    // Each subscriber to "B" gets the publisher's 25 B messages, ids in the body frame.
    assert_eq!(Flows::count(&flows.arrived, "arrived"), 2 * 25, "{flows:?}");
    assert_eq!(with_ids(&flows.arrived), 2 * 25, "{flows:?}");
}

/// The comparison can fail: a message the wire lost, two it swapped, or an id it
/// misread are each a difference, and a socket's unknown id matches any.
#[test]
fn the_comparison_finds_a_lost_a_swapped_and_a_misread_message() {
    use patchbay::plan::GroupId;
    let (client, worker) =
        (Replica { group: GroupId(0), index: 0 }, Replica { group: GroupId(1), index: 0 });
    let event =
        |kind| TraceEvent { at: Default::default(), node: Some(client), socket: Some(0), kind };
    let sent = |id: Option<u64>| {
        let msg = MsgInfo { id, request_id: None, len: 20 };
        event(EventKind::Enqueue { pipe: 1, depth: 0, hwm: 0, msg })
    };
    let connect = || event(EventKind::Connect { pipe: 1, peer: Some(worker) });
    let flows = |ids: &[Option<u64>]| {
        let events: Vec<_> =
            std::iter::once(connect()).chain(ids.iter().map(|id| sent(*id))).collect();
        Flows::of(&events, true)
    };
    let own = flows(&[Some(1), Some(2), None]);
    assert!(differences(&own, &flows(&[Some(1), Some(2), Some(3)])).is_empty());
    for wire in
        [&[Some(1), Some(2)][..], &[Some(2), Some(1), Some(3)], &[Some(1), Some(7), Some(3)]]
    {
        let found = differences(&own, &flows(wire));
        assert_eq!(found.len(), 1, "{wire:?}: {found:?}");
        assert!(found[0].starts_with("out at "), "{found:?}");
    }
    assert!(
        differences(&own, &Flows::default())[0].starts_with("out: the sockets name connections")
    );
}
