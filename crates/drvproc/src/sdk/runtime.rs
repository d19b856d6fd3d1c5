//! The state behind one exported `DriverProc`: the module value, the open instances,
//! and the routing of every message between them.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::slab::Table;
use super::{Context, Driver, Instance, OpenParams, dispatch_module};
use crate::consts::*;
use crate::def_driver_proc;
use crate::names::MessageName;
use crate::types::{DriverId, Hdrvr, LParam, LResult, Msg};
use crate::wide::WideString;

/// What the lifecycle and module messages look up. `module` is `Some` exactly while the
/// phase is `Loaded`.
struct State<D: Driver> {
    module: Option<Arc<D>>,
}

/// Which thread this is, among the threads alive now: the address of a thread-local.
///
/// Not `std::thread::current()`: its first use on a thread registers a thread-exit
/// destructor (a `pthread_key`) inside this library's own copy of std, and when the
/// last close unloads the library before that thread ends, the thread's exit calls
/// into unmapped memory. A `const`-initialised thread-local without `Drop`
/// registers nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ThreadToken(usize);

fn this_thread() -> ThreadToken {
    thread_local! {
        static MARK: u8 = const { 0 };
    }
    MARK.with(|mark| ThreadToken(std::ptr::from_ref(mark) as usize))
}

/// Where the module is in its `DRV_LOAD` .. `DRV_FREE` life.
///
/// Two managers in one process share a driver image, so loads nest: only the first
/// `DRV_LOAD` runs [`Driver::load`] and only the `DRV_FREE` that takes the count to
/// zero runs [`Driver::free`]. While either runs, other loads wait for it to finish,
/// so a load never picks up a state that is being freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Unloaded,
    /// `Driver::load` is running on this thread.
    Loading(ThreadToken),
    /// Loaded; the count of `DRV_LOAD`s not yet matched by a `DRV_FREE` (at least 1).
    Loaded(usize),
    /// The last `DRV_FREE` is running `Driver::free` and dropping the state on this thread.
    Freeing(ThreadToken),
}

struct Lifecycle {
    phase: Phase,
    /// Loads blocked on `phase_changed`, so that transitions skip the wake-up when none is.
    waiters: usize,
}

/// The per-driver state [`export_driver!`](crate::export_driver) puts in a `static`.
///
/// Locks guard only the bookkeeping: they are released before any driver method
/// runs, so methods may re-enter the manager (and through it this driver) freely.
/// The one wait is a `DRV_LOAD` that arrives while another caller is inside
/// `Driver::load` or `Driver::free`; a load or free re-entered from that very call
/// does not wait (it is refused, or answered as unmatched) rather than deadlock.
///
/// # The message path
///
/// A message to an open instance (non-zero id, not a lifecycle message) takes no lock
/// and writes no shared memory: it looks the id up in the instance table (two loads,
/// a segment pointer and the slot's key, and one comparison) and calls the instance,
/// which lives in the slot. The module pointer is loaded only if the instance asks
/// for the module ([`Context::module`], [`Context::forward`]). No reference count is
/// taken on the module or the instance, so nothing keeps them alive for the call but
/// the caller's contract (see [`driver_proc`](Runtime::driver_proc)): `DRV_CLOSE` of an instance
/// is not sent while a message to it runs, and `DRV_FREE` not while any message to
/// the driver runs. Everything else a racing caller could do stays memory-safe: the
/// lookup reads only slot memory, which lives as long as the runtime, so a stale,
/// forged or foreign id is refused by the key comparison whatever happened before.
/// The lifecycle messages, `DRV_OPEN`, `DRV_CLOSE` and module messages keep the
/// locks and an `Arc` of the module, which costs nothing on the message path.
pub struct Runtime<D: Driver> {
    /// Taken before `state` whenever both are needed.
    lifecycle: Mutex<Lifecycle>,
    phase_changed: Condvar,
    state: RwLock<State<D>>,
    /// The module in `state`, for the message path: set and cleared with it, under the
    /// write lock; null while not loaded.
    module: AtomicPtr<D>,
    /// The open instances, keyed by their ids. Its own lock orders its writers (taken
    /// after `state` when both are held); readers take none.
    instances: Table<D::Instance>,
    /// For a driver that chooses its instances' ids ([`Driver::CHOOSES_IDS`]): each
    /// id's key in `instances`. Unused (and untouched on the message path) otherwise.
    chosen: Mutex<Vec<(DriverId, usize)>>,
}

impl<D: Driver> Default for Runtime<D> {
    fn default() -> Self {
        Self::new()
    }
}

/// Ends a `Loading` or `Freeing` phase however the driver code in it ends: dropping it
/// (a refused or panicking load, a finished or panicking free) leaves the runtime
/// `Unloaded` and wakes the waiting loads; [`Transition::loaded`] publishes the module.
struct Transition<'a, D: Driver> {
    runtime: &'a Runtime<D>,
}

impl<D: Driver> Transition<'_, D> {
    fn loaded(self, module: Arc<D>) {
        let runtime = self.runtime;
        std::mem::forget(self);
        runtime.end_transition(Phase::Loaded(1), Some(module));
    }
}

impl<D: Driver> Drop for Transition<'_, D> {
    fn drop(&mut self) {
        self.runtime.end_transition(Phase::Unloaded, None);
    }
}

/// Aborts if an unwind gets past every `catch_unwind` in [`Runtime::driver_proc`]:
/// unwinding into the manager's frames through `extern "system"` is not an option.
/// Disarmed with `mem::forget` on the normal return.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

impl<D: Driver> Runtime<D> {
    /// An unloaded driver; `const` so that it can live in a `static`.
    pub const fn new() -> Self {
        Runtime {
            lifecycle: Mutex::new(Lifecycle { phase: Phase::Unloaded, waiters: 0 }),
            phase_changed: Condvar::new(),
            state: RwLock::new(State { module: None }),
            module: AtomicPtr::new(std::ptr::null_mut()),
            instances: Table::new(),
            chosen: Mutex::new(Vec::new()),
        }
    }

    // Driver code never runs while these locks are held, so a poisoned lock can only
    // come from a bug in this file's bookkeeping; the data is still consistent then.
    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        self.lifecycle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) -> RwLockReadGuard<'_, State<D>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<D>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body of the exported `DriverProc`: routes one message and never unwinds.
    ///
    /// A panic in driver code is caught, counted (see [`caught_panics`](super::caught_panics)),
    /// logged and answered with 0 (on the message path the log has the panic's message
    /// but not the call's `msg`, id and handle: see the comment there). Logging it and
    /// dropping its payload run more code that may panic (a `tracing` subscriber, the
    /// payload's `Drop`); those panics are caught too and their payloads leaked. Should
    /// anything still unwind, the process aborts instead.
    ///
    /// # Safety
    /// `l1` and `l2` must satisfy the contract of `msg`: for `DRV_OPEN`, `l1` is 0 or a
    /// NUL-terminated UTF-16 string; for `DRV_INSTALL`/`DRV_CONFIGURE`, `l2` is 0 or a
    /// `DRVCONFIGINFO*`; other messages are the driver's own contract.
    ///
    /// And the calls must follow the installable-driver lifecycle, as a driver manager
    /// does (see [the SDK docs](super#what-the-exported-driverproc-requires)):
    /// * a `DRV_CLOSE` and any other call with the same id do not overlap, on any
    ///   threads (an instance's own method does not close it), except calls made from
    ///   inside that close, which find the id already refused;
    /// * the `DRV_FREE` that matches the last outstanding `DRV_LOAD` overlaps no other
    ///   call except those made from inside it, which find the module gone; after it
    ///   returns, only `DRV_LOAD` may follow.
    ///
    /// Sequential misuse needs no promise: an id that was closed, never issued, or
    /// issued by another driver, sent after whatever made it so returned, is answered
    /// with 0 without reaching freed memory.
    #[inline]
    pub unsafe fn driver_proc(&self, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        // The message path. Every lifecycle message is at most DRV_FREE, and id 0 names
        // no slot, so module messages, DRV_OPEN and DRV_CLOSE all miss it. (`key` is
        // `id` itself unless the driver chooses its ids, a constant the compiler sees.)
        if msg > DRV_FREE
            && let Some(instance) = self.instances.get(self.key(id))
        {
            // SAFETY: the pointer is the instance in the slot the id names, which held it
            // when looked up (the acquire load of the key sees it whole). It is moved
            // out only by its DRV_CLOSE or the last DRV_FREE, neither of which the
            // caller lets run while this call does (this function's contract).
            let instance = unsafe { instance.as_ref() };
            // SAFETY: `l2` follows `msg`'s contract (this function's own) for the call,
            // which the context does not outlive.
            let cx = unsafe { Context::new(&self.module, h, id, msg, l2) };
            // No `Call` for the log: keeping `msg`, `id` and `h` for it would cost the
            // message path a stack frame and three stores; the panic's own message and
            // location say where it happened.
            return guarded(None, || instance.message(&cx, msg, l1, l2));
        }
        // SAFETY: this function's own contract, passed on unchanged.
        unsafe { Self::slow_path(id, h, msg, l1, l2, self) }
    }

    /// Everything but the message path: lifecycle, module messages, `DRV_CLOSE`, and
    /// ids that name no open instance.
    ///
    /// # Safety
    /// As [`Runtime::driver_proc`].
    ///
    /// Out of line, with `DriverProc`'s calling convention and its arguments in the same
    /// places (the runtime last), so that `DriverProc` reaches it with a jump and keeps
    /// no stack frame of its own on the message path.
    #[inline(never)]
    unsafe extern "system" fn slow_path(
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
        runtime: &Self,
    ) -> LResult {
        guarded(Some(&Call { msg, id, h }), || {
            let args = if msg == DRV_OPEN {
                // SAFETY: DRV_OPEN's lParam1 is 0 or an args string (caller's contract).
                unsafe { WideString::from_ptr(l1 as *const u16) }.map(|w| w.to_string_lossy())
            } else {
                None
            };
            // SAFETY: this function's own contract, passed on unchanged.
            unsafe { runtime.route(id, h, msg, l1, l2, args) }
        })
    }

    /// A message to the instance `id` that missed the message path: the id is refused
    /// unless it names an open instance.
    ///
    /// # Safety
    /// As [`Runtime::driver_proc`].
    unsafe fn to_instance(&self, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        match self.instances.get(self.key(id)) {
            Some(instance) => {
                // SAFETY: as on the message path in `driver_proc`.
                let instance = unsafe { instance.as_ref() };
                // SAFETY: `l2` follows `msg`'s contract (this function's own) for the
                // call, which the context does not outlive.
                let cx = unsafe { Context::new(&self.module, h, id, msg, l2) };
                instance.message(&cx, msg, l1, l2)
            }
            None => unknown_instance(msg, id, h),
        }
    }

    /// Number of open instances (for tests and diagnostics).
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Whether the module state is loaded: from the end of the first `DRV_LOAD` to the
    /// start of the last `DRV_FREE`.
    pub fn is_loaded(&self) -> bool {
        self.read().module.is_some()
    }

    /// Loads blocked waiting for a load or free to finish.
    #[cfg(test)]
    fn waiters(&self) -> usize {
        self.lifecycle().waiters
    }

    fn module(&self) -> Option<Arc<D>> {
        self.read().module.clone()
    }

    /// Leaves `Loading`/`Freeing` for `phase`, publishing `module` (`Some` only for
    /// `Loaded`), and wakes the waiting loads.
    fn end_transition(&self, phase: Phase, module: Option<Arc<D>>) {
        let previous = {
            let mut lifecycle = self.lifecycle();
            let mut state = self.write();
            let published = module.as_ref().map_or(std::ptr::null(), Arc::as_ptr);
            self.module.store(published.cast_mut(), Ordering::Release);
            let previous = std::mem::replace(&mut state.module, module);
            drop(state);
            lifecycle.phase = phase;
            if lifecycle.waiters > 0 {
                self.phase_changed.notify_all();
            }
            previous
        };
        // `None` while loading or freeing; dropped outside the locks all the same.
        drop(previous);
    }

    /// # Safety
    /// As [`Runtime::driver_proc`]; `args` is `DRV_OPEN`'s `l1`, already copied.
    unsafe fn route(
        &self,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
        args: Option<String>,
    ) -> LResult {
        match msg {
            DRV_LOAD => self.load(h),
            DRV_ENABLE => self.module().map_or(1, |m| m.enable(h)),
            DRV_DISABLE => self.module().map_or(1, |m| m.disable(h)),
            DRV_FREE => self.free(h),
            DRV_OPEN => self.open(OpenParams { hdrvr: h, args, lparam2: l2 }),
            _ if id == 0 => match self.module() {
                // SAFETY: `l2` follows `msg`'s contract (this function's own).
                Some(module) => unsafe { dispatch_module(&*module, h, msg, l1, l2) },
                None => def_driver_proc(0, h, msg, l1, l2),
            },
            DRV_CLOSE => self.close(id, h, l1, l2),
            // Messages below DRV_LOAD (0) to an instance; the rest took the message path.
            // SAFETY: this function's own contract.
            _ => unsafe { self.to_instance(id, h, msg, l1, l2) },
        }
    }

    fn load(&self, h: Hdrvr) -> LResult {
        let me = this_thread();
        {
            let mut lifecycle = self.lifecycle();
            loop {
                match lifecycle.phase {
                    Phase::Unloaded => break,
                    Phase::Loaded(n) => {
                        lifecycle.phase = Phase::Loaded(n + 1);
                        return 1;
                    }
                    Phase::Loading(t) | Phase::Freeing(t) if t == me => {
                        tracing::warn!(hdrvr = %h, "DRV_LOAD from inside this driver's own load or free; refusing");
                        return 0;
                    }
                    Phase::Loading(_) | Phase::Freeing(_) => {
                        lifecycle.waiters += 1;
                        lifecycle =
                            self.phase_changed.wait(lifecycle).unwrap_or_else(PoisonError::into_inner);
                        lifecycle.waiters -= 1;
                    }
                }
            }
            lifecycle.phase = Phase::Loading(me);
        }
        super::residence::stay_resident();
        let transition = Transition { runtime: self };
        match D::load(h) {
            Some(module) => {
                transition.loaded(Arc::new(module));
                1
            }
            None => 0,
        }
    }

    fn free(&self, h: Hdrvr) -> LResult {
        let taken = {
            let mut lifecycle = self.lifecycle();
            match lifecycle.phase {
                Phase::Loaded(n) if n > 1 => {
                    lifecycle.phase = Phase::Loaded(n - 1);
                    return 1;
                }
                Phase::Loaded(_) => {}
                Phase::Unloaded => return def_driver_proc(0, h, DRV_FREE, 0, 0),
                Phase::Loading(_) | Phase::Freeing(_) => {
                    tracing::warn!(hdrvr = %h, "DRV_FREE matching no DRV_LOAD while the driver loads or frees");
                    return def_driver_proc(0, h, DRV_FREE, 0, 0);
                }
            }
            lifecycle.phase = Phase::Freeing(this_thread());
            let mut state = self.write();
            self.module.store(std::ptr::null_mut(), Ordering::Release);
            self.chosen().clear();
            (state.module.take(), self.instances.drain())
        };
        let transition = Transition { runtime: self };
        // Bound after `transition` so that they are dropped before it, on a panic too:
        // a load waiting for this free starts only once the old state is gone.
        let (module, leftover) = taken;
        let answer = match &module {
            Some(module) => module.free(h),
            None => def_driver_proc(0, h, DRV_FREE, 0, 0),
        };
        if !leftover.is_empty() {
            tracing::warn!(count = leftover.len(), "DRV_FREE with instances still open; dropping them");
        }
        drop(leftover);
        drop(module);
        drop(transition);
        answer
    }

    /// The table key of the instance `id` names: `id` itself, or for a driver that
    /// chooses its ids, the key recorded at its `DRV_OPEN` (0, no key, if none).
    #[inline(always)]
    fn key(&self, id: DriverId) -> usize {
        if !D::CHOOSES_IDS {
            return id;
        }
        self.chosen().iter().find(|(chosen, _)| *chosen == id).map_or(0, |&(_, key)| key)
    }

    fn chosen(&self) -> MutexGuard<'_, Vec<(DriverId, usize)>> {
        self.chosen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self, params: OpenParams) -> LResult {
        let Some(module) = self.module() else {
            tracing::warn!(hdrvr = %params.hdrvr, "DRV_OPEN before DRV_LOAD; refusing");
            return 0;
        };
        let (instance, chosen) = if D::CHOOSES_IDS {
            match module.open_with_id(&params) {
                Some((instance, id)) if id != 0 && self.key(id) == 0 => (instance, Some(id)),
                Some((instance, id)) => {
                    tracing::error!(id, hdrvr = %params.hdrvr, "DRV_OPEN chose id 0 or one already open; refusing");
                    drop(instance);
                    return 0;
                }
                None => return 0,
            }
        } else {
            let Some(instance) = module.open(&params) else { return 0 };
            (instance, None)
        };
        let key = {
            // Read is enough: the table has its own lock, and the free that takes the
            // module and drains the table holds the write lock for both.
            let state = self.read();
            // The last DRV_FREE may have run while `Driver::open` did: an instance of a
            // freed state must not outlive it (nor reach the next state).
            let same_state = state.module.as_ref().is_some_and(|m| Arc::ptr_eq(m, &module));
            if same_state { Ok(self.instances.insert(instance)) } else { Err(instance) }
        };
        // Refused instances are dropped here, outside the locks: their `Drop` is driver code.
        match key {
            Ok(Ok(key)) => match chosen {
                Some(id) => {
                    let mut ids = self.chosen();
                    // Checked again under the lock: two opens may have chosen it at once.
                    if ids.iter().any(|(c, _)| *c == id) {
                        drop(ids);
                        tracing::error!(id, hdrvr = %params.hdrvr, "DRV_OPEN chose an id already open; refusing");
                        drop(self.instances.remove(key));
                        return 0;
                    }
                    ids.push((id, key));
                    id as LResult
                }
                None => key as LResult,
            },
            Ok(Err(refused)) => {
                tracing::error!(hdrvr = %params.hdrvr, "instance table full; refusing DRV_OPEN");
                drop(refused);
                0
            }
            Err(orphan) => {
                tracing::warn!(hdrvr = %params.hdrvr, "driver freed during DRV_OPEN; refusing");
                drop(orphan);
                0
            }
        }
    }

    fn close(&self, id: DriverId, h: Hdrvr, l1: LParam, l2: LParam) -> LResult {
        let key = self.key(id);
        let (module, instance) = {
            let state = self.read();
            (state.module.clone(), self.instances.remove(key))
        };
        if D::CHOOSES_IDS && instance.is_some() {
            self.chosen().retain(|(chosen, _)| *chosen != id);
        }
        match (module, instance) {
            // The `Arc` is held (unused) to the end of the close, like the instance: a
            // close is no message path, and that keeps the module alive.
            (Some(_module), Some(instance)) => {
                // SAFETY: DRV_CLOSE is not a message whose lParam2 the SDK reads, so the
                // context vouches for no pointer.
                let cx = unsafe { Context::new(&self.module, h, id, DRV_CLOSE, l2) };
                instance.close(&cx, l1, l2)
            }
            _ => {
                tracing::warn!(id, hdrvr = %h, "DRV_CLOSE for an unknown instance id");
                0
            }
        }
    }
}

/// What the log says about a call whose driver code panicked.
struct Call {
    msg: Msg,
    id: DriverId,
    h: Hdrvr,
}

/// Runs `f`, the driver code of one call, answering a panic with 0; never unwinds
/// (see [`Runtime::driver_proc`] for how). `call` names the call in the log.
#[inline(always)]
fn guarded(call: Option<&Call>, f: impl FnOnce() -> LResult) -> LResult {
    let abort_on_unwind = AbortOnUnwind;
    let answer = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(answer) => answer,
        Err(payload) => {
            report_panic(call, payload);
            0
        }
    };
    std::mem::forget(abort_on_unwind);
    answer
}

/// The answer to a message whose id names no open instance.
#[cold]
#[inline(never)]
fn unknown_instance(msg: Msg, id: DriverId, h: Hdrvr) -> LResult {
    tracing::warn!(msg = %MessageName(msg), id, hdrvr = %h, "message to an unknown instance id");
    0
}

/// Logs a panic caught at the boundary and drops its payload, each under its own
/// `catch_unwind`: both run code that may panic again (the payload's `Drop`, a
/// `tracing` subscriber). The payload of such a second panic is leaked, since
/// dropping it could panic once more. `call` is `None` for a message to an instance.
#[cold]
#[inline(never)]
fn report_panic(call: Option<&Call>, payload: Box<dyn Any + Send>) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    contain(move || drop(payload));
    contain(|| super::panics::record(&what));
    contain(|| match call {
        Some(&Call { msg, id, h }) => {
            tracing::error!(msg = %MessageName(msg), id, hdrvr = %h, "driver panicked: {what}")
        }
        None => tracing::error!("driver panicked in a message to an instance: {what}"),
    });
}

fn contain(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests;
