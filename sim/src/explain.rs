//! `check --explain`: a plan written out for a person, every option with its source.

use std::fmt::Write as _;
use std::time::Duration;

use crate::graph::TopologyGraph;
use crate::plan::{Bind, Expect, FaultPlan, Plan, ScenarioPlan, Selector, TopologyPlan};
use crate::spec::units::format_duration;

pub fn explain(plan: &Plan) -> String {
    match plan {
        Plan::Topology(t) => explain_topology(t),
        Plan::Scenario(s) => explain_scenario(s),
    }
}

pub fn explain_topology(t: &TopologyPlan) -> String {
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

fn selectors(t: &TopologyPlan, sel: &[Selector]) -> String {
    sel.iter()
        .map(|s| match s.replica {
            Some(r) => format!("{}.{r}", t.group(s.group).name),
            None => t.group(s.group).name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fault_line(t: &TopologyPlan, f: &FaultPlan) -> String {
    let when = match f.until {
        Some(Duration::MAX) => format!("from {} to the end of the run", format_duration(f.at)),
        Some(end) => format!("{} to {}", format_duration(f.at), format_duration(end)),
        None => format!("from {} to the end of the safety phase", format_duration(f.at)),
    };
    let what = match &f.between {
        Some([a, b]) => format!(
            "between [{}] and [{}]{}",
            selectors(t, a),
            selectors(t, b),
            if f.oneway { " (one way)" } else { "" }
        ),
        None => selectors(t, &f.nodes),
    };
    format!("{} {what}, {when}", f.kind.name())
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
    let expect = match &s.expect {
        Expect::Pass => "pass".to_owned(),
        Expect::Violated(v) => format!("violated: {}", v.join(", ")),
    };
    let _ = writeln!(out, "  expect {expect}\n");
    out.push_str(&explain_topology(&s.topology));
    out
}
