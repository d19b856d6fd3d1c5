//! The manager's own suites, run again with every driver file hosted in a process
//! of its own (`DRVPROC_ISOLATE=1`): the sequences they assert must hold unchanged.
//!
//! Each suite is its own test binary, built by the same `cargo test` before any
//! test runs; this runs the newest build of each beside this one. (Run alone with
//! `--test isolation_suites`, it would run suites built before the last change:
//! a suite that speaks an older channel than the host program then fails, it does
//! not pass by mistake.) What isolation
//! changes by design is skipped, by name, with the reason.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The suites, with the tests that cannot hold for an isolated driver.
const SUITES: &[(&str, &[(&str, &str)])] = &[
    ("lifecycle", &[]),
    ("thread_teardown", &[]),
    ("stress", &[]),
    ("close_race", &[]),
    ("deferred_close", &[]),
    ("cross_close", &[]),
    ("handles", &[]),
    ("failure_paths", &[]),
    ("reentrancy", &[]),
    ("registry", &[]),
    ("routing", &[]),
    ("callback", &[]),
    ("tracing_spans", &[]),
    (
        "resolution",
        &[(
            "one_module_whatever_name_opened_it",
            "GetDriverModuleHandle is NULL for an isolated driver: its module is mapped in the host",
        )],
    ),
];

/// The newest build of this package's test `suite` in this binary's directory:
/// named `suite-HASH`, and built from this package's `tests/suite.rs`, as its
/// dependency file says (another package of the workspace may have a test of the
/// same name, built into the same directory).
fn suite_binary(dir: &Path, suite: &str) -> PathBuf {
    let prefix = format!("{suite}-");
    // Dependency files name sources from the workspace's root: match this
    // package's directory and the test's path in it.
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).file_name().unwrap().to_string_lossy().into_owned();
    let source = format!("{package}/tests/{suite}.rs");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix).is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter(|e| {
            let deps = e.path().with_extension("d");
            std::fs::read_to_string(deps).is_ok_and(|d| d.contains(&source))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
        .unwrap_or_else(|| panic!("no test binary {suite}-* in {}", dir.display()))
}

#[test]
fn the_manager_suites_hold_with_every_driver_isolated() {
    run_suites(&[("DRVPROC_ISOLATE", "1")]);
}

#[test]
fn the_manager_suites_hold_with_the_drivers_in_one_host_group() {
    run_suites(&[("DRVPROC_ISOLATE", "1"), ("DRVPROC_HOST_GROUP", "suites")]);
}

fn run_suites(env: &[(&str, &str)]) {
    let me = std::env::current_exe().unwrap();
    let dir = me.parent().unwrap();
    let mut failed = Vec::new();
    for (suite, skips) in SUITES {
        let binary = suite_binary(dir, suite);
        let mut command = Command::new(&binary);
        command
            .envs(env.iter().copied())
            .env("DRVPROC_HOSTD", env!("CARGO_BIN_EXE_drvproc-hostd"))
            .arg("--test-threads=2");
        for (name, _why) in *skips {
            command.args(["--skip", name]);
        }
        let out = command.output().unwrap();
        if !out.status.success() {
            failed.push(format!(
                "{suite} ({}): {}\n{}\n{}",
                binary.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "suites failing with {env:?}:\n{}", failed.join("\n"));
}
