//! Modelled sizes on the wire: a message that stands for N bytes is N bytes long.
//!
//! Built-in designs model large payloads instead of allocating them: a body starts
//! with the 20-byte payload header (`wire/payload.rs`), which declares a modelled
//! size M. On the wire such a message is its R real bytes (routing ids, header,
//! whatever follows) and then M bytes of zero padding, so its SP length prefix says
//! R + M, as the same message would in nanomsg or NNG. A receiver checks that length
//! against its receive limit before it reads anything else, so a 100 MB job meets a
//! 1 MiB `rcvmaxsize` as it would in the real libraries.
//!
//! The padding is [`Padding::Real`] over real TCP: the writer sends M zero bytes
//! (from a static buffer, never allocated) so that a real peer gets a well-formed
//! message of the modelled length, and the reader drops them as they arrive. In the
//! simulator it is [`Padding::Virtual`]: the M bytes never travel, the shim counts
//! them against bandwidth and its buffer (`run/meter.rs`), and the reader, having
//! checked the prefix, takes the R real bytes as the whole message.
//!
//! Either way a reader must learn R from the stream alone. [`real_len`] does that
//! from a message's first bytes: the first payload header wholly inside the first
//! [`HEAD_MAX`] bytes (which covers routing ids and a multipart's topic frame)
//! declares M, and R is the prefix's length minus M. A message without a header (a
//! real NNG peer's), or whose header declares more than the message can hold, is all
//! real bytes. The writer finds M by the same rule over the same bytes, so both ends
//! always agree.

use crate::wire::payload::{HEADER_LEN, MAGIC_FIRST, Payload};

/// How far into a message the payload header is looked for.
pub const HEAD_MAX: usize = 96;

/// How a modelled message's padding travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// As real zero bytes after the message's real ones (real TCP).
    #[default]
    Real,
    /// Not at all: both ends account for it (the simulator's shim).
    Virtual,
}

/// The modelled size the first payload header in `head` declares, and where that
/// header ends, when one lies wholly inside `head` and its first [`HEAD_MAX`] bytes.
///
/// Every message sent and received asks this, over real TCP and in the simulator's
/// shim alike. A header can only start where the magic's first byte is, and `memchr`
/// finds those bytes: peeking at each of a 64-byte message's 45 offsets instead made
/// this and the ZMTP encoder the top two of PUSH/PULL's profile (docs/peers.md).
fn first_header(head: &[u8]) -> Option<(usize, u64)> {
    let head = &head[..head.len().min(HEAD_MAX)];
    let last_start = head.len().checked_sub(HEADER_LEN)?;
    memchr::memchr_iter(MAGIC_FIRST, &head[..=last_start])
        .find_map(|at| Payload::peek(&head[at..]).map(|(_, _, len)| (at + HEADER_LEN, len)))
}

/// The padding a message whose real bytes start with `head` carries: what its first
/// payload header declares, or 0. `head` holds at least the message's first
/// [`HEAD_MAX`] bytes, or all of them.
pub(crate) fn padding_of(head: &[u8]) -> u64 {
    first_header(head).map_or(0, |(_, len)| len)
}

/// How many of a message's `len` bytes are real, judged from `head`, its first bytes
/// so far; `None` until enough of them have arrived to say.
pub fn real_len(len: u64, head: &[u8]) -> Option<u64> {
    let decisive = (HEAD_MAX as u64).min(len) as usize;
    let head = &head[..head.len().min(decisive)];
    match first_header(head) {
        // A header declaring more than fits after it is not ours: all real bytes.
        Some((end, padding)) if padding <= len - end as u64 => Some(len - padding),
        Some(_) => Some(len),
        None if head.len() >= decisive => Some(len),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::payload::PayloadKind;

    #[test]
    fn a_header_at_any_offset_inside_the_head_declares_the_padding() {
        let mut routed = vec![0, 0, 0, 7, 0x80, 0, 0, 2];
        routed.extend(Payload::new(PayloadKind::Job, 3, 5_000_000).encode());
        assert_eq!(padding_of(&routed), 5_000_000);
        let len = routed.len() as u64 + 5_000_000;
        assert_eq!(real_len(len, &routed), Some(routed.len() as u64));
        // One byte short of the header is not enough to decide.
        assert_eq!(real_len(len, &routed[..routed.len() - 1]), None);
    }

    #[test]
    fn foreign_and_inconsistent_messages_are_all_real_bytes() {
        let foreign = b"hello from nng".to_vec();
        assert_eq!(padding_of(&foreign), 0);
        assert_eq!(real_len(14, &foreign), Some(14));
        assert_eq!(real_len(500, &foreign), None, "a longer message may still hold a header");
        assert_eq!(real_len(500, &[b'x'; HEAD_MAX]), Some(500));
        // A header that claims more than the message holds is taken as plain data.
        let greedy = Payload::new(PayloadKind::Job, 3, 1 << 40).encode();
        assert_eq!(real_len(1000, &greedy), Some(1000));
        // A header beyond the first HEAD_MAX bytes is not looked for.
        let mut late = vec![0u8; HEAD_MAX];
        late.extend(Payload::new(PayloadKind::Job, 3, 10).encode());
        assert_eq!(padding_of(&late), 0);
    }

    #[test]
    fn decoys_before_a_header_are_passed_over_and_the_last_offset_is_searched() {
        let header = Payload::new(PayloadKind::Job, 3, 77).encode();
        // A lone `P`, `PB` without the `1`, and the magic with a kind no payload has.
        let mut head = b"xPyPBzPB1".to_vec();
        head.push(0xee);
        head.extend([0; 16]);
        // The real header ends exactly at HEAD_MAX: the last place one can start.
        head.resize(HEAD_MAX - HEADER_LEN, b'P');
        head.extend_from_slice(&header);
        assert_eq!(head.len(), HEAD_MAX);
        assert_eq!(padding_of(&head), 77);
        assert_eq!(first_header(&head), Some((HEAD_MAX, 77)));
        // One byte later it straddles HEAD_MAX and is not looked for.
        head.insert(0, b'P');
        assert_eq!(padding_of(&head), 0);
    }

    proptest::proptest! {
        /// The search finds what peeking at every offset finds, on bytes salted with
        /// the magic's pieces and whole headers.
        #[test]
        fn the_search_finds_what_peeking_at_every_offset_finds(
            pieces in proptest::collection::vec(0usize..6, 0..40),
        ) {
            let header = Payload::new(PayloadKind::Reply, 9, 1234).encode();
            let mut head = Vec::new();
            for piece in pieces {
                match piece {
                    0 => head.push(b'P'),
                    1 => head.extend_from_slice(b"PB"),
                    2 => head.extend_from_slice(b"PB1"),
                    3 => head.extend_from_slice(&header),
                    4 => head.extend_from_slice(&header[..7]),
                    _ => head.push(0),
                }
            }
            let head = &head[..head.len().min(HEAD_MAX)];
            let every_offset = (0..=head.len().saturating_sub(HEADER_LEN)).find_map(|at| {
                Payload::peek(&head[at..]).map(|(_, _, len)| (at + HEADER_LEN, len))
            });
            proptest::prop_assert_eq!(first_header(head), every_offset);
        }
    }
}
