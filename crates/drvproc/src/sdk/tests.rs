//! Routing tests: every test calls a generated `DriverProc` directly, as a manager would.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config_info::ConfigInfoBuf;
use crate::wide::WideString;

thread_local! {
    /// What the driver saw, in order; tests call the driver on their own thread.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(entry: String) {
    LOG.with(|l| l.borrow_mut().push(entry));
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// Records every typed call; refuses opens whose args are "refuse", panics on
/// args "panic" and on DRV_USER+99.
#[derive(Default)]
struct Rec;

struct RecInstance {
    args: Option<String>,
}

impl Driver for Rec {
    type Instance = RecInstance;
    fn load(h: Hdrvr) -> Option<Self> {
        log(format!("load {h}"));
        Some(Rec)
    }
    fn enable(&self, h: Hdrvr) -> LResult {
        log(format!("enable {h}"));
        1
    }
    fn disable(&self, h: Hdrvr) -> LResult {
        log(format!("disable {h}"));
        1
    }
    fn free(&self, h: Hdrvr) -> LResult {
        log(format!("free {h}"));
        1
    }
    fn open(&self, p: &OpenParams) -> Option<RecInstance> {
        log(format!("open {} {:?} {}", p.hdrvr, p.args, p.lparam2));
        match p.args.as_deref() {
            Some("refuse") => None,
            Some("panic") => panic!("open panicked"),
            _ => Some(RecInstance { args: p.args.clone() }),
        }
    }
    fn install(&self, _h: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        log(format!("install {parent} {config:?}"));
        DRVCNF_RESTART
    }
    fn configure(&self, _h: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        log(format!("configure {parent} {config:?}"));
        DRVCNF_OK
    }
    fn message(&self, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        log(format!("module {} {l1} {l2}", crate::message_name(msg)));
        if msg == DRV_USER + 99 {
            panic!("module message panicked");
        }
        def_driver_proc(0, h, msg, l1, l2) + 100
    }
}

impl Instance<Rec> for RecInstance {
    fn close(&self, cx: &Context<'_, Rec>, l1: LParam, l2: LParam) -> LResult {
        log(format!("close {} {:?} {l1} {l2}", cx.hdrvr(), self.args));
        7
    }
    fn message(&self, cx: &Context<'_, Rec>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        if msg >= DRV_USER {
            log(format!("instance {:?} {} {l1} {l2}", self.args, crate::message_name(msg)));
            if msg == DRV_USER + 99 {
                panic!("instance message panicked");
            }
            return l1 + l2;
        }
        cx.forward(msg, l1, l2)
    }
}

crate::driver_proc!(fn rec_a = Rec);
crate::driver_proc!(fn rec_b = Rec);
crate::driver_proc!(fn rec_c = Rec);
crate::driver_proc!(fn rec_d = Rec);
crate::driver_proc!(fn rec_e = Rec);
crate::driver_proc!(fn rec_f = Rec);

const H: Hdrvr = Hdrvr::from_raw(0x51);

/// Calls `p` with no pointer parameters.
fn call(p: crate::DriverProc, id: usize, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    // SAFETY: only messages whose parameters carry no pointer are sent through here.
    unsafe { p(id, H, msg, l1, l2) }
}

fn open_with(p: crate::DriverProc, args: Option<&str>, l2: LParam) -> usize {
    let wide = args.map(|a| WideString::new(a).unwrap());
    let l1 = wide.as_ref().map_or(0, |w| w.as_ptr() as LParam);
    // SAFETY: l1 is 0 or a live NUL-terminated UTF-16 string.
    unsafe { p(0, H, DRV_OPEN, l1, l2) as usize }
}

#[test]
fn lifecycle_routes_module_and_instances() {
    take_log();
    assert_eq!(call(rec_a, 0, DRV_LOAD, 0, 0), 1);
    assert_eq!(call(rec_a, 0, DRV_ENABLE, 0, 0), 1);
    let a = open_with(rec_a, Some("first"), 0);
    let b = open_with(rec_a, None, 42);
    assert_ne!(a, 0);
    assert_ne!(b, 0);
    assert_ne!(a, b);
    assert_eq!(call(rec_a, a, DRV_USER + 1, 2, 3), 5);
    assert_eq!(call(rec_a, b, DRV_USER + 2, 10, 1), 11);
    // Standard messages to an instance reach the module's typed methods.
    assert_eq!(call(rec_a, a, DRV_INSTALL, 9, 0), DRVCNF_RESTART);
    assert_eq!(call(rec_a, a, DRV_QUERYCONFIGURE, 0, 0), 0);
    assert_eq!(call(rec_a, a, DRV_REMOVE, 0, 0), DRVCNF_OK);
    // Other messages with id 0 reach Driver::message.
    assert_eq!(call(rec_a, 0, DRV_USER + 5, 1, 2), 100);
    assert_eq!(call(rec_a, a, DRV_CLOSE, 4, 5), 7);
    assert_eq!(call(rec_a, b, DRV_CLOSE, 0, 0), 7);
    assert_eq!(call(rec_a, 0, DRV_DISABLE, 0, 0), 1);
    assert_eq!(call(rec_a, 0, DRV_FREE, 0, 0), 1);
    assert_eq!(
        take_log(),
        [
            "load 0x51",
            "enable 0x51",
            "open 0x51 Some(\"first\") 0",
            "open 0x51 None 42",
            "instance Some(\"first\") DRV_USER+1 2 3",
            "instance None DRV_USER+2 10 1",
            "install 9 None",
            "module DRV_USER+5 1 2",
            "close 0x51 Some(\"first\") 4 5",
            "close 0x51 None 0 0",
            "disable 0x51",
            "free 0x51",
        ]
    );
}

#[test]
fn open_failure_and_open_before_load_return_zero() {
    take_log();
    assert_eq!(open_with(rec_b, Some("x"), 0), 0, "not loaded yet");
    assert_eq!(call(rec_b, 0, DRV_LOAD, 0, 0), 1);
    assert_eq!(open_with(rec_b, Some("refuse"), 0), 0);
    let ok = open_with(rec_b, Some("ok"), 0);
    assert_ne!(ok, 0);
    assert_eq!(take_log(), ["load 0x51", "open 0x51 Some(\"refuse\") 0", "open 0x51 Some(\"ok\") 0"]);
    assert_eq!(call(rec_b, ok, DRV_CLOSE, 0, 0), 7);
    assert_eq!(call(rec_b, 0, DRV_FREE, 0, 0), 1);
}

#[test]
fn panics_answer_zero_and_leave_the_driver_usable() {
    take_log();
    assert_eq!(call(rec_c, 0, DRV_LOAD, 0, 0), 1);
    assert_eq!(open_with(rec_c, Some("panic"), 0), 0);
    let id = open_with(rec_c, Some("fine"), 0);
    assert_eq!(call(rec_c, id, DRV_USER + 99, 1, 1), 0);
    assert_eq!(call(rec_c, 0, DRV_USER + 99, 1, 1), 0);
    assert_eq!(call(rec_c, id, DRV_USER + 1, 1, 1), 2, "still routed after panics");
    assert_eq!(call(rec_c, id, DRV_CLOSE, 0, 0), 7);
    assert_eq!(call(rec_c, 0, DRV_FREE, 0, 0), 1);
}

#[test]
fn stale_and_unknown_ids_are_rejected() {
    take_log();
    assert_eq!(call(rec_d, 0, DRV_LOAD, 0, 0), 1);
    let id = open_with(rec_d, None, 0);
    assert_eq!(call(rec_d, id, DRV_CLOSE, 0, 0), 7);
    assert_eq!(call(rec_d, id, DRV_USER + 1, 1, 1), 0, "closed id");
    assert_eq!(call(rec_d, id, DRV_CLOSE, 0, 0), 0, "double close");
    for forged in [1usize, 0xdead_beef, usize::MAX, id + 2] {
        assert_eq!(call(rec_d, forged, DRV_USER + 1, 1, 1), 0, "{forged:#x}");
    }
    // Current Wine sends DRV_DISABLE/DRV_FREE with the closed instance's id: they are
    // module messages whatever the id says.
    take_log();
    assert_eq!(call(rec_d, id, DRV_DISABLE, 0, 0), 1);
    assert_eq!(call(rec_d, id, DRV_FREE, 0, 0), 1);
    assert_eq!(take_log(), ["disable 0x51", "free 0x51"]);
}

#[test]
fn config_info_reaches_install_and_configure() {
    take_log();
    assert_eq!(call(rec_e, 0, DRV_LOAD, 0, 0), 1);
    let id = open_with(rec_e, None, 0);
    let dci = ConfigInfoBuf::new(Some("Drivers32"), Some("msacm.rec")).unwrap();
    // SAFETY: lParam2 is a live DRVCONFIGINFO.
    let answer = unsafe { rec_e(id, H, DRV_CONFIGURE, 0, dci.as_lparam()) };
    assert_eq!(answer, DRVCNF_OK);
    // SAFETY: as above.
    let answer = unsafe { rec_e(id, H, DRV_INSTALL, 3, dci.as_lparam()) };
    assert_eq!(answer, DRVCNF_RESTART);
    let mut bogus = [0u8; 32];
    bogus[..4].copy_from_slice(&5u32.to_ne_bytes());
    // SAFETY: 32 readable bytes; the bad size is rejected before any pointer is read.
    let answer = unsafe { rec_e(id, H, DRV_CONFIGURE, 0, bogus.as_ptr() as LParam) };
    assert_eq!(answer, DRVCNF_OK);
    let cfg = r#"Some(ConfigInfo { section: Some("Drivers32"), alias: Some("msacm.rec") })"#;
    assert_eq!(
        &take_log()[2..],
        [format!("configure 0 {cfg}"), format!("install 3 {cfg}"), "configure 0 None".to_string()]
    );
    assert_eq!(call(rec_e, id, DRV_CLOSE, 0, 0), 7);
    assert_eq!(call(rec_e, 0, DRV_FREE, 0, 0), 1);
}

#[test]
fn nested_loads_share_one_state_until_the_last_free() {
    take_log();
    assert_eq!(call(rec_f, 0, DRV_LOAD, 0, 0), 1);
    assert_eq!(call(rec_f, 0, DRV_LOAD, 0, 0), 1);
    let id = open_with(rec_f, None, 0);
    assert_eq!(call(rec_f, 0, DRV_FREE, 0, 0), 1);
    assert_eq!(call(rec_f, id, DRV_USER, 1, 2), 3, "still loaded after the inner free");
    assert_eq!(call(rec_f, 0, DRV_FREE, 0, 0), 1);
    assert_eq!(call(rec_f, id, DRV_USER, 1, 2), 0, "the outer free drops leftover instances");
    // Messages to an unloaded module get DefDriverProc's answers.
    assert_eq!(call(rec_f, 0, DRV_INSTALL, 0, 0), 1);
    assert_eq!(call(rec_f, 0, DRV_FREE, 0, 0), 1);
    assert_eq!(take_log(), ["load 0x51", "open 0x51 None 0", "instance None DRV_USER+0 1 2", "free 0x51"]);
}

/// A driver that refuses DRV_LOAD.
#[derive(Default)]
struct Refuser;
impl Driver for Refuser {
    type Instance = RecInstance;
    fn load(_h: Hdrvr) -> Option<Self> {
        None
    }
}
impl Instance<Refuser> for RecInstance {}
crate::driver_proc!(fn refuser = Refuser);

/// A driver that overrides nothing: every answer must be DefDriverProc's.
#[derive(Default)]
struct Plain;
struct PlainInstance;
impl Driver for Plain {
    type Instance = PlainInstance;
}
impl Instance<Plain> for PlainInstance {}
crate::driver_proc!(fn plain = Plain);

#[test]
fn defaults_equal_def_driver_proc() {
    assert_eq!(call(refuser, 0, DRV_LOAD, 0, 0), 0);
    assert_eq!(call(plain, 0, DRV_LOAD, 0, 0), 1);
    for msg in (0..0x20).chain([DRV_RESERVED, DRV_USER, DRV_USER + 7, ACMDM_BASE + 10]) {
        if matches!(msg, DRV_LOAD | DRV_FREE) {
            continue;
        }
        let expected = def_driver_proc(0, H, msg, 0, 0);
        assert_eq!(call(plain, 0, msg, 0, 0), expected, "{}", crate::message_name(msg));
    }
    assert_eq!(open_with(plain, None, 0), 0, "DefDriverProc refuses DRV_OPEN");
    assert_eq!(call(plain, 0, DRV_FREE, 0, 0), 1);
}

/// A driver that calls its own DriverProc from inside a message (re-entrancy).
#[derive(Default)]
struct Reentrant;
struct ReentrantInstance;
static REENTRANT_CALLS: AtomicUsize = AtomicUsize::new(0);
impl Driver for Reentrant {
    type Instance = ReentrantInstance;
    fn open(&self, _p: &OpenParams) -> Option<ReentrantInstance> {
        Some(ReentrantInstance)
    }
}
impl Instance<Reentrant> for ReentrantInstance {
    fn message(&self, cx: &Context<'_, Reentrant>, msg: Msg, l1: LParam, _l2: LParam) -> LResult {
        REENTRANT_CALLS.fetch_add(1, Ordering::SeqCst);
        match msg {
            // Send to itself, then open and close a second instance, from inside a message.
            m if m == DRV_USER && l1 > 0 => {
                let inner = call(reentrant, cx.id(), DRV_USER, l1 - 1, 0);
                let other = open_with(reentrant, None, 0);
                call(reentrant, other, DRV_CLOSE, 0, 0);
                inner + 1
            }
            _ => 0,
        }
    }
}
crate::driver_proc!(fn reentrant = Reentrant);

#[test]
fn drivers_may_reenter_from_inside_a_message() {
    assert_eq!(call(reentrant, 0, DRV_LOAD, 0, 0), 1);
    let id = open_with(reentrant, None, 0);
    assert_eq!(call(reentrant, id, DRV_USER, 5, 0), 5);
    assert_eq!(REENTRANT_CALLS.load(Ordering::SeqCst), 6);
    assert_eq!(call(reentrant, id, DRV_CLOSE, 0, 0), 0);
    assert_eq!(call(reentrant, 0, DRV_FREE, 0, 0), 1);
}

/// Concurrent opens, sends and closes on one driver from several threads.
#[derive(Default)]
struct Counter {
    opened: AtomicUsize,
}
struct CounterInstance(AtomicUsize);
impl Driver for Counter {
    type Instance = CounterInstance;
    fn open(&self, _p: &OpenParams) -> Option<CounterInstance> {
        self.opened.fetch_add(1, Ordering::Relaxed);
        Some(CounterInstance(AtomicUsize::new(0)))
    }
    fn message(&self, _h: Hdrvr, _msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        self.opened.load(Ordering::Relaxed) as LResult
    }
}
impl Instance<Counter> for CounterInstance {
    fn message(&self, _cx: &Context<'_, Counter>, _msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        self.0.fetch_add(1, Ordering::Relaxed) as LResult + 1
    }
}
crate::driver_proc!(fn counter = Counter);

#[test]
fn concurrent_instances_are_independent() {
    assert_eq!(call(counter, 0, DRV_LOAD, 0, 0), 1);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let id = open_with(counter, None, 0);
                    assert_ne!(id, 0);
                    for n in 1..=5 {
                        assert_eq!(call(counter, id, DRV_USER, 0, 0), n);
                    }
                    call(counter, id, DRV_CLOSE, 0, 0);
                    assert_eq!(call(counter, id, DRV_USER, 0, 0), 0);
                }
            });
        }
    });
    assert_eq!(call(counter, 0, DRV_USER, 0, 0), 800, "module saw every open");
    assert_eq!(call(counter, 0, DRV_FREE, 0, 0), 1);
}

/// A driver whose instances build standard messages from their own parameters.
#[derive(Default)]
struct Fwd;
struct FwdInstance;
/// Keeps `Instance::message`'s default.
struct DefaultInstance;

/// `lParam2` is an integer the driver passes on as `DRV_CONFIGURE`'s `lParam2`.
const FORWARD_CONFIGURE: Msg = DRV_USER + 1;
/// `lParam2` is an integer the driver passes on as `DRV_INSTALL`'s, through the
/// default `Instance::message`.
const DEFAULT_INSTALL: Msg = DRV_USER + 2;

impl Driver for Fwd {
    type Instance = FwdInstance;
    fn open(&self, _p: &OpenParams) -> Option<FwdInstance> {
        Some(FwdInstance)
    }
    fn install(&self, _h: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        log(format!("install {parent} {config:?}"));
        DRVCNF_RESTART
    }
    fn configure(&self, _h: Hdrvr, parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        log(format!("configure {parent} {config:?}"));
        DRVCNF_OK
    }
}

impl Instance<Fwd> for FwdInstance {
    fn message(&self, cx: &Context<'_, Fwd>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        match msg {
            FORWARD_CONFIGURE => cx.forward(DRV_CONFIGURE, l1, l2),
            DEFAULT_INSTALL => DefaultInstance.message(cx, DRV_INSTALL, l1, l2),
            // Standard messages go on with another lParam1 and the same lParam2.
            _ => cx.forward(msg, l1 + 1, l2),
        }
    }
}

impl Instance<Fwd> for DefaultInstance {}

crate::driver_proc!(fn fwd = Fwd);

#[test]
fn safe_forwards_read_only_the_config_the_manager_passed() {
    take_log();
    assert_eq!(call(fwd, 0, DRV_LOAD, 0, 0), 1);
    let id = open_with(fwd, None, 0);
    let dci = ConfigInfoBuf::new(Some("Drivers32"), Some("msacm.fwd")).unwrap();
    let cfg = r#"Some(ConfigInfo { section: Some("Drivers32"), alias: Some("msacm.fwd") })"#;
    // A real DRVCONFIGINFO sent as a plain integer: reading it would be wrong, not UB.
    assert_eq!(call(fwd, id, FORWARD_CONFIGURE, 0, dci.as_lparam()), DRVCNF_OK);
    assert_eq!(call(fwd, id, DEFAULT_INSTALL, 0, dci.as_lparam()), DRVCNF_RESTART);
    assert_eq!(
        take_log(),
        ["configure 0 None", "install 0 None"],
        "an integer the manager did not vouch for is not read"
    );
    // The DRVCONFIGINFO the manager sent with DRV_CONFIGURE itself is read when the
    // instance forwards it on, also with another lParam1.
    // SAFETY: lParam2 is a live DRVCONFIGINFO.
    assert_eq!(unsafe { fwd(id, H, DRV_CONFIGURE, 5, dci.as_lparam()) }, DRVCNF_OK);
    assert_eq!(take_log(), [format!("configure 6 {cfg}")]);
    // A made-up address reaches the module as no configuration, not as a read.
    assert_eq!(call(fwd, id, FORWARD_CONFIGURE, 0, 0x10), DRVCNF_OK);
    assert_eq!(call(fwd, id, DEFAULT_INSTALL, 0, 0x10), DRVCNF_RESTART);
    assert_eq!(take_log(), ["configure 0 None", "install 0 None"]);
    assert_eq!(call(fwd, id, DRV_CLOSE, 0, 0), 0);
    assert_eq!(call(fwd, 0, DRV_FREE, 0, 0), 1);
}

/// A driver that chooses its instances' ids, as MCI drivers answer `DRV_OPEN` with
/// their device id: here the id is `lParam2` (the "device id"), and every custom
/// message answers it back with the instance's own number.
#[derive(Default)]
struct Chooser {
    opened: AtomicUsize,
}

struct ChooserInstance {
    number: usize,
}

impl Driver for Chooser {
    type Instance = ChooserInstance;
    const CHOOSES_IDS: bool = true;

    fn open_with_id(&self, p: &OpenParams) -> Option<(ChooserInstance, DriverId)> {
        let number = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        Some((ChooserInstance { number }, p.lparam2 as DriverId))
    }
}

impl Instance<Chooser> for ChooserInstance {
    fn close(&self, _cx: &Context<'_, Chooser>, _l1: LParam, _l2: LParam) -> LResult {
        1
    }

    fn message(&self, cx: &Context<'_, Chooser>, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        if msg == DRV_USER { (cx.id() * 1000 + self.number) as LResult } else { 0 }
    }
}

crate::driver_proc!(fn chooser_proc = Chooser);

#[test]
fn a_driver_may_choose_its_instances_ids() {
    let h = Hdrvr::from_raw(0x77);
    // SAFETY: no message here carries a pointer (DRV_OPEN's lParam1 is NULL).
    let call = |id: usize, msg: Msg, l2: LParam| unsafe { chooser_proc(id, h, msg, 0, l2) };
    assert_eq!(call(0, DRV_LOAD, 0), 1);
    assert_eq!(call(0, DRV_OPEN, 7), 7, "the driver's id is the answer");
    assert_eq!(call(0, DRV_OPEN, 9), 9);
    assert_eq!(call(0, DRV_OPEN, 7), 0, "an id already open is refused");
    assert_eq!(call(0, DRV_OPEN, 0), 0, "id 0 is refused");
    assert_eq!(call(7, DRV_USER, 0), 7001, "messages reach the instance the id names");
    assert_eq!(call(9, DRV_USER, 0), 9002);
    assert_eq!(call(8, DRV_USER, 0), 0, "an id never opened");
    assert_eq!(call(7, DRV_CLOSE, 0), 1);
    assert_eq!(call(7, DRV_USER, 0), 0, "a closed id");
    assert_eq!(call(0, DRV_OPEN, 7), 7, "a closed id may be chosen again");
    assert_eq!(call(7, DRV_USER, 0), 7005);
    assert_eq!(call(9, DRV_CLOSE, 0), 1);
    assert_eq!(call(7, DRV_CLOSE, 0), 1);
    assert_eq!(call(0, DRV_FREE, 0), 1);
}
