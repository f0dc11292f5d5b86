//! BUS (nanomsg/NNG): every message goes to every connected peer, and what the peers
//! send is fair-queued for the application. No header either way.
//!
//! A send copies the message onto every pipe whose connection is up, as NNG's and
//! nanomsg's BUS have a pipe only then (`Pipes::pipe_per_connection`; the conformance
//! rows `nng-bus-dials-early`, `nanomsg-bus-dials-early`); a BUS whose library is not
//! named copies onto every attached pipe, connected or not (`IMMEDIATE=0`). A pipe at
//! its high-water mark drops its copy with `Dropped{Hwm}`,
//! so the send never blocks, as NNG's bus. A BUS mesh needs a pipe between every two
//! nodes: a message is not forwarded beyond the peers it was sent to.
//!
//! NNG's BUS receives into one queue for the whole socket (bus0's
//! `NNG_OPT_RECVBUF`), in arrival order. At a full receive queue it reads on and drops
//! the new message (`bus0_pipe_recv_cb`), so a peer that stops reading costs its
//! senders nothing;
//! nanomsg's stops reading the pipe until the application takes a message, as every
//! other receiving socket does here. `SocketOptions::nng_queues` chooses.
//!
//! Not modelled: NNG's raw BUS, used in devices, leaves out the pipe a forwarded
//! message came in on. patchbay's BUS is the cooked socket only.

use std::time::Duration;

use super::pipes::Pipes;
use super::rep::spill_header;
use super::{Msg, SendError, SocketCore, SocketOptions, SocketType};

#[derive(Debug)]
/// A BUS core: every message to every peer, none back to the one it came from.
pub struct Bus {
    pipes: Pipes,
}

impl Bus {
    /// A BUS core with these options. NNG's receives into one queue for the socket
    /// (bus0's `NNG_OPT_RECVBUF`), reading on at a full queue and refusing the new
    /// message (`Pipes::queue_per_socket`).
    pub fn new(options: SocketOptions) -> Bus {
        let mut pipes = Pipes::new(&options);
        pipes.pipe_per_connection(&options);
        if options.nng_queues {
            pipes.queue_per_socket();
        }
        Bus { pipes }
    }
}

impl SocketCore for Bus {
    fn socket_type(&self) -> SocketType {
        SocketType::Bus
    }

    pipes_in_field!(pipes);

    /// BUS has no header on the wire, so ids the application put on the message are
    /// moved into the body, as a real peer would read them; the `Enqueued` events
    /// then show what goes out.
    fn send(&mut self, mut msg: Msg, _now: Duration) -> Result<(), SendError> {
        spill_header(&mut msg, 0);
        self.pipes.copy_to_attached(&msg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::pipes::testing::{events, ms, msg, opts, transmit_all, up};
    use super::super::{DropReason, PipeId, RecvError, SocketEvent};
    use super::*;

    fn bus(sndhwm: u32, pipes: &[PipeId]) -> Bus {
        let mut bus = Bus::new(opts(sndhwm, 10));
        up(&mut bus, pipes);
        bus
    }

    #[test]
    fn a_send_reaches_every_pipe_once() {
        let mut bus = bus(10, &[1, 2, 3]);
        bus.send(msg(&[], "hello"), ms(0)).unwrap();
        for pipe in [1, 2, 3] {
            assert_eq!(transmit_all(&mut bus, pipe), [(vec![], "hello".into())]);
        }
    }

    #[test]
    fn pipes_still_connecting_get_their_copy_and_detached_ones_do_not() {
        let mut bus = bus(10, &[1, 2]);
        bus.attach(3, ms(0));
        bus.detach(2, ms(0));
        bus.send(msg(&[], "m"), ms(1)).unwrap();
        let enqueued: Vec<_> = events(&mut bus)
            .into_iter()
            .filter_map(|e| match e {
                SocketEvent::Enqueued { pipe, .. } => Some(pipe),
                _ => None,
            })
            .collect();
        assert_eq!(enqueued, [1, 3]);
        bus.set_connected(3, true, ms(2));
        assert_eq!(transmit_all(&mut bus, 3), [(vec![], "m".into())]);
    }

    #[test]
    fn a_full_pipe_drops_its_copy_and_the_send_never_blocks() {
        let mut bus = bus(1, &[1, 2]);
        bus.send(msg(&[], "first"), ms(0)).unwrap();
        transmit_all(&mut bus, 2);
        events(&mut bus);
        assert_eq!(bus.send(msg(&[], "second"), ms(1)), Ok(()));
        let got = events(&mut bus);
        let hwm = SocketEvent::Dropped {
            pipe: Some(1),
            reason: DropReason::Hwm,
            msg: msg(&[], "second"),
        };
        assert!(got.contains(&hwm), "{got:?}");
        assert_eq!(transmit_all(&mut bus, 1), [(vec![], "first".into())]);
        assert_eq!(transmit_all(&mut bus, 2), [(vec![], "second".into())]);
    }

    #[test]
    fn without_pipes_a_send_goes_nowhere_and_succeeds() {
        let mut bus = bus(10, &[]);
        assert_eq!(bus.send(msg(&[], "m"), ms(0)), Ok(()));
        assert_eq!(events(&mut bus), []);
    }

    #[test]
    fn receives_fair_queued_across_pipes() {
        let mut bus = bus(10, &[1, 2]);
        for (pipe, body) in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1")] {
            bus.on_message(pipe, msg(&[], body), ms(0));
        }
        let got: Vec<_> = std::iter::from_fn(|| bus.recv(ms(0)).ok()).map(|m| m.body).collect();
        assert_eq!(got, ["a1", "b1", "a2", "a3"]);
        assert_eq!(bus.recv(ms(0)), Err(RecvError::WouldBlock));
    }

    #[test]
    fn at_a_full_queue_nngs_bus_reads_on_and_drops_the_new_message_where_nanomsgs_stops() {
        let mut reads_on = Bus::new(SocketOptions { nng_queues: true, ..opts(10, 2) });
        let mut stops = Bus::new(SocketOptions { nng_queues: false, ..opts(10, 2) });
        up(&mut reads_on, &[1]);
        up(&mut stops, &[1]);
        for core in [&mut reads_on, &mut stops] {
            core.on_message(1, msg(&[], "m1"), ms(0));
            core.on_message(1, msg(&[], "m2"), ms(0));
            events(core);
        }
        assert!(!stops.can_receive(1), "nanomsg's BUS stops reading a full pipe");
        assert!(reads_on.can_receive(1), "NNG's BUS reads on");
        reads_on.on_message(1, msg(&[], "m3"), ms(1));
        let hwm =
            SocketEvent::Dropped { pipe: Some(1), reason: DropReason::Hwm, msg: msg(&[], "m3") };
        assert_eq!(events(&mut reads_on), [hwm]);
        let got: Vec<_> =
            std::iter::from_fn(|| reads_on.recv(ms(2)).ok()).map(|m| m.body).collect();
        assert_eq!(got, ["m1", "m2"], "the queue kept the first two");
    }

    #[test]
    fn application_ids_travel_in_the_body() {
        let mut bus = bus(10, &[1]);
        bus.send(msg(&[0x0102_0304], "x"), ms(0)).unwrap();
        let sent = bus.poll_transmit(1, ms(0)).unwrap();
        assert!(sent.header.is_empty());
        assert_eq!(&sent.body[..], b"\x01\x02\x03\x04x");
    }

    /// NNG's and nanomsg's BUS has a pipe to a peer only while connected: a peer
    /// still being dialled gets nothing sent meanwhile, and one that reconnects gets
    /// nothing the old connection held (conformance rows `nng-bus-dials-early`,
    /// `nanomsg-bus-dials-early`). One whose library is not named queues for it.
    #[test]
    fn an_sp_bus_sends_only_to_peers_whose_connection_is_up() {
        use super::super::pipes::testing::per_connection;
        let mut bus = Bus::new(per_connection(10, 10));
        up(&mut bus, &[1]);
        bus.attach(2, ms(0));
        bus.send(msg(&[], "early"), ms(1)).unwrap();
        bus.set_connected(2, true, ms(2));
        bus.send(msg(&[], "after"), ms(3)).unwrap();
        assert_eq!(transmit_all(&mut bus, 2), [(vec![], "after".into())]);
        assert_eq!(transmit_all(&mut bus, 1).len(), 2);
        bus.send(msg(&[], "held"), ms(4)).unwrap();
        bus.set_connected(2, false, ms(5));
        bus.set_connected(2, true, ms(6));
        assert_eq!(transmit_all(&mut bus, 2), []);
        let closed = SocketEvent::Dropped {
            pipe: Some(2),
            reason: DropReason::PipeClosed,
            msg: msg(&[], "held"),
        };
        assert!(events(&mut bus).contains(&closed));
    }
}
