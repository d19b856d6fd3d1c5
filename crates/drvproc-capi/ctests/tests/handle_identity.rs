//! Handles of libdrvproc's process-wide manager name its instances and nothing else:
//! they are not small integers that another manager in the process (a host program's
//! own `DriverManager`, or drvctl's) also hands out, so a driver linked with
//! `-ldrvproc` that sends to its own handle through the C ABI reaches its own
//!
//! instance, never another driver's.
//! Compiles its C client with the Unix C compiler: Unix only.
#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use drvproc::consts::*;
use drvproc_capi_tests::*;
use drvproc_host::{DriverManager, ManagerOptions};

/// What drivers/selfsend-c answers when DRV_USER + 1 reached its own instance.
const SELFSEND_MAGIC: isize = 0x5E1F;

#[test]
fn the_first_handles_of_a_process_are_not_small_integers() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[]);
    let client = build_c_program("handles", dir.path());
    let mut cmd = Command::new(&client);
    cmd.arg(&trace.lib).arg("3").env_remove("DRVPROC_CONFIG").env_remove("DRVPROC_PATH");
    let run = run_with_timeout(cmd, Duration::from_secs(10));
    run.assert_success("the handles client");
    let handles: Vec<u64> = run
        .stdout
        .lines()
        .map(|l| {
            u64::from_str_radix(l.trim_start_matches("0x"), 16)
                .unwrap_or_else(|_| panic!("not a handle: {l}"))
        })
        .collect();
    assert_eq!(handles.len(), 3, "{}", run.stdout);
    let small: Vec<String> = handles.iter().filter(|&&h| h <= 0xFFFF).map(|h| format!("{h:#x}")).collect();
    assert!(
        small.is_empty(),
        "OpenDriver returned small integers as handles: {small:?} (all: {})",
        run.stdout
    );
}

#[test]
fn a_c_driver_sending_to_its_own_handle_through_the_c_abi_reaches_its_own_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (other, target) = selfsend_beside_trace(dir.path());
    // A manager of this program's own (not libdrvproc's), as a host application has.
    let m = DriverManager::new(ManagerOptions::new().config_path("/nonexistent-drvproc-test/system.ini"));
    // DRV_OPEN's args name the other driver, which the instance opens through
    // libdrvproc and keeps open while it lives.
    let instance = m.open(&target, None).expect("open selfsend");
    let (opened, handles) = other.messages();
    assert_eq!(opened.len(), 3, "the other driver is open: {opened:?}");
    // SAFETY: selfsend treats DRV_USER's parameters as numbers.
    let answer = unsafe { instance.send(DRV_USER, 0, 0) };
    let (messages, _) = other.messages();
    let stray: Vec<&String> = messages.iter().filter(|m| m.starts_with("DRV_USER")).collect();
    assert!(
        stray.is_empty(),
        "selfsend's message to its own handle {} reached the other driver's instance {}: {stray:?}",
        instance.handle(),
        handles[0]
    );
    assert_eq!(
        answer,
        Ok(SELFSEND_MAGIC),
        "SendDriverMessage({}, DRV_USER+1) from inside the driver did not reach its own instance",
        instance.handle()
    );
    instance.close().unwrap();
    let (messages, _) = other.messages();
    assert_eq!(messages, OTHER_OPENED_AND_CLOSED);
}
