//! A message id's bit layout, in one place: what `NodeCtx::next_msg_id` packs, what
//! checkers unpack, what the resolver bounds topologies by, and how a person reads one.
//!
//! An id is 64 bits: the group (the topology's node index) in the top 12, the replica
//! index in the next 24, the incarnation (restarts before this one) in 8, and a
//! counter in the low 20 that grows in the order the incarnation made its messages.
//! A field that would not fit makes ids collide, so the resolver refuses a topology
//! with more than [`MAX_GROUPS`] nodes, [`MAX_REPLICAS`] bounds a node's `count`, and
//! packing a counter past [`MAX_COUNTER`] is a bug in the design that made it.
//! People read ids as `client.3#7` (group name, replica, counter), with the
//! incarnation after a `~` when the replica has restarted (`client.3~1#7`).

use super::{GroupId, Replica, TopologyPlan};

/// A message id assigned by the design that created the message, carried in its
/// payload through every hop. Its bit layout is [`MsgOrigin`]'s; people read it
/// through [`msg_label`].
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

/// How many nodes (groups) a topology may have: group ids `0..MAX_GROUPS` fit.
pub const MAX_GROUPS: u64 = 1 << GROUP_BITS;
/// How many replicas one node may have.
pub const MAX_REPLICAS: u64 = 1 << REPLICA_BITS;
/// How many restarts an id tells apart; later incarnations wrap and share ids with
/// earlier ones (their counters start over too), which only `per_pipe_order` reads.
pub const MAX_INCARNATIONS: u64 = 1 << INCARNATION_BITS;
/// How many ids one incarnation may make.
pub const MAX_COUNTER: u64 = 1 << COUNTER_BITS;

/// Where a message id says it was made, and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MsgOrigin {
    /// The replica that made it.
    pub node: Replica,
    /// Which incarnation of that replica (0 before any restart).
    pub incarnation: u32,
    /// Its place in that incarnation's ids, from 0.
    pub counter: u32,
}

impl MsgOrigin {
    /// The id this origin packs to. The resolver bounds groups and replicas, and
    /// `next_msg_id` the counter; an incarnation past the limit wraps (see
    /// [`MAX_INCARNATIONS`]).
    pub fn pack(self) -> MsgId {
        debug_assert!(u64::from(self.node.group.0) < MAX_GROUPS, "resolver bounds groups");
        debug_assert!(u64::from(self.node.index) < MAX_REPLICAS, "resolver bounds replicas");
        debug_assert!(u64::from(self.counter) < MAX_COUNTER, "next_msg_id bounds counters");
        let field = |v: u32, bits: u32, shift: u32| (u64::from(v) & ((1 << bits) - 1)) << shift;
        field(self.node.group.0, GROUP_BITS, GROUP_SHIFT)
            | field(self.node.index, REPLICA_BITS, REPLICA_SHIFT)
            | field(self.incarnation, INCARNATION_BITS, INCARNATION_SHIFT)
            | field(self.counter, COUNTER_BITS, COUNTER_SHIFT)
    }

    /// Unpacks an id made by [`MsgOrigin::pack`].
    pub fn of(id: MsgId) -> MsgOrigin {
        let field = |shift: u32, bits: u32| ((id >> shift) & ((1 << bits) - 1)) as u32;
        MsgOrigin {
            node: Replica {
                group: GroupId(field(GROUP_SHIFT, GROUP_BITS)),
                index: field(REPLICA_SHIFT, REPLICA_BITS),
            },
            incarnation: field(INCARNATION_SHIFT, INCARNATION_BITS),
            counter: field(COUNTER_SHIFT, COUNTER_BITS),
        }
    }
}

/// How a person reads `id`: `client.3#7`, or `client.3~1#7` for a restarted replica's
/// (group `group#N` if the topology has no such group, which only hand-built traces do).
pub fn msg_label(topology: &TopologyPlan, id: MsgId) -> String {
    let o = MsgOrigin::of(id);
    let group = match topology.groups.get(o.node.group.0 as usize) {
        Some(g) => g.name.clone(),
        None => format!("group#{}", o.node.group.0),
    };
    let restarted = if o.incarnation == 0 { String::new() } else { format!("~{}", o.incarnation) };
    format!("{group}.{}{restarted}#{}", o.node.index, o.counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(group: u32, index: u32, incarnation: u32, counter: u32) -> MsgOrigin {
        MsgOrigin { node: Replica { group: GroupId(group), index }, incarnation, counter }
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
    fn an_id_reads_as_group_replica_and_counter() {
        let topology = crate::plan::testing::plan().topology;
        assert_eq!(msg_label(&topology, origin(0, 3, 0, 0).pack()), "client.3#0");
        assert_eq!(msg_label(&topology, origin(0, 1, 2, 17).pack()), "client.1~2#17");
        assert_eq!(msg_label(&topology, origin(5, 0, 0, 1).pack()), "group#5.0#1");
    }
}
