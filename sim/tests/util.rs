//! Helpers the integration-test modules share: the workspace root, a scenario
//! written inline in a test as if it lived in `scenarios/`, and a single-threaded
//! runtime on 127.0.0.1 for tests over real TCP.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::spec::source::SourceFile;

/// The workspace root, where `scenarios/` and `topologies/` are.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Resolves a scenario written in a test as if it lived in `scenarios/NAME.yaml`, so
/// its `topology: ../topologies/…` reaches the shipped files.
pub fn scenario(name: &str, text: &str) -> ScenarioPlan {
    let path = root().join(format!("scenarios/{name}.yaml"));
    let loaded = load_scenario_source(&SourceFile::new(path, text), &Registry::builtin());
    loaded.plan.unwrap_or_else(|| panic!("{name} does not resolve: {:?}", loaded.diagnostics))
}

/// Runs a real-network test on one thread, as patchbay's sockets expect (their tasks
/// are spawned on a `LocalSet`).
pub fn run_local(test: impl Future<Output = ()>) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tokio::task::LocalSet::new().block_on(&runtime, test);
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}
