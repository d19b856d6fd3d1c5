//! Isolated hosting seen from the driver: the trace driver, opened by a manager
//! that hosts it in a `drvproc-hostd` process, receives exactly the messages, ids,
//! handles and arguments it receives in the application's own process, and its
//! answers come back unchanged.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use drvproc::consts::*;
use drvproc_host::DriverManager;

fn manager(t: &Trace, isolated: bool) -> DriverManager {
    DriverManager::new(t.options().isolate(isolated).host_program(env!("CARGO_BIN_EXE_drvproc-hostd")))
}

/// Two opens (one with arguments), a configuration query and a send to each, and
/// the closes: what the driver saw.
fn scenario(isolated: bool) -> Vec<String> {
    let t = Trace::with(&[("ANSWER", "DRV_QUERYCONFIGURE:1")]);
    let m = manager(&t, isolated);
    let a = m.open(t.path(), None).unwrap();
    let b = m.open(&format!("{} rate=8000", t.path()), None).unwrap();
    assert!(a.query_configure().unwrap());
    assert!(b.query_configure().unwrap());
    // SAFETY: DRV_DISABLE's parameters are numbers (forwarded verbatim to an instance).
    assert_eq!(unsafe { b.send(DRV_DISABLE, 0, 0) }, Ok(1));
    drop(a);
    drop(b);
    drop(m);
    t.take()
}

#[test]
fn an_isolated_driver_sees_the_same_lifecycle_as_an_in_process_one() {
    let local = scenario(false);
    let hosted = scenario(true);
    assert_eq!(local.len(), 11, "{local:#?}");
    assert_eq!(hosted, local);
}

#[test]
fn a_file_that_is_not_a_driver_fails_the_open_in_the_hosts_words() {
    let t = Trace::new();
    let m = manager(&t, true);
    let bogus = t.dir.path().join("bogus.so");
    std::fs::write(&bogus, b"not a library").unwrap();
    let err = m.open(bogus.to_str().unwrap(), None).unwrap_err().to_string();
    assert!(err.contains("in its host process: cannot load"), "{err}");
}
