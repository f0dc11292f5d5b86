//! The resolved topology: groups of replicas, their sockets and connections.
//!
//! Groups stay groups. A topology of a million subscribers is one [`Group`] with
//! `count: 1_000_000`, never a million copies; per-replica facts (its host, its
//! address) are computed from the group on demand.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::socket::SocketType;

use super::options::EffectiveOptions;

/// Index of a group in [`TopologyPlan::groups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

/// One replica of a group: `name.index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Replica {
    pub group: GroupId,
    pub index: u32,
}

/// A resolved design or topology parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Count(u64),
    Duration(std::time::Duration),
    Size(Option<u64>),
    Number(f64),
    Bool(bool),
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
    Auto,
    Port(u16),
}

/// A connect as written: to every replica of a group's socket, or to one replica's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectTarget {
    pub group: GroupId,
    /// `None` connects to every replica of the group.
    pub replica: Option<u32>,
    /// Index into the target group's `sockets`.
    pub socket: usize,
}

#[derive(Clone, Debug)]
pub struct SocketPlan {
    pub name: String,
    pub socket_type: SocketType,
    pub bind: Option<Bind>,
    pub connects: Vec<ConnectTarget>,
    pub options: EffectiveOptions,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub count: u32,
    pub design: String,
    pub params: BTreeMap<String, ParamValue>,
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
    Text(String),
    /// An endpoint of the socket with this index in the group.
    Endpoint {
        socket: usize,
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
    pub fn socket(&self, name: &str) -> Option<&SocketPlan> {
        self.sockets.iter().find(|s| s.name == name)
    }

    pub fn has_socket_type(&self, types: &[SocketType]) -> bool {
        self.sockets.iter().any(|s| types.contains(&s.socket_type))
    }

    /// Which of the group's hosts replica `index` runs on.
    pub fn host_of(&self, index: u32) -> u32 {
        index % self.hosts
    }
}

/// One edge of the topology graph: a group's socket connecting to another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    pub from_group: GroupId,
    pub from_socket: usize,
    pub to: ConnectTarget,
    /// Pipes this connect opens in all (connecting replicas times bound replicas).
    pub pipes: u64,
}

/// An immutable, fully checked topology.
#[derive(Clone, Debug)]
pub struct TopologyPlan {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub params: BTreeMap<String, ParamValue>,
    pub groups: Vec<Group>,
    pub connections: Vec<Connection>,
}

impl TopologyPlan {
    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every replica's name, as used in traces and selectors: `name.index`.
    pub fn replica_name(&self, replica: Replica) -> String {
        format!("{}.{}", self.group(replica.group).name, replica.index)
    }

    /// Total simulated hosts.
    pub fn host_count(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.hosts)).sum()
    }

    /// Total replicas.
    pub fn replica_count(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.count)).sum()
    }
}
