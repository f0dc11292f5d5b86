//! A shipped topology started on real TCP: every socket's type, options and
//! bind/connect structure come from the resolved plan; only the addresses change
//! (127.0.0.1 with ephemeral ports instead of the file's ports). Replicas are
//! started by the library's own wiring (`patchbay::run::open_sockets`) on a
//! [`Platform`] of the benches' own, as the simulator and the real network start
//! theirs on their platforms.
//!
//! Groups are started on threads, in order: each thread binds what its groups bind,
//! reports the addresses it got, and connects only to sockets that earlier threads
//! bound, so nothing depends on a port being free. A thread then runs a body the
//! benchmark gives it: a load generator that drives the sockets directly, or the
//! topology's own designs ([`run_designs`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use patchbay::design::{Completion, NodeCtx, NodeParts};
use patchbay::net::{SocketHandle, TokioTcp};
use patchbay::plan::{ConnectTarget, Group, GroupId, Replica, TopologyPlan, WorkloadPlan};
use patchbay::registry::Registry;
use patchbay::run::{Platform, open_sockets};
use patchbay::socket::{REQUEST_ID_BIT, SocketType};
use patchbay::trace::{Recorder, SocketIndex};

use crate::rig::local_thread;

/// Designs record every send and receive into a trace; a benchmark has no use for it,
/// so it is emptied this often to keep memory flat.
const TRACE_DRAIN_EVERY: Duration = Duration::from_millis(50);

/// Where each bound socket of each replica listens: (group, replica, socket index).
type AddrBook = BTreeMap<(GroupId, u32, usize), SocketAddr>;

/// One replica's sockets, by the names the topology gives them, with their index in
/// the group.
#[derive(Debug)]
pub struct Node {
    pub group: Group,
    pub replica: u32,
    sockets: BTreeMap<String, (SocketIndex, SocketHandle)>,
}

impl Node {
    /// Takes the socket the topology calls `name`; a benchmark asking for one the
    /// topology lacks is a bug in the benchmark.
    pub fn take(&mut self, name: &str) -> SocketHandle {
        let (_, handle) = self.sockets.remove(name).unwrap_or_else(|| {
            panic!("{}.{} has no socket `{name}`", self.group.name, self.replica)
        });
        handle
    }
}

/// The name of the first socket of `group` with type `socket_type`: benchmarks find
/// their sockets by type, so they run any topology of the right shape.
pub fn socket_of_type(plan: &TopologyPlan, group: &str, socket_type: SocketType) -> String {
    let g = plan.group_by_name(group).unwrap_or_else(|| panic!("{} has no `{group}`", plan.name));
    let s = g.sockets.iter().find(|s| s.socket_type == socket_type);
    s.unwrap_or_else(|| panic!("{}: `{group}` has no {socket_type} socket", plan.name)).name.clone()
}

/// A topology being started, thread by thread.
#[derive(Debug)]
pub struct Deployment {
    plan: Arc<TopologyPlan>,
    book: AddrBook,
}

impl Deployment {
    pub fn new(plan: TopologyPlan) -> Deployment {
        Deployment { plan: Arc::new(plan), book: AddrBook::new() }
    }

    pub fn plan(&self) -> &TopologyPlan {
        &self.plan
    }

    /// Starts every replica of `groups` on a new thread, waits until their sockets
    /// are bound and connecting, then leaves the thread running `body` with them.
    pub fn spawn<F, Fut>(&mut self, groups: &[&str], body: F) -> Result<JoinHandle<()>, String>
    where
        F: FnOnce(Vec<Node>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let mut members = Vec::new();
        for name in groups {
            let group = self.plan.group_by_name(name);
            members.push(group.ok_or_else(|| format!("{} has no `{name}`", self.plan.name))?.id);
        }
        let connects = self.resolve_connects(&members)?;
        let (plan, (started_tx, started)) = (Arc::clone(&self.plan), std_mpsc::channel());
        let thread =
            local_thread(&format!("{}:{}", plan.name, groups.join("+")), move || async move {
                match start_nodes(&plan, &members, &connects).await {
                    Ok((nodes, bound)) => {
                        let _ = started_tx.send(Ok(bound));
                        body(nodes).await;
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                }
            });
        let bound = started.recv().map_err(|_| "a bench thread died while starting".to_owned())?;
        self.book.extend(bound?);
        Ok(thread)
    }

    /// Each connecting socket's addresses, from what earlier threads bound.
    fn resolve_connects(
        &self,
        members: &[GroupId],
    ) -> Result<BTreeMap<(GroupId, usize), Vec<SocketAddr>>, String> {
        let mut out = BTreeMap::new();
        for &id in members {
            let group = self.plan.group(id);
            for (index, socket) in group.sockets.iter().enumerate() {
                let mut addrs = Vec::new();
                for target in &socket.connects {
                    addrs.extend(self.addresses_of(group, &socket.name, target)?);
                }
                out.insert((id, index), addrs);
            }
        }
        Ok(out)
    }

    fn addresses_of(
        &self,
        from: &Group,
        socket: &str,
        target: &ConnectTarget,
    ) -> Result<Vec<SocketAddr>, String> {
        let to = self.plan.group(target.group);
        let replicas = match target.replica {
            Some(index) => index..index + 1,
            None => 0..to.count,
        };
        replicas
            .map(|replica| {
                self.book.get(&(target.group, replica, target.socket)).copied().ok_or_else(|| {
                    format!(
                        "{}: `{}.{socket}` connects to `{}.{replica}.{}`, which no earlier thread \
                         bound; start the binding group first",
                        self.plan.name, from.name, to.name, to.sockets[target.socket].name
                    )
                })
            })
            .collect()
    }
}

/// The benches' platform: real TCP on 127.0.0.1, with no fault and no trace. A bound
/// socket takes an ephemeral port, noted in the address book for later threads; a
/// connecting socket dials what earlier threads bound. Its sockets get the default
/// event sink, `patchbay::net::no_events`, so they run untraced, as any program that
/// keeps no trace may: no event per message, and no clock reading per core call
/// unless the socket type keeps timers. What designs record themselves is still
/// recorded ([`run_designs`]).
struct BenchPlatform {
    plan: Arc<TopologyPlan>,
    connects: BTreeMap<(GroupId, usize), Vec<SocketAddr>>,
    bound: RefCell<AddrBook>,
}

impl Platform for BenchPlatform {
    type Transport = TokioTcp;

    fn transport(&self, _replica: Replica) -> TokioTcp {
        TokioTcp
    }

    fn bind_addr(&self, replica: Replica, socket: usize) -> Option<SocketAddr> {
        let binds = self.plan.group(replica.group).sockets[socket].bind.is_some();
        binds.then_some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }

    fn connects(&self, replica: Replica, socket: usize) -> Vec<SocketAddr> {
        self.connects.get(&(replica.group, socket)).cloned().unwrap_or_default()
    }

    fn bound(&self, replica: Replica, socket: usize, addr: SocketAddr) {
        self.bound.borrow_mut().insert((replica.group, replica.index, socket), addr);
    }
}

/// Opens every replica's sockets on the benches' platform, as the simulator opens
/// them on its own, and returns them with the addresses bound.
async fn start_nodes(
    plan: &Arc<TopologyPlan>,
    members: &[GroupId],
    connects: &BTreeMap<(GroupId, usize), Vec<SocketAddr>>,
) -> Result<(Vec<Node>, AddrBook), String> {
    let platform = BenchPlatform {
        plan: Arc::clone(plan),
        connects: connects.clone(),
        bound: RefCell::new(AddrBook::new()),
    };
    let mut nodes = Vec::new();
    let epoch = tokio::time::Instant::now();
    for &id in members {
        let group = plan.group(id);
        for index in 0..group.count {
            // Distinct request ids per REQ, as the simulator draws them per replica.
            let first_id = REQUEST_ID_BIT | (id.0 << 20) | index;
            let replica = Replica { group: id, index };
            let sockets = open_sockets(&platform, group, replica, first_id, epoch)
                .await
                .map_err(|e| format!("{}.{index}: {e}", group.name))?;
            nodes.push(Node { group: group.clone(), replica: index, sockets });
        }
    }
    Ok((nodes, platform.bound.into_inner()))
}

/// Runs each node's own design from the registry (the broker, device or worker code
/// the simulator runs), with an empty workload, until the thread is dropped.
pub async fn run_designs(nodes: Vec<Node>) {
    let registry = Registry::builtin();
    let recorder = Recorder::default();
    let drained = recorder.clone();
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(TRACE_DRAIN_EVERY).await;
            // Dropped as it is kept, compact: expanding it first (`take`) cost the
            // device's thread about 1,600 instructions a round trip.
            drop(drained.take_trace());
        }
    });
    let epoch = tokio::time::Instant::now();
    let mut running = Vec::new();
    for node in nodes {
        let spec = registry.get(&node.group.design);
        let Some(design) = spec.and_then(|s| s.behaviour().cloned()) else {
            panic!("design `{}` cannot run", node.group.design);
        };
        let ctx = NodeCtx::new(NodeParts {
            replica: Replica { group: node.group.id, index: node.replica },
            name: format!("{}.{}", node.group.name, node.replica),
            incarnation: 0,
            params: node.group.params.clone(),
            workload: WorkloadPlan::default().into(),
            sockets: node.sockets,
            seed: u64::from(node.replica),
            recorder: recorder.clone(),
            epoch,
            completion: Completion::default(),
        });
        running.push(tokio::task::spawn_local(design.call(ctx)));
    }
    for task in running {
        let _ = task.await;
    }
}
