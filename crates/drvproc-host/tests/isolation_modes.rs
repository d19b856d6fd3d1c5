//! Which opens are hosted in a process of their own: the registry's marker of an
//! alias, an open's option and the manager's option, in that order of precedence;
//! and a file may have one module of each kind at once.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use drvproc::consts::*;
use drvproc_host::{DriverManager, ManagerOptions, OpenError, OpenOptions, take_hosted_failure};

fn options(t: &Trace) -> ManagerOptions {
    t.options().isolate(false).host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
}

/// Whether `instance` runs in a host process: a hosted module has no platform
/// handle in this process.
fn hosted(instance: &drvproc_host::Instance) -> bool {
    instance.manager().module_handle(instance.handle()).unwrap().is_none()
}

fn loads(t: &Trace) -> usize {
    t.records().iter().filter(|r| r.msg == DRV_LOAD).count()
}

#[test]
fn an_alias_marked_in_the_registry_is_hosted_with_the_manager_option_off() {
    let t = Trace::with(&[("SEGV", "DRV_USER")]);
    t.write_config(&format!("[Drivers32]\nvidc.trce={}\nmsacm.plain={}\n", t.path(), t.path()));
    let m = DriverManager::new(options(&t));
    assert!(!m.registry().unwrap().set_isolated("vidc.trce", true).unwrap());
    let marked = m.open("vidc.trce", None).unwrap();
    assert!(hosted(&marked));
    // The other alias of the same file is not marked: it is loaded here.
    let plain = m.open("msacm.plain", None).unwrap();
    assert!(!hosted(&plain));
    assert_eq!(loads(&t), 2, "one DRV_LOAD in the host, one here");
    // The crash is the host's, not ours.
    take_hosted_failure();
    // SAFETY: the trace driver reads no parameter of DRV_USER.
    assert_eq!(unsafe { marked.send(DRV_USER, 0, 0) }, Ok(0));
    let failure = take_hosted_failure().unwrap();
    assert!(
        failure.starts_with(&format!("driver {} died on DRV_USER+0: host process ", t.path())),
        "{failure}"
    );
    assert_eq!(plain.query_configure(), Ok(false));
}

#[test]
fn removing_the_marker_brings_the_next_load_back_into_the_process() {
    let t = Trace::new();
    t.write_config(&format!("[Drivers32]\nvidc.trce={}\n", t.path()));
    let m = DriverManager::new(options(&t));
    let registry = m.registry().unwrap();
    registry.set_isolated("vidc.trce", true).unwrap();
    let first = m.open("vidc.trce", None).unwrap();
    assert!(hosted(&first));
    assert!(registry.set_isolated("vidc.trce", false).unwrap());
    let second = m.open("vidc.trce", None).unwrap();
    assert!(!hosted(&second));
}

#[test]
fn an_open_option_overrides_the_marker_and_the_manager_option() {
    let t = Trace::new();
    t.write_config(&format!("[Drivers32]\nvidc.trce={}\n", t.path()));
    let m = DriverManager::new(options(&t).isolate(true));
    m.registry().unwrap().set_isolated("vidc.trce", true).unwrap();
    let here = m.open_with_options("vidc.trce", None, OpenOptions::new().isolate(false)).unwrap();
    assert!(!hosted(&here));
    let by_file = m.open_with_options(t.path(), None, OpenOptions::new().isolate(false)).unwrap();
    assert!(!hosted(&by_file));
    assert!(hosted(&m.open(t.path(), None).unwrap()), "the manager's option applies without one");
}

#[test]
fn a_file_has_one_module_per_kind_and_opens_share_it() {
    let t = Trace::new();
    let m = DriverManager::new(options(&t));
    let isolate = OpenOptions::new().isolate(true);
    let local = m.open(t.path(), None).unwrap();
    let hosted_1 = m.open_with_options(t.path(), None, isolate).unwrap();
    let hosted_2 = m.open_with_options(t.path(), None, isolate).unwrap();
    let local_2 = m.open(t.path(), None).unwrap();
    assert_eq!(
        [&local, &hosted_1, &hosted_2, &local_2].map(hosted),
        [false, true, true, false],
        "an isolated open of a file loaded here gets a hosted module of its own"
    );
    assert_eq!(loads(&t), 2, "one DRV_LOAD per module");
    drop((hosted_1, hosted_2));
    // The hosted module is unloaded; the one here lives on.
    assert_eq!(t.records().iter().filter(|r| r.msg == DRV_FREE).count(), 1);
    assert_eq!(local_2.query_configure(), Ok(false));
}

#[test]
fn isolation_asked_for_what_cannot_be_hosted_is_refused() {
    let t = Trace::new();
    t.write_config("[Drivers32]\nvidc.bare=libdrvproc-no-such-driver.so\n");
    let m = DriverManager::new(options(&t));
    m.registry().unwrap().set_isolated("vidc.bare", true).unwrap();
    let err = m.open("vidc.bare", None).unwrap_err();
    assert!(matches!(err, OpenError::CannotIsolate { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "vidc.bare: cannot be hosted in a process of its own: its file is neither named by a path nor \
         found on the search path, and a host process loads drivers by path only"
    );
    extern "system" fn proc_(_: usize, _: drvproc::Hdrvr, _: u32, _: isize, _: isize) -> isize {
        1
    }
    m.register_function("fn.drv", proc_).unwrap();
    let err = m.open_with_options("fn.drv", None, OpenOptions::new().isolate(true)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "fn.drv: cannot be hosted in a process of its own: it is a function registered in this program"
    );
}
