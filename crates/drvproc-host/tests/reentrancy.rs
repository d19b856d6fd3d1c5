//! Drivers calling the manager from inside their own messages, and closes racing
//! sends on the same handle.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{Trace, nowhere};
use drvproc::consts::*;
use drvproc::sdk::{Context, Driver, Instance as SdkInstance, OpenParams};
use drvproc::{Hdrvr, LParam, LResult, Msg};
use drvproc_host::{DriverManager, Instance, ManagerOptions};

static MANAGER: OnceLock<DriverManager> = OnceLock::new();
static TRACE_PATH: OnceLock<String> = OnceLock::new();
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn event(e: String) {
    EVENTS.lock().unwrap().push(e);
}

fn manager() -> &'static DriverManager {
    MANAGER.get().unwrap()
}

/// A function driver that, during DRV_LOAD, opens another driver; during DRV_OPEN,
/// asks for its module handle and sends to itself; on DRV_USER, closes itself.
#[derive(Default)]
struct Nested {
    inner: Mutex<Option<Instance>>,
}
struct NestedInstance;

impl Driver for Nested {
    type Instance = NestedInstance;
    fn load(h: Hdrvr) -> Option<Self> {
        let other = manager().open(TRACE_PATH.get().unwrap(), None).expect("open another driver in DRV_LOAD");
        event(format!("load: opened another driver; own handle live: {}", manager().flags(h).is_ok()));
        Some(Nested { inner: Mutex::new(Some(other)) })
    }
    fn open(&self, p: &OpenParams) -> Option<NestedInstance> {
        event(format!("open: module_handle = {:?}", manager().module_handle(p.hdrvr)));
        // SAFETY: DRV_USER+5 carries numbers only.
        let answer = unsafe { manager().send(p.hdrvr, DRV_USER + 5, 0, 0) };
        event(format!("open: send to self during DRV_OPEN -> {answer:?}"));
        Some(NestedInstance)
    }
    fn message(&self, _h: Hdrvr, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        event(format!("module got {}", drvproc::message_name(msg)));
        42
    }
    fn free(&self, _h: Hdrvr) -> LResult {
        // Closing another driver from inside DRV_FREE.
        drop(self.inner.lock().unwrap().take());
        event("free: closed the other driver".into());
        1
    }
}

impl SdkInstance<Nested> for NestedInstance {
    fn message(&self, cx: &Context<'_, Nested>, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        if msg == DRV_USER {
            let closed = manager().close(cx.hdrvr());
            event(format!("instance: closed itself -> {closed:?}"));
            // SAFETY: numbers only.
            let after = unsafe { manager().send(cx.hdrvr(), DRV_USER + 1, 0, 0) };
            event(format!("instance: send after own close -> {after:?}"));
        }
        7
    }
    fn close(&self, _cx: &Context<'_, Nested>, _l1: LParam, _l2: LParam) -> LResult {
        event("instance: DRV_CLOSE".into());
        1
    }
}

drvproc::driver_proc!(fn nested_proc = Nested);

#[test]
fn drivers_reenter_the_manager_from_inside_messages() {
    let t = Trace::new();
    TRACE_PATH.set(t.path().to_string()).unwrap();
    MANAGER.set(DriverManager::new(ManagerOptions::new().config_path(nowhere()))).ok().unwrap();
    let m = manager();
    m.register_function("nested", nested_proc).unwrap();
    let inst = m.open("nested", None).unwrap();
    let h = inst.into_raw();
    assert_eq!(m.loaded_module_count(), 2);
    // SAFETY: numbers only.
    assert_eq!(unsafe { m.send(h, DRV_USER, 0, 0) }, Ok(7), "the outer send completes");
    // SAFETY: numbers only.
    assert!(unsafe { m.send(h, DRV_USER, 0, 0) }.is_err(), "closed from inside");
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0, "both modules unloaded");
    let events = std::mem::take(&mut *EVENTS.lock().unwrap());
    assert_eq!(
        events,
        [
            "load: opened another driver; own handle live: true",
            "open: module_handle = Ok(None)",
            "module got DRV_USER+5",
            "open: send to self during DRV_OPEN -> Ok(42)",
            "instance: DRV_CLOSE",
            "free: closed the other driver",
            "instance: closed itself -> Ok(())",
            "instance: send after own close -> Err(BadHandle(HANDLE))"
                .replace("HANDLE", &format!("{h:?}"))
                .as_str(),
        ]
    );
    let trace = t.take();
    assert_eq!(trace.len(), 6, "the other driver's full lifecycle: {trace:?}");
}

/// A driver whose DRV_USER takes a while, to race closes against sends.
#[derive(Default)]
struct Slow;
struct SlowInstance {
    closed: AtomicBool,
    in_flight: AtomicUsize,
}
static AFTER_CLOSE: AtomicUsize = AtomicUsize::new(0);
static OVERLAPS: AtomicUsize = AtomicUsize::new(0);

impl Driver for Slow {
    type Instance = SlowInstance;
    fn open(&self, _p: &OpenParams) -> Option<SlowInstance> {
        Some(SlowInstance { closed: AtomicBool::new(false), in_flight: AtomicUsize::new(0) })
    }
}
impl SdkInstance<Slow> for SlowInstance {
    fn message(&self, _cx: &Context<'_, Slow>, _msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        if self.closed.load(Ordering::SeqCst) {
            AFTER_CLOSE.fetch_add(1, Ordering::SeqCst);
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(200));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        1
    }
    fn close(&self, _cx: &Context<'_, Slow>, _l1: LParam, _l2: LParam) -> LResult {
        if self.in_flight.load(Ordering::SeqCst) != 0 {
            OVERLAPS.fetch_add(1, Ordering::SeqCst);
        }
        self.closed.store(true, Ordering::SeqCst);
        1
    }
}
drvproc::driver_proc!(fn slow_proc = Slow);

#[test]
fn close_racing_sends_never_reaches_the_driver_after_drv_close() {
    let m = Arc::new(DriverManager::new(ManagerOptions::new().config_path(nowhere())));
    m.register_function("slow", slow_proc).unwrap();
    let _keep = m.open("slow", None).unwrap();
    for _round in 0..30 {
        let h = m.open("slow", None).unwrap().into_raw();
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let (m, stop) = (m.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ok = 0;
                    // SAFETY: numbers only.
                    while !stop.load(Ordering::SeqCst) && unsafe { m.send(h, DRV_USER, 0, 0) }.is_ok() {
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(2));
        m.close(h).unwrap();
        stop.store(true, Ordering::SeqCst);
        for s in senders {
            s.join().unwrap();
        }
    }
    assert_eq!(AFTER_CLOSE.load(Ordering::SeqCst), 0, "a message arrived after DRV_CLOSE");
    assert_eq!(OVERLAPS.load(Ordering::SeqCst), 0, "DRV_CLOSE overlapped a send");
    assert_eq!(m.instance_count(), 1);
}
