//! The resolved topology: groups of replicas, their sockets and connections.
//!
//! Groups stay groups. A topology of a million subscribers is one [`Group`] with
//! `count: 1_000_000`, never a million copies; per-replica facts (its host, its
//! address) are computed from the group on demand.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::socket::SocketType;

use super::options::EffectiveOptions;
use super::scenario::Selector;

/// Index of a group in [`TopologyPlan::groups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

/// One replica of a group: `name.index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Replica {
    /// The group it belongs to.
    pub group: GroupId,
    /// Its index in the group, from 0.
    pub index: u32,
}

/// A resolved design or topology parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A whole number.
    Count(u64),
    /// A duration.
    Duration(std::time::Duration),
    /// A size in bytes; `None` for `unlimited`.
    Size(Option<u64>),
    /// A number, possibly fractional.
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A string (also a `OneOf`'s word).
    Text(String),
    /// A topology parameter: text substituted wherever `$name` appears, typed only
    /// where it lands.
    Raw(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::spec::units::{format_duration, format_size};
        match self {
            ParamValue::Count(n) => write!(f, "{n}"),
            ParamValue::Duration(d) => f.write_str(&format_duration(*d)),
            ParamValue::Size(Some(b)) => f.write_str(&format_size(*b)),
            ParamValue::Size(None) => f.write_str("unlimited"),
            ParamValue::Number(x) => write!(f, "{x}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Text(s) => write!(f, "{s:?}"),
            ParamValue::Raw(s) => f.write_str(s),
        }
    }
}

/// How a socket binds: on a port the file names, or on one the runtime picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    /// On a port the runtime picks (the file gave none).
    Auto,
    /// On this port.
    Port(u16),
}

/// A connect as written: to every replica of a group's socket, or to one replica's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectTarget {
    /// The group connected to.
    pub group: GroupId,
    /// `None` connects to every replica of the group.
    pub replica: Option<u32>,
    /// Index into the target group's `sockets`.
    pub socket: usize,
}

#[derive(Clone, Debug)]
/// One socket of a group, as every replica of it opens it.
pub struct SocketPlan {
    /// Its name, unique in the group (what the design asks for).
    pub name: String,
    /// Its type.
    pub socket_type: SocketType,
    /// Where it binds, if it does.
    pub bind: Option<Bind>,
    /// What it connects to, in file order.
    pub connects: Vec<ConnectTarget>,
    /// Every option with where its value came from.
    pub options: EffectiveOptions,
}

#[derive(Clone, Debug)]
/// A group of replicas running one design.
pub struct Group {
    /// Its index in [`TopologyPlan::groups`].
    pub id: GroupId,
    /// Its name in the file.
    pub name: String,
    /// How many replicas it runs.
    pub count: u32,
    /// The registered design they run.
    pub design: String,
    /// The design's parameters, defaults filled in.
    pub params: BTreeMap<String, ParamValue>,
    /// Its sockets, in file order (a trace's `SocketIndex` indexes them).
    pub sockets: Vec<SocketPlan>,
    /// Simulated hosts the replicas are spread over (replica `i` on host `i % hosts`).
    pub hosts: u32,
    /// The external program each replica runs instead of a design (`real` only);
    /// `design` is then [`PROCESS_DESIGN`].
    pub process: Option<ProcessPlan>,
}

/// The design name a group running an external program carries, so graphs, tables
/// and reports that print a design print this.
pub const PROCESS_DESIGN: &str = "process";

/// An external program standing for a node: what `real` spawns for each replica and
/// each incarnation, after substituting its sockets' endpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessPlan {
    /// The program and its arguments.
    pub command: Vec<Template>,
    /// Environment variables set over patchbay's own, in name order.
    pub env: BTreeMap<String, Template>,
    /// The working directory: the one written, relative to the topology file, or the
    /// topology file's own directory.
    pub cwd: PathBuf,
    /// When a started program counts as ready.
    pub ready: Ready,
    /// How long a start may take before the run fails.
    pub ready_timeout: std::time::Duration,
}

/// When a started program counts as ready.
#[derive(Clone, Debug, PartialEq)]
pub enum Ready {
    /// Every bound socket's port accepts a connection.
    Ports,
    /// The port of this bound socket (an index into the group's sockets) accepts.
    Port(usize),
    /// A line of its standard output contains this text.
    Line(String),
}

/// Text with placeholders for a socket's endpoints, checked by the resolver.
#[derive(Clone, Debug, PartialEq)]
pub struct Template(pub Vec<Piece>);

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Text taken as written (`{{` and `}}` already made single braces).
    Text(String),
    /// An endpoint of the socket with this index in the group.
    Endpoint {
        /// The socket's index among the group's sockets.
        socket: usize,
        /// Which of its endpoints.
        part: EndpointPart,
    },
}

/// Which endpoint of a socket a placeholder names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointPart {
    /// `{name.bind}`: `tcp://127.0.0.1:PORT`, where the program must bind.
    Bind,
    /// `{name.port}`: the bare port number of the bind.
    Port,
    /// `{name.connect}`: what it must connect to (the fault proxies), comma-separated
    /// when it connects to several replicas.
    Connect,
}

impl Template {
    /// The text with every placeholder replaced by `endpoint(socket, part)`.
    pub fn render(&self, endpoint: &dyn Fn(usize, EndpointPart) -> String) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Endpoint { socket, part } => endpoint(*socket, *part),
            })
            .collect()
    }
}

impl Group {
    /// The socket named `name`, if the group has one.
    pub fn socket(&self, name: &str) -> Option<&SocketPlan> {
        self.sockets.iter().find(|s| s.name == name)
    }

    pub(crate) fn has_socket_type(&self, types: &[SocketType]) -> bool {
        self.sockets.iter().any(|s| types.contains(&s.socket_type))
    }
}

/// One edge of the topology graph: a group's socket connecting to another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The connecting group.
    pub from_group: GroupId,
    /// Its connecting socket, as an index into the group's `sockets`.
    pub from_socket: usize,
    /// What it connects to.
    pub to: ConnectTarget,
    /// Pipes this connect opens in all (connecting replicas times bound replicas).
    pub pipes: u64,
}

/// An immutable, fully checked topology.
#[derive(Clone, Debug)]
pub struct TopologyPlan {
    /// The topology's `name`.
    pub name: String,
    /// The file it was read from, as given.
    pub file: PathBuf,
    /// Its `description`, if it has one.
    pub description: Option<String>,
    /// Its parameters, after the scenario's overrode them.
    pub params: BTreeMap<String, ParamValue>,
    /// Every group, in file order (a [`GroupId`] indexes them).
    pub groups: Vec<Group>,
    /// Every connect, one per group socket and target.
    pub connections: Vec<Connection>,
}

impl TopologyPlan {
    /// The group with id `id` (every `GroupId` of the plan is valid).
    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    /// The group named `name`, if any.
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every replica's name, as used in traces and selectors: `name.index`.
    pub(crate) fn replica_name(&self, replica: Replica) -> String {
        format!("{}.{}", self.group(replica.group).name, replica.index)
    }

    /// Socket `socket` of `replica` as traces, tables and violations name it,
    /// `client.3.req`: the replica's name and the socket's, as a `connect:` writes a
    /// target. A group or socket the plan does not have (only a trace built by hand
    /// or damaged names one) is named by its number, `group#4` or `#2`, never a panic.
    pub fn socket_name(&self, replica: Replica, socket: usize) -> String {
        match self.groups.get(replica.group.0 as usize) {
            Some(group) => match group.sockets.get(socket) {
                Some(s) => format!("{}.{}.{}", group.name, replica.index, s.name),
                None => format!("{}.{}.#{socket}", group.name, replica.index),
            },
            None => format!("group#{}.{}.#{socket}", replica.group.0, replica.index),
        }
    }

    /// A selector as a file writes it: `worker` for every replica, `worker.1` for one.
    pub(crate) fn selector_name(&self, s: &Selector) -> String {
        let group = &self.group(s.group).name;
        s.replica.map_or_else(|| group.clone(), |i| format!("{group}.{i}"))
    }

    /// Total simulated hosts.
    pub(crate) fn host_count(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.hosts)).sum()
    }

    /// Total replicas.
    pub fn replica_count(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.count)).sum()
    }
}
