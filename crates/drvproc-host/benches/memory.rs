//! P4: open 1,000,000 instances of one module and measure the manager's memory per
//! instance as the growth of the process's resident set, then close them all and
//! check that every instance closed and the module unloaded.
//!
//! The caller's own storage for the handles (8 bytes each) is allocated and touched
//! before the first measurement, so the figure is the manager's (and the driver's:
//! the null driver keeps nothing per instance).

use std::path::PathBuf;
use std::time::Instant;

use drvproc::Hdrvr;
use drvproc_host::{DriverManager, ManagerOptions};

const INSTANCES: usize = 1_000_000;
const TARGET_BYTES: f64 = 128.0;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages");
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn null_driver() -> PathBuf {
    let exe = std::env::current_exe().expect("bench binary path");
    let name = format!("{}drvnull{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    exe.parent().expect("bench directory").join(name)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks benches to enumerate; this one is a program.
    }
    let path = null_driver();
    let name = path.to_str().expect("UTF-8 path");
    let m = DriverManager::new(ManagerOptions::new().config_path("/nonexistent/drvproc-bench/system.ini"));
    let first = m.open(name, None).expect("open the null driver").into_raw();
    let mut handles: Vec<Hdrvr> = vec![Hdrvr::NULL; INSTANCES];
    let before = resident_bytes();
    let start = Instant::now();
    for h in handles.iter_mut() {
        *h = m.open(name, None).expect("open").into_raw();
    }
    let opened = start.elapsed();
    let after = resident_bytes();
    let per_instance = (after.saturating_sub(before)) as f64 / INSTANCES as f64;
    assert_eq!(m.instance_count(), INSTANCES + 1);
    let start = Instant::now();
    for h in handles {
        m.close(h).expect("close");
    }
    m.close(first).expect("close");
    let closed = start.elapsed();
    let all_closed = m.instance_count() == 0 && m.loaded_module_count() == 0;
    println!("P4 instances: {INSTANCES}");
    println!("P4 open all: {:.0} ns per open", opened.as_nanos() as f64 / INSTANCES as f64);
    println!("P4 close all: {:.0} ns per close", closed.as_nanos() as f64 / INSTANCES as f64);
    println!("P4 resident growth: {} bytes", after.saturating_sub(before));
    println!("P4 bytes per instance: {per_instance:.1} (target <= {TARGET_BYTES})");
    println!("P4 all closed and module unloaded: {all_closed}");
    println!("P4 {}", if per_instance <= TARGET_BYTES && all_closed { "MET" } else { "NOT MET" });
}
