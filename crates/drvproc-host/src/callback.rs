//! `DriverCallback` (spec §12) and the portable targets it notifies.
//!
//! On Windows a driver notifies its client through a window, a thread's message
//! queue, a function or an event. drvproc serves windows and threads on every
//! platform with a [`MessageQueue`] and events with an [`Event`]; each has a non-zero
//! `id()`, the value a client passes where Windows code passes an `HWND`, thread id
//! or `HANDLE`, and `DriverCallback` finds the target by that value. A value naming
//! no live target (never created, or dropped) is reported as a failed notification,
//! never a crash.
//!
//! On Windows the value may also be a real `HWND`, thread id or event `HANDLE`, as
//! winmm's clients pass them: a value that names no live portable target goes to
//! `PostMessageW`, `PostThreadMessageW` or `SetEvent`.
//! Portable targets are looked up first, so they must not take values a Win32
//! object may have: on 64-bit Windows their ids lie above `u32::MAX`, where no
//! thread id, window handle (32 significant bits) or kernel handle (below 2^26) can
//! be. On 32-bit Windows the ranges overlap in principle; a portable target then
//! wins over a Win32 object with the same value.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use drvproc::consts::{DCB_EVENT, DCB_FUNCTION, DCB_NULL, DCB_TASK, DCB_TYPEMASK, DCB_WINDOW};
use drvproc::{DrvCallback, Hdrvr, Msg};

/// Messages a queue holds before posts fail (Windows' default posted-message quota).
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

enum Target {
    Event(Weak<EventInner>),
    Queue(Weak<QueueInner>),
}

fn targets() -> MutexGuard<'static, HashMap<usize, Target>> {
    static TARGETS: OnceLock<Mutex<HashMap<usize, Target>>> = OnceLock::new();
    TARGETS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first portable id: away from small integers, so that stray small values
/// rarely name a target, and on 64-bit Windows above every Win32 thread id, window
/// and handle (see the module documentation).
#[cfg(all(windows, target_pointer_width = "64"))]
const FIRST_ID: usize = (1 << 32) + 0x1_0000;
#[cfg(not(all(windows, target_pointer_width = "64")))]
const FIRST_ID: usize = 0x1_0000;

fn next_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(FIRST_ID);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct EventInner {
    id: usize,
    manual_reset: bool,
    set: Mutex<bool>,
    cv: Condvar,
}

impl Drop for EventInner {
    fn drop(&mut self) {
        targets().remove(&self.id);
    }
}

/// A settable event, the target of `DCB_EVENT` (Windows: `CreateEvent`/`SetEvent`).
/// Clones share one event; it stops being a target when the last clone is dropped.
#[derive(Clone)]
pub struct Event {
    inner: Arc<EventInner>,
}

impl Event {
    /// A new, unset event. An auto-reset event (`manual_reset = false`) is reset by
    /// the wait that observes it; a manual-reset one stays set until [`Event::reset`].
    pub fn new(manual_reset: bool) -> Self {
        let inner =
            Arc::new(EventInner { id: next_id(), manual_reset, set: Mutex::new(false), cv: Condvar::new() });
        targets().insert(inner.id, Target::Event(Arc::downgrade(&inner)));
        Event { inner }
    }

    /// The value to pass as `dwCallback` with `DCB_EVENT`/`CALLBACK_EVENT`.
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// Sets the event, waking waiters.
    pub fn set(&self) {
        *lock(&self.inner.set) = true;
        self.inner.cv.notify_all();
    }

    /// Clears the event.
    pub fn reset(&self) {
        *lock(&self.inner.set) = false;
    }

    /// Whether the event is set (without consuming it).
    pub fn is_set(&self) -> bool {
        *lock(&self.inner.set)
    }

    /// Waits until the event is set or `timeout` passes; true if it was set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut set = lock(&self.inner.set);
        while !*set {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            set = self.inner.cv.wait_timeout(set, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        if !self.inner.manual_reset {
            *set = false;
        }
        true
    }
}

/// A notification posted through `DCB_WINDOW` or `DCB_TASK`: what a window procedure
/// or a thread's message loop receives (`wParam` = the device handle, `lParam` =
/// `dwParam1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostedMessage {
    /// The device (driver instance) handle.
    pub hdrvr: Hdrvr,
    /// The message, e.g. `MM_WOM_DONE`.
    pub msg: Msg,
    /// `dwParam1` of the notification.
    pub param1: usize,
}

struct QueueInner {
    id: usize,
    capacity: usize,
    messages: Mutex<VecDeque<PostedMessage>>,
    cv: Condvar,
}

impl Drop for QueueInner {
    fn drop(&mut self) {
        targets().remove(&self.id);
    }
}

/// A message queue, the target of `DCB_WINDOW` and `DCB_TASK` (Windows: a window or a
/// thread's queue). Clones share one queue.
#[derive(Clone)]
pub struct MessageQueue {
    inner: Arc<QueueInner>,
}

impl Default for MessageQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageQueue {
    /// A queue holding up to [`DEFAULT_QUEUE_CAPACITY`] messages.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_QUEUE_CAPACITY)
    }

    /// A queue holding up to `capacity` messages; posts beyond it fail.
    pub fn with_capacity(capacity: usize) -> Self {
        let inner = Arc::new(QueueInner {
            id: next_id(),
            capacity,
            messages: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
        });
        targets().insert(inner.id, Target::Queue(Arc::downgrade(&inner)));
        MessageQueue { inner }
    }

    /// The value to pass as `dwCallback` with `DCB_WINDOW`/`DCB_TASK`.
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// Appends a message; false if the queue is full.
    pub fn post(&self, message: PostedMessage) -> bool {
        let mut messages = lock(&self.inner.messages);
        if messages.len() >= self.inner.capacity {
            return false;
        }
        messages.push_back(message);
        drop(messages);
        self.inner.cv.notify_one();
        true
    }

    /// Takes the oldest message, if any.
    pub fn try_recv(&self) -> Option<PostedMessage> {
        lock(&self.inner.messages).pop_front()
    }

    /// Waits up to `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<PostedMessage> {
        let deadline = Instant::now() + timeout;
        let mut messages = lock(&self.inner.messages);
        loop {
            if let Some(m) = messages.pop_front() {
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            messages = self.inner.cv.wait_timeout(messages, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Number of messages waiting.
    pub fn len(&self) -> usize {
        lock(&self.inner.messages).len()
    }

    /// Whether no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Win32 targets of a value that names no portable one.
#[cfg(windows)]
mod win32 {
    use drvproc::{Hdrvr, Msg};
    use windows_sys::Win32::System::Threading::SetEvent;
    use windows_sys::Win32::UI::WindowsAndMessaging::{PostMessageW, PostThreadMessageW};

    pub(super) fn set_event(handle: usize) -> bool {
        // SAFETY: SetEvent validates the handle in the kernel; an invalid value fails
        // with ERROR_INVALID_HANDLE. No memory of this process is touched.
        unsafe { SetEvent(handle as _) != 0 }
    }

    pub(super) fn post_to_window(hwnd: usize, hdrvr: Hdrvr, msg: Msg, p1: usize) -> bool {
        // SAFETY: PostMessageW validates the window handle (ERROR_INVALID_WINDOW_HANDLE
        // for a stale one); the parameters are copied into the message, not read.
        unsafe { PostMessageW(hwnd as _, msg, hdrvr.raw(), p1 as isize) != 0 }
    }

    pub(super) fn post_to_thread(thread: usize, hdrvr: Hdrvr, msg: Msg, p1: usize) -> bool {
        let Ok(thread) = u32::try_from(thread) else { return false };
        // SAFETY: PostThreadMessageW validates the thread id (ERROR_INVALID_THREAD_ID
        // for a thread without a queue); the parameters are copied, not read.
        unsafe { PostThreadMessageW(thread, msg, hdrvr.raw(), p1 as isize) != 0 }
    }
}

/// Elsewhere a value naming no portable target names nothing.
#[cfg(not(windows))]
mod win32 {
    use drvproc::{Hdrvr, Msg};

    pub(super) fn set_event(_: usize) -> bool {
        false
    }

    pub(super) fn post_to_window(_: usize, _: Hdrvr, _: Msg, _: usize) -> bool {
        false
    }

    pub(super) fn post_to_thread(_: usize, _: Hdrvr, _: Msg, _: usize) -> bool {
        false
    }
}

/// Notifies a client the way `DriverCallback` does (spec §12, D13, D16).
///
/// `flags & DCB_TYPEMASK` picks the target type (`DCB_NOSWITCH` is ignored):
/// - `DCB_NULL`, a zero `callback`, or an unknown type: nothing happens, `false`;
/// - `DCB_FUNCTION`: calls `callback` as an `LPDRVCALLBACK` with
///   `(hdrvr, msg, user, p1, p2)` on this thread, `true`;
/// - `DCB_EVENT`: sets the [`Event`] whose id is `callback`;
/// - `DCB_WINDOW`, `DCB_TASK`: posts `(hdrvr, msg, p1)` to the [`MessageQueue`] whose id
///   is `callback`; `false` if it is full.
///
/// An event or queue id that names no live target gives `false`, except on
/// Windows, where such a value is taken for what winmm takes it for: `DCB_EVENT`
/// calls `SetEvent(callback)`, `DCB_WINDOW` `PostMessageW(callback, msg, hdrvr, p1)`,
/// `DCB_TASK` `PostThreadMessageW(callback, msg, hdrvr, p1)` (a value above
/// `u32::MAX` is no thread id: `false`), with their result. The system validates
/// the value; nothing in this process is dereferenced.
///
/// # Safety
/// With `DCB_FUNCTION`, `callback` must be the address of a function with the
/// `LPDRVCALLBACK` signature that is sound to call with these arguments. On
/// Windows, with the other types, a value that is not a portable id must be the
/// event, window or thread the client chose: the system acts on whatever object
/// of this process the value names.
pub unsafe fn driver_callback(
    callback: usize,
    flags: u32,
    hdrvr: Hdrvr,
    msg: Msg,
    user: usize,
    p1: usize,
    p2: usize,
) -> bool {
    if callback == 0 {
        return false;
    }
    match flags & DCB_TYPEMASK {
        DCB_FUNCTION => {
            // SAFETY: the caller guarantees `callback` is an LPDRVCALLBACK; a
            // non-zero address converts to a non-null function pointer.
            let f: DrvCallback = unsafe { std::mem::transmute::<usize, DrvCallback>(callback) };
            // SAFETY: the caller guarantees the function is sound to call.
            unsafe { f(hdrvr, msg, user, p1, p2) };
            true
        }
        DCB_EVENT => {
            let event = match targets().get(&callback) {
                Some(Target::Event(weak)) => weak.upgrade(),
                _ => None,
            };
            match event {
                Some(inner) => {
                    Event { inner }.set();
                    true
                }
                None => win32::set_event(callback),
            }
        }
        DCB_WINDOW | DCB_TASK => {
            let queue = match targets().get(&callback) {
                Some(Target::Queue(weak)) => weak.upgrade(),
                _ => None,
            };
            match queue {
                Some(inner) => MessageQueue { inner }.post(PostedMessage { hdrvr, msg, param1: p1 }),
                None if flags & DCB_TYPEMASK == DCB_WINDOW => win32::post_to_window(callback, hdrvr, msg, p1),
                None => win32::post_to_thread(callback, hdrvr, msg, p1),
            }
        }
        DCB_NULL => false,
        _ => false,
    }
}
