//! A table of values addressed by non-zero generation-checked keys.
//!
//! A key is `index + 1` in the low half of a `usize` and the slot's generation in the
//! high half: 32 bits each on 64-bit targets, 16 bits each on 32-bit ones. Removing a
//! value bumps the slot's generation, so the old key stops matching and a forged key
//! fails the lookup instead of reaching another value.
//!
//! Guarantee: no key is ever issued twice, so a stale key never matches a later value.
//! A slot whose generation cannot be bumped any further (it has held 2^32 values on
//! 64-bit targets, 2^16 on 32-bit ones) is retired instead of wrapping back to
//! generation 0: its index stays consumed and is never handed out again. The price is
//! capacity: every 2^GEN reuses of one slot take that slot away for good, so on a
//! 32-bit target roughly 2^16 × (2^16 − 1) insertions exhaust the table, after which
//! [`Slab::insert`] answers `None` (a refused open) rather than ever reusing a key.

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Largest number of slots (index + 1 must fit in the low half).
const MAX_SLOTS: usize = INDEX_MASK;
/// The last generation a slot can carry; a slot removed at it is retired.
const LAST_GENERATION: usize = usize::MAX >> INDEX_BITS;

#[derive(Debug)]
struct Slot<T> {
    generation: usize,
    value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Slots that may be reused; retired slots are in neither this nor in use.
    free: Vec<usize>,
    /// Number of values stored (retired slots make `slots.len() - free.len()` wrong).
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Stores `value`; `None` when the table is full.
    pub(crate) fn insert(&mut self, value: T) -> Option<usize> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < MAX_SLOTS => {
                self.slots.push(Slot { generation: 0, value: None });
                self.slots.len() - 1
            }
            None => return None,
        };
        let slot = &mut self.slots[index];
        slot.value = Some(value);
        self.len += 1;
        Some((index + 1) | (slot.generation << INDEX_BITS))
    }

    fn index_of(&self, key: usize) -> Option<usize> {
        let index = (key & INDEX_MASK).checked_sub(1)?;
        let slot = self.slots.get(index)?;
        (slot.value.is_some() && slot.generation == key >> INDEX_BITS).then_some(index)
    }

    pub(crate) fn get(&self, key: usize) -> Option<&T> {
        self.index_of(key).and_then(|i| self.slots[i].value.as_ref())
    }

    pub(crate) fn remove(&mut self, key: usize) -> Option<T> {
        let index = self.index_of(key)?;
        self.vacate(index)
    }

    /// Removes every value (used when a module is freed with instances left open).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        (0..self.slots.len()).filter_map(|index| self.vacate(index)).collect()
    }

    /// Takes the value out of slot `index` and moves the slot to its next generation,
    /// or retires it when it has none left (see the module docs).
    fn vacate(&mut self, index: usize) -> Option<T> {
        let slot = &mut self.slots[index];
        let value = slot.value.take()?;
        self.len -= 1;
        if slot.generation < LAST_GENERATION {
            slot.generation += 1;
            self.free.push(index);
        }
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Index part of `key` (for tests that check which slot a key names).
    #[cfg(test)]
    fn index_part(key: usize) -> usize {
        (key & INDEX_MASK) - 1
    }

    /// Puts the free slot `index` at `generation`, standing in for that many reuses.
    #[cfg(test)]
    fn set_generation(&mut self, index: usize, generation: usize) {
        assert!(self.slots[index].value.is_none(), "only a free slot may be aged");
        self.slots[index].generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_nonzero_and_unique() {
        let mut s = Slab::new();
        let a = s.insert("a").unwrap();
        let b = s.insert("b").unwrap();
        assert_ne!(a, 0);
        assert_ne!(b, 0);
        assert_ne!(a, b);
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn stale_and_forged_keys_miss() {
        let mut s = Slab::new();
        let a = s.insert(1).unwrap();
        assert_eq!(s.remove(a), Some(1));
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        let c = s.insert(3).unwrap();
        assert_ne!(c, a, "a reused slot gets a new key");
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(c), Some(&3));
        for forged in [0, 1 << INDEX_BITS, usize::MAX, c + 1, c ^ (1 << INDEX_BITS)] {
            assert_eq!(s.get(forged), None, "{forged:#x}");
        }
    }

    #[test]
    fn a_slot_at_its_last_generation_is_retired_not_wrapped() {
        let mut s = Slab::new();
        let first = s.insert("first").unwrap();
        assert_eq!(s.remove(first), Some("first"));
        let index = Slab::<&str>::index_part(first);
        // As if the slot had been reused 2^GEN - 1 times since `first` was issued.
        s.set_generation(index, LAST_GENERATION);
        let last = s.insert("last").unwrap();
        assert_eq!(Slab::<&str>::index_part(last), index, "the aged slot is reused once more");
        assert_eq!(last >> INDEX_BITS, LAST_GENERATION);
        assert_eq!(s.remove(last), Some("last"));
        let next = s.insert("next").unwrap();
        assert_eq!(s.get(first), None, "the first key must not name the new value");
        assert_ne!(Slab::<&str>::index_part(next), index, "a slot past its last generation is never reused");
        assert_eq!(s.get(last), None);
        assert_eq!(s.get(next), Some(&"next"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn drain_retires_slots_at_their_last_generation() {
        let mut s = Slab::new();
        let a = s.insert(1).unwrap();
        s.remove(a);
        s.set_generation(0, LAST_GENERATION);
        let old = s.insert(2).unwrap();
        assert_eq!(s.drain(), vec![2]);
        assert_eq!(s.len(), 0);
        let new = s.insert(3).unwrap();
        assert_ne!(Slab::<i32>::index_part(new), 0);
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(old), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn drain_empties_and_invalidates() {
        let mut s = Slab::new();
        let keys: Vec<_> = (0..5).map(|i| s.insert(i).unwrap()).collect();
        s.remove(keys[2]);
        let mut drained = s.drain();
        drained.sort();
        assert_eq!(drained, vec![0, 1, 3, 4]);
        assert_eq!(s.len(), 0);
        assert!(keys.iter().all(|k| s.get(*k).is_none()));
    }
}
