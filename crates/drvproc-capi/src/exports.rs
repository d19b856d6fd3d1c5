//! The exported functions. Names, argument types and return conventions are winmm's
//! (spec §2.4, §13); see `include/drvproc.h` for each function's contract.

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use drvproc_abi::wide::WideString;
use drvproc_abi::{DriverId, Hdrvr, LParam, LResult, Msg, def_driver_proc};
use drvproc_host::{DriverManager, driver_callback};

use crate::last_error;

/// `BOOL`.
type Bool = i32;

/// Runs `body`, turning a panic into `failure` (nothing may unwind into C).
#[inline(always)]
fn guarded<T>(failure: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        last_error::set("internal error (panic) in libdrvproc");
        failure
    })
}

/// The process-wide manager, with the hook that makes a failed call to an isolated
/// driver say why in `drvproc_last_error()` installed first. Every open goes
/// through here before any driver can be hosted; the common send does not, and
/// needs not: the hook is called only when a hosted call fails, off the common path.
#[inline(always)]
fn manager() -> &'static DriverManager {
    drvproc_host::set_failure_hook(hosted_failure);
    DriverManager::global()
}

/// Records a hosted call's failure (the driver, the message, how its host died or
/// why the message could not be carried) as the calling thread's last error. Runs
/// on the thread whose call failed, which then answers 0.
fn hosted_failure(text: &str) {
    last_error::set(text);
}

/// Opens `name` in `section` (both already decoded); the common body of the opens.
fn open(
    name: Result<Option<String>, &'static str>,
    section: Result<Option<String>, &'static str>,
    l2: LParam,
) -> Hdrvr {
    let (name, section) = match (name, section) {
        (Ok(Some(name)), Ok(section)) => (name, section),
        (Ok(None), _) => {
            last_error::set("OpenDriver: the driver name is NULL");
            return Hdrvr::NULL;
        }
        (Err(why), _) => {
            last_error::set(format!("OpenDriver: the driver name {why}"));
            return Hdrvr::NULL;
        }
        (_, Err(why)) => {
            last_error::set(format!("OpenDriver: the section name {why}"));
            return Hdrvr::NULL;
        }
    };
    // SAFETY: lParam2's meaning is the caller's contract with the driver, as in winmm.
    match unsafe { manager().open_handle(&name, section.as_deref(), l2) } {
        Ok(h) => {
            last_error::clear();
            h
        }
        Err(e) => {
            last_error::set(e.to_string());
            Hdrvr::NULL
        }
    }
}

/// Decodes a NUL-terminated UTF-16 string; invalid UTF-16 is refused, not repaired,
/// so a name never silently turns into another one.
///
/// # Safety
/// `p` is NULL or a NUL-terminated UTF-16 string.
unsafe fn wide(p: *const u16) -> Result<Option<String>, &'static str> {
    // SAFETY: forwarded contract.
    match unsafe { WideString::from_ptr(p) } {
        None => Ok(None),
        Some(w) => w.to_string_checked().map(Some).ok_or("is not valid UTF-16"),
    }
}

/// Decodes a NUL-terminated UTF-8 string.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn narrow(p: *const c_char) -> Result<Option<String>, &'static str> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(|s| Some(s.to_string())).map_err(|_| "is not valid UTF-8")
}

/// What made `h` a bad handle, when its isolated driver's host process died:
/// `"; driver ... died on ..."`, else nothing.
fn death_of(h: Hdrvr) -> String {
    drvproc_host::death_of(h).map(|death| format!("; {death}")).unwrap_or_default()
}

/// `HDRVR OpenDriver(LPCWSTR name, LPCWSTR section, LPARAM lParam2)`.
///
/// # Safety
/// `name` and `section` are NULL or NUL-terminated UTF-16; `l2` is what the driver
/// expects in `DRV_OPEN`'s `lParam2`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn OpenDriver(name: *const u16, section: *const u16, l2: LParam) -> Hdrvr {
    // SAFETY: forwarded contract.
    guarded(Hdrvr::NULL, || open(unsafe { wide(name) }, unsafe { wide(section) }, l2))
}

/// `HDRVR OpenDriverA(LPCSTR name, LPCSTR section, LPARAM lParam2)`: UTF-8 names.
///
/// # Safety
/// `name` and `section` are NULL or NUL-terminated; `l2` as for `OpenDriver`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn OpenDriverA(name: *const c_char, section: *const c_char, l2: LParam) -> Hdrvr {
    // SAFETY: forwarded contract.
    guarded(Hdrvr::NULL, || open(unsafe { narrow(name) }, unsafe { narrow(section) }, l2))
}

/// `LRESULT CloseDriver(HDRVR, LPARAM, LPARAM)`: 1, or 0 for a bad handle.
///
/// # Safety
/// `l1` and `l2` are what the driver expects in `DRV_CLOSE`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn CloseDriver(h: Hdrvr, l1: LParam, l2: LParam) -> LResult {
    guarded(0, || {
        let manager = manager();
        drvproc_host::take_hosted_failure();
        // SAFETY: forwarded contract.
        match unsafe { manager.close_routed(h, l1, l2) } {
            // An isolated driver whose host died in DRV_CLOSE, DRV_DISABLE or
            // DRV_FREE: the instance is closed all the same, but the caller hears of
            // it; the hook has set the last error.
            Ok(()) if drvproc_host::take_hosted_failure().is_some() => 0,
            Ok(()) => {
                last_error::clear();
                1
            }
            Err(e) => {
                last_error::set(format!("CloseDriver: {e}{}", death_of(h)));
                0
            }
        }
    })
}

/// `LRESULT SendDriverMessage(HDRVR, UINT, LPARAM, LPARAM)`: the driver's answer, or
/// 0 for a bad handle (the driver is not called).
///
/// # Safety
/// `l1` and `l2` are what the driver expects for `msg`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn SendDriverMessage(h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    // The common case cannot panic, so it runs outside `guarded` (whose frame would
    // cost the send path more than the rest of the export).
    // SAFETY: forwarded contract; `send_general` is the general path it asks for.
    unsafe { DriverManager::send_global(h, msg, l1, l2, |h, msg, l1, l2| send_general(h, msg, l1, l2)) }
}

/// Every other case of `SendDriverMessage`, out of line to keep the common one small.
///
/// # Safety
/// As for `SendDriverMessage`.
#[cold]
#[inline(never)]
unsafe fn send_general(h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    guarded(0, || {
        // SAFETY: forwarded contract.
        match unsafe { manager().send_routed(h, msg, l1, l2) } {
            Ok(answer) => answer,
            Err(e) => {
                last_error::set(format!("SendDriverMessage: {e}{}", death_of(h)));
                0
            }
        }
    })
}

/// `LRESULT DefDriverProc(DWORD_PTR, HDRVR, UINT, LPARAM, LPARAM)`.
#[unsafe(no_mangle)]
pub extern "system" fn DefDriverProc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    def_driver_proc(id, h, msg, l1, l2)
}

/// `DrvDefDriverProc`: the same as `DefDriverProc`.
#[unsafe(no_mangle)]
pub extern "system" fn DrvDefDriverProc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    def_driver_proc(id, h, msg, l1, l2)
}

/// `BOOL DriverCallback(DWORD_PTR, DWORD, HDRVR, DWORD, DWORD_PTR, DWORD_PTR, DWORD_PTR)`.
///
/// # Safety
/// With `DCB_FUNCTION`, `callback` is an `LPDRVCALLBACK`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverCallback(
    callback: usize,
    flags: u32,
    h: Hdrvr,
    msg: u32,
    user: usize,
    p1: usize,
    p2: usize,
) -> Bool {
    // SAFETY: forwarded contract.
    guarded(0, || unsafe { driver_callback(callback, flags, h, msg, user, p1, p2) } as Bool)
}

/// `HMODULE GetDriverModuleHandle(HDRVR)`: the `dlopen` handle of the driver's
/// library; NULL for a bad handle or a function driver.
#[unsafe(no_mangle)]
pub extern "system" fn GetDriverModuleHandle(h: Hdrvr) -> *mut c_void {
    guarded(std::ptr::null_mut(), || match manager().module_handle_routed(h) {
        Ok(raw) => raw.unwrap_or(0) as *mut c_void,
        Err(e) => {
            last_error::set(format!("GetDriverModuleHandle: {e}"));
            std::ptr::null_mut()
        }
    })
}

/// `DrvGetModuleHandle`: the same as `GetDriverModuleHandle`.
#[unsafe(no_mangle)]
pub extern "system" fn DrvGetModuleHandle(h: Hdrvr) -> *mut c_void {
    GetDriverModuleHandle(h)
}

/// `DWORD GetDriverFlags(HDRVR)`: `0x80000000` for a live handle, else 0.
#[unsafe(no_mangle)]
pub extern "system" fn GetDriverFlags(h: Hdrvr) -> u32 {
    guarded(0, || manager().flags_routed(h).unwrap_or(0))
}

/// `DrvOpen`: alias of `OpenDriver`.
///
/// # Safety
/// As for `OpenDriver`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DrvOpen(name: *const u16, section: *const u16, l2: LParam) -> Hdrvr {
    // SAFETY: forwarded contract.
    unsafe { OpenDriver(name, section, l2) }
}

/// `DrvOpenA`: alias of `OpenDriverA`.
///
/// # Safety
/// As for `OpenDriverA`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DrvOpenA(name: *const c_char, section: *const c_char, l2: LParam) -> Hdrvr {
    // SAFETY: forwarded contract.
    unsafe { OpenDriverA(name, section, l2) }
}

/// `DrvClose`: alias of `CloseDriver`.
///
/// # Safety
/// As for `CloseDriver`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DrvClose(h: Hdrvr, l1: LParam, l2: LParam) -> LResult {
    // SAFETY: forwarded contract.
    unsafe { CloseDriver(h, l1, l2) }
}

/// `DrvSendMessage`: alias of `SendDriverMessage`.
///
/// # Safety
/// As for `SendDriverMessage`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DrvSendMessage(h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    // SAFETY: forwarded contract.
    unsafe { SendDriverMessage(h, msg, l1, l2) }
}
