//! The limits on packing replicas onto simulated hosts (the packing itself is the
//! resolver's, `resolve/placement.rs`).
//!
//! turmoil gives every host a link to every other and steps each one every tick, so
//! its cost grows with the cube of the host count (docs/turmoil.md):
//! a topology node cannot be one host once counts reach the hundreds. Replicas of a
//! group are spread round-robin over a few hosts instead, and node-level faults reach
//! a single replica through the fault shim around its streams. Two limits of turmoil
//! bound the packing: 16,384 outgoing connections per host (64,512 when raised), and
//! a budget on hosts overall. A node gets only the hosts its connections need, and the
//! simulator shares turmoil hosts between nodes where they fit (`run/simulated.rs`):
//! every host costs a runtime step per tick even idle.

/// Hosts a topology may use unless its `placement.max_hosts` says otherwise.
pub const DEFAULT_MAX_HOSTS: u64 = 64;
/// Above this the simulation is too slow to be useful (about 35 s of wall time per
/// simulated second at 200 hosts).
pub(crate) const HARD_MAX_HOSTS: u64 = 256;
/// Outgoing connections one simulated host can hold: turmoil's ephemeral port range,
/// raised to its maximum by the runtime.
pub const MAX_CONNECTIONS_PER_HOST: u64 = 64_512;
/// Sockets one simulated host can bind: each listens on its own port below the
/// ephemeral range (1 to 1023, as `run/simulated.rs` hands them out). A host holds
/// `ceil(replicas / hosts)` replicas of a node, each binding all of its bound sockets.
pub const MAX_BOUND_PER_HOST: u64 = 1023;
