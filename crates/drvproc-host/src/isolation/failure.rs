//! The last failure of a hosted call on this thread.
//!
//! A hosted module's call that fails (its host died or hung, its parameters could
//! not be carried) answers 0, as a driver refusing the message would: that keeps
//! `SendDriverMessage`'s contract and its fast path. What went wrong is kept here,
//! per thread, for the typed API to turn into an error, and handed to a hook that
//! the C ABI sets, so that `drvproc_last_error()` says it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use drvproc::Hdrvr;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Handles that a host's death invalidated, with the death in words, newest last:
/// what a later call with one of them is told besides "bad handle". Written only
/// when a host dies and read only when a handle is refused, both rare; bounded, so
/// that any number of deaths costs the same memory.
static BURIED: Mutex<VecDeque<(Hdrvr, Arc<str>)>> = Mutex::new(VecDeque::new());

/// How many invalidated handles [`BURIED`] remembers.
const BURIED_MAX: usize = 256;

/// Records that `h` was invalidated by the death `why`.
pub(crate) fn bury(h: Hdrvr, why: &Arc<str>) {
    let mut buried = BURIED.lock().unwrap_or_else(PoisonError::into_inner);
    if buried.len() == BURIED_MAX {
        buried.pop_front();
    }
    buried.push_back((h, why.clone()));
}

/// Why `h` is no longer valid, when the death of its driver's host process made
/// it so (among the last 256 handles that deaths invalidated in this process):
/// e.g. `driver /x/libcodec.so died on DRV_USER+0: host process 4242 was killed by
/// SIGSEGV`. Handles are not reused for a long time (see the handle table), so the
/// answer is about this handle; `None` for any other bad handle.
pub fn death_of(h: Hdrvr) -> Option<String> {
    let buried = BURIED.lock().unwrap_or_else(PoisonError::into_inner);
    buried.iter().rev().find(|(b, _)| *b == h).map(|(_, why)| why.to_string())
}

/// Called with each failure as it happens (the C ABI's last error).
static HOOK: OnceLock<fn(&str)> = OnceLock::new();

/// Sets the function every failure is also handed to. The first call wins.
pub fn set_failure_hook(hook: fn(&str)) {
    let _ = HOOK.set(hook);
}

/// Records `text` as this thread's last hosted failure.
pub(crate) fn record(text: String) {
    if let Some(hook) = HOOK.get() {
        hook(&text);
    }
    // `try_with`: a send from a thread-local destructor may fail after this
    // thread's slot is gone; the hook has had the text all the same.
    let _ = LAST.try_with(|last| *last.borrow_mut() = Some(text));
}

/// Takes this thread's last hosted failure, leaving none.
pub fn take_hosted_failure() -> Option<String> {
    LAST.try_with(|last| last.borrow_mut().take()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_buried_handles_are_remembered_and_no_more() {
        let why: Arc<str> = "driver x died on DRV_USER+0: host process 1 was killed by SIGSEGV".into();
        // Handles no table issues (index 0), so other tests' entries are not disturbed.
        let h = |n: usize| Hdrvr::from_raw(n << 32);
        for n in 1..=BURIED_MAX + 1 {
            bury(h(n), &why);
        }
        assert_eq!(death_of(h(1)), None, "the oldest is forgotten");
        assert_eq!(death_of(h(2)).as_deref(), Some(&*why));
        assert_eq!(death_of(h(BURIED_MAX + 1)).as_deref(), Some(&*why));
        assert_eq!(death_of(h(BURIED_MAX + 2)), None);
    }
}
