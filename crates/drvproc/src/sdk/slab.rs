//! A table of values addressed by non-zero generation-checked keys, readable without
//! a lock.
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
//! [`Table::insert`] refuses the value (a refused open) rather than ever reusing a key.
//!
//! # Reading without a lock
//!
//! [`Table::get`] is what every message to an instance runs, so it takes no lock and
//! writes nothing: it loads a segment pointer and the slot's key, and compares; the
//! value is stored in the slot itself. That needs slots that never move: they live in segments of doubling
//! size (segment `s` holds the slots whose `index + 1` is in `2^s .. 2^(s+1)`), made
//! once and kept until the table is dropped, so any key, however stale or forged,
//! names either no slot or memory that is still a slot. Each slot stores the whole
//! key of the value it holds, or, while empty, its generation with index part 0
//! (which no key has): one comparison checks occupancy, index and generation at once.
//!
//! Writers (insert, remove, drain) are serialized by the table's own lock. They
//! publish a value by writing it into the slot and then storing its key (release); a
//! reader that loads the key (acquire) and finds it equal to its own sees that value.
//! A remove first stores the empty key, then moves the value out: a lookup that starts
//! after the remove returned finds the new key and refuses; the memory it reads is
//! slot memory.
//!
//! What the table cannot tell a reader is that the value it found is not moved out
//! *while* the reader uses it: [`Table::get`] hands out a pointer, and the caller must
//! know by other means that no remove of that key runs until it is done (the SDK gets
//! that from the driver manager's lifecycle; see the runtime).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Largest number of slots (index + 1 must fit in the low half).
const MAX_SLOTS: usize = INDEX_MASK;
/// The last generation a slot can carry; a slot removed at it is retired.
const LAST_GENERATION: usize = usize::MAX >> INDEX_BITS;
/// Segment `s` has `2^s` slots; `INDEX_BITS` segments hold every index + 1 below `2^INDEX_BITS`.
const SEGMENTS: usize = INDEX_BITS as usize;

struct Slot<T> {
    /// The key of the value held, or (empty) the slot's generation with index part 0.
    key: AtomicUsize,
    /// Initialised exactly while `key`'s index part is not 0. Written only by the writer
    /// that holds the book, before it publishes the key or after it withdrew it.
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    const fn empty() -> Self {
        Slot { key: AtomicUsize::new(0), value: UnsafeCell::new(MaybeUninit::uninit()) }
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if *self.key.get_mut() & INDEX_MASK != 0 {
            // SAFETY: a key with a non-zero index part means the value is initialised
            // (the slot's invariant), and `&mut self` means nobody else uses it.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

/// Which indexes are free and how many are used; only writers touch it.
#[derive(Debug, Default)]
struct Book {
    /// Slots that may be reused; retired slots are in neither this nor in use.
    free: Vec<usize>,
    /// Slots made so far (the next fresh index).
    made: usize,
    /// Number of values stored (retired slots make `made - free.len()` wrong).
    len: usize,
}

/// The lock-free-readable table; see the module docs.
pub(crate) struct Table<T> {
    /// Segment `s`: null, or the first of its `2^s` slots (a leaked `Box<[Slot<T>]>`),
    /// stored once under the book's lock and freed only by `Drop`.
    segments: [AtomicPtr<Slot<T>>; SEGMENTS],
    book: Mutex<Book>,
    /// The table hands `&T` to any thread and moves `T`s out on any thread, so it is
    /// `Sync` only for `T: Send + Sync` (the atomics alone would make it `Sync` always).
    _owns: PhantomData<(Box<T>, Mutex<T>)>,
}

impl<T> Table<T> {
    pub(crate) const fn new() -> Self {
        Table {
            segments: [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS],
            book: Mutex::new(Book { free: Vec::new(), made: 0, len: 0 }),
            _owns: PhantomData,
        }
    }

    // No code that could panic runs under this lock except allocation failure, which
    // aborts; the book is consistent even so.
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot whose `index + 1` is `n`, if its segment has been made.
    #[inline]
    fn slot(&self, n: usize) -> Option<&Slot<T>> {
        let segment = n.checked_ilog2()? as usize;
        let first = NonNull::new(self.segments.get(segment)?.load(Ordering::Acquire))?;
        // SAFETY: a non-null segment pointer is the start of `2^segment` initialised
        // slots (stored with release after they were written; loaded with acquire),
        // freed only when the table is dropped, which `&self` excludes. Clearing the
        // top bit of `n`, which `ilog2` found at `segment`, leaves an offset below
        // `2^segment`.
        Some(unsafe { first.add(n ^ (1 << segment)).as_ref() })
    }

    /// The slot at `index`, making its segment if needed. Called with the book locked,
    /// which makes this the only thread that stores segment pointers.
    fn slot_made(&self, _book: &mut Book, index: usize) -> &Slot<T> {
        let n = index + 1;
        let segment = n.ilog2() as usize;
        let first = &self.segments[segment];
        if first.load(Ordering::Relaxed).is_null() {
            let slots: Box<[Slot<T>]> = (0..1usize << segment).map(|_| Slot::empty()).collect();
            first.store(Box::into_raw(slots).cast::<Slot<T>>(), Ordering::Release);
        }
        match self.slot(n) {
            Some(slot) => slot,
            None => unreachable!("segment {segment} was made just above"),
        }
    }

    /// The value `key` names: lock-free, no write. The pointer stays valid until the
    /// value is removed, drained or the table dropped; see the module docs.
    #[inline]
    pub(crate) fn get(&self, key: usize) -> Option<NonNull<T>> {
        let slot = self.slot(key & INDEX_MASK)?;
        if slot.key.load(Ordering::Acquire) != key {
            return None;
        }
        // The value lives in the slot: its address is known without another load.
        Some(NonNull::from(&slot.value).cast::<T>())
    }

    /// Stores `value` and returns its key; gives it back when the table is full.
    pub(crate) fn insert(&self, value: T) -> Result<usize, T> {
        let mut book = self.book();
        let index = match book.free.pop() {
            Some(index) => index,
            None if book.made < MAX_SLOTS => {
                book.made += 1;
                book.made - 1
            }
            None => return Err(value),
        };
        let slot = self.slot_made(&mut book, index);
        let key = (index + 1) | slot.key.load(Ordering::Relaxed);
        // SAFETY: the slot is free (popped from the free list or fresh), so its key has
        // index part 0: the value is uninitialised and no reader can match the slot
        // (no key has index part 0). Holding the book makes this the only writer.
        unsafe { (*slot.value.get()).write(value) };
        // Publishes the value written just above to readers that load this key.
        slot.key.store(key, Ordering::Release);
        book.len += 1;
        Ok(key)
    }

    /// Takes out the value `key` names.
    pub(crate) fn remove(&self, key: usize) -> Option<T> {
        let mut book = self.book();
        let n = key & INDEX_MASK;
        let slot = self.slot(n)?;
        // A match means `n` is an index + 1: empty slots' keys have index part 0.
        if slot.key.load(Ordering::Relaxed) != key {
            return None;
        }
        Self::vacate(&mut book, slot, n - 1)
    }

    /// Takes out every value (used when a module is freed with instances left open).
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut book = self.book();
        let made = book.made;
        (0..made)
            .filter_map(|index| {
                let slot = self.slot_made(&mut book, index);
                Self::vacate(&mut book, slot, index)
            })
            .collect()
    }

    /// Empties `slot` (at `index`) and moves it to its next generation, or retires it
    /// when it has none left (see the module docs). Called with the book locked.
    fn vacate(book: &mut Book, slot: &Slot<T>, index: usize) -> Option<T> {
        let key = slot.key.load(Ordering::Relaxed);
        if key & INDEX_MASK == 0 {
            return None;
        }
        let generation = key >> INDEX_BITS;
        let next = if generation < LAST_GENERATION {
            book.free.push(index);
            generation + 1
        } else {
            generation
        };
        // The key goes first: from here on no lookup matches.
        slot.key.store(next << INDEX_BITS, Ordering::Release);
        book.len -= 1;
        // SAFETY: the key had a non-zero index part, so the value was initialised; the
        // store above marked it uninitialised, so it is moved out exactly once. Only
        // the writer holding the book gets here. A reader that matched the old key
        // before the store may still hold a reference: the table's caller promises
        // there is none (see the module docs).
        Some(unsafe { (*slot.value.get()).assume_init_read() })
    }

    pub(crate) fn len(&self) -> usize {
        self.book().len
    }
}

impl<T> Drop for Table<T> {
    fn drop(&mut self) {
        for (segment, first) in self.segments.iter_mut().enumerate() {
            let first = *first.get_mut();
            if !first.is_null() {
                let slots = std::ptr::slice_from_raw_parts_mut(first, 1 << segment);
                // SAFETY: a non-null segment pointer came from `Box::into_raw` of a boxed
                // slice of `2^segment` slots (`slot_made`), and is freed only here.
                drop(unsafe { Box::from_raw(slots) });
            }
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The table as a single owner uses it, values by reference: what the tests below
/// drive (the runtime shares a [`Table`] between threads instead).
#[cfg(test)]
#[derive(Default)]
struct Slab<T> {
    table: Table<T>,
}

#[cfg(test)]
impl<T> Slab<T> {
    fn new() -> Self {
        Slab { table: Table::new() }
    }

    fn insert(&mut self, value: T) -> Option<usize> {
        self.table.insert(value).ok()
    }

    fn get(&self, key: usize) -> Option<&T> {
        // SAFETY: values leave the table only through `&mut self` methods (or its
        // drop), which the borrow of `self` held by the result excludes.
        self.table.get(key).map(|value| unsafe { value.as_ref() })
    }

    fn remove(&mut self, key: usize) -> Option<T> {
        self.table.remove(key)
    }

    fn drain(&mut self) -> Vec<T> {
        self.table.drain()
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Index part of `key` (for tests that check which slot a key names).
    fn index_part(key: usize) -> usize {
        (key & INDEX_MASK) - 1
    }

    /// Puts the free slot `index` at `generation`, standing in for that many reuses.
    fn set_generation(&mut self, index: usize, generation: usize) {
        let slot = self.table.slot_made(&mut self.table.book(), index);
        assert_eq!(slot.key.load(Ordering::Relaxed) & INDEX_MASK, 0, "only a free slot may be aged");
        slot.key.store(generation << INDEX_BITS, Ordering::Relaxed);
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

    /// Counts its drops in a shared cell.
    struct Counted<'a>(&'a std::cell::Cell<usize>);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn values_across_segments_are_found_and_dropped_once() {
        let drops = std::cell::Cell::new(0);
        let mut s = Slab::new();
        // 100 values fill segments 0 to 6 (1 + 2 + 4 + ... + 64 slots).
        let keys: Vec<_> = (0..100).map(|_| s.insert(Counted(&drops)).unwrap()).collect();
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(Slab::<Counted>::index_part(*key), i);
            assert!(s.get(*key).is_some());
        }
        let removed: Vec<_> = keys.iter().step_by(3).map(|k| s.remove(*k).unwrap()).collect();
        assert_eq!(drops.get(), 0, "a removed value is moved out, not dropped");
        drop(removed);
        assert_eq!(drops.get(), 34);
        assert!(keys.iter().step_by(3).all(|k| s.get(*k).is_none()));
        assert_eq!(s.len(), 66);
        drop(s);
        assert_eq!(drops.get(), 100, "the table drops the values still in it, once each");
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
