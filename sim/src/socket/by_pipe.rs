//! `ByPipe`: what a socket keeps per pipe, in pipe id order, with the only entry of a
//! socket that has one kept inline. A `BTreeMap` of one entry holds a whole leaf of
//! eleven (280 bytes for a pipe, 192 for a writer's wake-up), and most sockets of a
//! big run (each comet subscriber's DEALER) have one connection (issue 16). A second
//! entry moves both into the map; the map empty again, the next entry is inline.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use super::PipeId;

/// An ordered map from pipe id to `V` that holds one entry without a map.
#[derive(Debug)]
pub(crate) struct ByPipe<V> {
    /// The entry, while it is the only one and `many` is empty.
    one: Option<(PipeId, V)>,
    /// Every entry, once there have been two at a time; then `one` is `None`.
    many: BTreeMap<PipeId, V>,
}

impl<V> Default for ByPipe<V> {
    fn default() -> Self {
        ByPipe { one: None, many: BTreeMap::new() }
    }
}

impl<V> ByPipe<V> {
    pub(crate) fn get(&self, id: &PipeId) -> Option<&V> {
        match &self.one {
            Some((one, value)) if one == id => Some(value),
            _ => self.many.get(id),
        }
    }

    pub(crate) fn get_mut(&mut self, id: &PipeId) -> Option<&mut V> {
        match &mut self.one {
            Some((one, value)) if one == id => Some(value),
            _ => self.many.get_mut(id),
        }
    }

    /// Inserts `value` under `id`; returns the value it replaced, if any.
    pub(crate) fn insert(&mut self, id: PipeId, value: V) -> Option<V> {
        match self.one.take() {
            None if self.many.is_empty() => {
                self.one = Some((id, value));
                None
            }
            None => self.many.insert(id, value),
            Some((one, kept)) if one == id => {
                self.one = Some((id, value));
                Some(kept)
            }
            Some((one, kept)) => {
                self.many.insert(one, kept);
                self.many.insert(id, value)
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &PipeId) -> Option<V> {
        if self.one.as_ref().is_some_and(|(one, _)| one == id) {
            return self.one.take().map(|(_, value)| value);
        }
        self.many.remove(id)
    }

    /// Every entry in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&PipeId, &V)> {
        self.range(..)
    }

    /// The entries whose ids are in `ids`, in id order.
    pub(crate) fn range(
        &self,
        ids: impl RangeBounds<PipeId> + Clone,
    ) -> impl Iterator<Item = (&PipeId, &V)> {
        let one = self.one.iter().map(|(id, value)| (id, value));
        let one = one.filter({
            let ids = ids.clone();
            move |(id, _)| ids.contains(*id)
        });
        one.chain(self.many.range(ids))
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;

    /// One entry inline and more in the map read the same: lookups, replacement,
    /// removal and id order over ranges.
    #[test]
    fn reads_as_an_ordered_map_with_one_entry_or_many() {
        let ids = |map: &ByPipe<&str>, range: (Bound<PipeId>, Bound<PipeId>)| -> Vec<PipeId> {
            map.range(range).map(|(id, _)| *id).collect()
        };
        let all = (Bound::Unbounded, Bound::Unbounded);
        let mut map = ByPipe::default();
        assert!(map.insert(5, "five").is_none());
        assert!(map.one.is_some() && map.many.is_empty(), "one entry is kept inline");
        assert_eq!(ids(&map, (Bound::Excluded(5), Bound::Unbounded)), Vec::<PipeId>::new());
        assert_eq!(ids(&map, (Bound::Included(5), Bound::Unbounded)), [5]);
        assert_eq!(map.insert(5, "FIVE"), Some("five"), "replaced in place");
        assert_eq!(map.get(&5), Some(&"FIVE"));
        map.insert(2, "two");
        map.insert(9, "nine");
        assert!(map.one.is_none());
        assert_eq!(map.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [2, 5, 9]);
        assert_eq!(ids(&map, (Bound::Excluded(2), Bound::Unbounded)), [5, 9]);
        *map.get_mut(&9).expect("present") = "NINE";
        assert_eq!(map.get(&9), Some(&"NINE"));
        assert_eq!(map.remove(&5), Some("FIVE"));
        assert_eq!(map.remove(&5), None);
        assert_eq!(ids(&map, all), [2, 9]);
        map.remove(&2);
        map.remove(&9);
        assert_eq!(ids(&map, all), Vec::<PipeId>::new());
        map.insert(7, "seven");
        assert!(map.one.is_some(), "inline again once the map is empty");
        assert!(map.get(&7).is_some() && map.get(&2).is_none());
    }
}
