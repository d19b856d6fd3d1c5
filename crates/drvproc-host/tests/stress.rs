//! Several threads opening, sending to and closing instances of three modules at
//! random for a bounded time; then the invariants of spec §7 are checked on every
//! module's trace.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Record, Trace, send_numbers_to};
use drvproc::consts::*;
use drvproc_host::{DriverManager, Instance};

const THREADS: usize = 4;
const MAX_OPS: usize = 3_000;
const MAX_TIME: Duration = Duration::from_millis(1500);

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn random_open_send_close_keeps_the_lifecycle_invariants() {
    let traces: Vec<Trace> = (0..3).map(|_| Trace::new()).collect();
    let paths: Arc<Vec<String>> = Arc::new(traces.iter().map(|t| t.path().to_string()).collect());
    let m = traces[0].manager();
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let (m, paths): (DriverManager, _) = (m.clone(), paths.clone());
            std::thread::spawn(move || {
                let mut rng = 0x1234_5678_9abc_def0 ^ ((n as u64 + 1) * 0x9E37_79B9);
                let mut open: Vec<Instance> = Vec::new();
                let mut ops = 0;
                while ops < MAX_OPS && start.elapsed() < MAX_TIME {
                    ops += 1;
                    match xorshift(&mut rng) % 10 {
                        0..=2 => {
                            let path = &paths[(xorshift(&mut rng) % 3) as usize];
                            let l2 = (xorshift(&mut rng) % 2) as isize; // session scheme too
                            // SAFETY: the trace driver treats lParam2 as a number.
                            open.push(unsafe { m.open_with_number(path, None, l2) }.expect("open"));
                        }
                        3..=5 if !open.is_empty() => {
                            let i = (xorshift(&mut rng) as usize) % open.len();
                            open.swap_remove(i).close().expect("close");
                        }
                        _ if !open.is_empty() => {
                            let i = (xorshift(&mut rng) as usize) % open.len();
                            // SAFETY: numbers only.
                            unsafe { send_numbers_to(&open[i], DRV_USER + 1, 1, 2) }
                                .expect("send to an open instance");
                        }
                        _ => {}
                    }
                }
                ops
            })
        })
        .collect();
    let ops: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(ops > 100, "only {ops} operations ran");
    assert_eq!(m.instance_count(), 0, "every instance closed");
    assert_eq!(m.loaded_module_count(), 0, "every module unloaded");
    for t in &traces {
        check_invariants(&t.records());
    }
}

/// Per load cycle of one module (DRV_LOAD .. DRV_FREE): LOAD, then ENABLE, before every
/// OPEN; nothing to an instance after its CLOSE; exactly one FREE, last, after DISABLE.
fn check_invariants(records: &[Record]) {
    let mut cycles = 0;
    let mut i = 0;
    while i < records.len() {
        assert_eq!(records[i].msg, DRV_LOAD, "a cycle starts with DRV_LOAD: {:?}", records[i]);
        assert_eq!(records[i + 1].msg, DRV_ENABLE, "ENABLE follows LOAD");
        let end = i + records[i..].iter().position(|r| r.msg == DRV_FREE).expect("every LOAD has a FREE");
        let cycle = &records[i..=end];
        assert_eq!(cycle[cycle.len() - 2].msg, DRV_DISABLE, "DISABLE right before FREE");
        assert_eq!(cycle.iter().filter(|r| r.msg == DRV_LOAD).count(), 1);
        assert_eq!(cycle.iter().filter(|r| r.msg == DRV_ENABLE).count(), 1);
        let mut closed = std::collections::HashSet::new();
        let mut opened = std::collections::HashSet::new();
        for r in &cycle[2..cycle.len() - 2] {
            match r.msg {
                DRV_OPEN => {
                    assert_ne!(r.ret, 0);
                    opened.insert(r.ret as usize);
                }
                DRV_CLOSE => {
                    assert!(opened.contains(&r.id), "close of an id never opened: {r:?}");
                    assert!(closed.insert(r.id), "id closed twice: {r:?}");
                }
                _ => {
                    assert!(opened.contains(&r.id), "message to an unopened id: {r:?}");
                    assert!(!closed.contains(&r.id), "message after DRV_CLOSE: {r:?}");
                }
            }
        }
        assert_eq!(opened, closed, "every instance of the cycle closed before DISABLE");
        cycles += 1;
        i = end + 1;
    }
    assert!(cycles >= 1, "the module was used");
}

/// `DRVPROC_NO_MEMBARRIER` (set by CI for a second run of the concurrency tests)
/// really forces the full-fence path, so those runs test what they claim to.
#[test]
fn the_barrier_choice_follows_the_environment() {
    let _m =
        drvproc_host::DriverManager::new(drvproc_host::ManagerOptions::new().config_path(common::nowhere()));
    let forced_off = std::env::var_os("DRVPROC_NO_MEMBARRIER").is_some_and(|v| !v.is_empty() && v != "0");
    if forced_off {
        assert!(
            !drvproc_host::sends_are_fence_free(),
            "DRVPROC_NO_MEMBARRIER is set, yet sends skip the fence"
        );
    }
}
