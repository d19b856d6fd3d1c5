//! The settings file beside a copy of the library configures that copy: how parallel
//! tests give each copy its own log and answers without touching the environment.

use std::path::PathBuf;

use drvproc::consts::{DRV_FREE, DRV_LOAD};
use drvproc::{DriverProc, Hdrvr};

/// The library cargo built for this package, beside this test binary.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}drvtrace{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

#[test]
fn a_copy_reads_the_settings_file_in_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let lib_path = dir.path().join(built_library().file_name().unwrap());
    std::fs::copy(built_library(), &lib_path).unwrap();
    std::fs::write(dir.path().join("drvtrace.env"), "LOG=copy.log\nLOAD=7\n").unwrap();
    // SAFETY: the trace driver's initialisation is Rust's std only, and DriverProc is
    // looked up with its declared type.
    let lib = unsafe { libloading::Library::new(&lib_path) }.unwrap();
    // SAFETY: as above.
    let proc_ = *unsafe { lib.get::<DriverProc>(b"DriverProc\0") }.unwrap();
    // SAFETY: DRV_LOAD and DRV_FREE dereference no parameter.
    let (load, free) = unsafe {
        (proc_(0, Hdrvr::from_raw(1), DRV_LOAD, 0, 0), proc_(0, Hdrvr::from_raw(1), DRV_FREE, 0, 0))
    };
    assert_eq!((load, free), (7, 1), "LOAD=7 from the settings file");
    let log =
        std::fs::read_to_string(dir.path().join("copy.log")).expect("the log named by the settings file");
    assert_eq!(
        log,
        "msg=0x0001 id=0 h=0x1 l1=0 args=- l2=0 ret=7 # DRV_LOAD\nmsg=0x0006 id=0 h=0x1 l1=0 args=- l2=0 ret=1 # DRV_FREE\n"
    );
}
