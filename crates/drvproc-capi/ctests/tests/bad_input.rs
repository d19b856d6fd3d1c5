//! Bad input through the C ABI gets the documented answer (0 / FALSE / NULL), never a
//! crash: a bounded fuzz of random handle values (with instances open, which none of
//! them may reach), and NULL or invalid strings.

use std::ffi::c_void;

use drvproc::Hdrvr;
use drvproc_capi_tests::{TraceCopy, built, dylib};

type Send = unsafe extern "system" fn(Hdrvr, u32, isize, isize) -> isize;
type Close = unsafe extern "system" fn(Hdrvr, isize, isize) -> isize;
type ModuleHandle = extern "system" fn(Hdrvr) -> *mut c_void;
type Flags = extern "system" fn(Hdrvr) -> u32;
type OpenW = unsafe extern "system" fn(*const u16, *const u16, isize) -> Hdrvr;
type OpenA = unsafe extern "system" fn(*const i8, *const i8, isize) -> Hdrvr;

const ROUNDS: usize = 1_000_000;
/// Instances open while the fuzz runs, so that a value taken for one of them shows.
const LIVE: usize = 3;
/// What the trace driver answers to the fuzz's message and to the check afterwards:
/// non-zero, so a fuzzed value that reached an instance shows in the answer too.
const FUZZ_MSG: u32 = 0x4000;
const CHECK_MSG: u32 = 0x4001;

#[test]
fn a_million_random_handles_and_every_bit_flip_of_live_ones_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("ANSWER", "DRV_USER:0x7777,DRV_USER+1:0x1234")]);
    // SAFETY: libdrvproc's initialisers are Rust's std only.
    let lib = unsafe { libloading::Library::new(built(&dylib("drvproc"))) }.unwrap();
    // SAFETY: each symbol has the type its header prototype declares.
    let (open, send, close, module, flags) = unsafe {
        (
            *lib.get::<OpenA>(b"OpenDriverA\0").unwrap(),
            *lib.get::<Send>(b"SendDriverMessage\0").unwrap(),
            *lib.get::<Close>(b"CloseDriver\0").unwrap(),
            *lib.get::<ModuleHandle>(b"GetDriverModuleHandle\0").unwrap(),
            *lib.get::<Flags>(b"GetDriverFlags\0").unwrap(),
        )
    };
    let path = std::ffi::CString::new(trace.path()).unwrap();
    // SAFETY: a NUL-terminated path and no section; lParam2 0.
    let live: Vec<Hdrvr> = (0..LIVE).map(|_| unsafe { open(path.as_ptr(), std::ptr::null(), 0) }).collect();
    assert!(live.iter().all(|h| !h.is_null()), "the trace driver opens");
    let (opened, _) = trace.messages();
    assert_eq!(opened.len(), 2 + LIVE, "load, enable, one open each: {opened:?}");

    // Every value is probed through each entry point; none may be live.
    let probe = |raw: usize| {
        let h = Hdrvr::from_raw(raw);
        if live.contains(&h) {
            return;
        }
        // SAFETY: parameters are plain numbers; no driver is reached for a dead handle.
        unsafe {
            assert_eq!(
                send(h, FUZZ_MSG, 1, 2),
                0,
                "{raw:#x} was taken for a live instance by SendDriverMessage"
            );
            assert_eq!(close(h, 0, 0), 0, "{raw:#x} was taken for a live instance by CloseDriver");
        }
        assert!(module(h).is_null(), "{raw:#x} was taken for a live instance by GetDriverModuleHandle");
        assert_eq!(flags(h), 0, "{raw:#x} was taken for a live instance by GetDriverFlags");
    };
    for h in &live {
        for bit in 0..usize::BITS {
            probe(h.raw() ^ (1 << bit));
        }
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..ROUNDS {
        // Fully random values, small ones, random ones sharing the live handles' low
        // or high halves, and a plain count.
        let base = live[round % LIVE].raw();
        let raw = match round % 5 {
            0 => next() as usize,
            1 => (next() % 0x1_0000) as usize,
            2 => (next() as usize & !0xFFFF_FFFF) | (base & 0xFFFF_FFFF),
            3 => (base & !0xFFFF_FFFF) | (next() as usize & 0xFFFF_FFFF),
            _ => round,
        };
        probe(raw);
    }
    let (after_fuzz, _) = trace.messages();
    assert_eq!(after_fuzz, opened, "no fuzzed value reached the driver");

    // Every instance still answers, is valid, and closes with the exact sequence.
    for h in &live {
        // SAFETY: numbers only.
        assert_eq!(unsafe { send(*h, CHECK_MSG, 5, 6) }, 0x1234, "{h} still answers");
        assert_eq!(flags(*h), 0x8000_0000, "{h} is still valid");
        assert!(!module(*h).is_null(), "{h} still has its module");
    }
    for h in &live {
        // SAFETY: DRV_CLOSE's parameters are numbers for the trace driver.
        assert_eq!(unsafe { close(*h, 0, 0) }, 1, "{h} closes");
    }
    let (messages, handles) = trace.messages();
    let numbered: Vec<String> = live
        .iter()
        .map(|h| format!("H{}", handles.iter().position(|x| *x == h.to_string()).expect("recorded") + 1))
        .collect();
    let mut expected = vec!["DRV_LOAD(0x0, H1) -> 0x1".to_string(), "DRV_ENABLE(0x0, H1) -> 0x1".to_string()];
    for (n, hn) in numbered.iter().enumerate() {
        expected.push(format!("DRV_OPEN(0x0, {hn}) -> {:#x}", 0x1001 + n));
    }
    for (n, hn) in numbered.iter().enumerate() {
        expected.push(format!("DRV_USER+1({:#x}, {hn}) -> 0x1234", 0x1001 + n));
    }
    for (n, hn) in numbered.iter().enumerate() {
        expected.push(format!("DRV_CLOSE({:#x}, {hn}) -> 0x1", 0x1001 + n));
    }
    let last = numbered.last().unwrap();
    expected.push(format!("DRV_DISABLE(0x0, {last}) -> 0x1"));
    expected.push(format!("DRV_FREE(0x0, {last}) -> 0x1"));
    assert_eq!(messages, expected);
}

#[test]
fn null_and_invalid_names_return_null() {
    // SAFETY: as above.
    let lib = unsafe { libloading::Library::new(built(&dylib("drvproc"))) }.unwrap();
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
