//! The topology a section draws, kept in the model as data (groups and connects), not
//! as a finished drawing.
//!
//! A report's JSON may have been edited by hand or downloaded, and the page must never
//! paste markup out of it: the drawing is made at render time from these plain fields,
//! through the same layered SVG as `cargo xtask graph`, which escapes every name. Being
//! data, it also keeps the page a pure function of the JSON.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use crate::graph::{GroupNode, Link, TopologyGraph};
use crate::plan::{GroupId, TopologyPlan};
use crate::socket::SocketType;

/// Groups and the connects between them, as the topology graph holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// The title drawn above the groups: the topology's name.
    pub name: String,
    /// In declaration order; links refer to them by index.
    pub groups: Vec<TopologyGroup>,
    pub links: Vec<TopologyLink>,
}

/// One group of replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyGroup {
    pub name: String,
    pub design: String,
    pub count: u32,
}

/// One connect: a socket of group `from` connecting to a socket of group `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyLink {
    /// Index into [`Topology::groups`] of the connecting group.
    pub from: u32,
    pub from_socket: String,
    /// The socket type's name, e.g. `REQ`.
    pub from_type: String,
    /// Index into [`Topology::groups`] of the binding group.
    pub to: u32,
    pub to_socket: String,
    pub to_type: String,
    /// Pipes the connect opens in all.
    pub pipes: u64,
}

impl Topology {
    /// The model of a resolved topology.
    pub fn of(plan: &TopologyPlan) -> Topology {
        let g = TopologyGraph::new(plan);
        let groups = g
            .graph
            .node_weights()
            .map(|n| TopologyGroup {
                name: n.name.clone(),
                design: n.design.clone(),
                count: n.count,
            })
            .collect();
        let links = g
            .graph
            .edge_references()
            .map(|e| {
                let l = e.weight();
                TopologyLink {
                    from: e.source().index() as u32,
                    from_socket: l.from_socket.clone(),
                    from_type: l.from_type.name().to_owned(),
                    to: e.target().index() as u32,
                    to_socket: l.to_socket.clone(),
                    to_type: l.to_type.name().to_owned(),
                    pipes: l.pipes,
                }
            })
            .collect();
        Topology { name: plan.name.clone(), groups, links }
    }

    /// The drawing, or `None` when the model cannot be drawn: a link to a group that is
    /// not there or a socket type patchbay does not know (a hand-edited JSON). The caller
    /// says so in words instead.
    pub fn to_svg(&self) -> Option<String> {
        let mut graph = DiGraph::new();
        for (i, g) in self.groups.iter().enumerate() {
            graph.add_node(GroupNode {
                group: GroupId(u32::try_from(i).ok()?),
                name: g.name.clone(),
                design: g.design.clone(),
                count: g.count,
            });
        }
        let in_range = |i: u32| (i as usize) < self.groups.len();
        for l in &self.links {
            if !in_range(l.from) || !in_range(l.to) {
                return None;
            }
            let link = Link {
                from_socket: l.from_socket.clone(),
                from_type: SocketType::from_name(&l.from_type)?,
                to_socket: l.to_socket.clone(),
                to_type: SocketType::from_name(&l.to_type)?,
                pipes: l.pipes,
            };
            graph.add_edge(NodeIndex::new(l.from as usize), NodeIndex::new(l.to as usize), link);
        }
        Some(TopologyGraph { graph }.to_svg(&self.name))
    }
}
