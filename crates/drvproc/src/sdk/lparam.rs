//! Turning `LPARAM`s into typed values where a message's contract says what they hold.
//!
//! The manager forwards `lParam1`/`lParam2` verbatim; only the sender and the driver
//! agree on what they mean. These helpers are `unsafe` because the compiler cannot
//! check that agreement: call them only for messages whose definition says the
//! parameter is such a pointer.

use crate::types::LParam;
use crate::wide::WideString;

/// Reads `l` as `&T`; `None` for 0 or a pointer not aligned for `T`.
///
/// # Safety
/// `l` must be 0 or point to a valid, initialised `T` that is not mutated elsewhere
/// for the lifetime `'a` (in practice: for the duration of the message).
pub unsafe fn lparam_ref<'a, T>(l: LParam) -> Option<&'a T> {
    let ptr = l as *const T;
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: non-null and aligned; validity and aliasing are the caller's contract.
    Some(unsafe { &*ptr })
}

/// Reads `l` as `&mut T`; `None` for 0 or a pointer not aligned for `T`.
///
/// # Safety
/// `l` must be 0 or point to a valid `T` that nothing else accesses for the lifetime
/// `'a` (in practice: for the duration of the message).
pub unsafe fn lparam_mut<'a, T>(l: LParam) -> Option<&'a mut T> {
    let ptr = l as *mut T;
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: non-null and aligned; validity and exclusivity are the caller's contract.
    Some(unsafe { &mut *ptr })
}

/// Copies the NUL-terminated UTF-16 string `l` points to; `None` for 0.
///
/// # Safety
/// `l` must be 0 or point to a NUL-terminated UTF-16 string readable for the call.
pub unsafe fn lparam_wstr(l: LParam) -> Option<WideString> {
    // SAFETY: forwarded contract of WideString::from_ptr.
    unsafe { WideString::from_ptr(l as *const u16) }
}

/// The `LPARAM` that passes `r` by pointer (as `SendDriverMessage(h, msg, 0, &x)` does).
pub fn lparam_from_ref<T>(r: &T) -> LParam {
    std::ptr::from_ref(r) as LParam
}

/// The `LPARAM` that passes `r` by mutable pointer, for messages that fill a structure.
pub fn lparam_from_mut<T>(r: &mut T) -> LParam {
    std::ptr::from_mut(r) as LParam
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut x = 42u64;
        let l = lparam_from_mut(&mut x);
        // SAFETY: `l` points to `x`, alive and not otherwise used while `r` lives.
        let r = unsafe { lparam_mut::<u64>(l) }.unwrap();
        *r = 7;
        assert_eq!(x, 7);
        // SAFETY: as above, shared.
        assert_eq!(unsafe { lparam_ref::<u64>(lparam_from_ref(&x)) }, Some(&7));
    }

    #[test]
    fn null_and_misaligned_are_none() {
        // SAFETY: 0 is allowed.
        assert!(unsafe { lparam_ref::<u32>(0) }.is_none());
        // SAFETY: 0 is allowed.
        assert!(unsafe { lparam_wstr(0) }.is_none());
        let buf = [0u64; 2];
        let odd = lparam_from_ref(&buf) + 1;
        // SAFETY: misaligned pointers are rejected before any read.
        assert!(unsafe { lparam_ref::<u64>(odd) }.is_none());
        // SAFETY: as above.
        assert!(unsafe { lparam_mut::<u64>(odd) }.is_none());
    }
}
