//! The test scenario every layer's unit tests build on: a minimal resolved plan and
//! its builders, written as struct literals so tests depend on neither the resolver
//! nor the runtime. It lives with the plan types so that the trace's and the
//! checkers' tests can share it without reaching up a layer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::socket::SocketType;

use super::{
    ConnectTarget, Connection, Distribution, EffectiveOptions, Expect, FaultKind, FaultPlan, Group,
    GroupId, NetworkPlan, Replica, ScenarioPlan, Selector, SocketPlan, TopologyPlan,
};

/// The simulator tick of the test scenario, the default resend tolerance.
pub(crate) const TICK: Duration = Duration::from_millis(10);
/// The test REQ socket's resend interval.
pub(crate) const IVL: Duration = Duration::from_secs(1);
/// Index of the REQ socket in the client group.
pub(crate) const REQ: u16 = 0;

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Replica `index` of the `client` group (group 0).
pub(crate) fn client(index: u32) -> Replica {
    Replica { group: GroupId(0), index }
}

/// One group `client` of two replicas, each with one REQ socket `req` resending
/// every [`IVL`]; the network ticks every [`TICK`]; no faults.
pub(crate) fn plan() -> ScenarioPlan {
    let mut options = EffectiveOptions::defaults(SocketType::Req);
    options.req_resend_ivl.value = Some(IVL);
    let req = SocketPlan {
        name: "req".into(),
        socket_type: SocketType::Req,
        bind: None,
        connects: Vec::new(),
        options,
    };
    let group = Group {
        id: GroupId(0),
        name: "client".into(),
        count: 2,
        design: "client".into(),
        params: BTreeMap::new(),
        sockets: vec![req],
        hosts: 2,
        process: None,
    };
    let topology = TopologyPlan {
        name: "test".into(),
        file: PathBuf::from("test.yaml"),
        description: None,
        params: BTreeMap::new(),
        groups: vec![group],
        connections: Vec::new(),
    };
    ScenarioPlan {
        name: "test".into(),
        file: PathBuf::from("test-scenario.yaml"),
        description: None,
        only_when_named: None,
        end_when_idle: true,
        topology,
        duration: Duration::from_secs(10),
        liveness: Duration::from_secs(10),
        seeds: vec![1],
        tcp_timeout: Duration::from_secs(900),
        network: NetworkPlan {
            tick: TICK,
            latency: Distribution::Fixed(0.0),
            loss: 0.0,
            bandwidth: f64::INFINITY,
            links: Vec::new(),
        },
        workload: BTreeMap::new(),
        faults: Vec::new(),
        swarm: None,
        invariants: Vec::new(),
        expect: Expect::Pass,
        expect_bounds: Default::default(),
    }
}

/// A fault of `kind` at `at` on every client replica, lasting until the heal.
pub(crate) fn fault(kind: FaultKind, at: Duration) -> FaultPlan {
    FaultPlan {
        kind,
        at,
        until: None,
        nodes: vec![Selector { group: GroupId(0), replica: None }],
        between: None,
        oneway: false,
        latency: None,
        rate: None,
        bandwidth: None,
    }
}

/// Replica `index` of group number `group`.
pub(crate) fn node(group: u32, index: u32) -> Replica {
    Replica { group: GroupId(group), index }
}

/// The test scenario with its topology replaced: one group per entry (name,
/// replicas, socket types), group `i` being `GroupId(i)`; each socket is named
/// after its type in lower case and has the library's default options.
pub(crate) fn plan_with(groups: &[(&str, u32, &[SocketType])]) -> ScenarioPlan {
    let mut plan = plan();
    let socket = |t: &SocketType| SocketPlan {
        name: t.name().to_lowercase(),
        socket_type: *t,
        bind: None,
        connects: Vec::new(),
        options: EffectiveOptions::defaults(*t),
    };
    let group = |(i, (name, count, types)): (usize, &(&str, u32, &[SocketType]))| Group {
        id: GroupId(i as u32),
        name: (*name).into(),
        count: *count,
        design: (*name).into(),
        params: BTreeMap::new(),
        sockets: types.iter().map(socket).collect(),
        hosts: *count,
        process: None,
    };
    plan.topology.groups = groups.iter().enumerate().map(group).collect();
    plan
}

/// Connects socket `from.1` of every replica of group `from.0` to socket `to.1`
/// of every replica of group `to.0`.
pub(crate) fn connect(plan: &mut ScenarioPlan, from: (u32, usize), to: (u32, usize)) {
    let target = ConnectTarget { group: GroupId(to.0), replica: None, socket: to.1 };
    plan.topology.connections.push(Connection {
        from_group: GroupId(from.0),
        from_socket: from.1,
        to: target,
        pipes: 1,
    });
}

/// A fault of `kind` at `at` on one replica, lasting until the heal.
pub(crate) fn node_fault(kind: FaultKind, at: Duration, node: Replica) -> FaultPlan {
    let selector = Selector { group: node.group, replica: Some(node.index) };
    FaultPlan { nodes: vec![selector], ..fault(kind, at) }
}
