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

/// The environment variable that makes a re-run test binary play one scenario (see
/// [`run_scenario_in_child`]).
pub const SCENARIO: &str = "DRVPROC_TEST_SCENARIO";
/// The scenario's argument (a driver path, ...).
pub const SCENARIO_ARG: &str = "DRVPROC_TEST_SCENARIO_ARG";

/// The argument of `name` when this process was started to play that scenario.
pub fn scenario_arg(name: &str) -> Option<String> {
    (std::env::var(SCENARIO).ok()? == name).then(|| std::env::var(SCENARIO_ARG).unwrap_or_default())
}

/// How a child process ended.
pub struct ChildRun {
    /// `None` when it was killed for running too long.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl ChildRun {
    /// Fails with the child's output unless it exited with status 0.
    pub fn assert_success(&self, what: &str) {
        match self.status {
            None => panic!(
                "{what}: hung (killed after the timeout)\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            ),
            Some(s) if !s.success() => {
                panic!(
                    "{what}: the process did not exit cleanly ({s})\nstdout:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            }
            Some(_) => {}
        }
    }

    /// The lines the scenario printed with the `scenario: ` prefix, without it (the
    /// first may share its line with the test harness's `test NAME ... `).
    pub fn reported(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.find("scenario: ").map(|at| l[at + "scenario: ".len()..].to_string()))
            .collect()
    }
}

/// Runs this test binary again with only the test `test` selected and
/// [`SCENARIO`]` = test`, so that test plays its scenario in a process of its own
/// (one that may abort or hang without taking the suite down); killed after
/// `timeout`.
pub fn run_scenario_in_child(test: &str, arg: &str, timeout: std::time::Duration) -> ChildRun {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, test)
        .env(SCENARIO_ARG, arg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-run the test binary");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    ChildRun { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// Runs `scenario` on a thread of its own and returns its result, or fails the test
/// with `what` if it has not finished after `timeout` (its threads are left behind).
pub fn within<T: Send + 'static>(
    timeout: std::time::Duration,
    what: &str,
    scenario: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(scenario)));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: did not finish within {timeout:?} (deadlock)"),
    }
}

/// The instance `h` opened with id `id` got exactly one `DRV_CLOSE` and exactly
/// `delivered` `DRV_USER`s, and no record names it after its `DRV_CLOSE`: none with its
/// id, none with its handle until that value is opened again (should it be reused).
pub fn assert_no_message_after_close(records: &[Record], h: Hdrvr, id: usize, delivered: usize) {
    use drvproc::consts::{DRV_CLOSE, DRV_OPEN, DRV_USER};
    let closes: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.id == id && r.msg == DRV_CLOSE)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(closes.len(), 1, "{h} (id {id:#x}): {} DRV_CLOSE records", closes.len());
    assert_eq!(records[closes[0]].h, h.raw(), "DRV_CLOSE of id {id:#x} carries its handle");
    let after = &records[closes[0] + 1..];
    let reopened = after.iter().position(|r| r.msg == DRV_OPEN && r.h == h.raw()).unwrap_or(after.len());
    let late: Vec<&Record> = after
        .iter()
        .enumerate()
        .filter(|(i, r)| r.id == id || (r.h == h.raw() && *i < reopened))
        .map(|(_, r)| r)
        .collect();
    assert!(late.is_empty(), "{h} (id {id:#x}) got messages after its DRV_CLOSE: {late:#?}");
    let users = records.iter().filter(|r| r.id == id && r.msg == DRV_USER).count();
    assert_eq!(
        users, delivered,
        "{h} (id {id:#x}): the driver recorded every delivered send, and only those"
    );
}

/// Whether this run hosts drivers in processes of their own (`DRVPROC_ISOLATE=1`,
/// as `tests/isolation_suites.rs` runs the lifecycle suites).
pub fn isolated_run() -> bool {
    std::env::var_os("DRVPROC_ISOLATE").is_some_and(|v| v == "1")
}

/// `SendDriverMessage` of a message whose two parameters are plain numbers: `send`
/// itself in process, and the same numbers described as numbers in an isolated run
/// (an undescribed custom message with non-zero parameters is refused there, as it
/// may carry addresses).
///
/// # Safety
/// The driver reads both parameters as numbers.
pub unsafe fn send_numbers(
    m: &DriverManager,
    h: Hdrvr,
    msg: drvproc::Msg,
    l1: drvproc::LParam,
    l2: drvproc::LParam,
) -> Result<drvproc::LResult, drvproc_host::BadHandle> {
    use drvproc_host::{Param, SendError};
    if !isolated_run() {
        // SAFETY: forwarded contract.
        return unsafe { m.send(h, msg, l1, l2) };
    }
    // SAFETY: forwarded contract: numbers, described as such.
    match unsafe { m.send_params(h, msg, &mut Param::Int(l1), &mut Param::Int(l2)) } {
        Ok(answer) => Ok(answer),
        Err(SendError::BadHandle(bad)) => Err(bad),
        Err(SendError::Hosted(why)) => panic!("{why}"),
    }
}

/// [`send_numbers`] to an instance.
///
/// # Safety
/// As for [`send_numbers`].
pub unsafe fn send_numbers_to(
    i: &drvproc_host::Instance,
    msg: drvproc::Msg,
    l1: drvproc::LParam,
    l2: drvproc::LParam,
) -> Result<drvproc::LResult, drvproc_host::BadHandle> {
    // SAFETY: forwarded contract.
    unsafe { send_numbers(i.manager(), i.handle(), msg, l1, l2) }
}

/// This process's children that have `driver` mapped: the host processes serving
/// it (Linux).
#[cfg(target_os = "linux")]
pub fn hosts_of(driver: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let parent_of = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string))
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            parent_of(pid).as_deref() == Some(me.as_str())
                && std::fs::read_to_string(format!("/proc/{pid}/maps"))
                    .is_ok_and(|maps| maps.contains(driver))
        })
        .collect()
}

/// A `tracing` writer whose clones all write into one buffer, for a test that
/// reads what was logged.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
