//! The driver manager: `OpenDriver`, `SendDriverMessage`, `CloseDriver` and friends,
//! with the message order of spec §7 and the name resolution of §8.
//!
//! Locks: the module maps, each module's counters and the handle table's free list
//! are held only for bookkeeping, never while a driver runs, so drivers may call the
//! manager from inside any message. Load and unload of one module are serialised by
//! the module's phase: a thread that finds a module loading or unloading waits for
//! the transition to finish (a driver re-entering its own module from inside
//! `DRV_LOAD` is let through).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::thread;

use drvproc::consts::*;
use drvproc::wide::WideString;
use drvproc::{DriverProc, Hdrvr, LParam, LResult, Msg};

use crate::error::{BadHandle, OpenError};
use crate::handle_table::{Closing, HandleTable, MAX_INSTANCES};
use crate::instance::Instance;
use crate::loader::{self, LoadFailure};
use crate::module::{Module, Phase};
use crate::options::ManagerOptions;
use crate::registry::{DRIVERS32, Registry};
use crate::resolve::{SearchPath, Target, sections_for, split_entry};

/// Instance flag: the hidden session instance (spec §7.3 b).
const SESSION: u8 = 1;
/// Instance flag: `DRV_OPEN` succeeded; only such instances can be closed by callers.
const OPENED: u8 = 2;

/// `GetDriverFlags` for a valid instance: Wine's and native's `0x80000000` (spec §9).
pub const DRIVER_FLAGS_VALID: u32 = 0x8000_0000;

static GLOBAL: OnceLock<DriverManager> = OnceLock::new();

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
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    table: HandleTable<Module>,
    modules: Mutex<ModuleMaps>,
    /// Registered function drivers by alias (matched case-insensitively).
    functions: RwLock<Vec<(String, DriverProc)>>,
    /// `functions.len()`, read without the lock on every open.
    function_count: AtomicUsize,
    registry: Option<Registry>,
    search: SearchPath,
    session_instance: bool,
}

#[derive(Default)]
struct ModuleMaps {
    /// By platform module handle: one module per mapped library, whatever the path.
    by_handle: HashMap<usize, Arc<Module>>,
    /// By the path it was opened with, so reopening skips the platform loader.
    by_path: HashMap<Target, Arc<Module>>,
    /// By function address, for registered function drivers.
    by_function: HashMap<usize, Arc<Module>>,
    /// By the exact name a module was opened with as a whole file name (no args, no
    /// section): a later open of the same name goes straight to the loaded module,
    /// like `LoadLibrary` of a loaded module's name, with no file-system access.
    by_name: HashMap<String, Arc<Module>>,
}

impl ModuleMaps {
    /// Records that `target` (and `name`, when it was opened as a whole file name)
    /// lead to `module`.
    fn remember(&mut self, target: &Target, name: Option<&str>, module: &Arc<Module>) {
        self.by_path.insert(target.clone(), module.clone());
        if let Some(name) = name {
            self.by_name.insert(name.to_string(), module.clone());
        }
    }
}

/// An open attempt on one module either finishes or must start over on a new module.
enum Attempt {
    Done(Result<Hdrvr, OpenError>),
    Retry,
}

impl DriverManager {
    /// A manager with these options (environment defaults are read now).
    pub fn new(options: ManagerOptions) -> Self {
        static TAGS: AtomicUsize = AtomicUsize::new(0);
        let config_path = options.config_path.or_else(Registry::default_path);
        let dirs = options.search_path.unwrap_or_else(|| {
            std::env::var_os("DRVPROC_PATH")
                .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
                .unwrap_or_default()
        });
        let config_dir = config_path.as_ref().and_then(|p| p.parent()).map(PathBuf::from);
        let inner = Inner {
            table: HandleTable::new(TAGS.fetch_add(1, Ordering::Relaxed)),
            modules: Mutex::new(ModuleMaps::default()),
            functions: RwLock::new(Vec::new()),
            function_count: AtomicUsize::new(0),
            registry: config_path.map(Registry::new),
            search: SearchPath { dirs, config_dir: config_dir.filter(|d| !d.as_os_str().is_empty()) },
            session_instance: options.session_instance,
        };
        DriverManager { inner: Arc::new(inner) }
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
        GLOBAL.get_or_init(|| DriverManager::new(ManagerOptions::default()))
    }

    /// The registry file this manager reads aliases from, if any location is known.
    pub fn registry(&self) -> Option<&Registry> {
        self.inner.registry.as_ref()
    }

    /// Opens a driver by file name or alias with `lParam2 = 0` (`OpenDriver`).
    ///
    /// With `section` `None`, `name` is tried as a file (whole, then split at its
    /// first space into file and args), then as an alias in `[Drivers32]`; with a
    /// section, only as an alias in that section (`MCI32` falls back to `MCI`).
    /// Functions registered with [`register_function`](Self::register_function) are
    /// found by alias first, in any section.
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
        Ok(Instance::from_raw(self.clone(), h))
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
        let invalid = |reason| Err(OpenError::InvalidName { name: name.to_string(), reason });
        if name.trim().is_empty() {
            return invalid("it is empty");
        }
        if name.contains('\0') {
            return invalid("it contains a NUL character");
        }
        self.inner.open(name, section, lparam2)
    }

    /// Sends a message to an open instance (`SendDriverMessage`) and returns the
    /// driver's answer unchanged; no message is interpreted by the manager.
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects for `msg` (for many messages, a
    /// valid pointer), valid for the duration of the call.
    #[inline]
    pub unsafe fn send(&self, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, BadHandle> {
        self.inner.table.with_entered(h, |module, id| module.call(id, h, msg, l1, l2)).ok_or(BadHandle(h))
    }

    /// Closes an instance with `lParam1 = lParam2 = 0` (`CloseDriver(h, 0, 0)`).
    pub fn close(&self, h: Hdrvr) -> Result<(), BadHandle> {
        // SAFETY: zeros carry no pointer.
        unsafe { self.close_with(h, 0, 0) }
    }

    /// Closes an instance (`CloseDriver`): `DRV_CLOSE(l1, l2)`, whose answer is
    /// ignored, then — for the module's last instance — `DRV_DISABLE`, `DRV_FREE` and
    /// unload. Sends racing the close finish first; none reaches the driver after
    /// `DRV_CLOSE`. Fails only for a handle that names no open instance.
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects in `DRV_CLOSE`.
    pub unsafe fn close_with(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), BadHandle> {
        self.inner.close_instance(h, l1, l2)
    }

    /// The platform handle of the instance's module (`GetDriverModuleHandle`): the
    /// `dlopen` handle on Unix, the `HMODULE` on Windows; `None` for a function driver.
    pub fn module_handle(&self, h: Hdrvr) -> Result<Option<usize>, BadHandle> {
        let guard = self.inner.table.enter(h).ok_or(BadHandle(h))?;
        let raw = guard.module().raw_handle;
        Ok((raw != 0).then_some(raw))
    }

    /// The file the instance's module was loaded from (`None` for a function driver).
    pub fn module_path(&self, h: Hdrvr) -> Result<Option<PathBuf>, BadHandle> {
        let guard = self.inner.table.enter(h).ok_or(BadHandle(h))?;
        Ok(guard.module().path.clone())
    }

    /// `GetDriverFlags`: [`DRIVER_FLAGS_VALID`] for an open instance.
    pub fn flags(&self, h: Hdrvr) -> Result<u32, BadHandle> {
        // A validity check only: entering would mark the instance as sent to, and make
        // its close synchronise with senders for nothing.
        self.inner.table.peek_flags(h).map(|_| DRIVER_FLAGS_VALID).ok_or(BadHandle(h))
    }

    /// Registers a driver that is a function in this process (like `ICInstall` with
    /// a function, or `acmDriverAdd`): opening `alias` then runs the same lifecycle
    /// with the same messages as a driver file. Replaces an earlier registration.
    pub fn register_function(&self, alias: &str, proc_: DriverProc) -> Result<(), OpenError> {
        if alias.trim().is_empty() || alias.contains('\0') {
            return Err(OpenError::InvalidName { name: alias.to_string(), reason: "not a valid alias" });
        }
        let mut functions = self.inner.functions.write().unwrap_or_else(PoisonError::into_inner);
        functions.retain(|(a, _)| !a.eq_ignore_ascii_case(alias));
        functions.push((alias.to_string(), proc_));
        self.inner.function_count.store(functions.len(), Ordering::Release);
        Ok(())
    }

    /// Forgets a registered function alias (open instances stay open); false if unknown.
    pub fn unregister_function(&self, alias: &str) -> bool {
        let mut functions = self.inner.functions.write().unwrap_or_else(PoisonError::into_inner);
        let before = functions.len();
        functions.retain(|(a, _)| !a.eq_ignore_ascii_case(alias));
        self.inner.function_count.store(functions.len(), Ordering::Release);
        functions.len() < before
    }

    /// Where a driver file name leads, as [`open`](Self::open) would look for it: a
    /// path is used as given, a bare name is searched in the search path and the
    /// config directory. `None` when neither has it (the platform loader's own search
    /// is left, as in `open`).
    pub fn locate_file(&self, file: &str) -> Option<PathBuf> {
        match self.inner.search.locate(file) {
            Target::Path(p) => Some(p),
            Target::System(_) => None,
        }
    }

    /// Where bare file names are looked for, in words (for reports).
    pub fn search_description(&self) -> String {
        self.inner.search.describe()
    }

    /// Number of open instances, including hidden session instances.
    pub fn instance_count(&self) -> usize {
        self.inner.table.len()
    }

    /// Number of modules currently loaded.
    pub fn loaded_module_count(&self) -> usize {
        let maps = self.inner.maps();
        maps.by_handle.values().chain(maps.by_function.values()).filter(|m| !m.is_gone()).count()
    }

    /// Closes every instance callers opened (the session instances follow their last
    /// real instance), unloading every module. Returns how many were closed.
    pub fn close_all(&self) -> usize {
        self.inner.close_all()
    }
}

impl Drop for Inner {
    /// Like winmm at process detach: instances still open are closed, so every
    /// module gets its `DRV_FREE` before it is unmapped.
    fn drop(&mut self) {
        let closed = self.close_all();
        if closed > 0 {
            tracing::debug!(closed, "driver manager dropped with instances open; closed them");
        }
    }
}

impl Inner {
    fn maps(&self) -> MutexGuard<'_, ModuleMaps> {
        self.modules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close_all(&self) -> usize {
        self.table.live_handles().into_iter().filter(|&h| self.close_instance(h, 0, 0).is_ok()).count()
    }

    /// `CloseDriver`: `DRV_CLOSE(l1, l2)` (answer ignored), then the module's
    /// bookkeeping. The session instance is the manager's own, and an instance still
    /// inside its `DRV_OPEN` belongs to the opening thread: neither can be closed here.
    fn close_instance(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), BadHandle> {
        let flags = self.table.peek_flags(h).ok_or(BadHandle(h))?;
        if flags & OPENED == 0 || flags & SESSION != 0 {
            return Err(BadHandle(h));
        }
        let closing = self.table.begin_close(h).ok_or(BadHandle(h))?;
        let module = closing.module_arc();
        module.call(closing.id(), h, DRV_CLOSE, l1, l2);
        self.instance_gone(&module, Some(closing), true);
        Ok(())
    }

    fn function(&self, name: &str) -> Option<DriverProc> {
        if self.function_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let functions = self.functions.read().unwrap_or_else(PoisonError::into_inner);
        functions.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|(_, p)| *p)
    }

    /// Spec §8 with D14, D18, D19: which files to try, in which order.
    fn open(&self, name: &str, section: Option<&str>, l2: LParam) -> Result<Hdrvr, OpenError> {
        if let Some(proc_) = self.function(name) {
            return self.open_function(name, proc_, l2);
        }
        if section.is_none() {
            let cached = self.maps().by_name.get(name).filter(|m| !m.is_gone()).cloned();
            if let Some(module) = cached
                && let Attempt::Done(result) = self.open_instance(&module, None, l2)
            {
                return result;
            }
        }
        let mut file_error = None;
        if section.is_none() {
            let whole = self.try_file(name, name, None, l2);
            let split = match split_entry(name) {
                (file, Some(args))
                    if whole.as_ref().is_err_and(|e| matches!(e, OpenError::NotFound { .. })) =>
                {
                    Some(self.try_file(name, file, Some(args), l2))
                }
                _ => None,
            };
            match split.unwrap_or(whole) {
                Ok(h) => return Ok(h),
                Err(e) => file_error = Some(e),
            }
        }
        let section = section.unwrap_or(DRIVERS32);
        let sections = sections_for(section);
        if let Some(registry) = &self.registry {
            let doc = registry.read()?;
            for s in &sections {
                if let Some(value) = doc.get(s, name) {
                    let (file, args) = split_entry(value);
                    return self.try_file(name, file, args, l2);
                }
            }
        }
        // Nothing under that alias: a direct-file failure other than "not found" is
        // the more useful report (the file exists but is broken or refused).
        match file_error {
            Some(OpenError::NotFound { looked, .. }) => Err(self.not_found(name, Some(&looked), &sections)),
            Some(e) => Err(e),
            None => Err(self.not_found(name, None, &sections)),
        }
    }

    /// The report for a name found neither as a file (`file_looked`: where, if the
    /// name was tried as one) nor as an alias.
    fn not_found(&self, name: &str, file_looked: Option<&str>, sections: &[&str]) -> OpenError {
        let file_part = file_looked.map_or(String::new(), |looked| format!("as a file {looked}; "));
        let section_list = sections.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(" or ");
        let alias_part = match &self.registry {
            Some(r) => format!("no alias in {section_list} of {}", r.path().display()),
            None => "no configuration file to look aliases up in".to_string(),
        };
        OpenError::NotFound { name: name.to_string(), looked: format!("({file_part}{alias_part})") }
    }

    /// Loads (or reuses) the module for `file` and opens an instance of it.
    fn try_file(&self, name: &str, file: &str, args: Option<&str>, l2: LParam) -> Result<Hdrvr, OpenError> {
        let target = self.search.locate(file);
        if let Target::Path(p) = &target
            && !p.exists()
        {
            return Err(OpenError::NotFound {
                name: name.to_string(),
                looked: format!("(no file {})", p.display()),
            });
        }
        // A whole name that is a file is remembered for the fast path of later opens.
        let cache_as = (args.is_none() && file == name).then_some(name);
        loop {
            let module = self.module_for_target(name, file, &target, cache_as)?;
            match self.open_instance(&module, args, l2) {
                Attempt::Done(result) => return result,
                Attempt::Retry => continue,
            }
        }
    }

    fn module_for_target(
        &self,
        name: &str,
        file: &str,
        target: &Target,
        cache_as: Option<&str>,
    ) -> Result<Arc<Module>, OpenError> {
        {
            let mut maps = self.maps();
            if let Some(m) = maps.by_path.get(target).filter(|m| !m.is_gone()).cloned() {
                maps.remember(target, cache_as, &m);
                return Ok(m);
            }
        }
        let path_text = match target {
            Target::Path(p) => p.display().to_string(),
            Target::System(s) => s.clone(),
        };
        let loaded = loader::load(target).map_err(|failure| match failure {
            LoadFailure::NotFound => {
                OpenError::NotFound { name: name.to_string(), looked: self.search.describe() }
            }
            LoadFailure::NotLoadable(message) => OpenError::NotLoadable { path: path_text.clone(), message },
            LoadFailure::NoDriverProc => OpenError::NoDriverProc { path: path_text.clone() },
        })?;
        let mut maps = self.maps();
        if let Some(existing) = maps.by_handle.get(&loaded.raw_handle).filter(|m| !m.is_gone()).cloned() {
            // Same library under another path: one module (spec §7.1). Our extra
            // platform reference is released when `loaded` drops, after the lock.
            maps.remember(target, cache_as, &existing);
            drop(maps);
            drop(loaded);
            return Ok(existing);
        }
        let path = match target {
            Target::Path(p) => Some(p.clone()),
            Target::System(s) => Some(PathBuf::from(s)),
        };
        let display = if file == path_text { path_text } else { format!("{file} ({path_text})") };
        let module =
            Arc::new(Module::new(display, path, loaded.raw_handle, loaded.proc_, Some(loaded.library)));
        maps.by_handle.insert(module.raw_handle, module.clone());
        maps.remember(target, cache_as, &module);
        Ok(module)
    }

    fn open_function(&self, alias: &str, proc_: DriverProc, l2: LParam) -> Result<Hdrvr, OpenError> {
        loop {
            let module = {
                let mut maps = self.maps();
                let key = proc_ as usize;
                match maps.by_function.get(&key).filter(|m| !m.is_gone()) {
                    Some(m) => m.clone(),
                    None => {
                        let m = Arc::new(Module::new(alias.to_string(), None, 0, proc_, None));
                        maps.by_function.insert(key, m.clone());
                        m
                    }
                }
            };
            match self.open_instance(&module, None, l2) {
                Attempt::Done(result) => return result,
                Attempt::Retry => continue,
            }
        }
    }

    /// Removes a module from the maps (it is being unmapped).
    fn forget_module(&self, module: &Arc<Module>) {
        let mut maps = self.maps();
        maps.by_handle.retain(|_, m| !Arc::ptr_eq(m, module));
        maps.by_path.retain(|_, m| !Arc::ptr_eq(m, module));
        maps.by_function.retain(|_, m| !Arc::ptr_eq(m, module));
        maps.by_name.retain(|_, m| !Arc::ptr_eq(m, module));
    }

    /// Opens one instance of `module` with the sequences of spec §7.3 (a)–(c).
    fn open_instance(&self, module: &Arc<Module>, args: Option<&str>, l2: LParam) -> Attempt {
        let me = thread::current().id();
        let refused = |what: fn(String) -> OpenError| Attempt::Done(Err(what(module.name.clone())));
        // Args come from a NUL-free name or registry value; a NUL would only cut them.
        let args = args.and_then(|a| WideString::new(a).ok());
        let args_ptr = args.as_ref().map_or(0, |w| w.as_ptr() as LParam);
        let first = {
            let mut state = module.state();
            let first = loop {
                match state.phase {
                    Phase::Gone => return Attempt::Retry,
                    Phase::Unloading(t) if t == me => {
                        return refused(|driver| OpenError::Unloading { driver });
                    }
                    Phase::Loading(t) if t == me => break false,
                    Phase::Loading(_) | Phase::Unloading(_) => {
                        state = module.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                    Phase::Unloaded => {
                        state.phase = Phase::Loading(me);
                        break true;
                    }
                    Phase::Loaded => break false,
                }
            };
            state.instances += 1;
            first
        };
        let session = first && self.session_instance && l2 != 0;
        let Some(h) = self.table.insert(module.clone(), if session { SESSION } else { 0 }) else {
            self.instance_gone(module, None, false);
            return Attempt::Done(Err(OpenError::TooManyInstances { limit: MAX_INSTANCES }));
        };
        if first {
            if module.call(0, h, DRV_LOAD, 0, 0) == 0 {
                // Spec §7.4: no other message; release and unmap.
                if let Some(closing) = self.table.begin_close(h) {
                    closing.finish();
                }
                let mut state = module.state();
                state.instances -= 1;
                self.forget_module(module);
                module.retire(state);
                return refused(|driver| OpenError::LoadRefused { driver });
            }
            module.call(0, h, DRV_ENABLE, 0, 0);
            module.state().phase = Phase::Loaded;
            module.changed.notify_all();
        }
        let (h, l2_for_real) = if session {
            let id = module.call(0, h, DRV_OPEN, args_ptr, 0);
            if id == 0 || !self.mark_opened(h, id) {
                self.instance_gone(module, self.table.begin_close(h), false);
                return refused(|driver| OpenError::OpenRefused { driver });
            }
            let mut state = module.state();
            state.session = Some(h);
            state.instances += 1;
            drop(state);
            match self.table.insert(module.clone(), 0) {
                Some(real) => (real, l2),
                None => {
                    self.instance_gone(module, None, false);
                    return Attempt::Done(Err(OpenError::TooManyInstances { limit: MAX_INSTANCES }));
                }
            }
        } else {
            (h, l2)
        };
        let id = module.call(0, h, DRV_OPEN, args_ptr, l2_for_real);
        if id == 0 || !self.mark_opened(h, id) {
            self.instance_gone(module, self.table.begin_close(h), false);
            return refused(|driver| OpenError::OpenRefused { driver });
        }
        module.state().real += 1;
        Attempt::Done(Ok(h))
    }

    /// Records `DRV_OPEN`'s id; false if the instance vanished meanwhile.
    fn mark_opened(&self, h: Hdrvr, id: LResult) -> bool {
        self.table.set_opened(h, id as usize, OPENED)
    }

    /// An instance left its module (closed, or its open failed): close the session
    /// instance if only it remains (spec §7.3 f), and unload the module after its
    /// last instance (§7.3 e, §7.5, D3, D4). Handles are released after `DRV_FREE`,
    /// so none is reused while the module still hears about it.
    fn instance_gone(&self, module: &Arc<Module>, departing: Option<Closing<'_, Module>>, was_real: bool) {
        let mut last_h = departing.as_ref().map_or(Hdrvr::NULL, |c| c.handle());
        let mut finished = Vec::with_capacity(2);
        finished.extend(departing);
        let mut state = module.state();
        state.instances -= 1;
        if was_real {
            state.real -= 1;
        }
        if state.real == 0
            && state.instances == 1
            && let Some(session) = state.session.take()
        {
            drop(state);
            if let Some(closing) = self.table.begin_close(session) {
                module.call(closing.id(), session, DRV_CLOSE, 0, 0);
                last_h = session;
                finished.push(closing);
            }
            state = module.state();
            state.instances -= 1;
        }
        if state.instances == 0 && state.phase == Phase::Loaded {
            state.phase = Phase::Unloading(thread::current().id());
            drop(state);
            module.call(0, last_h, DRV_DISABLE, 0, 0);
            module.call(0, last_h, DRV_FREE, 0, 0);
            let state = module.state();
            self.forget_module(module);
            module.retire(state);
        }
        for closing in finished {
            closing.finish();
        }
    }
}
