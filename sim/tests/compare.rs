//! `compare` over any designs (issue 14): the topology swap through the YAML edit
//! layer, every shipped broker comparable, each design judged by its own results.

use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::report::compare::{Entry, compare_report};
use patchbay::run::compare::{CLIENTS, Row, SHIPPED_BROKERS, shared_params, variant};
use patchbay::run::{Backend, Job, RunReport, run_many};
use patchbay::spec::SourceFile;

use crate::util::root;

/// Requests each client issues in the block-style scenario below.
const REQUESTS: i64 = 5;

/// A scenario whose own `params:` is block style, as a user writes it; the old
/// line-matching swap left `  clients: 2` behind as a syntax error.
fn block_style_scenario() -> SourceFile {
    let text = format!(
        "name: block-params\n\
         topology: ../topologies/queue.yaml\n\
         params:\n  clients: 2\n  workers: 1\n\
         duration: 5s\n\
         liveness: 10s\n\
         seeds: 1\n\
         workload:\n  client:\n    requests: {REQUESTS}\n  worker:\n    service_time: {{uniform: [1ms, 3ms]}}\n\
         invariants:\n  - no_lost_replies\n\
         expect: pass\n"
    );
    SourceFile::new(root().join("scenarios/block-params.yaml"), text)
}

/// `src` put over the topology at `topology` (from the root), resolved.
fn over(src: &SourceFile, topology: &str, registry: &Registry) -> ScenarioPlan {
    let loaded = variant(src, &root().join(topology), &shared_params(), registry);
    loaded.plan.unwrap_or_else(|| panic!("{topology}: {:?}", loaded.diagnostics))
}

fn run_one(plan: &ScenarioPlan, registry: &Registry) -> Vec<RunReport> {
    run_many(&[Job { plan, seed: 1 }], registry, 2, true, &|_| {})
}

#[test]
fn compare_swaps_a_block_style_params_scenario_over_all_four_shipped_brokers() {
    let registry = Registry::builtin();
    let src = block_style_scenario();
    let names: Vec<&str> = SHIPPED_BROKERS.iter().map(|(d, _)| *d).collect();
    assert_eq!(names, ["queue-device", "rrbroker", "lru-broker", "ppp-broker"]);
    for (design, topology) in SHIPPED_BROKERS {
        let plan = over(&src, topology, &registry);
        let clients = plan.topology.groups.iter().find(|g| g.name == "client").expect("client");
        assert_eq!(
            i64::from(clients.count),
            CLIENTS,
            "{design}: the shared counts replace the scenario's"
        );
        let reports = run_one(&plan, &registry);
        let row = Row::of(design, Backend::Sim, &reports);
        assert_eq!(row.design, *design);
        assert!(row.errors.is_empty(), "{design}: {:?}", row.errors);
        let want = (CLIENTS * REQUESTS) as u64;
        assert_eq!((row.metrics.served, row.metrics.issued), (want, want), "{design} serves all");
    }
}

#[test]
fn a_compare_page_paints_the_design_that_loses_nothing_green() {
    // Issue 14: the page judged every design against the scenario's `expect`, so on
    // lru-worker-crash (which expects lost replies) the design that lost nothing was
    // painted red. Each design is now judged by its own results.
    let registry = Registry::builtin();
    let path = root().join("scenarios/lru-worker-crash.yaml");
    let src = SourceFile::read(&path).expect("shipped scenario");
    let sides = [
        ("lru-broker", "topologies/lru-broker.yaml"),
        ("ppp-broker", "topologies/ppp-broker.yaml"),
    ];
    let ran: Vec<(Row, ScenarioPlan, Vec<RunReport>)> = sides
        .iter()
        .map(|(design, topology)| {
            let plan = over(&src, topology, &registry);
            let reports = run_one(&plan, &registry);
            (Row::of(design, Backend::Sim, &reports), plan, reports)
        })
        .collect();
    let lost = |row: &Row| row.metrics.issued - row.metrics.served;
    assert!(lost(&ran[0].0) > 0, "the LRU broker loses the dead worker's job");
    assert_eq!(lost(&ran[1].0), 0, "the Paranoid Pirate broker loses nothing");
    let entries: Vec<Entry<'_>> = ran
        .iter()
        .map(|(row, plan, reports)| Entry { row, plan, reports, repro: "again" })
        .collect();
    let report = compare_report("test compare".into(), "lru-worker-crash", &entries, &registry);
    let html = report.to_html();
    assert!(html.contains("class=\"bad\">lru-broker</a>"), "the design that lost is red");
    assert!(html.contains("class=\"ok\">ppp-broker</a>"), "the design that lost nothing is green");
    let ppp = &report.sections[1];
    assert!(ppp.ended_as_expected() && ppp.verdicts.iter().all(|v| v.expected == "pass"));
    assert!(
        ppp.expected.contains("violated: no_lost_replies"),
        "the scenario's claim is still shown"
    );
}
