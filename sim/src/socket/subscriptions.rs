//! Subscription prefixes and the messages that carry them, shared by the publishing
//! (PUB, XPUB) and subscribing (SUB, XSUB) cores.
//!
//! ZeroMQ's wire form is used both ways: a message whose body is `0x01` followed by a
//! prefix subscribes to that prefix, `0x00` followed by a prefix cancels it
//! (docs/library-semantics.md, "Routing"). Matching is on the first frame of a message
//! (see `multipart.rs`): a prefix must not run on into the second frame, which a plain
//! `body.starts_with` would allow.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

use super::multipart;

const SUBSCRIBE: u8 = 0x01;
const CANCEL: u8 = 0x00;

/// A subscription message read from a body: `on` is true to subscribe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub on: bool,
    pub prefix: Bytes,
}

/// Reads a subscription message, or `None` when the body is anything else.
pub(crate) fn parse_command(body: &Bytes) -> Option<Command> {
    let on = match *body.first()? {
        SUBSCRIBE => true,
        CANCEL => false,
        _ => return None,
    };
    Some(Command { on, prefix: body.slice(1..) })
}

/// The body that (un)subscribes `prefix`.
pub(crate) fn command_body(on: bool, prefix: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(prefix.len() + 1);
    out.put_u8(if on { SUBSCRIBE } else { CANCEL });
    out.put_slice(prefix);
    out.freeze()
}

/// The bytes a subscription is matched against: the first frame of a multipart body,
/// or the whole body when it is a single frame.
pub fn topic(body: &Bytes) -> Bytes {
    multipart::decode(body).into_iter().next().unwrap_or_default()
}

/// Whether any of `prefixes` starts `topic`. The empty prefix matches everything.
pub(crate) fn any_matches<'a>(mut prefixes: impl Iterator<Item = &'a Bytes>, topic: &[u8]) -> bool {
    prefixes.any(|p| topic.starts_with(p))
}

/// A subscriber's own prefixes, counted: subscribing twice needs two cancels, as
/// libzmq's XSUB trie and nanomsg's SUB trie count them. NNG's SUB keeps a set
/// instead ([`Prefixes::set`]): `sub0_ctx_subscribe` does nothing for a topic it
/// holds already, so one cancel removes a prefix however often it was subscribed.
#[derive(Debug, Default)]
pub struct Prefixes {
    counts: BTreeMap<Bytes, u32>,
    /// NNG's set semantics: a prefix is held once, whatever the count of subscribes.
    set: bool,
}

impl Prefixes {
    /// Prefixes held as a set, as NNG's SUB holds its topics.
    pub fn set() -> Prefixes {
        Prefixes { set: true, ..Prefixes::default() }
    }

    /// Counts one more subscription to `prefix` (as a set: holds it); true when it
    /// was not held before.
    pub fn add(&mut self, prefix: Bytes) -> bool {
        let count = self.counts.entry(prefix).or_insert(0);
        if self.set && *count > 0 {
            return false;
        }
        *count += 1;
        *count == 1
    }

    /// Counts one subscription to `prefix` fewer; true when that was the last one
    /// (always, as a set). Cancelling a prefix that is not held changes nothing.
    pub fn remove(&mut self, prefix: &Bytes) -> bool {
        let Some(count) = self.counts.get_mut(prefix) else { return false };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.counts.remove(prefix);
        true
    }

    /// Whether the message body's topic matches a held prefix.
    pub fn matches(&self, body: &Bytes) -> bool {
        any_matches(self.counts.keys(), &topic(body))
    }

    /// Every held prefix once, in byte order.
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.counts.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_other_bodies_are_not_commands() {
        let sub = command_body(true, b"news");
        assert_eq!(parse_command(&sub), Some(Command { on: true, prefix: "news".into() }));
        let cancel = command_body(false, b"");
        assert_eq!(parse_command(&cancel), Some(Command { on: false, prefix: Bytes::new() }));
        assert_eq!(parse_command(&Bytes::from_static(b"PB1x")), None);
        assert_eq!(parse_command(&Bytes::new()), None);
    }

    #[test]
    fn prefixes_are_counted_and_match_the_first_frame_only() {
        let mut p = Prefixes::default();
        assert!(p.add("AB".into()));
        assert!(!p.add("AB".into()));
        let two_frames = multipart::encode(&["A".into(), "Bxyz".into()]);
        assert!(two_frames.starts_with(b"AB"));
        assert!(!p.matches(&two_frames), "the prefix ran into the second frame");
        assert!(p.matches(&Bytes::from_static(b"ABC")));
        assert!(!p.remove(&"AB".into()));
        assert!(p.remove(&"AB".into()));
        assert!(!p.remove(&"AB".into()));
        assert!(!p.matches(&Bytes::from_static(b"ABC")));
        p.add(Bytes::new());
        assert!(p.matches(&two_frames));
    }

    /// NNG's SUB holds a topic once: subscribing "a" twice and cancelling it once
    /// leaves nothing (`sub0_ctx_subscribe` returns early for a topic it has), where
    /// libzmq and nanomsg still hold it (the `sub-double-subscribe` rows).
    #[test]
    fn as_a_set_one_cancel_removes_a_prefix_subscribed_twice() {
        let mut set = Prefixes::set();
        assert!(set.add("a".into()));
        assert!(!set.add("a".into()), "held already: nothing changes");
        assert!(set.remove(&"a".into()), "the one cancel removes it");
        assert!(!set.matches(&Bytes::from_static(b"a-1")));
        assert!(!set.remove(&"a".into()));
        assert!(set.add("a".into()), "and it can be subscribed again");
        assert!(set.matches(&Bytes::from_static(b"a-1")));
    }
}
