//! UTF-16 strings as the Win32 driver ABI passes them (`LPCWSTR`, NUL-terminated).

use std::fmt;

/// Longest string read through a raw `LPCWSTR` (the Win32 extended path limit).
///
/// A pointer from a buggy caller may not be NUL-terminated; stopping here bounds
/// the damage to a truncated string instead of an unbounded read.
pub const MAX_WIDE_LEN: usize = 32_767;

/// An owned, NUL-terminated UTF-16 string whose pointer can be handed to a driver.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WideString {
    /// Always ends with exactly one NUL, and has no NUL before it.
    units: Vec<u16>,
}

/// A string that cannot be passed as `LPCWSTR` because it holds a NUL character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("string {0:?} contains a NUL character and cannot be passed as a C string")]
pub struct InteriorNul(pub String);

impl Default for WideString {
    /// The empty string (a lone NUL).
    fn default() -> Self {
        WideString { units: vec![0] }
    }
}

impl WideString {
    /// Encodes `s` as UTF-16 with a terminating NUL.
    pub fn new(s: &str) -> Result<Self, InteriorNul> {
        if s.contains('\0') {
            return Err(InteriorNul(s.to_string()));
        }
        let mut units: Vec<u16> = s.encode_utf16().collect();
        units.push(0);
        Ok(WideString { units })
    }

    /// Copies UTF-16 units (without terminator); stops at the first NUL, if any.
    pub fn from_units(units: &[u16]) -> Self {
        let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
        let mut v = units[..end].to_vec();
        v.push(0);
        WideString { units: v }
    }

    /// Copies the string a raw `LPCWSTR` points to; `None` for a null pointer.
    ///
    /// At most [`MAX_WIDE_LEN`] units are read; a longer string is truncated.
    ///
    /// # Safety
    /// `ptr` must be null or point to readable UTF-16 units up to a NUL terminator or
    /// [`MAX_WIDE_LEN`] units, whichever comes first, valid for the duration of the call.
    pub unsafe fn from_ptr(ptr: *const u16) -> Option<Self> {
        if ptr.is_null() {
            return None;
        }
        let mut len = 0;
        // SAFETY: the caller guarantees units are readable up to the NUL or the cap,
        // and we never read past either.
        while len < MAX_WIDE_LEN && unsafe { *ptr.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: the `len` units just read are valid and initialised.
        let units = unsafe { std::slice::from_raw_parts(ptr, len) };
        Some(Self::from_units(units))
    }

    /// The pointer to pass as `LPCWSTR`; valid while `self` lives and is not mutated.
    pub fn as_ptr(&self) -> *const u16 {
        self.units.as_ptr()
    }

    /// The units without the terminating NUL.
    pub fn units(&self) -> &[u16] {
        &self.units[..self.units.len() - 1]
    }

    /// Decodes to a Rust string, replacing unpaired surrogates with U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf16_lossy(self.units())
    }

    /// Decodes to a Rust string; `None` if it holds unpaired surrogates.
    pub fn to_string_checked(&self) -> Option<String> {
        String::from_utf16(self.units()).ok()
    }
}

impl fmt::Debug for WideString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for WideString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let w = WideString::new("héllo wörld 🎵").unwrap();
        assert_eq!(w.units().last(), Some(&0xDFB5));
        // SAFETY: `w` is NUL-terminated and alive.
        let back = unsafe { WideString::from_ptr(w.as_ptr()) }.unwrap();
        assert_eq!(back, w);
        assert_eq!(back.to_string_checked().as_deref(), Some("héllo wörld 🎵"));
    }

    #[test]
    fn null_and_nul() {
        // SAFETY: a null pointer is explicitly allowed.
        assert_eq!(unsafe { WideString::from_ptr(std::ptr::null()) }, None);
        assert_eq!(WideString::new("a\0b"), Err(InteriorNul("a\0b".into())));
        assert_eq!(WideString::from_units(&[65, 0, 66]).to_string_lossy(), "A");
        assert_eq!(WideString::default().units(), &[] as &[u16]);
    }

    #[test]
    fn unpaired_surrogate() {
        let w = WideString::from_units(&[0x41, 0xD800, 0x42]);
        assert_eq!(w.to_string_checked(), None);
        assert_eq!(w.to_string_lossy(), "A\u{FFFD}B");
    }

    #[test]
    fn unterminated_input_is_capped() {
        let long = vec![0x61u16; MAX_WIDE_LEN + 10];
        // SAFETY: the buffer holds more than MAX_WIDE_LEN readable units.
        let w = unsafe { WideString::from_ptr(long.as_ptr()) }.unwrap();
        assert_eq!(w.units().len(), MAX_WIDE_LEN);
    }
}
