//! Host groups: driver files that share one host process when the manager says so
//! (`ManagerOptions::host_group`) or their aliases' markers do (`group:NAME` in the
//! registry file's `[drvproc.isolate]`). Each driver still sees its own lifecycle;
//! they share the host's fate; a module closed for good is unmapped from the host
//! while the others go on.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use drvproc::consts::*;
use drvproc_host::{BadHandle, DriverManager, Isolation, ManagerOptions, take_hosted_failure};

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

/// Three driver files registered as `vidc.a`, `vidc.b` and `vidc.c` in the first
/// one's registry file, with `markers` as its `[drvproc.isolate]` section.
fn three_aliases(markers: &str) -> [Trace; 3] {
    let traces = [Trace::new(), Trace::new(), Trace::new()];
    let [a, b, c] = &traces;
    a.write_config(&format!(
        "[Drivers32]\nvidc.a={}\nvidc.b={}\nvidc.c={}\n[drvproc.isolate]\n{markers}",
        a.path(),
        b.path(),
        c.path()
    ));
    traces
}

#[test]
fn aliases_marked_with_one_group_share_a_host_and_one_marked_on_has_its_own() {
    let [a, b, c] = three_aliases("vidc.a=group:codecs\nvidc.b=GROUP: codecs \nvidc.c=1\n");
    // The manager neither isolates nor groups: the markers alone do.
    let m = DriverManager::new(a.options().isolate(false).host_program(env!("CARGO_BIN_EXE_drvproc-hostd")));
    let opened = ["vidc.a", "vidc.b", "vidc.c"].map(|alias| m.open(alias, None).unwrap());
    let [ha, hb, hc] = [&a, &b, &c].map(|t| hosts_of(t.path()));
    assert_eq!(ha.len(), 1, "vidc.a is hosted: {ha:?}");
    assert_eq!(hb, ha, "one host process serves the group's two files");
    assert_eq!(hc.len(), 1, "vidc.c is hosted: {hc:?}");
    assert_ne!(hc, ha, "the alias marked 1 has a host of its own");
    for i in &opened {
        assert_eq!(i.query_configure(), Ok(false));
    }
    drop(opened);
    for t in [&a, &b, &c] {
        let lifecycle = t.take();
        assert_eq!(lifecycle.first().map(String::as_str), Some("DRV_LOAD(0x0, H1, 0, 0) -> 0x1"));
        assert_eq!(lifecycle.last().map(String::as_str), Some("DRV_FREE(0x0, H1, 0, 0) -> 0x1"));
    }
}

#[test]
fn a_markers_group_overrides_the_managers() {
    let [a, b, c] = three_aliases("vidc.a=group:video\nvidc.c=group:video\n");
    let m = grouped(a.options());
    let registry = m.registry().unwrap();
    assert_eq!(registry.isolation("vidc.a").unwrap(), Isolation::Group("video".into()));
    let opened = ["vidc.a", "vidc.b", "vidc.c"].map(|alias| m.open(alias, None).unwrap());
    let [ha, hb, hc] = [&a, &b, &c].map(|t| hosts_of(t.path()));
    assert_eq!(ha.len(), 1, "{ha:?}");
    assert_eq!(hc, ha, "the marker's group serves both of its files");
    assert_eq!(hb.len(), 1, "the unmarked alias is in the manager's group: {hb:?}");
    assert_ne!(hb, ha, "the marker's group is not the manager's");
    // A file opened by its path is no alias: the manager's group hosts it.
    let d = Trace::new();
    let by_path = m.open(d.path(), None).unwrap();
    assert_eq!(hosts_of(d.path()), hb);
    drop((opened, by_path));
}

#[test]
fn a_file_hosted_already_keeps_its_host_whatever_the_markers_group() {
    let [a, b, _c] = three_aliases("vidc.a=group:codecs\nvidc.b=group:codecs\n");
    let m = DriverManager::new(a.options().isolate(true).host_program(env!("CARGO_BIN_EXE_drvproc-hostd")));
    let by_path = m.open(a.path(), None).unwrap();
    let own = hosts_of(a.path());
    assert_eq!(own.len(), 1, "{own:?}");
    // The same file through a marked alias: the module it has, not a second load.
    let by_alias = m.open("vidc.a", None).unwrap();
    assert_eq!(hosts_of(a.path()), own);
    assert_eq!(a.records().iter().filter(|r| r.msg == DRV_LOAD).count(), 1);
    // The group's host is started by its first file that is not hosted yet.
    let other = m.open("vidc.b", None).unwrap();
    let group = hosts_of(b.path());
    assert_eq!(group.len(), 1, "{group:?}");
    assert_ne!(group, own);
    drop((by_path, by_alias, other));
}
