//! The structures msacm32 hands an ACM driver, with the layouts it hands them in.
//!
//! Sizes and offsets are those of Wine's msacm32 and Microsoft's headers on Win64
//! (checked below), and follow from the same declarations on 32-bit targets:
//! `ACMDRVSTREAMHEADER`, the details structures and `WAVEFORMATEX` are packed to one
//! byte; the open description, the stream instance and the suggest request have
//! natural alignment. Pointer fields are raw pointers: these are mirrors of memory
//! the caller owns, read and written only by the class kit's one `unsafe` module.

use std::ffi::c_void;

/// `WAVEFORMATEX`: 18 bytes, then `cb_size` bytes of format-specific data.
#[repr(C, packed(1))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaveFormatEx {
    pub format_tag: u16,
    pub channels: u16,
    pub samples_per_sec: u32,
    pub avg_bytes_per_sec: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    pub cb_size: u16,
}

/// `IMAADPCMWAVEFORMAT`: `WAVEFORMATEX` with `cbSize` 2 and the samples per block.
#[repr(C, packed(1))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImaAdpcmWaveFormat {
    pub wfx: WaveFormatEx,
    pub samples_per_block: u16,
}

/// `ACMDRVOPENDESCW`: `DRV_OPEN`'s `lParam2` for an ACM driver (NULL for the
/// session open).
#[repr(C)]
#[derive(Debug)]
pub struct AcmDrvOpenDescW {
    pub cb_struct: u32,
    pub fcc_type: u32,
    pub fcc_comp: u32,
    pub version: u32,
    pub flags: u32,
    /// Written by the driver when it refuses the open.
    pub error: u32,
    pub section_name: *const u16,
    pub alias_name: *const u16,
    pub dev_node: u32,
}

impl AcmDrvOpenDescW {
    /// What msacm32 passes to open a driver of type `fcc_type` (`'audc'` for a
    /// codec): its own size, msacm32's version 4.00.1381 (`0x04000565`), no flags,
    /// and no section, alias or device node (those name a registry entry).
    pub fn msacm32(fcc_type: u32) -> AcmDrvOpenDescW {
        AcmDrvOpenDescW {
            cb_struct: std::mem::size_of::<AcmDrvOpenDescW>() as u32,
            fcc_type,
            fcc_comp: 0,
            version: 0x0400_0565,
            flags: 0,
            error: 0,
            section_name: std::ptr::null(),
            alias_name: std::ptr::null(),
            dev_node: 0,
        }
    }
}

/// `ACMDRVSTREAMINSTANCE`: the stream messages' `lParam1`.
#[repr(C)]
#[derive(Debug)]
pub struct AcmDrvStreamInstance {
    pub cb_struct: u32,
    pub pwfx_src: *mut WaveFormatEx,
    pub pwfx_dst: *mut WaveFormatEx,
    pub pwflt: *mut c_void,
    pub callback: usize,
    pub instance: usize,
    pub fdw_open: u32,
    /// The driver's per-stream flags, kept by msacm32 across the stream's messages.
    pub fdw_driver: u32,
    /// The driver's per-stream value, kept likewise.
    pub dw_driver: usize,
    pub has: *mut c_void,
}

/// `ACMDRVSTREAMHEADER` (= the caller's `ACMSTREAMHEADER`, packed).
#[repr(C, packed(1))]
#[derive(Debug)]
pub struct AcmDrvStreamHeader {
    pub cb_struct: u32,
    pub fdw_status: u32,
    pub dw_user: usize,
    pub pb_src: *mut u8,
    pub cb_src_length: u32,
    pub cb_src_length_used: u32,
    pub dw_src_user: usize,
    pub pb_dst: *mut u8,
    pub cb_dst_length: u32,
    pub cb_dst_length_used: u32,
    pub dw_dst_user: usize,
    pub fdw_convert: u32,
    pub padsh_next: *mut AcmDrvStreamHeader,
    pub fdw_driver: u32,
    pub dw_driver: usize,
    pub fdw_prepared: u32,
    pub dw_prepared: usize,
    pub pb_prepared_src: *mut u8,
    pub cb_prepared_src_length: u32,
    pub pb_prepared_dst: *mut u8,
    pub cb_prepared_dst_length: u32,
}

/// `ACMDRVSTREAMSIZE`: `ACMDM_STREAM_SIZE`'s `lParam2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcmDrvStreamSize {
    pub cb_struct: u32,
    pub fdw_size: u32,
    pub cb_src_length: u32,
    pub cb_dst_length: u32,
}

/// `ACMDRVFORMATSUGGEST`: `ACMDM_FORMAT_SUGGEST`'s `lParam1`.
#[repr(C)]
#[derive(Debug)]
pub struct AcmDrvFormatSuggest {
    pub cb_struct: u32,
    pub fdw_suggest: u32,
    pub pwfx_src: *mut WaveFormatEx,
    pub cbwfx_src: u32,
    pub pwfx_dst: *mut WaveFormatEx,
    pub cbwfx_dst: u32,
}

/// `ACMDRIVERDETAILSW`: `ACMDM_DRIVER_DETAILS`'s `lParam1`.
#[repr(C, packed(1))]
#[derive(Debug)]
pub struct AcmDriverDetailsW {
    pub cb_struct: u32,
    pub fcc_type: u32,
    pub fcc_comp: u32,
    pub mid: u16,
    pub pid: u16,
    pub vdw_acm: u32,
    pub vdw_driver: u32,
    pub fdw_support: u32,
    pub c_format_tags: u32,
    pub c_filter_tags: u32,
    pub hicon: *mut c_void,
    pub short_name: [u16; 32],
    pub long_name: [u16; 128],
    pub copyright: [u16; 80],
    pub licensing: [u16; 128],
    pub features: [u16; 512],
}

/// `ACMFORMATTAGDETAILSW`: `ACMDM_FORMATTAG_DETAILS`'s `lParam1`.
#[repr(C, packed(1))]
#[derive(Debug)]
pub struct AcmFormatTagDetailsW {
    pub cb_struct: u32,
    pub format_tag_index: u32,
    pub format_tag: u32,
    pub cb_format_size: u32,
    pub fdw_support: u32,
    pub c_standard_formats: u32,
    pub format_tag_name: [u16; 48],
}

/// `ACMFORMATDETAILSW`: `ACMDM_FORMAT_DETAILS`'s `lParam1`.
#[repr(C, packed(1))]
#[derive(Debug)]
pub struct AcmFormatDetailsW {
    pub cb_struct: u32,
    pub format_index: u32,
    pub format_tag: u32,
    pub fdw_support: u32,
    pub pwfx: *mut WaveFormatEx,
    pub cbwfx: u32,
    pub format_name: [u16; 128],
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn sizes_that_do_not_depend_on_the_pointer_width() {
        assert_eq!(size_of::<WaveFormatEx>(), 18);
        assert_eq!(size_of::<ImaAdpcmWaveFormat>(), 20);
        assert_eq!(size_of::<AcmDrvStreamSize>(), 16);
        assert_eq!(offset_of!(WaveFormatEx, samples_per_sec), 4);
        assert_eq!(offset_of!(WaveFormatEx, block_align), 12);
        assert_eq!(offset_of!(WaveFormatEx, cb_size), 16);
        assert_eq!(offset_of!(ImaAdpcmWaveFormat, samples_per_block), 18);
    }

    /// The sizes and offsets msacm32 uses on Win64 (acm-vfw-contract note).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn win64_layouts() {
        assert_eq!(size_of::<AcmDrvOpenDescW>(), 48);
        assert_eq!(
            [
                offset_of!(AcmDrvOpenDescW, fcc_type),
                offset_of!(AcmDrvOpenDescW, fcc_comp),
                offset_of!(AcmDrvOpenDescW, version),
                offset_of!(AcmDrvOpenDescW, flags),
                offset_of!(AcmDrvOpenDescW, error),
                offset_of!(AcmDrvOpenDescW, section_name),
                offset_of!(AcmDrvOpenDescW, alias_name),
                offset_of!(AcmDrvOpenDescW, dev_node),
            ],
            [4, 8, 12, 16, 20, 24, 32, 40]
        );
        assert_eq!(size_of::<AcmDrvStreamInstance>(), 72);
        assert_eq!(
            [
                offset_of!(AcmDrvStreamInstance, pwfx_src),
                offset_of!(AcmDrvStreamInstance, pwfx_dst),
                offset_of!(AcmDrvStreamInstance, pwflt),
                offset_of!(AcmDrvStreamInstance, callback),
                offset_of!(AcmDrvStreamInstance, instance),
                offset_of!(AcmDrvStreamInstance, fdw_open),
                offset_of!(AcmDrvStreamInstance, fdw_driver),
                offset_of!(AcmDrvStreamInstance, dw_driver),
                offset_of!(AcmDrvStreamInstance, has),
            ],
            [8, 16, 24, 32, 40, 48, 52, 56, 64]
        );
        assert_eq!(size_of::<AcmDrvStreamHeader>(), 124);
        assert_eq!(
            [
                offset_of!(AcmDrvStreamHeader, fdw_status),
                offset_of!(AcmDrvStreamHeader, pb_src),
                offset_of!(AcmDrvStreamHeader, cb_src_length),
                offset_of!(AcmDrvStreamHeader, cb_src_length_used),
                offset_of!(AcmDrvStreamHeader, pb_dst),
                offset_of!(AcmDrvStreamHeader, cb_dst_length),
                offset_of!(AcmDrvStreamHeader, cb_dst_length_used),
                offset_of!(AcmDrvStreamHeader, fdw_convert),
                offset_of!(AcmDrvStreamHeader, fdw_driver),
                offset_of!(AcmDrvStreamHeader, dw_driver),
                offset_of!(AcmDrvStreamHeader, fdw_prepared),
                offset_of!(AcmDrvStreamHeader, cb_prepared_src_length),
                offset_of!(AcmDrvStreamHeader, cb_prepared_dst_length),
            ],
            [4, 16, 24, 28, 40, 48, 52, 64, 76, 80, 88, 108, 120]
        );
        assert_eq!(size_of::<AcmDrvFormatSuggest>(), 40);
        assert_eq!(
            [
                offset_of!(AcmDrvFormatSuggest, fdw_suggest),
                offset_of!(AcmDrvFormatSuggest, pwfx_src),
                offset_of!(AcmDrvFormatSuggest, cbwfx_src),
                offset_of!(AcmDrvFormatSuggest, pwfx_dst),
                offset_of!(AcmDrvFormatSuggest, cbwfx_dst),
            ],
            [4, 8, 16, 24, 32]
        );
        assert_eq!(size_of::<AcmDriverDetailsW>(), 1804);
        assert_eq!(
            [
                offset_of!(AcmDriverDetailsW, fdw_support),
                offset_of!(AcmDriverDetailsW, c_format_tags),
                offset_of!(AcmDriverDetailsW, c_filter_tags),
                offset_of!(AcmDriverDetailsW, hicon),
                offset_of!(AcmDriverDetailsW, short_name),
                offset_of!(AcmDriverDetailsW, long_name),
                offset_of!(AcmDriverDetailsW, copyright),
                offset_of!(AcmDriverDetailsW, licensing),
                offset_of!(AcmDriverDetailsW, features),
            ],
            [24, 28, 32, 36, 44, 108, 364, 524, 780]
        );
        assert_eq!(size_of::<AcmFormatTagDetailsW>(), 120);
        assert_eq!(
            [
                offset_of!(AcmFormatTagDetailsW, format_tag_index),
                offset_of!(AcmFormatTagDetailsW, format_tag),
                offset_of!(AcmFormatTagDetailsW, cb_format_size),
                offset_of!(AcmFormatTagDetailsW, fdw_support),
                offset_of!(AcmFormatTagDetailsW, c_standard_formats),
                offset_of!(AcmFormatTagDetailsW, format_tag_name),
            ],
            [4, 8, 12, 16, 20, 24]
        );
        assert_eq!(size_of::<AcmFormatDetailsW>(), 284);
        assert_eq!(
            [
                offset_of!(AcmFormatDetailsW, format_index),
                offset_of!(AcmFormatDetailsW, format_tag),
                offset_of!(AcmFormatDetailsW, fdw_support),
                offset_of!(AcmFormatDetailsW, pwfx),
                offset_of!(AcmFormatDetailsW, cbwfx),
                offset_of!(AcmFormatDetailsW, format_name),
            ],
            [4, 8, 12, 16, 24, 28]
        );
    }
}

/// The same declarations with 4-byte pointers are Win32's layouts: checked when the
/// crate is compiled for a 32-bit target, as compile errors rather than tests, so a
/// check build suffices (`scripts/windows-test.sh` runs one for i686; the fields are
/// all 2-, 4-byte or pointer-sized, which i686 Linux and Win32 align alike).
#[cfg(target_pointer_width = "32")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<AcmDrvOpenDescW>() == 36);
    assert!(offset_of!(AcmDrvOpenDescW, error) == 20 && offset_of!(AcmDrvOpenDescW, dev_node) == 32);
    assert!(size_of::<AcmDrvStreamInstance>() == 40);
    assert!(
        offset_of!(AcmDrvStreamInstance, fdw_open) == 24 && offset_of!(AcmDrvStreamInstance, dw_driver) == 32
    );
    assert!(size_of::<AcmDrvStreamHeader>() == 84);
    assert!(
        offset_of!(AcmDrvStreamHeader, pb_dst) == 28 && offset_of!(AcmDrvStreamHeader, fdw_convert) == 44
    );
    assert!(
        offset_of!(AcmDrvStreamHeader, dw_driver) == 56
            && offset_of!(AcmDrvStreamHeader, cb_prepared_dst_length) == 80
    );
    assert!(size_of::<AcmDrvStreamSize>() == 16);
    assert!(size_of::<AcmDrvFormatSuggest>() == 24);
    assert!(
        offset_of!(AcmDrvFormatSuggest, pwfx_dst) == 16 && offset_of!(AcmDrvFormatSuggest, cbwfx_dst) == 20
    );
    assert!(size_of::<AcmDriverDetailsW>() == 1800);
    assert!(size_of::<AcmFormatTagDetailsW>() == 120);
    assert!(size_of::<AcmFormatDetailsW>() == 280);
    assert!(offset_of!(AcmFormatDetailsW, cbwfx) == 20 && offset_of!(AcmFormatDetailsW, format_name) == 24);
};
