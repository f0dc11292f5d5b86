//! One replica's life, the same on every platform: a supervisor that starts an
//! incarnation of the node (its sockets and its design), drops it when a fault kills
//! or crashes the replica, and starts a fresh, empty one when the replica restarts.
//! Where the sockets bind and connect, and over what, is the platform's to say
//! (`platform.rs`); this file only asks it.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use smallvec::SmallVec;

use crate::design::ctx::OutOfMsgIds;
use crate::design::{Completion, DesignFn, NodeCtx, NodeParts, Reopener, msg_info};
use crate::net::{Aborter, DriverEvent, SocketHandle, spawn_socket_seeded};
use crate::plan::seed::splitmix;
use crate::plan::{Group, Replica, TopologyPlan, WorkloadPlan};
use crate::socket::{SocketCore, SocketEvent, SocketOptions, SocketType};
use crate::trace::{EventKind, Recorder, SocketIndex, TraceEvent};
use crate::wire::payload::event_msg_info;

use super::faults::{FaultWorld, Status};
use super::platform::Platform;

/// What every replica of one group shares.
#[derive(Debug)]
pub(super) struct GroupRuntime {
    pub group: Group,
    pub design: DesignFn,
    /// Shared by every replica's context (`NodeCtx::workload`).
    pub workload: Rc<WorkloadPlan>,
    /// Each socket's options, shared by every replica's socket (`socket_options`).
    pub socket_options: Vec<Rc<SocketOptions>>,
    /// The run's topology, one copy for every group, which names message ids in the
    /// designs' notes (`NodeCtx::msg_label`).
    pub topology: Rc<TopologyPlan>,
}

/// Everything a replica needs from the run: the platform it runs on, and what every
/// platform shares.
#[derive(Debug)]
pub(super) struct RunCtx<P> {
    pub platform: P,
    pub world: Rc<FaultWorld>,
    pub recorder: Recorder,
    pub completion: Completion,
    pub seed: u64,
    /// Why the run cannot go on, when a replica made every message id its group has
    /// room for (`NodeCtx::next_msg_id`): the first such, which the backend ends the
    /// run with as a run error.
    pub out_of_ids: std::cell::RefCell<Option<String>>,
}

/// Builds the sans-IO core for a socket type (`socket::make_core`, the one factory).
pub fn make_core(
    t: SocketType,
    options: &SocketOptions,
    first_request_id: u32,
) -> Option<Box<dyn SocketCore>> {
    Some(crate::socket::make_core(t, options, first_request_id))
}

/// A per-replica, per-incarnation seed, so every replica draws its own stream.
fn replica_seed(seed: u64, r: Replica, incarnation: u32) -> u64 {
    splitmix(
        seed ^ (u64::from(r.group.0) << 48) ^ (u64::from(r.index) << 16) ^ u64::from(incarnation),
    )
}

pub(super) async fn supervise<P: Platform>(
    rt: Rc<RunCtx<P>>,
    g: Rc<GroupRuntime>,
    replica: Replica,
    epoch: tokio::time::Instant,
) {
    let notify = rt.world.state.borrow().replicas[&replica].notify.clone();
    loop {
        while rt.world.status(replica) != Status::Running {
            notify.notified().await;
        }
        let incarnation = rt.world.state.borrow().replicas[&replica].incarnation;
        rt.completion.restart(replica);
        // Boxed: opening the sockets is a big future needed only for an instant, and
        // unboxed it would size every supervisor, for the replica's whole life, to it
        // (about 900 bytes of each comet user's 1 KB supervisor; issue 16).
        // Every socket this incarnation opens, reopened ones included, ends with it.
        let sockets = Rc::new(RefCell::new(SmallVec::new()));
        let started = start(&rt, &g, replica, incarnation, epoch, Rc::clone(&sockets));
        let Some(ctx) = Box::pin(started).await else {
            // A socket failed to bind: recorded; wait for the next restart.
            notify.notified().await;
            continue;
        };
        let mut design = pin!(CatchPanic(g.design.call(ctx)));
        let mut finished = false;
        loop {
            tokio::select! {
                biased;
                () = notify.notified() => {
                    let st = rt.world.state.borrow();
                    let rs = &st.replicas[&replica];
                    if rs.status != Status::Running || rs.incarnation != incarnation {
                        break;
                    }
                }
                ended = &mut design, if !finished => {
                    finished = true;
                    match ended {
                        Ok(()) => {}
                        Err(Stopped::OutOfIds(out)) => {
                            rt.out_of_ids.borrow_mut().get_or_insert(out.text);
                        }
                        Err(Stopped::Panicked(message)) => {
                            let reason =
                                format!("design `{}` panicked: {message}", g.group.design);
                            internal_error(&rt.recorder, replica, epoch, reason);
                        }
                    }
                }
            }
        }
        // The process is gone: its sockets, and any old one a reopen left lingering,
        // send nothing more (dropping the design closes them, which would linger).
        for socket in sockets.borrow().iter() {
            socket.abort();
        }
    }
}

/// What ends each socket of an incarnation when the incarnation ends: inline up to
/// two, a comet user's count, where a `Vec` would allocate for them at every replica.
type IncarnationSockets = Rc<RefCell<SmallVec<[Aborter; 2]>>>;

async fn start<P: Platform>(
    rt: &Rc<RunCtx<P>>,
    g: &Rc<GroupRuntime>,
    replica: Replica,
    incarnation: u32,
    epoch: tokio::time::Instant,
    incarnation_sockets: IncarnationSockets,
) -> Option<NodeCtx> {
    let seed = replica_seed(rt.seed, replica, incarnation);
    let first_id = (seed as u32) | crate::socket::REQUEST_ID_BIT;
    let opened =
        open_sockets_with(&rt.platform, &g.group, &g.socket_options, replica, first_id, epoch);
    let sockets = match opened.await {
        Ok(sockets) => {
            let aborters = sockets.values().map(|(_, handle)| handle.aborter());
            incarnation_sockets.borrow_mut().extend(aborters);
            sockets
        }
        Err(failed) => {
            let what = format!("socket `{}` failed to start", failed.socket);
            rt.platform.start_failed(&what, &failed.error);
            note(&rt.recorder, replica, epoch, failed.to_string());
            return None;
        }
    };
    let ctx = NodeCtx::new(NodeParts {
        replica,
        name: g.topology.replica_name(replica),
        incarnation,
        params: g.group.params.clone(),
        workload: Rc::clone(&g.workload),
        sockets,
        seed,
        recorder: rt.recorder.clone(),
        epoch,
        completion: rt.completion.clone(),
    });
    // The topology gives the group's id layout too (`MsgIdLayout::of_group`).
    let ctx = ctx.with_topology(Rc::clone(&g.topology));
    Some(ctx.with_reopener(reopener(rt, g, replica, seed, epoch, incarnation_sockets)))
}

/// How this incarnation's design reopens a socket: as `start` opened it, with a
/// fresh first request id (libzmq draws one at random per socket), so the new
/// socket's requests are not mistaken for the old one's.
fn reopener<P: Platform>(
    rt: &Rc<RunCtx<P>>,
    g: &Rc<GroupRuntime>,
    replica: Replica,
    seed: u64,
    epoch: tokio::time::Instant,
    incarnation_sockets: IncarnationSockets,
) -> Reopener {
    let (rt, g) = (Rc::clone(rt), Rc::clone(g));
    let reopens = Rc::new(std::cell::Cell::new(0u64));
    Reopener(Rc::new(move |index| {
        let (rt, g, reopens) = (Rc::clone(&rt), Rc::clone(&g), Rc::clone(&reopens));
        let incarnation_sockets = Rc::clone(&incarnation_sockets);
        Box::pin(async move {
            reopens.set(reopens.get() + 1);
            let first_id =
                (splitmix(seed ^ (reopens.get() << 32)) as u32) | crate::socket::REQUEST_ID_BIT;
            let i = usize::from(index);
            let options = Rc::clone(&g.socket_options[i]);
            let opened =
                open_socket(&rt.platform, &g.group, options, replica, i, first_id, epoch).await;
            if let Ok(handle) = &opened {
                // Sockets that have ended are let go, so a client that reopens all run
                // long keeps only the ones that may still be lingering.
                let mut sockets = incarnation_sockets.borrow_mut();
                sockets.retain(|socket| socket.runs());
                sockets.push(handle.aborter());
            }
            opened
        })
    }))
}

/// A socket of a replica that could not be opened.
#[derive(Debug)]
pub struct StartFailed {
    /// The socket's name in its group.
    pub socket: String,
    /// Why it could not be opened.
    pub error: std::io::Error,
}

impl std::fmt::Display for StartFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "socket `{}` failed to start: {}", self.socket, self.error)
    }
}

/// Opens every socket of `group` for `replica` on `platform`, as every backend opens
/// them, and returns them by name with their index in the group. `first_id` is the
/// first request id of the replica's REQ and SURVEYOR sockets.
pub async fn open_sockets<P: Platform>(
    platform: &P,
    group: &Group,
    replica: Replica,
    first_id: u32,
    epoch: tokio::time::Instant,
) -> Result<BTreeMap<String, (SocketIndex, SocketHandle)>, StartFailed> {
    let options = socket_options(group);
    open_sockets_with(platform, group, &options, replica, first_id, epoch).await
}

/// Each socket's options of `group`, in its order, one copy for all its replicas: a
/// socket keeps its options (216 bytes) for its whole life, once per comet user
/// otherwise (issue 16).
pub(super) fn socket_options(group: &Group) -> Vec<Rc<SocketOptions>> {
    group.sockets.iter().map(|s| Rc::new(s.options.socket_options())).collect()
}

/// [`open_sockets`] with the group's socket options made once (`socket_options`).
async fn open_sockets_with<P: Platform>(
    platform: &P,
    group: &Group,
    options: &[Rc<SocketOptions>],
    replica: Replica,
    first_id: u32,
    epoch: tokio::time::Instant,
) -> Result<BTreeMap<String, (SocketIndex, SocketHandle)>, StartFailed> {
    let mut sockets = BTreeMap::new();
    for (i, s) in group.sockets.iter().enumerate() {
        let options = Rc::clone(&options[i]);
        match open_socket(platform, group, options, replica, i, first_id, epoch).await {
            Ok(handle) => {
                sockets.insert(s.name.clone(), (i as SocketIndex, handle));
            }
            Err(error) => return Err(StartFailed { socket: s.name.clone(), error }),
        }
    }
    Ok(sockets)
}

/// Opens socket number `i` of the group on the platform: the sans-IO core its type
/// and options give, bound and connected where the platform says.
async fn open_socket<P: Platform>(
    platform: &P,
    group: &Group,
    options: Rc<SocketOptions>,
    replica: Replica,
    i: usize,
    first_id: u32,
    epoch: tokio::time::Instant,
) -> std::io::Result<SocketHandle> {
    let s = &group.sockets[i];
    let core = make_core(s.socket_type, &options, first_id).ok_or_else(|| {
        let why = format!("{} sockets are not simulated yet", s.socket_type);
        std::io::Error::new(std::io::ErrorKind::Unsupported, why)
    })?;
    let binds = platform.bind_addr(replica, i).into_iter().collect();
    let connects = platform.connects(replica, i);
    let sink = platform.event_sink(replica, i as SocketIndex, &options);
    let transport = platform.transport(replica);
    // Each socket's own reconnect stream, from the incarnation's (or reopen's) draw.
    let seed = splitmix((u64::from(first_id) << 16) ^ i as u64);
    let handle =
        spawn_socket_seeded(transport, core, options, binds, connects, epoch, sink, seed).await?;
    if let Some(addr) = handle.local_addrs().first() {
        platform.bound(replica, i, *addr);
    }
    Ok(handle)
}

/// A design's future with its panics caught. Left alone, a panic would end the
/// replica's task inside the runtime and vanish, and the run would go on as if the
/// replica had merely stopped; caught, it becomes an `InternalError` in the trace,
/// or, when the design ran out of message ids, the run's error.
struct CatchPanic(Pin<Box<dyn Future<Output = ()>>>);

/// How a design's future ended early.
enum Stopped {
    /// It panicked, with this message.
    Panicked(String),
    /// It made every message id its group has room for.
    OutOfIds(OutOfMsgIds),
}

impl Future for CatchPanic {
    type Output = Result<(), Stopped>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let design = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| design.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(payload) => Poll::Ready(Err(match payload.downcast::<OutOfMsgIds>() {
                Ok(out) => Stopped::OutOfIds(*out),
                Err(payload) => Stopped::Panicked(panic_message(&*payload)),
            })),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "non-string panic payload".to_owned(),
    }
}

fn internal_error(
    recorder: &Recorder,
    replica: Replica,
    epoch: tokio::time::Instant,
    reason: String,
) {
    recorder.record(TraceEvent {
        at: tokio::time::Instant::now().saturating_duration_since(epoch),
        node: Some(replica),
        socket: None,
        kind: EventKind::InternalError { reason },
    });
}

fn note(recorder: &Recorder, replica: Replica, epoch: tokio::time::Instant, text: String) {
    recorder.record(TraceEvent {
        at: tokio::time::Instant::now().saturating_duration_since(epoch),
        node: Some(replica),
        socket: None,
        kind: EventKind::App(crate::trace::AppEvent::Note { text }),
    });
}

/// Turns one socket's driver events into trace events: how every socket of a run
/// reports, and what a hand-built harness should use to record the same trace.
pub fn event_sink(
    recorder: Recorder,
    node: Replica,
    socket: SocketIndex,
    options: &SocketOptions,
) -> Rc<dyn Fn(Duration, DriverEvent)> {
    sink_naming_peers(recorder, node, socket, options, None)
}

/// [`event_sink`] that names each connection's peer replica from its address, as the
/// fault world knows them (a harness without one leaves peers unnamed).
pub(super) fn sink_naming_peers(
    recorder: Recorder,
    node: Replica,
    socket: SocketIndex,
    options: &SocketOptions,
    world: Option<Rc<FaultWorld>>,
) -> Rc<dyn Fn(Duration, DriverEvent)> {
    let (sndhwm, rcvhwm) = (options.sndhwm_msgs, options.rcvhwm_msgs);
    Rc::new(move |at, event| {
        let kind = match event {
            DriverEvent::Socket(ev) => match ev {
                SocketEvent::Enqueued { pipe, depth, msg } => {
                    EventKind::Enqueue { pipe, depth, hwm: sndhwm, msg: event_msg_info(&msg) }
                }
                SocketEvent::Arrived { pipe, depth, msg } => {
                    EventKind::Deliver { pipe, depth, hwm: rcvhwm, msg: event_msg_info(&msg) }
                }
                SocketEvent::Dropped { pipe, reason, msg } => {
                    EventKind::Drop { pipe, reason, msg: msg_info(&msg) }
                }
                SocketEvent::Resent { pipe, request_id, timer, msg } => {
                    EventKind::Resend { pipe, request_id, timer, msg: event_msg_info(&msg) }
                }
                SocketEvent::Cancelled { request_id } => EventKind::Cancel { request_id },
                SocketEvent::Subscription { pipe, prefix, on } => EventKind::Subscription {
                    pipe,
                    prefix: String::from_utf8_lossy(&prefix).into_owned(),
                    on,
                },
                SocketEvent::SurveyExpired { survey_id } => EventKind::SurveyExpired { survey_id },
            },
            DriverEvent::Connected { pipe, peer } => {
                EventKind::Connect { pipe, peer: world.as_ref().and_then(|w| w.peer_at(peer)) }
            }
            DriverEvent::Disconnected { pipe, reason } => EventKind::Disconnect { pipe, reason },
            DriverEvent::ProtocolError { reason, .. } => EventKind::ProtocolError { reason },
            DriverEvent::TaskPanicked { task, message } => EventKind::InternalError {
                reason: format!("driver task `{task}` panicked: {message}"),
            },
            // Every failed attempt is kept: a descriptor limit or a refused connect is
            // what explains a run that never routed (issue 17).
            DriverEvent::ConnectFailed { reason, out_of_descriptors, .. } => {
                EventKind::ConnectFailed { reason, out_of_descriptors }
            }
            DriverEvent::AcceptFailed { reason, out_of_descriptors, .. } => {
                EventKind::AcceptFailed { reason, out_of_descriptors }
            }
        };
        recorder.record(TraceEvent { at, node: Some(node), socket: Some(socket), kind });
    })
}
