//! "This open's `lParam2` is a number": what a caller says with
//! [`DriverManager::open_with_number`](crate::DriverManager::open_with_number), for
//! the `DRV_OPEN`s of that open on this thread.
//!
//! An isolated driver of no known class gets a non-NULL `DRV_OPEN` `lParam2` only
//! when it is known not to be an address (see `marshal`); the value travels down
//! the open's path as an `LParam` like any other, so the statement goes beside it,
//! here, for as long as the open runs.

use std::cell::Cell;

thread_local! {
    static NUMBER: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread's open in progress; the mark ends when the guard drops (also
/// on an unwind), restoring what an enclosing open had said.
pub(crate) struct Marked {
    before: bool,
}

/// Says whether this thread's open from now on has a number for `lParam2`.
pub(crate) fn mark(number: bool) -> Marked {
    Marked { before: NUMBER.replace(number) }
}

impl Drop for Marked {
    fn drop(&mut self) {
        NUMBER.set(self.before);
    }
}

/// Whether this thread's open in progress said its `lParam2` is a number.
pub(crate) fn is_number() -> bool {
    NUMBER.get()
}
