//! The JSON rows of a sweep's runs, as a report's `runs` carries them.
//!
//! Shape: `{"runs": [{"backend", "scenario", "topology", "seed", "trace_hash", "events",
//! "sim_ms", "invariants": [{"name", "verdict", "violations", "first"}], "faults":
//! [{"kind", "at_ms", "until_ms", "drawn", "text"}], "expected", "as_expected"}]}`, plus `error` and `repro` where they apply,
//! and where the platform measures memory (`memory.rs`) `memory: {"peak_rss_bytes",
//! "replicas", "per_replica_bytes", "shared"}` (`shared`: other runs shared the process,
//! so the peak is an upper bound; like `wall_ms`, it measures the machine, not the
//! run). A real run whose external programs went wrong while it went on has
//! `program_troubles: [{"node", "at_ms", "what", "output"}]`, the lines `real` prints
//! after its table. A simulated run also has `steps` (turmoil steps taken) and, when the simulator
//! proved it idle and stopped stepping early, `idle_from_ms` (its trace and `sim_ms`
//! are the full run's). `backend` is `sim`
//! or `real`; on the real network `sim_ms` is the run's length in real time and
//! `trace_hash` identifies that one trace only (real runs are not deterministic).

pub use serde_json::Value;
use serde_json::json;

use super::RunReport;
use super::process::ProgramTrouble;
use crate::plan::Expect;
use crate::trace::NamedFault;

pub(crate) fn expected_text(expect: &Expect) -> String {
    match expect {
        Expect::Pass => "pass".to_owned(),
        Expect::Violated(names) => format!("violated: {}", names.join(", ")),
    }
}

fn run_json(r: &RunReport) -> Value {
    let invariants: Vec<Value> = r
        .invariants
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "verdict": o.verdict.to_string(),
                "violations": o.violation_count(),
                "first": o.violations.first().map(|v| v.text.clone()),
                "note": o.note,
            })
        })
        .collect();
    let mut v = json!({
        "backend": r.backend.to_string(),
        "scenario": r.scenario,
        "topology": r.topology,
        "file": r.file.display().to_string(),
        "seed": r.seed,
        "trace_hash": format!("{:016x}", r.trace_hash),
        "events": r.events,
        "sim_ms": r.sim_ms,
        "wall_ms": r.wall_ms,
        "invariants": invariants,
        "faults": r.faults.iter().map(fault_json).collect::<Vec<_>>(),
        "expected": expected_text(&r.expected),
        "as_expected": r.as_expected,
    });
    if r.backend == super::Backend::Sim {
        v["steps"] = json!(r.steps);
    }
    if let Some(idle) = r.idle_from_ms {
        v["idle_from_ms"] = json!(idle);
    }
    if let Some(m) = &r.memory {
        v["memory"] = json!({
            "peak_rss_bytes": m.peak_rss_bytes,
            "replicas": m.replicas,
            "per_replica_bytes": m.per_replica_bytes(),
            "shared": m.shared,
        });
    }
    if !r.program_troubles.is_empty() {
        v["program_troubles"] = r.program_troubles.iter().map(trouble_json).collect();
    }
    if let Some(e) = &r.error {
        v["error"] = json!(e.to_string());
    }
    if !r.as_expected {
        v["repro"] = json!(r.repro());
    }
    v
}

/// A fault in full: its kind, start and end in milliseconds, whether a swarm drew it,
/// and the sentence naming its targets.
fn fault_json(f: &NamedFault) -> Value {
    json!({
        "kind": f.fault.kind.name(),
        "at_ms": f.fault.at.as_millis() as u64,
        "until_ms": f.fault.until.map(|u| u.as_millis() as u64),
        "drawn": f.drawn,
        "text": f.text,
    })
}

/// What went wrong with one external program while a real run went on, as `real`
/// prints it after its table: the node, when (milliseconds on the run's clock), what,
/// and its output file (`null` if it has none).
fn trouble_json(t: &ProgramTrouble) -> Value {
    json!({
        "node": t.node,
        "at_ms": t.at.as_millis() as u64,
        "what": t.what,
        "output": t.output.as_ref().map(|p| p.display().to_string()),
    })
}

/// The runs as the JSON `sim --json` writes: `{"runs": [...]}`, one object per run.
pub fn to_json(reports: &[RunReport]) -> Value {
    json!({ "runs": reports.iter().map(run_json).collect::<Vec<_>>() })
}
