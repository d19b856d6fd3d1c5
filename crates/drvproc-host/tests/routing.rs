//! The C ABI's process-wide handles: a handle of any manager in the process works
//! through another manager's `*_routed` calls; anything else is still refused.

mod common;

use drvproc::consts::*;
use drvproc::{Hdrvr, LParam, LResult};
use drvproc_host::{BadHandle, CloseError, DRIVER_FLAGS_VALID, DriverManager, ManagerOptions};

unsafe extern "system" fn answering_proc(id: usize, _h: Hdrvr, msg: u32, l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_OPEN => 0x77,
        m if m == DRV_USER => id as LResult * 0x100 + l1,
        _ => 1,
    }
}

fn manager() -> DriverManager {
    DriverManager::new(ManagerOptions::new().config_path(common::nowhere()))
}

/// Held by each test of this file while its managers live: routing reaches every
/// manager of the process, so a value one test expects to be refused (a live
/// handle with one bit flipped) can be a live handle of another test's manager
/// running beside it (seen under Wine: `0x2000001`, the first handle of the
/// other test's manager, was routed there).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn another_managers_handle_is_routed_to_it() {
    let _alone = alone();
    let (host, other) = (manager(), manager());
    host.register_function("answering", answering_proc).unwrap();
    let h = host.open("answering", None).unwrap().into_raw();
    // SAFETY: numbers only.
    assert_eq!(unsafe { other.send(h, DRV_USER, 5, 0) }, Err(BadHandle(h)), "not the other's own handle");
    // SAFETY: numbers only.
    assert_eq!(unsafe { other.send_routed(h, DRV_USER, 5, 0) }, Ok(0x7705));
    assert_eq!(other.flags_routed(h), Ok(DRIVER_FLAGS_VALID));
    assert_eq!(other.module_handle_routed(h), Ok(None), "a function driver has no module handle");
    // SAFETY: zeros.
    assert_eq!(unsafe { other.close_routed(h, 0, 0) }, Ok(()));
    assert_eq!(host.instance_count(), 0, "closed in the manager that issued it");
    // SAFETY: numbers only.
    assert_eq!(unsafe { other.send_routed(h, DRV_USER, 5, 0) }, Err(BadHandle(h)), "closed is closed");
    // SAFETY: zeros.
    assert_eq!(unsafe { other.close_routed(h, 0, 0) }, Err(CloseError::BadHandle(BadHandle(h))));
}

#[test]
fn routing_refuses_what_no_manager_issued() {
    let _alone = alone();
    let m = manager();
    m.register_function("answering", answering_proc).unwrap();
    let live = m.open("answering", None).unwrap();
    let mut values = vec![0usize, 1, 0xFFFF, usize::MAX, 0xdead_beef];
    values.extend((0..usize::BITS).map(|bit| live.handle().raw() ^ (1 << bit)));
    for raw in values {
        let h = Hdrvr::from_raw(raw);
        // SAFETY: numbers only; no driver is reached for these values.
        assert_eq!(unsafe { m.send_routed(h, DRV_USER, 0, 0) }, Err(BadHandle(h)), "{h}");
        assert_eq!(m.flags_routed(h), Err(BadHandle(h)), "{h}");
    }
    // SAFETY: numbers only.
    assert_eq!(unsafe { live.send(DRV_USER, 1, 0) }, Ok(0x7701), "the live one is untouched");
}
