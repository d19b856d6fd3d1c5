//! A registry named by a relative path means the same file, and the same driver
//! directory, as its absolute path: Wine's `system.ini` is usually given that way.
#![cfg(target_os = "linux")]

mod common;

use common::{lib, run};

#[test]
fn a_relative_config_finds_drivers_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(lib("drvsample"), dir.path().join("libdrvsample.so")).unwrap();
    std::fs::write(dir.path().join("rel.ini"), "[Drivers32]\nbare=libdrvsample.so\n").unwrap();

    let mut doctor = common::drvctl(&["--config", "rel.ini", "doctor"]);
    doctor.current_dir(dir.path());
    let (code, out, err) = run(doctor);
    assert_eq!(code, 0, "{out}{err}");
    let beside = dir.path().join("libdrvsample.so");
    assert!(
        out.starts_with(&format!(
            "ok     [Drivers32] bare = libdrvsample.so: loads and opens ({})",
            beside.display()
        )),
        "{out}"
    );

    let mut send = common::drvctl(&["--config", "rel.ini", "send", "bare", "DRV_QUERYCONFIGURE"]);
    send.current_dir(dir.path());
    let (code, out, err) = run(send);
    assert_eq!((code, out.as_str()), (0, "DRV_QUERYCONFIGURE answered 0 (0x0)\n"), "{err}");
}
