//! Running the real drvctl binary against the bundled drivers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A driver library cargo built beside the test binary.
pub fn lib(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A scratch directory with a registry file path (not created).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("system.ini")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    pub fn read_config(&self) -> String {
        std::fs::read_to_string(self.config()).unwrap_or_default()
    }

    /// `drvctl --config <this config> ARGS`, with a clean environment for drvproc.
    pub fn drvctl(&self, args: &[&str]) -> Command {
        // Global options first: `install`'s trailing ARGS take everything after FILE.
        let mut cmd = drvctl(&["--config", path_str(&self.config())]);
        cmd.args(args);
        cmd
    }
}

/// `drvctl ARGS` with the drvproc/drvtrace variables cleared.
pub fn drvctl(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drvctl"));
    cmd.args(args);
    for var in [
        "DRVPROC_CONFIG",
        "DRVPROC_PATH",
        "DRVTRACE_LOG",
        "DRVTRACE_SPAWNED",
        "DRVTRACE_ANSWER",
        "DRVTRACE_ABORT",
        "DRVTRACE_HANG",
        "DRVTRACE_PANIC",
        "DRVTRACE_SLEEP",
        "DRVTRACE_FAIL_OPEN",
        "DRVTRACE_LOAD",
        "DRVTRACE_SEGV",
        "DRVTRACE_EXIT",
        "DRVPROC_HOSTD",
        "DRVPROC_ISOLATE",
        "DRVPROC_SANDBOX",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs and returns (exit code, stdout, stderr).
pub fn run(mut cmd: Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("drvctl runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The message names in lines like `    driver got DRV_OPEN  id=...`, or trace lines.
pub fn messages(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("driver got ").unwrap_or(l);
            let name = l.split_whitespace().next()?;
            (name.starts_with("DRV_") && l.contains(" id=")).then(|| name.to_string())
        })
        .collect()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `doctor`'s text output without its isolation line (Linux), whose host program and
/// Landlock ABI depend on the machine (`tests/doctor_isolation.rs` checks it), which
/// must be there once, just before the last line.
pub fn without_isolation(out: &str) -> String {
    if !cfg!(target_os = "linux") {
        return out.to_string();
    }
    let lines: Vec<&str> = out.lines().collect();
    let at = lines.len().checked_sub(2).unwrap_or_else(|| panic!("no isolation line: {out}"));
    assert!(
        lines[at].starts_with("ok     isolation: ") || lines[at].starts_with("absent isolation: "),
        "no isolation line before the last: {out}"
    );
    let kept: Vec<&str> = lines.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, l)| *l).collect();
    format!("{}\n", kept.join("\n"))
}

/// `doctor --json`'s document without its `isolation` object (Linux), which must be
/// there.
pub fn without_isolation_json(mut v: serde_json::Value) -> serde_json::Value {
    if cfg!(target_os = "linux") {
        let isolation = v.as_object_mut().unwrap().remove("isolation");
        assert!(isolation.is_some_and(|i| i.is_object()), "no isolation object");
    }
    v
}
