//! The table of live driver instances, addressed by `HDRVR` values.
//!
//! A handle packs `index + 1`, a per-manager tag and the slot's generation into one
//! pointer-sized value, so it is never 0. Looking a handle up reads only atomics of
//! slots that are never freed while the table lives: a stale, forged, closed or
//! random value fails the generation/tag check instead of touching freed memory, and
//! a slot's generation changes on every reuse, so an old handle never names a new
//! instance (until the generation wraps: 2^32 reuses of one slot on 64-bit targets).
//!
//! Sends *enter* a slot (a counted guard) for the duration of the driver call; a
//! close first marks the slot closing (no new enters), then waits until the guards of
//! other threads are gone, so the driver is never called for an instance after its
//! `DRV_CLOSE`. A close from inside a send on the same handle (a driver closing
//! itself) cannot wait for its own caller: it proceeds, and the slot is released by
//! whichever guard leaves last.
//!
//! Slots live in chunks that double in size and never move, so lookups take no lock
//! and open/close cost does not grow with the number of open instances.

use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use drvproc::Hdrvr;

#[cfg(target_pointer_width = "64")]
mod bits {
    pub const INDEX: u32 = 24;
    pub const TAG: u32 = 8;
}
#[cfg(not(target_pointer_width = "64"))]
mod bits {
    pub const INDEX: u32 = 16;
    pub const TAG: u32 = 4;
}
const INDEX_MASK: usize = (1 << bits::INDEX) - 1;
const TAG_MASK: usize = (1 << bits::TAG) - 1;
const GEN_SHIFT: u32 = bits::INDEX + bits::TAG;
/// Generations kept in a handle (the slot's state keeps 32 bits; they must agree).
const GEN_MASK: u64 = (usize::MAX >> GEN_SHIFT) as u64;
/// Most instances one table holds at once.
pub(crate) const MAX_INSTANCES: usize = INDEX_MASK;

// Slot state: generation in the high 32 bits, then flags, then the guard count.
const LIVE: u64 = 1 << 31;
const CLOSING: u64 = 1 << 30;
const CLOSED: u64 = 1 << 29;
const COUNT_MASK: u64 = (1 << 29) - 1;

const BASE_LOG2: u32 = 6;
const CHUNKS: usize = (bits::INDEX - BASE_LOG2 + 1) as usize;

/// Per-instance data the table holds for the manager.
pub(crate) struct Slot<M> {
    state: AtomicU64,
    /// The driver-issued id (`dwDriverId`); 0 until `DRV_OPEN` answers.
    id: AtomicUsize,
    /// One strong reference of the instance's module (`Arc::into_raw`), or null.
    module: AtomicPtr<M>,
    /// Manager-defined flags (e.g. the session-instance mark).
    flags: AtomicU8,
}

impl<M> Slot<M> {
    fn new() -> Self {
        Slot {
            state: AtomicU64::new(0),
            id: AtomicUsize::new(0),
            module: AtomicPtr::new(std::ptr::null_mut()),
            flags: AtomicU8::new(0),
        }
    }
}

thread_local! {
    /// Handles this thread is currently inside a send to (innermost last).
    static ACTIVE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The table; `M` is the module type each instance references.
pub(crate) struct HandleTable<M> {
    chunks: [OnceLock<Box<[Slot<M>]>>; CHUNKS],
    free: Mutex<FreeList>,
    tag: usize,
    live: AtomicUsize,
    /// Wakes closers waiting for guards to leave (shared: waits are rare).
    drained: (Mutex<()>, Condvar),
}

struct FreeList {
    reuse: Vec<u32>,
    next_fresh: usize,
}

/// A counted presence in a live slot; the slot's data stays valid while it exists.
pub(crate) struct Guard<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
}

/// A slot reserved by [`HandleTable::insert`] and marked closing by
/// [`HandleTable::begin_close`]: only its holder may finish it.
pub(crate) struct Closing<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
}

fn split(index: usize) -> (usize, usize) {
    let i = index + (1 << BASE_LOG2);
    let chunk = (usize::BITS - 1 - i.leading_zeros() - BASE_LOG2) as usize;
    (chunk, i - (1 << (chunk as u32 + BASE_LOG2)))
}

impl<M> HandleTable<M> {
    /// An empty table whose handles carry `tag` (distinguishes managers).
    pub(crate) fn new(tag: usize) -> Self {
        HandleTable {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            free: Mutex::new(FreeList { reuse: Vec::new(), next_fresh: 0 }),
            tag: tag & TAG_MASK,
            live: AtomicUsize::new(0),
            drained: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Number of live instances.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    fn slot(&self, index: usize) -> Option<&Slot<M>> {
        let (chunk, offset) = split(index);
        self.chunks.get(chunk)?.get()?.get(offset)
    }

    fn slot_or_grow(&self, index: usize) -> &Slot<M> {
        let (chunk, offset) = split(index);
        let slots = self.chunks[chunk].get_or_init(|| {
            let len = 1usize << (chunk as u32 + BASE_LOG2);
            (0..len).map(|_| Slot::new()).collect()
        });
        &slots[offset]
    }

    fn encode(&self, index: usize, generation: u64) -> Hdrvr {
        let generation = (generation & GEN_MASK) as usize;
        Hdrvr::from_raw((index + 1) | (self.tag << bits::INDEX) | (generation << GEN_SHIFT))
    }

    /// The slot and generation a handle claims, if it is of this table's shape.
    fn decode(&self, h: Hdrvr) -> Option<(&Slot<M>, u64)> {
        let raw = h.raw();
        if (raw >> bits::INDEX) & TAG_MASK != self.tag {
            return None;
        }
        let index = (raw & INDEX_MASK).checked_sub(1)?;
        Some((self.slot(index)?, (raw >> GEN_SHIFT) as u64))
    }

    /// Creates a live instance referencing `module` with id 0; `None` when full.
    ///
    /// The handle is live at once (a driver may be sent messages during its own
    /// `DRV_LOAD`/`DRV_OPEN`); set the id with [`Guard::set_id`] when `DRV_OPEN` answers.
    pub(crate) fn insert(&self, module: Arc<M>, flags: u8) -> Option<Hdrvr> {
        let index = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            match free.reuse.pop() {
                Some(i) => i as usize,
                None if free.next_fresh < MAX_INSTANCES => {
                    free.next_fresh += 1;
                    free.next_fresh - 1
                }
                None => return None,
            }
        };
        let slot = self.slot_or_grow(index);
        let generation = slot.state.load(Ordering::Acquire) >> 32;
        slot.id.store(0, Ordering::Relaxed);
        slot.flags.store(flags, Ordering::Relaxed);
        slot.module.store(Arc::into_raw(module).cast_mut(), Ordering::Relaxed);
        // Release: the fields above are visible to whoever sees LIVE.
        slot.state.store((generation << 32) | LIVE, Ordering::Release);
        self.live.fetch_add(1, Ordering::Relaxed);
        Some(self.encode(index, generation))
    }

    /// Enters the live, not-closing instance `h` names; `None` for any other value.
    pub(crate) fn enter(&self, h: Hdrvr) -> Option<Guard<'_, M>> {
        let (slot, generation) = self.decode(h)?;
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            let matches = (state >> 32) & GEN_MASK == generation;
            if !matches || state & (LIVE | CLOSING) != LIVE || state & COUNT_MASK == COUNT_MASK {
                return None;
            }
            match slot.state.compare_exchange_weak(state, state + 1, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        ACTIVE.with(|a| a.borrow_mut().push(h.raw()));
        Some(Guard { table: self, slot, handle: h })
    }

    /// Marks `h` closing so no new send enters it, then waits until every guard
    /// held by other threads has left. `None` if `h` is not a live, open instance
    /// (already closing, closed, stale or forged): exactly one closer wins.
    pub(crate) fn begin_close(&self, h: Hdrvr) -> Option<Closing<'_, M>> {
        let (slot, generation) = self.decode(h)?;
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if (state >> 32) & GEN_MASK != generation || state & (LIVE | CLOSING) != LIVE {
                return None;
            }
            match slot.state.compare_exchange_weak(
                state,
                state | CLOSING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // Guards of this thread are callers further up the stack; they cannot leave
        // before we return, so only other threads' guards are waited for.
        let own = ACTIVE.with(|a| a.borrow().iter().filter(|&&x| x == h.raw()).count()) as u64;
        let (lock, cv) = &self.drained;
        let mut waiting = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while slot.state.load(Ordering::Acquire) & COUNT_MASK > own {
            // The timeout only bounds a wait whose wake-up raced; guards notify.
            waiting =
                cv.wait_timeout(waiting, Duration::from_millis(10)).unwrap_or_else(PoisonError::into_inner).0;
        }
        Some(Closing { table: self, slot, handle: h })
    }

    /// Handles of every live instance not being closed (a snapshot).
    pub(crate) fn live_handles(&self) -> Vec<Hdrvr> {
        let mut out = Vec::new();
        let mut index = 0;
        for chunk in self.chunks.iter() {
            let Some(slots) = chunk.get() else { break };
            for slot in slots.iter() {
                let state = slot.state.load(Ordering::Acquire);
                if state & (LIVE | CLOSING) == LIVE {
                    out.push(self.encode(index, state >> 32));
                }
                index += 1;
            }
        }
        out
    }

    /// Frees a slot whose close finished and whose last guard left: bumps the
    /// generation, drops the module reference, recycles the index. Exactly one
    /// caller wins the state change, so this runs once per instance.
    fn release_if_done(&self, slot: &Slot<M>, handle: Hdrvr) {
        let state = slot.state.load(Ordering::Acquire);
        if state & CLOSED == 0 || state & COUNT_MASK != 0 {
            return;
        }
        let next = (((state >> 32) + 1) & 0xFFFF_FFFF) << 32;
        if slot.state.compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        let module = slot.module.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !module.is_null() {
            // SAFETY: the pointer came from Arc::into_raw in `insert`, and the swap
            // above hands this one reference to exactly one caller.
            drop(unsafe { Arc::from_raw(module) });
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        let index = (handle.raw() & INDEX_MASK) - 1;
        self.free.lock().unwrap_or_else(PoisonError::into_inner).reuse.push(index as u32);
    }
}

/// The module reference a guard or closer may read: stored before the slot went
/// LIVE and only taken in `release_if_done`, which cannot run while a guard or the
/// closer exists (it needs CLOSED, set by the closer, and a zero guard count).
fn slot_module<M>(slot: &Slot<M>) -> *const M {
    slot.module.load(Ordering::Acquire)
}

impl<M> Guard<'_, M> {
    /// The driver-issued id (0 until `DRV_OPEN` answered).
    pub(crate) fn id(&self) -> usize {
        self.slot.id.load(Ordering::Acquire)
    }

    /// The manager's flags for this instance.
    pub(crate) fn flags(&self) -> u8 {
        self.slot.flags.load(Ordering::Acquire)
    }

    /// The module this instance belongs to.
    pub(crate) fn module(&self) -> &M {
        // SAFETY: see `slot_module`; this guard keeps the reference alive.
        unsafe { &*slot_module(self.slot) }
    }

    /// Records the id `DRV_OPEN` answered and adds `flags` (e.g. "opened").
    pub(crate) fn set_id(&self, id: usize, flags: u8) {
        self.slot.id.store(id, Ordering::Release);
        self.slot.flags.fetch_or(flags, Ordering::AcqRel);
    }
}

impl<M> Drop for Guard<'_, M> {
    fn drop(&mut self) {
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(pos) = a.iter().rposition(|&x| x == self.handle.raw()) {
                a.remove(pos);
            }
        });
        let before = self.slot.state.fetch_sub(1, Ordering::AcqRel);
        if before & COUNT_MASK == 1 && before & (CLOSING | CLOSED) != 0 {
            let (lock, cv) = &self.table.drained;
            drop(lock.lock().unwrap_or_else(PoisonError::into_inner));
            cv.notify_all();
            self.table.release_if_done(self.slot, self.handle);
        }
    }
}

impl<M> Closing<'_, M> {
    /// The instance's handle.
    pub(crate) fn handle(&self) -> Hdrvr {
        self.handle
    }

    /// The driver-issued id.
    pub(crate) fn id(&self) -> usize {
        self.slot.id.load(Ordering::Acquire)
    }

    /// A new strong reference to the instance's module.
    pub(crate) fn module_arc(&self) -> Arc<M> {
        let ptr = slot_module(self.slot);
        // SAFETY: see `slot_module`: the slot's own reference outlives this closer,
        // so adding a strong count and adopting it is sound.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    /// Ends the close: the handle is dead from now on, and the slot is released as
    /// soon as no guard remains (at once unless a driver closed itself re-entrantly).
    pub(crate) fn finish(self) {
        self.slot.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.table.release_if_done(self.slot, self.handle);
    }
}

impl<M> Drop for HandleTable<M> {
    fn drop(&mut self) {
        for chunk in self.chunks.iter_mut().filter_map(OnceLock::get_mut) {
            for slot in chunk.iter_mut() {
                let module = std::mem::replace(slot.module.get_mut(), std::ptr::null_mut());
                if !module.is_null() {
                    // SAFETY: as in release_if_done; `&mut self` excludes every guard.
                    drop(unsafe { Arc::from_raw(module) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> HandleTable<String> {
        HandleTable::new(3)
    }

    fn close(t: &HandleTable<String>, h: Hdrvr) {
        t.begin_close(h).expect("open handle").finish();
    }

    #[test]
    fn chunk_math_is_contiguous() {
        let mut expected = (0, 0);
        for index in 0..100_000 {
            let (c, o) = split(index);
            assert_eq!((c, o), expected, "index {index}");
            expected = if o + 1 == 1 << (c as u32 + BASE_LOG2) { (c + 1, 0) } else { (c, o + 1) };
        }
        assert!(split(MAX_INSTANCES - 1).0 < CHUNKS);
    }

    #[test]
    fn insert_enter_close() {
        let t = table();
        let h = t.insert(Arc::new("m".to_string()), 5).unwrap();
        assert!(!h.is_null());
        {
            let g = t.enter(h).unwrap();
            assert_eq!(g.id(), 0);
            g.set_id(77, 2);
            assert_eq!(g.flags(), 7);
            assert_eq!(g.module(), "m");
        }
        assert_eq!(t.enter(h).unwrap().id(), 77);
        assert_eq!(t.len(), 1);
        close(&t, h);
        assert_eq!(t.len(), 0);
        assert!(t.enter(h).is_none());
        assert!(t.begin_close(h).is_none(), "double close");
        assert!(t.live_handles().is_empty());
    }

    #[test]
    fn stale_handles_never_name_new_instances() {
        let t = table();
        let m = Arc::new("m".to_string());
        let old = t.insert(m.clone(), 0).unwrap();
        close(&t, old);
        let new = t.insert(m.clone(), 0).unwrap();
        assert_ne!(old, new, "a reused slot gets a new generation");
        assert!(t.enter(old).is_none());
        assert!(t.enter(new).is_some());
        close(&t, new);
        assert_eq!(Arc::strong_count(&m), 1, "module references released");
    }

    #[test]
    fn foreign_and_random_values_are_rejected() {
        let a = table();
        let b: HandleTable<String> = HandleTable::new(4);
        let h = a.insert(Arc::new("a".into()), 0).unwrap();
        let _hb = b.insert(Arc::new("b".into()), 0).unwrap();
        assert!(b.enter(h).is_none(), "another table's handle");
        for raw in [0usize, 1, 2, usize::MAX, h.raw() + 1, h.raw() ^ (1 << 40), 0xdead_beef] {
            assert!(a.enter(Hdrvr::from_raw(raw)).is_none() || raw == h.raw(), "{raw:#x}");
        }
    }

    #[test]
    fn close_waits_for_other_threads_guards() {
        let t = Arc::new(table());
        let h = t.insert(Arc::new("m".into()), 0).unwrap();
        let entered = Arc::new(std::sync::Barrier::new(2));
        let sender = {
            let (t, entered) = (t.clone(), entered.clone());
            std::thread::spawn(move || {
                let g = t.enter(h).unwrap();
                entered.wait();
                std::thread::sleep(Duration::from_millis(50));
                drop(g);
                std::time::Instant::now()
            })
        };
        entered.wait();
        let closing = t.begin_close(h).unwrap();
        let closed_at = std::time::Instant::now();
        assert!(t.enter(h).is_none(), "closing handles take no new sends");
        closing.finish();
        let left_at = sender.join().unwrap();
        assert!(closed_at >= left_at, "close proceeded before the guard left");
    }

    #[test]
    fn reentrant_close_is_released_by_the_last_guard() {
        let t = table();
        let m = Arc::new("m".to_string());
        let h = t.insert(m.clone(), 0).unwrap();
        let outer = t.enter(h).unwrap();
        // Inside a send on `h`, the same thread closes `h`: no deadlock.
        let closing = t.begin_close(h).unwrap();
        closing.finish();
        assert!(t.enter(h).is_none());
        assert_eq!(t.len(), 1, "released only when the outer guard leaves");
        assert_eq!(Arc::strong_count(&m), 2);
        drop(outer);
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    #[test]
    fn many_instances_keep_distinct_handles() {
        let t = table();
        let m = Arc::new("m".to_string());
        let hs: Vec<_> = (0..5000).map(|_| t.insert(m.clone(), 0).unwrap()).collect();
        let set: std::collections::HashSet<_> = hs.iter().collect();
        assert_eq!(set.len(), hs.len());
        for h in &hs {
            close(&t, *h);
        }
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Insert,
            Close(usize),
            Probe(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                Just(Op::Insert),
                any::<usize>().prop_map(Op::Close),
                any::<usize>().prop_map(Op::Probe)
            ]
        }

        proptest! {
            /// Against a model: live handles always enter, closed ones never do, and
            /// no two live instances share a handle.
            #[test]
            fn table_matches_a_model(ops in prop::collection::vec(op(), 1..300)) {
                let t: HandleTable<u32> = HandleTable::new(1);
                let m = Arc::new(0u32);
                let mut live: Vec<Hdrvr> = Vec::new();
                let mut dead: Vec<Hdrvr> = Vec::new();
                for op in ops {
                    match op {
                        Op::Insert => {
                            let h = t.insert(m.clone(), 0).unwrap();
                            prop_assert!(!h.is_null());
                            prop_assert!(!live.contains(&h));
                            live.push(h);
                        }
                        Op::Close(i) if !live.is_empty() => {
                            let h = live.swap_remove(i % live.len());
                            t.begin_close(h).unwrap().finish();
                            dead.push(h);
                        }
                        Op::Probe(i) if !dead.is_empty() => {
                            let h = dead[i % dead.len()];
                            prop_assert!(t.enter(h).is_none());
                            prop_assert!(t.begin_close(h).is_none());
                        }
                        _ => {}
                    }
                    prop_assert_eq!(t.len(), live.len());
                    for h in &live {
                        prop_assert!(t.enter(*h).is_some());
                    }
                }
                for h in live.drain(..) {
                    t.begin_close(h).unwrap().finish();
                }
                prop_assert_eq!(Arc::strong_count(&m), 1);
            }
        }
    }
}
