//! The messaging library a socket stands for: libzmq, NNG or nanomsg.
//!
//! A topology names it with `library:` at the top, on a node or on a socket (the
//! nearest wins). It decides which socket types exist, what each is called, which
//! options apply and what they default to (docs/library-semantics.md holds the
//! table and where each fact comes from), and which wire a socket speaks: libzmq's
//! ZMTP or the SP protocol nanomsg and NNG share. A socket whose library is not
//! named keeps patchbay's per-type defaults (libzmq's for ZeroMQ's types, nanomsg's
//! for SURVEYOR, RESPONDENT and BUS), and `check --explain` says it was not named.

use crate::socket::SocketType;

/// A library patchbay models, at the version its facts were taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Library {
    /// libzmq (ZMTP 3.1 on the wire).
    ZeroMq,
    /// NNG (SP over TCP on the wire).
    Nng,
    /// nanomsg (SP over TCP on the wire).
    Nanomsg,
}

/// The bytes a library's sockets put on a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// ZeroMQ's ZMTP: a greeting, a handshake, frames.
    Zmtp,
    /// The scalability protocols' 8-byte header then length-prefixed messages.
    Sp,
}

impl Library {
    /// Every library, in the order files and tables list them.
    pub const ALL: [Library; 3] = [Library::ZeroMq, Library::Nng, Library::Nanomsg];

    /// The name written in topology files.
    pub fn name(self) -> &'static str {
        match self {
            Library::ZeroMq => "zeromq",
            Library::Nng => "nng",
            Library::Nanomsg => "nanomsg",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Library> {
        Library::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The release whose behaviour the defaults follow.
    pub fn version(self) -> &'static str {
        match self {
            Library::ZeroMq => "libzmq 4.3.5",
            Library::Nng => "NNG 1.11",
            Library::Nanomsg => "nanomsg 1.2",
        }
    }

    /// The wire protocol the library speaks.
    pub fn wire(self) -> Wire {
        match self {
            Library::ZeroMq => Wire::Zmtp,
            Library::Nng | Library::Nanomsg => Wire::Sp,
        }
    }

    /// Whether the library has this socket type at all. libzmq has no survey or bus
    /// pattern; nanomsg and NNG have every type patchbay models (DEALER, ROUTER,
    /// XPUB and XSUB as raw sockets, see [`Library::type_name`]).
    pub fn has(self, socket_type: SocketType) -> bool {
        use SocketType::*;
        match self {
            Library::ZeroMq => !matches!(socket_type, Surveyor | Respondent | Bus),
            Library::Nng | Library::Nanomsg => true,
        }
    }

    /// What the library calls the socket, where that differs from patchbay's name.
    pub fn type_name(self, socket_type: SocketType) -> Option<&'static str> {
        use SocketType::*;
        match (self, socket_type) {
            (Library::Nng, Dealer) => Some("raw REQ (nng_req0_open_raw)"),
            (Library::Nng, Router) => Some("raw REP (nng_rep0_open_raw)"),
            (Library::Nng, XPub) => Some("raw PUB (nng_pub0_open_raw)"),
            (Library::Nng, XSub) => Some("raw SUB (nng_sub0_open_raw)"),
            (Library::Nanomsg, Dealer) => Some("XREQ (AF_SP_RAW, NN_REQ)"),
            (Library::Nanomsg, Router) => Some("XREP (AF_SP_RAW, NN_REP)"),
            (Library::Nanomsg, XPub) => Some("raw PUB (AF_SP_RAW, NN_PUB)"),
            (Library::Nanomsg, XSub) => Some("raw SUB (AF_SP_RAW, NN_SUB)"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Wire::Zmtp => "ZMTP",
            Wire::Sp => "SP",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_only_zeromq_lacks_the_nanomsg_patterns() {
        for l in Library::ALL {
            assert_eq!(Library::from_name(l.name()), Some(l));
        }
        assert_eq!(Library::from_name("zmq"), None);
        assert!(!Library::ZeroMq.has(SocketType::Surveyor));
        assert!(!Library::ZeroMq.has(SocketType::Bus));
        assert!(Library::Nng.has(SocketType::Respondent));
        assert!(Library::Nanomsg.has(SocketType::Router));
        assert_eq!(Library::Nng.wire(), Library::Nanomsg.wire());
        assert_ne!(Library::Nng.wire(), Library::ZeroMq.wire());
    }
}
