//! `drvctl check` against drivers that misbehave towards the process hosting them:
//! helpers that hold the output pipes, forged verdicts, odd bytes, endless output,
//! stale statics and panics the SDK swallows.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn check_json(env: &[(&str, &str)], driver: &str, timeout: &str) -> (i32, serde_json::Value, String) {
    let mut cmd =
        drvctl(&["check", "--json", "--timeout", timeout, path_str(&lib(driver)), "--config", "/x/y.ini"]);
    cmd.envs(env.iter().copied());
    let (code, out, err) = run(cmd);
    let json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, json, err)
}

fn failed_rules(v: &serde_json::Value) -> Vec<&str> {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pass"] == false)
        .map(|r| r["rule"].as_str().unwrap())
        .collect()
}

fn evidence<'a>(v: &'a serde_json::Value, rule: &str) -> &'a str {
    let r = v["rules"].as_array().unwrap().iter().find(|r| r["rule"] == rule).unwrap();
    r["evidence"].as_str().unwrap()
}

/// A helper process started by the driver inherits the output pipes; it must not keep
/// a rule (or check) running once the child is done.
#[test]
fn a_helper_process_holding_the_pipes_does_not_delay_check() {
    let start = Instant::now();
    let spawned = tempfile::tempdir().unwrap();
    let pids = spawned.path().join("pids");
    let (code, v, err) = check_json(
        &[("DRVTRACE_SPAWN", "DRV_QUERYCONFIGURE"), ("DRVTRACE_SPAWNED", path_str(&pids))],
        "drvtrace",
        "5",
    );
    assert_eq!(code, 0, "{v}{err}");
    assert!(start.elapsed() < Duration::from_secs(8), "took {:?}", start.elapsed());
    assert_all_gone(&pids);
}

/// Each process id in `pids` (one per line) names a process that has ended, or ends
/// within a moment (it may still be being reaped).
fn assert_all_gone(pids: &std::path::Path) {
    let text = std::fs::read_to_string(pids).unwrap_or_else(|e| panic!("{}: {e}", pids.display()));
    let ids: Vec<u32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(!ids.is_empty(), "no helper was started");
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(3);
        while alive(id) {
            assert!(Instant::now() < deadline, "the driver's helper process {id} outlived drvctl's child");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(unix)]
fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 checks for existence and delivers nothing.
    let gone = unsafe { libc::kill(pid as libc::pid_t, 0) } == -1
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    !gone
}

#[cfg(windows)]
fn alive(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, WAIT_TIMEOUT};
    use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_SYNCHRONIZE, WaitForSingleObject};
    // SAFETY: a plain call; a null handle means there is no such process.
    let handle = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
    if handle.is_null() {
        return false;
    }
    // SAFETY: `handle` is a process handle opened above, closed once after the wait.
    let running = unsafe { WaitForSingleObject(handle, 0) } == WAIT_TIMEOUT;
    // SAFETY: as above.
    unsafe { CloseHandle(handle) };
    running
}

/// The same helper, with a driver that then hangs: the deadline ends the rule, and
/// the whole process group (on Windows, the job) goes with it.
#[test]
fn a_helper_process_does_not_outlive_the_timeout() {
    let start = Instant::now();
    let spawned = tempfile::tempdir().unwrap();
    let pids = spawned.path().join("pids");
    let (code, v, _) = check_json(
        &[
            ("DRVTRACE_SPAWN", "DRV_QUERYCONFIGURE"),
            ("DRVTRACE_HANG", "DRV_QUERYCONFIGURE"),
            ("DRVTRACE_SPAWNED", path_str(&pids)),
        ],
        "drvtrace",
        "1",
    );
    assert_eq!(code, 1);
    assert_eq!(failed_rules(&v), ["routing", "threads"]);
    assert!(evidence(&v, "routing").starts_with("no answer within 1 s: the driver hangs"), "{v}");
    assert!(start.elapsed() < Duration::from_secs(6), "took {:?}", start.elapsed());
    assert_all_gone(&pids);
}

/// A verdict-shaped line on stdout is the driver's output, not the child's verdict;
/// and the child aborted, so no rule passes.
#[test]
fn a_forged_verdict_on_stdout_does_not_pass() {
    let (code, v, _) = check_json(
        &[
            ("DRVTRACE_PRINT", r#"DRV_LOAD:{"pass":true,"evidence":"forged"}"#),
            ("DRVTRACE_ABORT", "DRV_FREE"),
        ],
        "drvtrace",
        "5",
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["passed"], 0, "{v}");
    for r in v["rules"].as_array().unwrap() {
        assert_eq!(r["pass"], false, "{r}");
        assert!(
            r["evidence"].as_str().unwrap().starts_with(if cfg!(windows) {
                "the driver crashed the process: ended by exception 0xC0000409 (fast fail: the process aborted itself)"
            } else {
                "the driver crashed the process: killed by signal 6 (SIGABRT)"
            }),
            "{r}"
        );
    }
}

#[test]
fn a_non_utf8_byte_on_stdout_is_only_output() {
    let (code, v, err) = check_json(&[("DRVTRACE_PRINT", r"DRV_OPEN:caf\xe9")], "drvtrace", "5");
    assert_eq!(code, 0, "{v}{err}");
    assert!(failed_rules(&v).is_empty(), "{v}");
}

/// Output without end for the whole timeout: drvctl keeps only a tail of it. The peak
/// resident size of drvctl comes from `wait4`, on Linux.
#[test]
fn endless_output_does_not_grow_drvctl() {
    let mut cmd =
        drvctl(&["check", "--json", "--timeout", "1", path_str(&lib("drvtrace")), "--config", "/x/y.ini"]);
    cmd.env("DRVTRACE_FLOOD", "DRV_QUERYCONFIGURE");
    #[cfg(target_os = "linux")]
    let out = run_measuring_peak_rss(cmd);
    #[cfg(not(target_os = "linux"))]
    let out = run(cmd).1;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(failed_rules(&v), ["routing", "threads"]);
    assert!(evidence(&v, "routing").starts_with("no answer within 1 s: the driver hangs"), "{v}");
    assert!(out.len() <= 64 * 1024, "{} bytes of report", out.len());
}

/// Runs `cmd`, asserts that its peak resident size stayed under 64 MiB, and returns
/// its stdout.
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes, reason = "reaped by wait4, which std does not know of")]
fn run_measuring_peak_rss(mut cmd: std::process::Command) -> String {
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (not yet reaped: `child` was never waited for)
    // and writes only into the two locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let peak_kib = usage.ru_maxrss;
    eprintln!("peak RSS of drvctl check: {peak_kib} KiB");
    assert!(peak_kib < 64 * 1024, "drvctl grew to {peak_kib} KiB");
    out
}

/// A driver that keeps a stale static across an unload fails `reload` even when its
/// image would be unmapped by the last `dlclose` (drvtrace is not linked nodelete).
#[test]
fn stale_statics_fail_reload_without_nodelete() {
    let (code, v, _) = check_json(&[("DRVTRACE_STALE", "1")], "drvtrace", "5");
    assert_eq!(code, 1, "{v}");
    assert_eq!(failed_rules(&v), ["reload"]);
    assert_eq!(evidence(&v, "reload"), "the second DRV_LOAD, after DRV_FREE, answered 0");
}

/// The SDK answers a panic with 0, which looks conforming; check reads the SDK's
/// panic count through the loaded image and fails the rules that panicked.
#[test]
fn panics_the_sdk_caught_fail_the_rule() {
    let (code, v, _) = check_json(&[], "drvhostile", "5");
    assert_eq!(code, 1, "{v}");
    assert_eq!(failed_rules(&v), ["routing", "defaults", "threads"]);
    assert_eq!(
        evidence(&v, "routing"),
        "the driver panicked 3 times (the SDK answered 0 for each); the last: \
         drvhostile: panicking in DRV_QUERYCONFIGURE"
    );
    assert!(evidence(&v, "defaults").ends_with("drvhostile: panicking in 0x07FF (undefined)"), "{v}");
}

/// A library every system has, by the name its loader finds it by.
const SYSTEM_LIBRARY: &str = if cfg!(windows) { "kernel32.dll" } else { "libm.so.6" };

#[test]
fn a_file_that_cannot_load_is_said_once() {
    let s = Scratch::new();
    let text = s.dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let missing = s.dir.path().join("missing.so");
    let trace = lib("drvtrace");
    for (target, env, said) in [
        (path_str(&missing), None, format!("{} does not exist", missing.display())),
        (path_str(&text), None, format!("{} is not a shared library", text.display())),
        (SYSTEM_LIBRARY, None, format!("{SYSTEM_LIBRARY} exports no DriverProc")),
        (
            path_str(&trace),
            Some(("DRVTRACE_LOAD", "0")),
            format!("{}: the driver refused DRV_LOAD", trace.display()),
        ),
    ] {
        let mut cmd = drvctl(&["check", target, "--config", "/x/y.ini"]);
        cmd.envs(env);
        let (code, out, err) = run(cmd);
        assert_eq!(code, 1, "{target}: {out}{err}");
        assert_eq!(out, "", "{target}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("checking ")).collect();
        assert_eq!(lines.len(), 1, "{target}: {err}");
        assert!(lines[0].starts_with(&format!("drvctl: cannot check: {said}")), "{target}: {err}");

        let mut cmd = drvctl(&["check", "--json", target, "--config", "/x/y.ini"]);
        cmd.envs(env);
        let (code, out, _) = run(cmd);
        assert_eq!(code, 1, "{target}");
        // One error document: the reason once, no rules.
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["version", "command", "error"], "{out}");
        assert_eq!(v["error"]["exit_code"], 1);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("cannot check: {said}")), "{out}");
    }
}

#[test]
fn a_zero_timeout_is_a_usage_error() {
    let (code, out, err) =
        run(drvctl(&["check", "--timeout", "0", path_str(&lib("drvsample")), "--config", "/x"]));
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("--timeout"), "{err}");

    let s = Scratch::new();
    s.write_config("[Drivers32]\n");
    let (code, out, err) = run(s.drvctl(&["doctor", "--timeout", "0"]));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert_eq!(err, "drvctl: --timeout must be at least 1 (seconds per driver)\n");
}
