//! Bad handles (spec §13): 0, random values, closed, double close, another
//! manager's. Each is rejected and no driver is called.

mod common;

use common::Trace;
use drvproc::Hdrvr;
use drvproc::consts::DRV_USER;
use drvproc_host::{BadHandle, CloseError};

#[test]
fn bad_handles_are_rejected_without_calling_the_driver() {
    let t = Trace::new();
    let m = t.manager();
    let other = t.manager();
    let live = m.open(t.path(), None).unwrap();
    let foreign = other.open(t.path(), None).unwrap();
    let closed = m.open(t.path(), None).unwrap().into_raw();
    m.close(closed).unwrap();
    t.take();

    let mut bad = vec![Hdrvr::NULL, closed, foreign.handle(), Hdrvr::from_raw(usize::MAX)];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bad.push(Hdrvr::from_raw(x as usize));
    }
    // Neighbours of the live handle: other index, tag and generation bits.
    for bit in 0..usize::BITS {
        bad.push(Hdrvr::from_raw(live.handle().raw() ^ (1 << bit)));
    }
    for h in bad {
        if h == live.handle() {
            continue;
        }
        // SAFETY: no driver is reached; the parameters carry no pointers anyway.
        assert_eq!(unsafe { m.send(h, DRV_USER, 1, 2) }, Err(BadHandle(h)));
        assert_eq!(m.flags(h), Err(BadHandle(h)));
        assert_eq!(m.module_handle(h), Err(BadHandle(h)));
        assert_eq!(m.close(h), Err(CloseError::BadHandle(BadHandle(h))));
    }
    assert!(t.take().is_empty(), "no message reached a driver");
    assert_eq!(m.close(closed), Err(CloseError::BadHandle(BadHandle(closed))), "double close");
    assert_eq!(BadHandle(closed).to_string(), format!("bad driver handle {closed}"));
    assert_eq!(m.instance_count(), 1);
    assert_eq!(other.instance_count(), 1);
}

#[test]
fn a_closed_handle_stays_dead_when_its_slot_is_reused() {
    let t = Trace::new();
    let m = t.manager();
    let _keep = m.open(t.path(), None).unwrap();
    let mut dead = Vec::new();
    for _ in 0..1000 {
        let h = m.open(t.path(), None).unwrap().into_raw();
        m.close(h).unwrap();
        dead.push(h);
    }
    let live = m.open(t.path(), None).unwrap();
    for h in dead {
        assert_ne!(h, live.handle());
        // SAFETY: rejected before any driver call.
        assert!(unsafe { m.send(h, DRV_USER, 0, 0) }.is_err());
    }
}
