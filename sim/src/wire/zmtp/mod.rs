//! ZMTP 3.1, ZeroMQ's wire protocol, sans-IO: the greeting, the NULL handshake, frames
//! and commands, beside SP in [`super`]. Bytes in, events out; encode functions out.
//!
//! What is implemented, with the versions and limits, is written down in
//! `docs/zmtp.md`. The pieces, in reading order:
//! - this file: versions, the 64-byte greeting, which socket types ZMTP carries and
//!   which of them may talk to each other;
//! - `handshake`: greeting then READY, in both directions, yielding the [`Peer`];
//! - `codec`: the frame [`Decoder`] (multipart messages, commands, subscriptions
//!   in both the 3.1 command form and the 3.0 message form) and the encoders;
//! - `command`: command bodies and READY's property list;
//! - `envelope`: a socket core's messages as frames and back, per socket type;
//! - `error`: [`ZmtpError`], one variant per way a peer can break the protocol.
//!
//! Like `sp.rs`, nothing here touches a socket, a runtime or a clock.

mod codec;
mod command;
mod envelope;
mod error;
mod handshake;

pub use codec::{
    Decoder, Event, Limits, encode_cancel, encode_error, encode_message, encode_message_padded,
    encode_ping, encode_pong, encode_subscribe,
};
pub use command::{PING_CONTEXT_MAX, encode_ready};
pub use envelope::{Envelope, Unroutable};
pub use error::ZmtpError;
pub use handshake::{Handshake, Peer};

use crate::socket::SocketType;

/// Bytes of the greeting each side sends first.
pub(crate) const GREETING_LEN: usize = 64;

/// Bytes of the signature at the front of the greeting (ff, padding, 7f).
pub(crate) const SIGNATURE_LEN: usize = 10;

/// The mechanism field's width in the greeting.
const MECHANISM_LEN: usize = 20;

/// The ZMTP revision spoken on a connection: the lower of both greetings'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// ZMTP 3.0 (libzmq 4.0 to 4.2): subscriptions travel as data messages whose
    /// first byte is 1 (subscribe) or 0 (cancel).
    V3_0,
    /// ZMTP 3.1 (libzmq 4.3): SUBSCRIBE and CANCEL commands.
    V3_1,
}

impl Version {
    fn minor(self) -> u8 {
        match self {
            Version::V3_0 => 0,
            Version::V3_1 => 1,
        }
    }
}

/// The greeting for the NULL mechanism as a client (as-server 0), version 3.`minor`.
pub fn greeting(version: Version) -> [u8; GREETING_LEN] {
    let mut out = [0u8; GREETING_LEN];
    out[0] = 0xff;
    out[9] = 0x7f;
    out[10] = 3;
    out[11] = version.minor();
    out[12..16].copy_from_slice(b"NULL");
    // Byte 32 is as-server (0) and the 31 bytes after it are filler, all zero.
    out
}

/// Checks a peer's whole greeting and returns the version to speak with it.
///
/// The 8 padding bytes are not checked: libzmq puts its identity length there for
/// ZMTP 1.0 peers (it sends `ff 00 00 00 00 00 00 00 01 7f`). The as-server byte and
/// the filler are not checked either, as libzmq does not for NULL.
pub(crate) fn check_greeting(peer: &[u8; GREETING_LEN]) -> Result<Version, ZmtpError> {
    check_signature(&peer[..SIGNATURE_LEN])?;
    let (major, minor) = (peer[10], peer[11]);
    let version = match (major, minor) {
        (0..=2, _) => return Err(ZmtpError::UnsupportedVersion { major, minor }),
        (3, 0) => Version::V3_0,
        // A later revision talks down to ours, as the ZMTP spec asks of it.
        _ => Version::V3_1,
    };
    let mechanism = &peer[12..12 + MECHANISM_LEN];
    let name_len = mechanism.iter().position(|b| *b == 0).unwrap_or(MECHANISM_LEN);
    let padded = mechanism[name_len..].iter().all(|b| *b == 0);
    if &mechanism[..name_len] != b"NULL" || !padded {
        let name = String::from_utf8_lossy(&mechanism[..name_len]).into_owned();
        return Err(ZmtpError::UnsupportedMechanism { name });
    }
    Ok(version)
}

/// Checks the first [`SIGNATURE_LEN`] bytes, so a stranger (an HTTP client, an SP
/// peer) is turned away before the rest of a greeting arrives.
pub(crate) fn check_signature(got: &[u8]) -> Result<(), ZmtpError> {
    let mut sig = [0u8; SIGNATURE_LEN];
    let n = got.len().min(SIGNATURE_LEN);
    sig[..n].copy_from_slice(&got[..n]);
    let first_ok = n == 0 || sig[0] == 0xff;
    let last_ok = n < SIGNATURE_LEN || sig[9] & 1 == 1;
    if first_ok && last_ok { Ok(()) } else { Err(ZmtpError::BadSignature { got: sig }) }
}

/// The Socket-Type name ZMTP uses for `socket`, or `None` for the nanomsg-only types
/// (SURVEYOR, RESPONDENT, BUS), which ZeroMQ does not have.
pub(crate) fn socket_type_name(socket: SocketType) -> Option<&'static str> {
    use SocketType::*;
    match socket {
        Req | Rep | Dealer | Router | Pub | Sub | XPub | XSub | Push | Pull | Pair => {
            Some(socket.name())
        }
        Surveyor | Respondent | Bus => None,
    }
}

/// The socket type a READY's Socket-Type value names (exact, upper case, as libzmq
/// compares it).
pub(crate) fn socket_type_from_name(name: &[u8]) -> Option<SocketType> {
    SocketType::ALL.into_iter().find(|t| socket_type_name(*t).is_some_and(|n| n.as_bytes() == name))
}

/// Whether ZMTP lets `ours` talk to `peer`: REQ-REP, REQ-ROUTER, DEALER-REP,
/// DEALER-DEALER, DEALER-ROUTER, ROUTER-ROUTER, PUB-SUB, PUB-XSUB, XPUB-SUB,
/// XPUB-XSUB, PUSH-PULL, PAIR-PAIR, either way round.
pub(crate) fn zmtp_pairs_with(ours: SocketType, peer: SocketType) -> bool {
    use SocketType::*;
    let ok = |a, b| {
        matches!(
            (a, b),
            (Req, Rep)
                | (Req, Router)
                | (Dealer, Rep)
                | (Dealer, Dealer)
                | (Dealer, Router)
                | (Router, Router)
                | (Pub, Sub)
                | (Pub, XSub)
                | (XPub, Sub)
                | (XPub, XSub)
                | (Push, Pull)
                | (Pair, Pair)
        )
    };
    ok(ours, peer) || ok(peer, ours)
}

/// Bytes as space-separated hex, for error texts.
fn hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests;
