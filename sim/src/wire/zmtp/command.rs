//! Command bodies: the name, READY's property list, and PING, PONG and ERROR's fields.
//!
//! A command frame's body is a 1-byte name length, the name, then the command's data.
//! READY's data is a property list: each property a 1-byte name length, the name, a
//! 4-byte big-endian value length and the value. Every length is checked against the
//! bytes that are really there before anything is sliced, so a lying length is an
//! error, never a panic or an allocation.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{ZmtpError, socket_type_from_name, socket_type_name};
use crate::socket::SocketType;

/// The most bytes of a PING's context (and so of the PONG echoing it).
pub const PING_CONTEXT_MAX: usize = 16;

/// The longest routing id libzmq accepts, and so the longest Identity property.
const IDENTITY_MAX: usize = 255;

/// A command split into its name and its data.
#[derive(Debug)]
pub(super) struct Command {
    pub name: Bytes,
    pub data: Bytes,
}

impl Command {
    /// The name for error texts.
    pub(crate) fn name_text(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    fn bad(&self, what: &'static str) -> ZmtpError {
        ZmtpError::BadCommand { name: self.name_text(), what }
    }
}

/// Splits a command frame's body; an empty body or a name running past it is an error.
pub(super) fn split_command(mut body: Bytes) -> Result<Command, ZmtpError> {
    let bad = |what| ZmtpError::BadCommand { name: String::new(), what };
    if body.is_empty() {
        return Err(bad("empty command frame, expected a name length"));
    }
    let name_len = usize::from(body.get_u8());
    if name_len == 0 {
        return Err(bad("command name is empty"));
    }
    if name_len > body.len() {
        return Err(bad("command name length runs past the frame"));
    }
    let name = body.split_to(name_len);
    Ok(Command { name, data: body })
}

/// Appends a command with `name` and `data` as a body (no frame header) to `out`.
pub(super) fn put_command_body(name: &str, data: &[u8], out: &mut BytesMut) {
    debug_assert!(!name.is_empty() && name.len() <= 255, "command names are 1 to 255 bytes");
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    out.put_slice(data);
}

/// What a peer's READY says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    pub socket_type: SocketType,
    /// The Identity property, empty when absent (libzmq sends it, maybe empty, from
    /// REQ, DEALER and ROUTER).
    pub identity: Bytes,
    /// Every property as it arrived, names as sent, in order.
    pub properties: Vec<(String, Bytes)>,
}

/// Parses READY's property list.
pub(super) fn parse_ready(cmd: &Command) -> Result<Ready, ZmtpError> {
    let properties = parse_properties(cmd)?;
    let mut socket_type = None;
    let mut identity = Bytes::new();
    for (name, value) in &properties {
        if name.eq_ignore_ascii_case("Socket-Type") {
            if socket_type.is_some() {
                return Err(cmd.bad("Socket-Type appears twice"));
            }
            let found = socket_type_from_name(value).ok_or_else(|| {
                ZmtpError::UnknownSocketType { name: String::from_utf8_lossy(value).into_owned() }
            })?;
            socket_type = Some(found);
        } else if name.eq_ignore_ascii_case("Identity") {
            if value.len() > IDENTITY_MAX {
                return Err(cmd.bad("Identity is longer than 255 bytes"));
            }
            identity = value.clone();
        }
    }
    let socket_type = socket_type.ok_or(ZmtpError::MissingSocketType)?;
    Ok(Ready { socket_type, identity, properties })
}

/// The property list: every length checked against what remains.
fn parse_properties(cmd: &Command) -> Result<Vec<(String, Bytes)>, ZmtpError> {
    let mut data = cmd.data.clone();
    let mut out = Vec::new();
    while !data.is_empty() {
        let name_len = usize::from(data.get_u8());
        if name_len == 0 {
            return Err(cmd.bad("property name is empty"));
        }
        if name_len > data.len() {
            return Err(cmd.bad("property name length runs past the command"));
        }
        let name = String::from_utf8_lossy(&data.split_to(name_len)).into_owned();
        if data.len() < 4 {
            return Err(cmd.bad("property value length is cut short"));
        }
        let value_len = u64::from(data.get_u32());
        if value_len > data.len() as u64 {
            return Err(cmd.bad("property value length runs past the command"));
        }
        out.push((name, data.split_to(value_len as usize)));
    }
    Ok(out)
}

/// READY's body for `socket` (which must be a ZeroMQ type) with its Identity
/// property when it is a REQ, DEALER or ROUTER, as libzmq sends it.
pub fn encode_ready(socket: SocketType, identity: &[u8], out: &mut BytesMut) {
    let mut data = BytesMut::new();
    put_property("Socket-Type", socket_type_name(socket).unwrap_or("").as_bytes(), &mut data);
    if matches!(socket, SocketType::Req | SocketType::Dealer | SocketType::Router) {
        put_property("Identity", &identity[..identity.len().min(IDENTITY_MAX)], &mut data);
    }
    super::codec::put_command("READY", &data, out);
}

fn put_property(name: &str, value: &[u8], out: &mut BytesMut) {
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    out.put_u32(value.len() as u32);
    out.put_slice(value);
}

/// PING's time-to-live (in tenths of a second) and context.
pub(super) fn parse_ping(cmd: &Command) -> Result<(u16, Bytes), ZmtpError> {
    let mut data = cmd.data.clone();
    if data.len() < 2 {
        return Err(cmd.bad("PING is shorter than its 2-byte TTL"));
    }
    let ttl_ds = data.get_u16();
    if data.len() > PING_CONTEXT_MAX {
        return Err(cmd.bad("PING context is longer than 16 bytes"));
    }
    Ok((ttl_ds, data))
}

/// PONG's context.
pub(super) fn parse_pong(cmd: &Command) -> Result<Bytes, ZmtpError> {
    if cmd.data.len() > PING_CONTEXT_MAX {
        return Err(cmd.bad("PONG context is longer than 16 bytes"));
    }
    Ok(cmd.data.clone())
}

/// ERROR's reason: a 1-byte length and that many bytes, nothing after.
pub(super) fn parse_error(cmd: &Command) -> Result<String, ZmtpError> {
    let data = &cmd.data;
    let Some((&len, reason)) = data.split_first() else {
        return Err(cmd.bad("ERROR has no reason length"));
    };
    if usize::from(len) != reason.len() {
        return Err(cmd.bad("ERROR reason length does not match the command"));
    }
    Ok(String::from_utf8_lossy(reason).into_owned())
}
