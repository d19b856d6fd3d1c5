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
//! On Windows the same process-wide barrier is `FlushProcessWriteBuffers`, which
//! interrupts every processor running a thread of the process (Vista and later, so
//! every target Rust supports; no registration); not under Wine, where it is a stub.
//! Elsewhere, or where `membarrier` is unavailable, both sides use a full fence, which
//! is correct and merely slower on the send side. Setting `DRVPROC_NO_MEMBARRIER` (to
//! anything but `0` or empty) in the environment forces that fallback on every
//! platform, so it can be tested.

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

#[cfg(windows)]
mod sys {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};

    /// Nothing to register: the call is always available, except that under Wine
    /// (8.0) `NtFlushProcessWriteBuffers` is a stub that returns without ordering
    /// anything, so there sends keep their fence. Wine is recognised by the export
    /// its ntdll has and Windows' does not.
    pub(super) fn register() -> bool {
        // SAFETY: NUL-terminated names; ntdll is loaded in every process.
        let wine = unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
            !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
        };
        !wine
    }

    /// A full barrier on every processor running a thread of the process. It
    /// cannot fail.
    pub(super) fn expedited() -> bool {
        // SAFETY: takes no arguments and touches no memory of ours.
        unsafe { windows_sys::Win32::System::Threading::FlushProcessWriteBuffers() };
        true
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
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
    INIT.call_once(|| {
        let forced_off = std::env::var_os("DRVPROC_NO_MEMBARRIER").is_some_and(|v| !v.is_empty() && v != "0");
        EXPEDITED.store(!forced_off && sys::register(), Ordering::SeqCst)
    });
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
    if EXPEDITED.load(Ordering::Relaxed) && !sys::expedited() {
        // After a successful registration the kernel does not fail this command, and
        // every send since then relied on it. Going on without it could let a close
        // free an instance a send is inside: stop instead, in every build.
        expedited_barrier_failed();
    }
    fence(Ordering::SeqCst);
}

#[cold]
fn expedited_barrier_failed() -> ! {
    eprintln!(
        "drvproc: the process-wide barrier failed after registration; sends can no longer be ordered, aborting"
    );
    std::process::abort()
}

/// Whether sends run with the light barrier (`membarrier` on Linux,
/// `FlushProcessWriteBuffers` on Windows), for diagnostics and benchmarks.
pub fn expedited() -> bool {
    EXPEDITED.load(Ordering::Relaxed)
}
