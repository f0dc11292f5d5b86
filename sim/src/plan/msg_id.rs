//! A message id's bit layout, in one place: what `NodeCtx::next_msg_id` packs, what
//! checkers unpack, what the resolver bounds topologies by, and how a person reads one.
//!
//! An id is 64 bits: the group (the topology's node index) in the top 12, a replica
//! field of 24, the incarnation (restarts before this one) in 8, and a counter in the
//! low 20 that grows in the order the incarnation made its messages:
//!
//! ```text
//!  63      52 51                       28 27         20 19                 0
//! [  group   ][ counter's high | index   ][ incarnation ][ counter's low 20  ]
//! ```
//!
//! Each group shares its replica field between the replica's index and the counter
//! ([`MsgIdLayout`]): the index takes the field's low `max(12, ceil(log2 count))` bits
//! (12 for a node of 10 replicas, 20 for comet's million subscribers), and a counter
//! that outgrows its own 20 bits carries its high bits in the field's bits above the
//! index. A counter below 2^20 carries nothing, so such an id is the same in every
//! layout, and the same as before counters could carry: [`MsgOrigin::pack`] and
//! [`MsgOrigin::of`] make and read those without the topology. Reading any id of a
//! run takes the run's topology: [`MsgOrigin::decode`], [`msg_label`].
//!
//! A field that would not fit makes ids collide, so the resolver refuses a topology
//! with more than [`MAX_GROUPS`] nodes, [`MAX_REPLICAS`] bounds a node's `count`, and
//! an incarnation makes at most its group's [`MsgIdLayout::max_counter`] ids: 2^32 at
//! a node of up to 4,096 replicas, half as many for each doubling of the count beyond
//! that, down to [`MAX_COUNTER`] (2^20) past 2^23 replicas (2^24 at a million). The
//! id after the last ends the run with an error naming the replica and the limit
//! (`NodeCtx::next_msg_id`), never with an id made twice.
//!
//! People read ids as `client.3#7` (group name, replica, counter), with the
//! incarnation after a `~` when the replica has restarted (`client.3~1#7`).

use super::{GroupId, Replica, TopologyPlan};

/// A message id assigned by the design that created the message, carried in its
/// payload through every hop. Its bit layout is [`MsgOrigin`]'s, with the counter
/// shared as its group's [`MsgIdLayout`] says; people read it through [`msg_label`].
pub type MsgId = u64;

const GROUP_BITS: u32 = 12;
const REPLICA_BITS: u32 = 24;
const INCARNATION_BITS: u32 = 8;
const COUNTER_BITS: u32 = 20;
const COUNTER_SHIFT: u32 = 0;
const INCARNATION_SHIFT: u32 = COUNTER_SHIFT + COUNTER_BITS;
const REPLICA_SHIFT: u32 = INCARNATION_SHIFT + INCARNATION_BITS;
const GROUP_SHIFT: u32 = REPLICA_SHIFT + REPLICA_BITS;
const _: () = assert!(GROUP_SHIFT + GROUP_BITS == 64, "the fields fill the id exactly");
/// The fewest bits of the replica field an index takes. A counter is a `u32`, so it
/// carries at most 32 - 20 = 12 bits into the field, and a shorter index would leave
/// bits that nothing uses; keeping 12 also reads a made-up index below 4,096 (a
/// hand-built trace's) as it was written, whatever the group's count.
const MIN_INDEX_BITS: u32 = COUNTER_BITS + REPLICA_BITS - u32::BITS;

/// How many nodes (groups) a topology may have: group ids `0..MAX_GROUPS` fit.
pub const MAX_GROUPS: u64 = 1 << GROUP_BITS;
/// How many replicas one node may have.
pub const MAX_REPLICAS: u64 = 1 << REPLICA_BITS;
/// How many restarts an id tells apart; later incarnations wrap and share ids with
/// earlier ones (their counters start over too), which only `per_pipe_order` reads.
pub const MAX_INCARNATIONS: u64 = 1 << INCARNATION_BITS;
/// How many ids one incarnation may make in every topology: the counter's own 20
/// bits. A group's own limit, [`MsgIdLayout::max_counter`], is at least this (and
/// above it for a node of at most 2^23 replicas); ids with a counter below it are the
/// same in every layout.
pub const MAX_COUNTER: u64 = 1 << COUNTER_BITS;

/// `bits` low bits set.
const fn mask(bits: u32) -> u64 {
    (1 << bits) - 1
}

/// How one group's ids share the replica field between the replica's index and the
/// counter's high bits (module docs). It follows from the group's `count` alone, so a
/// run's designs and every reader of its trace agree on it: [`MsgIdLayout::of_group`]
/// with the run's topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsgIdLayout {
    /// Low bits of the replica field the index takes, 12 to 24; the counter carries
    /// its bits past the 20th in the rest.
    index_bits: u8,
}

impl MsgIdLayout {
    /// The whole replica field for the index and a counter of 20 bits, below
    /// [`MAX_COUNTER`]: a group of more than 2^23 replicas has it, [`MsgOrigin::pack`]
    /// and [`MsgOrigin::of`] use it, and so does a `NodeCtx` no backend gave a layout.
    pub const WHOLE_FIELD: MsgIdLayout = MsgIdLayout { index_bits: REPLICA_BITS as u8 };

    /// The layout of a group of `count` replicas: its indices `0..count` take
    /// `ceil(log2 count)` bits, at least 12 and at most 24 (a count past
    /// [`MAX_REPLICAS`], which the resolver refuses, gets 24 and would share ids).
    pub const fn for_count(count: u32) -> MsgIdLayout {
        let needed = u32::BITS - count.saturating_sub(1).leading_zeros();
        let bits = if needed < MIN_INDEX_BITS {
            MIN_INDEX_BITS
        } else if needed > REPLICA_BITS {
            REPLICA_BITS
        } else {
            needed
        };
        MsgIdLayout { index_bits: bits as u8 }
    }

    /// The layout of `group`'s ids in `topology` (from its `count`);
    /// [`MsgIdLayout::WHOLE_FIELD`] for a group the topology does not have, which only
    /// hand-built traces name.
    pub fn of_group(topology: &TopologyPlan, group: GroupId) -> MsgIdLayout {
        let count = topology.groups.get(group.0 as usize).map(|g| g.count);
        count.map_or(MsgIdLayout::WHOLE_FIELD, MsgIdLayout::for_count)
    }

    /// How many ids one incarnation of a replica may make: 2^(44 - index bits), from
    /// 2^20 ([`MAX_COUNTER`]) to 2^32.
    pub const fn max_counter(self) -> u64 {
        1 << (COUNTER_BITS + REPLICA_BITS - self.index_bits as u32)
    }

    /// The id `origin` packs to, or `None` when a field has no room for it: a counter
    /// from [`MsgIdLayout::max_counter`] on, an index past the layout's bits, a group
    /// from [`MAX_GROUPS`] on (in a run, `next_msg_id` bounds the counter and the
    /// resolver the rest). An incarnation past the limit wraps (see
    /// [`MAX_INCARNATIONS`]).
    pub fn pack(self, origin: MsgOrigin) -> Option<MsgId> {
        let index_bits = u32::from(self.index_bits);
        let (group, index) = (u64::from(origin.node.group.0), u64::from(origin.node.index));
        let counter = u64::from(origin.counter);
        if counter >= self.max_counter() || index > mask(index_bits) || group >= MAX_GROUPS {
            return None;
        }
        let replica_field = index | (counter >> COUNTER_BITS) << index_bits;
        let incarnation = u64::from(origin.incarnation) & mask(INCARNATION_BITS);
        Some(
            group << GROUP_SHIFT
                | replica_field << REPLICA_SHIFT
                | incarnation << INCARNATION_SHIFT
                | (counter & mask(COUNTER_BITS)) << COUNTER_SHIFT,
        )
    }

    /// Unpacks an id packed in this layout.
    pub fn unpack(self, id: MsgId) -> MsgOrigin {
        let index_bits = u32::from(self.index_bits);
        let field = |shift: u32, bits: u32| (id >> shift) & mask(bits);
        let replica_field = field(REPLICA_SHIFT, REPLICA_BITS);
        let carried = replica_field >> index_bits;
        MsgOrigin {
            node: Replica {
                group: GroupId(field(GROUP_SHIFT, GROUP_BITS) as u32),
                index: (replica_field & mask(index_bits)) as u32,
            },
            incarnation: field(INCARNATION_SHIFT, INCARNATION_BITS) as u32,
            counter: (carried << COUNTER_BITS | field(COUNTER_SHIFT, COUNTER_BITS)) as u32,
        }
    }
}

/// Where a message id says it was made, and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MsgOrigin {
    /// The replica that made it.
    pub node: Replica,
    /// Which incarnation of that replica (0 before any restart).
    pub incarnation: u32,
    /// Its place in that incarnation's ids, from 0 (below its group's
    /// [`MsgIdLayout::max_counter`]).
    pub counter: u32,
}

impl MsgOrigin {
    /// The id this origin packs to when its counter is below [`MAX_COUNTER`]: the same
    /// in every group's layout. A larger counter needs the group's
    /// ([`MsgIdLayout::pack`]). The resolver bounds groups and replicas; an
    /// incarnation past the limit wraps (see [`MAX_INCARNATIONS`]).
    pub fn pack(self) -> MsgId {
        debug_assert!(u64::from(self.node.group.0) < MAX_GROUPS, "resolver bounds groups");
        debug_assert!(u64::from(self.node.index) < MAX_REPLICAS, "resolver bounds replicas");
        debug_assert!(u64::from(self.counter) < MAX_COUNTER, "a larger counter needs a layout");
        let field = |v: u32, bits: u32, shift: u32| (u64::from(v) & mask(bits)) << shift;
        field(self.node.group.0, GROUP_BITS, GROUP_SHIFT)
            | field(self.node.index, REPLICA_BITS, REPLICA_SHIFT)
            | field(self.incarnation, INCARNATION_BITS, INCARNATION_SHIFT)
            | field(self.counter, COUNTER_BITS, COUNTER_SHIFT)
    }

    /// Unpacks an id made by [`MsgOrigin::pack`]: right for every id whose counter is
    /// below [`MAX_COUNTER`], in any topology. An id of a run may have a larger one,
    /// which only its topology reads: [`MsgOrigin::decode`].
    pub fn of(id: MsgId) -> MsgOrigin {
        MsgIdLayout::WHOLE_FIELD.unpack(id)
    }

    /// Where any id of a run of `topology` was made: the id read in its group's layout
    /// ([`MsgIdLayout::of_group`]). What checkers and reports use (`decode(&input.plan
    /// .topology, id)` in an invariant).
    pub fn decode(topology: &TopologyPlan, id: MsgId) -> MsgOrigin {
        let group = GroupId((id >> GROUP_SHIFT) as u32);
        MsgIdLayout::of_group(topology, group).unpack(id)
    }
}

/// How a person reads `id`: `client.3#7`, or `client.3~1#7` for a restarted replica's
/// (group `group#N` if the topology has no such group, which only hand-built traces do).
pub fn msg_label(topology: &TopologyPlan, id: MsgId) -> String {
    let o = MsgOrigin::decode(topology, id);
    let group = match topology.groups.get(o.node.group.0 as usize) {
        Some(g) => g.name.clone(),
        None => format!("group#{}", o.node.group.0),
    };
    label_at(&format!("{group}.{}", o.node.index), &o)
}

/// `client.3~1#7`: an id made by the replica named `replica` (`client.3`), as
/// [`msg_label`] spells it; the `~1` only when a restarted incarnation made it.
pub(crate) fn label_at(replica: &str, o: &MsgOrigin) -> String {
    match o.incarnation {
        0 => format!("{replica}#{}", o.counter),
        n => format!("{replica}~{n}#{}", o.counter),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn origin(group: u32, index: u32, incarnation: u32, counter: u32) -> MsgOrigin {
        MsgOrigin { node: Replica { group: GroupId(group), index }, incarnation, counter }
    }

    /// The layout of every group count a topology may have, and counts at each edge.
    fn layouts() -> Vec<(u32, MsgIdLayout)> {
        let counts =
            [1, 2, 10, 4_096, 4_097, 70_000, 1_000_000, 1 << 23, (1 << 23) + 1, 10_000_000];
        counts.into_iter().map(|c| (c, MsgIdLayout::for_count(c))).collect()
    }

    #[test]
    fn every_field_at_its_limit_packs_and_unpacks_to_itself() {
        let max = |limit: u64| (limit - 1) as u32;
        for o in [
            origin(0, 0, 0, 0),
            origin(3, 70_000, 2, 12_345),
            origin(max(MAX_GROUPS), max(MAX_REPLICAS), max(MAX_INCARNATIONS), max(MAX_COUNTER)),
        ] {
            assert_eq!(MsgOrigin::of(o.pack()), o);
        }
        // Neighbouring fields do not bleed into each other.
        assert_ne!(origin(1, 0, 0, 0).pack(), origin(0, 1 << 23, 0, 0).pack());
    }

    #[test]
    fn a_counter_below_2_20_packs_to_the_same_id_in_every_layout() {
        // The layout before counters could carry, written out: any change to the id
        // of such a counter would change every shipped run's trace hash.
        let before = |o: MsgOrigin| {
            u64::from(o.node.group.0) << 52
                | u64::from(o.node.index) << 28
                | u64::from(o.incarnation) << 20
                | u64::from(o.counter)
        };
        for (count, layout) in layouts() {
            for o in [
                origin(0, 0, 0, 0),
                origin(7, count - 1, 3, 1),
                origin(4_095, count / 2, 255, (1 << 20) - 1),
            ] {
                let id = layout.pack(o).expect("fits");
                assert_eq!(id, before(o), "count {count}: {o:?}");
                assert_eq!(id, o.pack(), "count {count}: {o:?}");
                assert_eq!(MsgOrigin::of(id), o, "count {count}");
                assert_eq!(layout.unpack(id), o, "count {count}");
            }
        }
    }

    #[test]
    fn a_group_lends_the_replica_bits_its_count_leaves_to_the_counter() {
        let cap = |count| MsgIdLayout::for_count(count).max_counter();
        assert_eq!(cap(10), 1 << 32, "ten Paranoid Pirate workers");
        assert_eq!(cap(1), 1 << 32, "their broker, which beats to all ten");
        assert_eq!(cap(4_096), 1 << 32);
        assert_eq!(cap(4_097), 1 << 31);
        assert_eq!(cap(1_000_000), 1 << 24, "comet's million subscribers");
        assert_eq!(cap(1 << 23), 1 << 21);
        assert_eq!(cap((1 << 23) + 1), MAX_COUNTER);
        assert_eq!(cap(10_000_000), MAX_COUNTER, "the resolver's largest count");
        assert_eq!(MsgIdLayout::WHOLE_FIELD.max_counter(), MAX_COUNTER);
        assert!(layouts().iter().all(|(_, l)| l.max_counter() >= MAX_COUNTER));
    }

    #[test]
    fn carried_counters_pack_and_unpack_to_themselves_and_never_collide() {
        for (count, layout) in layouts() {
            let top = (layout.max_counter() - 1) as u32;
            let counters = [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20, top - 1, top];
            let indices =
                [0, 1, count / 2, count.saturating_sub(2), count - 1].map(|i| i.min(count - 1));
            let mut seen = BTreeSet::new();
            let mut made = BTreeSet::new();
            for group in [0, 1, 4_095] {
                for index in indices {
                    for incarnation in [0, 1, 255] {
                        for counter in
                            counters.into_iter().filter(|&c| u64::from(c) <= u64::from(top))
                        {
                            let o = origin(group, index, incarnation, counter);
                            if !made.insert(o) {
                                continue;
                            }
                            let id = layout.pack(o).expect("fits its group's layout");
                            assert_eq!(layout.unpack(id), o, "count {count}");
                            assert!(seen.insert(id), "count {count}: {o:?} collides");
                        }
                    }
                }
            }
            // One past the cap (when a `u32` holds it), or an index the layout has no
            // bits for, has no id.
            if let Ok(past) = u32::try_from(layout.max_counter()) {
                assert_eq!(layout.pack(origin(0, 0, 0, past)), None, "count {count}");
            }
            let past = origin(0, 1 << layout.index_bits, 0, 0);
            assert_eq!(layout.pack(past), None, "count {count}");
        }
    }

    #[test]
    fn a_run_reads_its_ids_in_their_groups_layouts() {
        let mut topology = crate::plan::testing::plan().topology;
        topology.groups[0].count = 1_000_000;
        let layout = MsgIdLayout::of_group(&topology, GroupId(0));
        assert_eq!(layout, MsgIdLayout::for_count(1_000_000));
        let o = origin(0, 999_999, 1, (1 << 24) - 1);
        let id = layout.pack(o).expect("fits");
        assert_eq!(MsgOrigin::decode(&topology, id), o);
        assert_eq!(msg_label(&topology, id), "client.999999~1#16777215");
        // Without the topology the carried bits would read as part of the index.
        assert_ne!(MsgOrigin::of(id), o);
        // A group the topology does not have reads in the whole field.
        assert_eq!(MsgIdLayout::of_group(&topology, GroupId(9)), MsgIdLayout::WHOLE_FIELD);
    }

    #[test]
    fn an_id_reads_as_group_replica_and_counter() {
        let topology = crate::plan::testing::plan().topology;
        assert_eq!(msg_label(&topology, origin(0, 3, 0, 0).pack()), "client.3#0");
        assert_eq!(msg_label(&topology, origin(0, 1, 2, 17).pack()), "client.1~2#17");
        assert_eq!(msg_label(&topology, origin(5, 0, 0, 1).pack()), "group#5.0#1");
    }
}
