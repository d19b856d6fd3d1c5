//! The driver SDK: write an installable driver in safe Rust.
//!
//! A driver is two types. The **module** type implements [`Driver`]: one value of it
//! lives from `DRV_LOAD` to `DRV_FREE` and answers module-level messages. The
//! **instance** type implements [`Instance`]: `DRV_OPEN` creates one (from
//! [`OpenParams`]), every message sent to that instance reaches it, and `DRV_CLOSE`
//! drops it. [`export_driver!`](crate::export_driver) emits the `DriverProc` export
//! that routes messages between them:
//!
//! * `DRV_LOAD`, `DRV_ENABLE`, `DRV_DISABLE`, `DRV_FREE` and `DRV_OPEN` go to the module
//!   whatever `dwDriverId` says (current Wine passes the closed instance's id with
//!   `DRV_DISABLE`/`DRV_FREE`).
//! * other messages with id 0 go to the module ([`Driver::message`] and the typed methods);
//! * messages with a non-zero id go to the instance that id names; `DRV_CLOSE` ends it.
//!
//! The id returned from `DRV_OPEN` is a generated non-zero key (index + generation),
//! never a pointer, so a stale or forged id is answered with 0 instead of touching freed
//! memory. Every method has a default equal to [`def_driver_proc`]'s answer, panics are
//! caught at the boundary (logged through `tracing`, answered with 0), and no lock is
//! held while driver code runs, so a driver may call back into its manager.
//!
//! A caught panic is also counted, because its answer of 0 hides it: `export_driver!`
//! exports, beside `DriverProc`,
//! `uint64_t drvproc_sdk_panics(char *buf, size_t len)`, which returns the number of
//! panics caught in the image and writes the last one's message into `buf` (UTF-8,
//! NUL-terminated, cut to fit). A manager looks it up in the driver's library like
//! `DriverProc` ([`PANICS_SYMBOL`], [`PanicsFn`]); `drvctl check` fails a rule during
//! which the count grew, with the message as evidence.
//!
//! On Windows an SDK driver's DLL stays mapped from its first `DRV_LOAD` until the
//! process ends (every `DRV_LOAD` .. `DRV_FREE` pair still runs): Rust's std uses up a
//! TLS index at each unload of a DLL, and a process that unloaded a codec a thousand
//! times would abort.
//!
//! # What the exported `DriverProc` requires
//!
//! A message to an open instance is the hot path of every driver, so the SDK routes it
//! without a lock, a reference count or any other write to memory shared between
//! threads: it checks the id against the instance table (lock-free reads only) and
//! calls the instance. Nothing then keeps the instance or the module alive for the
//! call but this contract, which every driver manager that follows the lifecycle of
//! installable drivers (spec §5, `DRV_CLOSE` and `DRV_FREE`) already keeps, drvproc's included:
//!
//! * `DRV_CLOSE` for an instance does not overlap another message to that instance, on
//!   any threads (a manager's close waits for the sends in flight, and later sends
//!   with that id are refused before they reach the driver); an instance's own method
//!   does not close it;
//! * the `DRV_FREE` that matches the last outstanding `DRV_LOAD` does not overlap any
//!   other message to the driver, and no message but `DRV_LOAD` follows it.
//!
//! Breaking it is undefined behaviour (a use after free). What needs no promise is the
//! sequential misuse: an id that was closed, never issued, or issued by another
//! driver, sent after whatever made it so has returned, is refused with 0, and the
//! check reads only the table's own memory, which lives as long as the driver image.
//! Re-entrancy is untouched: a method may send to its manager and, through it, to any
//! instance of this driver, its own included (also from inside its own `DRV_CLOSE`,
//! when its id is already refused).
//!
//! The safe surface never reads through an integer (the crate-level rule in
//! [`crate`]'s docs): an instance forwards messages with [`Context::forward`], which
//! decodes the `DRVCONFIGINFO*` of `DRV_INSTALL`/`DRV_CONFIGURE` only when it is the
//! `lParam2` the manager delivered with the message being handled, and answers any
//! other value as "no configuration". Passing a structure of the driver's own takes
//! [`Context::forward_raw`], which is `unsafe`; so do the [`lparam_ref`] family of
//! readers a driver uses for pointers in its own messages.
//!
//! ```
//! use drvproc::sdk::{Context, Driver, Instance, OpenParams};
//! use drvproc::{consts::*, Hdrvr, LParam, LResult, Msg};
//! use std::sync::atomic::{AtomicIsize, Ordering};
//!
//! /// Module state: lives from DRV_LOAD to DRV_FREE.
//! #[derive(Default)]
//! struct Beeper {
//!     opens: AtomicIsize,
//! }
//!
//! /// One open instance: created by DRV_OPEN, dropped by DRV_CLOSE.
//! struct BeeperInstance {
//!     volume: AtomicIsize,
//! }
//!
//! impl Driver for Beeper {
//!     type Instance = BeeperInstance;
//!
//!     fn open(&self, params: &OpenParams) -> Option<BeeperInstance> {
//!         self.opens.fetch_add(1, Ordering::Relaxed);
//!         let volume = params.args.as_deref().and_then(|a| a.parse().ok()).unwrap_or(5);
//!         Some(BeeperInstance { volume: AtomicIsize::new(volume) })
//!     }
//!
//!     fn query_configure(&self, _h: Hdrvr) -> LResult {
//!         0 // no configuration dialog
//!     }
//! }
//!
//! const GET_VOLUME: Msg = DRV_USER + 1;
//! const SET_VOLUME: Msg = DRV_USER + 2;
//!
//! impl Instance<Beeper> for BeeperInstance {
//!     fn close(&self, _cx: &Context<'_, Beeper>, _l1: LParam, _l2: LParam) -> LResult {
//!         1
//!     }
//!
//!     fn message(&self, cx: &Context<'_, Beeper>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
//!         match msg {
//!             GET_VOLUME => self.volume.load(Ordering::Relaxed),
//!             SET_VOLUME => self.volume.swap(l1, Ordering::Relaxed),
//!             _ => cx.forward(msg, l1, l2), // DRV_INSTALL, DRV_CONFIGURE, ... go to the module
//!         }
//!     }
//! }
//!
//! // In a cdylib this is `drvproc::export_driver!(Beeper);`, which exports `DriverProc`.
//! drvproc::driver_proc!(fn beeper_proc = Beeper);
//!
//! // What a driver manager does with it:
//! let h = Hdrvr::from_raw(0x10);
//! // SAFETY: the parameters follow each message's contract (no pointers are passed).
//! unsafe {
//!     assert_eq!(beeper_proc(0, h, DRV_LOAD, 0, 0), 1);
//!     assert_eq!(beeper_proc(0, h, DRV_ENABLE, 0, 0), 1);
//!     let id = beeper_proc(0, h, DRV_OPEN, 0, 0) as usize;
//!     assert_ne!(id, 0);
//!     assert_eq!(beeper_proc(id, h, GET_VOLUME, 0, 0), 5);
//!     assert_eq!(beeper_proc(id, h, SET_VOLUME, 9, 0), 5);
//!     assert_eq!(beeper_proc(id, h, GET_VOLUME, 0, 0), 9);
//!     assert_eq!(beeper_proc(id, h, DRV_INSTALL, 0, 0), DRVCNF_OK); // module default
//!     assert_eq!(beeper_proc(id, h, DRV_CLOSE, 0, 0), 1);
//!     assert_eq!(beeper_proc(id, h, GET_VOLUME, 0, 0), 0); // stale id: rejected
//!     assert_eq!(beeper_proc(0, h, DRV_DISABLE, 0, 0), 1);
//!     assert_eq!(beeper_proc(0, h, DRV_FREE, 0, 0), 1);
//! }
//! ```
//!
//! [`def_driver_proc`]: crate::def_driver_proc

mod lparam;
mod macros;
mod panics;
mod residence;
mod runtime;
mod slab;

pub use lparam::{lparam_from_mut, lparam_from_ref, lparam_mut, lparam_ref, lparam_wstr};
pub use panics::{PANICS_SYMBOL, PanicsFn, caught_panics, copy_caught_panics};
pub use runtime::Runtime;

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::config_info::ConfigInfo;
use crate::consts::*;
use crate::def_driver_proc;
use crate::types::{DriverId, Hdrvr, LParam, LResult, Msg};

/// What `DRV_OPEN` carries, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenParams {
    /// The new instance's handle.
    pub hdrvr: Hdrvr,
    /// The text that followed the driver's file name in its registry entry (`lParam1`),
    /// copied out of the caller's buffer; `None` when the manager passed NULL.
    /// Unpaired UTF-16 surrogates are replaced by U+FFFD.
    pub args: Option<String>,
    /// The `lParam2` of `OpenDriver`, untouched: 0 for a plain open (and for the
    /// session instance), or a class structure (`ACMDRVOPENDESCW*`, `ICOPEN*`, ...).
    pub lparam2: LParam,
}

/// The module level of a driver: one value lives from `DRV_LOAD` to `DRV_FREE`.
///
/// Every method has a default that answers what [`def_driver_proc`] answers, so a
/// driver overrides only what it handles. A driver that does not override
/// [`open`](Driver::open) can never be opened, exactly like a C driver that forwards
/// `DRV_OPEN` to `DefDriverProc`.
///
/// Methods take `&self` and may run on several threads at once (instances of one
/// module are used concurrently), hence `Send + Sync`; keep mutable state behind
/// atomics or locks.
pub trait Driver: Default + Send + Sync + Sized + 'static {
    /// The type `DRV_OPEN` creates and `DRV_CLOSE` drops.
    type Instance: Instance<Self>;

    /// `DRV_LOAD`: create the module state; `None` refuses the load (the manager then
    /// unloads the module and the open fails). Default: `Self::default()`.
    ///
    /// If the image is already loaded (two managers in one process share it), no new
    /// state is made: the load is counted and the existing state is kept until the
    /// matching last `DRV_FREE`. Exactly one caller runs `load`; a `DRV_LOAD` that
    /// arrives while `load` or the last [`free`](Driver::free) runs waits for it, then
    /// counts against the new state or, after a free, loads a fresh one.
    fn load(hdrvr: Hdrvr) -> Option<Self> {
        let _ = hdrvr;
        Some(Self::default())
    }

    /// `DRV_ENABLE`, right after a successful load. The manager ignores the answer.
    fn enable(&self, hdrvr: Hdrvr) -> LResult {
        def_driver_proc(0, hdrvr, DRV_ENABLE, 0, 0)
    }

    /// `DRV_DISABLE`, after the last instance closed. The manager ignores the answer.
    fn disable(&self, hdrvr: Hdrvr) -> LResult {
        def_driver_proc(0, hdrvr, DRV_DISABLE, 0, 0)
    }

    /// `DRV_FREE`, the last message before unload; the state and any instances left
    /// open are dropped right after, also when `free` panics. Only the `DRV_FREE` that
    /// matches the last outstanding `DRV_LOAD` runs it, exactly once.
    fn free(&self, hdrvr: Hdrvr) -> LResult {
        def_driver_proc(0, hdrvr, DRV_FREE, 0, 0)
    }

    /// `DRV_OPEN`: create an instance, or `None` to refuse the open.
    fn open(&self, params: &OpenParams) -> Option<Self::Instance> {
        let _ = params;
        None
    }

    /// Whether this driver chooses the `dwDriverId` of its instances itself
    /// ([`open_with_id`](Self::open_with_id)) rather than taking the SDK's generated
    /// keys: for classes that require a particular value (an MCI driver answers
    /// `DRV_OPEN` with its device id). Messages then find their instance through a
    /// small table under a lock instead of the lock-free key check.
    const CHOOSES_IDS: bool = false;

    /// `DRV_OPEN` for a driver with [`CHOOSES_IDS`](Self::CHOOSES_IDS): the instance
    /// and its id, which must be non-zero and not the id of another open instance
    /// (else the open is refused).
    fn open_with_id(&self, params: &OpenParams) -> Option<(Self::Instance, DriverId)> {
        let _ = params;
        None
    }

    /// `DRV_INSTALL`: `parent` is a window handle or 0 (spec D9); `config` names the
    /// section and alias the driver is being installed under. Answer a `DRVCNF_*`.
    fn install(&self, hdrvr: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        let _ = (parent, config);
        def_driver_proc(0, hdrvr, DRV_INSTALL, 0, 0)
    }

    /// `DRV_REMOVE`: the driver is being uninstalled. Answer a `DRVCNF_*`.
    fn remove(&self, hdrvr: Hdrvr) -> LResult {
        def_driver_proc(0, hdrvr, DRV_REMOVE, 0, 0)
    }

    /// `DRV_QUERYCONFIGURE`: non-zero if the driver has a configuration dialog.
    fn query_configure(&self, hdrvr: Hdrvr) -> LResult {
        def_driver_proc(0, hdrvr, DRV_QUERYCONFIGURE, 0, 0)
    }

    /// `DRV_CONFIGURE`: show the configuration; answer a `DRVCNF_*`.
    fn configure(&self, hdrvr: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        let _ = (parent, config);
        def_driver_proc(0, hdrvr, DRV_CONFIGURE, 0, 0)
    }

    /// `DRV_POWER` (never sent automatically; callers may send it).
    fn power(&self, hdrvr: Hdrvr, l1: LParam, l2: LParam) -> LResult {
        def_driver_proc(0, hdrvr, DRV_POWER, l1, l2)
    }

    /// `DRV_EXITSESSION` (never sent automatically; callers may send it).
    fn exit_session(&self, hdrvr: Hdrvr, l1: LParam, l2: LParam) -> LResult {
        def_driver_proc(0, hdrvr, DRV_EXITSESSION, l1, l2)
    }

    /// Any other message that reaches the module: one sent with id 0, or one an
    /// instance forwarded with [`Context::forward`].
    fn message(&self, hdrvr: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        def_driver_proc(0, hdrvr, msg, l1, l2)
    }
}

/// One open instance of driver `D`; `DRV_OPEN` creates it and `DRV_CLOSE` drops it.
///
/// Messages to one instance may arrive from several threads at once.
pub trait Instance<D: Driver>: Send + Sync + Sized + 'static {
    /// `DRV_CLOSE(l1, l2)`; the instance is dropped right after. The manager ignores
    /// the answer (default: `DefDriverProc`'s 0).
    fn close(&self, cx: &Context<'_, D>, l1: LParam, l2: LParam) -> LResult {
        def_driver_proc(cx.id(), cx.hdrvr(), DRV_CLOSE, l1, l2)
    }

    /// Every other message sent to this instance, with its raw parameters: custom
    /// (`DRV_USER` and up), class (ACM, ICM, MCI) and standard ones such as
    /// `DRV_CONFIGURE`. The default forwards to the module ([`Context::forward`], which
    /// reads a `DRVCONFIGINFO` only from what the manager sent with this call).
    fn message(&self, cx: &Context<'_, D>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        cx.forward(msg, l1, l2)
    }
}

/// What an instance method knows about the call: the module, the handle and its id.
#[derive(Debug)]
pub struct Context<'a, D> {
    /// The runtime's module pointer, read when the driver asks for the module (most
    /// messages never do, and then the message path never loads it).
    module: &'a AtomicPtr<D>,
    hdrvr: Hdrvr,
    id: DriverId,
    /// The message this call delivers and its `lParam2`, as the manager sent them.
    /// `Runtime::driver_proc`'s caller promised that they follow the message's
    /// contract for the duration of the call; a borrowed `Context` cannot outlive it.
    msg: Msg,
    l2: LParam,
}

impl<'a, D: Driver> Context<'a, D> {
    /// # Safety
    /// `l2` must satisfy `msg`'s contract for as long as the context lives: for
    /// `DRV_INSTALL`/`DRV_CONFIGURE`, 0 or a readable `DRVCONFIGINFO*`.
    ///
    /// `module` is the runtime's module pointer; the context is made only for a call
    /// that the runtime's caller promises does not overlap the last `DRV_FREE`.
    pub(crate) unsafe fn new(
        module: &'a AtomicPtr<D>,
        hdrvr: Hdrvr,
        id: DriverId,
        msg: Msg,
        l2: LParam,
    ) -> Self {
        Context { module, hdrvr, id, msg, l2 }
    }

    /// The module state.
    ///
    /// # Panics
    /// If the module was freed while this call runs: a manager that sends the last
    /// `DRV_FREE` during a message breaks the contract of `DriverProc` (see the
    /// [module docs](self#what-the-exported-driverproc-requires)); the panic is
    /// answered with 0 like any other.
    pub fn module(&self) -> &D {
        // SAFETY: a non-null module pointer is the `Arc`'d module of the loaded state
        // (published with release, loaded with acquire). It is dropped only by the last
        // DRV_FREE, which the runtime's caller promises does not run while the call this
        // context belongs to does, and the returned borrow cannot outlive the context
        // (that is, the call).
        unsafe { loaded_module(self.module).as_ref() }
    }

    /// The handle the manager gave this instance.
    pub fn hdrvr(&self) -> Hdrvr {
        self.hdrvr
    }

    /// This instance's `dwDriverId` (what `DRV_OPEN` answered).
    pub fn id(&self) -> DriverId {
        self.id
    }

    /// Hands a message to the module level: `DRV_INSTALL`, `DRV_REMOVE`,
    /// `DRV_QUERYCONFIGURE`, `DRV_CONFIGURE`, `DRV_POWER` and `DRV_EXITSESSION` reach
    /// their typed [`Driver`] methods, anything else [`Driver::message`].
    ///
    /// Safe because it never reads through an integer it cannot vouch for. The one
    /// pointer the SDK reads on the way is the `DRVCONFIGINFO*` of `DRV_INSTALL` and
    /// `DRV_CONFIGURE`, and it is read only when `msg` and `l2` are the message and
    /// `lParam2` the manager delivered with this very call (an instance passing such a
    /// message on, with the same or another `l1`). Any other `l2` reaches the typed
    /// method as no configuration, with a warning; to pass a structure of your own,
    /// use [`forward_raw`](Context::forward_raw).
    #[inline]
    pub fn forward(&self, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        // The decision and the context's fields go by value (six registers), so an
        // instance method that forwards on one branch and is inlined into `DriverProc`
        // does not make the message path write the context to memory.
        let delivered = (msg, l2) == (self.msg, self.l2);
        forward_by_value(self.module, self.hdrvr, msg, l1, l2, delivered)
    }

    /// [`forward`](Context::forward) for a structure the caller vouches for: `l2` of
    /// `DRV_INSTALL` and `DRV_CONFIGURE` is read as a `DRVCONFIGINFO*` whatever its
    /// origin.
    ///
    /// # Safety
    /// For `DRV_INSTALL` and `DRV_CONFIGURE`, `l2` must be 0 or point to a
    /// `DRVCONFIGINFO` whose strings are readable for the duration of the call. Other
    /// messages' parameters are passed on as integers, as `forward` does.
    ///
    /// ```
    /// use drvproc::config_info::{ConfigInfo, ConfigInfoBuf};
    /// use drvproc::sdk::{Context, Driver, Instance, OpenParams};
    /// use drvproc::{consts::*, Hdrvr, LParam, LResult, Msg};
    ///
    /// #[derive(Default)]
    /// struct Dev;
    /// struct DevInstance;
    /// impl Driver for Dev {
    ///     type Instance = DevInstance;
    ///     fn open(&self, _: &OpenParams) -> Option<DevInstance> {
    ///         Some(DevInstance)
    ///     }
    ///     fn configure(&self, _h: Hdrvr, _parent: LParam, config: Option<&ConfigInfo>) -> LResult {
    ///         config.and_then(|c| c.alias.as_deref()).map_or(0, str::len) as LResult
    ///     }
    /// }
    /// impl Instance<Dev> for DevInstance {
    ///     fn message(&self, cx: &Context<'_, Dev>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    ///         if msg != DRV_USER {
    ///             return cx.forward(msg, l1, l2);
    ///         }
    ///         let own = ConfigInfoBuf::new(Some("Drivers32"), Some("wave.dev")).unwrap();
    ///         // SAFETY: `own` is a DRVCONFIGINFO that outlives the call.
    ///         unsafe { cx.forward_raw(DRV_CONFIGURE, 0, own.as_lparam()) }
    ///     }
    /// }
    /// drvproc::driver_proc!(fn dev = Dev);
    /// # let h = Hdrvr::from_raw(1);
    /// // SAFETY: no pointers are passed.
    /// unsafe {
    ///     assert_eq!(dev(0, h, DRV_LOAD, 0, 0), 1);
    ///     let id = dev(0, h, DRV_OPEN, 0, 0) as usize;
    ///     assert_eq!(dev(id, h, DRV_USER, 0, 0), "wave.dev".len() as LResult);
    /// }
    /// ```
    ///
    /// Without `unsafe` this does not compile, so safe driver code cannot make the SDK
    /// read through a made-up integer:
    ///
    /// ```compile_fail,E0133
    /// use drvproc::sdk::{Context, Driver, Instance};
    /// use drvproc::{consts::*, LParam, LResult, Msg};
    ///
    /// #[derive(Default)]
    /// struct Dev;
    /// struct DevInstance;
    /// impl Driver for Dev {
    ///     type Instance = DevInstance;
    /// }
    /// impl Instance<Dev> for DevInstance {
    ///     fn message(&self, cx: &Context<'_, Dev>, _msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
    ///         cx.forward_raw(DRV_CONFIGURE, 0, 0x10)
    ///     }
    /// }
    /// ```
    pub unsafe fn forward_raw(&self, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        // SAFETY: the caller's contract is dispatch_module's.
        unsafe { dispatch_module(self.module(), self.hdrvr, msg, l1, l2) }
    }
}

/// The module a context's pointer names; a panic (answered with 0) if it was freed.
fn loaded_module<D>(module: &AtomicPtr<D>) -> NonNull<D> {
    match NonNull::new(module.load(Ordering::Acquire)) {
        Some(module) => module,
        None => panic!("the driver was freed during a call to one of its instances"),
    }
}

/// [`Context::forward`] past its inlined part: `delivered` says whether `msg` and `l2`
/// are the message and `lParam2` the manager delivered with the call being handled.
#[cold]
#[inline(never)]
fn forward_by_value<D: Driver>(
    module: &AtomicPtr<D>,
    hdrvr: Hdrvr,
    msg: Msg,
    l1: LParam,
    l2: LParam,
    delivered: bool,
) -> LResult {
    let config = if !carries_config(msg) {
        None
    } else if delivered {
        // SAFETY: this is the lParam2 the manager sent with this same message, which the
        // context's constructor guarantees is 0 or a readable DRVCONFIGINFO* while the
        // context (the call `forward` was called in) lives.
        unsafe { config_param(msg, l2) }
    } else {
        if l2 != 0 {
            tracing::warn!(
                msg = %crate::MessageName(msg),
                "lParam2 is not the DRVCONFIGINFO this call delivered; forwarding no configuration"
            );
        }
        None
    };
    // SAFETY: as in `Context::module`: the call `forward` was called in does not overlap
    // the last DRV_FREE, and the borrow ends with this function.
    let module = unsafe { loaded_module(module).as_ref() };
    route_module(module, hdrvr, msg, l1, l2, config)
}

/// Whether the SDK reads `msg`'s `lParam2` as a `DRVCONFIGINFO*`.
fn carries_config(msg: Msg) -> bool {
    matches!(msg, DRV_INSTALL | DRV_CONFIGURE)
}

/// Routes a non-lifecycle message to the module's typed methods, decoding the
/// `DRVCONFIGINFO*` of `DRV_INSTALL`/`DRV_CONFIGURE`.
///
/// # Safety
/// For `DRV_INSTALL`/`DRV_CONFIGURE`, `l2` is 0 or a `DRVCONFIGINFO*` readable for the
/// call; other messages' parameters are only passed on.
pub(crate) unsafe fn dispatch_module<D: Driver>(
    module: &D,
    hdrvr: Hdrvr,
    msg: Msg,
    l1: LParam,
    l2: LParam,
) -> LResult {
    // SAFETY: the caller's contract for DRV_INSTALL/DRV_CONFIGURE; nothing else is read.
    let config = if carries_config(msg) { unsafe { config_param(msg, l2) } } else { None };
    route_module(module, hdrvr, msg, l1, l2, config)
}

/// Routes a non-lifecycle message, its configuration already decoded, to the module.
fn route_module<D: Driver>(
    module: &D,
    hdrvr: Hdrvr,
    msg: Msg,
    l1: LParam,
    l2: LParam,
    config: Option<ConfigInfo>,
) -> LResult {
    match msg {
        DRV_INSTALL => module.install(hdrvr, l1, config.as_ref()),
        DRV_CONFIGURE => module.configure(hdrvr, l1, config.as_ref()),
        DRV_REMOVE => module.remove(hdrvr),
        DRV_QUERYCONFIGURE => module.query_configure(hdrvr),
        DRV_POWER => module.power(hdrvr, l1, l2),
        DRV_EXITSESSION => module.exit_session(hdrvr, l1, l2),
        _ => module.message(hdrvr, msg, l1, l2),
    }
}

/// Decodes a `DRVCONFIGINFO*`; a structure of an unknown size is logged and treated
/// as absent rather than guessed at.
///
/// # Safety
/// `l2` is 0 or points to a `DRVCONFIGINFO` readable for the call (spec §4.1, §5).
unsafe fn config_param(msg: Msg, l2: LParam) -> Option<ConfigInfo> {
    // SAFETY: the caller's contract.
    match unsafe { crate::config_info::read_config_info(l2) } {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!(msg = %crate::MessageName(msg), "ignoring lParam2: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests;
