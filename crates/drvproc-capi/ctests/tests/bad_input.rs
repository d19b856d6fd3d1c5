//! Bad input through the C ABI gets the documented answer (0 / FALSE / NULL), never a
//! crash: a bounded fuzz of random handle values, and NULL or invalid strings.

use std::ffi::c_void;

use drvproc::Hdrvr;
use drvproc_capi_tests::built;

type Send = unsafe extern "system" fn(Hdrvr, u32, isize, isize) -> isize;
type Close = unsafe extern "system" fn(Hdrvr, isize, isize) -> isize;
type ModuleHandle = extern "system" fn(Hdrvr) -> *mut c_void;
type Flags = extern "system" fn(Hdrvr) -> u32;
type OpenW = unsafe extern "system" fn(*const u16, *const u16, isize) -> Hdrvr;
type OpenA = unsafe extern "system" fn(*const i8, *const i8, isize) -> Hdrvr;

const ROUNDS: usize = 1_000_000;

#[test]
fn a_million_random_handles_are_rejected() {
    // SAFETY: libdrvproc's initialisers are Rust's std only.
    let lib = unsafe { libloading::Library::new(built("libdrvproc.so")) }.unwrap();
    // SAFETY: each symbol has the type its header prototype declares.
    let (send, close, module, flags) = unsafe {
        (
            *lib.get::<Send>(b"SendDriverMessage\0").unwrap(),
            *lib.get::<Close>(b"CloseDriver\0").unwrap(),
            *lib.get::<ModuleHandle>(b"GetDriverModuleHandle\0").unwrap(),
            *lib.get::<Flags>(b"GetDriverFlags\0").unwrap(),
        )
    };
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..ROUNDS {
        // Mix fully random values with small ones near real handle encodings.
        let raw = match round % 4 {
            0 => next() as usize,
            1 => (next() % 0x1_0000) as usize,
            2 => (next() as usize) & 0xFFFF_FFFF_00FF_FFFF,
            _ => round,
        };
        let h = Hdrvr::from_raw(raw);
        // SAFETY: parameters are plain numbers; no driver is reached for a dead handle.
        unsafe {
            assert_eq!(send(h, 0x4000, 1, 2), 0, "{raw:#x}");
            assert_eq!(close(h, 0, 0), 0, "{raw:#x}");
        }
        assert!(module(h).is_null(), "{raw:#x}");
        assert_eq!(flags(h), 0, "{raw:#x}");
    }
}

#[test]
fn null_and_invalid_names_return_null() {
    // SAFETY: as above.
    let lib = unsafe { libloading::Library::new(built("libdrvproc.so")) }.unwrap();
    // SAFETY: prototypes from the header.
    let (open_w, open_a, alias_w, alias_a) = unsafe {
        (
            *lib.get::<OpenW>(b"OpenDriver\0").unwrap(),
            *lib.get::<OpenA>(b"OpenDriverA\0").unwrap(),
            *lib.get::<OpenW>(b"DrvOpen\0").unwrap(),
            *lib.get::<OpenA>(b"DrvOpenA\0").unwrap(),
        )
    };
    let lone_surrogate: [u16; 3] = [0xDC00, 0x41, 0];
    let empty: [u16; 1] = [0];
    let section: [u16; 10] = [0x44, 0x72, 0x69, 0x76, 0x65, 0x72, 0x73, 0x33, 0x32, 0];
    // SAFETY: every pointer is NULL or a NUL-terminated buffer alive for the call.
    unsafe {
        for open in [open_w, alias_w] {
            assert!(open(std::ptr::null(), std::ptr::null(), 0).is_null());
            assert!(open(std::ptr::null(), section.as_ptr(), 0).is_null());
            assert!(open(lone_surrogate.as_ptr(), std::ptr::null(), 0).is_null());
            assert!(open(empty.as_ptr(), std::ptr::null(), 0).is_null());
            assert!(open(section.as_ptr(), lone_surrogate.as_ptr(), 0).is_null());
        }
        for open in [open_a, alias_a] {
            assert!(open(std::ptr::null(), std::ptr::null(), 0).is_null());
            assert!(open(c"\xc3\x28".as_ptr(), std::ptr::null(), 0).is_null());
            assert!(open(c"".as_ptr(), std::ptr::null(), 0).is_null());
            assert!(open(c"x".as_ptr(), c"\xff".as_ptr(), 0).is_null());
        }
    }
}
