//! drivers/selfsend-c hosted by libdrvproc itself (a C client's `OpenDriver`): its
//! `SendDriverMessage` to its own handle goes to the manager that issued the handle,
//! so it answers its magic value. This is the reference the hosted-elsewhere tests
//! (handle_identity.rs, drvctl's selfsend.rs) compare against; a test binary of its
//!
//! own, so that its opens through libdrvproc do not shift their handles.
//! Compiles the C driver with the Unix C compiler: Unix only.
#![cfg(unix)]

use std::ffi::CString;

use drvproc::Hdrvr;
use drvproc_capi_tests::*;

type OpenA = unsafe extern "system" fn(*const i8, *const i8, isize) -> Hdrvr;
type Send = unsafe extern "system" fn(Hdrvr, u32, isize, isize) -> isize;
type Close = unsafe extern "system" fn(Hdrvr, isize, isize) -> isize;

#[test]
fn selfsend_reaches_itself_when_libdrvproc_hosts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (other, target) = selfsend_beside_trace(dir.path());
    // SAFETY: libdrvproc's initialisers are Rust's std only.
    let lib = unsafe { libloading::Library::new(built("libdrvproc.so")) }.unwrap();
    // SAFETY: each symbol has the type its header prototype declares.
    let (open, send, close) = unsafe {
        (
            *lib.get::<OpenA>(b"OpenDriverA\0").unwrap(),
            *lib.get::<Send>(b"SendDriverMessage\0").unwrap(),
            *lib.get::<Close>(b"CloseDriver\0").unwrap(),
        )
    };
    let name = CString::new(target).unwrap();
    // SAFETY: a NUL-terminated name, no section, lParam2 0.
    let h = unsafe { open(name.as_ptr(), std::ptr::null(), 0) };
    assert!(!h.is_null(), "selfsend opens");
    // SAFETY: selfsend treats DRV_USER's parameters as numbers.
    assert_eq!(unsafe { send(h, 0x4000, 0, 0) }, 0x5E1F, "DRV_USER+1 reached selfsend's own instance");
    // SAFETY: numbers only.
    assert_eq!(unsafe { close(h, 0, 0) }, 1);
    let (messages, _) = other.messages();
    assert_eq!(messages, OTHER_OPENED_AND_CLOSED);
}
