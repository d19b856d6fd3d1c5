//! Test harness: private copies of the trace driver, their logs, and managers
//! configured to find them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use drvproc::{Hdrvr, message_name};
use drvproc_host::{DriverManager, ManagerOptions};

/// File name of the trace driver on this platform.
pub fn trace_file_name() -> String {
    format!("{}drvtrace{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// The trace driver cargo built beside this test binary.
pub fn built_trace_driver() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe.parent().expect("test binary directory").join(trace_file_name());
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// One message as the trace driver recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub msg: u32,
    pub id: usize,
    pub h: usize,
    pub l1: isize,
    pub args: Option<String>,
    pub l2: isize,
    pub ret: isize,
}

impl Record {
    fn parse(line: &str) -> Record {
        let body = line.split(" # ").next().unwrap();
        let field = |key: &str| -> &str {
            let start =
                body.find(&format!("{key}=")).unwrap_or_else(|| panic!("no {key} in {line}")) + key.len() + 1;
            let rest = &body[start..];
            if key == "args" && rest.starts_with('"') {
                // Debug-quoted string: up to the closing quote not preceded by '\'.
                let bytes = rest.as_bytes();
                let mut i = 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                &rest[..=i]
            } else {
                rest.split(' ').next().unwrap()
            }
        };
        let num = |key: &str| -> i128 {
            let v = field(key);
            match v.strip_prefix("0x") {
                Some(hex) => i128::from_str_radix(hex, 16).unwrap(),
                None => v.parse().unwrap(),
            }
        };
        let args = match field("args") {
            "-" => None,
            quoted => Some(unescape(&quoted[1..quoted.len() - 1])),
        };
        Record {
            msg: num("msg") as u32,
            id: num("id") as usize,
            h: num("h") as usize,
            l1: num("l1") as isize,
            args,
            l2: num("l2") as isize,
            ret: num("ret") as isize,
        }
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A private copy of the trace driver in its own directory, with its settings file,
/// log, and a `system.ini` in the same directory.
pub struct Trace {
    pub dir: tempfile::TempDir,
    pub lib: PathBuf,
    pub log: PathBuf,
    /// Handle values in order of first appearance, kept across `take` calls.
    seen: std::cell::RefCell<Vec<usize>>,
    /// Bytes of the log already returned by `take` (the driver keeps appending).
    consumed: std::cell::Cell<usize>,
}

impl Trace {
    /// A copy answering by default.
    pub fn new() -> Trace {
        Trace::with(&[])
    }

    /// A copy with these `KEY=VALUE` settings (see drivers/trace).
    pub fn with(settings: &[(&str, &str)]) -> Trace {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join(trace_file_name());
        std::fs::copy(built_trace_driver(), &lib).unwrap();
        let log = dir.path().join("trace.log");
        let mut env = String::from("LOG=trace.log\n");
        for (k, v) in settings {
            env.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(dir.path().join("drvtrace.env"), env).unwrap();
        Trace { dir, lib, log, seen: Default::default(), consumed: Default::default() }
    }

    /// The path string to open the driver by file.
    pub fn path(&self) -> &str {
        self.lib.to_str().unwrap()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("system.ini")
    }

    /// Writes the `system.ini` beside the driver.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// A manager reading this directory's `system.ini` and searching this directory.
    pub fn manager(&self) -> DriverManager {
        DriverManager::new(self.options())
    }

    pub fn options(&self) -> ManagerOptions {
        ManagerOptions::new().config_path(self.config_path()).search_path([self.dir.path()])
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<Record> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => text.lines().map(Record::parse).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Records as `NAME(id, Hn, l1, l2) -> ret`, with handles numbered H1, H2, ... in
    /// order of first appearance (kept across calls), `l1` of DRV_OPEN shown as its
    /// args string or NULL, and ids/answers in hex. Clears the log.
    pub fn take(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let fresh = &text[self.consumed.get().min(text.len())..];
        self.consumed.set(text.len());
        let records: Vec<Record> = fresh.lines().map(Record::parse).collect();
        let mut seen = self.seen.borrow_mut();
        records
            .iter()
            .map(|r| {
                let h = if r.h == 0 {
                    "NULL".to_string()
                } else {
                    let n = seen.iter().position(|&x| x == r.h).unwrap_or_else(|| {
                        seen.push(r.h);
                        seen.len() - 1
                    });
                    format!("H{}", n + 1)
                };
                let l1 = if r.msg == drvproc::consts::DRV_OPEN {
                    r.args.as_ref().map_or("NULL".to_string(), |a| format!("{a:?}"))
                } else {
                    r.l1.to_string()
                };
                format!("{}({:#x}, {h}, {l1}, {}) -> {:#x}", message_name(r.msg), r.id, r.l2, r.ret)
            })
            .collect()
    }

    /// The handle named `Hn` by [`take`](Self::take) (1-based).
    pub fn handle(&self, n: usize) -> Hdrvr {
        Hdrvr::from_raw(self.seen.borrow()[n - 1])
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A path that surely does not exist.
pub fn nowhere() -> &'static Path {
    Path::new("/nonexistent-drvproc-test/system.ini")
}
