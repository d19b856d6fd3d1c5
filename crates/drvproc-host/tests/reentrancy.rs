//! Drivers calling the manager from inside their own messages, and closes racing
//! sends on the same handle.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{Trace, assert_no_message_after_close, nowhere};
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

/// Sends racing a close of their handle, against the raw trace driver (which records
/// every message it gets, whatever the instance's state): for every instance, nothing
/// is recorded after its `DRV_CLOSE`. `DRV_USER` takes 200 µs and is recorded when it
/// returns, so a send that overlaps the close, or starts after it, is recorded after
/// the `DRV_CLOSE` record.
#[test]
fn close_racing_sends_never_reaches_the_driver_after_drv_close() {
    let t = Trace::with(&[("SLEEP", "DRV_USER:200")]);
    let m = t.manager();
    let _keep = m.open(t.path(), None).unwrap();
    let mut closed = Vec::new();
    for _round in 0..30 {
        let h = m.open(t.path(), None).unwrap().into_raw();
        let id = t.records().last().map(|r| r.ret as usize).expect("DRV_OPEN recorded");
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let (m, stop) = (m.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ok = 0;
                    // SAFETY: the trace driver treats the parameters as numbers.
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
        let delivered: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
        closed.push((h, id, delivered));
    }
    assert_eq!(m.instance_count(), 1);
    let records = t.records();
    assert!(closed.iter().any(|&(_, _, n)| n > 0), "some sends were delivered before the closes");
    for (h, id, delivered) in closed {
        assert_no_message_after_close(&records, h, id, delivered);
    }
}
