//! Thread-local spare lists for the simulated network's per-write containers.
//!
//! A busy connection empties its receive state, its chunk queue and its arrival queue
//! after nearly every write it reads; without spares each write cost an allocation
//! and a free at its reading end. The shim and the trunk keep what was emptied in a
//! bounded list of this thread's and take from it first. A quiet connection holds no
//! spare, so the memory a connection costs does not change; the lists are bounded,
//! so neither does a thread's by more than a few hundred small buffers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::thread::LocalKey;

/// A thread's spare list of `T`s, declared by its user with `thread_local!`.
pub(super) type Spares<T> = RefCell<Vec<T>>;

/// How many spares of one kind a thread keeps.
pub(super) const SPARES_MAX: usize = 64;
/// The most items a spare queue keeps room for: a larger one is freed.
pub(super) const SPARE_QUEUE_ROOM_MAX: usize = 16;

/// A spare from `list` if there is one, else a new `T`.
pub(super) fn take<T: Default>(list: &'static LocalKey<Spares<T>>) -> T {
    let spare = list.try_with(|spares| spares.borrow_mut().pop()).ok().flatten();
    spare.unwrap_or_default()
}

/// Keeps `item` in `list`, or frees it when there are enough spares. The caller
/// resets it first, so that a spare taken later behaves exactly as a new one.
pub(super) fn keep<T>(list: &'static LocalKey<Spares<T>>, item: T) {
    // During the thread's teardown the list may be gone already: then it is freed.
    let _ = list.try_with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARES_MAX {
            spares.push(item);
        }
    });
}

/// Keeps an emptied queue's room in `list`, unless it has none or grew large.
pub(super) fn keep_queue<T>(list: &'static LocalKey<Spares<VecDeque<T>>>, queue: VecDeque<T>) {
    debug_assert!(queue.is_empty());
    if queue.capacity() == 0 || queue.capacity() > SPARE_QUEUE_ROOM_MAX {
        return;
    }
    keep(list, queue);
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static QUEUES: Spares<VecDeque<u32>> = const { RefCell::new(Vec::new()) };
    }

    /// A kept queue comes back with its room; one with no room or too much is not
    /// kept, and the list stops at its bound.
    #[test]
    fn a_kept_queue_comes_back_with_its_room_and_the_list_is_bounded() {
        let mut queue = VecDeque::with_capacity(8);
        queue.push_back(1);
        queue.clear();
        let room = queue.capacity();
        keep_queue(&QUEUES, queue);
        assert_eq!(take(&QUEUES).capacity(), room, "the spare's room is reused");
        assert_eq!(take(&QUEUES).capacity(), 0, "none left: a new queue");

        keep_queue(&QUEUES, VecDeque::new());
        keep_queue(&QUEUES, VecDeque::with_capacity(SPARE_QUEUE_ROOM_MAX * 4));
        assert_eq!(QUEUES.with(|q| q.borrow().len()), 0, "no room, or too much: freed");

        for _ in 0..SPARES_MAX + 5 {
            keep_queue(&QUEUES, VecDeque::with_capacity(4));
        }
        assert_eq!(QUEUES.with(|q| q.borrow().len()), SPARES_MAX);
    }
}
