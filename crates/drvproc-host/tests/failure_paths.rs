//! Opens and closes that fail or race part-way: the module and the counts must come
//! out as if the failed step had never been tried.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Trace, strings};
use drvproc::consts::*;
use drvproc::{Hdrvr, LParam, LResult};
use drvproc_host::{DriverManager, ManagerOptions, OpenError};

#[test]
fn a_first_open_that_finds_the_table_full_leaves_the_module_loadable() {
    let (a, b) = (Trace::new(), Trace::new());
    let m = DriverManager::new(a.options().max_instances(1));
    let first = m.open(a.path(), None).unwrap();
    match m.open(b.path(), None) {
        Err(OpenError::TooManyInstances { limit: 1 }) => {}
        other => panic!("expected the table to be full, got {other:?}"),
    }
    assert!(b.take().is_empty(), "an open that found no slot sends nothing");
    drop(first);
    // From another thread (which would wait for a load left in progress) and then
    // from this one (which would skip DRV_LOAD): a fresh load both times.
    let (tx, rx) = std::sync::mpsc::channel();
    let (m2, path) = (m.clone(), b.path().to_string());
    std::thread::spawn(move || tx.send(m2.open(&path, None).map(|i| i.close())).unwrap());
    let opened =
        rx.recv_timeout(Duration::from_secs(10)).expect("the open waited for a load that never ends");
    assert!(matches!(opened, Ok(Ok(()))), "{opened:?}");
    assert_eq!(
        b.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    let again = m.open(b.path(), None).unwrap();
    assert_eq!(b.take()[0], "DRV_LOAD(0x0, H2, 0, 0) -> 0x1");
    drop(again);
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
}

#[test]
fn a_full_table_after_the_session_instance_closes_it_again() {
    let t = Trace::new();
    let m = DriverManager::new(t.options().max_instances(1));
    // SAFETY: the trace driver treats lParam2 as a plain number.
    let result = unsafe { m.open_with(t.path(), None, 0x55) };
    assert!(matches!(result, Err(OpenError::TooManyInstances { limit: 1 })), "{result:?}");
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
}

unsafe extern "system" fn quick_proc(_id: usize, _h: Hdrvr, msg: u32, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_OPEN => 7,
        _ => 1,
    }
}

#[test]
fn closing_everything_while_opens_finish_never_miscounts() {
    let m = DriverManager::new(ManagerOptions::new().config_path(common::nowhere()).session_instance(false));
    m.register_function("quick", quick_proc).unwrap();
    // A first instance keeps the module loaded, so every open below is a plain one.
    let keep = m.open("quick", None).unwrap().into_raw();
    let stop = Arc::new(AtomicBool::new(false));
    let closer = {
        let (m, stop) = (m.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut closed = 0;
            while !stop.load(Ordering::Relaxed) {
                closed += m.close_all();
            }
            closed
        })
    };
    let mut opened = 0;
    for _ in 0..20_000 {
        if let Ok(i) = m.open("quick", None) {
            opened += 1;
            let _ = i.into_raw();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let closed = closer.join().expect("close_all panicked (count underflow?)");
    let closed = closed + m.close_all();
    assert_eq!(closed, opened + 1, "every open instance closed exactly once");
    assert!(m.close(keep).is_err(), "closed by close_all");
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
}

static SELF_SENDER: std::sync::OnceLock<DriverManager> = std::sync::OnceLock::new();

unsafe extern "system" fn self_sender_proc(
    id: usize,
    h: Hdrvr,
    msg: u32,
    l1: LParam,
    _l2: LParam,
) -> LResult {
    match msg {
        DRV_OPEN => 9,
        // SAFETY: DRV_USER+1 carries numbers only.
        DRV_USER => unsafe { SELF_SENDER.get().unwrap().send(h, DRV_USER + 1, 0x11, 0) }.unwrap_or(-1),
        m if m == DRV_USER + 1 => (id * 0x100) as LResult + l1,
        _ => 1,
    }
}

#[test]
fn a_driver_sending_to_its_own_handle_from_inside_a_message_reaches_itself() {
    let m =
        SELF_SENDER.get_or_init(|| DriverManager::new(ManagerOptions::new().config_path(common::nowhere())));
    m.register_function("selfsender", self_sender_proc).unwrap();
    let i = m.open("selfsender", None).unwrap();
    // SAFETY: numbers only.
    assert_eq!(unsafe { i.send(DRV_USER, 0, 0) }, Ok(0x911));
    // And from a second level of nesting down (the outer send already marked it).
    // SAFETY: numbers only.
    assert_eq!(unsafe { i.send(DRV_USER, 0, 0) }, Ok(0x911));
}

static STALE_EARLY_CLOSES: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn counting_proc(id: usize, _h: Hdrvr, msg: u32, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_OPEN => 7,
        DRV_CLOSE if id == 0 => {
            STALE_EARLY_CLOSES.fetch_add(1, Ordering::SeqCst);
            1
        }
        _ => 1,
    }
}

/// A close of the handle the next open will get (easy to predict: same slot, next
/// generation) must never reach that instance while it is still inside `DRV_OPEN`:
/// the closer must not see the slot's previous occupant's "opened" mark.
#[test]
fn closing_a_predicted_handle_never_reaches_an_instance_still_opening() {
    let m = DriverManager::new(ManagerOptions::new().config_path(common::nowhere()).session_instance(false));
    m.register_function("counting", counting_proc).unwrap();
    let keep = m.open("counting", None).unwrap();
    let h1 = m.open("counting", None).unwrap().into_raw();
    m.close(h1).unwrap();
    let h2 = m.open("counting", None).unwrap().into_raw();
    m.close(h2).unwrap();
    let step = h2.raw().wrapping_sub(h1.raw());
    let stop = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicUsize::new(h2.raw()));
    let prober = {
        let (m, stop, last) = (m.clone(), stop.clone(), last.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = m.close(Hdrvr::from_raw(last.load(Ordering::SeqCst).wrapping_add(step)));
            }
        })
    };
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(2) && STALE_EARLY_CLOSES.load(Ordering::SeqCst) == 0 {
        if let Ok(i) = m.open("counting", None) {
            last.store(i.handle().raw(), Ordering::SeqCst);
            let _ = i.close();
        }
    }
    stop.store(true, Ordering::Relaxed);
    prober.join().expect("the prober's safe closes panicked (count underflow?)");
    assert_eq!(STALE_EARLY_CLOSES.load(Ordering::SeqCst), 0, "DRV_CLOSE reached an instance inside DRV_OPEN");
    drop(keep);
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
}
