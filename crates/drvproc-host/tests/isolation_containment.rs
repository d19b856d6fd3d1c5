//! Containment beyond a plain crash: a driver's forked child that keeps the output
//! pipe open, threads sending to isolated handles at once, and the sandbox.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use drvproc::consts::*;
use drvproc_host::{DriverManager, HostSandbox, ManagerOptions, take_hosted_failure};

fn isolated(options: ManagerOptions) -> DriverManager {
    DriverManager::new(
        options
            .isolate(true)
            .host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
            .host_timeout(Duration::from_secs(20)),
    )
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet, which runs
/// nothing and holds no descriptor).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_child_the_driver_forked_neither_delays_the_news_nor_outlives_the_host() {
    let t = Trace::with(&[("SPAWN", "DRV_USER"), ("SPAWNED", "spawned.txt"), ("SEGV", "DRV_USER+1")]);
    let m = isolated(t.options());
    let h = m.open(t.path(), None).unwrap().into_raw();
    // SAFETY: the trace driver reads no parameter of these messages.
    assert_eq!(unsafe { m.send(h, DRV_USER, 0, 0) }, Ok(0));
    let pid: u32 = std::fs::read_to_string(t.dir.path().join("spawned.txt")).unwrap().trim().parse().unwrap();
    assert!(!gone(pid), "the helper runs while its host does");
    let start = Instant::now();
    // SAFETY: as above.
    assert_eq!(unsafe { m.send(h, DRV_USER + 1, 0, 0) }, Ok(0));
    assert!(start.elapsed() < Duration::from_secs(1), "the death took {:?} to be known", start.elapsed());
    let text = take_hosted_failure().unwrap();
    assert!(text.contains("was killed by SIGSEGV"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone(pid), "the helper {pid} was killed with the host's process group");
}

#[test]
fn threads_sending_to_isolated_handles_at_once_each_get_their_own_answers() {
    const THREADS: usize = 4;
    const SENDS: usize = 300;
    let t = Trace::with(&[("ANSWER", "DRV_USER+1:7")]);
    let m = isolated(t.options());
    let handles: Vec<_> = (0..THREADS).map(|_| m.open(t.path(), None).unwrap().into_raw()).collect();
    std::thread::scope(|s| {
        for (i, &h) in handles.iter().enumerate() {
            let m = &m;
            s.spawn(move || {
                for n in 0..SENDS {
                    let msg = if n % 2 == 0 { DRV_USER + 1 } else { DRV_QUERYCONFIGURE };
                    let want = if msg == DRV_USER + 1 { 7 } else { 0 };
                    // SAFETY: the trace driver reads no parameter of these messages.
                    assert_eq!(unsafe { m.send(h, msg, 0, 0) }, Ok(want), "thread {i}, send {n}");
                }
            });
        }
    });
    let records = t.take();
    let sends = records
        .iter()
        .filter(|r| r.starts_with("DRV_USER+1(") || r.starts_with("DRV_QUERYCONFIGURE("))
        .count();
    assert_eq!(sends, THREADS * SENDS);
    // Each record names the instance it was sent to: its own id with its own handle.
    for (i, _) in handles.iter().enumerate() {
        let id = format!("(0x{:x}, H{}", 0x1001 + i, i + 1);
        let own = records.iter().filter(|r| r.contains(&id) && !r.starts_with("DRV_OPEN")).count();
        assert_eq!(own, SENDS, "instance {i} ({id}) got {own} messages");
    }
}

#[test]
fn a_sandboxed_driver_cannot_create_a_file_in_home() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("created.log");
    let t = Trace::with(&[("LOG", target.to_str().unwrap())]);
    let sandboxed = isolated(t.options().host_sandbox(HostSandbox::default()));
    let h = sandboxed.open(t.path(), None).unwrap();
    assert_eq!(h.query_configure(), Ok(false), "the sandboxed driver runs");
    drop(h);
    drop(sandboxed);
    assert!(!target.exists(), "the sandboxed driver created {}", target.display());
    // The control: the same driver, not sandboxed, creates it.
    let free = isolated(t.options());
    drop(free.open(t.path(), None).unwrap());
    assert!(target.exists(), "without the sandbox the driver writes its log");
}

#[test]
fn a_sandbox_may_allow_a_directory_for_writing() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("created.log");
    let t = Trace::with(&[("LOG", target.to_str().unwrap())]);
    let sandbox = HostSandbox { write: vec![home.path().to_path_buf()], ..HostSandbox::default() };
    let m = isolated(t.options().host_sandbox(sandbox));
    drop(m.open(t.path(), None).unwrap());
    assert!(target.exists());
}
