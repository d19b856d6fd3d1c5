//! Containment: a hosted driver that crashes, aborts, exits or hangs in any message
//! fails that message (0, and the reason as this thread's hosted failure), every
//! handle of its module becomes invalid, and the application, its other modules and
//! the next open of the same file go on working.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use drvproc::consts::*;
use drvproc_host::{BadHandle, DriverManager, take_hosted_failure};

fn isolated(t: &Trace, timeout: Duration) -> DriverManager {
    DriverManager::new(
        t.options().isolate(true).host_program(env!("CARGO_BIN_EXE_drvproc-hostd")).host_timeout(timeout),
    )
}

/// Sends `msg` with integer parameters.
fn send(m: &DriverManager, h: drvproc::Hdrvr, msg: u32) -> Result<isize, BadHandle> {
    // SAFETY: the trace driver reads no parameter of these messages.
    unsafe { m.send(h, msg, 0, 0) }
}

/// The failure of the last hosted call on this thread, which must be there.
fn failure() -> String {
    take_hosted_failure().expect("a hosted failure was recorded")
}

/// A driver file's crash on `msg` sent after the open: the send answers 0 within a
/// second, the failure names the driver, the message and the death, the handle is
/// then invalid, and a new open of the same file works.
fn dies_on_a_message(setting: (&str, &str), msg: u32, death: &str) {
    let t = Trace::with(&[setting]);
    let m = isolated(&t, Duration::from_secs(20));
    let h = m.open(t.path(), None).unwrap().into_raw();
    take_hosted_failure();
    let start = Instant::now();
    assert_eq!(send(&m, h, msg), Ok(0));
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    let text = failure();
    let name = drvproc::message_name(msg);
    assert!(text.starts_with(&format!("driver {} died on {name}: host process ", t.path())), "{text}");
    assert!(text.contains(death), "{text}");
    assert_eq!(send(&m, h, DRV_QUERYCONFIGURE), Err(BadHandle(h)), "the handle is invalid after the death");
    assert_eq!(drvproc_host::death_of(h), Some(text.clone()), "the handle's death is remembered");
    assert!(m.close(h).is_err());
    // The next open starts a new host, which serves as before (it crashes only on `msg`).
    let again = m.open(t.path(), None).unwrap();
    assert_eq!(again.query_configure(), Ok(false));
    assert_eq!(take_hosted_failure(), None);
}

#[test]
fn a_segfault_in_a_custom_message_fails_that_message_only() {
    dies_on_a_message(("SEGV", "DRV_USER"), DRV_USER, "was killed by SIGSEGV");
}

#[test]
fn an_abort_is_reported_with_the_drivers_last_words() {
    dies_on_a_message(
        ("ABORT", "DRV_USER+1"),
        DRV_USER + 1,
        "was killed by SIGABRT; its last output: drvtrace: aborting on DRV_USER+1 as configured",
    );
}

#[test]
fn exit_0_inside_a_message_is_a_death_too() {
    dies_on_a_message(("EXIT", "DRV_USER:0"), DRV_USER, "exited with status 0");
}

#[test]
fn a_hung_message_is_killed_at_the_timeout() {
    let t = Trace::with(&[("HANG", "DRV_USER")]);
    let m = isolated(&t, Duration::from_millis(300));
    let h = m.open(t.path(), None).unwrap().into_raw();
    let start = Instant::now();
    assert_eq!(send(&m, h, DRV_USER), Ok(0));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1300), "took {took:?}");
    let text = failure();
    assert!(text.contains("was killed: DRV_USER+0 took longer than 300ms"), "{text}");
    assert_eq!(send(&m, h, DRV_QUERYCONFIGURE), Err(BadHandle(h)));
}

#[test]
fn a_driver_flooding_its_output_is_killed_at_the_timeout_and_its_output_kept_short() {
    let t = Trace::with(&[("FLOOD", "DRV_USER")]);
    let m = isolated(&t, Duration::from_millis(500));
    let h = m.open(t.path(), None).unwrap().into_raw();
    assert_eq!(send(&m, h, DRV_USER), Ok(0));
    let text = failure();
    assert!(text.contains("was killed: DRV_USER+0 took longer than 500ms"), "{text}");
    assert!(text.len() < 1000, "{} bytes", text.len());
}

#[test]
fn a_crash_on_load_fails_the_open_and_the_next_open_tries_again() {
    let t = Trace::with(&[("ABORT", "DRV_LOAD")]);
    let m = isolated(&t, Duration::from_secs(20));
    let err = m.open(t.path(), None).unwrap_err().to_string();
    assert!(err.contains("died on DRV_LOAD"), "{err}");
    let err = m.open(t.path(), None).unwrap_err().to_string();
    assert!(err.contains("died on DRV_LOAD"), "a new host each time: {err}");
}

#[test]
fn a_crash_on_open_fails_the_open() {
    let t = Trace::with(&[("SEGV", "DRV_OPEN")]);
    let m = isolated(&t, Duration::from_secs(20));
    let err = m.open(t.path(), None).unwrap_err().to_string();
    assert!(err.contains("died on DRV_OPEN"), "{err}");
}

#[test]
fn a_crash_on_close_or_free_still_closes() {
    for (setting, msg) in [("DRV_CLOSE", DRV_CLOSE), ("DRV_FREE", DRV_FREE)] {
        let t = Trace::with(&[("SEGV", setting)]);
        let m = isolated(&t, Duration::from_secs(20));
        let h = m.open(t.path(), None).unwrap().into_raw();
        take_hosted_failure();
        assert_eq!(m.close(h), Ok(()));
        let text = failure();
        // The death is what the caller hears of, not the unload messages the dead
        // module then answers with 0.
        let died = format!("driver {} died on {}: host process ", t.path(), drvproc::message_name(msg));
        assert!(text.starts_with(&died), "{text}");
        assert_eq!(send(&m, h, DRV_QUERYCONFIGURE), Err(BadHandle(h)));
        let again = m.open(t.path(), None).unwrap();
        assert_eq!(again.query_configure(), Ok(false));
    }
}

#[test]
fn other_modules_and_instances_of_other_files_keep_working() {
    let bad = Trace::with(&[("SEGV", "DRV_USER")]);
    let good = Trace::new();
    let m = isolated(&bad, Duration::from_secs(20));
    let g = m.open(good.path(), None).unwrap();
    let b1 = m.open(bad.path(), None).unwrap().into_raw();
    let b2 = m.open(bad.path(), None).unwrap().into_raw();
    assert_eq!(send(&m, b1, DRV_USER), Ok(0));
    assert_eq!(send(&m, b2, DRV_QUERYCONFIGURE), Err(BadHandle(b2)), "every handle of the dead module");
    assert_eq!(g.query_configure(), Ok(false));
}

/// The host process that has `driver` mapped, among this process's children.
fn host_of(driver: &str) -> u32 {
    *hosts_of(driver).first().expect("the driver's host process")
}

#[test]
fn a_host_killed_while_idle_is_replaced_at_the_next_open_and_blamed_on_no_message() {
    let t = Trace::new();
    let m = isolated(&t, Duration::from_secs(20));
    let h = m.open(t.path(), None).unwrap().into_raw();
    let pid = host_of(t.path());
    // SAFETY: kill(2) takes integers; `pid` is our own child, alive (found just now).
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    // The next open starts a new host instead of failing on the dead one.
    let again = m.open(t.path(), None).unwrap();
    assert_eq!(again.query_configure(), Ok(false));
    assert_ne!(host_of(t.path()), pid);
    // The old handle's next message finds the death, and does not claim it happened in it.
    take_hosted_failure();
    assert_eq!(send(&m, h, DRV_QUERYCONFIGURE), Ok(0));
    let text = failure();
    assert!(
        text.starts_with(&format!(
            "driver {} had died before DRV_QUERYCONFIGURE: host process {pid} was killed by SIGKILL",
            t.path()
        )),
        "{text}"
    );
    assert_eq!(send(&m, h, DRV_QUERYCONFIGURE), Err(BadHandle(h)));
}
