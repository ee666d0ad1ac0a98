//! The map a cached verify looks its key id up in: one cache line per entry.
//!
//! `std`'s `HashMap` keeps a byte of each entry's hash in an array of its
//! own, apart from the entries: with a million keys cached, a lookup waits
//! for that array's line, and then for the entry's, two misses one after
//! the other. Here each slot holds the entry's hash beside the entry, on
//! one line, and open addressing with linear probing puts an id's entry at
//! its home slot or just after: one miss, and the next slots, when probed,
//! are the lines right after it.
//!
//! The hash is keyed per map (`RandomState`, SipHash), as `std`'s is: the
//! ids looked up come from clients, who must not be able to pick ids that
//! collide.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::id::Id;

/// Grown (doubled) before more than this share of slots is taken. At this
/// load, linear probing reads about 1.5 slots on average to find an entry
/// and about 6 to find that an id is absent, all on consecutive lines. A
/// table takes 64 bytes per slot, 1.4 to 2.9 slots per entry, as many as
/// it last held (an emptied table starts small again).
const MAX_LOAD: (usize, usize) = (7, 10);
/// The slots a map starts with.
const FIRST_SLOTS: usize = 16;

/// A map from key ids to `V`; `H` is fixed only by tests, to replay them.
pub(crate) struct IdMap<V, H = RandomState> {
    slots: Box<[Slot<V>]>,
    len: usize,
    hasher: H,
}

/// One entry and its hash, aligned to a cache line (64 bytes on the
/// machines Keyhouse is built for), so that reading one never touches two.
#[repr(C, align(64))]
pub(crate) struct Slot<V> {
    hash: u64,
    entry: Option<(Id, V)>,
}

impl<V> Slot<V> {
    fn empty() -> Self {
        Slot { hash: 0, entry: None }
    }
}

impl<V> IdMap<V> {
    /// An empty map, with hash keys of its own.
    pub(crate) fn new() -> Self {
        IdMap::with_hasher(RandomState::new())
    }
}

impl<V, H: BuildHasher> IdMap<V, H> {
    fn with_hasher(hasher: H) -> Self {
        IdMap { slots: empty_slots(FIRST_SLOTS), len: 0, hasher }
    }

    /// The entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn hash(&self, id: &Id) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The slot holding `id`, if any.
    fn find(&self, id: &Id) -> Option<usize> {
        let hash = self.hash(id);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        // Ends: the load is below 1, so some slot is empty.
        loop {
            let slot = &self.slots[i];
            match &slot.entry {
                None => return None,
                Some((held, _)) if slot.hash == hash && held == id => return Some(i),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// The value held for `id`, to read or change in place.
    pub(crate) fn get_mut(&mut self, id: &Id) -> Option<&mut V> {
        let i = self.find(id)?;
        self.slots[i].entry.as_mut().map(|(_, v)| v)
    }

    /// Adds `id`, which the map must not hold yet (callers look it up first).
    pub(crate) fn insert_new(&mut self, id: Id, value: V) {
        debug_assert!(self.find(&id).is_none());
        if (self.len + 1) * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            self.grow();
        }
        let hash = self.hash(&id);
        self.place(hash, id, value);
        self.len += 1;
    }

    /// Puts an entry in the first empty slot from its home on.
    fn place(&mut self, hash: u64, id: Id, value: V) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].entry.is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { hash, entry: Some((id, value)) };
    }

    fn grow(&mut self) {
        let bigger = empty_slots(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, bigger);
        for slot in old.into_vec() {
            if let Some((id, value)) = slot.entry {
                self.place(slot.hash, id, value);
            }
        }
    }

    /// Takes out the value held for `id`, if any.
    pub(crate) fn remove(&mut self, id: &Id) -> Option<V> {
        let mut hole = self.find(id)?;
        let (_, value) = self.slots[hole].entry.take()?;
        self.len -= 1;
        // Backward-shift deletion: an entry further along the run moves into
        // the hole unless its home lies after the hole (cyclically), so
        // that every entry stays reachable from its home without tombstones.
        let mask = self.slots.len() - 1;
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            if self.slots[i].entry.is_none() {
                return Some(value);
            }
            let home = self.slots[i].hash as usize & mask;
            // Distances along the probe order, from the entry's home.
            if (i.wrapping_sub(home) & mask) >= (i.wrapping_sub(hole) & mask) {
                self.slots.swap(hole, i);
                hole = i;
            }
        }
    }

    /// Drops every entry, and the slots with them: the SQLite cache empties
    /// its map of unknown ids at every commit, which must not cost a sweep
    /// of every slot a flood of made-up ids once grew it to.
    pub(crate) fn clear(&mut self) {
        if self.len > 0 {
            self.slots = empty_slots(FIRST_SLOTS);
            self.len = 0;
        }
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Id, &V)> {
        self.slots.iter().filter_map(|s| s.entry.as_ref().map(|(id, v)| (id, v)))
    }
}

fn empty_slots<V>(n: usize) -> Box<[Slot<V>]> {
    debug_assert!(n.is_power_of_two());
    (0..n).map(|_| Slot::empty()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;

    use super::*;

    #[test]
    fn clearing_a_grown_map_gives_back_its_slots() {
        let mut map = IdMap::new();
        for n in 0..20_000 {
            map.insert_new(Id::new(&format!("u{n}")), ());
        }
        assert!(map.slots.len() >= 20_000);
        map.clear();
        assert_eq!((map.len(), map.slots.len()), (0, FIRST_SLOTS));
        assert!(map.get_mut(&Id::new("u1")).is_none());
        map.insert_new(Id::new("u1"), ());
        assert!(map.get_mut(&Id::new("u1")).is_some());
    }

    /// Random inserts and removes over few ids (long runs, wrapping at the
    /// end of the slots, growth) agree with `std`'s map at every step.
    #[test]
    fn it_agrees_with_a_hash_map_through_inserts_removes_growth_and_clear() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Fixed hash keys, so that a failure replays.
        let mut map = IdMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
        let mut model = HashMap::new();
        for round in 0..200_000u64 {
            let n = next();
            // Ids from a pool that grows, so the map grows, then churns.
            let id = format!("k{}", n % (50 + round / 100).min(3_000));
            let key = Id::new(&id);
            match n >> 60 {
                0..=6 => {
                    if let Some(v) = map.get_mut(&key) {
                        *v = round;
                    } else {
                        map.insert_new(key.clone(), round);
                    }
                    model.insert(id, round);
                }
                7..=14 => assert_eq!(map.remove(&key), model.remove(&id)),
                _ => assert_eq!(map.get_mut(&key).copied(), model.get(&id).copied()),
            }
            assert_eq!(map.len(), model.len());
            if round == 150_000 {
                map.clear();
                model.clear();
            }
        }
        let held: HashMap<String, u64> = map.iter().map(|(id, v)| (id.as_str().to_owned(), *v)).collect();
        assert_eq!(held, model);
        for (id, v) in &model {
            assert_eq!(map.get_mut(&Id::new(id)), Some(&mut v.clone()));
        }
    }
}
