//! `check --explain`: a plan written out for a person, every option with its source:
//! each socket's library first (or that none was named), then the options that
//! apply to its type in that library, each with the default or the place in a file
//! it came from.

use std::fmt::Write as _;
use std::time::Duration;

use crate::graph::TopologyGraph;
use crate::plan::{
    Bind, Distribution, FaultPlan, NetworkPlan, Plan, ScenarioPlan, Selector, TopologyPlan,
    WorkloadPlan,
};
use crate::spec::units::{format_bandwidth, format_duration, format_size};

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
            let rows = s.options.rows(s.socket_type);
            // Values line up after the socket's longest option name (18 columns at
            // least), sources after its longest value (16 at least).
            let names = rows.iter().map(|(name, _, _)| name.len()).max().unwrap_or(0).max(18);
            let width = rows.iter().map(|(_, value, _)| value.chars().count()).max();
            let width = width.unwrap_or(0).max(16);
            for (name, value, source) in rows {
                let _ = writeln!(out, "    {name:<names$} {value:<width$} {source}");
            }
        }
    }
    out
}

/// A node's workload as a scenario file spells it: the fields it sets, durations and
/// sizes in their units, distributions as `{uniform: [a, b]}` and the like.
fn workload_text(w: &WorkloadPlan) -> String {
    let size = |bytes: f64| format_size(bytes.max(0.0).round() as u64);
    let mut parts = Vec::new();
    let mut count = |name: &str, v: Option<u64>| {
        if let Some(v) = v {
            parts.push(format!("{name}: {v}"));
        }
    };
    count("requests", w.requests);
    count("publishes", w.publishes);
    count("jobs", w.jobs);
    count("chunks", w.chunks);
    let rates = [("rate", w.rate), ("publish_rate", w.publish_rate)];
    // Per second, to six places at most (`rate: 1/min` is 0.016667/s).
    let per_second = |r: f64| {
        let text = format!("{r:.6}");
        format!("{}/s", text.trim_end_matches('0').trim_end_matches('.'))
    };
    parts.extend(
        rates.iter().filter_map(|(name, r)| Some(format!("{name}: {}", per_second((*r)?)))),
    );
    if let Some(f) = w.online_fraction {
        parts.push(format!("online_fraction: {f}"));
    }
    if let Some(d) = &w.size {
        parts.push(format!("size: {}", dist(d, &size)));
    }
    let times = [
        ("start_at", &w.start_at),
        ("service_time", &w.service_time),
        ("join_at", &w.join_at),
        ("leave_at", &w.leave_at),
        ("session", &w.session),
        ("offline", &w.offline),
    ];
    for (name, d) in times {
        if let Some(d) = d {
            parts.push(format!("{name}: {}", dist(d, &time)));
        }
    }
    if parts.is_empty() { "the design's defaults".to_owned() } else { parts.join(", ") }
}

/// A distribution as a scenario file spells it, each value in `unit`: a fixed value
/// alone, the others as `{uniform: [a, b]}` and the like.
fn dist(d: &Distribution, unit: &dyn Fn(f64) -> String) -> String {
    match *d {
        Distribution::Fixed(v) => unit(v),
        Distribution::Uniform { min, max } => {
            format!("{{uniform: [{}, {}]}}", unit(min), unit(max))
        }
        Distribution::Exponential { mean } => format!("{{exponential: {}}}", unit(mean)),
        Distribution::Normal { mean, stddev } => {
            format!("{{normal: [{}, {}]}}", unit(mean), unit(stddev))
        }
        Distribution::LogNormal { median, p99 } => {
            format!("{{lognormal: [{}, {}]}}", unit(median), unit(p99))
        }
    }
}

/// A time in nanoseconds, in its unit.
fn time(ns: f64) -> String {
    format_duration(Duration::from_nanos(ns.max(0.0).round() as u64))
}

/// The network every connection crosses, then each link that differs from it with
/// the fields it sets, in file order.
fn network_lines(out: &mut String, t: &TopologyPlan, n: &NetworkPlan) {
    let _ = writeln!(
        out,
        "  network: latency {}, loss {}, bandwidth {}",
        dist(&n.latency, &time),
        n.loss,
        format_bandwidth(n.bandwidth)
    );
    let name = |s: &Selector| t.selector_name(s);
    for link in &n.links {
        let mut parts = Vec::new();
        if let Some(d) = &link.latency {
            parts.push(format!("latency {}", dist(d, &time)));
        }
        if let Some(loss) = link.loss {
            parts.push(format!("loss {loss}"));
        }
        if let Some(b) = link.bandwidth {
            parts.push(format!("bandwidth {}", format_bandwidth(b)));
        }
        let [a, b] = &link.between;
        let _ = writeln!(out, "  link between {} and {}: {}", name(a), name(b), parts.join(", "));
    }
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
    network_lines(&mut out, &s.topology, &s.network);
    let seeds: Vec<String> = s.seeds.iter().take(10).map(u64::to_string).collect();
    let more =
        if s.seeds.len() > 10 { format!(" … ({} in all)", s.seeds.len()) } else { String::new() };
    let _ = writeln!(out, "  seeds {}{more}", seeds.join(", "));
    for (group, w) in &s.workload {
        let _ = writeln!(out, "  workload {}: {}", s.topology.group(*group).name, workload_text(w));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{ms, plan};
    use crate::plan::{GroupId, LinkPlan};

    /// From the new-user audit: a scenario's `network:` block showed only its tick.
    #[test]
    fn a_scenario_shows_its_network_and_each_link() {
        let mut plan = plan();
        plan.network.latency = Distribution::Uniform { min: 1e6, max: 3e6 };
        plan.network.loss = 0.01;
        plan.network.bandwidth = 1_048_576.0;
        plan.network.links = vec![LinkPlan {
            between: [
                Selector { group: GroupId(0), replica: Some(0) },
                Selector { group: GroupId(0), replica: Some(1) },
            ],
            latency: Some(Distribution::Fixed(ms(5).as_nanos() as f64)),
            loss: Some(0.05),
            bandwidth: None,
        }];
        let text = explain_scenario(&plan);
        assert!(
            text.contains(
                "\n  network: latency {uniform: [1ms, 3ms]}, loss 0.01, bandwidth 1MiB/s\n  \
                 link between client.0 and client.1: latency 5ms, loss 0.05\n"
            ),
            "{text}"
        );
    }
}
