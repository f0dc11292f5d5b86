//! What can go wrong on a ZMTP connection, as one typed error.
//!
//! Every variant ends the connection it happened on: the driver logs the `Display`
//! text as the reason and closes that connection only, so the socket keeps serving
//! its other peers. The texts name what arrived and what was expected.

use std::fmt;

use crate::socket::SocketType;

/// A ZMTP protocol fault, found while reading a greeting, a handshake or a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZmtpError {
    /// We were asked to speak ZMTP as a socket type ZeroMQ does not have.
    NotZmtp { socket: SocketType },
    /// The greeting did not start with `ff`, or byte 9 lacked its low bit (a ZMTP
    /// 1.0 peer, or not ZeroMQ at all).
    BadSignature { got: [u8; 10] },
    /// A greeting version below 3.0 (ZMTP 1.0 and 2.0 are not spoken).
    UnsupportedVersion { major: u8, minor: u8 },
    /// A security mechanism other than NULL.
    UnsupportedMechanism { name: String },
    /// A flags byte with a reserved bit (3 to 7) set.
    ReservedFlags { flags: u8 },
    /// A command frame with the MORE flag set.
    CommandWithMore,
    /// A command frame between the frames of a multipart message.
    CommandInsideMessage { name: String },
    /// A frame, or a multipart message so far, longer than the receive limit,
    /// seen before any byte of it was stored.
    TooLong { len: u64, max: u64 },
    /// A frame, a multipart message so far, or a command longer than the 4 GiB hard
    /// ceiling (`wire::LEN_MAX_HARD`), refused from its header whatever the receive
    /// limit, as on SP (docs/limits.md).
    BeyondCeiling { len: u64 },
    /// A multipart message with more frames than the frame limit.
    TooManyFrames { max: usize },
    /// A data frame before the peer's READY.
    DataBeforeReady,
    /// The first command was not READY (nor ERROR).
    ExpectedReady { got: String },
    /// A command body that does not follow its grammar: `what` says which part.
    BadCommand { name: String, what: &'static str },
    /// A command name ZMTP 3.1 does not define.
    UnknownCommand { name: String },
    /// A command that is valid only elsewhere (READY after the handshake).
    UnexpectedCommand { name: String },
    /// READY without a Socket-Type property.
    MissingSocketType,
    /// A Socket-Type value that is not a ZeroMQ socket type.
    UnknownSocketType { name: String },
    /// A Socket-Type ZMTP does not let our socket type talk to.
    SocketTypeMismatch { ours: SocketType, peer: SocketType },
    /// The peer sent ERROR: it refuses the connection, saying why.
    PeerError { reason: String },
    /// The stream ended after the greeting, before the peer's READY.
    ClosedBeforeReady,
    /// The stream ended after a frame with MORE: the message was never finished.
    UnfinishedMessage { frames: usize },
    /// The stream ended part-way through a greeting or a frame.
    Truncated { needed: u64, got: u64 },
}

impl fmt::Display for ZmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ZmtpError::*;
        match self {
            NotZmtp { socket } => {
                write!(f, "{socket} is not a ZeroMQ socket type; ZMTP cannot carry it")
            }
            BadSignature { got } => write!(
                f,
                "bad ZMTP signature {}, expected ff, 8 padding bytes, then 7f",
                super::hex(got)
            ),
            UnsupportedVersion { major, minor } => {
                write!(f, "ZMTP version {major}.{minor} is not supported, expected 3.0 or later")
            }
            UnsupportedMechanism { name } => {
                write!(f, "security mechanism {name:?} is not supported, expected \"NULL\"")
            }
            ReservedFlags { flags } => {
                write!(f, "frame flags 0x{flags:02x} set a reserved bit (only 0x07 are defined)")
            }
            CommandWithMore => f.write_str("a command frame has the MORE flag set"),
            CommandInsideMessage { name } => {
                write!(f, "command {name:?} arrived inside a multipart message")
            }
            TooLong { len, max } => {
                write!(f, "frame length {len} exceeds the receive limit of {max} bytes")
            }
            BeyondCeiling { len } => write!(
                f,
                "frame length {len} exceeds the hard ceiling of {} bytes, refused whatever \
                 the receive limit",
                crate::wire::LEN_MAX_HARD
            ),
            TooManyFrames { max } => write!(f, "multipart message has more than {max} frames"),
            DataBeforeReady => f.write_str("data frame before the peer's READY command"),
            ExpectedReady { got } => write!(f, "expected the READY command, got {got:?}"),
            BadCommand { name, what } => write!(f, "malformed {name} command: {what}"),
            UnknownCommand { name } => write!(f, "unknown ZMTP command {name:?}"),
            UnexpectedCommand { name } => write!(f, "command {name:?} is not allowed here"),
            MissingSocketType => f.write_str("READY has no Socket-Type property"),
            UnknownSocketType { name } => write!(f, "READY names unknown socket type {name:?}"),
            SocketTypeMismatch { ours, peer } => {
                write!(f, "socket type mismatch: we are {ours}, the peer is {peer}")
            }
            PeerError { reason } => write!(f, "the peer sent ERROR: {reason:?}"),
            ClosedBeforeReady => f.write_str("connection closed before the peer's READY"),
            UnfinishedMessage { frames } => {
                write!(f, "connection closed after {frames} frame(s) of an unfinished message")
            }
            Truncated { needed, got } => {
                write!(f, "connection closed mid-frame: got {got} of {needed} bytes")
            }
        }
    }
}

impl std::error::Error for ZmtpError {}
