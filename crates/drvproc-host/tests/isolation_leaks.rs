//! Crashes in a row leak nothing in the application: no processes, descriptors,
//! shared-memory channels, threads or memory. Alone in its binary, so that no other
//! test's descriptors or threads come and go while it counts.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use drvproc::consts::*;
use drvproc_host::{DriverManager, take_hosted_failure};

/// Crashes per run: `DRVPROC_CRASHES`, else 1000.
fn crashes() -> usize {
    std::env::var("DRVPROC_CRASHES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

#[derive(Debug, PartialEq)]
struct Held {
    descriptors: usize,
    memfds: usize,
    threads: usize,
    children: usize,
}

fn held() -> Held {
    let me = std::process::id().to_string();
    let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    let children = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)) == Some(me.as_str())
        })
        .count();
    Held {
        descriptors: fds.len(),
        memfds: fds.iter().filter(|p| p.starts_with("/memfd:")).count(),
        threads: std::fs::read_dir("/proc/self/task").unwrap().count(),
        children,
    }
}

/// Resident memory in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_thousand_crashes_in_a_row_leak_nothing() {
    let t = Trace::with(&[("SEGV", "DRV_USER")]);
    let m = DriverManager::new(
        t.options()
            .isolate(true)
            .host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
            .host_timeout(Duration::from_secs(20)),
    );
    let crash = |round: usize| {
        let h = m.open(t.path(), None).unwrap_or_else(|e| panic!("round {round}: {e}")).into_raw();
        // SAFETY: the trace driver reads no parameter of DRV_USER.
        assert_eq!(unsafe { m.send(h, DRV_USER, 0, 0) }, Ok(0), "round {round}");
        let text = take_hosted_failure().unwrap_or_else(|| panic!("round {round}: no failure recorded"));
        assert!(text.contains("was killed by SIGSEGV"), "round {round}: {text}");
    };
    // The first rounds start the supervisor and fill allocator caches.
    for round in 0..20 {
        crash(round);
    }
    settle();
    let before = held();
    // What one live host holds, so that the counts below are known to see hosts.
    let live = m.open(t.path(), None).unwrap();
    let with_one = held();
    assert_eq!(with_one.children, before.children + 1, "{with_one:?}");
    assert_eq!(with_one.memfds, before.memfds + 1, "{with_one:?}");
    drop(live);
    settle();
    assert_eq!(held(), before, "after a normal close");
    let rss_before = rss_kib();
    let n = crashes();
    for round in 0..n {
        crash(round);
    }
    settle();
    assert_eq!(held(), before, "after {n} crashes");
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < 4096, "resident memory grew by {grown} KiB over {n} crashes");
}

/// Gives the supervisor's thread the moment it needs to reap the last host.
fn settle() {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut last = held();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = held();
        if now == last && now.children == 0 || std::time::Instant::now() > deadline {
            return;
        }
        last = now;
    }
}
