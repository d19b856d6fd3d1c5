//! The ACM messages, errors and flags (msacmdrv.h, msacm.h, mmreg.h, mmsystem.h).

use crate::consts::ACMDM_BASE;
use crate::types::Msg;

/// `MMSYSERR_*`: the answers of ACM messages (0 is success).
pub const MMSYSERR_NOERROR: isize = 0;
pub const MMSYSERR_ERROR: isize = 1;
pub const MMSYSERR_INVALHANDLE: isize = 5;
pub const MMSYSERR_NOMEM: isize = 7;
pub const MMSYSERR_NOTSUPPORTED: isize = 8;
pub const MMSYSERR_INVALFLAG: isize = 10;
pub const MMSYSERR_INVALPARAM: isize = 11;

/// `ACMERR_*` (from `ACMERR_BASE` 512).
pub const ACMERR_NOTPOSSIBLE: isize = 512;
pub const ACMERR_BUSY: isize = 513;
pub const ACMERR_UNPREPARED: isize = 514;
pub const ACMERR_CANCELED: isize = 515;

/// `ACMDM_*`: the messages msacm32 sends a driver.
pub const ACMDM_DRIVER_NOTIFY: Msg = ACMDM_BASE + 1;
pub const ACMDM_DRIVER_DETAILS: Msg = ACMDM_BASE + 10;
pub const ACMDM_HARDWARE_WAVE_CAPS_INPUT: Msg = ACMDM_BASE + 20;
pub const ACMDM_HARDWARE_WAVE_CAPS_OUTPUT: Msg = ACMDM_BASE + 21;
pub const ACMDM_FORMATTAG_DETAILS: Msg = ACMDM_BASE + 25;
pub const ACMDM_FORMAT_DETAILS: Msg = ACMDM_BASE + 26;
pub const ACMDM_FORMAT_SUGGEST: Msg = ACMDM_BASE + 27;
pub const ACMDM_FILTERTAG_DETAILS: Msg = ACMDM_BASE + 50;
pub const ACMDM_FILTER_DETAILS: Msg = ACMDM_BASE + 51;
pub const ACMDM_STREAM_OPEN: Msg = ACMDM_BASE + 76;
pub const ACMDM_STREAM_CLOSE: Msg = ACMDM_BASE + 77;
pub const ACMDM_STREAM_SIZE: Msg = ACMDM_BASE + 78;
pub const ACMDM_STREAM_CONVERT: Msg = ACMDM_BASE + 79;
pub const ACMDM_STREAM_RESET: Msg = ACMDM_BASE + 80;
pub const ACMDM_STREAM_PREPARE: Msg = ACMDM_BASE + 81;
pub const ACMDM_STREAM_UNPREPARE: Msg = ACMDM_BASE + 82;
pub const ACMDM_STREAM_UPDATE: Msg = ACMDM_BASE + 83;

/// `WAVE_FORMAT_*` tags.
pub const WAVE_FORMAT_PCM: u16 = 1;
pub const WAVE_FORMAT_ADPCM: u16 = 2;
pub const WAVE_FORMAT_ALAW: u16 = 6;
pub const WAVE_FORMAT_MULAW: u16 = 7;
pub const WAVE_FORMAT_IMA_ADPCM: u16 = 0x11;

/// `ACMDRIVERDETAILS_SUPPORTF_*`.
pub const ACMDRIVERDETAILS_SUPPORTF_CODEC: u32 = 0x1;
pub const ACMDRIVERDETAILS_SUPPORTF_CONVERTER: u32 = 0x2;
pub const ACMDRIVERDETAILS_SUPPORTF_FILTER: u32 = 0x4;
pub const ACMDRIVERDETAILS_SUPPORTF_HARDWARE: u32 = 0x8;
pub const ACMDRIVERDETAILS_SUPPORTF_ASYNC: u32 = 0x10;
/// `ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC`: `'audc'`.
pub const ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC: u32 = u32::from_le_bytes(*b"audc");

/// `ACM_FORMATTAGDETAILSF_*` (the query in `ACMDM_FORMATTAG_DETAILS`' `lParam2`).
pub const ACM_FORMATTAGDETAILSF_INDEX: u32 = 0;
pub const ACM_FORMATTAGDETAILSF_FORMATTAG: u32 = 1;
pub const ACM_FORMATTAGDETAILSF_LARGESTSIZE: u32 = 2;
/// `ACM_FORMATDETAILSF_*` (the query in `ACMDM_FORMAT_DETAILS`' `lParam2`).
pub const ACM_FORMATDETAILSF_INDEX: u32 = 0;
pub const ACM_FORMATDETAILSF_FORMAT: u32 = 1;
/// `ACM_FORMATSUGGESTF_*`: which destination fields a suggestion must keep.
pub const ACM_FORMATSUGGESTF_WFORMATTAG: u32 = 0x0001_0000;
pub const ACM_FORMATSUGGESTF_NCHANNELS: u32 = 0x0002_0000;
pub const ACM_FORMATSUGGESTF_NSAMPLESPERSEC: u32 = 0x0004_0000;
pub const ACM_FORMATSUGGESTF_WBITSPERSAMPLE: u32 = 0x0008_0000;
pub const ACM_FORMATSUGGESTF_TYPEMASK: u32 = 0x00FF_0000;
/// `ACM_STREAMOPENF_*`.
pub const ACM_STREAMOPENF_QUERY: u32 = 0x1;
pub const ACM_STREAMOPENF_ASYNC: u32 = 0x2;
pub const ACM_STREAMOPENF_NONREALTIME: u32 = 0x4;
/// `ACM_STREAMSIZEF_*`.
pub const ACM_STREAMSIZEF_SOURCE: u32 = 0;
pub const ACM_STREAMSIZEF_DESTINATION: u32 = 1;
/// `ACM_STREAMCONVERTF_*`.
pub const ACM_STREAMCONVERTF_BLOCKALIGN: u32 = 0x4;
pub const ACM_STREAMCONVERTF_START: u32 = 0x10;
pub const ACM_STREAMCONVERTF_END: u32 = 0x20;
/// `ACMSTREAMHEADER_STATUSF_*`.
pub const ACMSTREAMHEADER_STATUSF_DONE: u32 = 0x0001_0000;
pub const ACMSTREAMHEADER_STATUSF_PREPARED: u32 = 0x0002_0000;
pub const ACMSTREAMHEADER_STATUSF_INQUEUE: u32 = 0x0010_0000;

#[cfg(test)]
mod tests {
    use super::*;

    /// The values the contract note observed on the wire.
    #[test]
    fn values_seen_from_msacm32() {
        assert_eq!(ACMDM_DRIVER_DETAILS, 0x600A);
        assert_eq!(ACMDM_FORMATTAG_DETAILS, 0x6019);
        assert_eq!(ACMDM_FORMAT_DETAILS, 0x601A);
        assert_eq!(ACMDM_FORMAT_SUGGEST, 0x601B);
        assert_eq!(ACMDM_STREAM_OPEN, 0x604C);
        assert_eq!(ACMDM_STREAM_CONVERT, 0x604F);
        assert_eq!(ACMERR_NOTPOSSIBLE, 512);
        assert_eq!(ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC, 0x6364_7561);
    }
}
