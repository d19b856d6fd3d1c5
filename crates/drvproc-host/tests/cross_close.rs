//! Closes issued from inside a message, of an instance some other thread is inside a
//! message to: two threads each closing the instance the other is sending to, and a
//! driver closing its own instance from a helper thread it waits for. Every close
//! must return (done or refused) instead of waiting for a send that waits for it,
//! and the driver must still get exactly one `DRV_CLOSE` per instance, and nothing
//! for an instance after it.
//!
//! Each scenario runs on a thread of its own, so a deadlock fails the test after a
//! timeout instead of hanging the suite.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::Duration;

use common::{nowhere, within};
use drvproc::consts::*;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg, def_driver_proc};
use drvproc_host::{DriverManager, ManagerOptions};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What one driver function saw: (instance id, message) in order of arrival.
struct Seen(Mutex<Vec<(usize, Msg)>>);

impl Seen {
    const fn new() -> Self {
        Seen(Mutex::new(Vec::new()))
    }

    fn push(&self, id: DriverId, msg: Msg) {
        self.0.lock().unwrap().push((id, msg));
    }

    /// Checks the lifecycle the driver saw: `ids` each opened once and closed exactly
    /// once, nothing for an instance after its `DRV_CLOSE`, and the module loaded
    /// once and freed once, last.
    fn assert_lifecycle(&self, ids: &[usize]) {
        let seen = self.0.lock().unwrap().clone();
        let names: Vec<String> =
            seen.iter().map(|(id, m)| format!("{}({id:#x})", drvproc::message_name(*m))).collect();
        let count = |msg: Msg| seen.iter().filter(|(_, m)| *m == msg).count();
        assert_eq!((count(DRV_LOAD), count(DRV_FREE)), (1, 1), "one load, one free: {names:?}");
        assert_eq!(seen.last().map(|s| s.1), Some(DRV_FREE), "DRV_FREE comes last: {names:?}");
        for &id in ids {
            let closes: Vec<usize> = seen
                .iter()
                .enumerate()
                .filter(|(_, (i, m))| *i == id && *m == DRV_CLOSE)
                .map(|(n, _)| n)
                .collect();
            assert_eq!(closes.len(), 1, "instance {id:#x} got {} DRV_CLOSE: {names:?}", closes.len());
            let late: Vec<&String> = seen
                .iter()
                .zip(&names)
                .skip(closes[0] + 1)
                .filter(|((i, _), _)| *i == id)
                .map(|(_, n)| n)
                .collect();
            assert!(late.is_empty(), "instance {id:#x} got {late:?} after its DRV_CLOSE: {names:?}");
        }
    }
}

/// Ids handed out by `DRV_OPEN` (non-zero, distinct per instance).
fn next_id(counter: &AtomicUsize) -> LResult {
    (0x100 + counter.fetch_add(1, Ordering::SeqCst)) as LResult
}

fn new_manager() -> DriverManager {
    DriverManager::new(ManagerOptions::new().config_path(nowhere()))
}

// --- Two threads, each closing the instance the other one is sending to. ---

static CROSS_MANAGER: OnceLock<DriverManager> = OnceLock::new();
static CROSS_SEEN: Seen = Seen::new();
static CROSS_IDS: AtomicUsize = AtomicUsize::new(0);
static CROSS_BOTH_INSIDE: Barrier = Barrier::new(2);
/// A close made from inside `DRV_USER`: the closing instance's id, the handle it
/// closed, and the result.
type CrossClose = (usize, Hdrvr, Result<(), String>);
static CROSS_CLOSES: Mutex<Vec<CrossClose>> = Mutex::new(Vec::new());

/// `DRV_USER(l1 = other handle)`: waits until both threads are inside their
/// `DRV_USER`, then closes the other instance.
unsafe extern "system" fn cross_proc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    CROSS_SEEN.push(id, msg);
    match msg {
        DRV_OPEN => next_id(&CROSS_IDS),
        DRV_USER => {
            CROSS_BOTH_INSIDE.wait();
            let other = Hdrvr::from_raw(l1 as usize);
            let closed = CROSS_MANAGER.get().unwrap().close(other).map_err(|e| e.to_string());
            CROSS_CLOSES.lock().unwrap().push((id, other, closed));
            1
        }
        _ => def_driver_proc(id, h, msg, l1, l2),
    }
}

#[test]
fn two_threads_closing_each_others_instance_from_inside_messages_do_not_deadlock() {
    let m = CROSS_MANAGER.get_or_init(new_manager).clone();
    m.register_function("cross", cross_proc).unwrap();
    let a = m.open("cross", None).unwrap().into_raw();
    let b = m.open("cross", None).unwrap().into_raw();
    let sends = within(TIMEOUT, "two threads each closing the other's instance from inside a send", {
        let m = m.clone();
        move || {
            let threads: Vec<_> = [(a, b), (b, a)]
                .into_iter()
                .map(|(own, other)| {
                    let m = m.clone();
                    // SAFETY: cross_proc reads l1 as a handle value, never as memory.
                    std::thread::spawn(move || unsafe { m.send(own, DRV_USER, other.raw() as LParam, 0) })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("sender thread")).collect::<Vec<_>>()
        }
    });
    assert_eq!(sends, [Ok(1), Ok(1)], "both sends return the driver's answer");
    let closes = CROSS_CLOSES.lock().unwrap().clone();
    assert_eq!(closes.len(), 2, "both closes returned: {closes:?}");
    // Whatever a refused close left open closes now; a done close left nothing.
    for (_, h, result) in &closes {
        match result {
            Ok(()) => assert!(m.close(*h).is_err(), "{h} was closed, yet closes again"),
            Err(_) => {
                assert_eq!(m.close(*h), Ok(()), "{h} stays closable after a refused close ({closes:?})")
            }
        }
    }
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
    CROSS_SEEN.assert_lifecycle(&[0x100, 0x101]);
}

// --- A driver closing its own instance from a helper thread it joins. ---

static HELPER_MANAGER: OnceLock<DriverManager> = OnceLock::new();
static HELPER_SEEN: Seen = Seen::new();
static HELPER_IDS: AtomicUsize = AtomicUsize::new(0);
static HELPER_CLOSES: Mutex<Vec<Result<(), String>>> = Mutex::new(Vec::new());

/// `DRV_USER`: closes its own instance on a new thread, and waits for that thread.
unsafe extern "system" fn helper_proc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    HELPER_SEEN.push(id, msg);
    match msg {
        DRV_OPEN => next_id(&HELPER_IDS),
        DRV_USER => {
            let helper =
                std::thread::spawn(move || HELPER_MANAGER.get().unwrap().close(h).map_err(|e| e.to_string()));
            let closed = helper.join().expect("helper thread");
            HELPER_CLOSES.lock().unwrap().push(closed);
            5
        }
        _ => def_driver_proc(id, h, msg, l1, l2),
    }
}

#[test]
fn a_driver_closing_its_own_instance_from_a_thread_it_joins_does_not_deadlock() {
    let m = HELPER_MANAGER.get_or_init(new_manager).clone();
    m.register_function("helper", helper_proc).unwrap();
    let h = m.open("helper", None).unwrap().into_raw();
    let sent = within(TIMEOUT, "a helper thread closing the instance its creator is inside a send to", {
        let m = m.clone();
        // SAFETY: numbers only.
        move || unsafe { m.send(h, DRV_USER, 0, 0) }
    });
    assert_eq!(sent, Ok(5), "the send returns the driver's answer");
    let closes = HELPER_CLOSES.lock().unwrap().clone();
    match closes.as_slice() {
        [Ok(())] => assert!(m.close(h).is_err(), "closed by the helper, yet closes again"),
        [Err(_)] => assert_eq!(m.close(h), Ok(()), "still closable after the helper's refused close"),
        other => panic!("expected one close result, got {other:?}"),
    }
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
    HELPER_SEEN.assert_lifecycle(&[0x100]);
}
