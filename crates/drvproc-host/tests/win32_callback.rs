//! DriverCallback (spec §12) with Win32 targets: a real event handle, a thread's
//! message queue and a window, besides the portable targets.
#![cfg(windows)]

use std::sync::mpsc;
use std::time::Duration;

use drvproc::Hdrvr;
use drvproc::consts::*;
use drvproc_host::{Event, MessageQueue, PostedMessage, driver_callback};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, HWND, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::{CreateEventW, GetCurrentThreadId, WaitForSingleObject};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DestroyWindow, GetMessageW, HWND_MESSAGE, MSG, PM_NOREMOVE, PM_REMOVE, PeekMessageW,
};

/// `MM_WOM_DONE`, what a wave driver posts when a buffer is played.
const MM_WOM_DONE: u32 = 0x3BD;
const HDRVR: usize = 0x42;
const P1: usize = 0x1234_5678;

fn cb(target: usize, flags: u32) -> bool {
    // SAFETY: the targets are a live event, thread or window of this test, or
    // values naming nothing, which the system rejects.
    unsafe { driver_callback(target, flags, Hdrvr::from_raw(HDRVR), MM_WOM_DONE, 7, P1, 9) }
}

struct OwnedEvent(HANDLE);

impl Drop for OwnedEvent {
    fn drop(&mut self) {
        // SAFETY: the handle was created by this test and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

fn create_event() -> OwnedEvent {
    // SAFETY: no attributes, no name; a manual-reset event, initially unset.
    let h = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
    assert!(!h.is_null(), "CreateEventW failed: {}", std::io::Error::last_os_error());
    OwnedEvent(h)
}

fn wait(event: &OwnedEvent, ms: u32) -> u32 {
    // SAFETY: a live event handle of this test.
    unsafe { WaitForSingleObject(event.0, ms) }
}

#[test]
fn dcb_event_sets_a_real_event_handle() {
    let event = create_event();
    assert_eq!(wait(&event, 0), WAIT_TIMEOUT);
    assert!(cb(event.0 as usize, DCB_EVENT), "SetEvent through DriverCallback");
    assert_eq!(wait(&event, 1000), WAIT_OBJECT_0);
    // With the event flag of an open (CALLBACK_EVENT >> 16) and DCB_NOSWITCH too.
    let other = create_event();
    assert!(cb(other.0 as usize, (CALLBACK_EVENT >> 16) | DCB_NOSWITCH));
    assert_eq!(wait(&other, 1000), WAIT_OBJECT_0);
}

#[test]
fn dcb_event_with_a_value_naming_no_handle_fails() {
    // A value no handle of this process has (handles are small multiples of 4).
    assert!(!cb(0x7FFF_FFF0, DCB_EVENT));
}

#[test]
fn portable_targets_still_work_beside_win32_ones() {
    let event = Event::new(false);
    assert!(cb(event.id(), DCB_EVENT));
    assert!(event.wait_timeout(Duration::from_secs(1)));
    let queue = MessageQueue::new();
    assert!(cb(queue.id(), DCB_TASK));
    assert!(cb(queue.id(), DCB_WINDOW));
    let expected = PostedMessage { hdrvr: Hdrvr::from_raw(HDRVR), msg: MM_WOM_DONE, param1: P1 };
    assert_eq!(queue.try_recv(), Some(expected));
    assert_eq!(queue.try_recv(), Some(expected));
    // Portable ids are above every DWORD on 64-bit Windows: no thread id, window or
    // handle can be mistaken for one.
    #[cfg(target_pointer_width = "64")]
    assert!(event.id() > u32::MAX as usize && queue.id() > u32::MAX as usize);
}

#[test]
fn dcb_task_posts_to_a_threads_queue() {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut msg: MSG = unsafe { std::mem::zeroed() };
        // SAFETY: `msg` is a valid MSG; PeekMessageW creates this thread's queue.
        unsafe { PeekMessageW(&mut msg, std::ptr::null_mut(), 0, 0, PM_NOREMOVE) };
        // SAFETY: no preconditions.
        tx.send(unsafe { GetCurrentThreadId() }).unwrap();
        // SAFETY: `msg` is a valid MSG; any message of this thread.
        let got = unsafe { GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) };
        done_tx.send((got, msg.message, msg.wParam, msg.lParam)).unwrap();
    });
    let tid = rx.recv().unwrap();
    assert!(cb(tid as usize, DCB_TASK));
    let (got, message, wparam, lparam) = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    thread.join().unwrap();
    assert_eq!((got, message, wparam, lparam), (1, MM_WOM_DONE, HDRVR, P1 as isize));
    // The thread has ended: its id names no queue any more.
    assert!(!cb(tid as usize, DCB_TASK));
}

#[test]
fn dcb_window_posts_to_a_window() {
    let class: Vec<u16> = "STATIC\0".encode_utf16().collect();
    // SAFETY: a message-only window of a system class, no parameters.
    let hwnd: HWND = unsafe {
        CreateWindowExW(
            0,
            class.as_ptr(),
            std::ptr::null(),
            0,
            0,
            0,
            0,
            0,
            HWND_MESSAGE,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null(),
        )
    };
    assert!(!hwnd.is_null(), "CreateWindowExW failed: {}", std::io::Error::last_os_error());
    assert!(cb(hwnd as usize, DCB_WINDOW));
    let mut msg: MSG = unsafe { std::mem::zeroed() };
    // SAFETY: `msg` is a valid MSG; messages of the live window `hwnd`.
    let got = unsafe { PeekMessageW(&mut msg, hwnd, 0, 0, PM_REMOVE) };
    assert_eq!(got, 1, "no message posted to the window");
    assert_eq!((msg.hwnd, msg.message, msg.wParam, msg.lParam), (hwnd, MM_WOM_DONE, HDRVR, P1 as isize));
    // SAFETY: the window was created above on this thread.
    unsafe { DestroyWindow(hwnd) };
    assert!(!cb(hwnd as usize, DCB_WINDOW), "a destroyed window takes no message");
}
