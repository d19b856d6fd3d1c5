//! Scalar types of the installable-driver ABI, with the Windows widths (spec §2.1).
//!
//! Every type here is pointer-sized or 32-bit exactly as `mmiscapi.h` declares it, so a
//! Rust `DriverProc` and a C one are interchangeable through a function pointer.

use std::fmt;

/// `DWORD_PTR dwDriverId`: the value a driver returned from `DRV_OPEN`, or 0 for
/// module-level messages.
pub type DriverId = usize;
/// `LPARAM`: signed, pointer-sized; often carries a pointer.
pub type LParam = isize;
/// `LRESULT`: signed, pointer-sized answer of a driver.
pub type LResult = isize;
/// `UINT msg`: a message number (every defined one fits in 16 bits).
pub type Msg = u32;

/// `HDRVR`: the manager's handle of one driver instance.
///
/// It is opaque and pointer-sized; a valid handle is never 0. `Hdrvr` is
/// `#[repr(transparent)]` over `usize`, so it travels through `extern "system"`
/// calls exactly like the C `HDRVR` pointer does.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hdrvr(usize);

impl Hdrvr {
    /// The null handle: what a failed open returns and what no live instance has.
    pub const NULL: Hdrvr = Hdrvr(0);

    /// Wraps a raw handle value (as received through the C ABI).
    pub const fn from_raw(raw: usize) -> Self {
        Hdrvr(raw)
    }

    /// The raw value, as passed through the C ABI.
    pub const fn raw(self) -> usize {
        self.0
    }

    /// True for the null handle.
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Hdrvr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hdrvr({:#x})", self.0)
    }
}

impl fmt::Display for Hdrvr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The driver entry point, `LRESULT CALLBACK DriverProc(DWORD_PTR, HDRVR, UINT, LPARAM, LPARAM)`.
///
/// It is `unsafe` to call because the meaning of the two `LPARAM`s depends on the
/// message: for `DRV_OPEN`, `DRV_INSTALL`, `DRV_CONFIGURE` and most class messages they
/// are pointers the driver will dereference.
pub type DriverProc = unsafe extern "system" fn(DriverId, Hdrvr, Msg, LParam, LParam) -> LResult;

/// `LPDRVCALLBACK`: the client function a `DCB_FUNCTION` notification calls,
/// `void CALLBACK fn(HDRVR, UINT msg, DWORD_PTR user, DWORD_PTR p1, DWORD_PTR p2)`.
pub type DrvCallback = unsafe extern "system" fn(Hdrvr, Msg, usize, usize, usize);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, size_of};

    #[test]
    fn widths_match_windows() {
        assert_eq!(size_of::<Hdrvr>(), size_of::<*const ()>());
        assert_eq!(align_of::<Hdrvr>(), align_of::<*const ()>());
        assert_eq!(size_of::<DriverId>(), size_of::<*const ()>());
        assert_eq!(size_of::<LParam>(), size_of::<*const ()>());
        assert_eq!(size_of::<LResult>(), size_of::<*const ()>());
        assert_eq!(size_of::<Msg>(), 4);
        assert_eq!(size_of::<DriverProc>(), size_of::<*const ()>());
        assert_eq!(size_of::<Option<DriverProc>>(), size_of::<*const ()>());
    }

    #[test]
    fn null_handle() {
        assert!(Hdrvr::NULL.is_null());
        assert!(!Hdrvr::from_raw(1).is_null());
        assert_eq!(Hdrvr::from_raw(0x1234).raw(), 0x1234);
        assert_eq!(Hdrvr::default(), Hdrvr::NULL);
        assert_eq!(format!("{:?}", Hdrvr::from_raw(0x1f)), "Hdrvr(0x1f)");
        assert_eq!(Hdrvr::from_raw(0x1f).to_string(), "0x1f");
    }
}
