//! The topology as a graph: node groups as vertices, connects as edges.
//!
//! Built with petgraph from a resolved plan. Validation asks it what is reachable
//! from the nodes that carry a workload; `cargo xtask graph` writes it as DOT, and as
//! SVG drawn here (a layered layout, so no Graphviz install is needed).

mod svg;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use petgraph::Undirected;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, EdgeRef};

use crate::plan::{GroupId, TopologyPlan};
use crate::socket::SocketType;

/// The first line of every drawing `graph` writes, in a comment: how patchbay tells
/// a `.dot` or `.svg` it may replace from the user's own, which it never overwrites
/// (as a report's `generator` field does for reports).
pub const DRAWN_BY: &str = "drawn by patchbay from a topology: patchbay replaces this file when it draws the topology again";

/// Whether `text`, the start of a file, is a drawing patchbay wrote: its first line
/// carries [`DRAWN_BY`].
pub fn is_drawing(text: &str) -> bool {
    text.lines().next().is_some_and(|line| line.contains(DRAWN_BY))
}

/// One vertex: a group of replicas.
#[derive(Clone, Debug)]
pub struct GroupNode {
    pub group: GroupId,
    pub name: String,
    pub design: String,
    pub count: u32,
}

/// One edge: a socket of the source group connecting to a socket of the target group.
#[derive(Clone, Debug)]
pub struct Link {
    pub from_socket: String,
    pub from_type: SocketType,
    pub to_socket: String,
    pub to_type: SocketType,
    /// Pipes the connect opens in all.
    pub pipes: u64,
}

/// The topology graph. Edges point from the connecting side to the binding side.
#[derive(Debug)]
pub struct TopologyGraph {
    pub graph: DiGraph<GroupNode, Link>,
}

impl TopologyGraph {
    pub fn new(plan: &TopologyPlan) -> TopologyGraph {
        let mut graph = DiGraph::new();
        for g in &plan.groups {
            graph.add_node(GroupNode {
                group: g.id,
                name: g.name.clone(),
                design: g.design.clone(),
                count: g.count,
            });
        }
        for c in &plan.connections {
            let from = plan.group(c.from_group);
            let to = plan.group(c.to.group);
            let (fs, ts) = (&from.sockets[c.from_socket], &to.sockets[c.to.socket]);
            graph.add_edge(
                NodeIndex::new(c.from_group.0 as usize),
                NodeIndex::new(c.to.group.0 as usize),
                Link {
                    from_socket: fs.name.clone(),
                    from_type: fs.socket_type,
                    to_socket: ts.name.clone(),
                    to_type: ts.socket_type,
                    pipes: c.pipes,
                },
            );
        }
        TopologyGraph { graph }
    }

    /// Groups reachable from `starts` along connections in either direction (traffic
    /// flows both ways over a connection).
    pub(crate) fn reachable_from(
        &self,
        starts: impl IntoIterator<Item = GroupId>,
    ) -> BTreeSet<GroupId> {
        let undirected = self.graph.clone().into_edge_type::<Undirected>();
        let mut seen = BTreeSet::new();
        for start in starts {
            let mut bfs = Bfs::new(&undirected, NodeIndex::new(start.0 as usize));
            while let Some(n) = bfs.next(&undirected) {
                seen.insert(undirected[n].group);
            }
        }
        seen
    }

    /// Pipes ending at each group (fan-in) and starting from it (fan-out).
    pub fn fan(&self, group: GroupId) -> (u64, u64) {
        let n = NodeIndex::new(group.0 as usize);
        let fan_in =
            self.graph.edges_directed(n, petgraph::Incoming).map(|e| e.weight().pipes).sum();
        let fan_out =
            self.graph.edges_directed(n, petgraph::Outgoing).map(|e| e.weight().pipes).sum();
        (fan_in, fan_out)
    }

    /// Graphviz DOT: one box per group (name, design, replicas), one arrow per connect
    /// labelled with the socket types and the number of pipes.
    pub fn to_dot(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {:?} {{", title);
        let _ = writeln!(out, "  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];");
        for n in self.graph.node_indices() {
            let g = &self.graph[n];
            let count = if g.count > 1 { format!(" ×{}", g.count) } else { String::new() };
            let _ = writeln!(
                out,
                "  n{} [label=\"{}{}\\n{}\"];",
                n.index(),
                escape(&g.name),
                count,
                escape(&g.design)
            );
        }
        for e in self.graph.edge_references() {
            let l = e.weight();
            let _ = writeln!(
                out,
                "  n{} -> n{} [label=\"{}.{} {} → {} {}.{}\\n{} pipe{}\"];",
                e.source().index(),
                e.target().index(),
                escape(&self.graph[e.source()].name),
                escape(&l.from_socket),
                l.from_type,
                l.to_type,
                escape(&self.graph[e.target()].name),
                escape(&l.to_socket),
                l.pipes,
                if l.pipes == 1 { "" } else { "s" }
            );
        }
        out.push_str("}\n");
        out
    }

    /// A self-contained SVG drawing of the graph.
    pub fn to_svg(&self, title: &str) -> String {
        svg::render(self, title)
    }

    /// [`TopologyGraph::to_dot`] as `graph` writes it to a file: marked as patchbay's
    /// ([`DRAWN_BY`]) in a first comment line.
    pub fn dot_file(&self, title: &str) -> String {
        format!("// {DRAWN_BY}\n{}", self.to_dot(title))
    }

    /// [`TopologyGraph::to_svg`] as `graph` writes it to a file: marked as patchbay's
    /// ([`DRAWN_BY`]) in a comment before the root element. (A report's page draws the
    /// SVG inline, unmarked.)
    pub fn svg_file(&self, title: &str) -> String {
        format!("<!-- {DRAWN_BY} -->\n{}", self.to_svg(title))
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
