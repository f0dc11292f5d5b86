//! A failing trace as a message-sequence diagram: lanes, arrows, faults, the violation.
//!
//! Only a window of the trace is drawn: [`MAX_ROWS`] events around the violating one,
//! with a note saying which. Queue bookkeeping (enqueues, the application's receives,
//! subscriptions) is left out unless it is the violating event; what is drawn is
//! what a reader follows: sends, arrivals, drops, resends, the application's own
//! markers, connections and faults.
//! Lanes are the replicas the window shows, at most [`MAX_LANES`], the busiest kept
//! and the rest folded into one "+N more" lane. When the window around the violation
//! shows more replicas than that (a router among thousands of users), it is cut again
//! from the relevant replicas' events only: the violation's replica, the violating
//! event's, the replica that made the violating event's message, and that message
//! wherever it went, so the diagram tells the failure's story rather than whatever
//! else happened in the same millisecond.
//!
//! A program outside the topology that came in through a door (`--ports
//! as-written`) records nothing and has no replica, so it gets one lane of its own,
//! "outside", when the window shows its traffic: what arrives on a connection whose
//! `Connect` named no peer comes from that lane, and a message queued on such a
//! connection goes to it.
//!
//! The trace is read as a stream ([`Trace::iter`]), so a run's compact trace is drawn
//! as it is: a failure in ten million events costs the window and one pass, not the
//! trace expanded (docs/memory.md, "Drawing a failure").

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::invariant::Violation;
use crate::plan::{Replica, ScenarioPlan, TopologyPlan};
use crate::socket::PipeId;
use crate::trace::{
    AppEvent, EventKind, MsgId, MsgInfo, MsgOrigin, SocketIndex, Trace, TraceEvent, fault_text,
    msg_label,
};

/// Events a diagram draws at most.
pub const MAX_ROWS: usize = 150;
/// Events drawn before the violating one, when the trace has them.
pub(crate) const ROWS_BEFORE: usize = 60;
/// Lanes at most, the folded one included.
pub const MAX_LANES: usize = 12;
/// The lane name of programs outside the topology (module doc).
pub const OUTSIDE_LANE: &str = "outside";
/// Ids of messages queued on a door's connection, kept around the violating event
/// while the trace is read: at most this many on either side of it.
const DOOR_SENT_MAX: usize = 4 * MAX_ROWS;

/// What a row marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Send,
    Deliver,
    Drop,
    Resend,
    App,
    Connect,
    Disconnect,
    Fault,
    Healed,
    Other,
}

/// One drawn event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Its index in the whole trace.
    pub index: u64,
    pub at_us: u64,
    /// The lane it happened on; `None` for run-level events (faults, healing).
    pub lane: Option<u32>,
    pub mark: Mark,
    pub label: String,
    /// The event the violation is pinned to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub violating: bool,
}

/// A message going from one lane to another: a send (or resend) and the arrival of
/// the same message id at another replica, or where it was dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrow {
    pub from_row: u32,
    /// `None` when it had not arrived by the window's end.
    pub to_row: Option<u32>,
    pub resend: bool,
    /// It ended in a drop rather than an arrival.
    pub dropped: bool,
    /// The lane it leaves from, when not its first row's: the outside lane, for what
    /// a program outside the topology sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_lane: Option<u32>,
    /// The lane it ends at, when not its last row's: the outside lane, for what was
    /// sent to a program outside the topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_lane: Option<u32>,
}

/// A fault's interval as rows; `open_*` when it began before or ended after the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultBand {
    pub label: String,
    pub from_row: u32,
    pub to_row: u32,
    pub open_before: bool,
    pub open_after: bool,
}

/// One failing invariant's shortest failing seed, drawn around its first violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqDiagram {
    pub invariant: String,
    pub seed: u64,
    pub repro: String,
    /// The first violation's sentence.
    pub violation: String,
    pub lanes: Vec<String>,
    pub rows: Vec<Row>,
    pub arrows: Vec<Arrow>,
    pub faults: Vec<FaultBand>,
    /// Events the whole run recorded.
    pub total_events: u64,
    /// What was left out, e.g. "showing events 120..431 of 1306".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether an event is drawn, and how.
fn mark(kind: &EventKind) -> Option<Mark> {
    Some(match kind {
        EventKind::Send { .. } => Mark::Send,
        EventKind::Deliver { .. } => Mark::Deliver,
        EventKind::Drop { .. } => Mark::Drop,
        EventKind::Resend { .. } => Mark::Resend,
        EventKind::App(_) => Mark::App,
        EventKind::Connect { .. } => Mark::Connect,
        EventKind::Disconnect { .. } => Mark::Disconnect,
        EventKind::FaultBegin { .. } | EventKind::FaultEnd { .. } => Mark::Fault,
        EventKind::Healed => Mark::Healed,
        EventKind::ProtocolError { .. }
        | EventKind::InternalError { .. }
        | EventKind::SurveyExpired { .. } => Mark::Other,
        EventKind::Enqueue { .. }
        | EventKind::Receive { .. }
        | EventKind::Cancel { .. }
        | EventKind::Subscription { .. }
        // Failed attempts repeat every reconnect interval: the table, not the diagram.
        | EventKind::ConnectFailed { .. }
        | EventKind::AcceptFailed { .. } => return None,
    })
}

fn app_label(plan: &ScenarioPlan, a: &AppEvent) -> String {
    let n = |id: &MsgId| msg_label(&plan.topology, *id);
    match a {
        AppEvent::RequestIssued { id } => format!("request {} issued", n(id)),
        AppEvent::ReplyAccepted { id } => format!("reply {} accepted", n(id)),
        AppEvent::RequestAbandoned { id } => format!("request {} abandoned", n(id)),
        AppEvent::WorkDone { id } => format!("work {} done", n(id)),
        AppEvent::Published { id, topic } => format!("published {} on {topic:?}", n(id)),
        AppEvent::TaskIssued { id } => format!("task {} issued", n(id)),
        AppEvent::KillSent { id } => format!("kill {} sent", n(id)),
        AppEvent::SurveyStarted { id } => format!("survey {} started", n(id)),
        AppEvent::JobFinished { job } => format!("job {job} finished"),
        AppEvent::Joined => "joined".to_owned(),
        AppEvent::Left => "left".to_owned(),
        AppEvent::PartsReceived { id, parts, expected } => {
            format!("received {} as {parts} of {expected} parts", n(id))
        }
        AppEvent::ChunkSent { id, job, seq, .. } => {
            format!("chunk {seq} of job {job} sent ({})", n(id))
        }
        AppEvent::ChunkAggregated { id, job, seq, .. } => {
            format!("chunk {seq} of job {job} aggregated ({})", n(id))
        }
        AppEvent::CometLogin { user } => format!("user {user} logged in"),
        AppEvent::CometLogout { user } => format!("user {user} logged out"),
        AppEvent::CometRouted { id, from, delivered, dropped } => {
            format!("routed {} from user {from}: {delivered} sent, {dropped} skipped", n(id))
        }
        AppEvent::Note { text } => text.clone(),
        AppEvent::User(e) => e.label(|id| n(&id)),
    }
}

fn id_text(plan: &ScenarioPlan, id: Option<MsgId>) -> String {
    id.map_or_else(|| "(no id)".to_owned(), |id| msg_label(&plan.topology, id))
}

/// What an event says, for people: message ids as `client.3#7`, faults named in full,
/// peers by replica. `cargo xtask sim --trace` prints traces with it.
pub(crate) fn event_text(plan: &ScenarioPlan, trace: &Trace, kind: &EventKind) -> String {
    let id = |msg: &MsgInfo| id_text(plan, msg.id);
    let pipe_of = |pipe: &Option<u32>| pipe.map_or_else(String::new, |p| format!(" on pipe {p}"));
    match kind {
        EventKind::Send { msg } => format!("send {}", id(msg)),
        EventKind::Enqueue { pipe, depth, msg, .. } => {
            format!("queue {} on pipe {pipe} (depth {depth})", id(msg))
        }
        EventKind::Deliver { msg, depth, .. } => format!("arrive {} (queue {depth})", id(msg)),
        EventKind::Receive { msg } => format!("receive {}", id(msg)),
        EventKind::Drop { pipe, reason, msg } => {
            format!("drop {}{} {reason:?}", id(msg), pipe_of(pipe))
        }
        EventKind::Resend { msg, timer, .. } => {
            format!("resend {}{}", id(msg), if *timer { " (timer)" } else { "" })
        }
        EventKind::Cancel { request_id } => format!("cancel request {request_id:#x}"),
        EventKind::Subscription { pipe, prefix, on } => {
            let verb = if *on { "subscribe" } else { "unsubscribe" };
            format!("{verb} {prefix:?}{}", pipe_of(pipe))
        }
        EventKind::SurveyExpired { survey_id } => format!("survey {survey_id:#x} expired"),
        EventKind::Connect { pipe, peer } => match peer {
            Some(p) => format!("connect pipe {pipe} to {}", plan.topology.replica_name(*p)),
            None => format!("connect pipe {pipe}"),
        },
        EventKind::Disconnect { pipe, reason } => format!("disconnect pipe {pipe}: {reason}"),
        EventKind::ProtocolError { reason } => format!("protocol error: {reason}"),
        EventKind::InternalError { reason } => format!("patchbay internal error: {reason}"),
        EventKind::ConnectFailed { reason, .. } => format!("connect failed: {reason}"),
        EventKind::AcceptFailed { reason, .. } => format!("accept failed: {reason}"),
        EventKind::FaultBegin { fault, .. } => {
            format!("{} begins", fault_name(plan, trace, *fault))
        }
        EventKind::FaultEnd { fault, .. } => format!("{} ends", fault_name(plan, trace, *fault)),
        EventKind::Healed => "everything healed: liveness phase".to_owned(),
        EventKind::App(a) => app_label(plan, a),
    }
}

/// A row's words: the socket, then what happened.
fn label(plan: &ScenarioPlan, trace: &Trace, e: &TraceEvent) -> String {
    let socket = match (e.node, e.socket) {
        (Some(n), Some(s)) => plan
            .topology
            .group(n.group)
            .sockets
            .get(usize::from(s))
            .map_or_else(String::new, |p| format!("{}: ", p.name)),
        _ => String::new(),
    };
    let what = event_text(plan, trace, &e.kind);
    format!("{socket}{what}")
}

/// A fault named in full: from the trace's own list, which holds drawn faults too, or
/// for a hand-built trace that lists none, from the plan.
fn fault_name(plan: &ScenarioPlan, trace: &Trace, fault: u32) -> String {
    match (trace.faults.get(fault as usize), plan.faults.get(fault as usize)) {
        (Some(named), _) => named.text.clone(),
        (None, Some(f)) => format!("fault #{fault} ({})", fault_text(&plan.topology, f)),
        (None, None) => format!("fault #{fault}"),
    }
}

fn msg_id(kind: &EventKind) -> Option<MsgId> {
    match kind {
        EventKind::Send { msg }
        | EventKind::Deliver { msg, .. }
        | EventKind::Drop { msg, .. }
        | EventKind::Resend { msg, .. } => msg.id,
        _ => None,
    }
}

/// The index of the event a violation is pinned to. Checkers pin a violation to a
/// time and a replica and name the message in their sentence, but the replica may be
/// the one that missed the message rather than the one where it happened; so, at
/// the first instant at or after the violation's time: the event whose message id
/// the sentence names (at the violation's replica if one is there), else the first
/// event at that replica from then on, an application marker preferred; the last
/// event when none is that late. Reads the trace as a stream, in either form, and
/// stops once the answer is known.
pub fn violating_index(trace: &Trace, v: &Violation) -> usize {
    let named: Vec<u64> =
        v.text.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    let names_id = |e: &TraceEvent| event_id(&e.kind).is_some_and(|id| named.contains(&id));
    let here = |e: &TraceEvent| v.node.is_none() || e.node == v.node;
    // The first instant at or after the violation: its first event naming the message
    // at the violation's replica, and its first naming it anywhere.
    let mut instant: Option<Duration> = None;
    let mut instant_over = false;
    let (mut named_here, mut named_anywhere) = (None, None);
    // Else: the first event at the violation's replica from then on, and the first
    // application marker there at the same instant.
    let mut first: Option<(usize, Duration)> = None;
    let mut first_over = false;
    let mut first_app = None;
    for (i, e) in trace.iter().enumerate() {
        if !instant_over {
            match instant {
                None if e.at >= v.at => instant = Some(e.at),
                Some(at) if e.at != at => instant_over = true,
                _ => {}
            }
            if instant_over {
                if let Some(found) = named_here.or(named_anywhere) {
                    return found;
                }
            } else if instant.is_some() && names_id(&e) {
                named_anywhere = named_anywhere.or(Some(i));
                if here(&e) {
                    named_here = named_here.or(Some(i));
                }
            }
        }
        match first {
            None if e.at >= v.at && here(&e) => first = Some((i, e.at)),
            Some((_, at)) if !first_over && e.at != at => first_over = true,
            _ => {}
        }
        let in_first = first.is_some_and(|(_, at)| !first_over && e.at == at);
        if in_first && first_app.is_none() && here(&e) && matches!(e.kind, EventKind::App(_)) {
            first_app = Some(i);
        }
        if instant_over && first_over {
            break;
        }
    }
    if let Some(found) = named_here.or(named_anywhere) {
        return found;
    }
    match first {
        Some((i, _)) => first_app.unwrap_or(i),
        None => trace.len().saturating_sub(1),
    }
}

/// The message id an event is about, from the message or the application marker.
fn event_id(kind: &EventKind) -> Option<MsgId> {
    match kind {
        EventKind::App(
            AppEvent::RequestIssued { id }
            | AppEvent::ReplyAccepted { id }
            | AppEvent::RequestAbandoned { id }
            | AppEvent::WorkDone { id }
            | AppEvent::Published { id, .. }
            | AppEvent::PartsReceived { id, .. }
            | AppEvent::TaskIssued { id }
            | AppEvent::KillSent { id }
            | AppEvent::SurveyStarted { id }
            | AppEvent::ChunkSent { id, .. }
            | AppEvent::ChunkAggregated { id, .. }
            | AppEvent::CometRouted { id, .. },
        ) => Some(*id),
        EventKind::App(AppEvent::User(e)) => e.first_msg(),
        other => msg_id(other),
    }
}

/// Draws `trace` (seed `seed` of `plan`) around `violation` of `invariant`. The trace
/// is read as a stream in either form, never expanded: what is held is the window
/// (at most [`MAX_ROWS`] events on each side of the violating one while it is cut)
/// and one span per fault, so a compact trace of ten million events is drawn in the
/// memory of a short one.
pub fn build(
    plan: &ScenarioPlan,
    trace: &Trace,
    invariant: &str,
    violation: &Violation,
    seed: u64,
    repro: String,
) -> SeqDiagram {
    let target = violating_index(trace, violation);
    let mut cut = Cut::around(trace, target, |_| true);
    let mut lanes = Lanes::choose(plan, &cut.window, violation.node);
    let mut about = String::new();
    if lanes.folded.is_some()
        && let Some(focus) = Focus::of(plan, &cut, target, violation)
    {
        cut = Cut::around(trace, target, |e| focus.keeps(e));
        lanes = Lanes::choose(plan, &cut.window, violation.node);
        about = focus.text(plan);
    }
    let window = &cut.window;
    let outside = cut.shows_outside().then(|| {
        lanes.names.push(OUTSIDE_LANE.to_owned());
        lanes.names.len() as u32 - 1
    });
    let mut rows = Vec::with_capacity(window.len());
    for (i, e) in window {
        rows.push(Row {
            index: *i as u64,
            at_us: e.at.as_micros() as u64,
            lane: e.node.map(|n| lanes.of(n)),
            mark: mark(&e.kind).unwrap_or(Mark::Other),
            label: label(plan, trace, e),
            violating: *i == target,
        });
    }
    let note = (cut.is_part() || !about.is_empty()).then(|| {
        let (first, last) = cut.first_last();
        format!(
            "showing events {first}..{last} of {} ({} of the {} drawable events{about}, around the violation; queue bookkeeping is not drawn)",
            trace.len(),
            window.len(),
            cut.drawable
        )
    });
    SeqDiagram {
        invariant: invariant.to_owned(),
        seed,
        repro,
        violation: violation.text.clone(),
        lanes: lanes.names,
        arrows: arrows(&cut, &rows, outside),
        faults: faults(plan, trace, window, &cut.fault_spans),
        rows,
        total_events: trace.len() as u64,
        note,
    }
}

/// A connection of a socket: its replica, socket and pipe.
type Door = (Replica, SocketIndex, PipeId);

/// The drawn events around the violating one, cut from one pass over the trace.
///
/// The drawable events (those [`mark`] draws, and the violating event whatever its
/// kind) form a list; the window is [`MAX_ROWS`] of them with up to [`ROWS_BEFORE`]
/// before the violating one, more before it when too few follow. Only as many as
/// the window can take on either side are held while reading; the rest are counted.
struct Cut {
    /// The window's events with their indices in the whole trace, in order.
    window: Vec<(usize, TraceEvent)>,
    /// Drawable events in the whole trace.
    drawable: usize,
    /// Whether drawable events lie before the window.
    cut_before: bool,
    /// Every fault's interval as (fault, begin index, end index if it ended), in the
    /// order they began.
    fault_spans: Vec<(u32, usize, Option<usize>)>,
    /// Connections from outside the topology: (replica, socket, pipe) of each
    /// `Connect` that named no peer.
    doors: BTreeSet<Door>,
    /// Ids of messages queued on those connections near the violating event.
    door_sent: BTreeSet<MsgId>,
}

impl Cut {
    /// The window around `target` of the drawable events `keep` takes (and the
    /// target, whatever it is).
    fn around(trace: &Trace, target: usize, keep: impl Fn(&TraceEvent) -> bool) -> Cut {
        // The last MAX_ROWS drawable events before the target, the target, and the
        // first MAX_ROWS after it: the window lies within them (see below).
        let mut before: VecDeque<(usize, TraceEvent)> = VecDeque::with_capacity(MAX_ROWS);
        let mut before_count = 0;
        let mut at_target: Option<(usize, TraceEvent)> = None;
        let mut after: Vec<(usize, TraceEvent)> = Vec::new();
        let mut after_count = 0;
        let mut begun: BTreeMap<u32, usize> = BTreeMap::new();
        let mut fault_spans = Vec::new();
        let mut doors = BTreeSet::new();
        let (mut sent_before, mut sent_after) = (VecDeque::new(), Vec::new());
        for (i, e) in trace.iter().enumerate() {
            if let (Some(node), Some(socket)) = (e.node, e.socket) {
                match e.kind {
                    EventKind::Connect { pipe, peer: None } => {
                        doors.insert((node, socket, pipe));
                    }
                    EventKind::Enqueue { pipe, msg: MsgInfo { id: Some(id), .. }, .. }
                        if doors.contains(&(node, socket, pipe)) =>
                    {
                        if i < target {
                            if sent_before.len() == DOOR_SENT_MAX {
                                sent_before.pop_front();
                            }
                            sent_before.push_back(id);
                        } else if sent_after.len() < DOOR_SENT_MAX {
                            sent_after.push(id);
                        }
                    }
                    _ => {}
                }
            }
            match e.kind {
                EventKind::FaultBegin { fault, .. } => {
                    begun.insert(fault, i);
                }
                EventKind::FaultEnd { fault, .. } => {
                    if let Some(b) = begun.remove(&fault) {
                        fault_spans.push((fault, b, Some(i)));
                    }
                }
                _ => {}
            }
            if i == target {
                at_target = Some((i, e.into_owned()));
            } else if mark(&e.kind).is_some() && keep(&e) {
                if i < target {
                    before_count += 1;
                    if before.len() == MAX_ROWS {
                        before.pop_front();
                    }
                    before.push_back((i, e.into_owned()));
                } else {
                    after_count += 1;
                    if after.len() < MAX_ROWS {
                        after.push((i, e.into_owned()));
                    }
                }
            }
        }
        fault_spans.extend(begun.into_iter().map(|(f, b)| (f, b, None)));
        fault_spans.sort_by_key(|s| s.1);
        // Positions in the list of drawable events: the target is at `before_count`.
        // The window ends at most MAX_ROWS - ROWS_BEFORE past it, so within `after`,
        // and starts at most MAX_ROWS - 1 before it, so within `before`.
        let drawable = before_count + usize::from(at_target.is_some()) + after_count;
        let at = before_count.min(drawable.saturating_sub(1));
        let end = (at.saturating_sub(ROWS_BEFORE) + MAX_ROWS).min(drawable);
        let start = end.saturating_sub(MAX_ROWS);
        let held_from = before_count - before.len();
        let mut window = Vec::with_capacity(end - start);
        window.extend(before.into_iter().skip(start.saturating_sub(held_from)));
        window.extend(at_target);
        window.extend(after);
        window.truncate(end - start);
        let door_sent = sent_before.into_iter().chain(sent_after).collect();
        Cut { window, drawable, cut_before: start > 0, fault_spans, doors, door_sent }
    }

    /// Whether `e` is an arrival (or a drop) on a connection from outside the
    /// topology.
    fn came_through_door(&self, e: &TraceEvent) -> bool {
        let pipe = match e.kind {
            EventKind::Deliver { pipe, .. } | EventKind::Drop { pipe: Some(pipe), .. } => pipe,
            _ => return false,
        };
        let (Some(node), Some(socket)) = (e.node, e.socket) else { return false };
        self.doors.contains(&(node, socket, pipe))
    }

    /// Whether `e` sent a message that was queued on a connection to outside the
    /// topology.
    fn went_to_door(&self, e: &TraceEvent) -> bool {
        matches!(e.kind, EventKind::Send { .. } | EventKind::Resend { .. })
            && msg_id(&e.kind).is_some_and(|id| self.door_sent.contains(&id))
    }

    /// Whether the window shows traffic with programs outside the topology.
    fn shows_outside(&self) -> bool {
        self.window.iter().any(|(_, e)| self.came_through_door(e) || self.went_to_door(e))
    }

    /// Whether drawable events were left out on either side.
    fn is_part(&self) -> bool {
        self.cut_before || self.window.len() < self.drawable
    }

    /// The trace indices of the window's first and last events.
    fn first_last(&self) -> (usize, usize) {
        let index = |e: Option<&(usize, TraceEvent)>| e.map_or(0, |(i, _)| *i);
        (index(self.window.first()), index(self.window.last()))
    }
}

/// The events a crowded diagram keeps: those at the replicas a violation is about or
/// carrying a message one of them made (a logout arriving at the router), those
/// carrying the violating event's message wherever they happen, and run-level ones
/// (faults).
struct Focus<'a> {
    replicas: Vec<Replica>,
    msg: Option<MsgId>,
    /// What the ids are read in.
    topology: &'a TopologyPlan,
}

impl<'a> Focus<'a> {
    /// What the violation is about: its replica, the violating event's replica and
    /// message, and the replica that made the message (when the id says one of the
    /// plan's). `None` when the window has no violating event to be about.
    fn of(
        plan: &'a ScenarioPlan,
        cut: &Cut,
        target: usize,
        violation: &Violation,
    ) -> Option<Focus<'a>> {
        let (_, event) = cut.window.iter().find(|(i, _)| *i == target)?;
        let msg = event_id(&event.kind);
        let in_plan = |r: &Replica| {
            plan.topology.groups.get(r.group.0 as usize).is_some_and(|g| r.index < g.count)
        };
        let maker = msg.map(|id| MsgOrigin::decode(&plan.topology, id).node).filter(in_plan);
        let mut replicas: Vec<Replica> =
            [violation.node, event.node, maker].into_iter().flatten().collect();
        replicas.sort();
        replicas.dedup();
        let topology = &plan.topology;
        (!replicas.is_empty() || msg.is_some()).then_some(Focus { replicas, msg, topology })
    }

    fn keeps(&self, e: &TraceEvent) -> bool {
        if e.node.is_none_or(|n| self.replicas.contains(&n)) {
            return true;
        }
        let id = event_id(&e.kind);
        id.is_some() && (id == self.msg || id.is_some_and(|id| self.made_here(id)))
    }

    fn made_here(&self, id: MsgId) -> bool {
        self.replicas.contains(&MsgOrigin::decode(self.topology, id).node)
    }

    /// " at or from user.4536 and user.6544 and of message user.6544#1", for the note.
    fn text(&self, plan: &ScenarioPlan) -> String {
        let mut text = String::new();
        let names: Vec<String> =
            self.replicas.iter().map(|&r| plan.topology.replica_name(r)).collect();
        if !names.is_empty() {
            text = format!(" at or from {}", names.join(" and "));
        }
        if let Some(id) = self.msg {
            let joint = if text.is_empty() { "" } else { " and" };
            text = format!("{text}{joint} of message {}", msg_label(&plan.topology, id));
        }
        text
    }
}

/// Pairs each send or resend with the next arrival, or drop, of the same id at
/// another replica, first sent first matched.
fn arrows(cut: &Cut, rows: &[Row], outside: Option<u32>) -> Vec<Arrow> {
    let mut pending: BTreeMap<MsgId, VecDeque<(u32, Option<Replica>)>> = BTreeMap::new();
    let mut arrows: Vec<Arrow> = Vec::new();
    let mut open: BTreeMap<u32, usize> = BTreeMap::new();
    for (row, (_, e)) in cut.window.iter().enumerate() {
        let row = row as u32;
        // What a program outside the topology sent comes from its lane, whether or
        // not it carries an id (its own messages do not).
        if let Some(lane) = outside
            && cut.came_through_door(e)
        {
            arrows.push(Arrow {
                from_row: row,
                to_row: Some(row),
                resend: false,
                dropped: rows[row as usize].mark == Mark::Drop,
                from_lane: Some(lane),
                to_lane: None,
            });
            continue;
        }
        let Some(id) = msg_id(&e.kind) else { continue };
        match rows[row as usize].mark {
            Mark::Send | Mark::Resend => {
                open.insert(row, arrows.len());
                arrows.push(Arrow {
                    from_row: row,
                    to_row: None,
                    resend: rows[row as usize].mark == Mark::Resend,
                    dropped: false,
                    from_lane: None,
                    to_lane: None,
                });
                pending.entry(id).or_default().push_back((row, e.node));
            }
            Mark::Deliver | Mark::Drop => {
                let Some(queue) = pending.get_mut(&id) else { continue };
                let Some(k) = queue.iter().position(|(_, from)| *from != e.node) else { continue };
                let (from_row, _) = queue.remove(k).expect("position is in range");
                let arrow = &mut arrows[open.remove(&from_row).expect("every send is open")];
                arrow.to_row = Some(row);
                arrow.dropped = rows[row as usize].mark == Mark::Drop;
            }
            _ => {}
        }
    }
    // A send no replica received went to the outside program it was queued for.
    if let Some(lane) = outside {
        for a in arrows.iter_mut().filter(|a| a.to_row.is_none()) {
            if cut.went_to_door(&cut.window[a.from_row as usize].1) {
                (a.to_row, a.to_lane) = (Some(a.from_row), Some(lane));
            }
        }
    }
    arrows
}

/// Every fault interval that overlaps the window, as rows.
fn faults(
    plan: &ScenarioPlan,
    trace: &Trace,
    window: &[(usize, TraceEvent)],
    spans: &[(u32, usize, Option<usize>)],
) -> Vec<FaultBand> {
    let (Some(&(first, _)), Some(&(last, _))) = (window.first(), window.last()) else {
        return Vec::new();
    };
    let row_at_or_after = |i: usize| window.partition_point(|(w, _)| *w < i) as u32;
    spans
        .iter()
        .filter(|&&(_, b, e)| b <= last && e.is_none_or(|e| e >= first))
        .map(|&(fault, b, e)| {
            let open_after = e.is_none_or(|e| e > last);
            let to_row = match e {
                Some(e) if !open_after => row_at_or_after(e),
                _ => window.len() as u32 - 1,
            };
            FaultBand {
                label: fault_name(plan, trace, fault),
                from_row: row_at_or_after(b),
                to_row,
                open_before: b < first,
                open_after,
            }
        })
        .collect()
}

/// The lanes of a window: replicas in plan order, the busiest kept when too many.
struct Lanes {
    names: Vec<String>,
    index: BTreeMap<Replica, u32>,
    /// The folded lane, when some replicas share it.
    folded: Option<u32>,
}

impl Lanes {
    fn choose(plan: &ScenarioPlan, window: &[(usize, TraceEvent)], keep: Option<Replica>) -> Lanes {
        let mut busy: BTreeMap<Replica, usize> = BTreeMap::new();
        // The violating replica has a lane even when it is silent in the window (a
        // stalled subscriber that never got the message).
        if let Some(k) = keep {
            busy.insert(k, 0);
        }
        for (_, e) in window {
            if let Some(n) = e.node {
                *busy.entry(n).or_default() += 1;
            }
        }
        let mut kept: Vec<Replica> = busy.keys().copied().collect();
        let mut folded = 0;
        if kept.len() > MAX_LANES {
            let mut by_load: Vec<(usize, Replica)> = busy.iter().map(|(r, n)| (*n, *r)).collect();
            // The violating replica first, then the busiest; ties in plan order.
            by_load.sort_by_key(|&(n, r)| (Some(r) != keep, std::cmp::Reverse(n), r));
            kept = by_load.iter().take(MAX_LANES - 1).map(|&(_, r)| r).collect();
            kept.sort();
            folded = busy.len() - kept.len();
        }
        let mut names: Vec<String> = kept.iter().map(|&r| plan.topology.replica_name(r)).collect();
        let index = kept.iter().enumerate().map(|(i, &r)| (r, i as u32)).collect();
        let folded = (folded > 0).then(|| {
            names.push(format!("+{folded} more"));
            names.len() as u32 - 1
        });
        Lanes { names, index, folded }
    }

    fn of(&self, replica: Replica) -> u32 {
        self.index.get(&replica).copied().or(self.folded).unwrap_or(0)
    }
}
