//! Which pipe a dealing socket's next message goes to, in the order each library
//! keeps its pipes. Two orders, both checked against the real libraries by the
//! conformance rows `zmq-req-joining` and `nng-req-joining`/`nanomsg-req-joining`:
//!
//! - libzmq's `lb_t` (PUSH, DEALER and REQ of `library: zeromq`, and PUSH and DEALER
//!   whose library is not named): an array whose first `active` pipes may be sent
//!   to, and an index `current` into them. A pipe joins at the end of the active
//!   part; a send takes `current` and moves it on, wrapping to the first pipe at
//!   once. A full pipe is swapped past the active part, and swapped back to its end
//!   when it has room again; a pipe that goes is replaced by the last active one. So
//!   after a few joins, drops and full pipes the order is no longer the order the
//!   pipes came in, and a pipe that joins after the turn wrapped waits for the
//!   others (libzmq 4.3's `lb.cpp`).
//! - NNG's and nanomsg's ready list (their REQ): the pipe idle longest goes first; a
//!   pipe sent to goes to the back, and so does one that (re)connects, being a new
//!   pipe there (NNG's `req0` `ready_pipes`, nanomsg's `nn_lb` on `nn_priolist`,
//!   which drops a pipe that took a message until its write is done).
//!
//! Sockets that do not deal (PUB, ROUTER, the receivers, and the SP senders with a
//! send buffer, `send_buffer.rs`) keep [`Deal::Off`] and pay nothing for it.

use smallvec::SmallVec;

use super::PipeId;

/// A dealing socket's pipes: one or two inline, more on the heap.
type Order = SmallVec<[PipeId; 2]>;

/// A socket's dealing order. Kept small: a comet run has a million dealing sockets
/// of one pipe each (`docs/memory.md`), so the pipes of either order sit inline up
/// to two, and the turn is two `u32`s.
#[derive(Debug, Default)]
pub(crate) enum Deal {
    /// Not a dealing socket: nothing to keep.
    #[default]
    Off,
    /// libzmq's `lb_t`.
    Lb(Lb),
    /// NNG's and nanomsg's ready list, idle longest first.
    ReadyList(Order),
}

/// libzmq's `lb_t`: `pipes[..active]` may be sent to, `pipes[current]` is next.
#[derive(Debug, Default)]
pub(crate) struct Lb {
    pipes: Order,
    active: u32,
    current: u32,
}

impl Deal {
    /// libzmq's `lb_t`, with no pipe yet.
    pub(crate) fn libzmq() -> Deal {
        Deal::Lb(Lb::default())
    }

    /// NNG's and nanomsg's ready list, with no pipe yet.
    pub(crate) fn ready_list() -> Deal {
        Deal::ReadyList(Order::new())
    }

    /// `pipe` joins (libzmq's `lb_t::attach`: at the end of the active part).
    pub(crate) fn join(&mut self, pipe: PipeId) {
        match self {
            Deal::Off => {}
            Deal::Lb(lb) => {
                lb.pipes.push(pipe);
                let last = lb.pipes.len() - 1;
                lb.pipes.swap(lb.active as usize, last);
                lb.active += 1;
            }
            Deal::ReadyList(ready) => ready.push(pipe),
        }
    }

    /// `pipe` goes (`lb_t::pipe_terminated`: the last active pipe takes its place,
    /// and the turn goes back to the first if it pointed past the active part).
    pub(crate) fn leave(&mut self, pipe: PipeId) {
        match self {
            Deal::Off => {}
            Deal::Lb(lb) => {
                let Some(mut index) = lb.pipes.iter().position(|p| *p == pipe) else { return };
                if index < lb.active as usize {
                    lb.active -= 1;
                    lb.pipes.swap(index, lb.active as usize);
                    if lb.current == lb.active {
                        lb.current = 0;
                    }
                    index = lb.active as usize;
                }
                lb.pipes.swap_remove(index);
            }
            Deal::ReadyList(ready) => ready.retain(|p| *p != pipe),
        }
    }

    /// `pipe` is a new pipe to the library now (an SP pipe whose connection came up):
    /// it goes to the back of the ready list. libzmq's pipe outlives its connection,
    /// so its place does not change.
    pub(crate) fn rejoin(&mut self, pipe: PipeId) {
        if let Deal::ReadyList(ready) = self
            && let Some(index) = ready.iter().position(|p| *p == pipe)
        {
            ready[index..].rotate_left(1);
        }
    }

    /// `pipe` has room again (`lb_t::activated`): a pipe swapped out of the active
    /// part as full joins its end. A pipe still active is left where it is.
    pub(crate) fn has_room_again(&mut self, pipe: PipeId) {
        let Deal::Lb(lb) = self else { return };
        let active = lb.active as usize;
        if active == lb.pipes.len() {
            return;
        }
        if let Some(index) = lb.pipes[active..].iter().position(|p| *p == pipe) {
            lb.pipes.swap(active + index, active);
            lb.active += 1;
        }
    }

    /// The pipe the next message goes to among those `sendable` says may take it,
    /// moving the turn on; `None` if none may. `Off` takes none.
    ///
    /// `lb_t` tries `current` and swaps each full pipe out of the active part until
    /// one takes the message (`lb_t::sendpipe`); `sendable` is that pipe's room. The
    /// ready list takes the first pipe `sendable` allows and sends it to the back.
    pub(crate) fn next(&mut self, sendable: impl Fn(PipeId) -> bool) -> Option<PipeId> {
        match self {
            Deal::Off => None,
            Deal::Lb(lb) => {
                while lb.active > 0 {
                    let pipe = lb.pipes[lb.current as usize];
                    if sendable(pipe) {
                        lb.current = (lb.current + 1) % lb.active;
                        return Some(pipe);
                    }
                    lb.active -= 1;
                    if lb.current < lb.active {
                        lb.pipes.swap(lb.current as usize, lb.active as usize);
                    } else {
                        lb.current = 0;
                    }
                }
                None
            }
            Deal::ReadyList(ready) => {
                let index = ready.iter().position(|p| sendable(*p))?;
                let pipe = ready[index];
                ready[index..].rotate_left(1);
                Some(pipe)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(pipes: &[PipeId]) -> Deal {
        let mut deal = Deal::Lb(Lb::default());
        pipes.iter().for_each(|p| deal.join(*p));
        deal
    }

    fn deals(deal: &mut Deal, n: usize) -> Vec<PipeId> {
        (0..n).filter_map(|_| deal.next(|_| true)).collect()
    }

    /// The conformance row's experiment: a, b, two sends, c joins, four sends, d
    /// joins, four sends. libzmq deals a,b | a,b,c,a | b,c,d,a; the ready list
    /// a,b | a,b,c,a | b,c,a,d (what pyzmq, pynng and nanomsg gave).
    #[test]
    fn a_pipe_joining_after_the_turn_wrapped_waits_in_libzmq_and_goes_last_in_sp() {
        let (a, b, c, d) = (1, 2, 3, 4);
        for (mut deal, want) in [
            (lb(&[a, b]), [a, b, a, b, c, a, b, c, d, a]),
            (Deal::ReadyList([a, b].into_iter().collect()), [a, b, a, b, c, a, b, c, a, d]),
        ] {
            let mut got = deals(&mut deal, 2);
            deal.join(c);
            got.extend(deals(&mut deal, 4));
            deal.join(d);
            got.extend(deals(&mut deal, 4));
            assert_eq!(got, want, "{deal:?}");
        }
    }

    /// `lb_t` swaps a full pipe with the last active one (which takes its turn) and
    /// back in at the end of the active part when it has room: 1, first of three,
    /// is dealt to after 2 from then on.
    #[test]
    fn libzmq_moves_a_full_pipe_behind_the_others_until_it_has_room() {
        let mut deal = lb(&[1, 2, 3]);
        assert_eq!(deal.next(|p| p != 1), Some(3), "1 is full: 3 takes its place");
        assert_eq!(deals(&mut deal, 2), [2, 3], "1 stays out while full");
        deal.has_room_again(1);
        assert_eq!(deals(&mut deal, 4), [2, 1, 3, 2]);
        assert_eq!(deal.next(|_| false), None, "every pipe full");
        deal.has_room_again(2);
        assert_eq!(deals(&mut deal, 2), [2, 2]);
    }

    /// A pipe that goes is replaced by the last active one, and a turn that pointed
    /// past the active part goes back to the first.
    #[test]
    fn libzmq_fills_a_leaving_pipes_place_with_the_last_active_one() {
        let mut deal = lb(&[1, 2, 3, 4]);
        assert_eq!(deals(&mut deal, 3), [1, 2, 3]);
        deal.leave(2);
        assert_eq!(deals(&mut deal, 4), [1, 4, 3, 1], "4 took 2's place, the turn restarts");
        deal.leave(9);
        assert_eq!(deals(&mut deal, 3), [4, 3, 1], "an unknown pipe changes nothing");
    }

    /// A million comet users each have a dealing socket: the order must not cost
    /// them more than the cursor it replaced did by much, nor an allocation.
    #[test]
    fn a_dealing_order_is_small_and_keeps_two_pipes_inline() {
        assert!(std::mem::size_of::<Deal>() <= 40, "{}", std::mem::size_of::<Deal>());
        let mut deal = Deal::libzmq();
        deal.join(1);
        deal.join(2);
        let Deal::Lb(lb) = &deal else { unreachable!() };
        assert!(!lb.pipes.spilled(), "two pipes stay inline");
    }

    #[test]
    fn the_ready_list_skips_what_may_not_take_it_and_a_reconnected_pipe_goes_last() {
        let mut deal = Deal::ReadyList([1, 2, 3].into_iter().collect());
        assert_eq!(deal.next(|p| p != 1), Some(2));
        deal.rejoin(1);
        assert_eq!(deals(&mut deal, 3), [3, 2, 1]);
        deal.leave(3);
        assert_eq!(deals(&mut deal, 2), [2, 1]);
        assert_eq!(Deal::Off.next(|_| true), None);
    }
}
