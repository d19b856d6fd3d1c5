//! The last failure of a hosted call on this thread.
//!
//! A hosted module's call that fails (its host died or hung, its parameters could
//! not be carried) answers 0, as a driver refusing the message would: that keeps
//! `SendDriverMessage`'s contract and its fast path. What went wrong is kept here,
//! per thread, for the typed API to turn into an error, and handed to a hook that
//! the C ABI sets, so that `drvproc_last_error()` says it.

use std::cell::RefCell;
use std::sync::OnceLock;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
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
