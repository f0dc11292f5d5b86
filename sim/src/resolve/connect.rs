//! The topology resolver's second pass: connects, binds and peers.
//!
//! Runs after every group is known, so a connect may name a node declared later in
//! the file. Checks that each connect names a socket that binds, that the pair of
//! socket types is one the libraries allow, that both ends speak one wire (libzmq's
//! ZMTP or nanomsg's and NNG's SP, where both ends name their library), that no node
//! binds one port twice, and that a PAIR socket has exactly one peer.

use std::collections::BTreeMap;

use crate::socket::SocketType;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::{RawSocket, RawTopology};
use crate::spec::suggest::did_you_mean;

use super::topology::TopologyResolver;
use crate::plan::{Bind, ConnectTarget, Connection, Group, GroupId, Library, SocketPlan};

impl TopologyResolver<'_, '_, '_> {
    pub(super) fn connections(
        &mut self,
        raw: &RawTopology,
        groups: &mut [Group],
    ) -> Vec<Connection> {
        let mut out = Vec::new();
        let node_indices = raw.node_indices();
        for group_index in 0..groups.len() {
            let Some(&node_index) = node_indices.get(groups[group_index].name.as_str()) else {
                continue;
            };
            let node = &raw.nodes[node_index];
            for (si, socket) in node.sockets.iter().enumerate() {
                let Some(plan_si) =
                    groups[group_index].sockets.iter().position(|s| s.name == socket.name)
                else {
                    continue;
                };
                let Some(connect) = &socket.connect else { continue };
                let path = YamlPath::root().key("nodes").index(node_index).key("sockets").index(si);
                for (ci, text) in connect.iter().enumerate() {
                    let cpath = if connect.is_many() {
                        path.key("connect").index(ci)
                    } else {
                        path.key("connect")
                    };
                    let from = (GroupId(group_index as u32), plan_si);
                    if let Some(c) = self.connect(text, from, groups, raw, &cpath) {
                        groups[group_index].sockets[plan_si].connects.push(c.to);
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    fn connect(
        &mut self,
        text: &str,
        from: (GroupId, usize),
        groups: &[Group],
        raw: &RawTopology,
        path: &YamlPath,
    ) -> Option<Connection> {
        let parts: Vec<&str> = text.split('.').collect();
        let (node, replica, socket) = match parts.as_slice() {
            [node, socket] => (*node, None, *socket),
            [node, index, socket] => match index.parse::<u32>() {
                Ok(i) => (*node, Some(i), *socket),
                Err(_) => return self.bad_target(text, path),
            },
            _ => return self.bad_target(text, path),
        };
        let (target, ti) = self.connect_target(text, (node, replica, socket), groups, raw, path)?;
        let me = &groups[from.0.0 as usize];
        self.check_peers(text, &me.sockets[from.1], &target.sockets[ti], path)?;
        let to = ConnectTarget { group: target.id, replica, socket: ti };
        let targets = if replica.is_some() { 1 } else { u64::from(target.count) };
        // A group connecting to itself is a mesh: each replica connects to every
        // replica with a lower index, so every pair shares exactly one pipe.
        let pipes = if target.id == from.0 && replica.is_none() {
            u64::from(me.count) * targets.saturating_sub(1) / 2
        } else {
            u64::from(me.count) * targets
        };
        Some(Connection { from_group: from.0, from_socket: from.1, to, pipes })
    }

    /// The group and socket index a connect names, when the node exists, has that
    /// socket and replica, and the socket binds.
    fn connect_target<'g>(
        &mut self,
        text: &str,
        (node, replica, socket): (&str, Option<u32>, &str),
        groups: &'g [Group],
        raw: &RawTopology,
        path: &YamlPath,
    ) -> Option<(&'g Group, usize)> {
        let target = self.connect_group(text, (node, socket), groups, raw, path)?;
        let ti = self.connect_socket((node, socket), target, raw, path)?;
        if let Some(i) = replica
            && i >= target.count
        {
            self.diags()
                .error(
                    path,
                    Target::Value,
                    Code::OutOfRange,
                    format!(
                        "`{text}`: node `{node}` has {} replicas (0 to {})",
                        target.count,
                        target.count - 1
                    ),
                )
                .hint(format!("connect to `{node}.{socket}` to reach every replica"));
            return None;
        }
        if target.sockets[ti].bind.is_none() {
            // A `bind` that is written but invalid has its own error already.
            if raw_socket(raw, node, socket).is_some_and(|s| s.bind.is_some()) {
                return None;
            }
            self.diags()
                .error(
                    path,
                    Target::Value,
                    Code::ConnectToUnbound,
                    format!("`{text}` connects to a socket that nothing binds"),
                )
                .hint(format!("add `bind: true` to socket `{socket}` of node `{node}`"));
            return None;
        }
        Some((target, ti))
    }

    /// The group a connect names, or `None` after saying it does not exist (with a
    /// suggestion when a name is close).
    fn connect_group<'g>(
        &mut self,
        text: &str,
        (node, socket): (&str, &str),
        groups: &'g [Group],
        raw: &RawTopology,
        path: &YamlPath,
    ) -> Option<&'g Group> {
        if let Some(target) = groups.iter().find(|g| g.name == node) {
            return Some(target);
        }
        // A node the file declares but that was left out for its own error (its
        // count, say) has been reported already; "does not exist" would mislead.
        if raw.nodes.iter().any(|n| n.name() == node) {
            return None;
        }
        let d = self.diags().error(
            path,
            Target::Value,
            Code::UnknownNode,
            format!("`{text}` connects to node `{node}`, which does not exist"),
        );
        if let Some(s) = did_you_mean(node, groups.iter().map(|g| g.name.as_str())) {
            d.hint(format!("did you mean `{s}.{socket}`?"));
        }
        None
    }

    /// The index of the socket a connect names in `target`, or `None` after saying
    /// the node has no such socket (with its sockets or a close name as the hint).
    fn connect_socket(
        &mut self,
        (node, socket): (&str, &str),
        target: &Group,
        raw: &RawTopology,
        path: &YamlPath,
    ) -> Option<usize> {
        if let Some(ti) = target.sockets.iter().position(|s| s.name == socket) {
            return Some(ti);
        }
        // Likewise a declared socket left out for its own error (its type).
        if raw_socket(raw, node, socket).is_some() {
            return None;
        }
        let d = self.diags().error(
            path,
            Target::Value,
            Code::UnknownSocket,
            format!("node `{node}` has no socket `{socket}`"),
        );
        let names = target.sockets.iter().map(|s| s.name.as_str());
        match did_you_mean(socket, names.clone()) {
            Some(s) => d.hint(format!("did you mean `{node}.{s}`?")),
            None => d.hint(format!("its sockets: {}", names.collect::<Vec<_>>().join(", "))),
        };
        None
    }

    /// The two ends of a connect can talk: their types pair, and where both name a
    /// library, their libraries speak one wire.
    fn check_peers(
        &mut self,
        text: &str,
        mine: &SocketPlan,
        bound: &SocketPlan,
        path: &YamlPath,
    ) -> Option<()> {
        let my_type = mine.socket_type;
        if !my_type.pairs_with(bound.socket_type) {
            let peers: Vec<&str> = my_type.valid_peers().iter().map(|t| t.name()).collect();
            self.diags()
                .error(
                    path,
                    Target::Value,
                    Code::InvalidPair,
                    format!(
                        "a {my_type} socket cannot talk to a {} socket (`{text}`)",
                        bound.socket_type
                    ),
                )
                .hint(format!("{my_type} pairs with {}", peers.join(", ")));
            return None;
        }
        if let (Some(a), Some(b)) = (mine.options.library.value, bound.options.library.value)
            && a.wire() != b.wire()
        {
            self.diags()
                .error(
                    path,
                    Target::Value,
                    Code::WireMismatch,
                    format!(
                        "`{text}` connects a {a} {my_type}, which speaks {}, to a {b} {}, which speaks {}",
                        a.wire(),
                        bound.socket_type,
                        b.wire()
                    ),
                )
                .hint("libzmq's ZMTP and the SP protocol of nanomsg and NNG cannot talk to each other: name one library on both sides, or put a device with one socket of each between them");
            return None;
        }
        self.check_pair_versions(text, mine, bound, path)
    }

    /// Two SP PAIRs must speak one version: NNG closes a v0–v1 connection at its
    /// handshake (docs/library-semantics.md, "PAIR versions").
    fn check_pair_versions(
        &mut self,
        text: &str,
        mine: &SocketPlan,
        bound: &SocketPlan,
        path: &YamlPath,
    ) -> Option<()> {
        let (a, b) = (mine.options.pair_version.value, bound.options.pair_version.value);
        let zmtp = [mine, bound].iter().any(|s| s.options.library.value == Some(Library::ZeroMq));
        if mine.socket_type != SocketType::Pair || a == b || zmtp {
            return Some(());
        }
        self.diags()
            .error(
                path,
                Target::Value,
                Code::PairVersionMismatch,
                format!("`{text}` connects a PAIR v{a} to a PAIR v{b}: their handshakes do not match (SP 0x1{a} and 0x1{b})"),
            )
            .hint("NNG's default PAIR (`library: nng`) is v1 and nanomsg's (or an unnamed one) v0: set `pair_version: 0` on the `library: nng` side, or name `library: nng` on both");
        None
    }

    fn bad_target(&mut self, text: &str, path: &YamlPath) -> Option<Connection> {
        self.diags()
            .error(
                path,
                Target::Value,
                Code::BadConnect,
                format!("`{text}` is not a connect target"),
            )
            .hint("write `node.socket` for every replica, or `node.N.socket` for replica N");
        None
    }

    /// Two sockets of one node may not bind the same port.
    pub(super) fn check_binds(&mut self, raw: &RawTopology, groups: &[Group]) {
        let node_indices = raw.node_indices();
        for group in groups {
            let Some(&ni) = node_indices.get(group.name.as_str()) else { continue };
            let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
            for socket in &group.sockets {
                let Some(Bind::Port(port)) = socket.bind else { continue };
                if let Some(first) = seen.insert(port, &socket.name) {
                    let si = raw.nodes[ni]
                        .sockets
                        .iter()
                        .position(|s| s.name == socket.name)
                        .unwrap_or(0);
                    let path = YamlPath::root()
                        .key("nodes")
                        .index(ni)
                        .key("sockets")
                        .index(si)
                        .key("bind");
                    self.diags()
                        .error(
                            &path,
                            Target::Value,
                            Code::DuplicateBind,
                            format!(
                                "sockets `{first}` and `{}` of node `{}` both bind port {port}",
                                socket.name, group.name
                            ),
                        )
                        .hint("give each socket its own port, or `bind: true` to have one picked");
                }
            }
        }
    }

    /// A PAIR socket talks to exactly one peer: count the pipes each replica's PAIR
    /// socket would have.
    pub(super) fn check_pairs(
        &mut self,
        raw: &RawTopology,
        groups: &[Group],
        connections: &[Connection],
    ) {
        let node_indices = raw.node_indices();
        for group in groups {
            let Some(&ni) = node_indices.get(group.name.as_str()) else { continue };
            for (si, socket) in group.sockets.iter().enumerate() {
                if socket.socket_type != SocketType::Pair {
                    continue;
                }
                let outgoing: u64 = connections
                    .iter()
                    .filter(|c| c.from_group == group.id && c.from_socket == si)
                    .map(|c| c.pipes / u64::from(group.count))
                    .sum();
                let incoming: u64 = connections
                    .iter()
                    .filter(|c| c.to.group == group.id && c.to.socket == si)
                    .map(|c| match c.to.replica {
                        Some(_) => c.pipes,
                        None => c.pipes / u64::from(group.count),
                    })
                    .sum();
                let peers = outgoing + incoming;
                if peers > 1 {
                    let rsi = raw.nodes[ni]
                        .sockets
                        .iter()
                        .position(|s| s.name == socket.name)
                        .unwrap_or(0);
                    let path = YamlPath::root().key("nodes").index(ni).key("sockets").index(rsi);
                    self.diags()
                        .error(
                            &path.key("type"),
                            Target::Value,
                            Code::PairPeers,
                            format!(
                                "PAIR socket `{}.{}` would have {peers} peers; PAIR talks to exactly one",
                                group.name, socket.name
                            ),
                        )
                        .hint("connect PAIR sockets one to one (`node.N.socket`), or use DEALER/ROUTER for many peers");
                }
            }
        }
    }
}

/// The socket `socket` of the node `node` as the file declares it.
fn raw_socket<'r>(raw: &'r RawTopology, node: &str, socket: &str) -> Option<&'r RawSocket> {
    raw.nodes
        .iter()
        .filter(|n| n.name() == node)
        .flat_map(|n| &n.sockets)
        .find(|s| s.name == socket)
}
