//! Wire protocols, sans-IO: bytes in, messages out, and back again.
//!
//! Nothing here touches a socket, a runtime or a clock, so every rule can be tested
//! byte by byte against the probes in `shared/reference/messaging-semantics.md`; the
//! driver in `net/` owns the streams and calls in here. Today the only protocol is
//! SP over TCP (nanomsg, NNG); ZMTP would sit beside it in its own file. `modelled.rs`
//! says how a message that models a large payload gets its full length on the wire.

pub mod modelled;
mod sp;

pub use modelled::Padding;
pub use sp::{
    Decoder, HANDSHAKE_LEN, HeaderRule, LEN_MAX_HARD, LEN_PREFIX_LEN, Malformed, WireError,
    check_handshake, encode, handshake, protocol_id, split,
};
