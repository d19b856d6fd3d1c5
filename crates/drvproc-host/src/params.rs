//! Messages whose parameters the sender describes.
//!
//! `SendDriverMessage` passes two integers, and only the driver knows whether one
//! is an address. In the application's process that does not matter; for a driver
//! hosted in another process it does: an address must become a copy of the memory
//! it names. The standard messages are known (see `isolation::marshal`); for any
//! other, [`DriverManager::send_params`](crate::DriverManager::send_params) takes
//! the parameters as [`Param`]s, which say what each one is. A custom message sent
//! to a hosted driver with plain integers is delivered only when both are 0;
//! otherwise it is refused, never forwarded as an integer that may be an address
//! that means nothing in the host.

use drvproc::LParam;

/// One parameter of a message, as its sender describes it.
#[derive(Debug)]
pub enum Param<'a> {
    /// An integer, passed as it is.
    Int(LParam),
    /// A buffer the driver reads.
    In(&'a [u8]),
    /// A buffer the driver fills. In the application's process the driver writes
    /// into it directly; a hosted driver receives zeroes, and all of it comes back.
    Out(&'a mut [u8]),
    /// A buffer the driver reads and writes.
    InOut(&'a mut [u8]),
}

impl Param<'_> {
    /// The raw `lParam` for a driver in this process: the integer, or the buffer's
    /// address (which lives as long as the borrow).
    pub(crate) fn raw(&mut self) -> LParam {
        match self {
            Param::Int(v) => *v,
            Param::In(b) => b.as_ptr() as LParam,
            Param::Out(b) | Param::InOut(b) => b.as_mut_ptr() as LParam,
        }
    }
}

/// Why a described send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The handle names no open instance of this manager.
    #[error(transparent)]
    BadHandle(#[from] crate::BadHandle),
    /// The message could not be delivered to a hosted driver, or its host died
    /// in it; the words name the driver, the message and what happened.
    #[error("{0}")]
    Hosted(String),
}
