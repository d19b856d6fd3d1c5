//! DriverCallback across the boundary: a hosted driver's notification during a
//! call reaches the application's target in the application — its function runs
//! there, on the thread that sent the message, with the driver's values; its events
//! and queues are signalled there. From any other driver thread it is refused.
#![cfg(target_os = "linux")]

mod common;

use std::cell::Cell;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use common::*;
use drvproc::acm::consts::{ACM_STREAMOPENF_ASYNC, ACMDM_STREAM_OPEN, WAVE_FORMAT_PCM};
use drvproc::acm::layout::{AcmDrvStreamInstance, WaveFormatEx};
use drvproc::consts::*;
use drvproc::{DrvCallback, Hdrvr, LParam, Msg};
use drvproc_host::{AcmCodec, DriverManager, Event, MessageQueue, Param, PostedMessage, SendError};
use drvtrace::{CALLBACK_PARAM2, MM_ACM_OPEN};

fn isolated(t: &Trace) -> DriverManager {
    DriverManager::new(
        t.options()
            .isolate(true)
            .host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
            .host_timeout(Duration::from_secs(20)),
    )
}

/// The instance id the trace driver gives its first open.
const FIRST_ID: usize = 0x1001;

/// Sends `msg` with two integers, described as such.
fn send(m: &DriverManager, h: Hdrvr, msg: Msg, l1: usize, l2: usize) -> Result<isize, SendError> {
    // SAFETY: integers only.
    unsafe { m.send_params(h, msg, &mut Param::Int(l1 as LParam), &mut Param::Int(l2 as LParam)) }
}

/// One run of [`notified`]: its arguments, and where it ran.
#[derive(Debug, PartialEq)]
struct Notification {
    hdrvr: Hdrvr,
    msg: Msg,
    user: usize,
    p1: usize,
    p2: usize,
    pid: u32,
    thread: ThreadId,
}

static NOTIFIED: Mutex<Vec<Notification>> = Mutex::new(Vec::new());

thread_local! {
    /// What [`sends_again`] sends to, while a test sets it.
    static AGAIN: Cell<Option<(*const DriverManager, Hdrvr)>> = const { Cell::new(None) };
    /// What [`sends_again`]'s send answered.
    static AGAIN_GOT: std::cell::RefCell<Option<Result<isize, SendError>>> = const { std::cell::RefCell::new(None) };
}

/// A `DCB_FUNCTION` target: records its arguments with this process's id and the
/// calling thread.
unsafe extern "system" fn notified(hdrvr: Hdrvr, msg: Msg, user: usize, p1: usize, p2: usize) {
    let n = Notification {
        hdrvr,
        msg,
        user,
        p1,
        p2,
        pid: std::process::id(),
        thread: std::thread::current().id(),
    };
    NOTIFIED.lock().unwrap().push(n);
}

/// A `DCB_FUNCTION` target that sends to the driver that is notifying it.
unsafe extern "system" fn sends_again(_: Hdrvr, _: Msg, _: usize, _: usize, _: usize) {
    let (m, h) = AGAIN.get().expect("set by the test");
    // SAFETY: the test set the pointer to its manager, alive for the whole send
    // this callback runs in.
    let m = unsafe { &*m };
    AGAIN_GOT.set(Some(send(m, h, DRV_USER + 2, 0, 0)));
}

/// A callback function's address, the `dwCallback` of `DCB_FUNCTION`.
fn addr(f: DrvCallback) -> usize {
    f as usize
}

fn take_notified(user: usize) -> Vec<Notification> {
    let mut all = NOTIFIED.lock().unwrap();
    let (mine, others): (Vec<_>, Vec<_>) = all.drain(..).partition(|n| n.user == user);
    *all = others;
    mine
}

#[test]
fn a_function_callback_runs_in_the_application_with_the_drivers_values() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let user = 0x7E57_0001;
    assert_eq!(send(&m, h, DRV_USER, addr(notified), user), Ok(1), "DriverCallback answered TRUE");
    let here = Notification {
        hdrvr: h,
        msg: DRV_USER,
        user,
        p1: FIRST_ID,
        p2: CALLBACK_PARAM2,
        pid: std::process::id(),
        thread: std::thread::current().id(),
    };
    assert_eq!(take_notified(user), [here]);
    // Again: the channel goes on serving calls and callbacks alike.
    assert_eq!(send(&m, h, DRV_USER, addr(notified), user), Ok(1));
    assert_eq!(take_notified(user).len(), 1);
    assert_eq!(send(&m, h, DRV_USER + 1, 0, 0), Ok(0));
    m.close(h).unwrap();
}

#[test]
fn in_process_the_trace_driver_finds_no_driver_callback_in_a_test_program() {
    // The contrast that shows the isolated path is the host's export: this test
    // program exports no DriverCallback, so the same driver in process answers -1.
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let m = t.manager();
    let h = m.open(t.path(), None).unwrap().into_raw();
    let user = 0x7E57_0002;
    assert_eq!(send(&m, h, DRV_USER, addr(notified), user), Ok(-1));
    assert_eq!(take_notified(user), []);
}

#[test]
fn an_event_callback_sets_the_applications_event() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:5")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let event = Event::new(true);
    assert!(!event.is_set());
    assert_eq!(send(&m, h, DRV_USER, event.id(), 0), Ok(1));
    assert!(event.is_set(), "the event of this process is set");
    // A value that names no event of this process: not delivered, nothing else happens.
    let gone = Event::new(true).id();
    assert_eq!(send(&m, h, DRV_USER, gone, 0), Ok(0));
}

#[test]
fn a_window_callback_posts_to_the_applications_queue() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER+1:1")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let queue = MessageQueue::new();
    assert_eq!(send(&m, h, DRV_USER + 1, queue.id(), 0), Ok(1));
    assert_eq!(queue.try_recv(), Some(PostedMessage { hdrvr: h, msg: DRV_USER + 1, param1: FIRST_ID }));
    assert_eq!(queue.try_recv(), None);
}

#[test]
fn a_callback_from_another_driver_thread_is_refused() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3:thread")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let user = 0x7E57_0003;
    assert_eq!(send(&m, h, DRV_USER, addr(notified), user), Ok(0), "DriverCallback answered FALSE");
    assert_eq!(take_notified(user), []);
    // The host goes on serving.
    assert_eq!(send(&m, h, DRV_USER + 1, 0, 0), Ok(0));
}

#[test]
fn a_function_address_outside_every_module_is_not_called() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let heap = Box::new(0u64);
    let address = &*heap as *const u64 as usize;
    assert_eq!(send(&m, h, DRV_USER, address, 0), Ok(0));
    assert_eq!(send(&m, h, DRV_USER, 0x10, 0), Ok(0));
    assert_eq!(send(&m, h, DRV_USER + 1, 0, 0), Ok(0), "the application and the host go on");
}

/// Data of this program, not code.
static NOT_CODE: [u64; 4] = [0; 4];

#[test]
fn a_data_address_of_a_loaded_module_is_not_called() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let address = std::hint::black_box(&NOT_CODE) as *const [u64; 4] as usize;
    assert_eq!(send(&m, h, DRV_USER, address, 0), Ok(0));
    assert_eq!(send(&m, h, DRV_USER + 1, 0, 0), Ok(0), "the application and the host go on");
}

#[test]
fn a_callback_sending_to_its_own_driver_is_refused_not_deadlocked() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let path = t.path().to_string();
    let (outer, inner, after) =
        within(Duration::from_secs(10), "a callback sending to its own driver", move || {
            let m = isolated(&t);
            let h = m.open(t.path(), None).unwrap().into_raw();
            AGAIN.set(Some((&m as *const DriverManager, h)));
            let outer = send(&m, h, DRV_USER, addr(sends_again), 0);
            AGAIN.set(None);
            let inner = AGAIN_GOT.take().map(|r| r.map_err(|e| e.to_string()));
            let after = send(&m, h, DRV_USER + 2, 0, 0);
            (outer, inner, after)
        });
    assert_eq!(outer, Ok(1), "the outer call completes, its callback delivered");
    assert_eq!(
        inner,
        Some(Err(format!(
            "driver {path}: DRV_USER+2 was not delivered: the driver is inside a callback to this process \
             and takes no other message until it returns"
        )))
    );
    assert_eq!(after, Ok(0), "after the callback the driver takes calls again");
}

/// What [`waits_for_another_thread`] sends to, and what that send answered.
static OTHER: Mutex<Option<(DriverManager, Hdrvr)>> = Mutex::new(None);
static OTHER_GOT: Mutex<Option<Result<Result<isize, SendError>, std::sync::mpsc::RecvTimeoutError>>> =
    Mutex::new(None);

/// A callback that waits for another thread's send to the same module, as an
/// application's callback may wait for a worker of its own.
unsafe extern "system" fn waits_for_another_thread(_: Hdrvr, _: Msg, _: usize, _: usize, _: usize) {
    let (m, h) = OTHER.lock().unwrap().clone().expect("set by the test");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(send(&m, h, DRV_QUERYCONFIGURE, 0, 0));
    });
    *OTHER_GOT.lock().unwrap() = Some(rx.recv_timeout(Duration::from_secs(5)));
}

#[test]
fn a_callback_waiting_for_another_threads_send_to_the_same_module_does_not_deadlock() {
    let t = Trace::with(&[("CALLBACK", "DRV_USER:3")]);
    let m = isolated(&t);
    let h = m.open(t.path(), None).unwrap().into_raw();
    let other = m.open(t.path(), None).unwrap().into_raw();
    *OTHER.lock().unwrap() = Some((m.clone(), other));
    assert_eq!(send(&m, h, DRV_USER, addr(waits_for_another_thread), 0), Ok(1));
    let got = OTHER_GOT.lock().unwrap().take().expect("the callback ran");
    // The other thread is not left waiting for the callback's own call: it is told.
    let Ok(Err(SendError::Hosted(why))) = got else { panic!("{got:?}") };
    assert!(
        why.ends_with(
            "the driver is inside a callback to this process and takes no other message until it returns"
        ),
        "{why}"
    );
    // Afterwards both handles work.
    assert_eq!(send(&m, other, DRV_QUERYCONFIGURE, 0, 0), Ok(0));
}

/// 8 kHz 16-bit mono PCM.
fn pcm() -> WaveFormatEx {
    WaveFormatEx {
        format_tag: WAVE_FORMAT_PCM,
        channels: 1,
        samples_per_sec: 8000,
        avg_bytes_per_sec: 16000,
        block_align: 2,
        bits_per_sample: 16,
        cb_size: 0,
    }
}

/// Sends `ACMDM_STREAM_OPEN` with the stream instance msacm32 builds for
/// `acmStreamOpen(.., dwCallback = callback, dwInstance = instance,
/// CALLBACK_FUNCTION | ACM_STREAMOPENF_ASYNC)` on the stream `has`.
fn open_async_stream(m: &DriverManager, h: Hdrvr, callback: usize, instance: usize, has: usize) -> isize {
    let (mut src, mut dst) = (pcm(), pcm());
    let mut si = AcmDrvStreamInstance {
        cb_struct: size_of::<AcmDrvStreamInstance>() as u32,
        pwfx_src: &mut src,
        pwfx_dst: &mut dst,
        pwflt: std::ptr::null_mut(),
        callback,
        instance,
        fdw_open: CALLBACK_FUNCTION | ACM_STREAMOPENF_ASYNC,
        fdw_driver: 0,
        dw_driver: 0,
        has: has as *mut std::ffi::c_void,
    };
    // SAFETY: ACMDM_STREAM_OPEN's lParam1 is an ACMDRVSTREAMINSTANCE whose formats
    // are complete PCM ones, all alive for the call.
    unsafe { m.send(h, ACMDM_STREAM_OPEN, &raw mut si as LParam, 0) }.unwrap()
}

/// A hosted ACM module: the codec's open (with its `ACMDRVOPENDESCW`, as msacm32
/// opens one) tells the manager the module is an ACM codec, and the stream
/// messages go to a second instance of it (the codec keeps its handle to itself).
fn hosted_acm(t: &Trace) -> (DriverManager, AcmCodec, Hdrvr) {
    let m = isolated(t);
    let codec = AcmCodec::open(&m, t.path()).unwrap();
    let h = m.open(t.path(), None).unwrap().into_raw();
    (m, codec, h)
}

#[test]
fn an_async_acm_streams_callback_function_in_its_stream_instance_runs_in_the_application() {
    let t = Trace::with(&[("ACM_ASYNC", "1")]);
    let (m, _codec, h) = hosted_acm(&t);
    let (instance, has) = (0x7E57_0010, 0x5EA0_0010);
    let ret = open_async_stream(&m, h, addr(notified), instance, has);
    assert_eq!(ret, 1, "DriverCallback answered TRUE");
    let here = Notification {
        hdrvr: Hdrvr::from_raw(has),
        msg: MM_ACM_OPEN,
        user: instance,
        p1: 0,
        p2: 0,
        pid: std::process::id(),
        thread: std::thread::current().id(),
    };
    assert_eq!(take_notified(instance), [here]);
    m.close(h).unwrap();
}

#[test]
fn a_heap_address_in_a_stream_instances_callback_is_not_called() {
    let t = Trace::with(&[("ACM_ASYNC", "1")]);
    let (m, _codec, h) = hosted_acm(&t);
    let heap = Box::new([0u64; 4]);
    let address = std::hint::black_box(&*heap) as *const [u64; 4] as usize;
    assert_eq!(
        open_async_stream(&m, h, address, 0x7E57_0011, 0x5EA0_0011),
        0,
        "DriverCallback answered FALSE"
    );
    assert_eq!(take_notified(0x7E57_0011), []);
    // The application and the host go on: a real target is still delivered.
    assert_eq!(open_async_stream(&m, h, addr(notified), 0x7E57_0012, 0x5EA0_0012), 1);
    assert_eq!(take_notified(0x7E57_0012).len(), 1);
    m.close(h).unwrap();
}
