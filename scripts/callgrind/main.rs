//! Fixed-count workload for instruction counting (`scripts/callgrind.sh`): runs one
//! operation `N` times after one warm-up, so that the difference between two runs
//! with different `N` is the steady-state cost of `N` operations, setup excluded.
//!
//! Usage: `probe <op> <N> <libdrvnull.so> <libdrvproc.so> [<libdrvnullsdk.so>]`,
//! where `op` is one of `direct` (a call of the null driver's `DriverProc` pointer),
//! `send` (`DriverManager::send`), `capi` (`SendDriverMessage` through libdrvproc, as
//! a C client calls it), `sdk` (`DriverManager::send` to the SDK's counterpart of the
//! null driver, `drivers/null-sdk`, which answers the same) or `open_close` (open +
//! close of one more instance of a loaded module). Built against the drvproc tree
//! being measured; it uses only public APIs that every measured revision has.

use std::hint::black_box;
use std::path::PathBuf;

use drvproc::consts::DRV_USER;
use drvproc::{DriverProc, Hdrvr};
use drvproc_host::{DriverManager, ManagerOptions};

type OpenA = unsafe extern "system" fn(*const i8, *const i8, isize) -> Hdrvr;
type Send = unsafe extern "system" fn(Hdrvr, u32, isize, isize) -> isize;
type Close = unsafe extern "system" fn(Hdrvr, isize, isize) -> isize;

fn manager() -> DriverManager {
    DriverManager::new(
        ManagerOptions::new()
            .config_path("/nonexistent/drvproc-bench/system.ini")
            .search_path(Vec::<PathBuf>::new()),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (op, n, null, capi, sdk) = match &args[..] {
        [_, op, n, null, capi] => (op, n, null, capi, None),
        [_, op, n, null, capi, sdk] => (op, n, null, capi, Some(sdk)),
        _ => {
            eprintln!("usage: probe direct|send|capi|sdk|open_close N LIBDRVNULL LIBDRVPROC [LIBDRVNULLSDK]");
            std::process::exit(2);
        }
    };
    let n: u64 = n.parse().expect("N is a number");
    match op.as_str() {
        "sdk" => {
            let sdk = sdk.expect("the sdk op needs LIBDRVNULLSDK");
            let m = manager();
            let instance = m.open(sdk, None).expect("open the SDK null driver");
            let h = instance.handle();
            for _ in 0..n + 1 {
                // SAFETY: the driver never dereferences its parameters.
                black_box(
                    unsafe { m.send(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) }.unwrap(),
                );
            }
        }
        "direct" | "send" => {
            let m = manager();
            let instance = m.open(null, None).expect("open the null driver");
            let h = instance.handle();
            // SAFETY: the null driver's own DriverProc, kept mapped by the instance.
            let lib = unsafe { libloading::Library::new(null) }.expect("map the null driver");
            // SAFETY: the export has the DriverProc type.
            let f: DriverProc = *unsafe { lib.get::<DriverProc>(b"DriverProc\0") }.expect("DriverProc");
            let f = black_box(f);
            if op == "direct" {
                for _ in 0..n + 1 {
                    // SAFETY: the null driver never dereferences its parameters.
                    black_box(unsafe {
                        f(black_box(1), black_box(h), black_box(DRV_USER), black_box(0), black_box(0))
                    });
                }
            } else {
                for _ in 0..n + 1 {
                    // SAFETY: as above.
                    black_box(
                        unsafe { m.send(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) }
                            .unwrap(),
                    );
                }
            }
            println!("sends_are_fence_free: {}", drvproc_host::sends_are_fence_free());
        }
        "capi" => {
            // SAFETY: the library's initialisers are Rust's std only; the symbols are
            // looked up with the types drvproc.h declares.
            let lib = unsafe { libloading::Library::new(capi) }.expect("map libdrvproc");
            // SAFETY: as above.
            let (open, send, close) = unsafe {
                (
                    *lib.get::<OpenA>(b"OpenDriverA\0").unwrap(),
                    *lib.get::<Send>(b"SendDriverMessage\0").unwrap(),
                    *lib.get::<Close>(b"CloseDriver\0").unwrap(),
                )
            };
            let path = std::ffi::CString::new(null.as_str()).unwrap();
            // SAFETY: a NUL-terminated path, no section, lParam2 0.
            let h = unsafe { open(path.as_ptr(), std::ptr::null(), 0) };
            assert!(!h.is_null(), "OpenDriverA failed");
            let s = black_box(send);
            for _ in 0..n + 1 {
                // SAFETY: the null driver never dereferences its parameters.
                black_box(unsafe { s(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) });
            }
            // SAFETY: the handle opened above.
            assert_eq!(unsafe { close(h, 0, 0) }, 1);
        }
        "open_close" => {
            let m = manager();
            let _held = m.open(null, None).expect("open the null driver");
            for _ in 0..n + 1 {
                m.open(black_box(null), None).unwrap().close().unwrap();
            }
        }
        other => panic!("unknown op {other}"),
    }
}
