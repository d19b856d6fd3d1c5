//! The bitness bridge: a 32-bit driver file, which this 64-bit process cannot load,
//! is hosted by a 32-bit `drvproc-hostd32` over the same fixed-width channel, and
//! sees the same lifecycle as the 64-bit build of the same driver in process.
//!
//! The 32-bit host and driver are built by `scripts/i686-test.sh`, which runs this
//! with `DRVPROC_I686_DIR` naming their directory; without it, the tests that need
//! them say so and do nothing.
#![cfg(all(target_os = "linux", target_pointer_width = "64"))]

mod common;

use std::path::PathBuf;

use common::*;
use drvproc::consts::*;
use drvproc_host::{DriverManager, Param};

fn i686_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DRVPROC_I686_DIR").map(PathBuf::from);
    if dir.is_none() {
        eprintln!("DRVPROC_I686_DIR is not set: scripts/i686-test.sh builds the 32-bit host and driver");
    }
    dir
}

/// Opens, queries, sends and closes; what the driver saw.
fn scenario(t: &Trace, m: &DriverManager) -> Vec<String> {
    let a = m.open(t.path(), None).unwrap();
    let b = m.open(&format!("{} rate=8000", t.path()), None).unwrap();
    assert!(a.query_configure().unwrap());
    // SAFETY: numbers only, described as numbers.
    let answer = unsafe { b.send_params(DRV_USER + 1, &mut Param::Int(7), &mut Param::Int(-9)) };
    assert_eq!(answer, Ok(-5));
    drop(a);
    drop(b);
    t.take()
}

#[test]
fn a_32_bit_driver_is_hosted_by_the_32_bit_host_with_the_same_lifecycle() {
    let Some(dir) = i686_dir() else { return };
    let settings = [("ANSWER", "DRV_QUERYCONFIGURE:1,DRV_USER+1:-5")];
    let native = Trace::with(&settings);
    let local = scenario(&native, &native.manager());

    let t = Trace::with(&settings);
    std::fs::copy(dir.join("libdrvtrace.so"), &t.lib).unwrap();
    let m = DriverManager::new(t.options().host_program_32(dir.join("drvproc-hostd")));
    let hosted = scenario(&t, &m);
    assert_eq!(local.len(), 10, "{local:#?}");
    assert_eq!(hosted, local);
}

#[test]
fn a_32_bit_driver_without_a_32_bit_host_is_refused_in_words() {
    let Some(dir) = i686_dir() else { return };
    let t = Trace::new();
    std::fs::copy(dir.join("libdrvtrace.so"), &t.lib).unwrap();
    let missing = t.dir.path().join("no-such-hostd32");
    let m = DriverManager::new(t.options().host_program_32(&missing));
    let err = m.open(t.path(), None).unwrap_err().to_string();
    assert!(
        err.ends_with(&format!(
            "the host program {} does not exist (a 32-bit driver needs it)",
            missing.display()
        )),
        "{err}"
    );
}
