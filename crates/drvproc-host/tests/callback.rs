//! DriverCallback (spec §12, D13, D16) with the portable targets.

use std::sync::Mutex;
use std::time::Duration;

use drvproc::Hdrvr;
use drvproc::consts::*;
use drvproc_host::{Event, MessageQueue, PostedMessage, driver_callback};

/// (hdrvr, msg, user, p1, p2) of each call.
type Call = (usize, u32, usize, usize, usize);
static CALLS: Mutex<Vec<Call>> = Mutex::new(Vec::new());

unsafe extern "system" fn record(h: Hdrvr, msg: u32, user: usize, p1: usize, p2: usize) {
    CALLS.lock().unwrap().push((h.raw(), msg, user, p1, p2));
}

fn cb(target: usize, flags: u32, msg: u32) -> bool {
    // SAFETY: DCB_FUNCTION targets in these tests are `record`.
    unsafe { driver_callback(target, flags, Hdrvr::from_raw(0x42), msg, 7, 8, 9) }
}

#[test]
fn null_and_unknown_types_fail() {
    let q = MessageQueue::new();
    for flags in [DCB_NULL, 4, 6, 7] {
        assert!(!cb(q.id(), flags, 1), "type {flags}");
    }
    for flags in [DCB_WINDOW, DCB_TASK, DCB_FUNCTION, DCB_EVENT] {
        assert!(!cb(0, flags, 1), "null target with type {flags}");
    }
    assert!(q.is_empty());
}

#[test]
fn function_is_called_synchronously_with_every_argument() {
    let f = record as *const () as usize;
    assert!(cb(f, DCB_FUNCTION, 0x3BD));
    assert!(cb(f, DCB_FUNCTION | DCB_NOSWITCH, 0x3BE));
    assert!(cb(f, CALLBACK_FUNCTION >> 16, 0x3BF));
    assert_eq!(
        *CALLS.lock().unwrap(),
        [(0x42, 0x3BD, 7, 8, 9), (0x42, 0x3BE, 7, 8, 9), (0x42, 0x3BF, 7, 8, 9)]
    );
}

#[test]
fn events_are_set() {
    let auto = Event::new(false);
    assert!(!auto.wait_timeout(Duration::ZERO));
    assert!(cb(auto.id(), DCB_EVENT, 0));
    assert!(auto.is_set());
    assert!(auto.wait_timeout(Duration::from_secs(1)));
    assert!(!auto.is_set(), "auto-reset by the wait");
    let manual = Event::new(true);
    let waiter = {
        let manual = manual.clone();
        std::thread::spawn(move || manual.wait_timeout(Duration::from_secs(5)))
    };
    assert!(cb(manual.id(), DCB_EVENT, 0));
    assert!(waiter.join().unwrap());
    assert!(manual.is_set(), "manual reset stays set");
    manual.reset();
    assert!(!manual.is_set());
    let id = manual.id();
    drop((manual, auto));
    assert!(!cb(id, DCB_EVENT, 0), "a dropped event is no target");
}

#[test]
fn windows_and_tasks_receive_posts() {
    let q = MessageQueue::with_capacity(2);
    assert!(cb(q.id(), DCB_WINDOW, 0x3C1));
    assert!(cb(q.id(), DCB_TASK, 0x3C2));
    assert!(!cb(q.id(), DCB_TASK, 0x3C3), "queue full");
    let posted = |msg| PostedMessage { hdrvr: Hdrvr::from_raw(0x42), msg, param1: 8 };
    assert_eq!(q.try_recv(), Some(posted(0x3C1)));
    assert_eq!(q.recv_timeout(Duration::from_secs(1)), Some(posted(0x3C2)));
    assert_eq!(q.recv_timeout(Duration::from_millis(10)), None);
    let e = Event::new(false);
    assert!(!cb(e.id(), DCB_WINDOW, 1), "an event is not a queue");
    assert!(!cb(q.id(), DCB_EVENT, 1), "a queue is not an event");
    let id = q.id();
    drop(q);
    assert!(!cb(id, DCB_WINDOW, 1), "a dropped queue is no target");
}
