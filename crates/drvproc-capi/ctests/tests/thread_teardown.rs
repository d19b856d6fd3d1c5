//! A C client that closes its driver handle from a `pthread_key_create` destructor,
//! when the thread that opened the handle exits: the process survives, the driver
//! gets `DRV_CLOSE`, `DRV_DISABLE`, `DRV_FREE` in that order, and the next open
//!
//! loads the module again.
//! pthread destructors, compiled with the Unix C compiler: Unix only.
#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use drvproc_capi_tests::*;

#[test]
fn a_handle_closed_from_a_pthread_key_destructor_gets_the_full_close_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("ANSWER", "DRV_USER:0x42")]);
    let client = build_c_program("teardown", dir.path());
    let mut cmd = Command::new(&client);
    cmd.arg(&trace.lib).env_remove("DRVPROC_CONFIG").env_remove("DRVPROC_PATH");
    let run = run_with_timeout(cmd, Duration::from_secs(10));
    run.assert_success("the client closing its handle from a key destructor");
    assert_eq!(
        run.stdout, "send -> 66\nclose from a key destructor -> 1\nreopen: ok\nclose -> 1\n",
        "stderr:\n{}",
        run.stderr
    );
    let (messages, _) = trace.messages();
    assert_eq!(
        messages,
        [
            "DRV_LOAD(0x0, H1) -> 0x1",
            "DRV_ENABLE(0x0, H1) -> 0x1",
            "DRV_OPEN(0x0, H1) -> 0x1001",
            "DRV_USER+0(0x1001, H1) -> 0x42",
            "DRV_CLOSE(0x1001, H1) -> 0x1",
            "DRV_DISABLE(0x0, H1) -> 0x1",
            "DRV_FREE(0x0, H1) -> 0x1",
            // The reopen after the thread was joined: a new load.
            "DRV_LOAD(0x0, H2) -> 0x1",
            "DRV_ENABLE(0x0, H2) -> 0x1",
            "DRV_OPEN(0x0, H2) -> 0x1001",
            "DRV_CLOSE(0x1001, H2) -> 0x1",
            "DRV_DISABLE(0x0, H2) -> 0x1",
            "DRV_FREE(0x0, H2) -> 0x1",
        ]
    );
}
