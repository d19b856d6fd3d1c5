//! drvctl hosting a C driver linked with `-ldrvproc` that sends to its own handle
//! through the C ABI (drivers/selfsend-c): drvctl's manager and libdrvproc's
//! process-wide one live in one process, and the driver's message must reach its own
//! instance, never an instance of the other manager that happens to look alike.
//! The C driver is built with the host's C compiler: Unix only.
#![cfg(unix)]

mod common;

use common::*;
use drvproc_capi_tests::{OTHER_OPENED_AND_CLOSED, run_with_timeout, selfsend_beside_trace};

#[test]
fn drvctl_send_to_a_c_driver_that_sends_to_itself_through_the_c_abi() {
    let dir = tempfile::tempdir().unwrap();
    // The other driver, which selfsend opens through libdrvproc in its DRV_OPEN
    // (its args name it) and keeps open while its instance lives.
    let (other, target) = selfsend_beside_trace(dir.path());
    let run = run_with_timeout(
        drvctl(&["--config", "/nonexistent-drvproc-test/system.ini", "send", &target, "DRV_USER"]),
        std::time::Duration::from_secs(10),
    );
    let (code, out, err) = (run.status.and_then(|s| s.code()), run.stdout, run.stderr);
    let (messages, _) = other.messages();
    let stray: Vec<&String> = messages.iter().filter(|m| m.starts_with("DRV_USER")).collect();
    assert!(
        stray.is_empty(),
        "selfsend's message to its own handle reached the other driver: {stray:?}; drvctl said: {out}{err}"
    );
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "DRV_USER+0 answered 24095 (0x5e1f)\n"),
        "SendDriverMessage(hdrvr, DRV_USER+1) from inside the driver must reach its own instance; stderr: {err}"
    );
    assert_eq!(messages, OTHER_OPENED_AND_CLOSED);
}
