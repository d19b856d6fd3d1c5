//! Per-thread reader records: where a thread announces the instances it is inside a
//! send to, and where a closer looks for them.
//!
//! A record belongs to one thread at a time. Only that thread writes its `active`
//! entries (plain stores, so a send does no read-modify-write and writes no line
//! another thread writes); closers only read them. An entry holds the *address of a
//! slot* (the instance's place in its handle table), never a handle value, so two
//! tables whose handles happen to look alike can never be confused. 0 is a free
//! entry; [`CONVERTED`] is an entry a re-entrant close on the same thread turned into
//! a counted reference.
//!
//! **Thread teardown.** Nothing here that a send or a close touches has a destructor:
//! the current record is a const, destructor-free thread-local, so it can be read
//! from any other thread-local's destructor or a `pthread_key` destructor. Returning
//! the record to the pool at thread exit does need a destructor (`owner`); where it
//! cannot be set up any more, a send *borrows* a record for its own duration
//! ([`borrow_for_teardown`]) and gives it back when it returns, so even the last code
//! a thread runs gets the same protection as any send.
//!
//! **Waiting.** A closer that must wait for senders parks on [`WOKEN`]; a sender that
//! leaves an instance marked closing wakes the closers (it checks after clearing its
//! entry, ordered by the same asymmetric barrier as entering). Before it parks, a
//! closer registers what it waits for and looks for a cycle of closers each waiting
//! for a send the next one is inside: such a close fails instead of waiting forever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How deeply one thread's sends may nest before they use counted references.
pub(crate) const DEPTH: usize = 8;

/// What a re-entrant close writes over its own thread's entries for the instance: the
/// send that owns the entry now holds a counted reference instead. No slot has this
/// address.
pub(crate) const CONVERTED: usize = usize::MAX;

/// One thread's announcements. Aligned so that no two threads' records share a cache
/// line (or an adjacent-line prefetch pair): sends from different threads must not
/// write the same line.
#[repr(align(128))]
pub(crate) struct Record {
    /// Slot addresses this thread is inside a send to (0: free).
    pub(crate) active: [AtomicUsize; DEPTH],
    /// Slot addresses this thread holds counted references to (sends nested deeper
    /// than `active` holds). Only its thread touches it; a mutex keeps that safe
    /// without a destructor-bearing thread-local.
    deep: Mutex<Vec<usize>>,
}

impl Record {
    fn new() -> Self {
        Record { active: std::array::from_fn(|_| AtomicUsize::new(0)), deep: Mutex::new(Vec::new()) }
    }

    /// [`PLACEHOLDER`]: its first entry is permanently taken, so a send's inlined
    /// common case (which uses the first entry only when it is free) turns away to
    /// the general path, which registers a real record.
    const fn placeholder() -> Self {
        let mut active = [const { AtomicUsize::new(0) }; DEPTH];
        active[0] = AtomicUsize::new(CONVERTED);
        Record { active, deep: Mutex::new(Vec::new()) }
    }

    /// A free entry, if any (entries are freed in any order).
    pub(crate) fn free_entry(&self) -> Option<&AtomicUsize> {
        self.active.iter().find(|a| a.load(Ordering::Relaxed) == 0)
    }

    /// Whether this record announces `key` (read by closers).
    pub(crate) fn announces(&self, key: usize) -> bool {
        self.active.iter().any(|a| a.load(Ordering::Acquire) == key)
    }

    /// Whether its thread is inside any send (only meaningful on its own thread).
    /// Counted references are taken only when every entry is in use, and sends end
    /// innermost first, so the entries alone tell.
    pub(crate) fn is_inside_a_send(&self) -> bool {
        self.active.iter().any(|a| a.load(Ordering::Relaxed) != 0)
    }

    /// Whether its thread is inside a send to `key`, announced or counted (for cycle
    /// detection; a counted reference keeps a close waiting as an announcement does).
    fn holds(&self, key: usize) -> bool {
        self.announces(key) || self.deep().contains(&key)
    }

    /// Turns this thread's own announcements of `key` into counted references and
    /// says how many there were. Only the record's thread may call this.
    pub(crate) fn convert(&self, key: usize) -> u64 {
        let mut converted = 0;
        for entry in &self.active {
            if entry.load(Ordering::Relaxed) == key {
                entry.store(CONVERTED, Ordering::Relaxed);
                converted += 1;
            }
        }
        converted
    }

    fn deep(&self) -> MutexGuard<'_, Vec<usize>> {
        self.deep.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a counted reference this thread took to `key`.
    pub(crate) fn push_deep(&self, key: usize) {
        self.deep().push(key);
    }

    /// Forgets one counted reference this thread held to `key`.
    pub(crate) fn pop_deep(&self, key: usize) {
        let mut deep = self.deep();
        if let Some(pos) = deep.iter().rposition(|&x| x == key) {
            deep.remove(pos);
        }
    }

    /// How many counted references to `key` this thread holds.
    pub(crate) fn deep_count(&self, key: usize) -> u64 {
        self.deep().iter().filter(|&&x| x == key).count() as u64
    }

    fn is_idle(&self) -> bool {
        self.active.iter().all(|a| a.load(Ordering::Relaxed) == 0) && self.deep().is_empty()
    }
}

/// Every record ever handed out (records are reused, never freed, so a closer may
/// read any of them at any time).
struct Pool {
    all: Vec<&'static Record>,
    idle: Vec<&'static Record>,
}

fn pool() -> MutexGuard<'static, Pool> {
    static POOL: Mutex<Pool> = Mutex::new(Pool { all: Vec::new(), idle: Vec::new() });
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn take_from_pool() -> &'static Record {
    let mut pool = pool();
    pool.idle.pop().unwrap_or_else(|| {
        let record: &'static Record = Box::leak(Box::new(Record::new()));
        pool.all.push(record);
        record
    })
}

/// What a thread without a record of its own reads as its current record (never
/// written, never in the pool, so no closer ever looks at it).
static PLACEHOLDER: Record = Record::placeholder();

/// This thread's current record as it is stored: [`PLACEHOLDER`] if it has none.
#[inline(always)]
fn current_raw() -> &'static Record {
    current::get()
}

fn set_current(record: &'static Record) {
    current::set(record);
}

/// The thread-local cell of the current record: never null, no destructor (readable
/// during teardown), and on x86-64 Linux two instructions to read.
///
/// A thread-local of a shared library normally uses the general-dynamic model: every
/// access calls `__tls_get_addr`, about a dozen instructions and a call that makes
/// the send path save its arguments around it, more than the rest of a send's own
/// work. Rust has no stable way to ask for another model, so on x86-64 Linux the cell
/// is declared in assembly with the initial-exec model: one load of its offset from
/// the GOT, one `%fs`-relative load. The cost is 8 bytes of static TLS: a library
/// `dlopen`ed after start-up takes them from the surplus the C library reserves for
/// that (glibc: `rtld.optional_static_tls`, 512 bytes by default), and the `dlopen`
/// fails, with glibc's "cannot allocate memory in static TLS block", if the
/// process's libraries have used it all up.
///
/// Its initial value is the address of [`PLACEHOLDER`], a relocation in the TLS
/// image; glibc copies a `dlopen`ed library's image into the threads' static TLS only
/// after relocating it.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod current {
    use super::{PLACEHOLDER, Record};

    std::arch::global_asm!(
        ".pushsection .tdata,\"awT\",@progbits",
        ".p2align 3",
        ".globl drvproc_host_current_record_0_1",
        ".hidden drvproc_host_current_record_0_1",
        ".type drvproc_host_current_record_0_1, @object",
        ".size drvproc_host_current_record_0_1, 8",
        "drvproc_host_current_record_0_1:",
        ".quad {placeholder}",
        ".popsection",
        placeholder = sym PLACEHOLDER,
    );

    #[inline(always)]
    pub(super) fn get() -> &'static Record {
        let record: *const Record;
        // SAFETY: reads this thread's 8-byte cell declared above (initial-exec: its
        // offset from the thread pointer, from the GOT); touches nothing else.
        unsafe {
            std::arch::asm!(
                "mov {r}, qword ptr [rip + drvproc_host_current_record_0_1@GOTTPOFF]",
                "mov {r}, qword ptr fs:[{r}]",
                r = out(reg) record,
                options(nostack, preserves_flags, readonly, pure),
            );
        }
        // SAFETY: the cell only ever holds `&PLACEHOLDER` (its initial value) or a
        // `&'static Record` given to `set`.
        unsafe { &*record }
    }

    pub(super) fn set(record: &'static Record) {
        // SAFETY: writes this thread's 8-byte cell declared above; nothing else.
        unsafe {
            std::arch::asm!(
                "mov {o}, qword ptr [rip + drvproc_host_current_record_0_1@GOTTPOFF]",
                "mov qword ptr fs:[{o}], {r}",
                o = out(reg) _,
                r = in(reg) std::ptr::from_ref(record),
                options(nostack, preserves_flags),
            );
        }
    }
}

/// The same cell as a plain `thread_local!` where no cheaper access is written.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod current {
    use std::cell::Cell;

    use super::{PLACEHOLDER, Record};

    thread_local! {
        static CURRENT: Cell<&'static Record> = const { Cell::new(&PLACEHOLDER) };
    }

    #[inline(always)]
    pub(super) fn get() -> &'static Record {
        CURRENT.with(Cell::get)
    }

    pub(super) fn set(record: &'static Record) {
        CURRENT.with(|c| c.set(record));
    }
}

/// `Some` for a real record.
fn real(record: &'static Record) -> Option<&'static Record> {
    (!std::ptr::eq(record, &PLACEHOLDER)).then_some(record)
}

/// This thread's record, or the placeholder, whose first entry is never free: the
/// inlined common case of a send reads this and uses the first entry if it is free,
/// and otherwise takes the general path ([`current_or_register`]).
#[inline(always)]
pub(crate) fn current_or_placeholder() -> &'static Record {
    current_raw()
}

/// Who gives the record back at thread exit. On Linux a `pthread_key` destructor: it
/// runs after every Rust thread-local destructor, and glibc runs key destructors
/// again when one sets a value, so even a thread that first sends from a
/// `pthread_key` destructor of its own gives its record back. Elsewhere a Rust
/// thread-local destructor (a thread registering after those have run borrows a
/// record per send instead, [`borrow_for_teardown`]).
#[cfg(target_os = "linux")]
mod owner {
    use std::sync::OnceLock;

    use super::Record;

    unsafe extern "C" fn release(record: *mut libc::c_void) {
        // SAFETY: the only value ever set under this key is a `&'static Record`
        // (`install`); glibc calls this once per set value, at thread exit.
        let record: &'static Record = unsafe { &*(record as *const Record) };
        super::give_back(record);
    }

    fn key() -> Option<libc::pthread_key_t> {
        static KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();
        *KEY.get_or_init(|| {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: `key` is a valid out-pointer; `release` has the destructor ABI.
            (unsafe { libc::pthread_key_create(&mut key, Some(release)) } == 0).then_some(key)
        })
    }

    /// Arranges for `record` to go back to the pool when this thread exits.
    pub(super) fn install(record: &'static Record) -> bool {
        let Some(key) = key() else { return false };
        // SAFETY: a key made by `key()`; the value is a `&'static Record`.
        unsafe { libc::pthread_setspecific(key, (record as *const Record).cast()) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod owner {
    use std::cell::RefCell;

    use super::Record;

    struct Owner(&'static Record);

    impl Drop for Owner {
        fn drop(&mut self) {
            super::give_back(self.0);
        }
    }

    thread_local! {
        static OWNER: RefCell<Option<Owner>> = const { RefCell::new(None) };
    }

    /// Arranges for `record` to go back to the pool when this thread exits; false
    /// once this thread's thread-locals are being destroyed.
    pub(super) fn install(record: &'static Record) -> bool {
        OWNER
            .try_with(|owner| match owner.try_borrow_mut() {
                Ok(mut owner) if owner.is_none() => {
                    *owner = Some(Owner(record));
                    true
                }
                _ => false,
            })
            .unwrap_or(false)
    }
}

/// This thread's record, registering one on first use. `None` when the thread is
/// being torn down and can no longer own one (see [`borrow_for_teardown`]).
#[inline(always)]
pub(crate) fn current_or_register() -> Option<&'static Record> {
    match real(current_raw()) {
        Some(record) => Some(record),
        None => register(),
    }
}

/// This thread's record if it has one, without registering (closers with no record
/// have no announcements to account for).
pub(crate) fn current() -> Option<&'static Record> {
    real(current_raw())
}

#[cold]
#[inline(never)]
fn register() -> Option<&'static Record> {
    let record = take_from_pool();
    // If nobody can give it back at exit, take none: the send borrows one instead.
    if !owner::install(record) {
        pool().idle.push(record);
        return None;
    }
    set_current(record);
    Some(record)
}

/// For a thread in teardown: a record for the duration of one outermost send, given
/// back by [`give_back`]. Nested sends inside it find it as the current record.
#[cold]
pub(crate) fn borrow_for_teardown() -> &'static Record {
    let record = take_from_pool();
    set_current(record);
    record
}

/// Gives this thread's record back to the pool: at the end of a
/// [`borrow_for_teardown`], and when the thread exits (the `owner` destructor). Sends
/// do not outlive the code that made them, so the record is idle then: an exit
/// destructor runs between other destructors, never inside one.
#[cold]
pub(crate) fn give_back(record: &'static Record) {
    debug_assert!(record.is_idle(), "a borrowed record is given back only when idle");
    set_current(&PLACEHOLDER);
    pool().idle.push(record);
}

/// Whether any record other than `me` announces `key`.
pub(crate) fn others_announce(key: usize, me: Option<&'static Record>) -> bool {
    let pool = pool();
    pool.all.iter().any(|r| !me.is_some_and(|me| std::ptr::eq(*r, me)) && r.announces(key))
}

/// A closer waiting for the sends to one slot to return.
struct Waiter {
    record: &'static Record,
    key: usize,
}

static WAITERS: Mutex<Vec<Waiter>> = Mutex::new(Vec::new());
/// Signalled whenever a send leaves, or a counted reference is dropped, on an
/// instance marked closing.
static WOKEN: Condvar = Condvar::new();

fn waiters() -> MutexGuard<'static, Vec<Waiter>> {
    WAITERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wakes the closers (a sender left an instance marked closing). Taking the lock
/// orders this after the sender's own exit, so a closer that checked before it
/// is already waiting and gets the signal.
#[cold]
pub(crate) fn wake() {
    let _waiters = waiters();
    WOKEN.notify_all();
}

/// Why [`wait_until`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitFailure {
    /// Waiting would close a cycle: through a chain of closers each waiting for a
    /// send the next one is inside, it would wait for a send this thread is inside.
    WouldDeadlock,
    /// The deadline passed first.
    TimedOut,
}

/// Whether `me` closing `key` now would wait, through a chain of parked closers, for
/// a send `me` is inside: checked before a close marks anything, so a close that
/// would fail changes nothing.
pub(crate) fn would_close_cycle(me: &'static Record, key: usize) -> bool {
    closes_cycle(&waiters(), me, key)
}

/// Waits until `done()` holds, parked between checks, or for `patience` at most
/// (counted from when it starts to park; the clock is read only then). With `me`,
/// the wait (for other threads' sends to `key`) is registered, and it fails with
/// [`WaitFailure::WouldDeadlock`] when it closes a cycle of such waits.
pub(crate) fn wait_until(
    key: usize,
    me: Option<&'static Record>,
    patience: Option<Duration>,
    done: impl Fn() -> bool,
) -> Result<(), WaitFailure> {
    // Most sends are short: spin briefly before registering and parking.
    for round in 0..128 {
        if done() {
            return Ok(());
        }
        if round < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    let mut list = waiters();
    if let Some(me) = me {
        if closes_cycle(&list, me, key) {
            return Err(WaitFailure::WouldDeadlock);
        }
        list.push(Waiter { record: me, key });
    }
    // Unregisters on every way out, unwinding included.
    struct Registered(Option<&'static Record>, usize);
    impl Drop for Registered {
        fn drop(&mut self) {
            if let Some(me) = self.0 {
                let mut list = waiters();
                if let Some(pos) = list.iter().position(|w| std::ptr::eq(w.record, me) && w.key == self.1) {
                    list.swap_remove(pos);
                }
            }
        }
    }
    let registered = Registered(me, key);
    let deadline = patience.map(|p| Instant::now() + p);
    let mut outcome = Ok(());
    while !done() {
        match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            None => list = WOKEN.wait(list).unwrap_or_else(PoisonError::into_inner),
            Some(left) if left.is_zero() => {
                outcome = Err(WaitFailure::TimedOut);
                break;
            }
            Some(left) => list = WOKEN.wait_timeout(list, left).unwrap_or_else(PoisonError::into_inner).0,
        }
    }
    drop(list);
    drop(registered);
    outcome
}

/// Whether `me` waiting for the holders of `key` closes a cycle: following "waits for
/// a send that record is inside" from `key` leads back to a send `me` is inside.
/// Registered waiters are parked inside a close, so their announcements cannot change
/// while the waiters lock is held: a cycle seen here is real.
fn closes_cycle(list: &[Waiter], me: &'static Record, key: usize) -> bool {
    let pool = pool();
    let mut keys = vec![key];
    let mut next = 0;
    while let Some(&k) = keys.get(next) {
        next += 1;
        for holder in pool.all.iter().filter(|r| r.holds(k)) {
            if std::ptr::eq(*holder, me) {
                if k != key {
                    return true;
                }
                continue;
            }
            for w in list.iter().filter(|w| std::ptr::eq(w.record, *holder)) {
                if !keys.contains(&w.key) {
                    keys.push(w.key);
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_one_record_and_returns_it_at_exit() {
        let (first, again) = std::thread::spawn(|| {
            let a = current_or_register().expect("a running thread registers");
            let b = current_or_register().expect("registered");
            (a as *const Record as usize, b as *const Record as usize)
        })
        .join()
        .unwrap();
        assert_eq!(first, again);
        assert!(pool().idle.iter().any(|r| std::ptr::eq(*r, first as *const Record)));
    }

    #[test]
    fn a_borrowed_record_is_current_until_given_back() {
        std::thread::spawn(|| {
            let r = borrow_for_teardown();
            assert!(current().is_some_and(|c| std::ptr::eq(c, r)));
            give_back(r);
            assert!(current().is_none());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn conversions_and_counted_references_are_per_key() {
        let r = Record::new();
        r.active[0].store(10, Ordering::Relaxed);
        r.active[3].store(10, Ordering::Relaxed);
        r.active[5].store(20, Ordering::Relaxed);
        assert!(r.announces(10) && r.announces(20) && !r.announces(30));
        assert_eq!(r.convert(10), 2);
        assert!(!r.announces(10));
        assert_eq!(r.active[3].load(Ordering::Relaxed), CONVERTED);
        r.push_deep(7);
        r.push_deep(7);
        r.push_deep(8);
        assert_eq!(r.deep_count(7), 2);
        r.pop_deep(7);
        assert_eq!(r.deep_count(7), 1);
        assert_eq!(r.deep_count(8), 1);
    }

    #[test]
    fn a_cycle_of_waiting_closers_is_seen_and_a_chain_is_not() {
        let a: &'static Record = Box::leak(Box::new(Record::new()));
        let b: &'static Record = Box::leak(Box::new(Record::new()));
        pool().all.extend([a, b]);
        // a is inside a send to slot 100, b inside a send to slot 200.
        a.active[0].store(100, Ordering::Relaxed);
        b.active[0].store(200, Ordering::Relaxed);
        let b_waits_for_100 = [Waiter { record: b, key: 100 }];
        // a closing 200 waits for b, which waits for a: a cycle.
        assert!(closes_cycle(&b_waits_for_100, a, 200));
        // With nobody registered, a only waits for b: no cycle (yet).
        assert!(!closes_cycle(&[], a, 200));
        // A self-close (a closing the slot it is inside) is not a cycle.
        assert!(!closes_cycle(&b_waits_for_100, a, 100));
        a.active[0].store(0, Ordering::Relaxed);
        b.active[0].store(0, Ordering::Relaxed);
    }
}
