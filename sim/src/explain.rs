//! `check --explain`: a plan written out for a person, every option with its source:
//! each socket's library first (or that none was named), then the options that
//! apply to its type in that library, each with the default or the place in a file
//! it came from.

use std::fmt::Write as _;

use crate::graph::TopologyGraph;
use crate::plan::{Bind, FaultPlan, Plan, ScenarioPlan, TopologyPlan};
use crate::spec::units::format_duration;

pub fn explain(plan: &Plan) -> String {
    match plan {
        Plan::Topology(t) => explain_topology(t),
        Plan::Scenario(s) => explain_scenario(s),
    }
}

pub(crate) fn explain_topology(t: &TopologyPlan) -> String {
    let mut out = String::new();
    let graph = TopologyGraph::new(t);
    let _ = writeln!(
        out,
        "topology `{}` ({}): {} nodes, {} replicas on {} simulated hosts",
        t.name,
        t.file.display(),
        t.groups.len(),
        t.replica_count(),
        t.host_count()
    );
    for (name, value) in &t.params {
        let _ = writeln!(out, "  param {name} = {value}");
    }
    for g in &t.groups {
        let (fan_in, fan_out) = graph.fan(g.id);
        let _ = writeln!(
            out,
            "\nnode `{}` x{} (design `{}`) on {} host{}; {fan_in} pipes in, {fan_out} out",
            g.name,
            g.count,
            g.design,
            g.hosts,
            if g.hosts == 1 { "" } else { "s" }
        );
        for (k, v) in &g.params {
            let _ = writeln!(out, "  param {k} = {v}");
        }
        for s in &g.sockets {
            let mut how = Vec::new();
            match s.bind {
                Some(Bind::Auto) => how.push("bind (port picked)".to_owned()),
                Some(Bind::Port(p)) => how.push(format!("bind tcp://*:{p}")),
                None => {}
            }
            for c in &s.connects {
                let target = t.group(c.group);
                let replica = c.replica.map(|r| format!(".{r}")).unwrap_or_default();
                how.push(format!(
                    "connect {}{replica}.{}",
                    target.name, target.sockets[c.socket].name
                ));
            }
            let _ = writeln!(out, "  socket `{}` {}: {}", s.name, s.socket_type, how.join(", "));
            for (name, value, source) in s.options.rows(s.socket_type) {
                let _ = writeln!(out, "    {name:<18} {value:<16} {source}");
            }
        }
    }
    out
}

fn fault_line(t: &TopologyPlan, f: &FaultPlan) -> String {
    crate::trace::fault_text(t, f)
}

pub fn explain_scenario(s: &ScenarioPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario `{}` ({})", s.name, s.file.display());
    let _ = writeln!(
        out,
        "  safety phase {}, then liveness up to {}; tcp_timeout {}; tick {}",
        format_duration(s.duration),
        format_duration(s.liveness),
        format_duration(s.tcp_timeout),
        format_duration(s.network.tick)
    );
    let seeds: Vec<String> = s.seeds.iter().take(10).map(u64::to_string).collect();
    let more =
        if s.seeds.len() > 10 { format!(" … ({} in all)", s.seeds.len()) } else { String::new() };
    let _ = writeln!(out, "  seeds {}{more}", seeds.join(", "));
    for (group, w) in &s.workload {
        let _ = writeln!(out, "  workload {}: {w:?}", s.topology.group(*group).name);
    }
    for f in &s.faults {
        let _ = writeln!(out, "  fault {}", fault_line(&s.topology, f));
    }
    for inv in &s.invariants {
        let _ = writeln!(out, "  invariant {}", inv.name);
    }
    let _ = writeln!(out, "  expect {}\n", s.expect_text());
    out.push_str(&explain_topology(&s.topology));
    out
}
