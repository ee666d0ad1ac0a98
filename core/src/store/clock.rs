//! The bounded map behind the verify caches of both backends.

use super::backend::Found;
use super::id::Id;
use super::id_map::{IdMap, Slot};

/// A bounded map whose entries are evicted by the CLOCK (second chance)
/// policy: an entry used since the hand last passed survives one more round,
/// so hot keys stay while a scan of cold ones cycles through.
///
/// Everything a hit reads or marks is in the map's own slot, on one cache
/// line with the id it compares (see `id_map`): with a million entries,
/// each further place a hit had to reach (a separate entry, the id's text,
/// a hash table's array of tags) was one more cache miss per verify. The
/// ring of ids is read only by the hand, when the map is full.
pub(crate) struct Clock<S> {
    index: IdMap<Entry<S>>,
    /// The ids in the order the hand visits them; each entry knows its place.
    ring: Vec<Id>,
    hand: usize,
    capacity: usize,
}

struct Entry<S> {
    place: usize,
    seen: S,
    found: Found,
    used: bool,
}

// One cache line per entry, with the id and its hash, as `id_map` intends,
// for both caches' tokens: a field added here must not make it two.
const _: () = assert!(std::mem::size_of::<Slot<Entry<u64>>>() == 64);
const _: () = assert!(std::mem::size_of::<Slot<Entry<()>>>() == 64);

impl<S: PartialEq> Clock<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        Clock { index: IdMap::new(), ring: Vec::new(), hand: 0, capacity }
    }

    /// The entry for `id` if it is fresh (nothing has committed since it was
    /// read) or `stale_ok` accepts it, and whether it is fresh. An entry
    /// returned counts as used.
    pub(crate) fn get(&mut self, id: &str, now: &S, stale_ok: impl Fn(&Found) -> bool) -> Option<(&Found, bool)> {
        let entry = self.index.get_mut(&Id::new(id))?;
        let fresh = entry.seen == *now;
        if !fresh && !stale_ok(&entry.found) {
            return None;
        }
        entry.used = true;
        Some((&entry.found, fresh))
    }

    /// The entry for `id`, whatever token it was read under; counts as a use.
    pub(crate) fn get_any(&mut self, id: &str) -> Option<&Found> {
        let entry = self.index.get_mut(&Id::new(id))?;
        entry.used = true;
        Some(&entry.found)
    }

    /// The token and answer of the entry for `id`, to change in place.
    pub(crate) fn entry_mut(&mut self, id: &str) -> Option<(&mut S, &mut Found)> {
        let entry = self.index.get_mut(&Id::new(id))?;
        Some((&mut entry.seen, &mut entry.found))
    }

    pub(crate) fn put(&mut self, id: &str, seen: S, found: Found) {
        let id = Id::new(id);
        if let Some(entry) = self.index.get_mut(&id) {
            (entry.seen, entry.found, entry.used) = (seen, found, true);
            return;
        }
        if self.capacity == 0 {
            return;
        }
        if self.ring.len() < self.capacity {
            self.index.insert_new(id.clone(), Entry { place: self.ring.len(), seen, found, used: false });
            self.ring.push(id);
            return;
        }
        // Every entry passed loses its mark, so this ends within two rounds.
        loop {
            let at_hand = &self.ring[self.hand];
            let used = self.index.get_mut(at_hand).map(|e| std::mem::take(&mut e.used));
            if used == Some(true) {
                self.hand = (self.hand + 1) % self.capacity;
                continue;
            }
            let old = std::mem::replace(&mut self.ring[self.hand], id.clone());
            self.index.remove(&old);
            self.index.insert_new(id, Entry { place: self.hand, seen, found, used: false });
            self.hand = (self.hand + 1) % self.capacity;
            return;
        }
    }

    pub(crate) fn remove(&mut self, id: &str) {
        let Some(entry) = self.index.remove(&Id::new(id)) else { return };
        let i = entry.place;
        self.ring.swap_remove(i);
        if let Some(moved) = self.ring.get(i) {
            if let Some(e) = self.index.get_mut(moved) {
                e.place = i;
            }
        }
        if self.hand >= self.ring.len() {
            self.hand = 0;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.ring.clear();
        self.hand = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: u32) -> u32 {
        n
    }

    #[test]
    fn clock_keeps_used_entries_and_stays_bounded() {
        let mut c = Clock::new(3);
        for id in ["a", "b", "c"] {
            c.put(id, header(1), None);
        }
        assert!(c.get("a", &header(1), |_| false).is_some());
        assert!(c.get("b", &header(2), |_| false).is_none(), "a stale entry not asked for is not a use");
        c.put("d", header(1), None);
        c.put("e", header(1), None);
        assert_eq!(c.len(), 3);
        assert!(c.get("a", &header(1), |_| false).is_some(), "the used entry survives");
        assert!(c.get("b", &header(1), |_| false).is_none() && c.get("c", &header(1), |_| false).is_none());
        assert_eq!(c.index.len(), 3);
    }

    #[test]
    fn removed_entries_free_their_slot_and_keep_the_index_right() {
        let mut c = Clock::new(3);
        for id in ["a", "b", "c"] {
            c.put(id, header(1), None);
        }
        c.remove("a");
        c.remove("zz");
        assert_eq!(c.len(), 2);
        assert!(c.get("a", &header(1), |_| false).is_none());
        assert!(c.get("b", &header(1), |_| false).is_some() && c.get("c", &header(1), |_| false).is_some());
        c.put("d", header(1), None);
        c.put("e", header(1), None);
        assert_eq!((c.len(), c.index.len()), (3, 3));
        for (id, e) in c.index.iter() {
            assert_eq!(&c.ring[e.place], id);
        }
    }

    #[test]
    fn clear_empties_it() {
        let mut c = Clock::new(2);
        c.put("a", header(1), None);
        c.clear();
        assert_eq!((c.len(), c.index.len()), (0, 0));
        c.put("b", header(1), None);
        assert!(c.get("b", &header(1), |_| false).is_some());
    }

    #[test]
    fn a_changed_token_misses() {
        let mut c = Clock::new(2);
        c.put("a", header(1), None);
        assert!(c.get("a", &header(2), |_| false).is_none());
        assert!(c.get("a", &header(2), |_| true).is_some_and(|(_, fresh)| !fresh));
        c.put("a", header(2), None);
        assert!(c.get("a", &header(2), |_| false).is_some_and(|(_, fresh)| fresh));
        assert_eq!(c.len(), 1);
    }
}
