//! The wire targets: SP's handshake, decoder and header split, and ZMTP's handshake
//! and decoder, fed mutated conversations in random-sized pieces.
//!
//! Both check, besides "no panic", that every event a decoder returns consumed bytes
//! (so a loop over `decode` ends: no hang by construction) and that a ZMTP decoder
//! never holds more of a message than its receive limit.

use bytes::{Bytes, BytesMut};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::mutate::mutate_bytes;
use super::{Checked, Target, kind_of};
use crate::socket::SocketType;
use crate::wire::payload::{Payload, PayloadKind};
use crate::wire::zmtp::{self, Decoder, Handshake, Limits, Version, ZmtpError};
use crate::wire::{self, HeaderRule};

/// Largest input: enough for a greeting, a READY and a dozen frames.
const INPUT_BYTES_MAX: usize = 4096;

/// One input in 16 is noise rather than a mutated corpus entry.
const NOISE_ONE_IN: u32 = 16;

/// A receive limit drawn for one input: none, roomy, or small enough to be hit.
fn draw_limit(rng: &mut ChaCha8Rng) -> Option<u64> {
    match rng.random_range(0..3) {
        0 => None,
        1 => Some(INPUT_BYTES_MAX as u64),
        _ => Some(rng.random_range(0..512)),
    }
}

/// Our socket type: usually one the input's SP handshake (if it has one) pairs with,
/// so the decoder is reached with a plausible receiver.
fn draw_sp_receiver(rng: &mut ChaCha8Rng, input: &[u8]) -> SocketType {
    let peer_id = input.get(4..6).map(|id| u16::from_be_bytes([id[0], id[1]]));
    let pairs = |t: &SocketType| {
        SocketType::ALL
            .into_iter()
            .any(|p| Some(wire::protocol_id(p)) == peer_id && t.pairs_with(p))
    };
    let fitting: Vec<SocketType> = SocketType::ALL.into_iter().filter(pairs).collect();
    if fitting.is_empty() || rng.random_ratio(1, 4) {
        SocketType::ALL[rng.random_range(0..SocketType::ALL.len())]
    } else {
        fitting[rng.random_range(0..fitting.len())]
    }
}

/// How many bytes to hand over at a time: all, or a few.
fn draw_chunk(rng: &mut ChaCha8Rng, len: usize) -> usize {
    if rng.random_bool(0.5) { len.max(1) } else { rng.random_range(1..=64) }
}

/// A corpus entry mutated, or noise.
fn draw_bytes(rng: &mut ChaCha8Rng, corpus: &[Vec<u8>], entry: usize) -> Vec<u8> {
    if rng.random_ratio(1, NOISE_ONE_IN) {
        return (0..rng.random_range(0..256)).map(|_| rng.random()).collect();
    }
    let mut input = corpus[entry].clone();
    mutate_bytes(rng, &mut input, corpus, INPUT_BYTES_MAX);
    input
}

/// SP: handshakes of every type followed by messages with and without backtraces.
#[derive(Debug)]
pub struct SpTarget {
    corpus: Vec<Vec<u8>>,
}

impl SpTarget {
    pub fn new() -> SpTarget {
        let mut corpus = Vec::new();
        for socket in SocketType::ALL {
            let mut out = BytesMut::from(&wire::handshake(socket)[..]);
            // Plain bodies carry no payload header, so none of them is padded.
            let plain: [(&[u32], &[u8]); 4] = [
                (&[0x8000_0001], b"hello"),
                (&[7, 0x8000_0002], b"x"),
                (&[], b""),
                (&[], &[0x5a; 300]),
            ];
            for (header, body) in plain {
                let padding = wire::encode(header, body, &mut out);
                assert_eq!(padding, 0, "a plain corpus message is not modelled");
            }
            // One modelled message (a 512-byte job), with its padding sent as real
            // TCP sends it, so mutations reach the decoder's padding path too.
            let job = Payload::new(PayloadKind::Job, 1, 512).encode();
            let padding = wire::encode(&[0x8000_0003], &job, &mut out);
            out.resize(out.len() + padding as usize, 0);
            corpus.push(out.to_vec());
        }
        SpTarget { corpus }
    }
}

impl Default for SpTarget {
    fn default() -> SpTarget {
        SpTarget::new()
    }
}

impl Target for SpTarget {
    type Input = Vec<u8>;

    fn name(&self) -> &'static str {
        "sp"
    }

    fn input(&self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let entry = rng.random_range(0..self.corpus.len());
        draw_bytes(rng, &self.corpus, entry)
    }

    fn check(&self, input: &Vec<u8>, rng: &mut ChaCha8Rng) -> Result<Checked, String> {
        let ours = draw_sp_receiver(rng, input);
        let mut decoder = wire::Decoder::new(draw_limit(rng));
        let rule = HeaderRule::for_receiver(ours);
        let (handshake, rest) = input.split_at(input.len().min(wire::HANDSHAKE_LEN));
        let mut label = match handshake.try_into() {
            Ok(bytes) => wire::check_handshake(ours, bytes).err().map(|e| kind_of(&e)),
            Err(_) => Some("ShortHandshake".to_owned()),
        };
        let (mut buf, mut buffered, mut events) = (BytesMut::new(), 0u64, 0usize);
        let chunk = draw_chunk(rng, rest.len());
        let mut failed = None;
        'feed: for piece in rest.chunks(chunk) {
            buf.extend_from_slice(piece);
            buffered = buffered.max(buf.len() as u64);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(payload)) => {
                        events += 1;
                        if let Err(e) = wire::split(rule, payload) {
                            label.get_or_insert(format!("Malformed{:?}", e.rule));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(kind_of(&e));
                        break 'feed;
                    }
                }
                // Every message costs its 8-byte length at least.
                if events > rest.len() / wire::LEN_PREFIX_LEN + 1 {
                    return Err(format!("hang: {events} messages out of {} bytes", rest.len()));
                }
            }
        }
        let end = failed.or_else(|| decoder.finish(&buf).err().map(|e| kind_of(&e)));
        let label = end.or(label).unwrap_or_else(|| "ok".to_owned());
        Ok(Checked { label, buffered_bytes: buffered })
    }

    fn bytes(&self, input: &Vec<u8>) -> Vec<u8> {
        input.clone()
    }
}

/// ZMTP: whole conversations (greeting, READY, frames) for every valid pair, and the
/// same frames alone for a decoder past its handshake.
#[derive(Debug)]
pub struct ZmtpTarget {
    corpus: Vec<Vec<u8>>,
    /// Per corpus entry: our socket type, and whether the entry starts with a greeting.
    roles: Vec<(SocketType, bool)>,
}

/// ZeroMQ's socket types: the ones ZMTP carries.
fn zmtp_types() -> Vec<SocketType> {
    SocketType::ALL.into_iter().filter(|t| zmtp::socket_type_name(*t).is_some()).collect()
}

/// Frames a peer may send after its READY: multipart data, subscriptions in both
/// forms, a heartbeat and its answer.
fn frames_after_ready() -> BytesMut {
    let mut out = BytesMut::new();
    zmtp::encode_message(&[&b""[..], b"hello", &[0x42; 300]], &mut out);
    zmtp::encode_subscribe(Version::V3_1, b"topic", &mut out);
    zmtp::encode_cancel(Version::V3_0, b"topic", &mut out);
    zmtp::encode_ping(10, b"ctx", &mut out);
    zmtp::encode_pong(b"ctx", &mut out);
    zmtp::encode_message(&[b"tail"], &mut out);
    out
}

impl ZmtpTarget {
    pub fn new() -> ZmtpTarget {
        let (mut corpus, mut roles) = (Vec::new(), Vec::new());
        let types = zmtp_types();
        for &ours in &types {
            for &peer in types.iter().filter(|p| zmtp::zmtp_pairs_with(ours, **p)) {
                for version in [Version::V3_0, Version::V3_1] {
                    let mut out = BytesMut::from(&zmtp::greeting(version)[..]);
                    zmtp::encode_ready(peer, b"peer-id", &mut out);
                    out.extend_from_slice(&frames_after_ready());
                    corpus.push(out.to_vec());
                    roles.push((ours, true));
                }
            }
            corpus.push(frames_after_ready().to_vec());
            roles.push((ours, false));
        }
        let mut error = BytesMut::from(&zmtp::greeting(Version::V3_1)[..]);
        zmtp::encode_error(&"refused".repeat(3), &mut error);
        corpus.push(error.to_vec());
        roles.push((SocketType::Req, true));
        ZmtpTarget { corpus, roles }
    }
}

impl Default for ZmtpTarget {
    fn default() -> ZmtpTarget {
        ZmtpTarget::new()
    }
}

/// A ZMTP input: the bytes, our socket type, and whether a handshake comes first.
#[derive(Clone, Debug)]
pub struct ZmtpInput {
    pub bytes: Vec<u8>,
    pub ours: SocketType,
    pub handshake: bool,
}

impl Target for ZmtpTarget {
    type Input = ZmtpInput;

    fn name(&self) -> &'static str {
        "zmtp"
    }

    fn input(&self, rng: &mut ChaCha8Rng) -> ZmtpInput {
        let entry = rng.random_range(0..self.corpus.len());
        let (mut ours, handshake) = self.roles[entry];
        if rng.random_ratio(1, 8) {
            let types = zmtp_types();
            ours = types[rng.random_range(0..types.len())];
        }
        ZmtpInput { bytes: draw_bytes(rng, &self.corpus, entry), ours, handshake }
    }

    fn check(&self, input: &ZmtpInput, rng: &mut ChaCha8Rng) -> Result<Checked, String> {
        let limits = Limits {
            msg_bytes_max: draw_limit(rng),
            frames_max: if rng.random_ratio(1, 4) { rng.random_range(1..8) } else { 4096 },
            command_bytes_max: if rng.random_ratio(1, 4) { 64 } else { 64 * 1024 },
        };
        let chunk = draw_chunk(rng, input.bytes.len());
        let mut conn = ZmtpConn::new(input, limits).map_err(|e| format!("setup: {e}"))?;
        let mut end = None;
        for piece in input.bytes.chunks(chunk) {
            if let Err(e) = conn.feed(piece) {
                end = Some(e?);
                break;
            }
        }
        let label = match end {
            Some(e) => kind_of(&e),
            None => conn.finish().map_or_else(|e| kind_of(&e), |()| "ok".to_owned()),
        };
        Ok(Checked { label, buffered_bytes: conn.buffered_max })
    }

    fn bytes(&self, input: &ZmtpInput) -> Vec<u8> {
        input.bytes.clone()
    }
}

/// One fuzzed ZMTP connection: the handshake until it is done, then the decoder.
struct ZmtpConn {
    handshake: Option<Handshake>,
    decoder: Decoder,
    limits: Limits,
    buf: BytesMut,
    events: usize,
    fed: usize,
    buffered_max: u64,
}

impl ZmtpConn {
    fn new(input: &ZmtpInput, limits: Limits) -> Result<ZmtpConn, ZmtpError> {
        let handshake = if input.handshake {
            Some(Handshake::new(input.ours, Bytes::from_static(b"fuzz"), limits)?)
        } else {
            None
        };
        let decoder = Decoder::new(input.ours, limits);
        Ok(ZmtpConn {
            handshake,
            decoder,
            limits,
            buf: BytesMut::new(),
            events: 0,
            fed: 0,
            buffered_max: 0,
        })
    }

    /// Hands over a piece. The outer `Err` is a protocol error (the connection would
    /// close); the inner one a broken property.
    fn feed(&mut self, piece: &[u8]) -> Result<(), Result<ZmtpError, String>> {
        self.buf.extend_from_slice(piece);
        self.fed += piece.len();
        if let Some(handshake) = &mut self.handshake {
            match handshake.advance(&mut self.buf, &mut BytesMut::new()).map_err(Ok)? {
                Some(_peer) => self.handshake = None,
                None => return Ok(()),
            }
        }
        while let Some(_event) = self.decoder.decode(&mut self.buf).map_err(Ok)? {
            self.events += 1;
            // Every event costs its 2-byte frame header at least.
            if self.events > self.fed / 2 + 1 {
                return Err(Err(format!("hang: {} events out of {} bytes", self.events, self.fed)));
            }
        }
        let held = self.decoder.buffered_bytes();
        let max = self.limits.msg_bytes_max.unwrap_or(self.fed as u64);
        if held > max {
            return Err(Err(format!("growth: decoder holds {held} bytes, the limit is {max}")));
        }
        self.buffered_max = self.buffered_max.max(held + self.buf.len() as u64);
        Ok(())
    }

    fn finish(&self) -> Result<(), ZmtpError> {
        match &self.handshake {
            Some(handshake) => handshake.finish(&self.buf),
            None => self.decoder.finish(&self.buf),
        }
    }
}
