//! A table of values addressed by non-zero generation-checked keys.
//!
//! A key is `index + 1` in the low half of a `usize` and the slot's generation in the
//! high half. Removing a value bumps the slot's generation, so the old key never
//! matches again (until the generation wraps, after 2^32 reuses of one slot on 64-bit
//! targets) and a forged key fails the lookup instead of reaching another value.

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Largest number of live values (index + 1 must fit in the low half).
const MAX_SLOTS: usize = INDEX_MASK;

#[derive(Debug)]
struct Slot<T> {
    generation: usize,
    value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Self {
        Slab { slots: Vec::new(), free: Vec::new() }
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
        let slot = &mut self.slots[index];
        slot.generation = (slot.generation + 1) & (usize::MAX >> INDEX_BITS);
        self.free.push(index);
        slot.value.take()
    }

    /// Removes every value (used when a module is freed with instances left open).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(v) = slot.value.take() {
                slot.generation = (slot.generation + 1) & (usize::MAX >> INDEX_BITS);
                self.free.push(index);
                out.push(v);
            }
        }
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
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
