//! A module: one mapped driver library (or one registered driver function), the unit
//! of `DRV_LOAD`/`DRV_FREE`, and the one seam through which messages reach a driver.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether to trace a driver call. `tracing` leaves its global maximum level at TRACE
/// so that thread-scoped subscribers work, so `tracing::enabled!` alone costs a
/// dispatcher lookup on every call, several times a driver call. Until any subscriber
/// (global or scoped) has ever been set in the process, `has_been_set` (the check
/// `tracing`'s own macros start with) makes a send pay one load instead.
#[inline(always)]
fn tracing_wanted() -> bool {
    tracing_may_be_wanted() && tracing_enabled()
}

/// Whether any `tracing` subscriber has ever been set in the process: until one is,
/// no call can be traced, and [`Module::call_untraced`] is what [`Module::call`] does.
#[inline(always)]
pub(crate) fn tracing_may_be_wanted() -> bool {
    tracing::dispatcher::has_been_set()
}

#[cold]
fn tracing_enabled() -> bool {
    tracing::enabled!(target: "drvproc::call", tracing::Level::TRACE)
}
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use drvproc::{DriverId, DriverProc, Hdrvr, LParam, LResult, MessageName, Msg};

/// Where a module is in its life (spec §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Mapped; no `DRV_LOAD` sent yet.
    Unloaded,
    /// This thread is sending `DRV_LOAD`/`DRV_ENABLE`.
    Loading(ThreadId),
    /// Instances may be opened.
    Loaded,
    /// This thread is sending `DRV_DISABLE`/`DRV_FREE`.
    Unloading(ThreadId),
    /// Unmapped (or refused to load): a new open must make a new module.
    Gone,
}

/// Counters guarded by the module's lock.
#[derive(Debug)]
pub(crate) struct ModuleState {
    pub(crate) phase: Phase,
    /// Live instances, including the session instance and opens in progress.
    pub(crate) instances: usize,
    /// Instances whose `DRV_OPEN` succeeded, not counting the session instance.
    pub(crate) caller_opened: usize,
    /// The hidden session instance, while it exists.
    pub(crate) session: Option<Hdrvr>,
}

/// How messages reach the driver: a `DriverProc` in this process, or a host
/// process serving the module over a channel (`isolation`).
enum Endpoint {
    Local(DriverProc),
    #[cfg(target_os = "linux")]
    Remote(Box<crate::isolation::hosted::Hosted>),
}

/// One driver module.
///
/// Every send reads `endpoint`; every open and close writes the reference count in
/// front of an `Arc`'s value and the bookkeeping in `sync`. The alignment puts the
/// value, which starts with `endpoint`, on cache lines of its own behind the count,
/// and `sync` on others, so that a thread opening and closing instances does not
/// take the line away from threads sending to other instances of the module.
#[repr(C, align(128))]
pub(crate) struct Module {
    endpoint: Endpoint,
    /// The file path or function alias, for traces and errors.
    pub(crate) name: String,
    /// The file it was loaded from (`None` for a function driver).
    pub(crate) path: Option<PathBuf>,
    /// The platform module handle (0 for a function driver).
    pub(crate) raw_handle: usize,
    /// The mapping, released when the last reference to the module goes: after
    /// `DRV_FREE`, and after every call still on a stack (a driver may close its own
    /// last instance from inside a message; its code must stay mapped until it returns).
    _library: Option<libloading::Library>,
    sync: ModuleSync,
}

/// What opens, closes, loads and unloads of a module write.
#[repr(align(128))]
struct ModuleSync {
    state: Mutex<ModuleState>,
    /// Signals phase changes to threads waiting for a load or unload to finish.
    changed: Condvar,
    gone: AtomicBool,
}

impl Module {
    pub(crate) fn new(
        name: String,
        path: Option<PathBuf>,
        raw_handle: usize,
        proc_: DriverProc,
        library: Option<libloading::Library>,
    ) -> Self {
        Module {
            name,
            path,
            raw_handle,
            endpoint: Endpoint::Local(proc_),
            sync: ModuleSync {
                state: Mutex::new(ModuleState {
                    phase: Phase::Unloaded,
                    instances: 0,
                    caller_opened: 0,
                    session: None,
                }),
                changed: Condvar::new(),
                gone: AtomicBool::new(false),
            },
            _library: library,
        }
    }

    /// A module served by a host process (`name` and `path` as for [`Module::new`]).
    /// It has no platform handle here: `GetDriverModuleHandle` answers NULL for it.
    #[cfg(target_os = "linux")]
    pub(crate) fn new_remote(
        name: String,
        path: Option<PathBuf>,
        remote: std::sync::Arc<crate::isolation::remote::Remote>,
        index: u32,
        manager: usize,
    ) -> Self {
        let mut module = Module::new(name, path, 0, unreachable_proc, None);
        let hosted = crate::isolation::hosted::Hosted::new(remote, index, manager);
        module.endpoint = Endpoint::Remote(Box::new(hosted));
        module
    }

    /// Whether the module is served by a host process.
    pub(crate) fn is_hosted(&self) -> bool {
        match &self.endpoint {
            Endpoint::Local(_) => false,
            #[cfg(target_os = "linux")]
            Endpoint::Remote(_) => true,
        }
    }

    /// Signals phase changes to threads waiting for a load or unload to finish.
    pub(crate) fn changed(&self) -> &Condvar {
        &self.sync.changed
    }

    /// The module's bookkeeping. Never held while the driver runs.
    pub(crate) fn state(&self) -> MutexGuard<'_, ModuleState> {
        self.sync.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the module is unmapped (cheap check for the module maps).
    /// Whether a new open may use this module: not unloaded, and, when hosted, its
    /// host not dead (a host that died while the module was idle is found here, so
    /// the open starts a new one rather than failing on the dead one).
    pub(crate) fn serves_opens(&self) -> bool {
        if self.is_gone() {
            return false;
        }
        match &self.endpoint {
            Endpoint::Local(_) => true,
            #[cfg(target_os = "linux")]
            Endpoint::Remote(hosted) => !hosted.remote.ended(),
        }
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.sync.gone.load(Ordering::Acquire)
    }

    /// Marks the module gone (under its lock) and wakes waiters; the library is
    /// unmapped when the last reference to the module is dropped.
    pub(crate) fn retire(&self, mut state: MutexGuard<'_, ModuleState>) {
        state.phase = Phase::Gone;
        self.sync.gone.store(true, Ordering::Release);
        drop(state);
        self.sync.changed.notify_all();
    }

    /// Calls the driver. Every message the manager delivers goes through here. When a
    /// subscriber enables TRACE for target `drvproc::call`, the call runs inside a
    /// `DriverProc` span (driver, msg, id, hdrvr, l1, l2, ret) and ends with one event
    /// carrying the same fields (plus `code`, the message number); with no subscriber
    /// ever set, the cost is one atomic load.
    #[inline(always)]
    pub(crate) fn call(&self, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        // While unwinding (a guard finishing a close after a trace subscriber
        // panicked), the call goes untraced: a second panic would abort.
        if tracing_wanted() && !std::thread::panicking() {
            return self.call_traced(id, h, msg, l1, l2);
        }
        // SAFETY: the parameters' contract was the caller's to meet (the manager's
        // own messages carry only NULL or live buffers it owns for the call).
        unsafe { self.call_untraced(id, h, msg, l1, l2) }
    }

    /// Calls the driver without looking at tracing (see [`tracing_may_be_wanted`]).
    ///
    /// # Safety
    /// `l1` and `l2` are what the driver expects for `msg`.
    #[inline(always)]
    pub(crate) unsafe fn call_untraced(
        &self,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> LResult {
        match &self.endpoint {
            // SAFETY: `proc_` is the module's DriverProc, kept mapped while the module
            // lives; the parameters are the caller's contract.
            Endpoint::Local(proc_) => unsafe { proc_(id, h, msg, l1, l2) },
            // SAFETY: the parameters are the caller's contract, which the remote
            // side needs to copy them.
            #[cfg(target_os = "linux")]
            Endpoint::Remote(remote) => unsafe { self.call_remote(remote, id, h, msg, l1, l2) },
        }
    }

    /// Delivers a message whose parameters the sender describes: as raw values to
    /// a driver in this process, marshalled as described to a hosted one; a hosted
    /// message that was not answered is an error in words.
    ///
    /// # Safety
    /// What `l1` and `l2` describe is what the driver reads and writes for `msg`.
    pub(crate) unsafe fn call_params<'a>(
        &self,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: &mut crate::Param<'a>,
        l2: &mut crate::Param<'a>,
    ) -> Result<LResult, String> {
        match &self.endpoint {
            Endpoint::Local(_) => Ok(self.call(id, h, msg, l1.raw(), l2.raw())),
            #[cfg(target_os = "linux")]
            Endpoint::Remote(hosted) => {
                if tracing_wanted() && !std::thread::panicking() {
                    let (v1, v2) = (l1.raw(), l2.raw());
                    let mut failed = None;
                    let ret = self.traced(id, h, msg, v1, v2, || {
                        hosted.call_args(self, id, h, msg, l1, l2).unwrap_or_else(|e| {
                            failed = Some(e);
                            0
                        })
                    });
                    return failed.map_or(Ok(ret), Err);
                }
                hosted.call_args(self, id, h, msg, l1, l2)
            }
        }
    }

    /// The failure of this module's last message on this thread that a hosted
    /// driver never answered (see `Hosted::take_refusal`).
    pub(crate) fn take_refusal(&self) -> Option<String> {
        match &self.endpoint {
            Endpoint::Local(_) => None,
            #[cfg(target_os = "linux")]
            Endpoint::Remote(hosted) => hosted.take_refusal(),
        }
    }

    /// Why a hosted module is dead (its host process died), if it is.
    pub(crate) fn death(&self) -> Option<&str> {
        match &self.endpoint {
            Endpoint::Local(_) => None,
            #[cfg(target_os = "linux")]
            Endpoint::Remote(hosted) => hosted.dead(),
        }
    }

    /// A call to a hosted module (see `isolation::hosted`).
    ///
    /// # Safety
    /// `l1` and `l2` are what the driver expects for `msg`.
    #[cfg(target_os = "linux")]
    #[cold]
    #[inline(never)]
    unsafe fn call_remote(
        &self,
        hosted: &crate::isolation::hosted::Hosted,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> LResult {
        // SAFETY: forwarded contract.
        unsafe { hosted.call(self, id, h, msg, l1, l2) }
    }

    #[cold]
    #[inline(never)]
    fn call_traced(&self, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        // SAFETY: as in `call`.
        self.traced(id, h, msg, l1, l2, || unsafe { self.call_untraced(id, h, msg, l1, l2) })
    }

    /// Runs `deliver` (the call of `msg`) inside a `DriverProc` span, and ends with
    /// the call's event (see [`call`](Self::call)).
    fn traced(
        &self,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
        deliver: impl FnOnce() -> LResult,
    ) -> LResult {
        let span = tracing::trace_span!(
            target: "drvproc::call",
            "DriverProc",
            driver = %self.name,
            msg = %MessageName(msg),
            id,
            hdrvr = %h,
            l1,
            l2,
            ret = tracing::field::Empty,
        );
        let _entered = span.enter();
        let ret = deliver();
        span.record("ret", ret);
        // One self-contained event per call, for plain line-oriented output.
        tracing::trace!(target: "drvproc::call", msg = %MessageName(msg), code = msg, id, hdrvr = %h, l1, l2, ret);
        ret
    }
}

/// The `DriverProc` slot of a hosted module, which is never called: its calls go
/// to the host process.
#[cfg(target_os = "linux")]
unsafe extern "system" fn unreachable_proc(_: DriverId, _: Hdrvr, _: Msg, _: LParam, _: LParam) -> LResult {
    0
}
