//! A signal that ends drvctl while a driver runs in its child: the child's process
//! group dies too, the registry edit in progress is undone (no temporary file, the
//! lock released), and drvctl ends as killed by that signal.
#![cfg(target_os = "linux")]

mod common;
mod diagnose_samples;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, path_str, run};
use diagnose_samples::trace_copy;

/// The `drvctl __worker` processes whose parent is `pid`.
fn workers_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return found };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if cmdline.split(|&b| b == 0).any(|arg| arg == b"__worker") {
                found.push(child);
            }
        }
    }
    found
}

/// Whether `pid` is still a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect()
}

/// Kills what a failed test would otherwise leave running.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: plain kill(2) of a process group this test started (the worker
            // leads its own).
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// A drvctl whose stopping signals are not ignored when it starts, whatever this
/// test inherited: drvctl leaves a signal its parent ignores ignored (as under
/// `nohup`, or a shell's background job), and these tests are about the ones it
/// catches.
trait SignalsCaught {
    fn signals_caught(&mut self) -> &mut Self;
}

impl SignalsCaught for std::process::Command {
    fn signals_caught(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: runs in the forked child before exec and only calls signal(2),
        // which is async-signal-safe; it allocates nothing.
        unsafe {
            self.pre_exec(|| {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            })
        }
    }
}

/// Waits until `drvctl` runs a worker (and `ready` holds), sends `signal`, and returns
/// how drvctl ended and the worker's pid.
fn interrupt(
    mut drvctl: Child,
    signal: i32,
    ready: impl Fn() -> bool,
    reaper: &mut Reaper,
) -> (ExitStatus, u32) {
    reaper.0.push(drvctl.id());
    let start = Instant::now();
    let worker = loop {
        if let Some(&w) = workers_of(drvctl.id()).first()
            && ready()
        {
            break w;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no worker appeared");
        assert!(drvctl.try_wait().unwrap().is_none(), "drvctl ended before it was signalled");
        std::thread::sleep(Duration::from_millis(20));
    };
    reaper.0.push(worker);
    // Let the driver reach the message it hangs in.
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: plain kill(2) of the drvctl this test started.
    assert_eq!(unsafe { libc::kill(drvctl.id() as libc::pid_t, signal) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = drvctl.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "drvctl did not end on signal {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, worker)
}

fn assert_killed_by(status: ExitStatus, signal: i32, name: &str, err: &str) {
    assert!(
        status.signal() == Some(signal) || status.code() == Some(128 + signal),
        "drvctl should end as killed by signal {signal}, not {status:?}\n{err}"
    );
    assert_eq!(
        err,
        format!("drvctl: interrupted by {name} (signal {signal}): the driver's process was killed\n")
    );
}

fn assert_gone(worker: u32) {
    let start = Instant::now();
    while alive(worker) {
        assert!(start.elapsed() < Duration::from_secs(2), "the worker {worker} still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What drvctl wrote on stderr (it has ended: the worker holds no copy of the pipe).
fn read_all(pipe: Option<std::process::ChildStderr>) -> String {
    let mut err = String::new();
    if let Some(mut p) = pipe {
        let _ = std::io::Read::read_to_string(&mut p, &mut err);
    }
    err
}

#[test]
fn sigint_during_install_kills_the_driver_and_undoes_the_edit() {
    let s = Scratch::new();
    let before = "[Drivers32]\nwave=keep.so\n";
    s.write_config(before);
    let hang = trace_copy(s.dir.path(), "hang", "HANG=DRV_INSTALL\n");
    let mut reaper = Reaper(Vec::new());
    let mut drvctl = s
        .drvctl(&["install", "A", path_str(&hang)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .signals_caught()
        .spawn()
        .unwrap();
    let err_pipe = drvctl.stderr.take();
    let dir = s.dir.path().to_path_buf();
    let (status, worker) = interrupt(drvctl, libc::SIGINT, || !temp_files(&dir).is_empty(), &mut reaper);
    let err = read_all(err_pipe);
    assert_killed_by(status, libc::SIGINT, "SIGINT", &err);
    assert_gone(worker);
    assert_eq!(temp_files(s.dir.path()), Vec::<String>::new(), "the edit's temporary file is left");
    assert_eq!(s.read_config(), before);

    // The lock is free: the next install goes through.
    let fine = trace_copy(s.dir.path(), "fine", "");
    let (code, _, err) = run(s.drvctl(&["install", "B", path_str(&fine)]));
    assert_eq!(code, 0, "{err}");
    assert!(s.read_config().contains("B="), "{}", s.read_config());
}

#[test]
fn sigterm_during_check_kills_the_driver() {
    let s = Scratch::new();
    let hang = trace_copy(s.dir.path(), "hang", "HANG=DRV_LOAD\n");
    let mut reaper = Reaper(Vec::new());
    let mut drvctl = s
        .drvctl(&["check", "--timeout", "60", path_str(&hang)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .signals_caught()
        .spawn()
        .unwrap();
    let err_pipe = drvctl.stderr.take();
    let (status, worker) = interrupt(drvctl, libc::SIGTERM, || true, &mut reaper);
    let err = read_all(err_pipe);
    assert_killed_by(status, libc::SIGTERM, "SIGTERM", &err);
    assert_gone(worker);
}

#[test]
fn sighup_during_doctor_kills_the_driver() {
    let s = Scratch::new();
    let hang = trace_copy(s.dir.path(), "hang", "HANG=DRV_LOAD\n");
    s.write_config(&format!("[Drivers32]\nslow={}\n", hang.display()));
    let mut reaper = Reaper(Vec::new());
    let mut drvctl = s
        .drvctl(&["doctor", "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .signals_caught()
        .spawn()
        .unwrap();
    let err_pipe = drvctl.stderr.take();
    let (status, worker) = interrupt(drvctl, libc::SIGHUP, || true, &mut reaper);
    let err = read_all(err_pipe);
    assert_killed_by(status, libc::SIGHUP, "SIGHUP", &err);
    assert_gone(worker);
}
