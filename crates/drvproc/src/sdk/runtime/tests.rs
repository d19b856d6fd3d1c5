//! Load/free tests: a [`Runtime`] called directly from several threads, with drivers
//! that block inside `Driver::load`/`Driver::free` until the test lets them go.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex, MutexGuard};
use std::thread;

use super::Runtime;
use crate::consts::*;
use crate::sdk::{Driver, Instance, OpenParams};
use crate::types::{Hdrvr, LResult, Msg};

const H: Hdrvr = Hdrvr::from_raw(0x77);

/// Sends `msg` with no parameters straight to `rt`.
fn send<D: Driver>(rt: &Runtime<D>, msg: Msg) -> LResult {
    // SAFETY: no message sent through here carries a pointer.
    unsafe { rt.driver_proc(0, H, msg, 0, 0) }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A point driver code passes through; a closed gate holds every caller until opened.
struct Gate {
    /// (open, callers that reached the gate)
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    const fn new() -> Self {
        Gate { state: Mutex::new((true, 0)), changed: Condvar::new() }
    }

    fn pass(&self) {
        let mut state = lock(&self.state);
        state.1 += 1;
        self.changed.notify_all();
        while !state.0 {
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn close(&self) {
        lock(&self.state).0 = false;
    }

    fn open(&self) {
        lock(&self.state).0 = true;
        self.changed.notify_all();
    }

    fn entered(&self) -> usize {
        lock(&self.state).1
    }

    fn wait_entered(&self, n: usize) {
        let mut state = lock(&self.state);
        while state.1 < n {
            state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

type Hook = fn() -> LResult;

/// What one test's driver does and saw.
struct Hooks {
    events: Mutex<Vec<String>>,
    serial: AtomicUsize,
    load_gate: Gate,
    free_gate: Gate,
    open_gate: Gate,
    refuse_loads: AtomicUsize,
    panic_loads: AtomicUsize,
    panic_free: AtomicBool,
    inside_load: Mutex<Option<Hook>>,
    inside_free: Mutex<Option<Hook>>,
}

impl Hooks {
    const fn new() -> Self {
        Hooks {
            events: Mutex::new(Vec::new()),
            serial: AtomicUsize::new(0),
            load_gate: Gate::new(),
            free_gate: Gate::new(),
            open_gate: Gate::new(),
            refuse_loads: AtomicUsize::new(0),
            panic_loads: AtomicUsize::new(0),
            panic_free: AtomicBool::new(false),
            inside_load: Mutex::new(None),
            inside_free: Mutex::new(None),
        }
    }

    fn event(&self, e: String) {
        lock(&self.events).push(e);
    }

    fn take_events(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.events))
    }

    /// Consumes one unit of `counter` if any is left.
    fn take_one(counter: &AtomicUsize) -> bool {
        counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// Runs (once) the hook stored in `slot`, logging its answer.
    fn run_hook(&self, slot: &Mutex<Option<Hook>>, what: &str) {
        let hook = lock(slot).take();
        if let Some(hook) = hook {
            let answer = hook();
            self.event(format!("{what} answered {answer}"));
        }
    }
}

/// One `Hooks` per test, indexed by the driver's const parameter.
static HOOKS: [Hooks; 9] = [const { Hooks::new() }; 9];

/// Module state numbered by the load that made it; logs its own drop.
#[derive(Default)]
struct Gated<const N: usize> {
    serial: usize,
}

struct GatedInstance;

impl<const N: usize> Drop for Gated<N> {
    fn drop(&mut self) {
        if self.serial != 0 {
            HOOKS[N].event(format!("drop {}", self.serial));
        }
    }
}

impl<const N: usize> Driver for Gated<N> {
    type Instance = GatedInstance;

    fn load(_h: Hdrvr) -> Option<Self> {
        let hooks = &HOOKS[N];
        hooks.load_gate.pass();
        hooks.run_hook(&hooks.inside_load, "inner call in load");
        if Hooks::take_one(&hooks.panic_loads) {
            hooks.event("load panics".into());
            panic!("load panicked");
        }
        if Hooks::take_one(&hooks.refuse_loads) {
            hooks.event("load refused".into());
            return None;
        }
        let serial = hooks.serial.fetch_add(1, Ordering::SeqCst) + 1;
        hooks.event(format!("load {serial}"));
        Some(Gated { serial })
    }

    fn free(&self, _h: Hdrvr) -> LResult {
        let hooks = &HOOKS[N];
        hooks.free_gate.pass();
        hooks.event(format!("free {}", self.serial));
        hooks.run_hook(&hooks.inside_free, "inner call in free");
        if hooks.panic_free.load(Ordering::SeqCst) {
            panic!("free panicked");
        }
        1
    }

    fn open(&self, _p: &OpenParams) -> Option<GatedInstance> {
        HOOKS[N].open_gate.pass();
        Some(GatedInstance)
    }

    /// Answers which state is loaded.
    fn message(&self, _h: Hdrvr, _msg: Msg, _l1: isize, _l2: isize) -> LResult {
        self.serial as LResult
    }
}

impl<const N: usize> Instance<Gated<N>> for GatedInstance {}

/// Spins (without sleeping) until `done` holds.
fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        thread::yield_now();
    }
}

#[test]
fn a_load_during_the_last_free_waits_and_loads_fresh_state() {
    let hooks = &HOOKS[0];
    let rt = Runtime::<Gated<0>>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    hooks.free_gate.close();
    thread::scope(|s| {
        let freer = s.spawn(|| send(&rt, DRV_FREE));
        hooks.free_gate.wait_entered(1);
        let loader = s.spawn(|| send(&rt, DRV_LOAD));
        // The loader either waits for the free (correct) or has already returned.
        until(|| loader.is_finished() || rt.waiters() == 1);
        hooks.free_gate.open();
        assert_eq!(freer.join().unwrap(), 1);
        assert_eq!(loader.join().unwrap(), 1);
    });
    assert_eq!(hooks.take_events(), ["load 1", "free 1", "drop 1", "load 2"]);
    assert!(rt.is_loaded());
    assert_eq!(send(&rt, DRV_USER), 2, "the state loaded after the free is a fresh one");
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 2", "drop 2"]);
    assert!(!rt.is_loaded());
}

#[test]
fn a_free_during_the_last_free_does_not_run_free_again() {
    let hooks = &HOOKS[1];
    let rt = Runtime::<Gated<1>>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    hooks.free_gate.close();
    thread::scope(|s| {
        let freer = s.spawn(|| send(&rt, DRV_FREE));
        hooks.free_gate.wait_entered(1);
        let unmatched = s.spawn(|| send(&rt, DRV_FREE));
        until(|| unmatched.is_finished() || hooks.free_gate.entered() == 2);
        hooks.free_gate.open();
        assert_eq!(freer.join().unwrap(), 1);
        assert_eq!(unmatched.join().unwrap(), 1, "an unmatched DRV_FREE gets DefDriverProc's answer");
    });
    assert_eq!(hooks.take_events(), ["load 1", "free 1", "drop 1"]);
    assert!(!rt.is_loaded());
}

#[test]
fn concurrent_last_frees_run_free_exactly_once() {
    let hooks = &HOOKS[2];
    let rt = Runtime::<Gated<2>>::new();
    for round in 1..=200 {
        assert_eq!(send(&rt, DRV_LOAD), 1);
        assert_eq!(send(&rt, DRV_LOAD), 1);
        let start = Barrier::new(2);
        thread::scope(|s| {
            let frees: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        send(&rt, DRV_FREE)
                    })
                })
                .collect();
            for f in frees {
                assert_eq!(f.join().unwrap(), 1);
            }
        });
        assert_eq!(
            hooks.take_events(),
            [format!("load {round}"), format!("free {round}"), format!("drop {round}")]
        );
        assert!(!rt.is_loaded());
    }
}

#[test]
fn a_load_during_a_load_waits_and_counts_against_that_state() {
    let hooks = &HOOKS[3];
    let rt = Runtime::<Gated<3>>::new();
    hooks.load_gate.close();
    thread::scope(|s| {
        let first = s.spawn(|| send(&rt, DRV_LOAD));
        hooks.load_gate.wait_entered(1);
        let second = s.spawn(|| send(&rt, DRV_LOAD));
        until(|| second.is_finished() || rt.waiters() == 1 || hooks.load_gate.entered() == 2);
        hooks.load_gate.open();
        assert_eq!(first.join().unwrap(), 1);
        assert_eq!(second.join().unwrap(), 1);
    });
    assert_eq!(hooks.take_events(), ["load 1"], "exactly one Driver::load");
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert!(rt.is_loaded(), "two loads need two frees");
    assert_eq!(hooks.take_events(), Vec::<String>::new());
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 1", "drop 1"]);
}

#[test]
fn a_load_waiting_on_a_refused_load_loads_for_itself() {
    let hooks = &HOOKS[4];
    let rt = Runtime::<Gated<4>>::new();
    hooks.refuse_loads.store(1, Ordering::SeqCst);
    hooks.load_gate.close();
    thread::scope(|s| {
        let first = s.spawn(|| send(&rt, DRV_LOAD));
        hooks.load_gate.wait_entered(1);
        let second = s.spawn(|| send(&rt, DRV_LOAD));
        until(|| second.is_finished() || rt.waiters() == 1 || hooks.load_gate.entered() == 2);
        hooks.load_gate.open();
        assert_eq!(first.join().unwrap(), 0);
        assert_eq!(second.join().unwrap(), 1);
    });
    assert_eq!(hooks.take_events(), ["load refused", "load 1"]);
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 1", "drop 1"]);
}

#[test]
fn a_panicking_free_drops_the_state_and_a_later_load_starts_fresh() {
    let hooks = &HOOKS[5];
    let rt = Runtime::<Gated<5>>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    assert_ne!(send(&rt, DRV_OPEN), 0);
    hooks.panic_free.store(true, Ordering::SeqCst);
    assert_eq!(send(&rt, DRV_FREE), 0, "a panic is answered with 0");
    hooks.panic_free.store(false, Ordering::SeqCst);
    assert!(!rt.is_loaded(), "the state whose free panicked is gone");
    assert_eq!(rt.instance_count(), 0);
    assert_eq!(hooks.take_events(), ["load 1", "free 1", "drop 1"]);
    assert_eq!(send(&rt, DRV_LOAD), 1);
    assert_eq!(hooks.take_events(), ["load 2"]);
    assert_eq!(send(&rt, DRV_USER), 2);
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 2", "drop 2"]);
}

#[test]
fn a_panicking_load_leaves_the_runtime_unloaded() {
    let hooks = &HOOKS[6];
    let rt = Runtime::<Gated<6>>::new();
    hooks.panic_loads.store(1, Ordering::SeqCst);
    assert_eq!(send(&rt, DRV_LOAD), 0);
    assert!(!rt.is_loaded());
    assert_eq!(send(&rt, DRV_LOAD), 1, "the next load is not blocked by the panicked one");
    assert_eq!(hooks.take_events(), ["load panics", "load 1"]);
    assert_eq!(send(&rt, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 1", "drop 1"]);
}

static REENTERED: Runtime<Gated<7>> = Runtime::new();

#[test]
fn load_and_free_reentered_from_their_own_driver_code_do_not_deadlock() {
    let hooks = &HOOKS[7];
    *lock(&hooks.inside_load) = Some(|| send(&REENTERED, DRV_LOAD));
    assert_eq!(send(&REENTERED, DRV_LOAD), 1);
    assert_eq!(hooks.take_events(), ["inner call in load answered 0", "load 1"]);
    *lock(&hooks.inside_free) = Some(|| send(&REENTERED, DRV_LOAD));
    assert_eq!(send(&REENTERED, DRV_FREE), 1);
    assert_eq!(hooks.take_events(), ["free 1", "inner call in free answered 0", "drop 1"]);
    assert!(!REENTERED.is_loaded());
}

#[test]
fn an_open_that_outlives_the_last_free_is_refused() {
    let hooks = &HOOKS[8];
    let rt = Runtime::<Gated<8>>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    hooks.open_gate.close();
    thread::scope(|s| {
        let opener = s.spawn(|| send(&rt, DRV_OPEN));
        hooks.open_gate.wait_entered(1);
        assert_eq!(send(&rt, DRV_FREE), 1);
        hooks.open_gate.open();
        assert_eq!(opener.join().unwrap(), 0, "the state it was opened on is gone");
    });
    assert_eq!(rt.instance_count(), 0, "no instance of a freed state is kept");
    assert_eq!(hooks.take_events(), ["load 1", "free 1", "drop 1"]);
    assert_eq!(send(&rt, DRV_LOAD), 1);
    assert_eq!(rt.instance_count(), 0);
    assert_eq!(send(&rt, DRV_FREE), 1);
}

/// A driver whose messages panic with awkward payloads.
#[derive(Default)]
struct Panicky;

impl Driver for Panicky {
    type Instance = GatedInstance;

    fn message(&self, _h: Hdrvr, msg: Msg, _l1: isize, _l2: isize) -> LResult {
        match msg {
            m if m == DRV_USER + 1 => std::panic::panic_any(PanicOnDrop),
            _ => panic!("plain panic"),
        }
    }
}

impl Instance<Panicky> for GatedInstance {}

/// A panic payload whose destructor panics.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("payload drop panicked");
    }
}

#[test]
fn a_payload_whose_drop_panics_does_not_unwind_out() {
    let rt = Runtime::<Panicky>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    let answer = catch_unwind(AssertUnwindSafe(|| send(&rt, DRV_USER + 1)));
    assert!(matches!(answer, Ok(0)), "driver_proc unwound");
    assert_eq!(send(&rt, DRV_FREE), 1);
}

/// A `tracing` subscriber that panics on every event.
struct PanickingSubscriber;

impl tracing::Subscriber for PanickingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        panic!("subscriber panicked");
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_panicking_subscriber_does_not_unwind_out() {
    let rt = Runtime::<Panicky>::new();
    assert_eq!(send(&rt, DRV_LOAD), 1);
    let answer = tracing::subscriber::with_default(PanickingSubscriber, || {
        catch_unwind(AssertUnwindSafe(|| send(&rt, DRV_USER + 2)))
    });
    assert!(matches!(answer, Ok(0)), "driver_proc unwound");
    assert_eq!(send(&rt, DRV_FREE), 1);
}
