//! Nothing is ever loaded from the current directory by a bare name: relative search
//! locations are ignored, and a relative path in the registry is relative to the
//! registry file. Tests that need a current directory run in a child process of
//! this test binary, so no test changes the directory of the others.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Trace, built_trace_driver, trace_file_name};
#[cfg(unix)]
use drvproc_host::Registry;
use drvproc_host::{DriverManager, ManagerOptions, OpenError};

/// The name of the planted copies: not the trace driver's own name, which the
/// platform loader finds through the `LD_LIBRARY_PATH` cargo sets for tests.
const PLANTED: &str = "libdrvproc-planted.so";

/// Puts a working copy of the trace driver in `dir` (created), as [`PLANTED`].
fn plant(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let lib = dir.join(PLANTED);
    std::fs::copy(built_trace_driver(), &lib).unwrap();
    std::fs::write(dir.join("drvtrace.env"), "LOG=trace.log\n").unwrap();
    lib
}

/// Runs the ignored test `name` of this binary in `cwd` with `env` (every other
/// drvproc, XDG and HOME variable removed) and returns what it logged; fails with
/// its output if it fails.
fn run_child(name: &str, cwd: &Path, env: &[(&str, &OsStr)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"]).current_dir(cwd);
    for var in ["DRVPROC_CONFIG", "DRVPROC_PATH", "XDG_CONFIG_HOME", "HOME"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
    stderr
}

/// In a child: the default configuration and its directory, and whether a bare name
/// finds the driver planted below the current directory.
/// XDG_CONFIG_HOME and HOME place the default configuration on Unix only.
#[cfg(unix)]
#[test]
#[ignore = "run in a child by the tests below"]
fn child_bare_name_from_the_default_locations() {
    let subscriber =
        tracing_subscriber::fmt().with_ansi(false).without_time().with_writer(std::io::stderr).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let expected = std::env::var_os("EXPECT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    assert_eq!(Registry::default_path(), expected);
    let m = DriverManager::new(ManagerOptions::default());
    let err = m.open(PLANTED, None).map(drop).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn relative_config_homes_are_ignored() {
    let cwd = tempfile::tempdir().unwrap();
    plant(&cwd.path().join("rel/drvproc"));
    plant(&cwd.path().join("relhome/.config/drvproc"));
    let log = run_child(
        "child_bare_name_from_the_default_locations",
        cwd.path(),
        &[
            ("XDG_CONFIG_HOME", OsStr::new("rel")),
            ("HOME", OsStr::new("/nonexistent-drvproc-home")),
            ("EXPECT_CONFIG", OsStr::new("/nonexistent-drvproc-home/.config/drvproc/system.ini")),
        ],
    );
    assert!(log.contains("ignoring XDG_CONFIG_HOME=rel: not an absolute path"), "{log}");
    let log = run_child(
        "child_bare_name_from_the_default_locations",
        cwd.path(),
        &[("HOME", OsStr::new("relhome")), ("EXPECT_CONFIG", OsStr::new(""))],
    );
    assert!(log.contains("ignoring HOME=relhome: not an absolute path"), "{log}");
}

/// In a child: relative search directories and a relative configuration directory
/// find nothing, and say so.
#[test]
#[ignore = "run in a child by relative_search_locations_are_ignored"]
fn child_relative_search_locations() {
    let cwd = std::env::current_dir().unwrap();
    let f = PLANTED;
    let said = format!("dlopen failed: {f}: cannot open shared object file: No such file or directory");
    let from_env =
        DriverManager::new(ManagerOptions::new().config_path("/nonexistent-drvproc-test/system.ini"));
    let from_options =
        DriverManager::new(ManagerOptions::new().config_path("conf/system.ini").search_path(["opt", "/a"]));
    for (m, expected) in [
        (
            from_env,
            format!(
                "{f}: not found (as a file in /nonexistent-drvproc-test (searched \
                 DRVPROC_PATH, config dir, system library path; {said}); no alias in [Drivers32] of \
                 /nonexistent-drvproc-test/system.ini)"
            ),
        ),
        (
            from_options,
            format!(
                "{f}: not found (as a file in /a (searched DRVPROC_PATH, system library path; {said}); no alias in \
                 [Drivers32] of conf/system.ini)"
            ),
        ),
    ] {
        assert_eq!(m.locate_file(f), None);
        let err = m.open(f, None).map(drop).unwrap_err();
        assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
        // Word for word where the locations above are absolute and dlopen speaks.
        if cfg!(unix) {
            assert_eq!(err.to_string(), expected);
        }
    }
    // The relative registry file itself is read, as the caller named it.
    let m = DriverManager::new(ManagerOptions::new().config_path("conf/system.ini"));
    let i = m.open("planted", None).unwrap();
    assert_eq!(m.module_path(i.handle()).unwrap(), Some(cwd.join("abs").join(f)));
}

#[test]
fn relative_search_locations_are_ignored() {
    let cwd = tempfile::tempdir().unwrap();
    for dir in ["env", "opt", "conf"] {
        plant(&cwd.path().join(dir));
    }
    let absolute = plant(&cwd.path().join("abs"));
    std::fs::write(
        cwd.path().join("conf/system.ini"),
        format!("[drivers32]\nplanted={}\n", absolute.display()),
    )
    .unwrap();
    let path = std::env::join_paths(["env", "/nonexistent-drvproc-test"]).unwrap();
    run_child("child_relative_search_locations", cwd.path(), &[("DRVPROC_PATH", &path)]);
}

#[test]
fn relative_registry_paths_are_relative_to_the_registry_file() {
    let t = Trace::new();
    let sub = t.dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(&t.lib, sub.join(trace_file_name())).unwrap();
    std::fs::write(sub.join("drvtrace.env"), format!("LOG={}\n", t.log.display())).unwrap();
    t.write_config(&format!(
        "[drivers32]\nsub=sub/{f} a b\ndot=./{f}\nup=../{d}/sub/{f}\n",
        f = trace_file_name(),
        d = t.dir.path().file_name().unwrap().to_str().unwrap()
    ));
    let m = DriverManager::new(
        ManagerOptions::new().config_path(t.config_path()).search_path(Vec::<PathBuf>::new()),
    );
    let a = m.open("sub", None).unwrap();
    assert_eq!(t.take()[2], "DRV_OPEN(0x0, H1, \"a b\", 0) -> 0x1001");
    assert_eq!(m.module_path(a.handle()).unwrap(), Some(sub.join(trace_file_name())));
    let b = m.open("dot", None).unwrap();
    assert_eq!(m.module_path(b.handle()).unwrap(), Some(t.dir.path().join(".").join(trace_file_name())));
    let c = m.open("up", None).unwrap();
    assert_eq!(c.module_handle().unwrap(), a.module_handle().unwrap(), "the same library, one module");
    // A path given to open() directly stays relative to the current directory.
    let err = m.open(&format!("sub/{}", trace_file_name()), None).map(drop).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
    // The rule, as the registry states it for tools that report on entries.
    let registry = m.registry().unwrap();
    assert_eq!(registry.entry_path("sub/x.so"), Some(t.dir.path().join("sub/x.so")));
    // Absolute as the platform has it (on Windows, "/abs" is relative to a drive).
    let absolute = if cfg!(windows) { r"C:\abs\x.so" } else { "/abs/x.so" };
    assert_eq!(registry.entry_path(absolute), Some(PathBuf::from(absolute)));
    assert_eq!(registry.entry_path("x.so"), None, "bare names are searched for");
}
