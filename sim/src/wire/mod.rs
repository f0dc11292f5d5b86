//! Wire protocols, sans-IO: bytes in, messages out, and back again.
//!
//! Nothing here touches a socket, a runtime or a clock, so every rule can be tested
//! byte by byte against the probes in docs/sp-wire.md and docs/library-semantics.md; the
//! driver in `net/` owns the streams and calls in here. The protocols are SP over
//! TCP (nanomsg, NNG), in `sp.rs`, and ZMTP 3.1 (ZeroMQ), in `zmtp/`, whose facts are
//! in `docs/zmtp.md`. The driver speaks ZMTP for `library: zeromq` sockets and SP for
//! every other. `modelled.rs` says how a message that models a large payload gets its full
//! length on the wire. `tap.rs` reads either protocol as a bystander (the real network's
//! fault proxy), through the same codecs.

pub mod modelled;
pub mod payload;
mod sp;
pub mod tap;
pub mod zmtp;

pub use modelled::Padding;
pub use sp::{
    BACKTRACE_IDS_MAX, Decoder, HANDSHAKE_LEN, HeaderRule, LEN_MAX_HARD, LEN_PREFIX_LEN, Malformed,
    PAIR_V1_TTL_MAX, PAIR_VERSION_HINT, SpProtocol, WireError, check_handshake, encode, handshake,
    protocol_id, split,
};
