//! The VfW codec messages, errors and flags (vfw.h, aviriff.h).

use crate::consts::{ICM_RESERVED, ICM_USER, constants};
use crate::types::Msg;

constants! {
    /// `ICM_*` in the system range.
    ICM_GETSTATE: Msg = ICM_RESERVED;
    ICM_SETSTATE: Msg = ICM_RESERVED + 1;
    ICM_GETINFO: Msg = ICM_RESERVED + 2;
    ICM_CONFIGURE: Msg = ICM_RESERVED + 10;
    ICM_ABOUT: Msg = ICM_RESERVED + 11;
    ICM_GETDEFAULTQUALITY: Msg = ICM_RESERVED + 30;
    ICM_GETQUALITY: Msg = ICM_RESERVED + 31;
    ICM_SETQUALITY: Msg = ICM_RESERVED + 32;
    /// `ICM_*` in the user range: compression and decompression.
    ICM_COMPRESS_GET_FORMAT: Msg = ICM_USER + 4;
    ICM_COMPRESS_GET_SIZE: Msg = ICM_USER + 5;
    ICM_COMPRESS_QUERY: Msg = ICM_USER + 6;
    ICM_COMPRESS_BEGIN: Msg = ICM_USER + 7;
    ICM_COMPRESS: Msg = ICM_USER + 8;
    ICM_COMPRESS_END: Msg = ICM_USER + 9;
    ICM_DECOMPRESS_GET_FORMAT: Msg = ICM_USER + 10;
    ICM_DECOMPRESS_QUERY: Msg = ICM_USER + 11;
    ICM_DECOMPRESS_BEGIN: Msg = ICM_USER + 12;
    ICM_DECOMPRESS: Msg = ICM_USER + 13;
    ICM_DECOMPRESS_END: Msg = ICM_USER + 14;
    /// `ICERR_*`: the answers of ICM messages.
    ICERR_OK: isize = 0;
    ICERR_DONTDRAW: isize = 1;
    ICERR_NEWPALETTE: isize = 2;
    ICERR_GOTOKEYFRAME: isize = 3;
    ICERR_STOPDRAWING: isize = 4;
    ICERR_UNSUPPORTED: isize = -1;
    ICERR_BADFORMAT: isize = -2;
    ICERR_MEMORY: isize = -3;
    ICERR_INTERNAL: isize = -4;
    ICERR_BADFLAGS: isize = -5;
    ICERR_BADPARAM: isize = -6;
    ICERR_BADSIZE: isize = -7;
    ICERR_BADHANDLE: isize = -8;
    ICERR_CANTUPDATE: isize = -9;
    ICERR_ABORT: isize = -10;
    ICERR_ERROR: isize = -100;
    ICERR_BADBITDEPTH: isize = -200;
    ICERR_BADIMAGESIZE: isize = -201;
    /// `ICTYPE_VIDEO`: `'vidc'`.
    ICTYPE_VIDEO: u32 = u32::from_le_bytes(*b"vidc");
    /// `ICMODE_*`: `ICOPEN::dwFlags`.
    ICMODE_COMPRESS: u32 = 1;
    ICMODE_DECOMPRESS: u32 = 2;
    ICMODE_FASTDECOMPRESS: u32 = 3;
    ICMODE_QUERY: u32 = 4;
    ICMODE_FASTCOMPRESS: u32 = 5;
    ICMODE_DRAW: u32 = 8;
    /// `VIDCF_*`: `ICINFO::dwFlags`.
    VIDCF_QUALITY: u32 = 0x1;
    VIDCF_CRUNCH: u32 = 0x2;
    VIDCF_TEMPORAL: u32 = 0x4;
    VIDCF_COMPRESSFRAMES: u32 = 0x8;
    VIDCF_DRAW: u32 = 0x10;
    VIDCF_FASTTEMPORALC: u32 = 0x20;
    VIDCF_FASTTEMPORALD: u32 = 0x80;
    /// `ICVERSION`.
    ICVERSION: u32 = 0x0104;
    /// `ICCOMPRESS_KEYFRAME`: `ICCOMPRESS::dwFlags`.
    ICCOMPRESS_KEYFRAME: u32 = 0x1;
    /// `ICDECOMPRESS_*`: `ICDECOMPRESS::dwFlags`.
    ICDECOMPRESS_HURRYUP: u32 = 0x8000_0000;
    ICDECOMPRESS_UPDATE: u32 = 0x4000_0000;
    ICDECOMPRESS_PREROLL: u32 = 0x2000_0000;
    ICDECOMPRESS_NULLFRAME: u32 = 0x1000_0000;
    ICDECOMPRESS_NOTKEYFRAME: u32 = 0x0800_0000;
    /// `AVIIF_*`: the flags written through `ICCOMPRESS::lpdwFlags`.
    AVIIF_LIST: u32 = 0x1;
    AVIIF_TWOCC: u32 = 0x2;
    AVIIF_KEYFRAME: u32 = 0x10;
    /// `BI_*` compressions.
    BI_RGB: u32 = 0;
    BI_RLE8: u32 = 1;
    BI_RLE4: u32 = 2;
    BI_BITFIELDS: u32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values the contract note observed on the wire.
    #[test]
    fn values_seen_from_msvfw32() {
        assert_eq!(ICM_GETINFO, 0x5002);
        assert_eq!(ICM_GETDEFAULTQUALITY, 0x501E);
        assert_eq!(
            [
                ICM_COMPRESS_GET_FORMAT,
                ICM_COMPRESS_GET_SIZE,
                ICM_COMPRESS_QUERY,
                ICM_COMPRESS_BEGIN,
                ICM_COMPRESS
            ],
            [0x4004, 0x4005, 0x4006, 0x4007, 0x4008]
        );
        assert_eq!(ICM_COMPRESS_END, 0x4009);
        assert_eq!(
            [
                ICM_DECOMPRESS_GET_FORMAT,
                ICM_DECOMPRESS_QUERY,
                ICM_DECOMPRESS_BEGIN,
                ICM_DECOMPRESS,
                ICM_DECOMPRESS_END
            ],
            [0x400A, 0x400B, 0x400C, 0x400D, 0x400E]
        );
        assert_eq!(
            (ICERR_BADFORMAT, ICDECOMPRESS_NOTKEYFRAME, AVIIF_KEYFRAME, AVIIF_TWOCC),
            (-2, 0x0800_0000, 0x10, 0x2)
        );
        assert_eq!(ICTYPE_VIDEO, 0x6364_6976);
    }
}
