//! The table of live driver instances, addressed by `HDRVR` values.
//!
//! A handle packs the slot's index (slot 0 is never used, so no handle is 0), the
//! table's identity and the slot's generation into one pointer-sized value. Looking a handle up reads only atomics of slots that are
//! never freed while the table lives: a stale, forged, closed or random value fails
//! the identity/generation check instead of touching freed memory.
//!
//! **What a handle is guaranteed never to name.** Identities ([`crate::identity`])
//! are never 0, so the first handles of a process are large numbers, not device
//! numbers, and no live table — of this copy of the library or, on 64-bit Linux, of
//! any other copy loaded in the process — accepts another's handles (elsewhere two
//! copies draw identities from random starting points: unlikely to meet, not
//! impossible). An identity is reused only
//! after its table is gone, and the new table's generations start above every
//! generation the old one issued, so a dead table's handles are refused too. A slot
//! whose generation would wrap is retired instead of reused. Together: **a handle,
//! once closed, never again names an instance of any table in the process.** The
//! price is capacity. On 64-bit Linux (24-bit index, 23-bit identity, 17-bit
//! generation) a slot retires after 2^17 reuses, so one table can hand out 2^41
//! handles in its life (over three days of back-to-back open+close at full speed;
//! retired slots cost 32 bytes each). Elsewhere on 64-bit targets the identity has
//! 16 bits and the generation 24; on 32-bit targets (14/6/12 bits) a table can hand
//! out 2^26 handles and at most 63 tables live at once.
//!
//! **Sends write nothing shared.** A send *enters* a slot by announcing it in its
//! thread's reader record ([`crate::records`], a plain store), then checking the
//! slot's state; a close marks the state closing, then waits until no other thread
//! announces the slot. The two sides are ordered by the asymmetric barrier of
//! [`crate::barrier`], so the send path has no atomic read-modify-write and no shared
//! cache line write. A send leaving a slot marked closing wakes the parked closer.
//! The expensive barrier is paid only when closing an instance that has been sent to
//! (the first send marks it, once).
//!
//! **The pass.** The common send checks neither the table's identity nor the state
//! word: it finds the slot from the handle's index bits alone (any index names memory
//! of this table, or no chunk), announces it, and compares the slot's `pass` with the
//! whole handle. `pass` holds the instance's handle exactly while the instance is
//! live, not closing and marked sent, and sends are fence-free; any other value
//! (`NO_PASS`, `PASS_CLOSED`, a later occupant's handle) sends the caller down the
//! general path, which decodes and checks everything. So one compare stands for the
//! identity, generation and state checks. Its transitions:
//! * `NO_PASS` → handle: by a send that saw the state live and marked sent, with a
//!   compare-and-swap from `NO_PASS`, so it cannot overwrite `PASS_CLOSED`;
//! * anything → `PASS_CLOSED`: by the closer, right after its compare-and-swap marks
//!   the state closing and *before* its barrier, so the barrier orders it exactly as
//!   it orders the closing mark (a send either sees `PASS_CLOSED`, or is seen by the
//!   closer's scan of reader records). The send that set the handle had marked the
//!   instance sent before the closer's compare-and-swap, so the closer does take the
//!   barrier;
//! * `PASS_CLOSED` → `NO_PASS`: when a failed close reopens the slot, or when the slot
//!   is released (before its index can be reused, so a new occupant starts at
//!   `NO_PASS`).
//!
//! When sends use full fences (no process-wide barrier: an old kernel, a filtered
//! `membarrier`, Wine), the pass given is the handle with the `FENCED` bit flipped
//! instead. The one compare then always fails, and the way out of it checks for that
//! value, fences, and checks again: a fenced common case, out of line, that costs the
//! fence-free one nothing. Flipping an index bit keeps the rule that no value naming
//! a slot equals its pass unless it is the live handle.
//!
//! A handle is never issued twice, so a stale handle never equals a later pass.
//! Leaving mirrors entering: clear the entry, then compare `pass` again; anything but
//! the handle means a closer may be waiting (or this send was turned into a counted
//! reference by a re-entrant close, which always sets `PASS_CLOSED` first).
//!
//! A close therefore never lets the driver be called for an instance after its
//! `DRV_CLOSE`. A close from inside a send on the same slot (a driver closing itself)
//! cannot wait for its own callers: it turns their announcements into counted
//! references, and the slot (and with it the module, and its mapping) is released by
//! whichever of them returns last. Sends nested deeper than a reader record holds also
//! use counted references. A close that would wait for a send whose thread is itself
//! waiting, through other closes, for a send this thread is inside fails with
//! [`CloseFailure::WouldDeadlock`] and leaves the instance open — unless it can be
//! *deferred* ([`HandleTable::begin_close_or_defer`]): then, after a bounded wait or
//! at such a cycle, the slot stays closing and its completion is run by whichever
//! send to it returns last (each leaving send that sees the slot closing checks,
//! after a full fence, whether any other is left; exactly one takes the completion).
//!
//! Slots live in fixed-size chunks that never move, found by shifting the index, so
//! lookups take no lock and open/close cost does not grow with the number of open
//! instances. Chunks are allocated zeroed, so memory is committed only for the pages
//! of slots actually used.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, compiler_fence, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use drvproc::Hdrvr;

use crate::barrier;
use crate::error::TooManyManagers;
use crate::identity;
use crate::records::{self, CONVERTED, Record};

#[cfg(target_pointer_width = "64")]
mod bits {
    pub const INDEX: u32 = 24;
}
#[cfg(not(target_pointer_width = "64"))]
mod bits {
    pub const INDEX: u32 = 14;
}
const INDEX_MASK: usize = (1 << bits::INDEX) - 1;
const GEN_SHIFT: u32 = bits::INDEX + identity::BITS;
/// The largest generation a handle can carry.
const GEN_MAX: u64 = (usize::MAX >> GEN_SHIFT) as u64;
/// Most instances one table can ever hold at once.
pub(crate) const MAX_INSTANCES: usize = INDEX_MASK;

// Slot state: the slot's generation (as handles carry it) in the high 32 bits, then
// the table's flags, the manager's flags, and the counted references. The manager's
// flags live in the same word as LIVE and the generation, so a closer checks them in
// the very compare-and-swap that starts the close, and a reused slot starts with none.
const LIVE: u64 = 1 << 31;
const CLOSING: u64 = 1 << 30;
const CLOSED: u64 = 1 << 29;
/// Some send entered this instance: closing it must synchronise with senders.
const SENT: u64 = 1 << 28;
/// The manager's flags (`u8`, of which 4 bits are used).
const FLAGS_SHIFT: u32 = 24;
const FLAGS_MASK: u64 = 0xF << FLAGS_SHIFT;
const COUNT_MASK: u64 = (1 << FLAGS_SHIFT) - 1;

/// What the pointer of every unused chunk points to: a chunk of empty slots, so that
/// finding a slot needs no test for a missing chunk. Nothing ever writes it: every
/// write to a slot needs the slot live (or closing), and `insert` makes slots live
/// only in allocated chunks. Atomics, so it lives in zero-filled writable memory that
/// costs nothing until read, rather than in the library's file.
pub(crate) static EMPTY_CHUNK: [EmptySlot; CHUNK_LEN] = [const { EmptySlot::new() }; CHUNK_LEN];

/// A [`Slot`]'s layout, for [`EMPTY_CHUNK`] (a static cannot be generic).
#[repr(C)]
pub(crate) struct EmptySlot {
    _state: AtomicU64,
    _pass: AtomicUsize,
    _id: AtomicUsize,
    _module: AtomicPtr<()>,
}

impl EmptySlot {
    const fn new() -> Self {
        EmptySlot {
            _state: AtomicU64::new(0),
            _pass: AtomicUsize::new(0),
            _id: AtomicUsize::new(0),
            _module: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

const _: () = assert!(
    std::mem::size_of::<EmptySlot>() == std::mem::size_of::<Slot<()>>()
        && std::mem::align_of::<EmptySlot>() == std::mem::align_of::<Slot<()>>()
);

/// A table's chunk pointers.
pub(crate) type Chunks<M> = [AtomicPtr<Slot<M>>; CHUNKS];

/// [`EMPTY_CHUNK`] as a chunk pointer of any table.
fn empty_chunk<M>() -> *mut Slot<M> {
    // Same layout (checked above; `Slot<M>`'s does not depend on `M`), and all-zero
    // atomics are empty slots. Only ever read through the pointer.
    EMPTY_CHUNK.as_ptr().cast_mut().cast::<Slot<M>>()
}

/// The slot at `index` of the table whose chunk pointers are `chunks`: an empty one
/// of [`EMPTY_CHUNK`] if its chunk is unused.
#[inline(always)]
fn slot_in<M>(chunks: &Chunks<M>, index: usize) -> &Slot<M> {
    let (chunk, offset) = split(index);
    // `index` < 2^INDEX, so `chunk` < CHUNKS: the mask only lets the compiler see it.
    let base = chunks[chunk & (CHUNKS - 1)].load(Ordering::Acquire);
    // SAFETY: a chunk pointer points to CHUNK_LEN initialised slots that live as long
    // as the table (published with Release in `slot_or_grow`) or to the static
    // EMPTY_CHUNK of as many, and offset < CHUNK_LEN.
    unsafe { &*base.add(offset) }
}

/// [`HandleTable::enter_with_pass`] given only the table's chunk pointers: the
/// announcement as [`ExitParts`], which need the table back only on the rare ways
/// out (so a caller with the table at a fixed place keeps it out of registers).
#[inline(always)]
pub(crate) fn enter_with_pass_in<M>(
    chunks: &Chunks<M>,
    h: Hdrvr,
) -> Result<ExitParts<M>, Option<ExitParts<M>>> {
    let index = h.raw() & INDEX_MASK;
    // Slot 0 is never used, and may be all zero (an unused chunk, or a table's first
    // chunk), where the pass is `NO_PASS`: a value with index bits 0 could equal it
    // (the NULL handle does). Any other slot's pass has other index bits than its
    // own unless it is the live handle (see "The pass").
    if index == 0 {
        return Err(None);
    }
    let slot = slot_in(chunks, index);
    let entry = &records::current_or_placeholder().active[0];
    if entry.load(Ordering::Relaxed) != 0 {
        return Err(None);
    }
    entry.store(slot.key(), Ordering::Relaxed);
    // Only a compiler fence: a pass is only ever set while sends are fence-free
    // (`mark_sent`), and the closer's barrier does the rest.
    compiler_fence(Ordering::SeqCst);
    let parts = ExitParts { slot: std::ptr::from_ref(slot), entry, _not_send: PhantomData };
    if slot.pass.load(Ordering::Acquire) == h.raw() { Ok(parts) } else { Err(Some(parts)) }
}

/// [`Slot::pass`] before the first send, and always when sends use full fences.
/// Its index bits are 0: only a value that names slot 0, which is never used (and
/// which the common case refuses before looking), could equal it.
const NO_PASS: usize = 0;
/// [`Slot::pass`] from the moment a close starts until the slot is reused. Its index
/// bits are 0 too, so no value that reaches a used slot equals it; its identity bits
/// are 0 as well, so it is not a handle with [`FENCED`] flipped either.
const PASS_CLOSED: usize = 1 << GEN_SHIFT;
/// The bit flipped in the pass given while sends use full fences. An index bit: the
/// flipped value names another slot than the one it is the pass of, so the one
/// compare never takes it for a handle. The top one, so that only the slot it names
/// (the 2^23rd on 64-bit targets, rarely reached) has a flipped pass with index bits
/// 0, which could equal `NO_PASS` or [`PASS_CLOSED`]: the fenced check refuses it,
/// and that slot's instance goes the general way.
const FENCED: usize = 1 << (bits::INDEX - 1);

/// Slots per chunk (a power of two; the index's high bits select the chunk).
#[cfg(target_pointer_width = "64")]
const CHUNK_LOG2: u32 = 16;
#[cfg(not(target_pointer_width = "64"))]
const CHUNK_LOG2: u32 = 10;
const CHUNK_LEN: usize = 1 << CHUNK_LOG2;
pub(crate) const CHUNKS: usize = 1 << (bits::INDEX - CHUNK_LOG2);

/// Per-instance data the table holds for the manager. All-zero is the empty slot
/// (chunks are allocated zeroed). 32 bytes, so a slot's address is a shift away from
/// its index.
#[repr(C)]
pub(crate) struct Slot<M> {
    state: AtomicU64,
    /// The one handle value a send may enter this slot with by a single compare (see
    /// "The pass" in the module docs): the instance's handle while it is live, not
    /// closing and already sent to, with sends fence-free; [`NO_PASS`] or
    /// [`PASS_CLOSED`] otherwise.
    pass: AtomicUsize,
    /// The driver-issued id (`dwDriverId`); 0 until `DRV_OPEN` answers.
    id: AtomicUsize,
    /// One strong reference of the instance's module (`Arc::into_raw`), or null.
    module: AtomicPtr<M>,
}

impl<M> Slot<M> {
    /// What reader records hold for this slot: its address, unique in the process
    /// while the table lives (a table cannot go while a guard borrows it).
    fn key(&self) -> usize {
        self as *const Self as usize
    }
}

/// What finishes a deferred close, given the slot's [`Closing`] (see
/// [`HandleTable::begin_close_or_defer`]).
pub(crate) type Completion<M> = Box<dyn for<'t> FnOnce(Closing<'t, M>) + Send>;

/// How [`HandleTable::begin_close_or_defer`] started a close.
pub(crate) enum Started<'t, M> {
    /// No other send is inside: finish it now.
    Now(Closing<'t, M>),
    /// Sends are still inside: the completion runs when the last returns.
    Deferred,
}

/// Why [`HandleTable::begin_close`] did not start a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseFailure {
    /// The handle names no live, open instance of this table.
    BadHandle,
    /// Waiting would close a cycle of closes (see the module docs); the instance is
    /// left open and usable.
    WouldDeadlock,
}

/// The table; `M` is the module type each instance references.
pub(crate) struct HandleTable<M> {
    /// Chunk pointers ([`EMPTY_CHUNK`] until first used); a chunk is `CHUNK_LEN`
    /// slots, allocated zeroed under the free-list lock and freed with the table.
    /// Every send reads them; on cache lines of their own, so that the free list and
    /// the count, which every open and close writes, do not share one with them.
    chunks: Aligned<Chunks<M>>,
    free: Mutex<FreeList>,
    /// The table's identity (see [`crate::identity`]), in every handle it issues.
    id: usize,
    /// The generation a never-used slot starts at (above every generation an earlier
    /// table with this identity issued).
    base: u64,
    /// [`barrier::expedited`], fixed before the table exists.
    expedited: bool,
    live: AtomicUsize,
    /// Most instances at once (a constructor parameter, so the full path is testable).
    capacity: usize,
    /// Completions of deferred closes, by slot key (see
    /// [`begin_close_or_defer`](Self::begin_close_or_defer)).
    /// The closing handle is kept with its completion: the sender that happens to run
    /// it may have come with another value that names the same slot (a stale handle,
    /// or another table's with the same index bits, both refused).
    pending: Mutex<Vec<(usize, Hdrvr, Completion<M>)>>,
    /// The table owns `Arc<M>`s (through raw pointers): it is `Send`/`Sync` only when
    /// `Arc<M>` is.
    _owns: PhantomData<Arc<M>>,
}

/// A value on cache lines of its own (and not beside the prefetcher's pair line).
#[repr(align(128))]
struct Aligned<T>(T);

impl<T> std::ops::Deref for Aligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

struct FreeList {
    reuse: Vec<u32>,
    /// The lowest index never used (slot 0 is never used: no handle is 0).
    next_fresh: usize,
}

/// Presence in a live slot; the slot's data stays valid while it exists. It cannot
/// leave its thread: its drop clears an entry of this thread's reader record.
pub(crate) struct Guard<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
    record: &'static Record,
    /// The reader-record entry it announced in, or `None` for a counted reference.
    entry: Option<&'static AtomicUsize>,
    /// The record was borrowed for this send (thread teardown): give it back after.
    borrowed: bool,
    _not_send: PhantomData<*const ()>,
}

/// A slot marked closing by [`HandleTable::begin_close`]. [`finish`](Closing::finish)
/// ends the close; dropping it unfinished (an unwind) finishes it too, so no slot is
/// ever left closing.
pub(crate) struct Closing<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
}

/// The identity a handle claims (the table that issued it, if any did).
pub(crate) fn identity_of(h: Hdrvr) -> usize {
    (h.raw() >> bits::INDEX) & identity::MASK
}

fn split(index: usize) -> (usize, usize) {
    (index >> CHUNK_LOG2, index & (CHUNK_LEN - 1))
}

/// The state bits of manager flags (only the low 4 bits of `flags` are kept).
fn flag_bits(flags: u8) -> u64 {
    (u64::from(flags) << FLAGS_SHIFT) & FLAGS_MASK
}

/// The common case of an announced enter, in one compare: this generation, live,
/// not closing, already sent to. Shifting out the flags and counts leaves the
/// generation and the four bits LIVE, CLOSING, CLOSED, SENT; CLOSED is only ever
/// set after CLOSING, so "LIVE and SENT, nothing else" is exactly the case.
#[inline(always)]
fn fast(state: u64, generation: u64) -> bool {
    const _: () = assert!(SENT == 1 << 28 && CLOSED == 1 << 29 && CLOSING == 1 << 30 && LIVE == 1 << 31);
    state >> 28 == (generation << 4) | 0b1001
}

fn valid(state: u64, generation: u64) -> bool {
    state >> 32 == generation && state & (LIVE | CLOSING) == LIVE
}

impl<M> HandleTable<M> {
    /// The chunk pointers, for [`enter_with_pass_in`] (they live as long as the table).
    pub(crate) fn chunks(&self) -> &Chunks<M> {
        &self.chunks
    }

    /// An empty table for at most `capacity` instances (clamped to
    /// [`MAX_INSTANCES`]) with an identity of its own.
    pub(crate) fn new(capacity: usize) -> Result<Self, TooManyManagers> {
        barrier::init();
        let identity = identity::acquire().ok_or(TooManyManagers { max: identity::MASK })?;
        Ok(HandleTable {
            chunks: Aligned(std::array::from_fn(|_| AtomicPtr::new(empty_chunk()))),
            free: Mutex::new(FreeList { reuse: Vec::new(), next_fresh: 1 }),
            id: identity.id,
            base: identity.first_generation,
            expedited: barrier::expedited(),
            live: AtomicUsize::new(0),
            capacity: capacity.min(MAX_INSTANCES),
            pending: Mutex::new(Vec::new()),
            _owns: PhantomData,
        })
    }

    /// The identity in every handle of this table.
    pub(crate) fn identity(&self) -> usize {
        self.id
    }

    /// Number of live instances.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Most instances at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The slot at `index`: an empty one of [`EMPTY_CHUNK`] if its chunk is unused.
    #[inline(always)]
    fn slot(&self, index: usize) -> &Slot<M> {
        slot_in(&self.chunks, index)
    }

    /// The slot for a freshly allocated index; its chunk is created if needed. Called
    /// with the free-list lock held, so chunks are created once.
    fn slot_or_grow(&self, index: usize) -> &Slot<M> {
        let (chunk, offset) = split(index);
        let cell = &self.chunks[chunk];
        let mut base = cell.load(Ordering::Acquire);
        if base == empty_chunk() {
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
        let generation = generation as usize;
        Hdrvr::from_raw(index | (self.id << bits::INDEX) | (generation << GEN_SHIFT))
    }

    /// The slot and generation a handle claims, if it is of this table's shape.
    #[inline(always)]
    fn decode(&self, h: Hdrvr) -> Option<(&Slot<M>, u64)> {
        if identity_of(h) != self.id {
            return None;
        }
        let index = Self::index_of(h);
        if index == 0 {
            return None;
        }
        Some((self.slot(index), (h.raw() >> GEN_SHIFT) as u64))
    }

    /// The slot index a handle's bits name (meaningful only for this table's handles).
    #[inline(always)]
    fn index_of(h: Hdrvr) -> usize {
        h.raw() & INDEX_MASK
    }

    /// Creates a live instance referencing `module` with id 0; `None` when full.
    ///
    /// The handle is live at once (a driver may be sent messages during its own
    /// `DRV_LOAD`/`DRV_OPEN`); set the id with [`set_opened`](Self::set_opened) when
    /// `DRV_OPEN` answers.
    pub(crate) fn insert(&self, module: Arc<M>, flags: u8) -> Option<Hdrvr> {
        let (index, slot) = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            let (index, fresh) = match free.reuse.pop() {
                Some(i) => (i as usize, false),
                None if free.next_fresh <= self.capacity => {
                    free.next_fresh += 1;
                    (free.next_fresh - 1, true)
                }
                None => return None,
            };
            let slot = self.slot_or_grow(index);
            if fresh {
                // A never-used slot starts at the table's first generation.
                slot.state.store(self.base << 32, Ordering::Relaxed);
            }
            (index, slot)
        };
        let generation = slot.state.load(Ordering::Acquire) >> 32;
        slot.id.store(0, Ordering::Relaxed);
        slot.module.store(Arc::into_raw(module).cast_mut(), Ordering::Relaxed);
        // Counted before it is visible, so no close can take the count below zero.
        self.live.fetch_add(1, Ordering::Relaxed);
        // Release: the fields above are visible to whoever sees LIVE.
        slot.state.store((generation << 32) | LIVE | flag_bits(flags), Ordering::Release);
        Some(self.encode(index, generation))
    }

    /// Announces `slot` in this thread's `entry` and reads its state, in that order as
    /// a closer sees it ([`crate::barrier`]).
    #[inline(always)]
    fn announce(&self, slot: &Slot<M>, entry: &AtomicUsize) -> u64 {
        entry.store(slot.key(), Ordering::Relaxed);
        barrier::light(self.expedited);
        slot.state.load(Ordering::Acquire)
    }

    /// Withdraws the announcement in `entry` at the end of a send: the one exit
    /// sequence of [`Guard`] and [`Exit`].
    #[inline(always)]
    fn withdraw(&self, slot: &Slot<M>, handle: Hdrvr, entry: &AtomicUsize) {
        // Only this thread writes its entries; a re-entrant close on this thread may
        // have turned this one into a counted reference.
        let converted = entry.load(Ordering::Relaxed) == CONVERTED;
        entry.store(0, Ordering::Release);
        if converted {
            self.leave_counted(slot, handle);
        } else {
            // Ordered like entering: either a closer sees the entry cleared, or this
            // load sees its mark and wakes it.
            barrier::light(self.expedited);
            if slot.state.load(Ordering::Relaxed) & CLOSING != 0 {
                self.left_closing(slot);
            }
        }
    }

    #[inline(always)]
    fn guard<'t>(
        &'t self,
        slot: &'t Slot<M>,
        handle: Hdrvr,
        record: &'static Record,
        entry: Option<&'static AtomicUsize>,
    ) -> Guard<'t, M> {
        Guard { table: self, slot, handle, record, entry, borrowed: false, _not_send: PhantomData }
    }

    /// Enters the live, not-closing instance `h` names; `None` for any other value.
    ///
    /// The common case (not nested, instance already sent to) is inlined: a decode,
    /// one thread-local load, one store, one load of the slot state.
    #[inline(always)]
    pub(crate) fn enter(&self, h: Hdrvr) -> Option<Guard<'_, M>> {
        let (slot, generation) = self.decode(h)?;
        let Some(record) = records::current_or_register() else {
            return self.enter_in_teardown(slot, generation, h);
        };
        let entry = &record.active[0];
        if entry.load(Ordering::Relaxed) != 0 {
            return self.enter_nested(slot, generation, h, record);
        }
        let state = self.announce(slot, entry);
        let guard = self.guard(slot, h, record, Some(entry));
        if fast(state, generation) {
            return Some(guard);
        }
        self.mark_sent(guard, generation, state)
    }

    /// Runs `f` with the module and id of the live, not-closing instance `h` names;
    /// `None` for any other value. The send path.
    ///
    /// The common case (see "The pass" in the module docs) is written out here: the
    /// slot from the index bits, one thread-local load, the announcement, one compare
    /// with the slot's pass, the call, the withdrawal and one more compare. Anything
    /// else takes [`enter`](Self::enter). The guard of the common case is a
    /// register-sized [`Exit`] rather than a [`Guard`], which the out-of-line paths
    /// return through memory: sharing one would keep it on the stack, and reading it
    /// back right after writing it piecewise stalls store forwarding.
    #[inline(always)]
    pub(crate) fn with_entered<R>(&self, h: Hdrvr, f: impl FnOnce(&M, usize) -> R) -> Option<R> {
        match self.enter_with_pass(h) {
            Ok(exit) => return Some(f(exit.module(), exit.id())),
            Err(Some(exit)) if exit.enter_fenced() => return Some(f(exit.module(), exit.id())),
            Err(missed) => drop(missed),
        }
        let guard = self.enter(h)?;
        Some(f(guard.module(), guard.id()))
    }

    /// The common case of [`with_entered`](Self::with_entered) alone: entered if `h`
    /// is the pass of the slot its index bits name. Otherwise the error holds the
    /// announcement made on the way, if any: dropping it withdraws it (waking a
    /// closer it may have held up), after which [`enter`](Self::enter) sorts the case
    /// out. Handing the withdrawal to the caller keeps every call off this path
    /// until the driver's, so the caller's arguments can stay in registers. It
    /// cannot panic.
    #[inline(always)]
    pub(crate) fn enter_with_pass(&self, h: Hdrvr) -> Result<Exit<'_, M>, Option<Exit<'_, M>>> {
        let rebuild = |parts| {
            // SAFETY: the parts are of an exit of this table for `h`, made on this
            // thread just now, used once.
            unsafe { Exit::from_parts(self, parts, h) }
        };
        enter_with_pass_in(&self.chunks, h).map(rebuild).map_err(|parts| parts.map(rebuild))
    }

    /// The rest of an exit's end that found the pass gone ([`ExitParts::leave_then`]).
    ///
    /// # Safety
    /// `slot` is a slot of this table.
    #[cold]
    pub(crate) unsafe fn finish_leaving(&self, slot: *const Slot<M>, handle: Hdrvr, announced: usize) {
        // SAFETY: slots live as long as their table.
        self.left_without_pass(unsafe { &*slot }, handle, announced);
    }

    /// A send from a thread whose reader record is already gone (thread teardown):
    /// it borrows one for the duration of this send.
    #[cold]
    #[inline(never)]
    fn enter_in_teardown<'t>(&'t self, slot: &'t Slot<M>, generation: u64, h: Hdrvr) -> Option<Guard<'t, M>> {
        let record = records::borrow_for_teardown();
        match self.enter_nested(slot, generation, h, record) {
            Some(mut guard) => {
                guard.borrowed = true;
                Some(guard)
            }
            None => {
                records::give_back(record);
                None
            }
        }
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
        let Some(entry) = record.free_entry() else {
            return self.enter_counted(self.guard(slot, h, record, None), generation);
        };
        let state = self.announce(slot, entry);
        self.mark_sent(self.guard(slot, h, record, Some(entry)), generation, state)
    }

    /// Finishes an announced enter: rejects a dead or closing instance (the guard's
    /// drop withdraws the announcement), marks the first send to an instance (once),
    /// so its close knows to synchronise with senders, and gives the instance its
    /// pass (see the module docs) when sends are fence-free.
    #[inline(never)]
    fn mark_sent<'t>(&self, guard: Guard<'t, M>, generation: u64, mut state: u64) -> Option<Guard<'t, M>> {
        loop {
            if !valid(state, generation) {
                return None;
            }
            if state & SENT != 0 {
                break;
            }
            match guard.slot.state.compare_exchange_weak(
                state,
                state | SENT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // From NO_PASS only: a close that started since the check above has set
        // PASS_CLOSED, which must stay. (Looked at first, so that nested sends, which
        // come this way, do not write the shared line once the pass is set.)
        let pass = &guard.slot.pass;
        if pass.load(Ordering::Relaxed) == NO_PASS {
            let given = if self.expedited { guard.handle.raw() } else { guard.handle.raw() ^ FENCED };
            let _ = pass.compare_exchange(NO_PASS, given, Ordering::AcqRel, Ordering::Relaxed);
        }
        Some(guard)
    }

    /// The slow path for deeply nested sends: a counted reference in the slot state.
    #[cold]
    fn enter_counted<'t>(&'t self, guard: Guard<'t, M>, generation: u64) -> Option<Guard<'t, M>> {
        let slot = guard.slot;
        // Noted first, so that a close on this thread never waits for this reference;
        // the guard's drop un-notes it whichever way this ends.
        guard.record.push_deep(slot.key());
        let mut state = slot.state.load(Ordering::Acquire);
        loop {
            if !valid(state, generation) || state & COUNT_MASK == COUNT_MASK {
                // Not counted: undo the note only.
                guard.record.pop_deep(slot.key());
                std::mem::forget(guard);
                return None;
            }
            match slot.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(guard),
                Err(now) => state = now,
            }
        }
    }

    /// Marks `h` closing so no new send enters it, then waits (parked) until every
    /// send other threads are making to it has returned.
    ///
    /// Fails with [`CloseFailure::BadHandle`] if `h` is not a live, open instance
    /// (already closing, closed, stale or forged: exactly one closer wins), and with
    /// [`CloseFailure::WouldDeadlock`] if waiting would close a cycle of closes; the
    /// instance is then open again, as if the close had not been tried.
    pub(crate) fn begin_close(&self, h: Hdrvr) -> Result<Closing<'_, M>, CloseFailure> {
        self.begin_close_if(h, |_| true)
    }

    /// [`begin_close`](Self::begin_close) only if the instance's manager flags satisfy
    /// `allowed`, checked in the same atomic step that marks it closing (a reused slot
    /// never shows its last occupant's flags); [`CloseFailure::BadHandle`] otherwise.
    pub(crate) fn begin_close_if(
        &self,
        h: Hdrvr,
        allowed: impl Fn(u8) -> bool,
    ) -> Result<Closing<'_, M>, CloseFailure> {
        match self.start_close(h, allowed, None::<(Duration, fn() -> Completion<M>)>)? {
            Started::Now(closing) => Ok(closing),
            Started::Deferred => unreachable!("a close without a completion is never deferred"),
        }
    }

    /// [`begin_close_if`](Self::begin_close_if) that never waits without end: if
    /// other threads' sends are still running after `patience`, or waiting for them
    /// would close a cycle of closes, the close is *deferred*: the instance stays
    /// closing (no new send enters it), and the completion `complete()` makes runs
    /// with the [`Closing`] on the thread whose send to it returns last (or here, if
    /// they all returned meanwhile). It never fails with
    /// [`CloseFailure::WouldDeadlock`]. `complete` is called only to defer, so the
    /// common close allocates nothing.
    pub(crate) fn begin_close_or_defer(
        &self,
        h: Hdrvr,
        allowed: impl Fn(u8) -> bool,
        patience: Duration,
        complete: impl FnOnce() -> Completion<M>,
    ) -> Result<Started<'_, M>, CloseFailure> {
        self.start_close(h, allowed, Some((patience, complete)))
    }

    fn start_close(
        &self,
        h: Hdrvr,
        allowed: impl Fn(u8) -> bool,
        deferrable: Option<(Duration, impl FnOnce() -> Completion<M>)>,
    ) -> Result<Started<'_, M>, CloseFailure> {
        let (slot, generation) = self.decode(h).ok_or(CloseFailure::BadHandle)?;
        let me = records::current();
        let key = slot.key();
        // A close from inside a send that could only wait for itself fails before it
        // marks anything, so no send is refused for its sake. (Closes that start at
        // the same moment may still meet below; then one of them rolls back.)
        if deferrable.is_none()
            && let Some(me) = me
            && me.is_inside_a_send()
            && records::would_close_cycle(me, key)
        {
            return Err(CloseFailure::WouldDeadlock);
        }
        let mut state = slot.state.load(Ordering::Acquire);
        let before = loop {
            if !valid(state, generation) || !allowed(((state & FLAGS_MASK) >> FLAGS_SHIFT) as u8) {
                return Err(CloseFailure::BadHandle);
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
        // Before the barrier, which orders it for senders as it orders the mark. A
        // swap, as in the model of the protocol (tests/loom_model.rs), whose checker
        // orders a read-modify-write, not a plain store, against a sender's fence.
        let _ = slot.pass.swap(PASS_CLOSED, Ordering::AcqRel);
        // Until the waits below succeed (or the close is deferred), leaving this
        // function reopens the instance.
        let rollback = Reopen { slot };
        let patience = deferrable.as_ref().map(|(patience, _)| *patience);
        let mut waited = Ok(());
        if before & SENT != 0 {
            barrier::heavy();
            waited = records::wait_until(key, me, patience, || !records::others_announce(key, me));
        }
        if waited.is_ok() {
            // Other threads' counted references (sends nested past a record's depth);
            // this thread's own are its callers, like its announcements below.
            let own_counted = me.map_or(0, |me| me.deep_count(key));
            waited = records::wait_until(key, me, patience, || {
                slot.state.load(Ordering::Acquire) & COUNT_MASK <= own_counted
            });
        }
        let deferred = match (waited, deferrable) {
            (Ok(()), _) => None,
            (Err(records::WaitFailure::WouldDeadlock), None) => return Err(CloseFailure::WouldDeadlock),
            (Err(records::WaitFailure::TimedOut), None) => unreachable!("no deadline without a completion"),
            (Err(_), Some((_, complete))) => Some(complete()),
        };
        // This thread's own sends to `h` cannot return before this close does: they
        // become counted references that release the slot when the last returns.
        if let Some(me) = me {
            let converted = me.convert(key);
            if converted > 0 {
                slot.state.fetch_add(converted, Ordering::AcqRel);
            }
        }
        std::mem::forget(rollback);
        let Some(complete) = deferred else {
            return Ok(Started::Now(Closing { table: self, slot, handle: h }));
        };
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).push((key, h, complete));
        // The senders may all have left before the completion was in place: then no
        // one else will run it.
        self.complete_if_last(slot);
        Ok(Started::Deferred)
    }

    /// Runs a deferred close's completion if no send to `slot` is left: called by a
    /// sender leaving a closing slot, by the last counted reference, and by the
    /// deferring closer itself. Exactly one caller takes the completion.
    #[cold]
    #[inline(never)]
    fn complete_if_last(&self, slot: &Slot<M>) {
        // Ordered after this thread's own exit (its cleared entry or its dropped
        // count): of two senders leaving together, at least one sees the other gone.
        fence(Ordering::SeqCst);
        let key = slot.key();
        let is_pending = |pending: &[(usize, Hdrvr, Completion<M>)]| pending.iter().any(|(k, ..)| *k == key);
        // Most closes are not deferred: then there is nothing to look for.
        if !is_pending(&self.pending.lock().unwrap_or_else(PoisonError::into_inner)) {
            return;
        }
        if slot.state.load(Ordering::Acquire) & COUNT_MASK != 0 || records::others_announce(key, None) {
            return;
        }
        let (handle, complete) = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(pos) = pending.iter().position(|(k, ..)| *k == key) else { return };
            let (_, handle, complete) = pending.swap_remove(pos);
            (handle, complete)
        };
        complete(Closing { table: self, slot, handle });
    }

    /// The flags of the live, not-closing instance `h` names, without entering it (so
    /// without marking it as sent to). A snapshot: use [`begin_close`](Self::begin_close)
    /// to act on the instance atomically.
    pub(crate) fn peek_flags(&self, h: Hdrvr) -> Option<u8> {
        let (slot, generation) = self.decode(h)?;
        let state = slot.state.load(Ordering::Acquire);
        valid(state, generation).then_some(((state & FLAGS_MASK) >> FLAGS_SHIFT) as u8)
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
        // Release: whoever sees the flags (a closer checks them) sees the id.
        slot.state.fetch_or(flag_bits(flags), Ordering::AcqRel);
        true
    }

    /// Handles of every live instance not being closed (a snapshot).
    pub(crate) fn live_handles(&self) -> Vec<Hdrvr> {
        let used = self.free.lock().unwrap_or_else(PoisonError::into_inner).next_fresh;
        (1..used)
            .filter_map(|index| {
                let state = self.slot(index).state.load(Ordering::Acquire);
                (state & (LIVE | CLOSING) == LIVE).then(|| self.encode(index, state >> 32))
            })
            .collect()
    }

    /// The end of an [`Exit`] that found the pass gone: the rest of
    /// [`withdraw`](Self::withdraw), given the entry as it was before being cleared.
    #[cold]
    #[inline(never)]
    fn left_without_pass(&self, slot: &Slot<M>, handle: Hdrvr, announced: usize) {
        if announced == CONVERTED {
            self.leave_counted(slot, handle);
            return;
        }
        if !self.expedited {
            // No pass is set with full fences, so this is the announcement the fast
            // path withdraws on its way to the general path: order it as `withdraw`
            // does.
            fence(Ordering::SeqCst);
        }
        if slot.state.load(Ordering::Relaxed) & CLOSING != 0 {
            self.left_closing(slot);
        }
    }

    /// A send left a slot that is closing: wake the closers waiting for it, and finish
    /// a deferred close if it was the last.
    #[cold]
    #[inline(never)]
    fn left_closing(&self, slot: &Slot<M>) {
        records::wake();
        self.complete_if_last(slot);
    }

    /// Drops one counted reference; the last one after a close releases the slot.
    #[cold]
    fn leave_counted(&self, slot: &Slot<M>, handle: Hdrvr) {
        let before = slot.state.fetch_sub(1, Ordering::AcqRel);
        if before & COUNT_MASK == 1 && before & CLOSED != 0 {
            self.release_if_done(slot, handle);
        } else if before & CLOSING != 0 {
            self.left_closing(slot);
        }
    }

    /// Frees a slot whose close finished and whose counted references are gone:
    /// bumps the generation, drops the module reference, recycles the index (or
    /// retires it, when its generation would wrap). Exactly one caller wins the state
    /// change, so this runs once per instance.
    fn release_if_done(&self, slot: &Slot<M>, handle: Hdrvr) {
        let state = slot.state.load(Ordering::Acquire);
        if state & CLOSED == 0 || state & COUNT_MASK != 0 {
            return;
        }
        let next = (state >> 32) + 1;
        if slot.state.compare_exchange(state, next << 32, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        // Before the index can be reused (the free-list lock orders it before the
        // next `insert`): the next occupant starts without a pass.
        slot.pass.store(NO_PASS, Ordering::Relaxed);
        let module = slot.module.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !module.is_null() {
            // SAFETY: the pointer came from Arc::into_raw in `insert`, and the swap
            // above hands this one reference to exactly one caller.
            drop(unsafe { Arc::from_raw(module) });
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        if next <= GEN_MAX {
            let index = Self::index_of(handle);
            self.free.lock().unwrap_or_else(PoisonError::into_inner).reuse.push(index as u32);
        }
    }
}

/// Reopens a slot whose close could not complete ([`HandleTable::begin_close`]).
struct Reopen<'t, M> {
    slot: &'t Slot<M>,
}

impl<M> Drop for Reopen<'_, M> {
    fn drop(&mut self) {
        // The next send that finds the instance sent to gives it its pass back.
        self.slot.pass.store(NO_PASS, Ordering::Release);
        self.slot.state.fetch_and(!CLOSING, Ordering::AcqRel);
        // Closers of other instances may be waiting on sends this one let through.
        records::wake();
    }
}

/// The module reference a guard or closer may read: stored before the slot went
/// LIVE and only taken in `release_if_done`, which cannot run while a guard or the
/// closer exists (a closer waits for announced guards and needs CLOSED and a zero
/// count, and counted guards keep the count above zero).
fn slot_module<M>(slot: &Slot<M>) -> *const M {
    slot.module.load(Ordering::Acquire)
}

/// Presence in a slot ([`Guard`] or [`Exit`]): what a send reads from the instance.
/// Implemented only by types whose existence keeps the slot entered.
pub(crate) trait Presence<M> {
    /// The entered slot.
    fn slot(&self) -> &Slot<M>;

    /// The driver-issued id (0 until `DRV_OPEN` answered).
    #[inline(always)]
    fn id(&self) -> usize {
        self.slot().id.load(Ordering::Acquire)
    }

    /// The module this instance belongs to.
    #[inline(always)]
    fn module(&self) -> &M {
        // SAFETY: see `slot_module`; the implementor keeps the slot entered, and with
        // it the reference alive, while it is borrowed.
        unsafe { &*slot_module(self.slot()) }
    }
}

impl<M> Presence<M> for Guard<'_, M> {
    #[inline(always)]
    fn slot(&self) -> &Slot<M> {
        self.slot
    }
}

impl<M> Presence<M> for Exit<'_, M> {
    #[inline(always)]
    fn slot(&self) -> &Slot<M> {
        self.slot
    }
}

impl<M> Drop for Guard<'_, M> {
    #[inline(always)]
    fn drop(&mut self) {
        match self.entry {
            Some(entry) => self.table.withdraw(self.slot, self.handle, entry),
            None => {
                self.record.pop_deep(self.slot.key());
                self.table.leave_counted(self.slot, self.handle);
            }
        }
        if self.borrowed {
            records::give_back(self.record);
        }
    }
}

/// Presence in a slot entered with its pass ([`HandleTable::enter_with_pass`]): a
/// guard with only what its exit needs, so the send path keeps it in registers.
/// Dropped on unwind too. Like [`Guard`], it cannot leave its thread.
pub(crate) struct Exit<'t, M> {
    table: &'t HandleTable<M>,
    slot: &'t Slot<M>,
    handle: Hdrvr,
    entry: &'static AtomicUsize,
    _not_send: PhantomData<*const ()>,
}

/// An [`Exit`] without its table and handle, small enough to pass in two registers
/// to an out-of-line function that gets those two otherwise, or to keep across the
/// driver's call in fewer registers.
pub(crate) struct ExitParts<M> {
    slot: *const Slot<M>,
    entry: &'static AtomicUsize,
    _not_send: PhantomData<*const ()>,
}

impl<M> ExitParts<M> {
    /// Withdraws the announcement of a slot that belongs to no table (one of
    /// [`EMPTY_CHUNK`], reached through chunk pointers of no table): no closer can be
    /// waiting for it.
    pub(crate) fn withdraw_from_no_table(self) {
        debug_assert!(EMPTY_CHUNK.as_ptr_range().contains(&self.slot.cast()), "only for slots of no table");
        self.entry.store(0, Ordering::Release);
    }

    /// The driver-issued id.
    #[inline(always)]
    pub(crate) fn id(&self) -> usize {
        // SAFETY: slots live as long as their table, which outlives the announcement.
        unsafe { &*self.slot }.id.load(Ordering::Acquire)
    }

    /// The module this instance belongs to, kept alive by the announcement.
    #[inline(always)]
    pub(crate) fn module(&self) -> *const M {
        // SAFETY: as in `id`.
        slot_module(unsafe { &*self.slot })
    }

    /// What dropping the [`Exit`] would do, then `value`. On the rare way out that
    /// needs the table, `rare(slot, announced, value)` is called instead, and must
    /// call [`HandleTable::finish_leaving`] on the exit's table and return `value`:
    /// a function with its arguments in registers can be reached by a tail call, so
    /// the caller needs no register saved for `value` across it.
    ///
    /// # Safety
    /// The parts are of an exit for `handle` on this thread.
    #[inline(always)]
    pub(crate) unsafe fn leave_then<R>(
        self,
        handle: Hdrvr,
        value: R,
        rare: impl FnOnce(*const Slot<M>, usize, R) -> R,
    ) -> R {
        let announced = self.entry.load(Ordering::Relaxed);
        self.entry.store(0, Ordering::Release);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: as in `id`.
        if unsafe { &*self.slot }.pass.load(Ordering::Relaxed) != handle.raw() {
            return rare(self.slot, announced, value);
        }
        value
    }
}

impl<'t, M> Exit<'t, M> {
    /// The fenced common case, for an exit whose slot had no pass for its handle
    /// ([`enter_with_pass`](HandleTable::enter_with_pass) failed after announcing): if
    /// the slot's pass is the handle's fenced pass (see "The pass"), a full fence
    /// orders the announcement before a second look, and the send may go on if it is
    /// still there. Its leaving takes the fenced way out (the pass is not the handle).
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_fenced(&self) -> bool {
        let fenced = self.handle.raw() ^ FENCED;
        // A fenced pass with index bits 0 would look like NO_PASS or PASS_CLOSED to a
        // value that names slot FENCED: that slot's instance goes the general way.
        if fenced & INDEX_MASK == 0 || self.slot.pass.load(Ordering::Relaxed) != fenced {
            return false;
        }
        fence(Ordering::SeqCst);
        self.slot.pass.load(Ordering::Acquire) == fenced
    }

    /// An exit from the parts [`enter_with_pass_in`] made.
    ///
    /// # Safety
    /// `parts` came from an exit of `table` for `handle`, on this thread, and are used
    /// once.
    pub(crate) unsafe fn from_parts(table: &'t HandleTable<M>, parts: ExitParts<M>, handle: Hdrvr) -> Self {
        // SAFETY: the slot is the table's (the caller's contract), and slots live as
        // long as their table.
        let slot = unsafe { &*parts.slot };
        Exit { table, slot, handle, entry: parts.entry, _not_send: PhantomData }
    }
}

impl<M> Drop for Exit<'_, M> {
    /// [`HandleTable::withdraw`] with the pass standing for the state. A close that
    /// started, and a re-entrant close that converted this entry, both set
    /// [`PASS_CLOSED`] first, so an unchanged pass means neither happened.
    #[inline(always)]
    fn drop(&mut self) {
        let parts =
            ExitParts { slot: std::ptr::from_ref(self.slot), entry: self.entry, _not_send: PhantomData };
        let table = self.table;
        // SAFETY: the parts of this exit, used once.
        unsafe {
            parts.leave_then(self.handle, (), |slot, announced, ()| {
                // SAFETY: the slot is `table`'s.
                table.finish_leaving(slot, self.handle, announced)
            })
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
        drop(self);
    }
}

impl<M> Drop for Closing<'_, M> {
    fn drop(&mut self) {
        self.slot.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.table.release_if_done(self.slot, self.handle);
    }
}

impl<M> Drop for HandleTable<M> {
    fn drop(&mut self) {
        let mut next_generation = 0;
        for cell in self.chunks.0.iter_mut() {
            let base = std::mem::replace(cell.get_mut(), empty_chunk());
            if base == empty_chunk() {
                continue;
            }
            // SAFETY: `base` came from Box::into_raw of a CHUNK_LEN slice in
            // `slot_or_grow`, and `&mut self` excludes every other user.
            let mut slots = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(base, CHUNK_LEN)) };
            for slot in slots.iter_mut() {
                next_generation = next_generation.max((*slot.state.get_mut() >> 32) + 1);
                let module = std::mem::replace(slot.module.get_mut(), std::ptr::null_mut());
                if !module.is_null() {
                    // SAFETY: as in release_if_done; `&mut self` excludes every guard.
                    drop(unsafe { Arc::from_raw(module) });
                }
            }
        }
        // The identity's next table starts above every generation this one handed out.
        identity::release(self.id, next_generation.max(self.base), GEN_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn table() -> HandleTable<String> {
        HandleTable::new(usize::MAX).unwrap()
    }

    fn close(t: &HandleTable<String>, h: Hdrvr) {
        t.begin_close(h).expect("open handle").finish();
    }

    #[test]
    fn chunk_math_covers_every_index_once() {
        assert_eq!(split(0), (0, 0));
        assert_eq!(split(CHUNK_LEN - 1), (0, CHUNK_LEN - 1));
        assert_eq!(split(CHUNK_LEN), (1, 0));
        assert!(split(MAX_INSTANCES).0 < CHUNKS);
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
        assert_eq!(t.begin_close(h).err(), Some(CloseFailure::BadHandle), "double close");
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
        let b: HandleTable<String> = HandleTable::new(usize::MAX).unwrap();
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
                // Taken before leaving: a woken closer may read its clock first.
                let leaving_at = std::time::Instant::now();
                drop(g);
                leaving_at
            })
        };
        entered.wait();
        let closing = t.begin_close(h).unwrap();
        let closed_at = std::time::Instant::now();
        assert!(t.enter(h).is_none(), "closing handles take no new sends");
        closing.finish();
        let leaving_at = sender.join().unwrap();
        assert!(closed_at >= leaving_at, "close proceeded before the guard left");
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
        let guards: Vec<_> = (0..records::DEPTH + 4).map(|_| t.enter(h).unwrap()).collect();
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
        assert!(std::ptr::eq(g.entry.unwrap(), &records::current().unwrap().active[0]));
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

    /// Sets the generation a free slot will hand out next (tests only: reaching the
    /// last generation for real takes 2^28 reuses).
    fn set_next_generation(t: &HandleTable<String>, h: Hdrvr, generation: u64) {
        let (slot, _) = t.decode(h).unwrap();
        let state = slot.state.load(Ordering::Acquire);
        assert_eq!(state & LIVE, 0, "only for free slots");
        slot.state.store(generation << 32, Ordering::Release);
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let t = table();
        let m = Arc::new("m".to_string());
        let first = t.insert(m.clone(), 0).unwrap();
        close(&t, first);
        // The slot's next instance gets the last generation a handle can carry.
        set_next_generation(&t, first, GEN_MAX);
        let last = t.insert(m.clone(), 0).unwrap();
        assert_eq!(HandleTable::<String>::index_of(last), HandleTable::<String>::index_of(first));
        assert_eq!(last.raw() >> GEN_SHIFT, GEN_MAX as usize);
        close(&t, last);
        // Reusing it again would wrap to generation `base` and revive `first`.
        let next = t.insert(m.clone(), 0).unwrap();
        assert_ne!(HandleTable::<String>::index_of(next), HandleTable::<String>::index_of(last), "retired");
        for stale in [first, last] {
            assert!(t.enter(stale).is_none(), "{stale} names nothing");
            assert_eq!(t.begin_close(stale).err(), Some(CloseFailure::BadHandle));
        }
        close(&t, next);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    #[test]
    fn handles_are_never_small_integers() {
        let t = table();
        let h = t.insert(Arc::new("m".to_string()), 0).unwrap();
        assert!(h.raw() >= 1 << bits::INDEX, "{h} could be taken for a device number");
        close(&t, h);
    }

    #[test]
    fn live_tables_never_accept_each_others_handles() {
        // More tables than an 8-bit identity could tell apart, all alive at once.
        let tables: Vec<HandleTable<String>> = (0..300).map(|_| table()).collect();
        let handles: Vec<Hdrvr> = tables.iter().map(|t| t.insert(Arc::new("m".into()), 0).unwrap()).collect();
        for (i, t) in tables.iter().enumerate() {
            for (j, h) in handles.iter().enumerate() {
                assert_eq!(t.enter(*h).is_some(), i == j, "table {i} and the handle of table {j}");
            }
        }
        for (t, h) in tables.iter().zip(handles) {
            close(t, h);
        }
    }

    #[test]
    fn a_dead_tables_handles_are_refused_by_its_identitys_next_table() {
        let m = Arc::new("m".to_string());
        let old = table();
        let h = old.insert(m.clone(), 0).unwrap();
        let (id, floor) = (old.id, old.base + 1);
        drop(old);
        // The table that gets the identity next (here forced) starts above `h`'s
        // generation.
        let mut new = table();
        let (own_id, own_base) = (new.id, new.base);
        new.id = id;
        new.base = floor;
        let again = new.insert(m.clone(), 0).unwrap();
        assert_eq!(HandleTable::<String>::index_of(again), HandleTable::<String>::index_of(h));
        assert_ne!(again, h);
        assert!(new.enter(h).is_none());
        close(&new, again);
        new.id = own_id;
        new.base = own_base;
        drop(new);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    #[test]
    fn capacity_is_a_limit() {
        let t: HandleTable<String> = HandleTable::new(2).unwrap();
        let m = Arc::new("m".to_string());
        let a = t.insert(m.clone(), 0).unwrap();
        let _b = t.insert(m.clone(), 0).unwrap();
        assert!(t.insert(m.clone(), 0).is_none());
        close(&t, a);
        assert!(t.insert(m.clone(), 0).is_some(), "a freed slot is reused");
    }

    #[test]
    fn sends_and_closes_work_from_thread_local_destructors() {
        struct AtExit(Arc<HandleTable<String>>, Hdrvr, Arc<std::sync::Mutex<Vec<&'static str>>>);
        impl Drop for AtExit {
            fn drop(&mut self) {
                let (t, h, log) = (&self.0, self.1, &self.2);
                // On Linux the record is given back by a pthread_key destructor, which
                // runs after this one; elsewhere it may be gone already, and sends
                // borrow one.
                let kept = records::current().is_some() || !cfg!(target_os = "linux");
                log.lock().unwrap().push(if kept { "record as expected" } else { "record given back early" });
                let entered = t.enter(h).map(|g| g.id());
                log.lock().unwrap().push(if entered == Some(0) { "entered" } else { "refused" });
                let closed = t.begin_close(h).map(Closing::finish);
                log.lock().unwrap().push(if closed.is_ok() { "closed" } else { "not closed" });
            }
        }
        thread_local! {
            static HOLDER: std::cell::RefCell<Option<AtExit>> = const { std::cell::RefCell::new(None) };
        }
        let t = Arc::new(table());
        let m = Arc::new("m".to_string());
        let h = t.insert(m.clone(), 0).unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        {
            let (t, log) = (t.clone(), log.clone());
            std::thread::spawn(move || {
                // Registered before the record, so its destructor runs after the
                // record's owner has given the record back.
                HOLDER.with(|holder| *holder.borrow_mut() = Some(AtExit(t.clone(), h, log)));
                drop(t.enter(h).unwrap());
            })
            .join()
            .unwrap();
        }
        assert_eq!(*log.lock().unwrap(), ["record as expected", "entered", "closed"]);
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    #[test]
    fn crossed_closes_from_inside_sends_fail_one_and_finish_the_other() {
        use std::sync::Barrier;
        use std::sync::mpsc;
        let t = Arc::new(table());
        let m = Arc::new("m".to_string());
        let x = t.insert(m.clone(), 0).unwrap();
        let y = t.insert(m.clone(), 0).unwrap();
        let inside = Arc::new(Barrier::new(2));
        let (tx, rx) = mpsc::channel();
        for (mine, theirs) in [(x, y), (y, x)] {
            let (t, inside, tx) = (t.clone(), inside.clone(), tx.clone());
            std::thread::spawn(move || {
                let guard = t.enter(mine).unwrap();
                inside.wait();
                // Each closes the instance the other is inside a send to.
                let result = t.begin_close(theirs).map(Closing::finish);
                drop(guard);
                tx.send((theirs, result)).unwrap();
            });
        }
        let mut results: Vec<_> =
            (0..2).map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("a crossed close hung")).collect();
        results.sort_by_key(|(_, r)| r.is_ok());
        assert_eq!(results[0].1, Err(CloseFailure::WouldDeadlock));
        assert_eq!(results[1].1, Ok(()));
        // The failed close left its instance open and usable.
        let survivor = results[0].0;
        assert!(t.enter(survivor).is_some());
        close(&t, survivor);
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
    }

    #[test]
    fn a_cycle_through_a_counted_reference_is_seen_too() {
        use std::sync::mpsc;
        let t = Arc::new(table());
        let m = Arc::new("m".to_string());
        let (x, y, z) = (
            t.insert(m.clone(), 0).unwrap(),
            t.insert(m.clone(), 0).unwrap(),
            t.insert(m.clone(), 0).unwrap(),
        );
        let (a_inside_tx, a_inside_rx) = mpsc::channel();
        let (b_closing_tx, b_closing_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        {
            let (t, done_tx) = (t.clone(), done_tx.clone());
            std::thread::spawn(move || {
                // A fills its record, so its send to x is a counted reference.
                let on_y: Vec<_> = (0..records::DEPTH).map(|_| t.enter(y).unwrap()).collect();
                let on_x = t.enter(x).unwrap();
                assert!(on_x.entry.is_none(), "counted");
                a_inside_tx.send(()).unwrap();
                b_closing_rx.recv().unwrap();
                // Give B time to park waiting for A's counted reference to x.
                std::thread::sleep(Duration::from_millis(200));
                let closed = t.begin_close(z).map(Closing::finish);
                done_tx.send(("A closes z", closed)).unwrap();
                drop(on_x);
                drop(on_y);
            });
        }
        {
            let t = t.clone();
            std::thread::spawn(move || {
                let on_z = t.enter(z).unwrap();
                a_inside_rx.recv().unwrap();
                b_closing_tx.send(()).unwrap();
                let closed = t.begin_close(x).map(Closing::finish);
                done_tx.send(("B closes x", closed)).unwrap();
                drop(on_z);
            });
        }
        let mut results: Vec<_> = (0..2)
            .map(|_| {
                done_rx
                    .recv_timeout(Duration::from_secs(10))
                    .expect("a cycle through a counted reference hung")
            })
            .collect();
        results.sort_by_key(|(who, _)| *who);
        assert_eq!(results, [("A closes z", Err(CloseFailure::WouldDeadlock)), ("B closes x", Ok(()))]);
        close(&t, z);
        close(&t, y);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_deferred_close_is_finished_once_by_the_last_sender_out() {
        use std::sync::Barrier;
        use std::sync::atomic::AtomicUsize;
        for _ in 0..100 {
            let t = Arc::new(table());
            let m = Arc::new("m".to_string());
            let h = t.insert(m.clone(), 0).unwrap();
            let finished = Arc::new(AtomicUsize::new(0));
            let (inside, leave) = (Arc::new(Barrier::new(4)), Arc::new(Barrier::new(4)));
            let senders: Vec<_> = (0..3)
                .map(|_| {
                    let (t, inside, leave) = (t.clone(), inside.clone(), leave.clone());
                    std::thread::spawn(move || {
                        let g = t.enter(h).unwrap();
                        inside.wait();
                        // All three leave at once, after the close was deferred.
                        leave.wait();
                        drop(g);
                    })
                })
                .collect();
            inside.wait();
            let counter = finished.clone();
            let started = t.begin_close_or_defer(
                h,
                |_| true,
                Duration::ZERO,
                move || {
                    Box::new(move |closing: Closing<'_, String>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        closing.finish();
                    })
                },
            );
            assert!(matches!(started, Ok(Started::Deferred)), "three sends are inside");
            assert!(t.enter(h).is_none(), "closed to new sends at once");
            assert_eq!(finished.load(Ordering::SeqCst), 0);
            leave.wait();
            for s in senders {
                s.join().unwrap();
            }
            assert_eq!(finished.load(Ordering::SeqCst), 1, "exactly one sender finished it");
            assert_eq!(t.len(), 0);
            assert_eq!(Arc::strong_count(&m), 1);
        }
    }

    /// The pass stands for the identity, generation and state checks, so no value
    /// but the live handle may ever equal a slot's pass: not the values a slot holds
    /// while it has none (before its first send, while closing, in slot 0 and in
    /// unused chunks), nor anything else that names the slot.
    #[test]
    fn only_the_live_handle_enters_by_the_pass() {
        use std::sync::Barrier;
        let t = Arc::new(table());
        let m = Arc::new("m".to_string());
        let h = t.insert(m.clone(), 0).unwrap();
        assert_eq!(HandleTable::<String>::index_of(h), 1, "the first slot used is 1");
        let refused =
            |t: &HandleTable<String>, raw: usize| t.with_entered(Hdrvr::from_raw(raw), |_, _| ()).is_none();
        for raw in
            [NO_PASS, PASS_CLOSED, 1, h.raw() & INDEX_MASK, h.raw() & !INDEX_MASK, CHUNK_LEN, usize::MAX]
        {
            assert!(refused(&t, raw), "{raw:#x} before the first send");
        }
        assert!(t.with_entered(h, |_, _| ()).is_some());
        assert!(t.with_entered(h, |_, _| ()).is_some(), "by the pass now");
        // Closing, with a send still inside: the slot's pass is PASS_CLOSED.
        let (inside, leave) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let sender = {
            let (t, inside, leave) = (t.clone(), inside.clone(), leave.clone());
            std::thread::spawn(move || {
                t.with_entered(h, |_, _| {
                    inside.wait();
                    leave.wait();
                })
                .unwrap()
            })
        };
        inside.wait();
        let started = t.begin_close_or_defer(
            h,
            |_| true,
            Duration::ZERO,
            || Box::new(|c: Closing<'_, String>| c.finish()),
        );
        assert!(matches!(started, Ok(Started::Deferred)));
        for raw in [h.raw(), NO_PASS, PASS_CLOSED, 1, PASS_CLOSED | 1, 0, usize::MAX] {
            assert!(refused(&t, raw), "{raw:#x} while closing");
        }
        leave.wait();
        sender.join().unwrap();
        assert_eq!(t.len(), 0);
        assert_eq!(Arc::strong_count(&m), 1);
        assert!(refused(&t, h.raw()), "closed");
    }

    /// With full fences (no process-wide barrier) the pass is the handle with
    /// FENCED flipped: sends still enter by it, after a fence, and nothing else does.
    #[test]
    fn with_full_fences_sends_enter_by_the_fenced_pass() {
        let mut t = table();
        t.expedited = false;
        let m = Arc::new("m".to_string());
        let hs: Vec<_> = (0..3).map(|_| t.insert(m.clone(), 0).unwrap()).collect();
        let h = hs[1];
        assert_eq!(t.with_entered(h, |m, _| m.clone()).as_deref(), Some("m"));
        let slot = t.slot(HandleTable::<String>::index_of(h));
        assert_eq!(slot.pass.load(Ordering::Relaxed), h.raw() ^ FENCED, "the fenced pass");
        assert_eq!(t.with_entered(h, |m, _| m.clone()).as_deref(), Some("m"), "by the fenced pass");
        // Values naming slot FENCED (an empty slot of an unused chunk here), whose
        // flips have index bits 0, as NO_PASS and PASS_CLOSED have.
        for raw in [h.raw() ^ FENCED ^ INDEX_MASK, NO_PASS, PASS_CLOSED, FENCED, PASS_CLOSED ^ FENCED] {
            assert!(t.with_entered(Hdrvr::from_raw(raw), |_, _| ()).is_none(), "{raw:#x}");
        }
        close(&t, h);
        assert!(t.with_entered(h, |_, _| ()).is_none(), "closed");
        assert_eq!(
            t.with_entered(hs[2], |m, _| m.clone()).as_deref(),
            Some("m"),
            "its neighbour is untouched"
        );
    }

    #[test]
    fn a_deferred_close_with_no_sender_left_finishes_at_once() {
        let t = table();
        let h = t.insert(Arc::new("m".to_string()), 0).unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let started = t.begin_close_or_defer(
            h,
            |_| true,
            Duration::ZERO,
            move || {
                Box::new(move |closing: Closing<'_, String>| {
                    flag.store(true, Ordering::SeqCst);
                    closing.finish();
                })
            },
        );
        assert!(matches!(started, Ok(Started::Now(_))), "nothing to wait for");
        assert!(!ran.load(Ordering::SeqCst), "the completion is only for deferred closes");
        drop(started);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_parked_closer_is_woken_when_a_long_send_returns() {
        let t = Arc::new(table());
        let h = t.insert(Arc::new("m".into()), 0).unwrap();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let sender = {
            let t = t.clone();
            std::thread::spawn(move || {
                let g = t.enter(h).unwrap();
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(g);
            })
        };
        entered_rx.recv().unwrap();
        let closer = {
            let t = t.clone();
            std::thread::spawn(move || t.begin_close(h).map(Closing::finish))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!closer.is_finished(), "the close waits for the send");
        release_tx.send(()).unwrap();
        sender.join().unwrap();
        assert_eq!(closer.join().unwrap(), Ok(()));
        assert_eq!(t.len(), 0);
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
                let t: HandleTable<u32> = HandleTable::new(usize::MAX).unwrap();
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
                            prop_assert!(t.begin_close(h).is_err());
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
