//! A C client of a driver hosted in a process of its own, through libdrvproc with
//! no change to the client: a crash in the driver is a 0 from `SendDriverMessage`
//! or `CloseDriver` (a NULL from `OpenDriver`) whose `drvproc_last_error()` names
//! the driver, the message and the death; the handle is then invalid and the client
//! lives on. Isolation comes
//! from `DRVPROC_ISOLATE=1`, or from the registry's marker of the alias.
//!
//! Host processes exist on Linux only.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use drvproc_capi_tests::*;

/// Runs `c/isolated.c` on `name` (`send` or `close` scenario) with `env`, and
/// returns what it printed.
fn run_client(dir: &Path, name: &str, scenario: &str, env: &[(&str, &Path)]) -> String {
    let client = build_c_program("isolated", dir);
    let mut cmd = Command::new(&client);
    cmd.arg(name)
        .arg(scenario)
        .env_remove("DRVPROC_CONFIG")
        .env_remove("DRVPROC_PATH")
        .env_remove("DRVPROC_ISOLATE")
        .env("DRVPROC_HOSTD", env!("CARGO_BIN_EXE_ctests-hostd"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run_with_timeout(cmd, Duration::from_secs(20));
    run.assert_success("the client of a crashing isolated driver");
    run.stdout
}

/// The lines `c/isolated.c send` prints, the variable parts (process id, handle)
/// replaced by what the caller passes.
fn check_send_scenario(out: &str, driver: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11, "{out}");
    assert_eq!(lines[..3], ["open: ok", "hosted: yes", "DRV_USER+1 -> 66"], "{out}");
    let died = format!("DRV_USER -> 0: driver {driver} died on DRV_USER+0: host process ");
    assert!(lines[3].starts_with(&died), "{out}");
    assert!(
        lines[3].ends_with(
            " was killed by SIGSEGV; its last output: drvtrace: crashing with a segmentation fault on \
             DRV_USER+0 as configured"
        ),
        "{out}"
    );
    // A later send fails as a bad handle, and says what made it one.
    let bad = lines[4].strip_prefix("DRV_USER+1 after -> 0: SendDriverMessage: bad driver handle ");
    let death = &lines[3]["DRV_USER -> 0: ".len()..];
    assert!(bad.is_some_and(|b| b.ends_with(&format!("; {death}"))), "{out}");
    let bad = lines[6].strip_prefix("CloseDriver after -> 0: CloseDriver: bad driver handle ");
    assert!(bad.is_some_and(|b| b.ends_with(&format!("; {death}"))), "{out}");
    assert_eq!(lines[5], "flags after -> 0", "{out}");
    assert_eq!(
        lines[7..],
        ["reopen: ok", "DRV_USER+1 reopened -> 66", "CloseDriver reopened -> 1", "alive"],
        "{out}"
    );
}

#[test]
fn a_crash_in_an_isolated_driver_is_a_zero_with_the_reason_drvproc_isolate() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("SEGV", "DRV_USER"), ("ANSWER", "DRV_USER+1:0x42")]);
    let out = run_client(dir.path(), trace.path(), "send", &[("DRVPROC_ISOLATE", Path::new("1"))]);
    check_send_scenario(&out, trace.path());
}

#[test]
fn a_crash_in_a_driver_whose_alias_is_marked_is_a_zero_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("SEGV", "DRV_USER"), ("ANSWER", "DRV_USER+1:0x42")]);
    let config = dir.path().join("system.ini");
    std::fs::write(
        &config,
        format!("[Drivers32]\nvidc.trce={}\n\n[drvproc.isolate]\nvidc.trce=1\n", trace.path()),
    )
    .unwrap();
    let out = run_client(dir.path(), "vidc.trce", "send", &[("DRVPROC_CONFIG", &config)]);
    check_send_scenario(&out, trace.path());
}

#[test]
fn a_crash_in_drv_close_makes_close_driver_answer_zero_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("SEGV", "DRV_CLOSE"), ("ANSWER", "DRV_USER+1:0x42")]);
    let out = run_client(dir.path(), trace.path(), "close", &[("DRVPROC_ISOLATE", Path::new("1"))]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[..3], ["open: ok", "hosted: yes", "DRV_USER+1 -> 66"], "{out}");
    let died = format!("CloseDriver -> 0: driver {} died on DRV_CLOSE: host process ", trace.path());
    assert!(lines[3].starts_with(&died), "{out}");
    assert!(lines[3].contains(" was killed by SIGSEGV"), "{out}");
    assert_eq!(lines[4..], ["flags after -> 0", "alive"], "{out}");
}

#[test]
fn a_crash_in_drv_open_makes_open_driver_answer_null_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let trace = TraceCopy::new(dir.path(), &[("SEGV", "DRV_OPEN")]);
    let out = run_client(dir.path(), trace.path(), "open", &[("DRVPROC_ISOLATE", Path::new("1"))]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let died = format!("open -> NULL: driver {} died on DRV_OPEN: host process ", trace.path());
    assert!(lines[0].starts_with(&died), "{out}");
    assert!(lines[0].contains(" was killed by SIGSEGV"), "{out}");
    assert_eq!(lines[1], "alive", "{out}");
}
