//! What an open's `lParam2` is, as its opener says it, for the `DRV_OPEN`s of
//! that open on this thread.
//!
//! `OpenDriver`'s `lParam2` may be an integer the driver never dereferences as
//! well as a pointer to a structure, and nothing in the value tells which. For a
//! driver in this process that does not matter; for a hosted one it must be known
//! before the value is touched (see `marshal`): a number travels as it is, a class
//! structure (`ACMDRVOPENDESCW`, `ICOPEN`) is copied, and teaches the hosted module
//! its class. The value travels down the open's path as an `LParam` like any
//! other, so the statement goes beside it, here, for as long as the open runs.

use std::cell::Cell;

use drvproc::DriverClass;

/// What the opener said `lParam2` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum OpenParam {
    /// Nothing: a non-NULL value is read only as the driver's known class says.
    #[default]
    Unsaid,
    /// A number ([`DriverManager::open_with_number`](crate::DriverManager::open_with_number)).
    Number,
    /// An `ACMDRVOPENDESCW` (the ACM client's opens).
    AcmOpenDesc,
    /// An `ICOPEN` (the VfW client's opens).
    IcOpen,
}

impl OpenParam {
    /// The driver class a structure of this kind names.
    pub(crate) fn class(self) -> Option<DriverClass> {
        match self {
            OpenParam::AcmOpenDesc => Some(DriverClass::Acm),
            OpenParam::IcOpen => Some(DriverClass::Icm),
            OpenParam::Unsaid | OpenParam::Number => None,
        }
    }
}

thread_local! {
    static SAID: Cell<OpenParam> = const { Cell::new(OpenParam::Unsaid) };
}

/// Marks this thread's open in progress; the mark ends when the guard drops (also
/// on an unwind), restoring what an enclosing open had said.
pub(crate) struct Marked {
    before: OpenParam,
}

/// Says what this thread's open from now on has for `lParam2`.
pub(crate) fn mark(said: OpenParam) -> Marked {
    Marked { before: SAID.replace(said) }
}

impl Drop for Marked {
    fn drop(&mut self) {
        SAID.set(self.before);
    }
}

/// What this thread's open in progress said its `lParam2` is.
pub(crate) fn current() -> OpenParam {
    SAID.get()
}
