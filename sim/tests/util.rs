//! Helpers the integration-test modules share: the workspace root, a scenario
//! written inline in a test as if it lived in `scenarios/`, a temporary folder
//! removed when dropped, and a single-threaded runtime on 127.0.0.1 for tests over
//! real TCP.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use patchbay::design::Registry;
use patchbay::plan::{ScenarioPlan, load_scenario_source};
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

/// A fresh folder under the system's temporary one, named after the test and this
/// process (so parallel tests and runs do not meet), removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("patchbay-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
