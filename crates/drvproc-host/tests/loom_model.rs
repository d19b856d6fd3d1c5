//! A `loom` model of the enter/close protocol of `handle_table.rs` and `records.rs`
//! on the full-fence path (no `membarrier`: both sides use `fence(SeqCst)`).
//!
//! The model keeps the protocol's shape with the table's own state bits: a sender
//! announces the slot in its record, fences, and checks the slot state; a closer marks
//! the state closing, fences, waits until no other record announces the slot, turns
//! its own announcements into counted references, then sends `DRV_CLOSE` and marks the
//! slot closed; whoever drops the last counted reference after that releases it. loom
//! runs every interleaving the memory model allows and checks that:
//! * no send is inside the driver once `DRV_CLOSE` was sent (close racing send);
//! * a close from inside a send on the same slot completes, and the slot is released
//!   exactly once, after the last send returns (re-entrant self-close);
//! * a sender whose thread lost its record (thread teardown) and borrows one from the
//!   pool while a close runs is seen by the close or refused;
//! * a deferred close (the closer does not wait; the last send out finishes it) is
//!   finished exactly once, and only after every send left the driver;
//! * a send entering by the slot's pass (one compare, the common case) never reaches
//!   the driver once the close started, including when the pass was given by a send
//!   racing the close, and a close that found the instance never sent to skips the
//!   barrier safely.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p drvproc-host --test loom_model --release`.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use loom::sync::{Arc, Mutex};
use loom::thread;

const LIVE: u64 = 1 << 31;
const CLOSING: u64 = 1 << 30;
const CLOSED: u64 = 1 << 29;
const COUNT_MASK: u64 = (1 << 28) - 1;
/// The slot's address as records hold it.
const KEY: usize = 0x1000;
const CONVERTED: usize = usize::MAX;

struct Slot {
    state: AtomicU64,
    /// `DRV_CLOSE` was sent.
    close_sent: AtomicBool,
    /// Sends inside the driver right now.
    inside: AtomicUsize,
    released: AtomicUsize,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU64::new(LIVE),
            close_sent: AtomicBool::new(false),
            inside: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
        })
    }

    /// `release_if_done`: exactly one caller wins.
    fn release_if_done(&self) {
        let state = self.state.load(Ordering::Acquire);
        if state & CLOSED == 0 || state & COUNT_MASK != 0 {
            return;
        }
        if self.state.compare_exchange(state, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.released.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn leave_counted(&self) {
        let before = self.state.fetch_sub(1, Ordering::AcqRel);
        if before & COUNT_MASK == 1 && before & CLOSED != 0 {
            self.release_if_done();
        }
    }

    /// The driver runs one message: never after `DRV_CLOSE`.
    fn driver_message(&self) {
        self.inside.fetch_add(1, Ordering::AcqRel);
        assert!(!self.close_sent.load(Ordering::Acquire), "a message reached the driver after DRV_CLOSE");
        self.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The reader records of the process (records are never freed, only reused).
struct Records {
    all: Mutex<Vec<Arc<AtomicUsize>>>,
}

impl Records {
    fn new() -> Arc<Records> {
        Arc::new(Records { all: Mutex::new(Vec::new()) })
    }

    fn register(&self) -> Arc<AtomicUsize> {
        let record = Arc::new(AtomicUsize::new(0));
        self.all.lock().unwrap().push(record.clone());
        record
    }

    fn others_announce(&self, me: Option<&Arc<AtomicUsize>>) -> bool {
        self.all
            .lock()
            .unwrap()
            .iter()
            .any(|r| !me.is_some_and(|me| Arc::ptr_eq(r, me)) && r.load(Ordering::Acquire) == KEY)
    }
}

/// `enter` on the full-fence path; `Some(())` if the send may call the driver.
fn enter(slot: &Slot, record: &AtomicUsize) -> bool {
    record.store(KEY, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    let state = slot.state.load(Ordering::Acquire);
    if state & (LIVE | CLOSING) == LIVE {
        return true;
    }
    record.store(0, Ordering::Relaxed);
    false
}

/// `Guard::drop`.
fn leave(slot: &Slot, record: &AtomicUsize) {
    let converted = record.load(Ordering::Relaxed) == CONVERTED;
    record.store(0, Ordering::Release);
    if converted {
        slot.leave_counted();
    } else {
        fence(Ordering::SeqCst);
        // A closer parked on this slot would be woken here; the model's closer spins.
        let _ = slot.state.load(Ordering::Relaxed) & CLOSING;
    }
}

/// `begin_close` + `DRV_CLOSE` + `finish`; false if another closer won.
fn close(slot: &Slot, records: &Records, me: Option<&Arc<AtomicUsize>>) -> bool {
    let mut state = slot.state.load(Ordering::Acquire);
    loop {
        if state & (LIVE | CLOSING) != LIVE {
            return false;
        }
        match slot.state.compare_exchange(state, state | CLOSING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => state = now,
        }
    }
    fence(Ordering::SeqCst);
    while records.others_announce(me) {
        thread::yield_now();
    }
    let own = match me {
        Some(me) if me.load(Ordering::Relaxed) == KEY => {
            me.store(CONVERTED, Ordering::Relaxed);
            slot.state.fetch_add(1, Ordering::AcqRel);
            1
        }
        _ => 0,
    };
    while slot.state.load(Ordering::Acquire) & COUNT_MASK > own {
        thread::yield_now();
    }
    slot.close_sent.store(true, Ordering::Release);
    slot.state.fetch_or(CLOSED, Ordering::AcqRel);
    slot.release_if_done();
    true
}

/// A thread that takes a record from the pool and makes one send.
fn spawn_sender(slot: &Arc<Slot>, records: &Arc<Records>) -> thread::JoinHandle<()> {
    let (slot, records) = (slot.clone(), records.clone());
    thread::spawn(move || {
        let record = records.register();
        if enter(&slot, &record) {
            slot.driver_message();
        }
        leave(&slot, &record);
    })
}

#[test]
fn close_racing_a_send() {
    loom::model(|| {
        let (slot, records) = (Slot::new(), Records::new());
        let sender = spawn_sender(&slot, &records);
        let closer_record = records.register();
        assert!(close(&slot, &records, Some(&closer_record)));
        sender.join().unwrap();
        assert_eq!(slot.released.load(Ordering::Acquire), 1);
    });
}

#[test]
fn a_send_closing_its_own_instance_while_another_thread_sends() {
    loom::model(|| {
        let (slot, records) = (Slot::new(), Records::new());
        let other = spawn_sender(&slot, &records);
        let record = records.register();
        assert!(enter(&slot, &record), "nobody else closes");
        // Inside its own message, the driver closes its instance: no wait for itself.
        assert!(close(&slot, &records, Some(&record)));
        assert_eq!(slot.released.load(Ordering::Acquire), 0, "released only when the send returns");
        leave(&slot, &record);
        other.join().unwrap();
        assert_eq!(slot.released.load(Ordering::Acquire), 1);
    });
}

#[test]
fn a_thread_in_teardown_borrows_a_record_while_a_close_runs() {
    loom::model(|| {
        let (slot, records) = (Slot::new(), Records::new());
        // Its own record is gone: it takes one from the pool for this send.
        let dying = spawn_sender(&slot, &records);
        // The closer itself has no record (it runs in a thread-exit destructor).
        assert!(close(&slot, &records, None));
        dying.join().unwrap();
        assert_eq!(slot.released.load(Ordering::Acquire), 1);
        assert_eq!(slot.inside.load(Ordering::Acquire), 0);
    });
}

/// The deferred close: `begin_close_or_defer` and `complete_if_last`.
struct Deferred {
    pending: Mutex<bool>,
    completions: AtomicUsize,
}

impl Deferred {
    /// Finishes the close if no send is left and nobody finished it yet.
    fn complete_if_last(&self, slot: &Slot, records: &Records) {
        fence(Ordering::SeqCst);
        if !*self.pending.lock().unwrap() || records.others_announce(None) {
            return;
        }
        let mut pending = self.pending.lock().unwrap();
        if std::mem::replace(&mut *pending, false) {
            drop(pending);
            assert_eq!(slot.inside.load(Ordering::Acquire), 0, "DRV_CLOSE while a message runs");
            slot.close_sent.store(true, Ordering::Release);
            self.completions.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[test]
fn a_deferred_close_is_finished_once_by_the_last_send_out() {
    // Three threads and two locks: bound the preemptions so the search ends in
    // seconds (every interleaving with up to three preemptions is still explored).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (slot, records) = (Slot::new(), Records::new());
        let deferred = Arc::new(Deferred { pending: Mutex::new(false), completions: AtomicUsize::new(0) });
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let (slot, records, deferred) = (slot.clone(), records.clone(), deferred.clone());
                thread::spawn(move || {
                    let record = records.register();
                    if enter(&slot, &record) {
                        slot.driver_message();
                    }
                    // `withdraw`: clear, then (seeing the closing mark) try to finish.
                    record.store(0, Ordering::Release);
                    fence(Ordering::SeqCst);
                    if slot.state.load(Ordering::Relaxed) & CLOSING != 0 {
                        deferred.complete_if_last(&slot, &records);
                    }
                })
            })
            .collect();
        // The closer marks the slot closing and, without waiting, defers.
        slot.state.fetch_or(CLOSING, Ordering::AcqRel);
        fence(Ordering::SeqCst);
        *deferred.pending.lock().unwrap() = true;
        deferred.complete_if_last(&slot, &records);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(deferred.completions.load(Ordering::Acquire), 1, "finished exactly once");
    });
}

/// The pass (`handle_table.rs`, "The pass"): the common send enters by one compare of
/// the slot's pass with its handle, which the first send sets after marking the
/// instance sent, and the closer replaces before its barrier. The closer takes the
/// barrier and waits for announcements only if the instance was marked sent. Here
/// the barrier is a `SeqCst` fence on both sides, as `membarrier` makes it for the
/// pair of threads; with full fences (no such barrier) the send's fence is real and
/// the pass it compares is the fenced one, which is the same protocol.
mod pass {
    use super::*;

    const SENT: u64 = 1 << 28;
    const HANDLE: usize = 0x0100_0001;
    const NO_PASS: usize = 0;
    const PASS_CLOSED: usize = 0x0100_0000;

    pub(super) struct PassSlot {
        pub(super) slot: Arc<Slot>,
        pass: AtomicUsize,
    }

    impl PassSlot {
        pub(super) fn new() -> Arc<PassSlot> {
            Arc::new(PassSlot { slot: Slot::new(), pass: AtomicUsize::new(NO_PASS) })
        }

        /// `enter_with_pass` and its exit; whether the driver was called.
        pub(super) fn send_with_pass(&self, record: &AtomicUsize) -> bool {
            record.store(KEY, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            let entered = self.pass.load(Ordering::Acquire) == HANDLE;
            if entered {
                self.slot.driver_message();
            }
            record.store(0, Ordering::Release);
            fence(Ordering::SeqCst);
            entered
        }

        /// `enter` + `mark_sent` (which gives the pass) + `withdraw`.
        pub(super) fn send_general(&self, record: &AtomicUsize) -> bool {
            record.store(KEY, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            let mut state = self.slot.state.load(Ordering::Acquire);
            let entered = loop {
                if state & (LIVE | CLOSING) != LIVE {
                    break false;
                }
                if state & SENT != 0 {
                    break true;
                }
                match self.slot.state.compare_exchange(
                    state,
                    state | SENT,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break true,
                    Err(now) => state = now,
                }
            };
            if entered {
                if self.pass.load(Ordering::Relaxed) == NO_PASS {
                    let _ = self.pass.compare_exchange(NO_PASS, HANDLE, Ordering::AcqRel, Ordering::Relaxed);
                }
                self.slot.driver_message();
            }
            record.store(0, Ordering::Release);
            fence(Ordering::SeqCst);
            entered
        }

        /// `start_close` + `DRV_CLOSE` + `finish` (no sends of the closer's own).
        pub(super) fn close(&self, records: &Records) {
            let before = self.slot.state.fetch_or(CLOSING, Ordering::AcqRel);
            assert_eq!(before & (LIVE | CLOSING), LIVE, "one closer");
            self.pass.swap(PASS_CLOSED, Ordering::AcqRel);
            if before & SENT != 0 {
                fence(Ordering::SeqCst);
                while records.others_announce(None) {
                    thread::yield_now();
                }
            }
            self.slot.close_sent.store(true, Ordering::Release);
            self.slot.state.fetch_or(CLOSED, Ordering::AcqRel);
            self.slot.release_if_done();
        }
    }
}

#[test]
fn a_pass_is_never_used_after_a_close_starts() {
    loom::model(|| {
        let (ps, records) = (pass::PassSlot::new(), Records::new());
        let sender = {
            let (ps, records) = (ps.clone(), records.clone());
            thread::spawn(move || {
                let record = records.register();
                // The first send marks the instance sent and gives the pass; the
                // second enters by it, if the close has not replaced it.
                ps.send_general(&record);
                ps.send_with_pass(&record);
            })
        };
        ps.close(&records);
        sender.join().unwrap();
        assert_eq!(ps.slot.released.load(Ordering::Acquire), 1);
    });
}

#[test]
fn two_senders_by_the_pass_and_a_close() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (ps, records) = (pass::PassSlot::new(), Records::new());
        let first = records.register();
        assert!(ps.send_general(&first), "the instance is sent to and has its pass");
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let (ps, records) = (ps.clone(), records.clone());
                thread::spawn(move || {
                    let record = records.register();
                    ps.send_with_pass(&record);
                })
            })
            .collect();
        ps.close(&records);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(ps.slot.released.load(Ordering::Acquire), 1);
    });
}
