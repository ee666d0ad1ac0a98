//! The bounded map behind the verify caches of both backends.

use std::collections::HashMap;

use super::backend::Found;

/// A bounded map whose entries are evicted by the CLOCK (second chance)
/// policy: an entry used since the hand last passed survives one more round,
/// so hot keys stay while a scan of cold ones cycles through.
pub(crate) struct Clock<S> {
    index: HashMap<String, usize>,
    slots: Vec<Slot<S>>,
    hand: usize,
    capacity: usize,
}

struct Slot<S> {
    id: String,
    seen: S,
    found: Found,
    used: bool,
}

impl<S: PartialEq> Clock<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        Clock { index: HashMap::new(), slots: Vec::new(), hand: 0, capacity }
    }

    /// The entry for `id` if it is fresh (nothing has committed since it was
    /// read) or `stale_ok` accepts it, and whether it is fresh. An entry
    /// returned counts as used.
    pub(crate) fn get(&mut self, id: &str, now: &S, stale_ok: impl Fn(&Found) -> bool) -> Option<(&Found, bool)> {
        let slot = &mut self.slots[*self.index.get(id)?];
        let fresh = slot.seen == *now;
        if !fresh && !stale_ok(&slot.found) {
            return None;
        }
        slot.used = true;
        Some((&slot.found, fresh))
    }

    /// The entry for `id`, whatever token it was read under; counts as a use.
    pub(crate) fn get_any(&mut self, id: &str) -> Option<&Found> {
        let slot = &mut self.slots[*self.index.get(id)?];
        slot.used = true;
        Some(&slot.found)
    }

    /// The token and answer of the entry for `id`, to change in place.
    pub(crate) fn entry_mut(&mut self, id: &str) -> Option<(&mut S, &mut Found)> {
        let slot = &mut self.slots[*self.index.get(id)?];
        Some((&mut slot.seen, &mut slot.found))
    }

    pub(crate) fn put(&mut self, id: &str, seen: S, found: Found) {
        if let Some(&i) = self.index.get(id) {
            let slot = &mut self.slots[i];
            (slot.seen, slot.found, slot.used) = (seen, found, true);
            return;
        }
        if self.capacity == 0 {
            return;
        }
        if self.slots.len() < self.capacity {
            self.index.insert(id.to_owned(), self.slots.len());
            self.slots.push(Slot { id: id.to_owned(), seen, found, used: false });
            return;
        }
        // Every slot passed clears its mark, so this ends within two rounds.
        loop {
            let slot = &mut self.slots[self.hand];
            if std::mem::take(&mut slot.used) {
                self.hand = (self.hand + 1) % self.capacity;
                continue;
            }
            let old = std::mem::replace(&mut slot.id, id.to_owned());
            (slot.seen, slot.found) = (seen, found);
            self.index.remove(&old);
            self.index.insert(id.to_owned(), self.hand);
            self.hand = (self.hand + 1) % self.capacity;
            return;
        }
    }

    pub(crate) fn remove(&mut self, id: &str) {
        let Some(i) = self.index.remove(id) else { return };
        self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.id.clone(), i);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
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
        for (id, &i) in &c.index {
            assert_eq!(&c.slots[i].id, id);
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
