//! P1 through the C ABI: `SendDriverMessage` exported by libdrvproc.so, called as a C
//! client would (through the dynamic symbol), against a direct call of the same
//! driver's `DriverProc` pointer. Both loops run in this one process, interleaved, and
//! the figure is the median of several rounds.

use std::hint::black_box;
use std::time::Instant;

use drvproc::consts::DRV_USER;
use drvproc::{DriverProc, Hdrvr};
use drvproc_capi_tests::built;

type OpenA = unsafe extern "system" fn(*const i8, *const i8, isize) -> Hdrvr;
type Send = unsafe extern "system" fn(Hdrvr, u32, isize, isize) -> isize;
type Close = unsafe extern "system" fn(Hdrvr, isize, isize) -> isize;

const CALLS: u32 = 20_000_000;
const ROUNDS: usize = 7;
const TARGET: f64 = 2.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let null = built(&format!("{}drvnull{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    let drvproc = built(&format!("{}drvproc{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    // SAFETY: both libraries' initialisers are Rust's std only; symbols are looked up
    // with the types drvproc.h declares.
    let (null_lib, capi) =
        unsafe { (libloading::Library::new(&null).unwrap(), libloading::Library::new(&drvproc).unwrap()) };
    // SAFETY: as above.
    let (direct, open, send, close) = unsafe {
        (
            *null_lib.get::<DriverProc>(b"DriverProc\0").unwrap(),
            *capi.get::<OpenA>(b"OpenDriverA\0").unwrap(),
            *capi.get::<Send>(b"SendDriverMessage\0").unwrap(),
            *capi.get::<Close>(b"CloseDriver\0").unwrap(),
        )
    };
    let path = std::ffi::CString::new(null.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path, no section, lParam2 0.
    let h = unsafe { open(path.as_ptr(), std::ptr::null(), 0) };
    assert!(!h.is_null(), "OpenDriverA failed");
    let (mut direct_ns, mut capi_ns) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let f = black_box(direct);
        let start = Instant::now();
        for _ in 0..CALLS {
            // SAFETY: the null driver never dereferences its parameters.
            black_box(unsafe {
                f(black_box(1), black_box(h), black_box(DRV_USER), black_box(0), black_box(0))
            });
        }
        direct_ns.push(start.elapsed().as_nanos() as f64 / CALLS as f64);
        let s = black_box(send);
        let start = Instant::now();
        for _ in 0..CALLS {
            // SAFETY: as above.
            black_box(unsafe { s(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) });
        }
        capi_ns.push(start.elapsed().as_nanos() as f64 / CALLS as f64);
    }
    // SAFETY: the handle opened above.
    assert_eq!(unsafe { close(h, 0, 0) }, 1);
    let (d, c) = (median(direct_ns), median(capi_ns));
    println!("P1-C direct call: {d:.2} ns");
    println!("P1-C SendDriverMessage: {c:.2} ns");
    println!("P1-C ratio: {:.2} (target <= {TARGET})", c / d);
    println!("P1-C {}", if c / d <= TARGET { "MET" } else { "NOT MET" });
}
