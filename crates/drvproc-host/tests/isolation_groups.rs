//! Host groups: driver files that share one host process when the manager says so
//! (`ManagerOptions::host_group`). Each driver still sees its own lifecycle; they
//! share the host's fate; a module closed for good is unmapped from the host while
//! the others go on.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use drvproc::consts::*;
use drvproc_host::{BadHandle, DriverManager, ManagerOptions, take_hosted_failure};

fn grouped(options: ManagerOptions) -> DriverManager {
    DriverManager::new(
        options
            .isolate(true)
            .host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
            .host_timeout(Duration::from_secs(20))
            .host_group("codecs"),
    )
}

/// Sends `msg` with integer parameters.
fn send(m: &DriverManager, h: drvproc::Hdrvr, msg: u32) -> Result<isize, BadHandle> {
    // SAFETY: the trace driver reads no parameter of these messages.
    unsafe { m.send(h, msg, 0, 0) }
}

#[test]
fn two_drivers_of_a_group_share_one_host_and_each_sees_its_own_lifecycle() {
    let (a, b) = (Trace::new(), Trace::new());
    let m = grouped(a.options());
    let ia = m.open(a.path(), None).unwrap();
    let ib = m.open(b.path(), None).unwrap();
    assert_eq!(ia.query_configure(), Ok(false));
    assert_eq!(ib.query_configure(), Ok(false));
    let (ha, hb) = (hosts_of(a.path()), hosts_of(b.path()));
    assert_eq!(ha.len(), 1, "{ha:?}");
    assert_eq!(ha, hb, "one host process serves both");
    assert_eq!(m.loaded_module_count(), 2);
    drop(ia);
    // A's module is closed for good: unmapped from the host, which goes on with B.
    assert!(hosts_of(a.path()).is_empty(), "the first driver is unmapped from the shared host");
    assert_eq!(hosts_of(b.path()), hb);
    assert_eq!(ib.query_configure(), Ok(false));
    drop(ib);
    let expected = |queries: usize| {
        let mut seq = strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
        ]);
        seq.extend((0..queries).map(|_| "DRV_QUERYCONFIGURE(0x1001, H1, 0, 0) -> 0x0".to_string()));
        seq.extend(strings(&[
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ]));
        seq
    };
    assert_eq!(a.take(), expected(1));
    assert_eq!(b.take(), expected(2));
}

#[test]
fn a_crash_in_one_driver_of_a_group_ends_the_group_and_the_next_opens_start_a_new_host() {
    let a = Trace::with(&[("SEGV", "DRV_USER")]);
    let b = Trace::new();
    let m = grouped(a.options());
    let ha = m.open(a.path(), None).unwrap().into_raw();
    let hb = m.open(b.path(), None).unwrap().into_raw();
    let host = hosts_of(b.path());
    take_hosted_failure();
    assert_eq!(send(&m, ha, DRV_USER), Ok(0));
    let text = take_hosted_failure().unwrap();
    assert!(text.contains(&format!("driver {} died on DRV_USER+0", a.path())), "{text}");
    // B's host was A's: B's next message finds it gone, and says so.
    assert_eq!(send(&m, hb, DRV_QUERYCONFIGURE), Ok(0));
    let text = take_hosted_failure().unwrap();
    assert!(text.starts_with(&format!("driver {} had died before DRV_QUERYCONFIGURE", b.path())), "{text}");
    assert_eq!(send(&m, hb, DRV_QUERYCONFIGURE), Err(BadHandle(hb)));
    let (ia, ib) = (m.open(a.path(), None).unwrap(), m.open(b.path(), None).unwrap());
    assert_eq!(ib.query_configure(), Ok(false));
    let again = hosts_of(b.path());
    assert_eq!(again.len(), 1);
    assert_ne!(again, host);
    assert_eq!(hosts_of(a.path()), again, "the new host serves the group again");
    drop((ia, ib));
}
