//! A handle names an instance of the manager that issued it, and only that one: any
//! number of managers may live in one process, and none may take another's handle
//! for one of its own instances.
//!
//! In a test binary of its own, so that no other test's managers are created in
//! between (the numbering of managers is process-wide).

use std::sync::atomic::{AtomicUsize, Ordering};

use drvproc::consts::*;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg, def_driver_proc};
use drvproc_host::{BadHandle, DriverManager, ManagerOptions};

const MANAGERS: usize = 300;

/// Messages that reached any instance after the setup: none may.
static STRAY: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn counting_proc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    match msg {
        DRV_OPEN => 1,
        DRV_USER => {
            STRAY.fetch_add(1, Ordering::SeqCst);
            0x5EED
        }
        _ => def_driver_proc(id, h, msg, l1, l2),
    }
}

#[test]
fn no_manager_accepts_another_managers_handle() {
    let options = || ManagerOptions::new().config_path("/nonexistent-drvproc-test/system.ini");
    let managers: Vec<DriverManager> = (0..MANAGERS).map(|_| DriverManager::new(options())).collect();
    // One open instance in every manager, so that a handle taken for one of another
    // manager's would name a live instance rather than an empty slot.
    let handles: Vec<Hdrvr> = managers
        .iter()
        .map(|m| {
            m.register_function("counting", counting_proc).unwrap();
            m.open("counting", None).unwrap().into_raw()
        })
        .collect();
    let first = handles[0];
    let mut accepted = Vec::new();
    for (n, m) in managers.iter().enumerate().skip(1) {
        // SAFETY: counting_proc treats the parameters as numbers.
        let sent = unsafe { m.send(first, DRV_USER, 0, 0) };
        let closed = m.close(first);
        if sent != Err(BadHandle(first)) || closed != Err(BadHandle(first).into()) {
            accepted.push(format!(
                "manager #{n} (own handle {}): send -> {sent:?}, close -> {closed:?}",
                handles[n]
            ));
        }
    }
    assert!(accepted.is_empty(), "managers accepted manager #0's handle {first}:\n{}", accepted.join("\n"));
    assert_eq!(STRAY.load(Ordering::SeqCst), 0, "a message reached an instance through a foreign handle");
    for (n, (m, h)) in managers.iter().zip(&handles).enumerate() {
        assert_eq!(m.instance_count(), 1, "manager #{n} lost its instance");
        assert_eq!(m.close(*h), Ok(()), "manager #{n} closes its own instance");
    }
}
