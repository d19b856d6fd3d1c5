//! The count of panics the SDK caught in this image, and the last one's message,
//! readable by the manager through the `drvproc_sdk_panics` export.
//!
//! A caught panic is answered with 0, which is also `DefDriverProc`'s answer to most
//! messages: by its answers alone a driver that panics on every message can look
//! conforming. The `tracing` event the SDK emits goes to the driver's own copy of
//! `tracing`, which a manager in another crate never sees. The count crosses the
//! library boundary as a plain C function that
//! [`export_driver!`](crate::export_driver) exports beside `DriverProc`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The name of the export a manager looks up with `dlsym`/`GetProcAddress`.
pub const PANICS_SYMBOL: &str = "drvproc_sdk_panics";

/// Its type: `uint64_t drvproc_sdk_panics(char *buf, size_t len)`. It returns the
/// number of panics caught in this image since it was mapped and writes the last
/// one's message into `buf` as UTF-8, cut at a character boundary to fit and always
/// NUL-terminated (nothing is written when `len` is 0; `buf` may then be NULL).
pub type PanicsFn = unsafe extern "C" fn(buf: *mut u8, len: usize) -> u64;

/// Longest message kept, in bytes.
const KEPT: usize = 1024;

static COUNT: AtomicU64 = AtomicU64::new(0);
static LAST: Mutex<String> = Mutex::new(String::new());

/// Notes one caught panic.
pub(crate) fn record(message: &str) {
    {
        let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
        last.clear();
        last.push_str(&message[..floor_char_boundary(message, KEPT)]);
    }
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// The panics caught in this image so far, and the last one's message.
pub fn caught_panics() -> (u64, String) {
    let last = LAST.lock().unwrap_or_else(PoisonError::into_inner).clone();
    (COUNT.load(Ordering::SeqCst), last)
}

/// The body of the `drvproc_sdk_panics` export; see [`PanicsFn`].
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes (any pointer when `len` is 0).
pub unsafe fn copy_caught_panics(buf: *mut u8, len: usize) -> u64 {
    let (count, last) = caught_panics();
    if len > 0 && !buf.is_null() {
        // SAFETY: the caller promises `buf` is valid for `len` bytes of writes.
        let out = unsafe { std::slice::from_raw_parts_mut(buf, len) };
        terminated(&last, out);
    }
    count
}

/// Writes as much of `text` as fits in `out` before a NUL, ending at a character boundary.
fn terminated(text: &str, out: &mut [u8]) {
    let Some(room) = out.len().checked_sub(1) else { return };
    let n = floor_char_boundary(text, room);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out[n] = 0;
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    if max >= text.len() {
        return text.len();
    }
    (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_at_a_character_and_terminated() {
        let mut out = [0xAAu8; 5];
        terminated("héllo", &mut out);
        assert_eq!(&out, b"h\xc3\xa9l\0");
        let mut out = [0xAAu8; 3];
        terminated("hé", &mut out);
        assert_eq!(&out, b"h\0\xAA");
        let mut out = [0xAAu8; 1];
        terminated("x", &mut out);
        assert_eq!(out, [0]);
        terminated("x", &mut []);
    }

    #[test]
    fn a_caught_panic_is_counted_with_its_message() {
        struct D;
        impl Default for D {
            fn default() -> Self {
                D
            }
        }
        struct I;
        impl crate::sdk::Driver for D {
            type Instance = I;
            fn open(&self, _: &crate::sdk::OpenParams) -> Option<I> {
                Some(I)
            }
        }
        impl crate::sdk::Instance<D> for I {
            fn message(
                &self,
                _: &crate::sdk::Context<'_, D>,
                _: crate::Msg,
                _: crate::LParam,
                _: crate::LParam,
            ) -> crate::LResult {
                panic!("counted panic")
            }
        }
        crate::driver_proc!(fn proc_ = D);
        let before = caught_panics().0;
        let h = crate::Hdrvr::from_raw(7);
        // SAFETY: no message here carries a pointer.
        unsafe {
            assert_eq!(proc_(0, h, crate::consts::DRV_LOAD, 0, 0), 1);
            let id = proc_(0, h, crate::consts::DRV_OPEN, 0, 0) as crate::DriverId;
            assert_eq!(proc_(id, h, crate::consts::DRV_USER, 0, 0), 0);
            proc_(id, h, crate::consts::DRV_CLOSE, 0, 0);
            proc_(0, h, crate::consts::DRV_FREE, 0, 0);
        }
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is 64 writable bytes.
        let count = unsafe { copy_caught_panics(buf.as_mut_ptr(), buf.len()) };
        assert!(count > before, "{count} after {before}");
        // Other tests panic in parallel: the last message is one of theirs or ours.
        assert!(buf.contains(&0));
    }
}
