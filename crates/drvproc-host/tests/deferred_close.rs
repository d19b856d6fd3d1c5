//! A parameterless close of an instance other threads are inside a message to never
//! waits without end: after a short wait it returns, the instance takes no new
//! message, and `DRV_CLOSE` follows on the thread whose message returns last.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use drvproc::consts::*;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg, def_driver_proc};
use drvproc_host::{BadHandle, DriverManager, ManagerOptions};

/// What the driver saw, in order: (message, thread it ran on).
static SEEN: Mutex<Vec<(Msg, std::thread::ThreadId)>> = Mutex::new(Vec::new());
/// `DRV_USER` blocks until the test releases it.
static RELEASE: Mutex<Option<Receiver<()>>> = Mutex::new(None);
static ENTERED: Mutex<Option<Sender<()>>> = Mutex::new(None);
static IDS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn slow_proc(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    SEEN.lock().unwrap().push((msg, std::thread::current().id()));
    match msg {
        DRV_OPEN => 0x100 + IDS.fetch_add(1, Ordering::SeqCst) as LResult,
        DRV_USER => {
            ENTERED.lock().unwrap().as_ref().unwrap().send(()).unwrap();
            let release = RELEASE.lock().unwrap().take().unwrap();
            release.recv().unwrap();
            7
        }
        _ => def_driver_proc(id, h, msg, l1, l2),
    }
}

fn names() -> Vec<String> {
    SEEN.lock().unwrap().iter().map(|(m, _)| drvproc::message_name(*m).to_string()).collect()
}

static MANAGER: OnceLock<DriverManager> = OnceLock::new();

/// One test at a time uses the driver's statics.
static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> (DriverManager, Hdrvr, Sender<()>, Receiver<()>) {
    let m = MANAGER
        .get_or_init(|| {
            let m = DriverManager::new(
                ManagerOptions::new().config_path(common::nowhere()).session_instance(false),
            );
            m.register_function("slow", slow_proc).unwrap();
            m
        })
        .clone();
    SEEN.lock().unwrap().clear();
    let (release_tx, release_rx) = channel();
    let (entered_tx, entered_rx) = channel();
    *RELEASE.lock().unwrap() = Some(release_rx);
    *ENTERED.lock().unwrap() = Some(entered_tx);
    let h = m.open("slow", None).unwrap().into_raw();
    (m, h, release_tx, entered_rx)
}

#[test]
fn a_close_during_a_long_message_returns_and_the_message_finishes_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (m, h, release, entered) = setup();
    let sender = {
        let m = m.clone();
        // SAFETY: numbers only.
        std::thread::spawn(move || (unsafe { m.send(h, DRV_USER, 0, 0) }, std::thread::current().id()))
    };
    entered.recv().unwrap();
    let started = Instant::now();
    assert_eq!(m.close(h), Ok(()), "the close returns while the message runs");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(90), "it waited a little first ({waited:?})");
    assert!(waited < Duration::from_secs(5), "it did not wait for the message ({waited:?})");
    // Closed to callers at once.
    // SAFETY: numbers only.
    assert_eq!(unsafe { m.send(h, DRV_USER + 1, 0, 0) }, Err(BadHandle(h)));
    assert!(m.close(h).is_err(), "a second close is refused");
    assert_eq!(
        names(),
        ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_USER+0"],
        "no DRV_CLOSE while the message runs"
    );
    release.send(()).unwrap();
    let (answer, sender_thread) = sender.join().unwrap();
    assert_eq!(answer, Ok(7), "the message in progress completes normally");
    assert_eq!(
        names(),
        ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_USER+0", "DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"],
        "DRV_CLOSE once the message returned, then the unload"
    );
    let seen = SEEN.lock().unwrap().clone();
    assert!(
        seen[4..].iter().all(|(_, t)| *t == sender_thread),
        "finished on the thread whose message returned last"
    );
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
}

#[test]
fn a_close_with_parameters_waits_for_the_message() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (m, h, release, entered) = setup();
    let sender = {
        let m = m.clone();
        // SAFETY: numbers only.
        std::thread::spawn(move || unsafe { m.send(h, DRV_USER, 0, 0) })
    };
    entered.recv().unwrap();
    let closer = {
        let m = m.clone();
        // SAFETY: the driver treats DRV_CLOSE's parameters as numbers.
        std::thread::spawn(move || unsafe { m.close_with(h, 1, 2) })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(!closer.is_finished(), "lParams may point to the caller's memory: no deferring");
    release.send(()).unwrap();
    assert_eq!(sender.join().unwrap(), Ok(7));
    assert_eq!(closer.join().unwrap(), Ok(()));
    assert_eq!(
        names(),
        ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_USER+0", "DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"]
    );
    assert_eq!(m.instance_count(), 0);
}
