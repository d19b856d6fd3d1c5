//! The driver manager: `OpenDriver`, `SendDriverMessage`, `CloseDriver` and friends,
//! with the message order of spec §7 and the name resolution of §8.
//!
//! Locks: the module maps, each module's counters and the handle table's free list
//! are held only for bookkeeping, never while a driver runs, so drivers may call the
//! manager from inside any message. Load and unload of one module are serialised by
//! the module's phase: a thread that finds a module loading or unloading waits for
//! the transition to finish (a driver re-entering its own module from inside
//! `DRV_LOAD` is let through).

use std::path::PathBuf;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use drvproc::{DriverProc, Hdrvr, LParam, LResult, Msg};

use crate::directory;
use crate::error::{BadHandle, CloseError, OpenError, TooManyManagers};
use crate::handle_table::{
    CHUNKS, Chunks, EMPTY_CHUNK, Exit, ExitParts, HandleTable, Presence, Slot, enter_with_pass_in,
};
use crate::instance::Instance;
use crate::module::Module;
use crate::modules::ModuleMaps;
use crate::options::ManagerOptions;
use crate::registry::Registry;
use crate::resolve::{SearchPath, Target};

/// `GetDriverFlags` for a valid instance: Wine's and native's `0x80000000` (spec §9).
pub const DRIVER_FLAGS_VALID: u32 = 0x8000_0000;

static GLOBAL: OnceLock<DriverManager> = OnceLock::new();
/// The chunk pointers of [`GLOBAL`]'s table once it exists, [`NO_CHUNKS`] before:
/// what the C ABI's inlined send reads, one load with no test instead of the
/// `OnceLock`'s check and two dereferences. The table lives as long as `GLOBAL`,
/// which is never dropped.
static GLOBAL_CHUNKS: AtomicPtr<Chunks<Module>> = AtomicPtr::new(std::ptr::from_ref(&NO_CHUNKS).cast_mut());
/// Chunk pointers of no table: every slot is empty, so no send finds a pass.
static NO_CHUNKS: Chunks<Module> = [const { AtomicPtr::new(EMPTY_CHUNK.as_ptr().cast_mut().cast()) }; CHUNKS];

/// A common-case send that found no pass after announcing: it goes on if the slot has
/// the handle's fenced pass (sends with full fences), and otherwise withdraws the
/// announcement and sends the general way. Out of line, with its arguments in registers, so that
/// [`DriverManager::send_global`] reaches it by a tail call.
///
/// # Safety
/// `parts` come from an [`Exit`] of the global table on this thread; the rest as
/// for [`DriverManager::send_global`].
#[cold]
#[inline(never)]
unsafe fn missed_then<G: FnOnce(Hdrvr, Msg, LParam, LParam) -> LResult>(
    parts: ExitParts<Module>,
    h: Hdrvr,
    msg: Msg,
    l1: LParam,
    l2: LParam,
    general: G,
) -> LResult {
    let Some(global) = GLOBAL.get() else {
        // Sent before the global manager existed: the parts name a slot of
        // `NO_CHUNKS`. The general way creates the manager, under its panic guard.
        parts.withdraw_from_no_table();
        return general(h, msg, l1, l2);
    };
    // SAFETY: `parts` came from an exit of the global table, on this thread (once the
    // table exists, `GLOBAL_CHUNKS` names its chunks).
    let exit = unsafe { Exit::from_parts(&global.state.table, parts, h) };
    if exit.enter_fenced() {
        // SAFETY: the caller's contract; the announcement keeps the module mapped
        // until `exit` is dropped, after the call. No subscriber is set (checked by
        // the caller before anything else).
        return unsafe { exit.module().call_untraced(exit.id(), h, msg, l1, l2) };
    }
    drop(exit);
    general(h, msg, l1, l2)
}

/// The rare end of a common-case send ([`ExitParts::leave_then`]) for the global
/// table, out of line with its arguments in registers.
///
/// # Safety
/// `slot` is a slot of the global table.
#[cold]
#[inline(never)]
unsafe fn left_global(slot: *const Slot<Module>, h: Hdrvr, announced: usize, answer: LResult) -> LResult {
    // SAFETY: forwarded contract.
    unsafe { DriverManager::global().state.table.finish_leaving(slot, h, announced) };
    answer
}

/// The installable-driver manager.
///
/// Create as many as you like (each has its own instances, handles and options), or
/// use the process-wide [`DriverManager::global`]. Cloning is cheap and shares the
/// manager. Every method may be called from any thread, concurrently, including from
/// inside a driver's `DriverProc`.
///
/// **Trust.** Opening a driver maps its library and runs its code, as `OpenDriver`
/// does; a driver is trusted to be sound. The methods that pass raw `LPARAM`s to a
/// driver are `unsafe`, because what the driver does with them (often: dereference
/// them) is the caller's contract; the typed wrappers on [`Instance`] are safe.
///
/// ```
/// use drvproc_host::{DriverManager, ManagerOptions};
/// use drvproc::sdk::{Driver, Instance as _, OpenParams};
///
/// #[derive(Default)]
/// struct Echo;
/// struct EchoInstance;
/// impl Driver for Echo {
///     type Instance = EchoInstance;
///     fn open(&self, _: &OpenParams) -> Option<EchoInstance> { Some(EchoInstance) }
///     fn query_configure(&self, _: drvproc::Hdrvr) -> isize { 1 }
/// }
/// impl drvproc::sdk::Instance<Echo> for EchoInstance {}
/// drvproc::driver_proc!(fn echo_proc = Echo);
///
/// let manager = DriverManager::new(ManagerOptions::new().config_path("/nonexistent/system.ini"));
/// manager.register_function("echo", echo_proc).unwrap();
/// let instance = manager.open("echo", None).unwrap();
/// assert!(instance.query_configure().unwrap());
/// instance.close().unwrap();
/// assert_eq!(manager.instance_count(), 0);
/// ```
#[derive(Clone)]
pub struct DriverManager {
    state: Arc<ManagerState>,
}

/// Refuses a driver name no open can use.
fn check_name(name: &str) -> Result<(), OpenError> {
    let invalid = |reason| Err(OpenError::InvalidName { name: name.to_string(), reason });
    if name.trim().is_empty() {
        return invalid("it is empty");
    }
    if name.contains('\0') {
        return invalid("it contains a NUL character");
    }
    Ok(())
}

pub(crate) struct ManagerState {
    pub(crate) table: HandleTable<Module>,
    pub(crate) modules: Mutex<ModuleMaps>,
    /// Registered function drivers by alias (matched case-insensitively).
    pub(crate) functions: RwLock<Vec<(String, DriverProc)>>,
    /// `functions.len()`, read without the lock on every open.
    pub(crate) function_count: AtomicUsize,
    pub(crate) registry: Option<Registry>,
    pub(crate) search: SearchPath,
    pub(crate) session_instance: bool,
    /// How driver files are hosted in processes of their own, when they are (by this
    /// manager's option, an open's or the registry's marker of an alias, or because
    /// the file is 32-bit).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) host: crate::options::HostSettings,
    /// Whether every driver file is hosted unless an open says otherwise.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) isolate_all: bool,
    /// The running host processes of host groups, by group and width.
    #[cfg(target_os = "linux")]
    pub(crate) host_groups:
        Mutex<std::collections::HashMap<String, std::sync::Weak<crate::isolation::remote::Remote>>>,
}

impl DriverManager {
    /// A manager with these options (environment defaults are read now).
    ///
    /// # Panics
    /// When no table identity is left for it (see the `handle_table` docs: millions
    /// on 64-bit Linux, 63 live managers on 32-bit targets);
    /// [`try_new`](Self::try_new) reports that instead.
    pub fn new(options: ManagerOptions) -> Self {
        match Self::try_new(options) {
            Ok(manager) => manager,
            Err(e) => panic!("{e}"),
        }
    }

    /// A manager with these options, or an error when too many managers are alive
    /// at once for their handles to stay distinct.
    pub fn try_new(options: ManagerOptions) -> Result<Self, TooManyManagers> {
        let host = crate::options::HostSettings::from_options(&options);
        let isolate_all = options.isolate;
        let registry = options.config_path.map(Registry::new).or_else(Registry::default_registry);
        // Bare names of Windows' own registry are left to the system's search order,
        // as winmm leaves them, rather than looked for beside system.ini first.
        let config_dir_searched = registry.as_ref().filter(|r| r.system_key().is_none()).map(Registry::path);
        let search = SearchPath::new(options.search_path, config_dir_searched);
        let state = ManagerState {
            table: HandleTable::new(options.max_instances.unwrap_or(usize::MAX))?,
            modules: Mutex::new(ModuleMaps::default()),
            functions: RwLock::new(Vec::new()),
            function_count: AtomicUsize::new(0),
            registry,
            search,
            session_instance: options.session_instance,
            host,
            isolate_all,
            #[cfg(target_os = "linux")]
            host_groups: Mutex::default(),
        };
        let state = Arc::new(state);
        directory::register(state.table.identity(), Arc::downgrade(&state));
        Ok(DriverManager { state })
    }

    /// The manager whose shared state this is.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn state(&self) -> &Arc<ManagerState> {
        &self.state
    }

    pub(crate) fn from_state(state: Arc<ManagerState>) -> Self {
        DriverManager { state }
    }

    /// The process-wide manager (used by the C ABI), configured from the environment
    /// the first time it is used.
    #[inline]
    pub fn global() -> &'static DriverManager {
        match GLOBAL.get() {
            Some(m) => m,
            None => Self::init_global(),
        }
    }

    #[cold]
    fn init_global() -> &'static DriverManager {
        let global = GLOBAL.get_or_init(|| DriverManager::new(ManagerOptions::default()));
        GLOBAL_CHUNKS.store(std::ptr::from_ref(global.state.table.chunks()).cast_mut(), Ordering::Release);
        global
    }

    /// `SendDriverMessage` to the process-wide manager, for the C ABI: the common
    /// case inlined, every other case handed to `general` (which must send the
    /// message with [`send_routed`](Self::send_routed) on [`global`](Self::global),
    /// catching panics) before anything reached the driver. The common case is a
    /// live instance of the global manager already sent to once, on a thread that
    /// has sent before and is not inside another send, with no `tracing` subscriber
    /// ever set; it cannot panic, so it needs no `catch_unwind` around it. Every way
    /// out to `general` is a tail call with the caller's four arguments still in
    /// registers, so the common case saves only what it keeps across the driver's
    /// call.
    ///
    /// `general` is best a function item, not a pointer or a capturing closure: a
    /// zero-sized `general` leaves the six argument registers to the tail calls.
    ///
    /// # Safety
    /// As for [`send`](Self::send); `general` as described.
    #[inline(always)]
    pub unsafe fn send_global<G>(h: Hdrvr, msg: Msg, l1: LParam, l2: LParam, general: G) -> LResult
    where
        G: FnOnce(Hdrvr, Msg, LParam, LParam) -> LResult,
    {
        if crate::module::tracing_may_be_wanted() {
            return general(h, msg, l1, l2);
        }
        // SAFETY: the pointer is to `NO_CHUNKS` or to the chunks of `GLOBAL`'s table,
        // both of which live for the rest of the process.
        let chunks = unsafe { &*GLOBAL_CHUNKS.load(Ordering::Acquire) };
        match enter_with_pass_in(chunks, h) {
            Ok(parts) => {
                // SAFETY: forwarded contract; the announcement `parts` holds keeps the
                // module mapped until it is withdrawn, after the call.
                let answer = unsafe { (*parts.module()).call_untraced(parts.id(), h, msg, l1, l2) };
                // SAFETY: `parts` is an exit of the global table for `h`, on this
                // thread (the table is found again on the rare way out that needs it).
                unsafe {
                    parts.leave_then(h, answer, |slot, announced, answer| {
                        left_global(slot, h, announced, answer)
                    })
                }
            }
            Err(None) => general(h, msg, l1, l2),
            // SAFETY: `missed` is an exit of the global table, on this thread.
            Err(Some(missed)) => unsafe { missed_then(missed, h, msg, l1, l2, general) },
        }
    }

    /// The registry this manager reads aliases from, if any location is known: the
    /// configured file, or the default one (on Windows: the registry key, then
    /// `%WINDIR%\system.ini`; see [`Registry::default_registry`]).
    pub fn registry(&self) -> Option<&Registry> {
        self.state.registry.as_ref()
    }

    /// Opens a driver by file name or alias with `lParam2 = 0` (`OpenDriver`).
    ///
    /// With `section` `None`, `name` is tried as a file (whole, then split at its
    /// first space into file and args), then as an alias in `[Drivers32]`; with a
    /// section, only as an alias in that section (`MCI32` falls back to `MCI`).
    /// Functions registered with [`register_function`](Self::register_function) are
    /// found by alias first, in any section.
    ///
    /// An alias marked in the registry ([`ISOLATE_SECTION`](crate::ISOLATE_SECTION))
    /// is hosted in a process of its own, as with the manager's
    /// [`isolate`](ManagerOptions::isolate) option, or in the host group its marker
    /// names (see [`open_with_options`](Self::open_with_options) to decide per open).
    pub fn open(&self, name: &str, section: Option<&str>) -> Result<Instance, OpenError> {
        // SAFETY: lParam2 = 0 carries no pointer.
        unsafe { self.open_with(name, section, 0) }
    }

    /// [`open`](Self::open) with a `lParam2` for `DRV_OPEN` (an `ACMDRVOPENDESCW*`,
    /// `ICOPEN*`, ...). A non-zero value on a module's first open triggers the
    /// session instance when that is enabled.
    ///
    /// # Safety
    /// `lparam2` must be what the driver expects in `DRV_OPEN`'s `lParam2`, valid for
    /// the duration of the call.
    pub unsafe fn open_with(
        &self,
        name: &str,
        section: Option<&str>,
        lparam2: LParam,
    ) -> Result<Instance, OpenError> {
        // SAFETY: forwarded contract.
        let h = unsafe { self.open_handle(name, section, lparam2) }?;
        // SAFETY: `h` was just opened by this manager and is owned by no one else.
        Ok(unsafe { Instance::from_raw(self.clone(), h) })
    }

    /// [`open_with`](Self::open_with) with a `lParam2` that is a number, not an
    /// address: the same open for a driver in this process; an isolated driver of
    /// no known class receives the number as it is (with
    /// [`open_with`](Self::open_with), a non-zero `lParam2` is refused for it, as it
    /// may be an address that means nothing in the host).
    ///
    /// # Safety
    /// The driver reads `lparam2` as a number in `DRV_OPEN`.
    pub unsafe fn open_with_number(
        &self,
        name: &str,
        section: Option<&str>,
        lparam2: LParam,
    ) -> Result<Instance, OpenError> {
        // SAFETY: forwarded contract.
        unsafe { self.open_said(name, section, lparam2, crate::isolation::open_param::OpenParam::Number) }
    }

    /// [`open_with`](Self::open_with) with what `lparam2` is said (see
    /// `isolation::open_param`): how the class kits' clients open a codec with its
    /// class structure.
    ///
    /// # Safety
    /// As for [`open_with`](Self::open_with), and `lparam2` is what `said` says.
    pub(crate) unsafe fn open_said(
        &self,
        name: &str,
        section: Option<&str>,
        lparam2: LParam,
        said: crate::isolation::open_param::OpenParam,
    ) -> Result<Instance, OpenError> {
        check_name(name)?;
        let _said = crate::isolation::open_param::mark(said);
        let h = self.state.open(name, section, lparam2, crate::OpenOptions::new())?;
        // SAFETY: `h` was just opened by this manager and is owned by no one else.
        Ok(unsafe { Instance::from_raw(self.clone(), h) })
    }

    /// [`open_with`](Self::open_with) returning the raw handle, which the caller must
    /// close with [`close`](Self::close) (the C ABI's `OpenDriver`).
    ///
    /// # Safety
    /// As for [`open_with`](Self::open_with).
    pub unsafe fn open_handle(
        &self,
        name: &str,
        section: Option<&str>,
        lparam2: LParam,
    ) -> Result<Hdrvr, OpenError> {
        // SAFETY: forwarded contract.
        unsafe { self.open_handle_with_options(name, section, lparam2, crate::OpenOptions::new()) }
    }

    /// [`open`](Self::open) with [`OpenOptions`](crate::OpenOptions): e.g. hosting this
    /// one driver in a process of its own, or in this process whatever the registry
    /// and the manager's options say.
    ///
    /// ```
    /// use drvproc_host::{DriverManager, ManagerOptions, OpenError, OpenOptions};
    /// # #[derive(Default)] struct Echo; struct EchoInstance;
    /// # impl drvproc::sdk::Driver for Echo {
    /// #     type Instance = EchoInstance;
    /// #     fn open(&self, _: &drvproc::sdk::OpenParams) -> Option<EchoInstance> { Some(EchoInstance) }
    /// # }
    /// # impl drvproc::sdk::Instance<Echo> for EchoInstance {}
    /// # drvproc::driver_proc!(fn echo_proc = Echo);
    /// let manager = DriverManager::new(ManagerOptions::new().config_path("/nonexistent/system.ini"));
    /// manager.register_function("echo", echo_proc).unwrap();
    /// // A function driver lives in this program: it cannot be hosted elsewhere.
    /// let refused = manager.open_with_options("echo", None, OpenOptions::new().isolate(true));
    /// assert!(matches!(refused, Err(OpenError::CannotIsolate { .. })));
    /// assert!(manager.open_with_options("echo", None, OpenOptions::new().isolate(false)).is_ok());
    /// ```
    pub fn open_with_options(
        &self,
        name: &str,
        section: Option<&str>,
        options: crate::OpenOptions,
    ) -> Result<Instance, OpenError> {
        // SAFETY: lParam2 = 0 carries no pointer.
        let h = unsafe { self.open_handle_with_options(name, section, 0, options) }?;
        // SAFETY: `h` was just opened by this manager and is owned by no one else.
        Ok(unsafe { Instance::from_raw(self.clone(), h) })
    }

    /// [`open_handle`](Self::open_handle) with [`OpenOptions`](crate::OpenOptions).
    ///
    /// # Safety
    /// As for [`open_with`](Self::open_with).
    pub unsafe fn open_handle_with_options(
        &self,
        name: &str,
        section: Option<&str>,
        lparam2: LParam,
        options: crate::OpenOptions,
    ) -> Result<Hdrvr, OpenError> {
        check_name(name)?;
        // An open a driver makes from inside this one's open_with_number says
        // nothing about its own lParam2.
        let _unmarked = crate::isolation::open_param::mark(crate::isolation::open_param::OpenParam::Unsaid);
        self.state.open(name, section, lparam2, options)
    }

    /// Sends a message to an open instance (`SendDriverMessage`) and returns the
    /// driver's answer unchanged; no message is interpreted by the manager.
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects for `msg` (for many messages, a
    /// valid pointer), valid for the duration of the call.
    #[inline]
    pub unsafe fn send(&self, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, BadHandle> {
        self.state.table.with_entered(h, |module, id| module.call(id, h, msg, l1, l2)).ok_or(BadHandle(h))
    }

    /// Sends a message whose parameters are described (see [`Param`](crate::Param)):
    /// the way to send a custom message that carries buffers to a driver that may be
    /// hosted in another process. Unlike [`send`](Self::send), a message that could
    /// not be delivered to a hosted driver, or whose host died in it, is an error.
    ///
    /// # Safety
    /// What `l1` and `l2` describe must be what the driver reads and writes for
    /// `msg` (a driver reading past a buffer reads past it).
    pub unsafe fn send_params<'a>(
        &self,
        h: Hdrvr,
        msg: Msg,
        l1: &mut crate::Param<'a>,
        l2: &mut crate::Param<'a>,
    ) -> Result<LResult, crate::SendError> {
        // SAFETY: forwarded contract.
        let answer = self
            .state
            .table
            .with_entered(h, |module, id| unsafe { module.call_params(id, h, msg, l1, l2) })
            .ok_or(BadHandle(h))?;
        answer.map_err(crate::SendError::Hosted)
    }

    /// Closes an instance with `lParam1 = lParam2 = 0` (`CloseDriver(h, 0, 0)`).
    pub fn close(&self, h: Hdrvr) -> Result<(), CloseError> {
        // SAFETY: zeros carry no pointer.
        unsafe { self.close_with(h, 0, 0) }
    }

    /// Closes an instance (`CloseDriver`): `DRV_CLOSE(l1, l2)`, whose answer is
    /// ignored, then — for the module's last instance — `DRV_DISABLE`, `DRV_FREE` and
    /// unload. From the moment it starts, no new message reaches the instance, and
    /// none reaches the driver after `DRV_CLOSE`: messages other threads have in
    /// progress finish first.
    ///
    /// How long it waits for them:
    /// * from inside a message to the same instance (a driver closing itself), not at
    ///   all: `DRV_CLOSE` is sent now, and the instance's slot is released when the
    ///   message returns;
    /// * **`l1 = l2 = 0`** (what [`close`](Self::close) and dropping an [`Instance`]
    ///   do): up to a tenth of a second, asleep. If messages are still running then
    ///   (a modal dialog, a driver waiting for this very close on another thread, two
    ///   threads closing each other's instances from inside messages), the close
    ///   returns `Ok` and is finished — `DRV_CLOSE`, and the unload if it was the last
    ///   instance — on the thread whose message returns last. It never waits without
    ///   end;
    /// * with parameters (which may point to the caller's memory, so `DRV_CLOSE`
    ///   cannot be sent after this call returns): until they return, asleep; if one
    ///   of them is itself waiting to close an instance this thread is inside a
    ///   message to, the close fails with [`CloseError::WouldDeadlock`] and the
    ///   instance stays open.
    ///
    /// Fails for a handle that names no open instance, and for the cycle above.
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects in `DRV_CLOSE`.
    pub unsafe fn close_with(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), CloseError> {
        if l1 == 0 && l2 == 0 {
            self.state.close_instance_or_defer(h)
        } else {
            self.state.close_instance(h, l1, l2)
        }
    }

    /// The platform handle of the instance's module (`GetDriverModuleHandle`): the
    /// `dlopen` handle on Unix, the `HMODULE` on Windows; `None` for a function driver.
    pub fn module_handle(&self, h: Hdrvr) -> Result<Option<usize>, BadHandle> {
        let guard = self.state.table.enter(h).ok_or(BadHandle(h))?;
        let raw = guard.module().raw_handle;
        Ok((raw != 0).then_some(raw))
    }

    /// The file the instance's module was loaded from (`None` for a function driver).
    pub fn module_path(&self, h: Hdrvr) -> Result<Option<PathBuf>, BadHandle> {
        let guard = self.state.table.enter(h).ok_or(BadHandle(h))?;
        Ok(guard.module().path.clone())
    }

    /// `GetDriverFlags`: [`DRIVER_FLAGS_VALID`] for an open instance.
    pub fn flags(&self, h: Hdrvr) -> Result<u32, BadHandle> {
        // A validity check only: entering would mark the instance as sent to, and make
        // its close synchronise with senders for nothing.
        self.state.table.peek_flags(h).map(|_| DRIVER_FLAGS_VALID).ok_or(BadHandle(h))
    }

    /// [`send`](Self::send) with the C ABI's process-wide handles: a handle this
    /// manager did not issue goes to the manager in the process that did — another
    /// `DriverManager`, or one of another copy of this library (a driver linked with
    /// libdrvproc, hosted by a program's own manager, sending to its own handle).
    ///
    /// # Safety
    /// As for [`send`](Self::send).
    #[inline]
    pub unsafe fn send_routed(
        &self,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> Result<LResult, BadHandle> {
        // SAFETY: forwarded contract.
        match unsafe { self.send(h, msg, l1, l2) } {
            Ok(answer) => Ok(answer),
            // SAFETY: forwarded contract.
            Err(_) => unsafe { directory::send(h, msg, l1, l2) },
        }
    }

    /// [`close_with`](Self::close_with) with process-wide handles (see
    /// [`send_routed`](Self::send_routed)).
    ///
    /// # Safety
    /// As for [`close_with`](Self::close_with).
    pub unsafe fn close_routed(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), CloseError> {
        // SAFETY: forwarded contract.
        match unsafe { self.close_with(h, l1, l2) } {
            Err(CloseError::BadHandle(_)) => {
                // SAFETY: forwarded contract.
                unsafe { directory::close(h, l1, l2) }
            }
            done => done,
        }
    }

    /// [`module_handle`](Self::module_handle) with process-wide handles (see
    /// [`send_routed`](Self::send_routed)).
    pub fn module_handle_routed(&self, h: Hdrvr) -> Result<Option<usize>, BadHandle> {
        self.module_handle(h).or_else(|_| directory::module_handle(h))
    }

    /// [`flags`](Self::flags) with process-wide handles (see
    /// [`send_routed`](Self::send_routed)).
    pub fn flags_routed(&self, h: Hdrvr) -> Result<u32, BadHandle> {
        self.flags(h).or_else(|_| directory::flags(h))
    }

    /// Registers a driver that is a function in this process (like `ICInstall` with
    /// a function, or `acmDriverAdd`): opening `alias` then runs the same lifecycle
    /// with the same messages as a driver file. Replaces an earlier registration.
    pub fn register_function(&self, alias: &str, proc_: DriverProc) -> Result<(), OpenError> {
        if alias.trim().is_empty() || alias.contains('\0') {
            return Err(OpenError::InvalidName { name: alias.to_string(), reason: "not a valid alias" });
        }
        let mut functions = self.state.functions.write().unwrap_or_else(PoisonError::into_inner);
        functions.retain(|(a, _)| !a.eq_ignore_ascii_case(alias));
        functions.push((alias.to_string(), proc_));
        self.state.function_count.store(functions.len(), Ordering::Release);
        Ok(())
    }

    /// Forgets a registered function alias (open instances stay open); false if unknown.
    pub fn unregister_function(&self, alias: &str) -> bool {
        let mut functions = self.state.functions.write().unwrap_or_else(PoisonError::into_inner);
        let before = functions.len();
        functions.retain(|(a, _)| !a.eq_ignore_ascii_case(alias));
        self.state.function_count.store(functions.len(), Ordering::Release);
        functions.len() < before
    }

    /// Where a driver file name leads, as [`open`](Self::open) would look for it: a
    /// path is used as given, a bare name is searched in the search path and the
    /// config directory. `None` when neither has it (the platform loader's own search
    /// is left, as in `open`).
    pub fn locate_file(&self, file: &str) -> Option<PathBuf> {
        match self.state.search.locate(file) {
            Target::Path(p) => Some(p),
            Target::System(_) => None,
        }
    }

    /// Where bare file names are looked for, in words (for reports).
    pub fn search_description(&self) -> String {
        self.state.search.describe()
    }

    /// Number of open instances, including hidden session instances.
    pub fn instance_count(&self) -> usize {
        self.state.table.len()
    }

    /// Number of modules currently loaded.
    pub fn loaded_module_count(&self) -> usize {
        let maps = self.state.maps();
        maps.by_handle
            .values()
            .chain(maps.by_function.values())
            .chain(maps.by_file.values())
            .filter(|m| !m.is_gone())
            .count()
    }

    /// Closes every instance callers opened (the session instances follow their last
    /// real instance), unloading every module. Returns how many were closed.
    pub fn close_all(&self) -> usize {
        self.state.close_all()
    }
}

impl Drop for ManagerState {
    /// Like winmm at process detach: instances still open are closed, so every
    /// module gets its `DRV_FREE` before it is unmapped.
    fn drop(&mut self) {
        directory::unregister(self.table.identity());
        let closed = self.close_all();
        if closed > 0 {
            tracing::debug!(closed, "driver manager dropped with instances open; closed them");
        }
    }
}
