//! ZMTP frames: the streaming [`Decoder`] (frames into messages and commands) and the
//! encoders for everything a socket sends after the handshake.
//!
//! A frame is a flags byte (bit 0 MORE, bit 1 LONG, bit 2 COMMAND, the rest reserved
//! and zero), a size (1 byte, or 8 bytes big-endian when LONG) and the body. A
//! message is its frames up to the first without MORE. Sizes are checked against the
//! [`Limits`] before a byte of the body is stored, and a message's frames count
//! against the limit together, so a peer can make us hold at most the limit.
//!
//! Over real TCP a modelled message's last frame carries its padding as real zero
//! bytes, its size counting them, as an SP message's length does (`wire/modelled.rs`):
//! [`encode_message_padded`] writes the size, the caller the zeros, and a decoder made
//! [`Decoder::with_real_padding`] keeps the frame's real bytes and drops the padding as
//! it arrives. In the simulator the padding never travels and frames carry real bytes,
//! but the receive limit still counts the padding a last frame's head declares, so a
//! modelled 100 MB job meets a 1 MiB limit on both backends, as on SP.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::command::{self, Command};
use super::{Version, ZmtpError};
use crate::socket::SocketType;
use crate::wire::modelled::{HEAD_MAX, padding_of, real_len};

const FLAG_MORE: u8 = 0x01;
const FLAG_LONG: u8 = 0x02;
const FLAG_COMMAND: u8 = 0x04;
const FLAGS_RESERVED: u8 = !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND);

/// The most frames a recycled frame list may have room for ([`Decoder::recycle`]).
const RECYCLED_FRAMES_MAX: usize = 4;

/// The hard ceiling on a message (a data frame, or a multipart message's frames
/// together) and on a command, whatever the receive limit says: SP's 4 GiB
/// (`wire::LEN_MAX_HARD`, docs/limits.md). A size above it is refused from its header
/// alone, so an unlimited `rcvmaxsize` (libzmq's default) cannot be turned into
/// "buffer whatever follows" by a 2^62 frame.
const LEN_MAX_HARD: u64 = crate::wire::LEN_MAX_HARD;

/// What a receiver accepts before it closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, all frames together (libzmq's ZMQ_MAXMSGSIZE, which it
    /// applies per frame); `None` is unlimited, libzmq's default. Either way a size
    /// above the 4 GiB hard ceiling is refused (`ZmtpError::BeyondCeiling`).
    pub msg_bytes_max: Option<u64>,
    /// Most frames in one message: without it, empty frames with MORE would grow a
    /// message for ever within any byte limit. libzmq has no such limit.
    pub frames_max: usize,
    /// Largest command frame (READY with its metadata, SUBSCRIBE with its prefix).
    pub command_bytes_max: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { msg_bytes_max: None, frames_max: 4096, command_bytes_max: 64 * 1024 }
    }
}

/// One thing the peer said after the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole multipart message, frames in order (at least one).
    Message(Vec<Bytes>),
    /// A subscription to a prefix: a SUBSCRIBE command (3.1), or at a PUB or XPUB a
    /// one-frame message starting with byte 1 (3.0's form, still sent by old peers).
    Subscribe(Bytes),
    /// A subscription withdrawn: CANCEL, or byte 0 in front of the prefix.
    Cancel(Bytes),
    /// A heartbeat: answer with a PONG carrying `context`. `ttl_ds` is in tenths of a
    /// second; 0 means the peer sets no time-to-live.
    Ping { ttl_ds: u16, context: Bytes },
    /// The answer to one of our PINGs.
    Pong { context: Bytes },
}

/// A frame as it comes off the wire.
#[derive(Debug)]
pub(super) enum Frame {
    /// A data frame: `body` is what was kept of it, `cut` the real bytes after those
    /// that were not (only when a reader keeps a message's head alone,
    /// [`Decoder::decode_keeping`]).
    Data {
        more: bool,
        body: Bytes,
        cut: u64,
    },
    Command(Command),
}

/// Streaming reader of frames and messages after the handshake. After an error the
/// stream is unusable and the connection must close.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// Our socket type: at PUB and XPUB, 3.0's message-form subscriptions are read.
    ours: SocketType,
    /// The limits as the checks use them: a message's and a command's largest size
    /// as configured (`u64::MAX` for none), and the frame count; the hard ceiling is
    /// checked beside them. Kept so, not as `Limits`, to save 8 bytes of every
    /// connection (issue 16).
    msg_bytes_max: u64,
    command_bytes_max: u64,
    frames_max: usize,
    /// Flags and size of the frame whose header has been consumed, if any.
    pending: Option<(u8, usize)>,
    /// Frames of the message in progress (each had MORE).
    parts: Vec<Bytes>,
    /// Their bytes together, counted against the limit.
    parts_bytes: u64,
    /// Whether a last frame's modelled padding arrives as real bytes, to be dropped.
    real_padding: bool,
    /// Real padding bytes of the last frame still to drop.
    skip_left: u64,
    /// A message whose real bytes are in, held by [`Self::decode`] until its last
    /// frame's real padding has arrived too, as libzmq hands over a message only
    /// whole (under a bandwidth limit, later by the padding's time on the wire, when
    /// the simulator delivers it too). Boxed: rare, and only on real TCP.
    held: Option<Box<Event>>,
}

impl Decoder {
    pub fn new(ours: SocketType, limits: Limits) -> Decoder {
        Decoder {
            ours,
            msg_bytes_max: limits.msg_bytes_max.unwrap_or(u64::MAX),
            command_bytes_max: limits.command_bytes_max,
            frames_max: limits.frames_max,
            pending: None,
            parts: Vec::new(),
            parts_bytes: 0,
            real_padding: false,
            skip_left: 0,
            held: None,
        }
    }

    /// The same decoder for a stream whose modelled padding travels as real bytes
    /// (real TCP): a last frame's padding is dropped as it arrives, never stored.
    pub fn with_real_padding(self) -> Decoder {
        Decoder { real_padding: true, ..self }
    }

    /// Drops real padding from the front of `buf`; whether none is left to drop.
    fn skip_padding(&mut self, buf: &mut BytesMut) -> bool {
        let n = self.skip_left.min(buf.len() as u64) as usize;
        buf.advance(n);
        self.skip_left -= n as u64;
        self.skip_left == 0
    }

    /// The next whole event out of `buf`, or `None` until more bytes arrive. A message
    /// with real padding comes back once its padding is in as well (the frames held
    /// meanwhile, the zeros dropped as they arrive).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ZmtpError> {
        if self.held.is_some() {
            return Ok(self.skip_padding(buf).then(|| self.held.take().map(|e| *e)).flatten());
        }
        match self.decode_keeping(buf, usize::MAX)? {
            Some((event, _)) if self.skipping() => {
                self.held = Some(Box::new(event));
                Ok(None)
            }
            got => Ok(got.map(|(event, _)| event)),
        }
    }

    /// [`Self::decode`] for a reader that keeps at most `keep` bytes of a message's
    /// frames, its head (a bystander, `wire/tap.rs`): the first frames whole, the
    /// frame that reaches `keep` cut there and any after it empty, with the count of
    /// the real bytes not kept. Those are dropped as they arrive, as padding is, so a
    /// message comes back once the last frame's kept bytes are in, and it is whole
    /// only once [`Self::skipping`] says nothing is left to drop. The limit and the
    /// ceiling judge the message's whole length, as for [`Self::decode`].
    pub fn decode_keeping(
        &mut self,
        buf: &mut BytesMut,
        keep: usize,
    ) -> Result<Option<(Event, u64)>, ZmtpError> {
        if !self.skip_padding(buf) {
            return Ok(None);
        }
        // A short frame is whole under any `keep` of a frame's longest short size.
        if keep >= usize::from(u8::MAX)
            && let Some(event) = self.decode_short_message(buf)?
        {
            return Ok(Some((event, 0)));
        }
        loop {
            let room = match keep {
                usize::MAX => usize::MAX,
                _ => keep.saturating_sub(self.parts.iter().map(Bytes::len).sum()),
            };
            let Some(frame) = self.next_frame_keeping(buf, room)? else { return Ok(None) };
            match frame {
                Frame::Command(cmd) => return self.command(cmd).map(|event| Some((event, 0))),
                Frame::Data { more, body, cut } => {
                    self.parts_bytes += body.len() as u64 + cut;
                    self.parts.push(body);
                    if !more {
                        let cut = match keep {
                            usize::MAX => 0,
                            _ => {
                                let kept: usize = self.parts.iter().map(Bytes::len).sum();
                                self.parts_bytes - kept as u64
                            }
                        };
                        return Ok(Some((self.finish_message(), cut)));
                    }
                }
            }
        }
    }

    /// Whether bytes of the last frame (a last frame's padding, or what
    /// [`Self::decode_keeping`] did not keep) are still to arrive and be dropped.
    pub fn skipping(&self) -> bool {
        self.skip_left > 0
    }

    /// The common case in one step: a message of one short data frame, whole in
    /// `buf`, with nothing else in progress. It checks and consumes exactly what the
    /// general path would (flags 0 pass every header check); `None` leaves everything
    /// else, a partial frame included, to that path untouched.
    fn decode_short_message(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ZmtpError> {
        let Some(body) = self.short_frame(buf)? else { return Ok(None) };
        self.parts.push(body);
        Ok(Some(self.finish_message()))
    }

    /// [`Self::decode`]'s common case without its [`Event`]: the body of a message of
    /// one short data frame, whole in `buf`, with nothing else in progress, at a
    /// socket that reads no subscriptions out of messages (all but PUB and XPUB).
    /// Exactly what `decode` would consume, check and return as
    /// `Event::Message(vec![body])`; `None` leaves everything to `decode`. A
    /// receiver's hot path: the event, its frame list and their moves cost more than
    /// the decoding of a short frame itself.
    pub fn decode_short_body(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ZmtpError> {
        if matches!(self.ours, SocketType::Pub | SocketType::XPub) || self.skip_left > 0 {
            return Ok(None);
        }
        self.short_frame(buf)
    }

    /// A short data frame without MORE, whole at the front of `buf`, when no message
    /// is in progress: consumed, its body returned.
    fn short_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ZmtpError> {
        let (None, true, &[0, size, ..]) = (self.pending, self.parts.is_empty(), &buf[..]) else {
            return Ok(None);
        };
        if buf.len() < 2 + usize::from(size) {
            return Ok(None);
        }
        let len = self.check_size(false, u64::from(size))?;
        self.check_virtual_padding(len, &buf[2..2 + len])?;
        let real = self.real_part(len, &buf[2..2 + len]);
        buf.advance(2);
        let body = buf.split_to(real).freeze();
        buf.advance(len - real);
        Ok(Some(body))
    }

    /// In the simulator, where padding never travels, a last frame of `len` bytes whose
    /// head (`body`) declares modelled padding is judged by the receive limit and the
    /// hard ceiling with it, as over real TCP, where its size counts it.
    fn check_virtual_padding(&self, len: usize, body: &[u8]) -> Result<(), ZmtpError> {
        if self.real_padding {
            return Ok(());
        }
        let padding = padding_of(&body[..body.len().min(HEAD_MAX)]);
        let total = self.parts_bytes.saturating_add(len as u64).saturating_add(padding);
        self.check_total(total, self.msg_bytes_max)
    }

    /// Refuses a message (or command) of `total` bytes above `max`, the configured
    /// limit, or above the hard ceiling; the limit speaks first, as on SP.
    fn check_total(&self, total: u64, max: u64) -> Result<(), ZmtpError> {
        if total > max {
            return Err(ZmtpError::TooLong { len: total, max });
        }
        if total > LEN_MAX_HARD {
            return Err(ZmtpError::BeyondCeiling { len: total });
        }
        Ok(())
    }

    /// How many of a last frame's `len` bytes are real, judged from `head` (at least
    /// its first [`HEAD_MAX`] bytes, or all of them): all, unless its padding is real.
    fn real_part(&self, len: usize, head: &[u8]) -> usize {
        if !self.real_padding {
            return len;
        }
        real_len(len as u64, head).map_or(len, |r| r as usize)
    }

    /// Gives back the frame list of a message already handed on, emptied, so the next
    /// message is gathered in it without an allocation. Only a small list is kept: one
    /// that a many-framed message grew is let go, so an idle connection holds little.
    pub fn recycle(&mut self, mut frames: Vec<Bytes>) {
        if self.parts.is_empty() && frames.capacity() <= RECYCLED_FRAMES_MAX {
            frames.clear();
            self.parts = frames;
        }
    }

    /// Bytes held for the message in progress (the caller's `buf` aside): never
    /// more than the limit.
    pub(crate) fn buffered_bytes(&self) -> u64 {
        self.parts_bytes
    }

    /// Called when the stream has ended: half a frame, or a message whose last frame
    /// had MORE, means the peer closed mid-message.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), ZmtpError> {
        let got = buf.len() as u64;
        if self.skip_left > 0 {
            return Err(ZmtpError::Truncated { needed: self.skip_left, got });
        }
        match (self.pending, buf.first()) {
            (Some((_, len)), _) => Err(ZmtpError::Truncated { needed: len as u64, got }),
            (None, Some(flags)) => {
                let needed = if flags & FLAG_LONG != 0 { 9 } else { 2 };
                Err(ZmtpError::Truncated { needed, got })
            }
            (None, None) if !self.parts.is_empty() => {
                Err(ZmtpError::UnfinishedMessage { frames: self.parts.len() })
            }
            (None, None) => Ok(()),
        }
    }

    fn finish_message(&mut self) -> Event {
        let parts = std::mem::take(&mut self.parts);
        self.parts_bytes = 0;
        let subscriber_side = matches!(self.ours, SocketType::Pub | SocketType::XPub);
        if subscriber_side && parts.len() == 1 {
            match parts[0].first() {
                Some(1) => return Event::Subscribe(parts[0].slice(1..)),
                Some(0) => return Event::Cancel(parts[0].slice(1..)),
                _ => {}
            }
        }
        Event::Message(parts)
    }

    fn command(&mut self, cmd: Command) -> Result<Event, ZmtpError> {
        if !self.parts.is_empty() {
            return Err(ZmtpError::CommandInsideMessage { name: cmd.name_text() });
        }
        match &cmd.name[..] {
            b"SUBSCRIBE" => Ok(Event::Subscribe(cmd.data)),
            b"CANCEL" => Ok(Event::Cancel(cmd.data)),
            b"PING" => {
                let (ttl_ds, context) = command::parse_ping(&cmd)?;
                Ok(Event::Ping { ttl_ds, context })
            }
            b"PONG" => Ok(Event::Pong { context: command::parse_pong(&cmd)? }),
            b"ERROR" => Err(ZmtpError::PeerError { reason: command::parse_error(&cmd)? }),
            b"READY" => Err(ZmtpError::UnexpectedCommand { name: cmd.name_text() }),
            _ => Err(ZmtpError::UnknownCommand { name: cmd.name_text() }),
        }
    }

    /// The next whole frame, its header checked and consumed exactly once.
    pub(super) fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ZmtpError> {
        self.next_frame_keeping(buf, usize::MAX)
    }

    /// [`Self::next_frame`] keeping at most `room` bytes of a data frame; the rest of
    /// its real bytes, not kept, are counted in the frame's `cut` and dropped, with a
    /// last frame's real padding, as they arrive.
    fn next_frame_keeping(
        &mut self,
        buf: &mut BytesMut,
        room: usize,
    ) -> Result<Option<Frame>, ZmtpError> {
        if !self.skip_padding(buf) {
            return Ok(None);
        }
        let (flags, len) = match self.pending {
            Some(pending) => pending,
            None => match self.read_header(buf)? {
                Some(header) => header,
                None => return Ok(None),
            },
        };
        self.pending = Some((flags, len));
        let last = flags & (FLAG_MORE | FLAG_COMMAND) == 0;
        if flags & FLAG_COMMAND == 0 && ((self.real_padding && last) || room < len) {
            // Only part of the frame is kept: a last frame may end in real padding,
            // and a reader keeping a message's head keeps `room` bytes at most. The
            // frame's first bytes say how many of its bytes are real.
            let decisive = len.min(HEAD_MAX);
            if buf.len() < decisive {
                return Ok(None);
            }
            let real = if last { self.real_part(len, &buf[..decisive]) } else { len };
            if last {
                self.check_virtual_padding(len, &buf[..decisive])?;
            }
            let kept = real.min(room);
            if buf.len() < kept {
                return Ok(None);
            }
            self.pending = None;
            let body = buf.split_to(kept).freeze();
            self.skip_left = (len - kept) as u64;
            self.skip_padding(buf);
            return Ok(Some(Frame::Data { more: !last, body, cut: (real - kept) as u64 }));
        }
        if buf.len() < len {
            return Ok(None);
        }
        if last {
            self.check_virtual_padding(len, &buf[..len])?;
        }
        self.pending = None;
        let body = buf.split_to(len).freeze();
        if flags & FLAG_COMMAND != 0 {
            return command::split_command(body).map(|cmd| Some(Frame::Command(cmd)));
        }
        Ok(Some(Frame::Data { more: !last, body, cut: 0 }))
    }

    /// Reads and checks a frame header; consumes it only when it is whole and good.
    fn read_header(&self, buf: &mut BytesMut) -> Result<Option<(u8, usize)>, ZmtpError> {
        let Some(&flags) = buf.first() else { return Ok(None) };
        if flags & FLAGS_RESERVED != 0 {
            return Err(ZmtpError::ReservedFlags { flags });
        }
        let is_command = flags & FLAG_COMMAND != 0;
        if is_command && flags & FLAG_MORE != 0 {
            return Err(ZmtpError::CommandWithMore);
        }
        let size_len = if flags & FLAG_LONG != 0 { 8 } else { 1 };
        if buf.len() < 1 + size_len {
            return Ok(None);
        }
        let size = if size_len == 8 {
            u64::from_be_bytes(buf[1..9].try_into().expect("8 bytes checked above"))
        } else {
            u64::from(buf[1])
        };
        let len = self.check_size(is_command, size)?;
        buf.advance(1 + size_len);
        Ok(Some((flags, len)))
    }

    /// Rejects a size above the limit or the hard ceiling (a message's frames
    /// together) before any byte of the body is stored, and a frame beyond the frame
    /// limit.
    fn check_size(&self, is_command: bool, size: u64) -> Result<usize, ZmtpError> {
        let (total, max) = if is_command {
            (size, self.command_bytes_max)
        } else {
            if self.parts.len() >= self.frames_max {
                return Err(ZmtpError::TooManyFrames { max: self.frames_max });
            }
            (self.parts_bytes.saturating_add(size), self.msg_bytes_max)
        };
        self.check_total(total, max)?;
        // The ceiling is at most `isize::MAX`: a size under it fits a `usize`.
        usize::try_from(size).map_err(|_| ZmtpError::BeyondCeiling { len: size })
    }
}

/// Appends one frame header: short when the body fits a byte, long otherwise.
fn put_header(flags: u8, len: usize, out: &mut BytesMut) {
    if len <= usize::from(u8::MAX) {
        out.put_u8(flags);
        out.put_u8(len as u8);
    } else {
        out.put_u8(flags | FLAG_LONG);
        out.put_u64(len as u64);
    }
}

/// Appends a message, every frame but the last with MORE. An empty list is sent as
/// one empty frame: a ZMTP message has at least one.
pub fn encode_message<B: AsRef<[u8]>>(frames: &[B], out: &mut BytesMut) {
    encode_message_with(frames, false, out);
}

/// [`encode_message`], the last frame's size counting the modelled padding its head
/// declares (`wire/modelled.rs`), which the caller sends as zeros right after;
/// returns it (0 for a frame without a payload header).
pub fn encode_message_padded<B: AsRef<[u8]>>(frames: &[B], out: &mut BytesMut) -> u64 {
    encode_message_with(frames, true, out)
}

/// A message's frames, the last counting its modelled padding when `padded`; the
/// padding its size counts. A padding no buffer could address is not counted.
pub(super) fn encode_message_with<B: AsRef<[u8]>>(
    frames: &[B],
    padded: bool,
    out: &mut BytesMut,
) -> u64 {
    let Some((last, first)) = frames.split_last() else {
        put_header(0, 0, out);
        return 0;
    };
    encode_more(first, out);
    let body = last.as_ref();
    let declared = if padded { padding_of(&body[..body.len().min(HEAD_MAX)]) } else { 0 };
    let padding = usize::try_from(declared).ok().filter(|p| p.checked_add(body.len()).is_some());
    let padding = padding.unwrap_or(0);
    put_header(0, body.len() + padding, out);
    out.put_slice(body);
    padding as u64
}

/// Appends `frames` each with MORE set: the first frames of a message whose last
/// frame the caller writes next.
pub(super) fn encode_more<B: AsRef<[u8]>>(frames: &[B], out: &mut BytesMut) {
    for frame in frames {
        put_more(frame.as_ref(), out);
    }
}

/// Appends one frame with MORE set.
pub(super) fn put_more(body: &[u8], out: &mut BytesMut) {
    put_header(FLAG_MORE, body.len(), out);
    out.put_slice(body);
}

/// Appends a command frame.
pub(super) fn put_command(name: &str, data: &[u8], out: &mut BytesMut) {
    put_header(FLAG_COMMAND, 1 + name.len() + data.len(), out);
    command::put_command_body(name, data, out);
}

/// Subscribes to `prefix` in the form `version` speaks: SUBSCRIBE for 3.1, a data
/// frame of byte 1 and the prefix for 3.0.
pub fn encode_subscribe(version: Version, prefix: &[u8], out: &mut BytesMut) {
    match version {
        Version::V3_1 => put_command("SUBSCRIBE", prefix, out),
        Version::V3_0 => encode_message(&[[&[1u8][..], prefix].concat()], out),
    }
}

/// Withdraws a subscription: CANCEL for 3.1, byte 0 and the prefix for 3.0.
pub fn encode_cancel(version: Version, prefix: &[u8], out: &mut BytesMut) {
    match version {
        Version::V3_1 => put_command("CANCEL", prefix, out),
        Version::V3_0 => encode_message(&[[&[0u8][..], prefix].concat()], out),
    }
}

/// A PING with a time-to-live in tenths of a second; a context over 16 bytes is cut
/// to 16, as libzmq does.
pub fn encode_ping(ttl_ds: u16, context: &[u8], out: &mut BytesMut) {
    let context = &context[..context.len().min(command::PING_CONTEXT_MAX)];
    let data = [&ttl_ds.to_be_bytes()[..], context].concat();
    put_command("PING", &data, out);
}

/// The PONG answering a PING with `context`.
pub fn encode_pong(context: &[u8], out: &mut BytesMut) {
    put_command("PONG", &context[..context.len().min(command::PING_CONTEXT_MAX)], out);
}

/// An ERROR refusing the connection; a reason over 255 bytes is cut to 255.
pub fn encode_error(reason: &str, out: &mut BytesMut) {
    let reason = &reason.as_bytes()[..reason.len().min(255)];
    let data = [&[reason.len() as u8][..], reason].concat();
    put_command("ERROR", &data, out);
}
