//! `DRVCONFIGINFO`, the structure `DRV_INSTALL` and `DRV_CONFIGURE` carry in `lParam2`
//! (spec §4.1, determination D12).
//!
//! The SDK declares it inside `pshpack1.h`, so the normal layout is byte-packed:
//! 12 bytes on 32-bit targets and 20 bytes on 64-bit ones (offsets 0/4/12). Code that
//! includes `mmiscapi.h` alone gets the naturally aligned 24-byte form (offsets 0/8/16),
//! so readers accept both and pick the offsets from `dwDCISize`.

use std::mem::{offset_of, size_of};

use crate::types::LParam;
use crate::wide::{InteriorNul, WideString};

/// `DRVCONFIGINFO` with the byte-packed layout of `mmsystem.h`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug)]
pub struct DrvConfigInfo {
    /// `dwDCISize`: the size of the structure in bytes, set by the sender.
    pub dw_dci_size: u32,
    /// `lpszDCISectionName`: the registry key (INI section) holding the driver's entry.
    pub lpsz_dci_section_name: *const u16,
    /// `lpszDCIAliasName`: the alias (value name) of the driver's entry.
    pub lpsz_dci_alias_name: *const u16,
}

/// `sizeof(DRVCONFIGINFO)` with the packed layout: 20 on 64-bit, 12 on 32-bit.
pub const DRVCONFIGINFO_SIZE: u32 = size_of::<DrvConfigInfo>() as u32;

/// `sizeof(DRVCONFIGINFO)` with natural alignment (only seen when `mmiscapi.h` is
/// included alone): 24 on 64-bit, 12 on 32-bit.
pub const DRVCONFIGINFO_NATURAL_SIZE: u32 = (3 * size_of::<usize>()) as u32;

/// A decoded `DRVCONFIGINFO`: the section and alias the driver was installed under.
/// Either may be absent: Microsoft's own sample sends both as NULL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigInfo {
    /// The section (registry key) name, e.g. `Drivers32`.
    pub section: Option<String>,
    /// The alias (value name), e.g. `msacm.imaadpcm`.
    pub alias: Option<String>,
}

/// A `DRVCONFIGINFO` the caller could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigInfoError {
    /// `dwDCISize` matches no known layout for this target.
    #[error(
        "DRVCONFIGINFO has dwDCISize {0}; expected {packed} (packed) or {natural} (aligned)",
        packed = DRVCONFIGINFO_SIZE,
        natural = DRVCONFIGINFO_NATURAL_SIZE
    )]
    BadSize(u32),
}

/// An owned `DRVCONFIGINFO` with its strings, ready to pass as `lParam2`.
///
/// ```
/// use drvproc::config_info::{read_config_info, ConfigInfoBuf};
/// let buf = ConfigInfoBuf::new(Some("Drivers32"), Some("msacm.sample")).unwrap();
/// // SAFETY: `buf` is alive and points at its own strings.
/// let info = unsafe { read_config_info(buf.as_lparam()) }.unwrap().unwrap();
/// assert_eq!(info.section.as_deref(), Some("Drivers32"));
/// assert_eq!(info.alias.as_deref(), Some("msacm.sample"));
/// ```
#[derive(Debug)]
pub struct ConfigInfoBuf {
    // The strings own the heap buffers `raw` points into; a `Vec`'s buffer does not
    // move when the `ConfigInfoBuf` does, so `raw` stays valid.
    _section: Option<WideString>,
    _alias: Option<WideString>,
    raw: Box<DrvConfigInfo>,
}

impl ConfigInfoBuf {
    /// Builds the structure; a `None` string is passed as a NULL pointer.
    pub fn new(section: Option<&str>, alias: Option<&str>) -> Result<Self, InteriorNul> {
        let section = section.map(WideString::new).transpose()?;
        let alias = alias.map(WideString::new).transpose()?;
        let ptr = |w: &Option<WideString>| w.as_ref().map_or(std::ptr::null(), WideString::as_ptr);
        let raw = Box::new(DrvConfigInfo {
            dw_dci_size: DRVCONFIGINFO_SIZE,
            lpsz_dci_section_name: ptr(&section),
            lpsz_dci_alias_name: ptr(&alias),
        });
        Ok(ConfigInfoBuf { _section: section, _alias: alias, raw })
    }

    /// The structure itself.
    pub fn raw(&self) -> &DrvConfigInfo {
        &self.raw
    }

    /// The structure's address as `lParam2`; valid while `self` is alive.
    pub fn as_lparam(&self) -> LParam {
        std::ptr::from_ref::<DrvConfigInfo>(&self.raw) as LParam
    }
}

/// Reads the `DRVCONFIGINFO` that `lparam` points to; `Ok(None)` for a null pointer.
///
/// The layout is chosen by `dwDCISize`: the packed size ([`DRVCONFIGINFO_SIZE`]), the
/// naturally aligned size ([`DRVCONFIGINFO_NATURAL_SIZE`]) and, on 32-bit targets, the
/// 16-byte `DRVCONFIGINFOEX` are accepted. On 64-bit targets a size of 24 is read as the
/// aligned `DRVCONFIGINFO`, not as the packed `DRVCONFIGINFOEX` of the same size (spec D12).
///
/// # Safety
/// `lparam` must be 0 or point to a `DRVCONFIGINFO` whose string pointers are null or
/// valid NUL-terminated UTF-16, all readable for the duration of the call — which is
/// the contract of `DRV_INSTALL` and `DRV_CONFIGURE`.
pub unsafe fn read_config_info(lparam: LParam) -> Result<Option<ConfigInfo>, ConfigInfoError> {
    if lparam == 0 {
        return Ok(None);
    }
    let base = lparam as *const u8;
    // SAFETY: the caller guarantees a readable structure; every structure starts with
    // its 4-byte size. Unaligned reads because the packed form has no alignment.
    let size = unsafe { base.cast::<u32>().read_unaligned() };
    let (section_at, alias_at) = layout_for_size(size).ok_or(ConfigInfoError::BadSize(size))?;
    let read_string = |offset: usize| {
        // SAFETY: `offset` lies inside a structure of `size` bytes (layout_for_size
        // only returns offsets of pointer fields within it).
        let ptr = unsafe { base.add(offset).cast::<*const u16>().read_unaligned() };
        // SAFETY: the caller guarantees the string pointers are null or valid.
        unsafe { WideString::from_ptr(ptr) }.map(|w| w.to_string_lossy())
    };
    Ok(Some(ConfigInfo { section: read_string(section_at), alias: read_string(alias_at) }))
}

/// Offsets of (section, alias) for a structure of `size` bytes on this target.
fn layout_for_size(size: u32) -> Option<(usize, usize)> {
    let ptr = size_of::<usize>();
    let packed =
        (offset_of!(DrvConfigInfo, lpsz_dci_section_name), offset_of!(DrvConfigInfo, lpsz_dci_alias_name));
    match size {
        s if s == DRVCONFIGINFO_SIZE => Some(packed),
        s if s == DRVCONFIGINFO_NATURAL_SIZE => Some((ptr, 2 * ptr)),
        // 32-bit DRVCONFIGINFOEX: the packed fields, then dnDevNode.
        16 if ptr == 4 => Some(packed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_layout() {
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(size_of::<DrvConfigInfo>(), 20);
            assert_eq!(offset_of!(DrvConfigInfo, lpsz_dci_alias_name), 12);
            assert_eq!(DRVCONFIGINFO_NATURAL_SIZE, 24);
        }
        #[cfg(target_pointer_width = "32")]
        {
            assert_eq!(size_of::<DrvConfigInfo>(), 12);
            assert_eq!(offset_of!(DrvConfigInfo, lpsz_dci_alias_name), 8);
            assert_eq!(DRVCONFIGINFO_NATURAL_SIZE, 12);
        }
        assert_eq!(offset_of!(DrvConfigInfo, dw_dci_size), 0);
        assert_eq!(offset_of!(DrvConfigInfo, lpsz_dci_section_name), 4);
        assert_eq!(std::mem::align_of::<DrvConfigInfo>(), 1);
        assert_eq!(DRVCONFIGINFO_SIZE as usize, size_of::<DrvConfigInfo>());
    }

    #[test]
    fn builder_fills_every_field() {
        let buf = ConfigInfoBuf::new(Some("Drivers32"), None).unwrap();
        let raw = *buf.raw();
        assert_eq!({ raw.dw_dci_size }, DRVCONFIGINFO_SIZE);
        assert!(!{ raw.lpsz_dci_section_name }.is_null());
        assert!({ raw.lpsz_dci_alias_name }.is_null());
        // SAFETY: `buf` is alive.
        let info = unsafe { read_config_info(buf.as_lparam()) }.unwrap().unwrap();
        assert_eq!(info, ConfigInfo { section: Some("Drivers32".into()), alias: None });
        assert!(ConfigInfoBuf::new(Some("a\0"), None).is_err());
    }

    #[test]
    fn null_pointer_is_none() {
        // SAFETY: 0 is allowed.
        assert_eq!(unsafe { read_config_info(0) }, Ok(None));
    }

    #[test]
    fn naturally_aligned_form_is_read() {
        #[repr(C)]
        struct Natural {
            size: u32,
            section: *const u16,
            alias: *const u16,
        }
        let section = WideString::new("mci").unwrap();
        let alias = WideString::new("cdaudio").unwrap();
        let natural =
            Natural { size: size_of::<Natural>() as u32, section: section.as_ptr(), alias: alias.as_ptr() };
        assert_eq!(natural.size, DRVCONFIGINFO_NATURAL_SIZE);
        // SAFETY: `natural` and its strings are alive.
        let info = unsafe { read_config_info(&raw const natural as LParam) }.unwrap().unwrap();
        assert_eq!(info.section.as_deref(), Some("mci"));
        assert_eq!(info.alias.as_deref(), Some("cdaudio"));
    }

    #[test]
    fn unknown_size_is_an_error() {
        let mut bogus = [0u8; 32];
        bogus[..4].copy_from_slice(&7u32.to_ne_bytes());
        // SAFETY: 32 readable bytes; the size is rejected before any pointer is read.
        let err = unsafe { read_config_info(bogus.as_ptr() as LParam) }.unwrap_err();
        assert_eq!(err, ConfigInfoError::BadSize(7));
        assert_eq!(
            err.to_string(),
            format!(
                "DRVCONFIGINFO has dwDCISize 7; expected {DRVCONFIGINFO_SIZE} (packed) or {DRVCONFIGINFO_NATURAL_SIZE} (aligned)"
            )
        );
    }
}
