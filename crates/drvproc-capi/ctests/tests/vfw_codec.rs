//! A C client drives the RLE8 video codec driver through libdrvproc with the VfW
//! structures of `drvproc.h`, as msvfw32 would: a keyframe and a delta frame
//! compress and decompress back to their input. Unix only (the platform C compiler).
#![cfg(unix)]

use std::process::Command;

use drvproc_capi_tests::*;

#[test]
fn a_c_client_compresses_and_decompresses_through_the_rle8_driver() {
    let dir = tempfile::tempdir().unwrap();
    let client = build_c_program("vfw_rle8", dir.path());
    let mut cmd = Command::new(&client);
    cmd.arg(built(&dylib("drvrle8"))).env("DRVPROC_CONFIG", "/nonexistent/drvproc-test/system.ini");
    let printed = String::from_utf8(run(cmd).stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "ICM_GETINFO -> 568, handler MRLE");
    assert_eq!(lines[1], "output format size: 1064");
    assert!(lines[2].starts_with("frame 0: keyframe, "), "{printed}");
    assert!(lines[3].starts_with("frame 1: delta, "), "{printed}");
    assert_eq!(
        lines[4..],
        ["frame 0 decompressed to the input: yes", "frame 1 decompressed to the input: yes"]
    );
}
