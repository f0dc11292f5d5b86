//! The raw schema: serde structs that mirror topology and scenario files field for field.
//!
//! Nothing here is checked beyond shape. Leaves that carry units (`250ms`, `64KiB`,
//! `100/s`) or may name a parameter (`$users`) are kept as [`Scalar`]s, so that every
//! unit mistake in a file is collected by the resolver in `plan/` instead of stopping
//! the load at the first one. The resolver turns these structs into an immutable plan.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::scalar::{OneOrMany, Scalar};

/// A topology file: what runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Named parameters with their defaults; counts and design parameters may refer
    /// to them as `$name`, and a scenario may override them.
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
    pub nodes: Vec<RawNode>,
    pub placement: Option<RawPlacement>,
    /// The library every socket stands for (`zeromq`, `nng`, `nanomsg`) unless its
    /// node or itself names another: it decides option defaults and the wire.
    pub library: Option<String>,
}

impl RawTopology {
    /// Each node's index in `nodes` by name (the first, where two share one): the
    /// resolver finds a group's node by its name, and a walk of `nodes` for each made
    /// a topology of tens of thousands of nodes take minutes.
    pub fn node_indices(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            out.entry(node.name()).or_insert(i);
        }
        out
    }
}

/// A node group: `count` replicas of one design, or of an external program.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Optional here so that a node written without one is reported by the resolver
    /// beside the file's other mistakes; read it through [`RawNode::name`].
    pub name: Option<String>,
    /// Replicas, addressed as `name.0 … name.{count-1}`; a number or `$param`.
    pub count: Option<Scalar>,
    /// The built-in or registered behaviour; a node has this or `process`, not both.
    pub design: Option<String>,
    /// A program of the user's own that `real` runs in this node's place.
    pub process: Option<RawProcess>,
    /// Design parameters, checked against what the design declares.
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub sockets: Vec<RawSocket>,
    /// How many simulated hosts this group's replicas are packed onto.
    pub hosts: Option<Scalar>,
    /// The library of this node's sockets, over the topology's.
    pub library: Option<String>,
}

impl RawNode {
    /// The node's name; empty when the file gave none (an error the resolver reports),
    /// so that no reference to a node can match it.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// How messages speak of the node: "node `broker`", or "a node without a name".
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("node `{name}`"),
            None => "a node without a name".to_owned(),
        }
    }
}

/// An external program standing for a node (`real` only). Its arguments, environment
/// values and working directory may name its sockets' endpoints as `{socket}`,
/// `{socket.bind}`, `{socket.port}` and `{socket.connect}` (`{{` is a brace).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    /// The program and its arguments; the program is looked up on `PATH`.
    pub command: Vec<String>,
    /// Environment variables set for the program, over patchbay's own.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The program's working directory, relative to the topology file.
    pub cwd: Option<String>,
    /// How to know the program is ready; absent waits for every bound port.
    pub ready: Option<RawReady>,
}

/// When an external program counts as started: its bound socket accepts, or a line
/// of its standard output contains some text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReady {
    /// The name of one of its bound sockets, ready once its port accepts.
    pub port: Option<String>,
    /// Text a line of its standard output contains once it is ready.
    pub line: Option<String>,
    /// How long to wait before the run fails (default 10s).
    pub timeout: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSocket {
    pub name: String,
    #[serde(rename = "type")]
    pub socket_type: String,
    /// `true`, a port number, or `tcp://*:PORT`.
    pub bind: Option<Scalar>,
    /// `node.socket` (every replica of the group) or `node.N.socket` (one replica).
    pub connect: Option<OneOrMany<String>>,
    pub options: Option<RawOptions>,
    /// This socket's library, over its node's and the topology's.
    pub library: Option<String>,
}

/// Socket options as written. Every field is optional: an absent one takes the real
/// library's default, and `check --explain` says which. Each value may be a
/// topology `$param` instead ([`RawOptions::scalars_mut`]).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    pub sndhwm: Option<Scalar>,
    pub rcvhwm: Option<Scalar>,
    pub req_resend_ivl: Option<Scalar>,
    pub reconnect_ivl: Option<Scalar>,
    pub reconnect_ivl_max: Option<Scalar>,
    pub linger: Option<Scalar>,
    pub survey_deadline: Option<Scalar>,
    pub heartbeat_ivl: Option<Scalar>,
    pub heartbeat_timeout: Option<Scalar>,
    /// libzmq's `ZMQ_HEARTBEAT_TTL` (`library: zeromq` only, like the two above).
    pub heartbeat_ttl: Option<Scalar>,
    /// libzmq's `ZMQ_HANDSHAKE_IVL` (`library: zeromq` only: NNG's and nanomsg's
    /// deadlines are fixed); `off` or 0 waits for ever.
    pub handshake_ivl: Option<Scalar>,
    pub rcvmaxsize: Option<Scalar>,
    /// The kernel send buffer the library sets on each connection, in bytes
    /// (`ZMQ_SNDBUF`, `NN_SNDBUF`; NNG has none).
    pub sndbuf: Option<Scalar>,
    /// The kernel receive buffer, the same way (`ZMQ_RCVBUF`, `NN_RCVBUF`).
    pub rcvbuf: Option<Scalar>,
    pub subscribe: Option<OneOrMany<String>>,
    pub router_mandatory: Option<Scalar>,
    /// libzmq's `ZMQ_IMMEDIATE` (PUSH, DEALER, REQ and PAIR of `library: zeromq`).
    pub immediate: Option<Scalar>,
    /// libzmq's `ZMQ_REQ_RELAXED` (REQ of `library: zeromq` only).
    pub req_relaxed: Option<Scalar>,
    /// libzmq's `ZMQ_REQ_CORRELATE` (REQ of `library: zeromq` only, with `req_relaxed`).
    pub req_correlate: Option<Scalar>,
    /// NNG's `NNG_OPT_REQ_RESENDTICK` (REQ of `library: nng` only), or `off` for NNG
    /// 1.6's resend once per interval.
    pub req_resend_tick: Option<Scalar>,
    /// A PAIR's SP version, 0 or 1 (PAIR of `library: nng` only).
    pub pair_version: Option<Scalar>,
    /// NNG's `NNG_OPT_SUB_PREFNEW` (SUB of `library: nng` only): whether a full queue
    /// makes room for a new message by discarding its oldest (`true`, the default).
    pub sub_prefer_new: Option<Scalar>,
}

impl RawOptions {
    /// Every option whose value is one scalar, by name, to be rewritten in place: a
    /// topology's `$param`s are substituted so before the values are read.
    pub fn scalars_mut(&mut self) -> [(&'static str, &mut Option<Scalar>); 21] {
        [
            ("sndhwm", &mut self.sndhwm),
            ("rcvhwm", &mut self.rcvhwm),
            ("req_resend_ivl", &mut self.req_resend_ivl),
            ("reconnect_ivl", &mut self.reconnect_ivl),
            ("reconnect_ivl_max", &mut self.reconnect_ivl_max),
            ("linger", &mut self.linger),
            ("survey_deadline", &mut self.survey_deadline),
            ("heartbeat_ivl", &mut self.heartbeat_ivl),
            ("heartbeat_timeout", &mut self.heartbeat_timeout),
            ("heartbeat_ttl", &mut self.heartbeat_ttl),
            ("handshake_ivl", &mut self.handshake_ivl),
            ("rcvmaxsize", &mut self.rcvmaxsize),
            ("sndbuf", &mut self.sndbuf),
            ("rcvbuf", &mut self.rcvbuf),
            ("router_mandatory", &mut self.router_mandatory),
            ("immediate", &mut self.immediate),
            ("req_relaxed", &mut self.req_relaxed),
            ("req_correlate", &mut self.req_correlate),
            ("req_resend_tick", &mut self.req_resend_tick),
            ("pair_version", &mut self.pair_version),
            ("sub_prefer_new", &mut self.sub_prefer_new),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    /// Upper bound on simulated hosts for the whole topology (turmoil's cost grows
    /// with the cube of the host count).
    pub max_hosts: Option<Scalar>,
}

/// A scenario file: what happens to a topology, and what must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Path of the topology file, relative to this file.
    pub topology: String,
    /// Overrides of the topology's `params`.
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
    /// Socket option overrides keyed by `node.socket`.
    #[serde(default)]
    pub overrides: BTreeMap<String, RawOptions>,
    /// Length of the safety phase, in which faults happen. Required; optional here so
    /// that a file without it still has its other mistakes reported (the resolver
    /// says it is missing).
    pub duration: Option<Scalar>,
    /// Bound on the liveness phase that follows, with every fault healed.
    pub liveness: Option<Scalar>,
    /// A number of seeds (`20`) or the seeds themselves (`[1, 7, 42]`).
    pub seeds: Option<OneOrMany<u64>>,
    /// How long a held connection lasts before both ends reset it (Linux: ~15 min).
    pub tcp_timeout: Option<Scalar>,
    pub network: Option<RawNetwork>,
    /// Workload per node group, keyed by group name.
    #[serde(default)]
    pub workload: BTreeMap<String, RawWorkload>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
    pub swarm: Option<RawSwarm>,
    #[serde(default)]
    pub invariants: Vec<RawInvariant>,
    /// Required, as `duration` is, and for the same reason optional here.
    pub expect: Option<RawExpect>,
    /// Why a sweep of every shipped scenario leaves this one out (its size, say); it
    /// runs only when named. Absent: every sweep runs it.
    pub only_when_named: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// The simulator's step; network delivery is quantised to it.
    pub tick: Option<Scalar>,
    pub latency: Option<RawDist>,
    /// Probability in [0, 1] that a message is lost (and retransmitted by TCP).
    pub loss: Option<f64>,
    /// Bytes per second each link carries at most, each way (`1MiB/s`); absent is
    /// unlimited.
    pub bandwidth: Option<Scalar>,
    #[serde(default)]
    pub links: Vec<RawLink>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// Two node selectors (`broker`, `client.3`).
    pub between: Vec<String>,
    pub latency: Option<RawDist>,
    pub loss: Option<f64>,
    /// This link's bandwidth each way (`1MiB/s`, or `unlimited` to lift the
    /// network's).
    pub bandwidth: Option<Scalar>,
}

/// What one group of nodes does. Which fields apply depends on the group's design;
/// the resolver rejects the ones that do not.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Requests (or tasks, or jobs) per replica.
    pub requests: Option<Scalar>,
    /// Offered rate per replica (`10/s`); absent means closed loop.
    pub rate: Option<Scalar>,
    /// When the replica starts its workload.
    pub start_at: Option<RawDist>,
    /// Message size (`1KiB`, or a distribution up to hundreds of MB).
    pub size: Option<RawDist>,
    /// Time a worker spends on one unit of work.
    pub service_time: Option<RawDist>,
    /// Messages per second a publisher sends.
    pub publish_rate: Option<Scalar>,
    /// How many messages a publisher sends in all.
    pub publishes: Option<Scalar>,
    /// When a subscriber joins and leaves.
    pub join_at: Option<RawDist>,
    pub leave_at: Option<RawDist>,
    /// Comet users: how long a session lasts and how long a user stays away.
    pub session: Option<RawDist>,
    pub offline: Option<RawDist>,
    /// Fraction of users logged in at the start.
    pub online_fraction: Option<f64>,
    /// Jobs a client works on at once (the multiplexing aggregator).
    pub jobs: Option<Scalar>,
    /// Chunks per job and connection (the multiplexing aggregator).
    pub chunks: Option<Scalar>,
}

/// One scheduled fault. A flat struct rather than a tagged enum so that every
/// misplaced field gets its own precise diagnostic from the resolver.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Scalar,
    #[serde(rename = "for")]
    pub for_: Option<Scalar>,
    pub until: Option<Scalar>,
    pub kind: String,
    /// The target of a node fault (`kill`, `crash`, `restart`, `stall`).
    pub node: Option<OneOrMany<String>>,
    /// The two sides of a link fault (`partition`, `clog`, `latency`, `loss`,
    /// `bandwidth`).
    pub between: Option<Vec<OneOrMany<String>>>,
    /// A partition or clog that holds traffic from the first side to the second only.
    pub oneway: Option<bool>,
    pub latency: Option<RawDist>,
    /// The loss probability of a `loss` fault. Kept as written, so that a limit
    /// written here by mistake (`rate: 1MiB/s`) is told where it belongs.
    pub rate: Option<Scalar>,
    /// The limit of a `bandwidth` fault (`1MiB/s`). Not `rate`, which is `loss`'s
    /// probability; named as `network.links[].bandwidth` is, as `latency` is.
    pub bandwidth: Option<Scalar>,
}

/// Faults drawn from the seed (the engine lands with the exploration work).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwarm {
    /// Fault kinds to draw from.
    pub kinds: Vec<String>,
    /// Node selectors the faults may hit (default: every group).
    #[serde(default)]
    pub targets: Vec<String>,
    /// How many faults a run draws: a fixed count or a range `[min, max]`.
    pub faults: Option<OneOrMany<u64>>,
    /// How long each drawn fault lasts.
    pub duration: Option<RawDist>,
    /// Loss probability range for `loss` faults.
    pub loss: Option<Vec<f64>>,
    /// Latency range for `latency` faults.
    pub latency: Option<RawDist>,
}

/// `expect: pass`, or a mapping: `{violated: [invariant, …], in: any, violations:
/// {invariant: [min, max]}, drops: {reason: [min, max]}}`, every key optional.
#[derive(Debug)]
pub enum RawExpect {
    Pass,
    Spec(RawExpectSpec),
}

/// The mapping form of `expect`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectSpec {
    /// Invariants that must fail; absent, every invariant must pass.
    pub violated: Option<Vec<String>>,
    /// In how many seeds the outcome must show: `every` (the default) or `any`.
    #[serde(rename = "in")]
    pub in_seeds: Option<String>,
    /// Violations per seed of each violated invariant: `N` or `[min, max]`.
    #[serde(default)]
    pub violations: BTreeMap<String, OneOrMany<Scalar>>,
    /// Dropped messages per seed by drop reason (`hwm`, `unknown_peer`, …), as ranges.
    #[serde(default)]
    pub drops: BTreeMap<String, OneOrMany<Scalar>>,
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawExpect, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawExpect;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`pass` or a mapping such as `{violated: [no_lost_replies]}`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawExpect, E> {
                match text {
                    "pass" => Ok(RawExpect::Pass),
                    _ => Err(de::Error::invalid_value(de::Unexpected::Str(text), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawExpect, A::Error> {
                let spec = RawExpectSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawExpect::Spec(spec))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An invariant by name, with optional parameters: `no_lost_replies` or
/// `{resend_interval: {tolerance: 1ms}}`.
#[derive(Debug)]
pub struct RawInvariant {
    pub name: String,
    pub params: BTreeMap<String, Scalar>,
}

/// A value drawn per event: fixed (`10ms`) or a distribution
/// (`{uniform: [1KiB, 100MB]}`, `{exponential: 50ms}`, `{normal: [mean, stddev]}`,
/// `{lognormal: [median, p99]}`).
#[derive(Debug, Clone)]
pub enum RawDist {
    Fixed(Scalar),
    /// Name of the distribution and its arguments.
    Named {
        name: String,
        args: Vec<Scalar>,
    },
}

impl<'de> Deserialize<'de> for RawInvariant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawInvariant, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawInvariant;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an invariant name or `{name: {param: value}}`")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<RawInvariant, E> {
                Ok(RawInvariant { name: name.to_owned(), params: BTreeMap::new() })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawInvariant, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("an empty mapping names no invariant"));
                };
                let params = map.next_value::<Option<BTreeMap<String, Scalar>>>()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one invariant per list item: found `{extra}` after `{name}`"
                    )));
                }
                Ok(RawInvariant { name, params: params.unwrap_or_default() })
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawDist, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a value such as `10ms` or a distribution such as `{uniform: [1ms, 5ms]}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(Scalar::string(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(Scalar::number(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(Scalar::number(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(Scalar::number(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDist, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("an empty mapping names no distribution"));
                };
                let args = map.next_value::<OneOrMany<Scalar>>()?.into_vec();
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one distribution per value: found `{extra}` after `{name}`"
                    )));
                }
                Ok(RawDist::Named { name, args })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Which schema a file follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Topology,
    Scenario,
}

impl FileKind {
    /// A scenario names its topology at the top level; a topology does not. Decided
    /// from the text before parsing, so that a file with a syntax error is still
    /// reported against the right schema; a file that says neither is taken by the
    /// folder it sits in (`scenarios/` or not).
    pub(crate) fn sniff(text: &str, path: &std::path::Path) -> FileKind {
        if has_top_key(text, "topology:") {
            FileKind::Scenario
        } else if has_top_key(text, "nodes:") {
            FileKind::Topology
        } else if path.components().any(|c| c.as_os_str() == "scenarios") {
            FileKind::Scenario
        } else {
            FileKind::Topology
        }
    }

    /// Whether the text is plainly a topology: `nodes:` at the top level and no
    /// `topology:`. Unlike [`sniff`](Self::sniff), it never guesses from the folder.
    pub(crate) fn is_plainly_topology(text: &str) -> bool {
        has_top_key(text, "nodes:") && !has_top_key(text, "topology:")
    }
}

/// Whether a line of `text` starts with `key` (`nodes:`): a top-level key, read from
/// the text before it is parsed.
fn has_top_key(text: &str, key: &str) -> bool {
    text.lines().any(|l| l.starts_with(key))
}
