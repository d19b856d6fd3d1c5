//! The VfW codec messages, errors and flags (vfw.h, aviriff.h).

use crate::consts::{ICM_RESERVED, ICM_USER};
use crate::types::Msg;

/// `ICM_*` in the system range.
pub const ICM_GETSTATE: Msg = ICM_RESERVED;
pub const ICM_SETSTATE: Msg = ICM_RESERVED + 1;
pub const ICM_GETINFO: Msg = ICM_RESERVED + 2;
pub const ICM_CONFIGURE: Msg = ICM_RESERVED + 10;
pub const ICM_ABOUT: Msg = ICM_RESERVED + 11;
pub const ICM_GETDEFAULTQUALITY: Msg = ICM_RESERVED + 30;
pub const ICM_GETQUALITY: Msg = ICM_RESERVED + 31;
pub const ICM_SETQUALITY: Msg = ICM_RESERVED + 32;

/// `ICM_*` in the user range: compression and decompression.
pub const ICM_COMPRESS_GET_FORMAT: Msg = ICM_USER + 4;
pub const ICM_COMPRESS_GET_SIZE: Msg = ICM_USER + 5;
pub const ICM_COMPRESS_QUERY: Msg = ICM_USER + 6;
pub const ICM_COMPRESS_BEGIN: Msg = ICM_USER + 7;
pub const ICM_COMPRESS: Msg = ICM_USER + 8;
pub const ICM_COMPRESS_END: Msg = ICM_USER + 9;
pub const ICM_DECOMPRESS_GET_FORMAT: Msg = ICM_USER + 10;
pub const ICM_DECOMPRESS_QUERY: Msg = ICM_USER + 11;
pub const ICM_DECOMPRESS_BEGIN: Msg = ICM_USER + 12;
pub const ICM_DECOMPRESS: Msg = ICM_USER + 13;
pub const ICM_DECOMPRESS_END: Msg = ICM_USER + 14;

/// `ICERR_*`: the answers of ICM messages.
pub const ICERR_OK: isize = 0;
pub const ICERR_DONTDRAW: isize = 1;
pub const ICERR_NEWPALETTE: isize = 2;
pub const ICERR_GOTOKEYFRAME: isize = 3;
pub const ICERR_STOPDRAWING: isize = 4;
pub const ICERR_UNSUPPORTED: isize = -1;
pub const ICERR_BADFORMAT: isize = -2;
pub const ICERR_MEMORY: isize = -3;
pub const ICERR_INTERNAL: isize = -4;
pub const ICERR_BADFLAGS: isize = -5;
pub const ICERR_BADPARAM: isize = -6;
pub const ICERR_BADSIZE: isize = -7;
pub const ICERR_BADHANDLE: isize = -8;
pub const ICERR_CANTUPDATE: isize = -9;
pub const ICERR_ABORT: isize = -10;
pub const ICERR_ERROR: isize = -100;
pub const ICERR_BADBITDEPTH: isize = -200;
pub const ICERR_BADIMAGESIZE: isize = -201;

/// `ICTYPE_VIDEO`: `'vidc'`.
pub const ICTYPE_VIDEO: u32 = u32::from_le_bytes(*b"vidc");
/// `ICMODE_*`: `ICOPEN::dwFlags`.
pub const ICMODE_COMPRESS: u32 = 1;
pub const ICMODE_DECOMPRESS: u32 = 2;
pub const ICMODE_FASTDECOMPRESS: u32 = 3;
pub const ICMODE_QUERY: u32 = 4;
pub const ICMODE_FASTCOMPRESS: u32 = 5;
pub const ICMODE_DRAW: u32 = 8;
/// `VIDCF_*`: `ICINFO::dwFlags`.
pub const VIDCF_QUALITY: u32 = 0x1;
pub const VIDCF_CRUNCH: u32 = 0x2;
pub const VIDCF_TEMPORAL: u32 = 0x4;
pub const VIDCF_COMPRESSFRAMES: u32 = 0x8;
pub const VIDCF_DRAW: u32 = 0x10;
pub const VIDCF_FASTTEMPORALC: u32 = 0x20;
pub const VIDCF_FASTTEMPORALD: u32 = 0x80;
/// `ICVERSION`.
pub const ICVERSION: u32 = 0x0104;
/// `ICCOMPRESS_KEYFRAME`: `ICCOMPRESS::dwFlags`.
pub const ICCOMPRESS_KEYFRAME: u32 = 0x1;
/// `ICDECOMPRESS_*`: `ICDECOMPRESS::dwFlags`.
pub const ICDECOMPRESS_HURRYUP: u32 = 0x8000_0000;
pub const ICDECOMPRESS_UPDATE: u32 = 0x4000_0000;
pub const ICDECOMPRESS_PREROLL: u32 = 0x2000_0000;
pub const ICDECOMPRESS_NULLFRAME: u32 = 0x1000_0000;
pub const ICDECOMPRESS_NOTKEYFRAME: u32 = 0x0800_0000;
/// `AVIIF_*`: the flags written through `ICCOMPRESS::lpdwFlags`.
pub const AVIIF_LIST: u32 = 0x1;
pub const AVIIF_TWOCC: u32 = 0x2;
pub const AVIIF_KEYFRAME: u32 = 0x10;
/// `BI_*` compressions.
pub const BI_RGB: u32 = 0;
pub const BI_RLE8: u32 = 1;
pub const BI_RLE4: u32 = 2;
pub const BI_BITFIELDS: u32 = 3;

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
