//! The macros that turn a [`Driver`](super::Driver) into a `DriverProc`.

/// Exports `DriverProc` for driver type `$driver` (put it once in a `cdylib`).
///
/// Emits `#[no_mangle] pub unsafe extern "system" fn DriverProc(...)`, the symbol every
/// driver manager (Windows' winmm, Wine, drvproc) looks up, and
/// `drvproc_sdk_panics` ([`PanicsFn`](crate::sdk::PanicsFn)), which tells a manager
/// how many panics the SDK caught and answered with 0. `DriverProc` is `unsafe` to call
/// because `DRV_OPEN`, `DRV_INSTALL` and `DRV_CONFIGURE` pass pointers in their
/// `LPARAM`s, and because its callers must keep the driver lifecycle (no `DRV_CLOSE` of
/// an instance during a message to it, no last `DRV_FREE` during any message; see
/// [the SDK docs](crate::sdk#what-the-exported-driverproc-requires)); managers call it
/// through the [`DriverProc`](crate::DriverProc) pointer type.
///
/// ```
/// use drvproc::{consts::*, Hdrvr};
///
/// #[derive(Default)]
/// struct MyDriver;
/// struct MyInstance;
/// impl drvproc::sdk::Driver for MyDriver {
///     type Instance = MyInstance;
///     fn open(&self, _: &drvproc::sdk::OpenParams) -> Option<MyInstance> {
///         Some(MyInstance)
///     }
/// }
/// impl drvproc::sdk::Instance<MyDriver> for MyInstance {}
///
/// drvproc::export_driver!(MyDriver);
///
/// // The exported symbol is an ordinary DriverProc:
/// let proc_: drvproc::DriverProc = DriverProc;
/// // SAFETY: no message here carries a pointer.
/// unsafe {
///     assert_eq!(proc_(0, Hdrvr::from_raw(1), DRV_LOAD, 0, 0), 1);
///     assert_ne!(proc_(0, Hdrvr::from_raw(1), DRV_OPEN, 0, 0), 0);
/// }
/// ```
#[macro_export]
macro_rules! export_driver {
    ($driver:ty) => {
        $crate::driver_proc!(
            #[unsafe(no_mangle)]
            pub fn DriverProc = $driver
        );

        /// The panics the driver SDK caught in this library; see `drvproc::sdk::PanicsFn`.
        ///
        /// # Safety
        /// `buf` must be valid for writes of `len` bytes (any pointer when `len` is 0).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn drvproc_sdk_panics(buf: *mut u8, len: usize) -> u64 {
            // SAFETY: this function's contract is `copy_caught_panics`'s.
            unsafe { $crate::sdk::copy_caught_panics(buf, len) }
        }
    };
}

/// Defines a `DriverProc`-shaped function with any name for driver type `$driver`,
/// without exporting it: for function drivers registered in-process (like
/// `ICInstall` with a function) and for tests.
///
/// ```
/// # use drvproc::sdk::{Driver, Instance, OpenParams};
/// #[derive(Default)]
/// struct Null;
/// struct NullInstance;
/// impl Driver for Null {
///     type Instance = NullInstance;
///     fn open(&self, _: &OpenParams) -> Option<NullInstance> { Some(NullInstance) }
/// }
/// impl Instance<Null> for NullInstance {}
///
/// drvproc::driver_proc!(pub fn null_proc = Null);
/// let f: drvproc::DriverProc = null_proc;
/// # let _ = f;
/// ```
#[macro_export]
macro_rules! driver_proc {
    ($(#[$attr:meta])* $vis:vis fn $name:ident = $driver:ty) => {
        $(#[$attr])*
        #[allow(non_snake_case)]
        $vis unsafe extern "system" fn $name(
            id: $crate::DriverId,
            hdrvr: $crate::Hdrvr,
            msg: $crate::Msg,
            l1: $crate::LParam,
            l2: $crate::LParam,
        ) -> $crate::LResult {
            static RUNTIME: $crate::sdk::Runtime<$driver> = $crate::sdk::Runtime::new();
            // SAFETY: this function is `unsafe`; its caller promises the parameters
            // follow each message's contract and the calls the driver lifecycle, which
            // is what `driver_proc` requires.
            unsafe { RUNTIME.driver_proc(id, hdrvr, msg, l1, l2) }
        }
    };
}
