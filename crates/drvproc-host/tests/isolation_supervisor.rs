//! The supervision of host processes: deaths of every kind are reported promptly and
//! with their cause, a killed host takes its process group along, output is kept
//! bounded, nothing leaks over many crashes, the sandbox confines, and an idle host
//! costs the watcher nothing.
//!
//! The supervisor is crate-private; these tests compile its file into this crate.
#![cfg(target_os = "linux")]

mod common;
#[path = "../src/isolation/supervisor.rs"]
mod supervisor;

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::Captured;
use supervisor::{
    Cause, Death, Host, HostCommand, LandlockAbsence, Output, Sandbox, SandboxLevel, SandboxStatus,
    Supervisor, SupervisorError, Tail, landlock_abi, prepare_sandbox_on,
};

/// The variable that makes this test binary, re-executed, act as a host.
const MODE: &str = "DRVPROC_SUPERVISOR_TEST_MODE";

/// Tests run one at a time: several count descriptors and processes of this process.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into `ts`, a live local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// The host side when re-executed: does what `MODE` says, never returns normally.
#[test]
fn host_mode_entry() {
    let Ok(mode) = std::env::var(MODE) else { return };
    match mode.as_str() {
        "segv" => {
            println!("crash-at={}", monotonic_ns());
            std::io::stdout().flush().unwrap();
            // SAFETY: none: this writes to an unmapped address on purpose, to die of
            // a real segmentation fault (volatile, so it is not optimised away).
            unsafe { std::ptr::with_exposed_provenance_mut::<u8>(8).write_volatile(1) };
            unreachable!("the write to address 8 did not fault");
        }
        "hello" => {
            println!("hello from pid {}", std::process::id());
            std::io::stdout().flush().unwrap();
            std::process::exit(0);
        }
        "abort" => {
            eprintln!("about to abort");
            std::process::abort();
        }
        "spawn-and-leave" => {
            // A process that starts a host and exits: the host must die with it.
            let supervisor = Supervisor::new().unwrap();
            let host = supervisor.spawn(&sh("exec sleep 30"), &[], |_| {}).unwrap();
            println!("host={}", host.pid());
            std::io::stdout().flush().unwrap();
            std::mem::forget(host);
            std::mem::forget(supervisor);
            // SAFETY: _exit ends the process at once, without running destructors
            // (which would kill the host the orderly way).
            unsafe { libc::_exit(0) };
        }
        other => panic!("unknown mode {other}"),
    }
}

fn sh(script: &str) -> HostCommand {
    HostCommand::new("/bin/sh").args(["-c", script])
}

fn self_host(mode: &str) -> HostCommand {
    HostCommand::new(std::env::current_exe().unwrap())
        .args(["--exact", "host_mode_entry", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
}

/// Spawns with a callback that sends the death and the time it came.
fn spawn_watched(
    supervisor: &Supervisor,
    command: &HostCommand,
) -> (Host, mpsc::Receiver<(Death, Instant, u128)>) {
    let (tx, rx) = mpsc::channel();
    let host = supervisor
        .spawn(command, &[], move |death| {
            let _ = tx.send((death.clone(), Instant::now(), monotonic_ns()));
        })
        .expect("spawn");
    (host, rx)
}

fn signaled(signal: i32) -> Cause {
    Cause::Signaled { signal, core_dumped: false }
}

/// Whether a process is gone or dead (a zombie whose reaper is not us).
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().unwrap().split_whitespace().next() == Some("Z"),
    }
}

fn wait_dead(pid: i32, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if is_dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    is_dead(pid)
}

fn value_after(text: &str, key: &str) -> Option<u128> {
    let start = text.find(key)? + key.len();
    text[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// (pid, ppid, pgrp, state) of every process.
fn processes() -> Vec<(i32, i32, i32, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        all.push((pid, fields[1].parse().unwrap(), fields[2].parse().unwrap(), fields[0].to_string()));
    }
    all
}

fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_real_segfault_is_reported_as_sigsegv_within_a_second() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (host, rx) = spawn_watched(&supervisor, &self_host("segv"));
    let (death, _, called_ns) = rx.recv_timeout(Duration::from_secs(10)).expect("death callback");
    assert_eq!(death.cause, signaled(libc::SIGSEGV), "{death}");
    assert_eq!(death.pid, host.pid());
    assert_eq!(death.to_string(), format!("host process {} was killed by SIGSEGV", host.pid()));
    let crashed_ns =
        value_after(&death.output_text(), "crash-at=").expect("the host printed when it crashed");
    let latency = Duration::from_nanos((called_ns - crashed_ns) as u64);
    println!("crash to callback: {latency:?}");
    assert!(latency < Duration::from_secs(1), "crash to callback took {latency:?}");
    assert!(host.wait(Duration::from_secs(1)).is_some());
}

#[test]
fn a_shell_killing_itself_with_sigsegv_is_reported_with_the_signal_name() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (host, rx) = spawn_watched(&supervisor, &sh("echo before; kill -SEGV $$; echo after"));
    let (death, _, _) = rx.recv_timeout(Duration::from_secs(5)).expect("death callback");
    assert_eq!(death.cause, signaled(libc::SIGSEGV));
    assert_eq!(death.output_text(), "before\n");
    assert_eq!(death.kill_reason, None);
    let published = host.wait(Duration::from_secs(1)).expect("published after the callback");
    assert_eq!(published.cause, death.cause);
    assert!(!host.kill("too late"), "a reaped host cannot be killed");
}

#[test]
fn an_abort_is_reported_as_sigabrt_with_its_last_words() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (_host, rx) = spawn_watched(&supervisor, &self_host("abort"));
    let (death, _, _) = rx.recv_timeout(Duration::from_secs(10)).expect("death callback");
    assert_eq!(death.cause, signaled(libc::SIGABRT), "{death}");
    assert!(death.output_text().ends_with("about to abort\n"), "{:?}", death.output_text());
    assert!(death.to_string().ends_with("was killed by SIGABRT"), "{death}");
}

#[test]
fn exits_are_reported_with_their_status() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    for code in [0, 3] {
        let (host, rx) = spawn_watched(&supervisor, &sh(&format!("exit {code}")));
        let (death, _, _) = rx.recv_timeout(Duration::from_secs(5)).expect("death callback");
        assert_eq!(death.cause, Cause::Exited(code));
        assert_eq!(death.to_string(), format!("host process {} exited with status {code}", host.pid()));
    }
}

#[test]
fn a_looping_host_is_killed_with_the_reason_given() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (host, rx) = spawn_watched(&supervisor, &sh("sleep 30 & echo child=$!; while :; do :; done"));
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "a looping host is alive");
    let t0 = Instant::now();
    assert!(host.kill("message 0x4001 timed out after 200 ms"));
    let (death, at, _) = rx.recv_timeout(Duration::from_secs(5)).expect("death callback");
    println!("kill to callback: {:?}", at - t0);
    assert!(at - t0 < Duration::from_secs(1));
    assert_eq!(death.cause, signaled(libc::SIGKILL));
    assert!(death.was_killed());
    assert_eq!(
        death.to_string(),
        format!("host process {} was killed: message 0x4001 timed out after 200 ms", host.pid())
    );
    let child = value_after(&death.output_text(), "child=").expect("the child's pid") as i32;
    assert!(wait_dead(child, Duration::from_secs(1)), "the killed host's child {child} lives on");
}

#[test]
fn a_forked_child_holding_the_pipe_neither_delays_the_death_nor_survives_it() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let t0 = Instant::now();
    let (host, rx) = spawn_watched(&supervisor, &sh("sleep 30 & echo child=$!; sleep 0.1; kill -SEGV $$"));
    let (death, at, _) = rx.recv_timeout(Duration::from_secs(5)).expect("death callback");
    println!("spawn to callback (host lives 100 ms): {:?}", at - t0);
    assert!(at - t0 < Duration::from_secs(1), "the death waited for the child: {:?}", at - t0);
    assert_eq!(death.cause, signaled(libc::SIGSEGV));
    let child = value_after(&death.output_text(), "child=").expect("the child's pid") as i32;
    assert!(wait_dead(child, Duration::from_secs(1)), "the forked child {child} outlived its host");
    drop(host);
}

#[test]
fn fifty_megabytes_of_output_neither_block_nor_are_kept() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let t0 = Instant::now();
    let command = sh("head -c 52428800 /dev/zero; echo; echo last words >&2; exit 7")
        .output(Output::Tail { limit: 64 * 1024 });
    let (_host, rx) = spawn_watched(&supervisor, &command);
    let (death, at, _) = rx.recv_timeout(Duration::from_secs(30)).expect("death callback");
    println!("50 MB host, spawn to callback: {:?}", at - t0);
    assert_eq!(death.cause, Cause::Exited(7));
    assert_eq!(death.output_total, 52_428_800 + 1 + 11);
    assert_eq!(death.output.len(), 64 * 1024);
    assert!(death.output.ends_with(b"\0\0\nlast words\n"));

    let (_host, rx) = spawn_watched(&supervisor, &command.clone().output(Output::Null));
    let (death, _, _) = rx.recv_timeout(Duration::from_secs(30)).expect("death callback");
    assert_eq!(death.cause, Cause::Exited(7));
    assert_eq!((death.output.len(), death.output_total), (0, 0));
}

#[test]
fn the_tail_keeps_the_last_bytes_only() {
    let mut tail = Tail::new(4);
    tail.push(b"ab");
    tail.push(b"cde");
    assert_eq!(tail.bytes(), b"bcde");
    tail.push(b"0123456789");
    assert_eq!((tail.bytes(), tail.total()), (b"6789".to_vec(), 15));
}

#[test]
fn a_thousand_crashes_leak_no_descriptor_and_no_process() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let me = std::process::id() as i32;
    let fds_before = open_fd_count();
    let children_before = processes().iter().filter(|p| p.1 == me).count();
    let mut groups = HashSet::new();
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..1000 {
        let start = Instant::now();
        let host = supervisor.spawn(&sh("kill -SEGV $$"), &[], |_| {}).unwrap();
        groups.insert(host.pid());
        let death = host.wait(Duration::from_secs(5)).expect("death");
        assert_eq!(death.cause, signaled(libc::SIGSEGV));
        slowest = slowest.max(start.elapsed());
    }
    let elapsed = t0.elapsed();
    println!("1000 spawn-crash cycles: {elapsed:?} ({:?} each, slowest {slowest:?})", elapsed / 1000);
    assert_eq!(open_fd_count(), fds_before, "descriptors leaked");
    let all = processes();
    let children: Vec<_> = all.iter().filter(|p| p.1 == me).collect();
    assert_eq!(children.len(), children_before, "children left (zombies included): {children:?}");
    let left: Vec<_> = all.iter().filter(|p| groups.contains(&p.2) && p.3 != "Z").collect();
    assert!(left.is_empty(), "processes of the hosts' groups left: {left:?}");
}

#[test]
fn only_the_passed_descriptors_reach_the_host() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    // Two descriptors opened the careless way, without close-on-exec.
    let mut raw = [0; 2];
    // SAFETY: pipe writes two descriptors into `raw`, a live local array of two.
    assert_eq!(unsafe { libc::pipe(raw.as_mut_ptr()) }, 0);
    // SAFETY: both were just returned by pipe and are owned by nothing else.
    let (passed, leaked) = unsafe { (OwnedFd::from_raw_fd(raw[0]), OwnedFd::from_raw_fd(raw[1])) };
    let command = sh("cd /proc/self/fd && echo *");
    let (tx, rx) = mpsc::channel();
    let _host = supervisor
        .spawn(&command, &[passed.as_fd()], move |death| {
            let _ = tx.send(death.output_text());
        })
        .unwrap();
    let listing = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let fds: Vec<i32> = listing.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert!(fds.contains(&passed.as_raw_fd()), "the passed descriptor is missing: {fds:?}");
    assert!(!fds.contains(&leaked.as_raw_fd()), "a descriptor not passed reached the host: {fds:?}");

    let stdout = std::io::stdout();
    match supervisor.spawn(&command, &[stdout.as_fd()], |_| {}) {
        Err(SupervisorError::ReservedFd(1)) => {}
        other => panic!("passing descriptor 1 must be refused, got {other:?}"),
    }
}

#[test]
fn a_missing_program_is_a_spawn_error_and_leaks_nothing() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let before = open_fd_count();
    let err = supervisor.spawn(&HostCommand::new("/nonexistent/drvproc-hostd"), &[], |_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start host process /nonexistent/drvproc-hostd: No such file or directory (os error 2)"
    );
    assert_eq!(open_fd_count(), before);
}

#[test]
fn the_host_dies_with_the_application() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "host_mode_entry", "--nocapture", "--test-threads=1"])
        .env(MODE, "spawn-and-leave")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let host = value_after(&text, "host=").unwrap_or_else(|| panic!("no host pid in {text:?}")) as i32;
    assert!(wait_dead(host, Duration::from_secs(1)), "host {host} outlived the process that started it");
}

#[test]
fn dropping_the_supervisor_kills_and_reports_every_host() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (host, rx) = spawn_watched(&supervisor, &sh("exec sleep 30"));
    drop(supervisor);
    let (death, _, _) = rx.try_recv().expect("the death was reported before the drop returned");
    assert!(death.was_killed(), "{death}");
    assert_eq!(death.kill_reason.as_deref(), Some("the host supervisor shut down"));
    assert!(host.death().is_some());
}

fn voluntary_switches(tid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn cpu_ns(tid: i32) -> u64 {
    let schedstat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).unwrap();
    schedstat.split_whitespace().next().unwrap().parse().unwrap()
}

/// The watcher sleeps in poll(2) without a timeout: an idle host wakes it never.
#[test]
fn an_idle_host_costs_the_watcher_no_wake_up() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let (host, rx) = spawn_watched(&supervisor, &sh("exec sleep 30"));
    std::thread::sleep(Duration::from_millis(50));
    let tid = supervisor.watcher_tid();
    let (switches, cpu) = (voluntary_switches(tid), cpu_ns(tid));
    std::thread::sleep(Duration::from_secs(1));
    let (switches, cpu) = (voluntary_switches(tid) - switches, cpu_ns(tid) - cpu);
    println!("watcher over 1 s idle: {switches} wake-ups, {cpu} ns of CPU");
    assert_eq!(switches, 0, "the watcher woke up while nothing happened");
    assert!(cpu < 1_000_000, "the watcher used {cpu} ns of CPU while idle");
    host.kill("end of test");
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_sandboxed_host_cannot_create_or_read_files_in_home() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("secret"), "s3cret").unwrap();
    let script = "echo x > \"$HOME/created\" && echo wrote; cat \"$HOME/secret\"; echo; exit 0";
    let command = sh(script).env("HOME", home.path());
    let run = |command: &HostCommand| {
        let (host, rx) = spawn_watched(&supervisor, command);
        let (death, _, _) = rx.recv_timeout(Duration::from_secs(5)).expect("death callback");
        (host.sandbox(), death)
    };

    // Unconfined, the same script writes and reads: the test can fail.
    let (status, death) = run(&command);
    assert_eq!(status, SandboxStatus::Off);
    assert_eq!(death.output_text(), "wrote\ns3cret\n");
    std::fs::remove_file(home.path().join("created")).unwrap();

    let sandbox = Sandbox::new(SandboxLevel::BestEffort).driver(Path::new("/usr/lib/some-driver.so"));
    let (status, death) = run(&command.clone().sandbox(sandbox));
    println!("sandbox: {status:?}; host said {:?}", death.output_text());
    match status {
        SandboxStatus::Unsupported(absence) => {
            println!("Landlock is not available here ({absence}): only no_new_privs was applied");
        }
        SandboxStatus::Enforced { .. } | SandboxStatus::Partial { .. } => {
            assert!(!home.path().join("created").exists(), "the sandboxed host created a file in home");
            let said = death.output_text();
            assert!(!said.contains("wrote") && !said.contains("s3cret"), "{said:?}");
            assert!(said.contains("Permission denied"), "{said:?}");
            assert_eq!(death.cause, Cause::Exited(0));
        }
        SandboxStatus::Off => panic!("a sandboxed host reported no sandbox"),
    }

    // What is configured is allowed.
    let sandbox = Sandbox::new(SandboxLevel::Required).allow_write(home.path());
    match supervisor.spawn(&command.clone().sandbox(sandbox), &[], |_| {}) {
        Ok(host) => {
            let death = host.wait(Duration::from_secs(5)).expect("death");
            assert_eq!(death.output_text(), "wrote\ns3cret\n");
        }
        Err(SupervisorError::SandboxUnavailable(absence)) => println!("required sandbox refused: {absence}"),
        Err(other) => panic!("{other}"),
    }

    let missing = Sandbox::new(SandboxLevel::BestEffort).allow_read("/nonexistent/dir");
    match supervisor.spawn(&command.sandbox(missing), &[], |_| {}) {
        Err(SupervisorError::SandboxPath { path, .. }) => assert_eq!(path, Path::new("/nonexistent/dir")),
        // Without Landlock there is no ruleset to add the path to.
        Ok(host) if matches!(host.sandbox(), SandboxStatus::Unsupported(_)) => {}
        other => panic!("a missing sandbox path must be refused, got {other:?}"),
    }
}

#[test]
fn a_rust_program_starts_and_runs_in_the_sandbox() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Supervisor::new().unwrap();
    let command = self_host("hello").sandbox(Sandbox::new(SandboxLevel::BestEffort));
    let (host, rx) = spawn_watched(&supervisor, &command);
    let (death, _, _) = rx.recv_timeout(Duration::from_secs(10)).expect("death callback");
    println!("sandbox {:?}: {death}", host.sandbox());
    assert_eq!(death.cause, Cause::Exited(0), "{}", death.output_text());
    assert!(
        death.output_text().contains(&format!("hello from pid {}", host.pid())),
        "{}",
        death.output_text()
    );
}

#[test]
fn a_death_callback_cannot_start_a_host() {
    if std::env::var(MODE).is_ok() {
        return;
    }
    let _serial = serial();
    let supervisor = Arc::new(Supervisor::new().unwrap());
    let (tx, rx) = mpsc::channel();
    let inner = supervisor.clone();
    let _host = supervisor
        .spawn(&sh("exit 0"), &[], move |_| {
            let _ = tx.send(inner.spawn(&sh("exit 0"), &[], |_| {}).map(|host| host.pid()));
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(5)).expect("the callback ran and returned") {
        Err(SupervisorError::FromWatcher) => {}
        other => panic!("a spawn from the watcher must be refused, got {other:?}"),
    }
}

fn with_captured_warnings<T>(f: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, captured.text())
}

#[test]
fn a_kernel_without_landlock_is_reported_and_refused_when_required() {
    // It opens descriptors, which the leak test counts.
    let _serial = serial();
    let program = Path::new("/bin/sh");
    let required = Sandbox::new(SandboxLevel::Required);
    let (result, warnings) =
        with_captured_warnings(|| prepare_sandbox_on(&required, program, Err(LandlockAbsence::NotBuilt)));
    let err = result.unwrap_err();
    assert_eq!(err.to_string(), "the sandbox is required but this kernel is built without Landlock");
    assert_eq!(warnings, "");

    let best_effort = Sandbox::new(SandboxLevel::BestEffort);
    let (result, warnings) = with_captured_warnings(|| {
        prepare_sandbox_on(&best_effort, program, Err(LandlockAbsence::NotEnabled))
    });
    let (ruleset, status) = result.unwrap();
    assert!(ruleset.is_none());
    assert_eq!(status, SandboxStatus::Unsupported(LandlockAbsence::NotEnabled));
    assert!(
        warnings.contains(" WARN drvproc::isolation: host processes run with no_new_privs only, not confined to their files: Landlock is not enabled in this kernel (see the lsm= boot parameter)"),
        "{warnings:?}"
    );
}

#[test]
fn an_old_landlock_is_reported_as_partial() {
    // It opens descriptors, which the leak test counts.
    let _serial = serial();
    if landlock_abi().is_err() {
        println!("no Landlock here: the partial case cannot be built");
        return;
    }
    let sandbox = Sandbox::new(SandboxLevel::Required);
    let (result, warnings) =
        with_captured_warnings(|| prepare_sandbox_on(&sandbox, Path::new("/bin/sh"), Ok(3)));
    let (ruleset, status) = result.unwrap();
    assert!(ruleset.is_some());
    assert_eq!(status, SandboxStatus::Partial { abi: 3 });
    assert!(
        warnings.contains("this kernel's Landlock (ABI 3) confines host processes only in part"),
        "{warnings:?}"
    );
}
