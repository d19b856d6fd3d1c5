//! Names and paths as the Windows API takes them: UTF-16 with a terminating NUL.

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;

/// `text` in UTF-16 with a terminating NUL, for a `PCWSTR` argument. (An `OsStr` on
/// Windows is already UTF-16 underneath, unpaired surrogates included.)
pub(crate) fn nul_terminated(text: impl AsRef<OsStr>) -> Vec<u16> {
    text.as_ref().encode_wide().chain(Some(0)).collect()
}
