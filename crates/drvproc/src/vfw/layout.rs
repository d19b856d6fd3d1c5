//! The structures msvfw32 hands a VfW video codec (natural alignment throughout).
//!
//! Sizes and offsets are those of Wine's msvfw32 and Microsoft's headers on Win64
//! (checked below). Pointer fields are raw pointers: mirrors of memory the caller
//! owns, read and written only by the class kit's one `unsafe` module.

use std::ffi::c_void;

/// `BITMAPINFOHEADER`; for 8-bit formats the palette (`RGBQUAD`s) follows it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BitmapInfoHeader {
    pub size: u32,
    pub width: i32,
    /// Positive for bottom-up rows.
    pub height: i32,
    pub planes: u16,
    pub bit_count: u16,
    pub compression: u32,
    pub size_image: u32,
    pub x_pels_per_meter: i32,
    pub y_pels_per_meter: i32,
    pub clr_used: u32,
    pub clr_important: u32,
}

/// `ICOPEN`: `DRV_OPEN`'s `lParam2` for a video codec (NULL for the session open).
#[repr(C)]
#[derive(Debug)]
pub struct IcOpen {
    pub size: u32,
    pub fcc_type: u32,
    pub fcc_handler: u32,
    pub version: u32,
    pub flags: u32,
    /// Written by the driver when it refuses the open.
    pub error: isize,
    pub v1_reserved: *mut c_void,
    pub v2_reserved: *mut c_void,
    pub dev_node: u32,
}

/// `ICINFO`: `ICM_GETINFO`'s `lParam1`.
#[repr(C)]
#[derive(Debug)]
pub struct IcInfo {
    pub size: u32,
    pub fcc_type: u32,
    pub fcc_handler: u32,
    pub flags: u32,
    pub version: u32,
    pub version_icm: u32,
    pub name: [u16; 16],
    pub description: [u16; 128],
    pub driver: [u16; 128],
}

/// `ICCOMPRESS`: `ICM_COMPRESS`'s `lParam1`.
#[repr(C)]
#[derive(Debug)]
pub struct IcCompress {
    pub flags: u32,
    pub bi_output: *mut BitmapInfoHeader,
    pub output: *mut c_void,
    pub bi_input: *mut BitmapInfoHeader,
    pub input: *mut c_void,
    pub ckid: *mut u32,
    pub dw_flags: *mut u32,
    pub frame_num: i32,
    pub frame_size: u32,
    pub quality: u32,
    pub bi_prev: *mut BitmapInfoHeader,
    pub prev: *mut c_void,
}

/// `ICDECOMPRESS`: `ICM_DECOMPRESS`'s `lParam1`.
#[repr(C)]
#[derive(Debug)]
pub struct IcDecompress {
    pub flags: u32,
    pub bi_input: *mut BitmapInfoHeader,
    pub input: *mut c_void,
    pub bi_output: *mut BitmapInfoHeader,
    pub output: *mut c_void,
    pub ckid: u32,
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn bitmap_info_header() {
        assert_eq!(size_of::<BitmapInfoHeader>(), 40);
        assert_eq!(offset_of!(BitmapInfoHeader, compression), 16);
        assert_eq!(offset_of!(BitmapInfoHeader, size_image), 20);
        assert_eq!(offset_of!(BitmapInfoHeader, clr_used), 32);
        assert_eq!(size_of::<IcInfo>(), 568);
        assert_eq!(
            [offset_of!(IcInfo, fcc_handler), offset_of!(IcInfo, flags), offset_of!(IcInfo, name)],
            [8, 12, 24]
        );
        assert_eq!([offset_of!(IcInfo, description), offset_of!(IcInfo, driver)], [56, 312]);
    }

    /// The sizes and offsets msvfw32 uses on Win64 (acm-vfw-contract note).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn win64_layouts() {
        assert_eq!(size_of::<IcOpen>(), 56);
        assert_eq!(
            [
                offset_of!(IcOpen, fcc_type),
                offset_of!(IcOpen, fcc_handler),
                offset_of!(IcOpen, version),
                offset_of!(IcOpen, flags),
                offset_of!(IcOpen, error),
            ],
            [4, 8, 12, 16, 24]
        );
        assert_eq!(size_of::<IcCompress>(), 88);
        assert_eq!(
            [
                offset_of!(IcCompress, bi_output),
                offset_of!(IcCompress, output),
                offset_of!(IcCompress, bi_input),
                offset_of!(IcCompress, input),
                offset_of!(IcCompress, ckid),
                offset_of!(IcCompress, dw_flags),
                offset_of!(IcCompress, frame_num),
                offset_of!(IcCompress, frame_size),
                offset_of!(IcCompress, quality),
                offset_of!(IcCompress, bi_prev),
                offset_of!(IcCompress, prev),
            ],
            [8, 16, 24, 32, 40, 48, 56, 60, 64, 72, 80]
        );
        assert_eq!(size_of::<IcDecompress>(), 48);
        assert_eq!(
            [
                offset_of!(IcDecompress, bi_input),
                offset_of!(IcDecompress, input),
                offset_of!(IcDecompress, bi_output),
                offset_of!(IcDecompress, output),
                offset_of!(IcDecompress, ckid),
            ],
            [8, 16, 24, 32, 40]
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
    assert!(size_of::<IcOpen>() == 36);
    assert!(offset_of!(IcOpen, error) == 20 && offset_of!(IcOpen, dev_node) == 32);
    assert!(size_of::<IcInfo>() == 568);
    assert!(size_of::<IcCompress>() == 48);
    assert!(offset_of!(IcCompress, dw_flags) == 24);
    assert!(offset_of!(IcCompress, frame_num) == 28 && offset_of!(IcCompress, prev) == 44);
    assert!(size_of::<IcDecompress>() == 24);
    assert!(offset_of!(IcDecompress, output) == 16 && offset_of!(IcDecompress, ckid) == 20);
};
