//! The table of live driver instances, addressed by `HDRVR` values.
//!
//! A handle packs `index + 1`, a per-manager tag and the slot's generation into one
//! pointer-sized value, so it is never 0. Looking a handle up reads only atomics of
//! slots that are never freed while the table lives: a stale, forged, closed or
//! random value fails the generation/tag check instead of touching freed memory, and
//! a slot's generation changes on every reuse, so an old handle never names a new
//! instance (until the generation wraps: 2^32 reuses of one slot on 64-bit targets).
//!
//! **Sends write nothing shared.** A send *enters* a slot by announcing the handle in
//! its thread's reader record (a plain store), then checking the slot's state; a
//! close marks the state closing, then waits until no other thread announces the
//! handle. The two sides are ordered by the asymmetric barrier of [`crate::barrier`],
//! so the send path has no atomic read-modify-write and no shared cache line write,
//! and sends from many threads, to one handle or many, do not slow each other down.
//! The expensive barrier is paid only when closing an instance that has been sent to
//! (the first send marks it, once); opening and closing an instance nobody sent to
//! stays cheap.
//!
//! A close therefore never lets the driver be called for an instance after its
//! `DRV_CLOSE`. A close from inside a send on the same handle (a driver closing
//! itself) cannot wait for its own callers: it turns their announcements into counted
//! references, and the slot (and with it the module, and its mapping) is released by
//! whichever of them returns last. Sends nested deeper than a reader record holds also
//! use counted references.
//!
//! Slots live in fixed-size chunks that never move, found by shifting the index, so
//! lookups take no lock and open/close cost does not grow with the number of open
//! instances. Chunks are allocated zeroed, so memory is committed only for the pages
//! of slots actually used.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use drvproc::Hdrvr;

use crate::barrier;

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
/// Most instances one table holds at once. The last index is never used, so that
/// `CONVERTED` (all ones) can never be a live handle.
pub(crate) const MAX_INSTANCES: usize = INDEX_MASK - 1;

// Slot state: generation in the high 32 bits, then flags, then the counted references.
const LIVE: u64 = 1 << 31;
const CLOSING: u64 = 1 << 30;
const CLOSED: u64 = 1 << 29;
/// Some send entered this instance: closing it must synchronise with senders.
const SENT: u64 = 1 << 28;
const COUNT_MASK: u64 = (1 << 28) - 1;

/// Slots per chunk (a power of two; the index's high bits select the chunk). A chunk
/// is allocated zeroed, so its pages are committed only as slots are used.
#[cfg(target_pointer_width = "64")]
const CHUNK_LOG2: u32 = 16;
#[cfg(not(target_pointer_width = "64"))]
const CHUNK_LOG2: u32 = 10;
const CHUNK_LEN: usize = 1 << CHUNK_LOG2;
const CHUNKS: usize = 1 << (bits::INDEX - CHUNK_LOG2);

/// Per-instance data the table holds for the manager. All-zero is the empty slot
/// (chunks are allocated zeroed).
pub(crate) struct Slot<M> {
    state: AtomicU64,
    /// The driver-issued id (`dwDriverId`); 0 until `DRV_OPEN` answers.
    id: AtomicUsize,
    /// One strong reference of the instance's module (`Arc::into_raw`), or null.
    module: AtomicPtr<M>,
    /// Manager-defined flags (e.g. the session-instance mark).
    flags: AtomicU8,
}

/// How deeply one thread's sends may nest before they use counted references.
const DEPTH: usize = 8;

/// One thread's announcements: the handles it is inside a send to. Written only by
/// its thread, read by closers. Aligned so that no two threads' records share a cache
/// line (or an adjacent-line prefetch pair): sends from different threads must not
/// write the same line.
#[repr(align(128))]
struct Record {
    active: [AtomicUsize; DEPTH],
}

/// What a re-entrant close writes over its own thread's entries for the handle: the
/// send that owns the entry now holds a counted reference instead. No handle has this
/// value (its index part is never allocated, see `MAX_INSTANCES`).
const CONVERTED: usize = usize::MAX;

/// Every record ever handed out (records of exited threads are reused, never freed).
struct Records {
    all: Vec<&'static Record>,
    idle: Vec<&'static Record>,
}

fn records() -> MutexGuard<'static, Records> {
    static RECORDS: Mutex<Records> = Mutex::new(Records { all: Vec::new(), idle: Vec::new() });
    RECORDS.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// This thread's record, once it has one. Const-initialised and without a
    /// destructor, so reading it is a plain thread-local load on the send path.
    static RECORD: Cell<Option<&'static Record>> = const { Cell::new(None) };
    /// Returns the record to the pool when the thread exits (set up once, cold).
    static OWNER: RefCell<Option<Owner>> = const { RefCell::new(None) };
    /// Handles this thread holds counted references to (sends nested past `DEPTH`).
    static DEEP: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

struct Owner(&'static Record);

impl Drop for Owner {
    fn drop(&mut self) {
        // Guards never outlive their thread's stack, so every entry is 0 here.
        RECORD.with(|r| r.set(None));
        records().idle.push(self.0);
    }
}

#[inline(always)]
fn my_record() -> &'static Record {
    match RECORD.with(Cell::get) {
        Some(record) => record,
        None => register_thread(),
    }
}

#[cold]
fn register_thread() -> &'static Record {
    let record = {
        let mut records = records();
        records.idle.pop().unwrap_or_else(|| {
            let record: &'static Record =
                Box::leak(Box::new(Record { active: std::array::from_fn(|_| AtomicUsize::new(0)) }));
            records.all.push(record);
            record
        })
    };
    RECORD.with(|r| r.set(Some(record)));
    OWNER.with(|o| *o.borrow_mut() = Some(Owner(record)));
    record
}

/// The table; `M` is the module type each instance references.
pub(crate) struct HandleTable<M> {
    /// Chunk pointers (null until first used); a chunk is `CHUNK_LEN` slots, allocated
    /// zeroed under the free-list lock and freed with the table.
    chunks: [AtomicPtr<Slot<M>>; CHUNKS],
    free: Mutex<FreeList>,
    tag: usize,
    /// [`barrier::expedited`], fixed before the table exists.
    expedited: bool,
    live: AtomicUsize,
}

struct FreeList {
    reuse: Vec<u32>,
    next_fresh: usize,
}

/// Presence in a live slot; the slot's data stays valid while it exists.
pub(crate) struct Guard<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
    /// The reader-record entry it announced in, or `None` for a counted reference.
    entry: Option<&'static AtomicUsize>,
}

/// A slot marked closing by [`HandleTable::begin_close`]: only its holder may finish it.
pub(crate) struct Closing<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
}

fn split(index: usize) -> (usize, usize) {
    (index >> CHUNK_LOG2, index & (CHUNK_LEN - 1))
}

fn valid(state: u64, generation: u64) -> bool {
    (state >> 32) & GEN_MASK == generation && state & (LIVE | CLOSING) == LIVE
}

/// Waits a little longer each time: sends are usually short, drivers sometimes not.
fn backoff(round: &mut u32) {
    *round += 1;
    match *round {
        0..=64 => std::hint::spin_loop(),
        65..=128 => std::thread::yield_now(),
        _ => std::thread::sleep(Duration::from_micros(50)),
    }
}

impl<M> HandleTable<M> {
    /// An empty table whose handles carry `tag` (distinguishes managers).
    pub(crate) fn new(tag: usize) -> Self {
        barrier::init();
        HandleTable {
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            free: Mutex::new(FreeList { reuse: Vec::new(), next_fresh: 0 }),
            tag: tag & TAG_MASK,
            expedited: barrier::expedited(),
            live: AtomicUsize::new(0),
        }
    }

    /// Number of live instances.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn slot(&self, index: usize) -> Option<&Slot<M>> {
        let (chunk, offset) = split(index);
        // `index` < 2^INDEX, so `chunk` < CHUNKS: the mask only lets the compiler see it.
        let base = self.chunks[chunk & (CHUNKS - 1)].load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer points to CHUNK_LEN initialised slots that
        // live as long as the table (published with Release in `slot_or_grow`), and
        // offset < CHUNK_LEN.
        Some(unsafe { &*base.add(offset) })
    }

    /// The slot for a freshly allocated index; its chunk is created if needed. Called
    /// with the free-list lock held, so chunks are created once.
    fn slot_or_grow(&self, index: usize) -> &Slot<M> {
        let (chunk, offset) = split(index);
        let cell = &self.chunks[chunk];
        let mut base = cell.load(Ordering::Acquire);
        if base.is_null() {
            // SAFETY: every field of Slot is an atomic integer or pointer, for which
            // all-zero bytes are a valid value (0, or the null pointer).
            let slots = unsafe { Box::<[Slot<M>]>::new_zeroed_slice(CHUNK_LEN).assume_init() };
            base = Box::into_raw(slots).cast::<Slot<M>>();
            cell.store(base, Ordering::Release);
        }
        // SAFETY: as in `slot`.
        unsafe { &*base.add(offset) }
    }

    fn encode(&self, index: usize, generation: u64) -> Hdrvr {
        let generation = (generation & GEN_MASK) as usize;
        Hdrvr::from_raw((index + 1) | (self.tag << bits::INDEX) | (generation << GEN_SHIFT))
    }

    /// The slot and generation a handle claims, if it is of this table's shape.
    #[inline]
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
        let (index, slot) = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let index = match free.reuse.pop() {
                Some(i) => i as usize,
                None if free.next_fresh < MAX_INSTANCES => {
                    free.next_fresh += 1;
                    free.next_fresh - 1
                }
                None => return None,
            };
            (index, self.slot_or_grow(index))
        };
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
    ///
    /// The common case (not nested, instance already sent to) is inlined: a decode,
    /// one thread-local load, one store, one load of the slot state. Everything else
    /// is out of line.
    #[inline(always)]
    pub(crate) fn enter(&self, h: Hdrvr) -> Option<Guard<'_, M>> {
        let (slot, generation) = self.decode(h)?;
        let record = my_record();
        let entry = &record.active[0];
        if entry.load(Ordering::Relaxed) != 0 {
            return self.enter_nested(slot, generation, h, record);
        }
        entry.store(h.raw(), Ordering::Relaxed);
        barrier::light(self.expedited);
        let state = slot.state.load(Ordering::Acquire);
        if valid(state, generation) && state & SENT != 0 {
            return Some(Guard { table: self, slot, handle: h, entry: Some(entry) });
        }
        self.enter_marking(slot, generation, h, entry, state)
    }

    /// Runs `f` with the module and id of the live, not-closing instance `h` names,
    /// inside the same protection as [`enter`](Self::enter); `None` for any other value.
    ///
    /// This is the send path: the common case keeps everything in locals (a returned
    /// guard would be spilled and reloaded, which costs more than the rest together).
    #[inline(always)]
    pub(crate) fn with_entered<R>(&self, h: Hdrvr, f: impl FnOnce(&M, usize) -> R) -> Option<R> {
        let (slot, generation) = self.decode(h)?;
        let record = my_record();
        let entry = &record.active[0];
        if entry.load(Ordering::Relaxed) == 0 {
            entry.store(h.raw(), Ordering::Relaxed);
            barrier::light(self.expedited);
            let state = slot.state.load(Ordering::Acquire);
            // One compare: this generation, live, not closing, already sent to.
            const FAST_MASK: u64 = (GEN_MASK << 32) | LIVE | CLOSING | SENT;
            if state & FAST_MASK == (generation << 32) | LIVE | SENT {
                let exit = Exit { table: self, slot, handle: h, entry };
                // SAFETY: see `slot_module`; the announcement keeps the reference alive
                // until `exit` is dropped.
                let module = unsafe { &*slot_module(slot) };
                let answer = f(module, slot.id.load(Ordering::Acquire));
                drop(exit);
                return Some(answer);
            }
            // Not the common case: undo and take the general path.
            entry.store(0, Ordering::Relaxed);
        }
        let guard = self.enter(h)?;
        Some(f(guard.module(), guard.id()))
    }

    /// A send nested inside another on this thread: the next free entry.
    #[cold]
    #[inline(never)]
    fn enter_nested<'t>(
        &'t self,
        slot: &'t Slot<M>,
        generation: u64,
        h: Hdrvr,
        record: &'static Record,
    ) -> Option<Guard<'t, M>> {
        // Entries are freed in any order; 0 is free, as no handle is 0.
        let Some(entry) = record.active.iter().find(|a| a.load(Ordering::Relaxed) == 0) else {
            return self.enter_counted(slot, generation, h);
        };
        entry.store(h.raw(), Ordering::Relaxed);
        barrier::light(self.expedited);
        let state = slot.state.load(Ordering::Acquire);
        self.enter_marking(slot, generation, h, entry, state)
    }

    /// Finishes an announced enter: rejects a dead or closing instance, and marks the
    /// first send to an instance (once), so its close knows to synchronise with senders.
    #[inline(never)]
    fn enter_marking<'t>(
        &'t self,
        slot: &'t Slot<M>,
        generation: u64,
        h: Hdrvr,
        entry: &'static AtomicUsize,
        mut state: u64,
    ) -> Option<Guard<'t, M>> {
        loop {
            if !valid(state, generation) {
                entry.store(0, Ordering::Relaxed);
                return None;
            }
            if state & SENT != 0 {
                return Some(Guard { table: self, slot, handle: h, entry: Some(entry) });
            }
            match slot.state.compare_exchange_weak(state, state | SENT, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Guard { table: self, slot, handle: h, entry: Some(entry) }),
                Err(now) => state = now,
            }
        }
    }

    /// The slow path for deeply nested sends: a counted reference in the slot state.
    #[cold]
    fn enter_counted<'t>(&'t self, slot: &'t Slot<M>, generation: u64, h: Hdrvr) -> Option<Guard<'t, M>> {
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if !valid(state, generation) || state & COUNT_MASK == COUNT_MASK {
                return None;
            }
            match slot.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    DEEP.with(|deep| deep.borrow_mut().push(h.raw()));
                    return Some(Guard { table: self, slot, handle: h, entry: None });
                }
                Err(now) => state = now,
            }
        }
    }

    /// Marks `h` closing so no new send enters it, then waits until every send other
    /// threads are making to it has returned. `None` if `h` is not a live, open
    /// instance (already closing, closed, stale or forged): exactly one closer wins.
    pub(crate) fn begin_close(&self, h: Hdrvr) -> Option<Closing<'_, M>> {
        let (slot, generation) = self.decode(h)?;
        let mut state = slot.state.load(Ordering::Acquire);
        let before = loop {
            if !valid(state, generation) {
                return None;
            }
            match slot.state.compare_exchange_weak(
                state,
                state | CLOSING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(before) => break before,
                Err(now) => state = now,
            }
        };
        // Counted references this thread holds are its callers, like its own
        // announcements below: they cannot return before this close does.
        let own_deep = DEEP.with(|deep| deep.borrow().iter().filter(|&&x| x == h.raw()).count()) as u64;
        let mut own = own_deep;
        if before & SENT != 0 {
            barrier::heavy();
            // This thread's own sends to `h` become counted references that release
            // the slot when the last of them returns.
            let mine = my_record();
            let mut converted = 0;
            for entry in &mine.active {
                if entry.load(Ordering::Relaxed) == h.raw() {
                    entry.store(CONVERTED, Ordering::Relaxed);
                    converted += 1;
                }
            }
            if converted > 0 {
                slot.state.fetch_add(converted, Ordering::AcqRel);
                own += converted;
            }
            let others: Vec<&'static Record> =
                records().all.iter().copied().filter(|r| !std::ptr::eq(*r, mine)).collect();
            let mut round = 0;
            while others.iter().any(|r| r.active.iter().any(|a| a.load(Ordering::Acquire) == h.raw())) {
                backoff(&mut round);
            }
        }
        self.wait_counted(slot, own);
        Some(Closing { table: self, slot, handle: h })
    }

    /// Waits until the counted references of other threads are gone.
    fn wait_counted(&self, slot: &Slot<M>, own: u64) {
        let mut round = 0;
        while slot.state.load(Ordering::Acquire) & COUNT_MASK > own {
            backoff(&mut round);
        }
    }

    /// The flags of the live, not-closing instance `h` names, without entering it (so
    /// without marking it as sent to). A snapshot: use [`begin_close`](Self::begin_close)
    /// to act on the instance atomically.
    pub(crate) fn peek_flags(&self, h: Hdrvr) -> Option<u8> {
        let (slot, generation) = self.decode(h)?;
        let flags = slot.flags.load(Ordering::Acquire);
        valid(slot.state.load(Ordering::Acquire), generation).then_some(flags)
    }

    /// Records the id `DRV_OPEN` answered and adds `flags`, for the instance's opener,
    /// which owns it until then (no one else can close it), so no entering is needed.
    /// False if the handle is not live (cannot happen for the opener).
    pub(crate) fn set_opened(&self, h: Hdrvr, id: usize, flags: u8) -> bool {
        let Some((slot, generation)) = self.decode(h) else { return false };
        if !valid(slot.state.load(Ordering::Acquire), generation) {
            return false;
        }
        slot.id.store(id, Ordering::Release);
        slot.flags.fetch_or(flags, Ordering::AcqRel);
        true
    }

    /// Handles of every live instance not being closed (a snapshot).
    pub(crate) fn live_handles(&self) -> Vec<Hdrvr> {
        let used = self.free.lock().unwrap_or_else(PoisonError::into_inner).next_fresh;
        (0..used)
            .filter_map(|index| {
                let state = self.slot(index)?.state.load(Ordering::Acquire);
                (state & (LIVE | CLOSING) == LIVE).then(|| self.encode(index, state >> 32))
            })
            .collect()
    }

    /// Drops one counted reference; the last one after a close releases the slot.
    #[cold]
    fn leave_counted(&self, slot: &Slot<M>, handle: Hdrvr) {
        let before = slot.state.fetch_sub(1, Ordering::AcqRel);
        if before & COUNT_MASK == 1 && before & CLOSED != 0 {
            self.release_if_done(slot, handle);
        }
    }

    /// Frees a slot whose close finished and whose counted references are gone:
    /// bumps the generation, drops the module reference, recycles the index. Exactly
    /// one caller wins the state change, so this runs once per instance.
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
/// closer exists (a closer waits for announced guards and needs CLOSED and a zero
/// count, and counted guards keep the count above zero).
fn slot_module<M>(slot: &Slot<M>) -> *const M {
    slot.module.load(Ordering::Acquire)
}

impl<M> Guard<'_, M> {
    /// The driver-issued id (0 until `DRV_OPEN` answered).
    #[inline]
    pub(crate) fn id(&self) -> usize {
        self.slot.id.load(Ordering::Acquire)
    }

    /// The module this instance belongs to.
    #[inline]
    pub(crate) fn module(&self) -> &M {
        // SAFETY: see `slot_module`; this guard keeps the reference alive.
        unsafe { &*slot_module(self.slot) }
    }
}

impl<M> Drop for Guard<'_, M> {
    #[inline]
    fn drop(&mut self) {
        let counted = match self.entry {
            Some(entry) => {
                // Only this thread writes its entries (a re-entrant close on this
                // thread may have turned this one into a counted reference).
                let converted = entry.load(Ordering::Relaxed) == CONVERTED;
                entry.store(0, Ordering::Release);
                converted
            }
            None => {
                DEEP.with(|deep| {
                    let mut deep = deep.borrow_mut();
                    if let Some(pos) = deep.iter().rposition(|&x| x == self.handle.raw()) {
                        deep.remove(pos);
                    }
                });
                true
            }
        };
        if counted {
            self.table.leave_counted(self.slot, self.handle);
        }
    }
}

/// The end of a fast-path send: frees the announcement (dropped on unwind too).
struct Exit<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
    entry: &'static AtomicUsize,
}

impl<M> Drop for Exit<'_, M> {
    #[inline(always)]
    fn drop(&mut self) {
        // Only this thread writes its entries; a re-entrant close on this thread may
        // have turned this one into a counted reference.
        let converted = self.entry.load(Ordering::Relaxed) == CONVERTED;
        self.entry.store(0, Ordering::Release);
        if converted {
            self.table.leave_counted(self.slot, self.handle);
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
    /// soon as no counted reference remains (at once unless a driver closed itself
    /// from inside a send).
    pub(crate) fn finish(self) {
        self.slot.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.table.release_if_done(self.slot, self.handle);
    }
}

impl<M> Drop for HandleTable<M> {
    fn drop(&mut self) {
        for cell in self.chunks.iter_mut() {
            let base = std::mem::replace(cell.get_mut(), std::ptr::null_mut());
            if base.is_null() {
                continue;
            }
            // SAFETY: `base` came from Box::into_raw of a CHUNK_LEN slice in
            // `slot_or_grow`, and `&mut self` excludes every other user.
            let mut slots = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(base, CHUNK_LEN)) };
            for slot in slots.iter_mut() {
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
    fn chunk_math_covers_every_index_once() {
        assert_eq!(split(0), (0, 0));
        assert_eq!(split(CHUNK_LEN - 1), (0, CHUNK_LEN - 1));
        assert_eq!(split(CHUNK_LEN), (1, 0));
        assert!(split(MAX_INSTANCES - 1).0 < CHUNKS);
        let t = table();
        let m = Arc::new("m".to_string());
        let hs: Vec<_> = (0..CHUNK_LEN + 10).map(|_| t.insert(m.clone(), 0).unwrap()).collect();
        assert_eq!(t.live_handles(), hs, "every slot reachable, across the chunk boundary");
    }

    #[test]
    fn insert_enter_close() {
        let t = table();
        let h = t.insert(Arc::new("m".to_string()), 5).unwrap();
        assert!(!h.is_null());
        {
            let g = t.enter(h).unwrap();
            assert_eq!(g.id(), 0);
            assert_eq!(g.module(), "m");
        }
        assert!(t.set_opened(h, 77, 2));
        assert_eq!(t.peek_flags(h), Some(7));
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
    fn deep_nesting_falls_back_to_counted_references() {
        let t = table();
        let m = Arc::new("m".to_string());
        let h = t.insert(m.clone(), 0).unwrap();
        let guards: Vec<_> = (0..DEPTH + 4).map(|_| t.enter(h).unwrap()).collect();
        assert_eq!(guards.iter().filter(|g| g.entry.is_none()).count(), 4);
        // A close from inside all of them (re-entrant): no deadlock, released last.
        t.begin_close(h).unwrap().finish();
        assert!(t.enter(h).is_none());
        assert_eq!(t.len(), 1);
        drop(guards);
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
        // The reader record is clean again: a new instance enters on the fast path.
        let h2 = t.insert(m.clone(), 0).unwrap();
        let g = t.enter(h2).unwrap();
        assert!(std::ptr::eq(g.entry.unwrap(), &my_record().active[0]));
    }

    #[test]
    fn closes_race_senders_on_many_threads() {
        use std::sync::atomic::AtomicBool;
        let t = Arc::new(table());
        let m = Arc::new("m".to_string());
        for _ in 0..50 {
            let h = t.insert(m.clone(), 0).unwrap();
            let closed = Arc::new(AtomicBool::new(false));
            let senders: Vec<_> = (0..3)
                .map(|_| {
                    let (t, closed) = (t.clone(), closed.clone());
                    std::thread::spawn(move || {
                        let mut entered = 0;
                        while let Some(g) = t.enter(h) {
                            // Nothing may be inside after the close began.
                            assert!(!closed.load(Ordering::SeqCst), "entered after close");
                            std::hint::black_box(g.id());
                            entered += 1;
                            drop(g);
                        }
                        entered
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_micros(200));
            let closing = t.begin_close(h).unwrap();
            closed.store(true, Ordering::SeqCst);
            closing.finish();
            for s in senders {
                s.join().unwrap();
            }
        }
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
