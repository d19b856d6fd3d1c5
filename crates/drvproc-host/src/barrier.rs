//! Asymmetric memory barriers: a nearly free one for the hot side (every send) and
//! an expensive one for the rare side (closing an instance that was sent to).
//!
//! A send announces the handle it is entering with a plain store, then reads the
//! instance's state; a close marks the state closing, then looks for announcements.
//! Each side needs its store ordered before its load (a store-buffer pattern). Instead
//! of a full fence on every send, the send side only stops the compiler from
//! reordering ([`light`]), and the close side makes every other running thread of the
//! process execute a full barrier ([`heavy`], Linux `membarrier`): whichever order the
//! two sides ran in, the closer then sees the announcement or the sender sees the mark.
//! Where `membarrier` is unavailable both sides use a full fence, which is correct and
//! merely slower on the send side.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering, compiler_fence, fence};

static EXPEDITED: AtomicBool = AtomicBool::new(false);
static INIT: Once = Once::new();

#[cfg(target_os = "linux")]
mod sys {
    // linux/membarrier.h
    const CMD_QUERY: libc::c_long = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier takes two integers and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long, 0 as libc::c_long) }
    }

    /// Registers this process for private expedited barriers; false if unsupported
    /// (old kernel, or a sandbox filtering the call).
    pub(super) fn register() -> bool {
        let supported = membarrier(CMD_QUERY);
        supported >= 0
            && supported & CMD_PRIVATE_EXPEDITED != 0
            && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every running thread of the process; false if it failed.
    pub(super) fn expedited() -> bool {
        membarrier(CMD_PRIVATE_EXPEDITED) == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn expedited() -> bool {
        false
    }
}

/// Chooses the barrier pair, once, before any handle table exists (so every send
/// and close afterwards sees the same choice).
pub(crate) fn init() {
    INIT.call_once(|| EXPEDITED.store(sys::register(), Ordering::SeqCst));
}

/// The send side: orders the announcement store before the state load. `expedited`
/// is [`expedited()`] as read once by the caller's table (a field beside data the send
/// reads anyway is cheaper than a global on every send).
#[inline(always)]
pub(crate) fn light(expedited: bool) {
    if expedited {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The close side: after it, every announcement made before the closing mark is
/// visible, and every later send sees the mark.
pub(crate) fn heavy() {
    if EXPEDITED.load(Ordering::Relaxed) {
        // After a successful registration the kernel does not fail this command; it
        // is what the send side's light barrier relies on.
        let done = sys::expedited();
        debug_assert!(done, "membarrier failed after registration");
    }
    fence(Ordering::SeqCst);
}

/// Whether sends run with the light barrier (`membarrier` is available), for
/// diagnostics and benchmarks.
pub fn expedited() -> bool {
    EXPEDITED.load(Ordering::Relaxed)
}
