//! The endpoint table every real run prints as it starts: for each
//! socket of each replica, how it is reached from outside the topology and where it
//! really is, so a person (or `cargo xtask cat`) can talk to a running topology.
//!
//! A bound socket listens on an ephemeral port of 127.0.0.1 (its internal address),
//! reached by patchbay's connecting sockets only through the fault proxies of their
//! links. Under `--ports as-written` the port the topology wrote is a proxy too (the
//! "door", `proxy.rs`), and that is the address outside programs dial. A connecting
//! socket dials one proxy per link; the table names the replica behind each.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;

use crate::plan::{Replica, ScenarioPlan};

use super::wiring::Link;

/// Replicas of one group listed in full; the rest are counted on one line, so a
/// thousand-replica group does not flood the terminal.
const REPLICAS_LISTED_MAX: u32 = 4;

/// Where one run's sockets are, gathered once they are known.
#[derive(Debug, Default)]
pub(super) struct Endpoints {
    /// Each bound socket's internal address (its current incarnation's listener, or
    /// the port picked for an external program); missing when it has not bound.
    pub bound: BTreeMap<(Replica, usize), SocketAddr>,
    /// Each connecting socket's proxies, with the link each carries.
    pub proxies: BTreeMap<(Replica, usize), Vec<(SocketAddr, Link)>>,
    /// The doors of `--ports as-written`: each bound socket's written port.
    pub doors: BTreeMap<(Replica, usize), SocketAddr>,
}

/// One row of the table.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Row {
    pub node: String,
    pub replica: String,
    pub socket: String,
    pub socket_type: String,
    pub library: String,
    pub how: &'static str,
    pub outside: String,
    pub internal: String,
}

const HEADER: [&str; 8] =
    ["NODE", "REPLICA", "SOCKET", "TYPE", "LIBRARY", "HOW", "OUTSIDE", "INTERNAL"];

impl Endpoints {
    /// The rows for every socket of the first replicas of every group, in file order,
    /// and a summary line for each group cut short.
    pub fn rows(&self, plan: &ScenarioPlan) -> Vec<Result<Row, String>> {
        let mut rows = Vec::new();
        for g in &plan.topology.groups {
            for index in 0..g.count.min(REPLICAS_LISTED_MAX) {
                let replica = Replica { group: g.id, index };
                for (si, s) in g.sockets.iter().enumerate() {
                    rows.push(Ok(self.row(plan, replica, si, s)));
                }
            }
            if g.count > REPLICAS_LISTED_MAX {
                let more = g.count - REPLICAS_LISTED_MAX;
                rows.push(Err(format!(
                    "  ... {more} more replica(s) of `{}`, each on its own ports",
                    g.name
                )));
            }
        }
        rows
    }

    fn row(
        &self,
        plan: &ScenarioPlan,
        replica: Replica,
        si: usize,
        s: &crate::plan::SocketPlan,
    ) -> Row {
        let g = plan.topology.group(replica.group);
        // A socket whose library is not named speaks SP (`net/`), as NNG and nanomsg do.
        let library = s.options.library.value.map_or("unnamed (SP)".to_owned(), |l| l.to_string());
        let tcp = |a: &SocketAddr| format!("tcp://{a}");
        let (how, outside, internal) = match s.bind {
            Some(_) => (
                "bind",
                self.doors.get(&(replica, si)).map_or("-".to_owned(), tcp),
                self.bound.get(&(replica, si)).map_or("(not bound)".to_owned(), tcp),
            ),
            None => {
                let via = self.proxies.get(&(replica, si)).map_or(Vec::new(), |v| {
                    let to = |l: &Link| plan.topology.socket_name(l.to, l.to_socket);
                    v.iter().map(|(a, l)| format!("{} -> {}", tcp(a), to(l))).collect()
                });
                let internal =
                    if via.is_empty() { "(no links)".to_owned() } else { via.join(", ") };
                ("connect", "-".to_owned(), internal)
            }
        };
        Row {
            node: g.name.clone(),
            replica: replica.index.to_string(),
            socket: s.name.clone(),
            socket_type: s.socket_type.to_string(),
            library,
            how,
            outside,
            internal,
        }
    }

    /// The table as printed: a title, aligned columns, a line per group cut short.
    pub fn render(&self, plan: &ScenarioPlan, seed: u64) -> String {
        let rows = self.rows(plan);
        let cells = |r: &Row| {
            [
                r.node.clone(),
                r.replica.clone(),
                r.socket.clone(),
                r.socket_type.clone(),
                r.library.clone(),
                r.how.to_owned(),
                r.outside.clone(),
                r.internal.clone(),
            ]
        };
        let mut width = HEADER.map(str::len);
        for r in rows.iter().flatten() {
            for (w, c) in width.iter_mut().zip(cells(r)) {
                *w = (*w).max(c.len());
            }
        }
        let line = |c: [String; 8]| {
            let padded: Vec<String> =
                c.iter().zip(width).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("  {}\n", padded.join("  ").trim_end())
        };
        let mut out = format!("endpoints of {} seed {seed}:\n", plan.name);
        out += &line(HEADER.map(str::to_owned));
        for r in &rows {
            match r {
                Ok(r) => out += &line(cells(r)),
                Err(more) => out += &format!("{more}\n"),
            }
        }
        out
    }

    /// Prints the table in one piece, so runs side by side do not interleave.
    pub fn print(&self, plan: &ScenarioPlan, seed: u64) {
        let text = self.render(plan, seed);
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Bind;
    use crate::plan::testing::{node, plan_with};
    use crate::socket::SocketType;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Every socket has a row, binds and connects alike; a bind's door is its outside
    /// address; a connect lists its proxies with the socket behind each; a group of
    /// many replicas is cut short with a line saying how many more.
    #[test]
    fn the_table_lists_every_socket_and_cuts_a_large_group_short() {
        let mut plan =
            plan_with(&[("client", 6, &[SocketType::Req]), ("worker", 1, &[SocketType::Rep])]);
        plan.topology.groups[1].sockets[0].bind = Some(Bind::Port(5555));
        let link = Link { from: node(0, 0), from_socket: 0, to: node(1, 0), to_socket: 0 };
        let mut table = Endpoints::default();
        table.bound.insert((node(1, 0), 0), addr(40001));
        table.doors.insert((node(1, 0), 0), addr(5555));
        table.proxies.insert((node(0, 0), 0), vec![(addr(40002), link)]);
        let rows = table.rows(&plan);
        assert_eq!(rows.len(), 4 + 1 + 1, "four clients, a line for two more, the worker");
        let Ok(first) = &rows[0] else { panic!("a row") };
        assert_eq!(
            (first.node.as_str(), first.how, first.outside.as_str(), first.internal.as_str()),
            ("client", "connect", "-", "tcp://127.0.0.1:40002 -> worker.0.rep")
        );
        let Ok(second) = &rows[1] else { panic!("a row") };
        assert_eq!(second.internal, "(no links)");
        assert_eq!(
            rows[4],
            Err("  ... 2 more replica(s) of `client`, each on its own ports".to_owned())
        );
        let Ok(worker) = &rows[5] else { panic!("a row") };
        assert_eq!(
            (
                worker.replica.as_str(),
                worker.how,
                worker.outside.as_str(),
                worker.internal.as_str()
            ),
            ("0", "bind", "tcp://127.0.0.1:5555", "tcp://127.0.0.1:40001")
        );
        let text = table.render(&plan, 3);
        assert!(text.starts_with("endpoints of "), "{text}");
        assert!(text.contains("\n  NODE    REPLICA  SOCKET  TYPE  LIBRARY"), "{text}");
    }
}
