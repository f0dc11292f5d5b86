//! `compare` from this crate's own files: `compare/brokers.yaml` names the window
//! broker and every broker patchbay ships, each over a topology this crate holds
//! (`topologies/`), so the comparison runs wherever patchbay is checked out. Each
//! side is put under the steady scenario the way `cargo xtask compare --sides`
//! does, and run for one seed.

use std::path::{Path, PathBuf};

use patchbay::invariant::Verdict;
use patchbay::run::compare::{Row, read_sides, variant};
use patchbay::run::{Backend, Job, run_many};
use patchbay::spec::SourceFile;

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> SourceFile {
    SourceFile::read(path).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()))
}

#[test]
fn the_compare_file_names_five_brokers_each_over_a_topology_of_this_crate() {
    let (sides, _) = read_sides(&read(&here().join("compare/brokers.yaml"))).expect("it reads");
    let names: Vec<&str> = sides.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["window-broker", "queue-device", "rrbroker", "lru-broker", "ppp-broker"]);
    let crate_dir = here().canonicalize().expect("the crate's folder");
    for side in &sides {
        let topology = side.topology.canonicalize().expect("the side's topology exists");
        assert!(topology.starts_with(&crate_dir), "{}: {}", side.name, topology.display());
    }
}

#[test]
fn the_window_broker_compares_with_every_shipped_broker_losing_no_reply() {
    let registry = custom_broker::registry();
    let (sides, params) =
        read_sides(&read(&here().join("compare/brokers.yaml"))).expect("it reads");
    let scenario = read(&here().join("scenarios/window-steady.yaml"));
    for side in &sides {
        let loaded = variant(&scenario, &side.topology, &params, &registry);
        let plan = loaded.plan.unwrap_or_else(|| panic!("{}: {:?}", side.name, loaded.diagnostics));
        let clients = plan.topology.groups.iter().find(|g| g.name == "client").expect("client");
        assert_eq!(
            clients.count, 4,
            "{}: the compare file's clients replace the topology's",
            side.name
        );
        let reports = run_many(&[Job { plan: &plan, seed: 1 }], &registry, 1, true, &|_| {});
        let row = Row::of(&side.name, Backend::Sim, &reports);
        assert!(row.errors.is_empty(), "{}: {:?}", side.name, row.errors);
        let lost = reports[0].invariants.iter().find(|o| o.name == "no_lost_replies");
        assert_eq!(lost.map(|o| o.verdict), Some(Verdict::Pass), "{}", side.name);
    }
}
