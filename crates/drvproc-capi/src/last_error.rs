//! The reason for the last failure on this thread, for `drvproc_last_error()`.
//!
//! The message lives in a fixed per-thread buffer, so the pointer handed to C stays
//! valid for the thread's whole life: a caller that reads it after (or, through C's
//! unspecified argument order, before) another call gets a current or stale text,
//! never freed memory.

use std::cell::RefCell;
use std::ffi::c_char;

/// Longest message kept, in bytes, including the terminating NUL.
const CAPACITY: usize = 1024;

thread_local! {
    static LAST: RefCell<[u8; CAPACITY]> = const { RefCell::new([0; CAPACITY]) };
}

/// Records `message` as this thread's last error (cut at a NUL, and at a character
/// boundary to fit the buffer).
pub(crate) fn set(message: impl AsRef<str>) {
    let message = message.as_ref();
    let mut end = message.find('\0').unwrap_or(message.len()).min(CAPACITY - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    LAST.with(|l| {
        let mut buf = l.borrow_mut();
        buf[..end].copy_from_slice(&message.as_bytes()[..end]);
        buf[end] = 0;
    });
}

/// Clears this thread's last error (a call succeeded).
pub(crate) fn clear() {
    LAST.with(|l| l.borrow_mut()[0] = 0);
}

/// `const char *drvproc_last_error(void)`: this thread's last failure message, UTF-8,
/// empty after a success. The buffer belongs to the library and to the calling
/// thread; its address stays valid for the thread's life, its text until the thread's
/// next call into the library.
#[unsafe(no_mangle)]
pub extern "C" fn drvproc_last_error() -> *const c_char {
    LAST.with(|l| l.as_ptr().cast::<c_char>().cast_const())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn read() -> String {
        // SAFETY: the buffer is NUL-terminated and lives as long as this thread.
        unsafe { CStr::from_ptr(drvproc_last_error()) }.to_str().unwrap().to_string()
    }

    #[test]
    fn set_clear_truncate() {
        let p = drvproc_last_error();
        set("first");
        assert_eq!(read(), "first");
        set("a\0b");
        assert_eq!(read(), "a");
        set("é".repeat(600));
        assert_eq!(read().len(), 1022, "cut at a character boundary below 1024");
        clear();
        assert_eq!(read(), "");
        assert_eq!(p, drvproc_last_error(), "the address never changes");
    }
}
