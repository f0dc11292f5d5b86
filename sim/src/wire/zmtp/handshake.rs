//! The ZMTP handshake for the NULL mechanism: both sides send a greeting, then READY
//! with their Socket-Type (and Identity), and check what the other sent.
//!
//! The greeting goes out at once (we never wait for the peer's first: libzmq sends
//! its signature first and the rest after reading ours, and both orders meet). Our
//! READY goes out once the peer's greeting is checked; the handshake is done when the
//! peer's READY names a socket type ours may talk to.

use bytes::{Bytes, BytesMut};

use super::codec::{Decoder, Frame, Limits};
use super::command::{self, encode_ready};
use super::{GREETING_LEN, SIGNATURE_LEN, Version, ZmtpError, check_greeting, check_signature};
use super::{greeting, socket_type_name, zmtp_pairs_with};
use crate::socket::SocketType;

/// What the handshake learned about the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The version both sides speak: the lower of the two greetings'.
    pub version: Version,
    pub socket_type: SocketType,
    /// The peer's Identity property (a ROUTER's routing id for it), maybe empty.
    pub identity: Bytes,
    /// Every READY property as sent, in order, Socket-Type and Identity included.
    pub properties: Vec<(String, Bytes)>,
}

#[derive(Clone, Debug)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Greeting checked, our READY sent; waiting for the peer's READY.
    Ready { version: Version },
    /// Finished (or failed): nothing more to read here.
    Done,
}

/// One connection's handshake, sans-IO: bytes in, bytes to send out, then the peer.
#[derive(Clone, Debug)]
pub struct Handshake {
    ours: SocketType,
    /// Boxed when not empty: a simulated connection's handshake has none, and every
    /// connection of a large run waits in its handshake at once (issue 16).
    identity: Option<Box<Bytes>>,
    /// The version our greeting announces: 3.1, or 3.0 to act as an older peer.
    offered: Version,
    state: State,
    /// Reads the peer's READY with the same size checks as any frame.
    frames: Decoder,
}

impl Handshake {
    /// A handshake for a socket of type `ours` offering ZMTP 3.1. `identity` goes out
    /// in READY from REQ, DEALER and ROUTER (at most 255 bytes are sent).
    pub fn new(ours: SocketType, identity: Bytes, limits: Limits) -> Result<Handshake, ZmtpError> {
        if socket_type_name(ours).is_none() {
            return Err(ZmtpError::NotZmtp { socket: ours });
        }
        let frames = Decoder::new(ours, limits);
        let identity = (!identity.is_empty()).then(|| Box::new(identity));
        Ok(Handshake { ours, identity, offered: Version::V3_1, state: State::Greeting, frames })
    }

    /// Offers `version` instead of 3.1 (3.0 plays a libzmq 4.0 to 4.2 peer).
    pub fn offering(mut self, version: Version) -> Handshake {
        self.offered = version;
        self
    }

    /// The greeting to send as soon as the connection opens.
    pub fn greeting(&self) -> [u8; GREETING_LEN] {
        greeting(self.offered)
    }

    /// Consumes what it can of `buf`, appends what must be sent to `out`, and returns
    /// the peer once its READY has been checked. Bytes after READY stay in `buf` for
    /// the [`Decoder`]. After an error the connection must close.
    pub fn advance(
        &mut self,
        buf: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<Option<Peer>, ZmtpError> {
        let result = self.step(buf, out);
        if !matches!(result, Ok(None)) {
            self.state = State::Done;
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut, out: &mut BytesMut) -> Result<Option<Peer>, ZmtpError> {
        if let State::Greeting = self.state {
            check_signature(&buf[..buf.len().min(SIGNATURE_LEN)])?;
            if buf.len() < GREETING_LEN {
                return Ok(None);
            }
            let peer_greeting = buf.split_to(GREETING_LEN);
            let theirs = check_greeting(peer_greeting[..].try_into().expect("64 bytes split"))?;
            encode_ready(self.ours, self.identity.as_deref().map_or(&[], |id| &id[..]), out);
            self.state = State::Ready { version: theirs.min(self.offered) };
        }
        let State::Ready { version } = self.state else { return Ok(None) };
        let Some(frame) = self.frames.next_frame(buf)? else { return Ok(None) };
        let cmd = match frame {
            Frame::Data { .. } => return Err(ZmtpError::DataBeforeReady),
            Frame::Command(cmd) => cmd,
        };
        match &cmd.name[..] {
            b"READY" => {}
            b"ERROR" => return Err(ZmtpError::PeerError { reason: command::parse_error(&cmd)? }),
            _ => return Err(ZmtpError::ExpectedReady { got: cmd.name_text() }),
        }
        let ready = command::parse_ready(&cmd)?;
        if !zmtp_pairs_with(self.ours, ready.socket_type) {
            return Err(ZmtpError::SocketTypeMismatch { ours: self.ours, peer: ready.socket_type });
        }
        Ok(Some(Peer {
            version,
            socket_type: ready.socket_type,
            identity: ready.identity,
            properties: ready.properties,
        }))
    }

    /// Called when the stream has ended before the handshake finished.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), ZmtpError> {
        let got = buf.len() as u64;
        match self.state {
            State::Greeting => Err(ZmtpError::Truncated { needed: GREETING_LEN as u64, got }),
            State::Ready { .. } => self.frames.finish(buf).and(Err(ZmtpError::ClosedBeforeReady)),
            State::Done => Ok(()),
        }
    }
}
