//! `install`, `remove` and `configure` never leave the registry and the driver
//! disagreeing: what can be checked is checked before the driver hears of it, the
//! driver runs in a child process, and a write that fails after the driver agreed is
//! undone with the opposite message.
#![cfg(target_os = "linux")]

mod common;
mod diagnose_samples;

use std::os::unix::process::CommandExt;
use std::path::Path;

use common::{Scratch, path_str, run};
use diagnose_samples::trace_copy;

/// The message names the trace driver in `lib`'s directory logged, in order.
fn logged(lib: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(lib.with_file_name("log")).unwrap_or_default();
    log.lines().filter_map(|l| l.rsplit("# ").next().map(str::to_string)).collect()
}

#[test]
fn a_bad_alias_is_refused_before_the_driver_hears_of_it() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "LOG=log\n");
    let (code, out, err) = run(s.drvctl(&["install", "a=b", path_str(&lib)]));
    assert_eq!(code, 1, "{out}");
    assert_eq!(err, "drvctl: invalid alias \"a=b\": it contains '=', '[' or ']'\n");
    assert_eq!(logged(&lib), Vec::<String>::new(), "the driver was not asked");
    assert!(!s.config().exists());
}

#[test]
fn an_unwritable_registry_is_refused_before_the_driver_hears_of_it() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "LOG=log\n");
    // Not even root may create files in /proc/self.
    let mut cmd = common::drvctl(&["--config", "/proc/self/system.ini", "install", "a.b", path_str(&lib)]);
    cmd.current_dir(s.dir.path());
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/proc/self"), "the error names the directory: {err}");
    assert_eq!(logged(&lib), Vec::<String>::new(), "the driver was not asked");
}

#[test]
fn a_write_that_fails_after_the_driver_agreed_is_undone() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "LOG=log\n");
    // A registry larger than the process may write: the lock and the temporary file
    // succeed, the write of the new contents fails after DRV_INSTALL said yes.
    let filler = format!("; {}\n", "x".repeat(8192));
    s.write_config(&format!("{filler}[Drivers32]\n"));
    let before = s.read_config();
    let mut cmd = s.drvctl(&["install", "a.b", path_str(&lib)]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (code, out, err) = run(cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("the driver agreed, but the registry was not written"), "{err}");
    assert!(err.contains("DRV_REMOVE was sent to undo DRV_INSTALL (it answered 1)"), "{err}");
    let messages = logged(&lib);
    let install = messages.iter().position(|m| m == "DRV_INSTALL").expect("DRV_INSTALL sent");
    assert!(messages[install..].contains(&"DRV_REMOVE".to_string()), "{messages:?}");
    assert_eq!(s.read_config(), before, "the registry is unchanged");
}

#[test]
fn a_driver_that_exits_in_drv_install_is_reported_and_nothing_registered() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "EXIT=DRV_INSTALL:0\n");
    s.write_config("[Drivers32]\n");
    let (code, out, err) = run(s.drvctl(&["install", "a.b", path_str(&lib)]));
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "drvctl: a.b: the driver exited (status 0) during DRV_INSTALL; nothing was registered\n");
    assert_eq!(s.read_config(), "[Drivers32]\n");
}

#[test]
fn concurrent_installs_of_one_alias_register_it_once() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "");
    s.write_config("[Drivers32]\n");
    let children: Vec<_> = (0..6)
        .map(|n| {
            let mut cmd = s.drvctl(&["install", "same.alias", path_str(&lib), &format!("n={n}")]);
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let results: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let won = results.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "exactly one install wins");
    for lost in results.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&lost.stderr);
        assert!(err.contains("same.alias is already registered in [Drivers32]"), "{err}");
    }
    assert_eq!(s.read_config().matches("same.alias=").count(), 1);
}

#[test]
fn install_creates_the_registry_and_says_so_once() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "");
    let (code, out, err) = run(s.drvctl(&["install", "a.b", path_str(&lib)]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, format!("created the registry file {}\n", s.config().display()));
    assert!(out.starts_with("installed [Drivers32] a.b = "), "{out}");
    let (code, _, err) = run(s.drvctl(&["install", "c.d", path_str(&lib)]));
    assert_eq!((code, err.as_str()), (0, ""));

    // A --config in a directory that does not exist is not created silently.
    let missing = s.dir.path().join("typo").join("system.ini");
    let (code, _, err) =
        run(common::drvctl(&["--config", path_str(&missing), "install", "a.b", path_str(&lib)]));
    assert_eq!(code, 1);
    assert!(err.contains(&s.dir.path().join("typo").display().to_string()), "{err}");
    assert!(!missing.parent().unwrap().exists());
}

#[test]
fn a_crash_in_drv_remove_keeps_the_entry_unless_forced() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "ABORT=DRV_REMOVE\n");
    s.write_config(&format!("[Drivers32]\na.b={}\n", lib.display()));
    let (code, _, err) = run(s.drvctl(&["remove", "a.b"]));
    assert_eq!(code, 1);
    assert!(
        err.starts_with("drvctl: a.b: the driver crashed: killed by signal 6 (SIGABRT)")
            && err.contains("during DRV_REMOVE")
            && err.contains("the entry was kept (use --force to remove it anyway)"),
        "{err}"
    );
    assert!(s.read_config().contains("a.b="));
    let (code, out, _) = run(s.drvctl(&["remove", "a.b", "--force"]));
    assert_eq!(code, 0);
    assert!(out.contains("removed anyway, --force"), "{out}");
    assert_eq!(s.read_config(), "[Drivers32]\n");
}

#[test]
fn configure_runs_the_driver_in_a_child() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "EXIT=DRV_QUERYCONFIGURE:3\n");
    s.write_config(&format!("[Drivers32]\na.b={}\n", lib.display()));
    let (code, _, err) = run(s.drvctl(&["configure", "a.b"]));
    assert_eq!(code, 1);
    assert_eq!(err, "drvctl: a.b: the driver exited (status 3) during DRV_QUERYCONFIGURE\n");
}

#[test]
fn an_unknown_alias_is_named_once_and_a_missing_registry_said() {
    let s = Scratch::new();
    s.write_config("[Drivers32]\n");
    let (code, _, err) = run(s.drvctl(&["configure", "nosuch"]));
    assert_eq!(code, 1);
    assert!(err.starts_with("drvctl: nosuch: not found ("), "{err}");
    assert_eq!(err.matches("nosuch").count(), 1, "{err}");

    let missing = s.dir.path().join("nowhere.ini");
    for args in [&["configure", "nosuch"][..], &["send", "nosuch", "DRV_USER"], &["check", "nosuch"]] {
        let mut cmd = common::drvctl(&["--config", path_str(&missing)]);
        cmd.args(args);
        let (code, _, err) = run(cmd);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.trim_end().ends_with(&format!("; the registry file {} does not exist", missing.display())),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_zero_timeout_is_a_usage_error() {
    let s = Scratch::new();
    for args in [
        &["install", "a.b", "x.so", "--timeout", "0"][..],
        &["remove", "a.b", "--timeout", "0"],
        &["configure", "a.b", "--timeout", "0"],
    ] {
        let (code, out, err) = run(s.drvctl(args));
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert_eq!(err, "drvctl: --timeout must be at least 1 (seconds the driver may take)\n", "{args:?}");
    }
}
