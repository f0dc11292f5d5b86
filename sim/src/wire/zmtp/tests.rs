//! Byte-level tests of the ZMTP codec: the probe greeting, handshakes both ways, frame
//! round trips, and hostile peers (each must get a typed error, never a panic).

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::socket::SocketType;

/// libzmq 4.3's first 10 bytes, as probed (docs/zmtp.md): the padding is not zero.
const LIBZMQ_SIGNATURE: [u8; 10] = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f];

fn handshake(ours: SocketType) -> Handshake {
    Handshake::new(ours, Bytes::new(), Limits::default()).unwrap()
}

/// A peer's greeting and READY, as bytes on the wire.
fn peer_bytes(socket: SocketType, version: Version) -> BytesMut {
    let mut out = BytesMut::from(&greeting(version)[..]);
    encode_ready(socket, b"", &mut out);
    out
}

/// Runs `ours`'s handshake over `input` fed in one piece.
fn shake(ours: SocketType, mut input: BytesMut) -> Result<Option<Peer>, ZmtpError> {
    let mut out = BytesMut::new();
    handshake(ours).advance(&mut input, &mut out)
}

/// A command frame built by hand, so the tests do not trust the encoder.
fn command_frame(name: &[u8], data: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_u8(0x04);
    out.put_u8((1 + name.len() + data.len()) as u8);
    out.put_u8(name.len() as u8);
    out.put_slice(name);
    out.put_slice(data);
    out
}

/// After a good handshake as `ours`, `frames` decoded with `limits`.
fn decode_all(
    ours: SocketType,
    limits: Limits,
    mut buf: BytesMut,
) -> Result<Vec<Event>, ZmtpError> {
    let mut decoder = Decoder::new(ours, limits);
    let mut events = Vec::new();
    while let Some(event) = decoder.decode(&mut buf)? {
        events.push(event);
    }
    decoder.finish(&buf)?;
    Ok(events)
}

#[test]
fn greeting_is_64_bytes_with_signature_version_and_null() {
    let g = greeting(Version::V3_1);
    assert_eq!(g.len(), 64);
    assert_eq!(g[..10], [0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f]);
    assert_eq!(g[10..12], [3, 1]);
    assert_eq!(&g[12..32], b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(g[32], 0, "as-server");
    assert_eq!(greeting(Version::V3_0)[11], 0);
}

#[test]
fn greeting_with_libzmq_padding_is_accepted_and_versions_negotiate() {
    let mut g = greeting(Version::V3_1);
    g[..10].copy_from_slice(&LIBZMQ_SIGNATURE);
    assert_eq!(check_greeting(&g), Ok(Version::V3_1));
    g[11] = 0;
    assert_eq!(check_greeting(&g), Ok(Version::V3_0));
    g[10] = 4;
    assert_eq!(check_greeting(&g), Ok(Version::V3_1), "a later major talks down");
    g[10] = 2;
    assert_eq!(check_greeting(&g), Err(ZmtpError::UnsupportedVersion { major: 2, minor: 0 }));
}

#[test]
fn handshake_yields_peer_and_sends_ready() {
    let mut hs =
        Handshake::new(SocketType::Dealer, Bytes::from_static(b"me"), Limits::default()).unwrap();
    let mut input = peer_bytes(SocketType::Router, Version::V3_1);
    input.extend_from_slice(&[0x00, 0x01, b'x']);
    let mut out = BytesMut::new();
    let peer = hs.advance(&mut input, &mut out).unwrap().expect("handshake done");
    assert_eq!(peer.socket_type, SocketType::Router);
    assert_eq!(peer.version, Version::V3_1);
    assert_eq!(peer.identity, Bytes::new());
    assert_eq!(&input[..], &[0x00, 0x01, b'x'], "bytes after READY are left");
    let mut expected = command_frame(b"READY", b"");
    let props: &[u8] = b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x02me";
    expected[1] = (6 + props.len()) as u8;
    expected.extend_from_slice(props);
    assert_eq!(out, expected);
}

#[test]
fn handshake_fed_byte_by_byte_takes_the_lower_version() {
    let mut hs = handshake(SocketType::Sub);
    let input = peer_bytes(SocketType::Pub, Version::V3_0);
    let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
    let mut peer = None;
    for byte in input.iter() {
        buf.put_u8(*byte);
        assert!(peer.is_none(), "done before the last byte");
        peer = hs.advance(&mut buf, &mut out).unwrap();
    }
    let peer = peer.expect("handshake done on the last byte");
    assert_eq!((peer.socket_type, peer.version), (SocketType::Pub, Version::V3_0));
    let offered_old = handshake(SocketType::Sub).offering(Version::V3_0);
    assert_eq!(offered_old.greeting()[11], 0);
}

#[test]
fn every_zmtp_pair_handshakes_and_others_are_refused() {
    let zmtp: Vec<SocketType> =
        SocketType::ALL.into_iter().filter(|t| socket_type_name(*t).is_some()).collect();
    let mut pairs = 0;
    for &ours in &zmtp {
        for &theirs in &zmtp {
            let got = shake(ours, peer_bytes(theirs, Version::V3_1));
            if zmtp_pairs_with(ours, theirs) {
                pairs += 1;
                assert_eq!(got.unwrap().unwrap().socket_type, theirs);
            } else {
                assert_eq!(got, Err(ZmtpError::SocketTypeMismatch { ours, peer: theirs }));
            }
        }
    }
    // 12 unordered pairs, 3 of them a type with itself: 9 * 2 + 3 ordered ones.
    assert_eq!(pairs, 21);
    let err = Handshake::new(SocketType::Bus, Bytes::new(), Limits::default()).unwrap_err();
    assert_eq!(err, ZmtpError::NotZmtp { socket: SocketType::Bus });
}

#[test]
fn hostile_truncated_greeting_is_reported_at_eof() {
    let mut hs = handshake(SocketType::Rep);
    let mut buf = BytesMut::from(&greeting(Version::V3_1)[..20]);
    assert_eq!(hs.advance(&mut buf, &mut BytesMut::new()), Ok(None));
    assert_eq!(hs.finish(&buf), Err(ZmtpError::Truncated { needed: 64, got: 20 }));
    let mut after_greeting = BytesMut::from(&greeting(Version::V3_1)[..]);
    assert_eq!(hs.advance(&mut after_greeting, &mut BytesMut::new()), Ok(None));
    assert_eq!(hs.finish(&after_greeting), Err(ZmtpError::ClosedBeforeReady));
}

#[test]
fn hostile_wrong_signature_is_refused_at_the_first_byte() {
    let err = shake(SocketType::Rep, BytesMut::from(&b"GET / HTTP/1.1\r\n"[..])).unwrap_err();
    assert!(matches!(err, ZmtpError::BadSignature { got } if &got[..4] == b"GET "), "{err}");
    let sp = [0x00, b'S', b'P', 0x00, 0x00, 0x30, 0x00, 0x00];
    assert!(matches!(
        shake(SocketType::Rep, BytesMut::from(&sp[..1])),
        Err(ZmtpError::BadSignature { .. })
    ));
    let mut zmtp10 = greeting(Version::V3_1);
    zmtp10[9] = 0x7e;
    let err = shake(SocketType::Rep, BytesMut::from(&zmtp10[..])).unwrap_err();
    assert!(err.to_string().contains("expected ff, 8 padding bytes, then 7f"), "{err}");
}

#[test]
fn hostile_mechanism_and_first_command() {
    let mut curve = greeting(Version::V3_1);
    curve[12..17].copy_from_slice(b"CURVE");
    let err = shake(SocketType::Rep, BytesMut::from(&curve[..])).unwrap_err();
    assert_eq!(err, ZmtpError::UnsupportedMechanism { name: "CURVE".into() });
    let mut data_first = BytesMut::from(&greeting(Version::V3_1)[..]);
    data_first.extend_from_slice(&[0x00, 0x00]);
    assert_eq!(shake(SocketType::Rep, data_first), Err(ZmtpError::DataBeforeReady));
    let mut ping_first = BytesMut::from(&greeting(Version::V3_1)[..]);
    ping_first.extend_from_slice(&command_frame(b"PING", &[0, 0]));
    assert_eq!(
        shake(SocketType::Rep, ping_first),
        Err(ZmtpError::ExpectedReady { got: "PING".into() })
    );
    let mut refused = BytesMut::from(&greeting(Version::V3_1)[..]);
    refused.extend_from_slice(&command_frame(b"ERROR", b"\x06denied"));
    assert_eq!(
        shake(SocketType::Rep, refused),
        Err(ZmtpError::PeerError { reason: "denied".into() })
    );
}

/// A READY with `props` as its property list, after a greeting.
fn ready_with(props: &[u8]) -> BytesMut {
    let mut out = BytesMut::from(&greeting(Version::V3_1)[..]);
    out.extend_from_slice(&command_frame(b"READY", props));
    out
}

#[test]
fn hostile_property_list_lengths() {
    let cases: [(&[u8], &str); 5] = [
        (b"\x0bSocket-Type\x00\x00\x00\x09REQ", "property value length runs past the command"),
        (b"\x0bSocket-Type\x00\x00", "property value length is cut short"),
        (b"\x30Socket-Type", "property name length runs past the command"),
        (b"\x00\x00\x00\x00\x00", "property name is empty"),
        (b"\x0bSocket-Type\xff\xff\xff\xffREQ", "property value length runs past the command"),
    ];
    for (props, what) in cases {
        let got = shake(SocketType::Rep, ready_with(props));
        assert_eq!(got, Err(ZmtpError::BadCommand { name: "READY".into(), what }), "{props:?}");
    }
    assert_eq!(shake(SocketType::Rep, ready_with(b"")), Err(ZmtpError::MissingSocketType));
    let unknown = shake(SocketType::Rep, ready_with(b"\x0bSocket-Type\x00\x00\x00\x06CLIENT"));
    assert_eq!(unknown, Err(ZmtpError::UnknownSocketType { name: "CLIENT".into() }));
    let lower_case_name = shake(SocketType::Rep, ready_with(b"\x0bsocket-type\x00\x00\x00\x03REQ"));
    assert_eq!(lower_case_name.unwrap().unwrap().socket_type, SocketType::Req);
}

#[test]
fn messages_round_trip_short_long_and_multipart() {
    let long = vec![7u8; 300];
    let mut wire = BytesMut::new();
    encode_message(&[&b""[..], b"hello"], &mut wire);
    encode_message(&[&long[..]], &mut wire);
    encode_message::<&[u8]>(&[], &mut wire);
    assert_eq!(&wire[..9], &[0x01, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']);
    assert_eq!(&wire[9..18], &[0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2c]);
    let events = decode_all(SocketType::Dealer, Limits::default(), wire).unwrap();
    let expected = vec![
        Event::Message(vec![Bytes::new(), Bytes::from_static(b"hello")]),
        Event::Message(vec![Bytes::from(long)]),
        Event::Message(vec![Bytes::new()]),
    ];
    assert_eq!(events, expected);
}

/// Short one-frame messages take a shortcut through the decoder: fed whole, byte by
/// byte or in uneven pieces, mixed with long, multipart and command frames, the
/// events are the same.
#[test]
fn short_messages_decode_alike_however_the_bytes_arrive() {
    let mut wire = BytesMut::new();
    encode_message(&[&b"one"[..]], &mut wire);
    encode_message(&[vec![1u8; 255]], &mut wire);
    encode_message(&[vec![2u8; 256]], &mut wire);
    encode_message(&[&b"a"[..], b"b"], &mut wire);
    encode_ping(10, b"ctx", &mut wire);
    encode_message::<&[u8]>(&[], &mut wire);
    encode_message(&[&b"two"[..]], &mut wire);
    let expected = vec![
        Event::Message(vec![Bytes::from_static(b"one")]),
        Event::Message(vec![Bytes::from(vec![1u8; 255])]),
        Event::Message(vec![Bytes::from(vec![2u8; 256])]),
        Event::Message(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]),
        Event::Ping { ttl_ds: 10, context: Bytes::from_static(b"ctx") },
        Event::Message(vec![Bytes::new()]),
        Event::Message(vec![Bytes::from_static(b"two")]),
    ];
    assert_eq!(decode_all(SocketType::Pull, Limits::default(), wire.clone()).unwrap(), expected);
    for piece in [1, 2, 3, 7, 64] {
        let mut decoder = Decoder::new(SocketType::Pull, Limits::default());
        let (mut buf, mut events) = (BytesMut::new(), Vec::new());
        for chunk in wire.chunks(piece) {
            buf.extend_from_slice(chunk);
            while let Some(event) = decoder.decode(&mut buf).unwrap() {
                events.push(event);
            }
        }
        decoder.finish(&buf).unwrap();
        assert_eq!(events, expected, "fed {piece} bytes at a time");
    }
    let tight = Limits { msg_bytes_max: Some(2), ..Limits::default() };
    let err = decode_all(SocketType::Pull, tight, wire).unwrap_err();
    assert_eq!(err, ZmtpError::TooLong { len: 3, max: 2 });
}

/// A receiver asks `decode_short_body` first and `decode` for the rest: however the
/// bytes arrive, that reads the same messages as `decode` alone, takes the short
/// ones itself, and fails on the same limit.
#[test]
fn short_bodies_taken_first_read_as_decode_alone() {
    let mut wire = BytesMut::new();
    encode_message(&[&b"one"[..]], &mut wire);
    encode_message(&[vec![1u8; 300]], &mut wire);
    encode_message(&[&b"a"[..], b"b"], &mut wire);
    encode_ping(10, b"ctx", &mut wire);
    encode_message(&[&b"two"[..]], &mut wire);
    let expected = decode_all(SocketType::Pull, Limits::default(), wire.clone()).unwrap();
    for piece in [1, 2, 3, 7, 64] {
        let mut decoder = Decoder::new(SocketType::Pull, Limits::default());
        let (mut buf, mut events, mut short) = (BytesMut::new(), Vec::new(), 0);
        for chunk in wire.chunks(piece) {
            buf.extend_from_slice(chunk);
            loop {
                if let Some(body) = decoder.decode_short_body(&mut buf).unwrap() {
                    events.push(Event::Message(vec![body]));
                    short += 1;
                } else if let Some(event) = decoder.decode(&mut buf).unwrap() {
                    events.push(event);
                } else {
                    break;
                }
            }
        }
        decoder.finish(&buf).unwrap();
        assert_eq!(events, expected, "fed {piece} bytes at a time");
        // Fed in small pieces, a frame's header is read before its body has come.
        assert!(piece < 64 || short == 2, "fed {piece} bytes at a time, {short} short bodies");
    }
    let mut decoder =
        Decoder::new(SocketType::Pull, Limits { msg_bytes_max: Some(2), ..Limits::default() });
    let err = decoder.decode_short_body(&mut wire.clone()).unwrap_err();
    assert_eq!(err, ZmtpError::TooLong { len: 3, max: 2 });
    // At a PUB, a one-frame message may be a 3.0 subscription: left to `decode`.
    let mut subscription = BytesMut::new();
    encode_subscribe(Version::V3_0, b"old", &mut subscription);
    let mut decoder = Decoder::new(SocketType::XPub, Limits::default());
    assert_eq!(decoder.decode_short_body(&mut subscription.clone()).unwrap(), None);
    let event = decoder.decode(&mut subscription).unwrap();
    assert_eq!(event, Some(Event::Subscribe(Bytes::from_static(b"old"))));
}

#[test]
fn subscriptions_in_both_forms_and_heartbeats() {
    let mut wire = BytesMut::new();
    encode_subscribe(Version::V3_1, b"news", &mut wire);
    encode_cancel(Version::V3_1, b"news", &mut wire);
    encode_subscribe(Version::V3_0, b"old", &mut wire);
    encode_cancel(Version::V3_0, b"old", &mut wire);
    encode_ping(30, b"ctx", &mut wire);
    encode_pong(b"ctx", &mut wire);
    assert_eq!(
        &wire[..12],
        &[0x04, 0x0e, 0x09, b'S', b'U', b'B', b'S', b'C', b'R', b'I', b'B', b'E']
    );
    let events = decode_all(SocketType::XPub, Limits::default(), wire.clone()).unwrap();
    let b = Bytes::from_static;
    assert_eq!(
        events,
        vec![
            Event::Subscribe(b(b"news")),
            Event::Cancel(b(b"news")),
            Event::Subscribe(b(b"old")),
            Event::Cancel(b(b"old")),
            Event::Ping { ttl_ds: 30, context: b(b"ctx") },
            Event::Pong { context: b(b"ctx") },
        ]
    );
    // At a SUB, a message starting with 1 is data, not a subscription.
    let at_sub = decode_all(SocketType::Sub, Limits::default(), wire).unwrap();
    assert_eq!(at_sub[2], Event::Message(vec![b(b"\x01old")]));
}

#[test]
fn hostile_length_2_pow_63_is_refused_before_allocating() {
    let mut wire = BytesMut::from(&[0x02u8, 0x80, 0, 0, 0, 0, 0, 0, 0][..]);
    let err = Decoder::new(SocketType::Rep, Limits::default()).decode(&mut wire).unwrap_err();
    assert_eq!(err, ZmtpError::BeyondCeiling { len: 1 << 63 });
    assert_eq!(wire.len(), 9, "the header is not consumed");
}

/// docs/limits.md: a size above the 4 GiB ceiling is refused from its header alone,
/// whatever the receive limit (none, libzmq's default, or one above the ceiling), for a
/// frame, for a multipart message's frames together and for a command; the SP
/// decoder's rule. Before, ZMTP's only ceiling was `isize::MAX`, and a 5 GiB frame's
/// body was buffered as it came.
#[test]
fn a_size_above_the_4_gib_ceiling_is_refused_from_its_header_whatever_the_limit() {
    const FIVE_GIB: u64 = 5 << 30;
    let mut frame = BytesMut::from(&[0x02u8][..]);
    frame.extend_from_slice(&FIVE_GIB.to_be_bytes());
    frame.extend_from_slice(&[b'x'; 100]);
    for limit in [None, Some(u64::MAX), Some(FIVE_GIB)] {
        let limits = Limits { msg_bytes_max: limit, ..Limits::default() };
        let mut decoder = Decoder::new(SocketType::Pull, limits);
        let mut wire = frame.clone();
        let err = decoder.decode(&mut wire).unwrap_err();
        assert_eq!(err, ZmtpError::BeyondCeiling { len: FIVE_GIB }, "limit {limit:?}");
        assert_eq!(wire.len(), 109, "the header is not consumed, no body byte taken");
        assert_eq!(decoder.buffered_bytes(), 0, "nothing of the message stored");
    }
    assert_eq!(
        ZmtpError::BeyondCeiling { len: FIVE_GIB }.to_string(),
        "frame length 5368709120 exceeds the hard ceiling of 4294967296 bytes, refused \
         whatever the receive limit"
    );
    // At the ceiling a frame is still taken (its body then waits for its bytes).
    let mut at = BytesMut::from(&[0x02u8][..]);
    at.extend_from_slice(&(4u64 << 30).to_be_bytes());
    assert_eq!(Decoder::new(SocketType::Pull, Limits::default()).decode(&mut at), Ok(None));
    // Frames of one message count together: a byte with MORE, then 4 GiB.
    let mut sum = BytesMut::from(&[0x01u8, 0x01, b'a', 0x02][..]);
    sum.extend_from_slice(&(4u64 << 30).to_be_bytes());
    let err = Decoder::new(SocketType::Pull, Limits::default()).decode(&mut sum).unwrap_err();
    assert_eq!(err, ZmtpError::BeyondCeiling { len: (4 << 30) + 1 });
    // A command above the ceiling, with a command limit that would let it through.
    let mut command = BytesMut::from(&[0x06u8][..]);
    command.extend_from_slice(&FIVE_GIB.to_be_bytes());
    let limits = Limits { command_bytes_max: u64::MAX, ..Limits::default() };
    let err = Decoder::new(SocketType::Pub, limits).decode(&mut command).unwrap_err();
    assert_eq!(err, ZmtpError::BeyondCeiling { len: FIVE_GIB });
}

#[test]
fn hostile_oversize_frame_and_message_vs_limit() {
    let limits = Limits { msg_bytes_max: Some(100), ..Limits::default() };
    let mut one = BytesMut::new();
    encode_message(&[vec![0u8; 101]], &mut one);
    assert_eq!(
        decode_all(SocketType::Pull, limits, one),
        Err(ZmtpError::TooLong { len: 101, max: 100 })
    );
    let mut split = BytesMut::new();
    encode_message(&[vec![0u8; 60], vec![0u8; 60]], &mut split);
    assert_eq!(
        decode_all(SocketType::Pull, limits, split),
        Err(ZmtpError::TooLong { len: 120, max: 100 })
    );
    let few_frames = Limits { frames_max: 3, ..Limits::default() };
    let mut many = BytesMut::new();
    encode_message(&[b"a", b"b", b"c", b"d"], &mut many);
    assert_eq!(
        decode_all(SocketType::Pull, few_frames, many),
        Err(ZmtpError::TooManyFrames { max: 3 })
    );
    let mut big_command = BytesMut::from(&[0x06u8, 0, 0, 0, 0, 0, 1, 0, 1][..]);
    big_command.extend_from_slice(&[0; 16]);
    let err = decode_all(SocketType::Pull, Limits::default(), big_command).unwrap_err();
    assert_eq!(err, ZmtpError::TooLong { len: 65537, max: 65536 });
}

#[test]
fn hostile_unknown_and_misplaced_commands() {
    let b = BytesMut::from;
    let cases: Vec<(BytesMut, ZmtpError)> = vec![
        (command_frame(b"HELLO", b""), ZmtpError::UnknownCommand { name: "HELLO".into() }),
        (command_frame(b"READY", b""), ZmtpError::UnexpectedCommand { name: "READY".into() }),
        (b(&[0x05u8, 0x00][..]), ZmtpError::CommandWithMore),
        (b(&[0x08u8, 0x00][..]), ZmtpError::ReservedFlags { flags: 0x08 }),
        (
            b(&[0x04u8, 0x00][..]),
            ZmtpError::BadCommand {
                name: String::new(),
                what: "empty command frame, expected a name length",
            },
        ),
        (
            b(&[0x04u8, 0x02, 0x05, b'P'][..]),
            ZmtpError::BadCommand {
                name: String::new(),
                what: "command name length runs past the frame",
            },
        ),
        (
            command_frame(b"PING", b"\x00"),
            ZmtpError::BadCommand {
                name: "PING".into(),
                what: "PING is shorter than its 2-byte TTL",
            },
        ),
        (
            command_frame(b"PING", &[0; 19]),
            ZmtpError::BadCommand {
                name: "PING".into(),
                what: "PING context is longer than 16 bytes",
            },
        ),
        (
            command_frame(b"ERROR", b"\x09short"),
            ZmtpError::BadCommand {
                name: "ERROR".into(),
                what: "ERROR reason length does not match the command",
            },
        ),
    ];
    for (wire, expected) in cases {
        assert_eq!(
            decode_all(SocketType::Rep, Limits::default(), wire.clone()),
            Err(expected),
            "{wire:x?}"
        );
    }
    let mut inside = BytesMut::from(&[0x01u8, 0x01, b'a'][..]);
    inside.extend_from_slice(&command_frame(b"PING", &[0, 0]));
    let err = decode_all(SocketType::Rep, Limits::default(), inside).unwrap_err();
    assert_eq!(err, ZmtpError::CommandInsideMessage { name: "PING".into() });
}

#[test]
fn decoder_reports_truncation_and_unfinished_messages_at_eof() {
    let cases: [(&[u8], ZmtpError); 3] = [
        (&[0x00, 0x05, b'a'], ZmtpError::Truncated { needed: 5, got: 1 }),
        (&[0x02, 0, 0], ZmtpError::Truncated { needed: 9, got: 3 }),
        (&[0x01, 0x01, b'a'], ZmtpError::UnfinishedMessage { frames: 1 }),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            decode_all(SocketType::Pull, Limits::default(), BytesMut::from(bytes)),
            Err(expected)
        );
    }
}

#[test]
fn error_texts_name_what_arrived_and_what_was_expected() {
    let texts = [
        ZmtpError::TooLong { len: 1 << 63, max: 100 }.to_string(),
        ZmtpError::SocketTypeMismatch { ours: SocketType::Req, peer: SocketType::Req }.to_string(),
        ZmtpError::UnknownCommand { name: "HELLO".into() }.to_string(),
    ];
    assert_eq!(texts[0], "frame length 9223372036854775808 exceeds the receive limit of 100 bytes");
    assert_eq!(texts[1], "socket type mismatch: we are REQ, the peer is REQ");
    assert_eq!(texts[2], "unknown ZMTP command \"HELLO\"");
}

/// Decodes the next event of `buf` as a message's frames.
fn next_frames(decoder: &mut Decoder, buf: &mut BytesMut) -> Vec<Bytes> {
    match decoder.decode(buf) {
        Ok(Some(Event::Message(frames))) => frames,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn one_frame_messages_reuse_the_recycled_frame_list_and_big_lists_are_let_go() {
    let mut buf = BytesMut::new();
    for body in [&b"one"[..], b"two"] {
        encode_message(&[body], &mut buf);
    }
    let many: Vec<Bytes> = (0..100u8).map(|i| Bytes::copy_from_slice(&[i])).collect();
    encode_message(&many, &mut buf);
    encode_message(&[&b"four"[..]], &mut buf);
    let mut decoder = Decoder::new(SocketType::Pull, Limits::default());
    let mut envelope = Envelope::new(SocketType::Pull, Version::V3_1, false);
    let mut first = next_frames(&mut decoder, &mut buf);
    let list = first.as_ptr();
    assert_eq!(envelope.decode_from(&mut first).expect("a message").body, b"one"[..]);
    assert!(first.is_empty(), "the frame went to the message: {first:?}");
    decoder.recycle(first);
    let mut second = next_frames(&mut decoder, &mut buf);
    assert_eq!(second.as_ptr(), list, "the second message was gathered in the first's list");
    assert_eq!(envelope.decode_from(&mut second).expect("a message").body, b"two"[..]);
    decoder.recycle(second);
    let mut big = next_frames(&mut decoder, &mut buf);
    assert_eq!(big.len(), 100);
    let joined = envelope.decode_from(&mut big).expect("a message").body;
    assert_eq!(crate::socket::multipart::decode(&joined), many);
    assert!(big.capacity() >= 100);
    decoder.recycle(big);
    let last = next_frames(&mut decoder, &mut buf);
    assert_eq!(last, [Bytes::from_static(b"four")]);
    assert!(last.capacity() < 100, "a list grown by 100 frames was kept: {}", last.capacity());
}

/// A body with a payload header declaring `modelled` bytes of padding, and `real` text.
fn modelled_body(modelled: u64, real: &[u8]) -> Vec<u8> {
    use crate::wire::payload::{Payload, PayloadKind};
    let mut body = Payload::new(PayloadKind::Task, 7, modelled).encode().to_vec();
    body.extend_from_slice(real);
    body
}

/// Over real TCP a modelled message's last frame counts its padding, sent as zeros
/// after it (docs/zmtp.md, "Modelled sizes"): a decoder made for real padding keeps
/// the real bytes, drops the zeros as they arrive, holding none of them, hands the
/// message over once the last of them is in (as libzmq, whole), and reads the next
/// message on; one that is not reads the frame whole.
#[test]
fn real_padding_travels_in_the_last_frame_and_is_dropped_as_it_arrives() {
    const PAD: u64 = 100_000;
    let body = modelled_body(PAD, b"job");
    let mut wire = BytesMut::new();
    let padding = encode_message_padded(&[&b"topic"[..], &body[..]], &mut wire);
    assert_eq!(padding, PAD);
    wire.put_slice(&vec![0; PAD as usize]);
    let first_whole = wire.len();
    encode_message(&[b"next"], &mut wire);

    let mut decoder = Decoder::new(SocketType::Sub, Limits::default()).with_real_padding();
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut most_held = 0;
    let mut fed = 0;
    for chunk in wire.chunks(4096) {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        while let Some(event) = decoder.decode(&mut buf).unwrap() {
            assert!(!events.is_empty() || fed >= first_whole, "handed over after {fed} bytes");
            events.push(event);
        }
        most_held = most_held.max(buf.len());
    }
    decoder.finish(&buf).unwrap();
    let expected = vec![
        Event::Message(vec![Bytes::from_static(b"topic"), Bytes::from(body.clone())]),
        Event::Message(vec![Bytes::from_static(b"next")]),
    ];
    assert_eq!(events, expected);
    assert!(most_held <= 4096, "padding is dropped, not held: {most_held} bytes held");

    // Without real padding the frame is its size: the body and every zero.
    let whole = decode_all(SocketType::Sub, Limits::default(), wire.clone()).unwrap();
    let Event::Message(frames) = &whole[0] else { panic!("{whole:?}") };
    assert_eq!(frames[1].len() as u64, body.len() as u64 + PAD);

    // A short frame's padding too, whole in the buffer (the fast path).
    let small = modelled_body(40, b"x");
    let mut wire = BytesMut::new();
    assert_eq!(encode_message_padded(&[&small[..]], &mut wire), 40);
    wire.put_slice(&[0; 40]);
    let mut decoder = Decoder::new(SocketType::Pull, Limits::default()).with_real_padding();
    assert_eq!(decoder.decode_short_body(&mut wire).unwrap(), Some(Bytes::from(small)));
    assert!(wire.is_empty());
}

/// The receive limit judges a padded frame by its size, padding included, as libzmq's
/// `ZMQ_MAXMSGSIZE` would judge the modelled message; a stream that ends in the
/// padding ended mid-message.
#[test]
fn real_padding_counts_against_the_limit_and_a_close_inside_it_is_truncation() {
    let body = modelled_body(5_000, b"big");
    let mut wire = BytesMut::new();
    encode_message_padded(&[&body[..]], &mut wire);
    let limits = Limits { msg_bytes_max: Some(1_000), ..Limits::default() };
    let mut decoder = Decoder::new(SocketType::Pull, limits).with_real_padding();
    let err = decoder.decode(&mut wire.clone()).unwrap_err();
    assert!(matches!(err, ZmtpError::TooLong { max: 1_000, .. }), "{err:?}");

    let mut decoder = Decoder::new(SocketType::Pull, Limits::default()).with_real_padding();
    let mut buf = wire.clone();
    buf.put_slice(&[0; 1_000]);
    assert_eq!(decoder.decode(&mut buf).unwrap(), None, "held until its padding is in");
    let err = decoder.finish(&buf).unwrap_err();
    assert!(matches!(err, ZmtpError::Truncated { needed: 4_000, got: 0 }), "{err:?}");
}

/// In the simulator the padding never travels, but the receive limit counts what the
/// last frame's head declares, as over real TCP: a modelled 5,000-byte message meets a
/// 1,000-byte limit on both backends, and one without a header is judged by its bytes.
#[test]
fn virtual_padding_counts_against_the_limit_as_real_padding_does() {
    let limits = Limits { msg_bytes_max: Some(1_000), ..Limits::default() };
    let mut wire = BytesMut::new();
    encode_message(&[&modelled_body(5_000, b"big")[..]], &mut wire);
    let err = Decoder::new(SocketType::Pull, limits).decode(&mut wire).unwrap_err();
    assert!(matches!(err, ZmtpError::TooLong { len: 5_023, max: 1_000 }), "{err:?}");
    // Long frames take the general path.
    let mut wire = BytesMut::new();
    encode_message(&[&modelled_body(5_000, &[7; 300])[..]], &mut wire);
    let err = Decoder::new(SocketType::Pull, limits).decode(&mut wire).unwrap_err();
    assert!(matches!(err, ZmtpError::TooLong { len: 5_320, max: 1_000 }), "{err:?}");
    let plain = decode_all(SocketType::Pull, limits, {
        let mut wire = BytesMut::new();
        encode_message(&[&[7u8; 900][..]], &mut wire);
        wire
    });
    assert_eq!(plain.map(|events| events.len()), Ok(1));
}
