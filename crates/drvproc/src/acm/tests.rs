//! The kit driven as msacm32 drives a codec: the message sequences and structures of
//! the acm-vfw contract note, built here by hand.

use std::ptr;

use super::consts::*;
use super::layout::*;
use super::*;
use crate::consts::*;
use crate::types::{Hdrvr, LParam};

/// A codec for the tests: 16-bit PCM mono 8 kHz <-> tag 0x1234, one byte per
/// sample (the high byte), with 2 extra format bytes.
#[derive(Default)]
struct HighByte;

const TAG: u16 = 0x1234;

fn high_byte_format() -> Format {
    Format {
        tag: TAG,
        channels: 1,
        samples_per_sec: 8000,
        avg_bytes_per_sec: 8000,
        block_align: 1,
        bits_per_sample: 8,
        extra: vec![0xAB, 0xCD],
    }
}

struct HighByteStream {
    encode: bool,
}

impl Stream for HighByteStream {
    fn size(&self, query: SizeQuery) -> Option<u32> {
        match (self.encode, query) {
            (true, SizeQuery::Source(n)) | (false, SizeQuery::Destination(n)) => {
                Some(n / 2).filter(|&n| n > 0)
            }
            (true, SizeQuery::Destination(n)) | (false, SizeQuery::Source(n)) => Some(n * 2),
        }
    }

    fn convert(&mut self, src: &[u8], dst: &mut [u8], _flags: ConvertFlags) -> (usize, usize) {
        if self.encode {
            let n = (src.len() / 2).min(dst.len());
            for i in 0..n {
                dst[i] = src[2 * i + 1];
            }
            (2 * n, n)
        } else {
            let n = src.len().min(dst.len() / 2);
            for i in 0..n {
                dst[2 * i] = 0;
                dst[2 * i + 1] = src[i];
            }
            (n, 2 * n)
        }
    }
}

impl Codec for HighByte {
    type Stream = HighByteStream;

    fn details(&self) -> Details {
        Details {
            mid: 1,
            pid: 2,
            ..Details::new(ACMDRIVERDETAILS_SUPPORTF_CODEC, "High byte", "High byte test codec")
        }
    }

    fn format_tags(&self) -> Vec<FormatTag> {
        vec![
            FormatTag { tag: WAVE_FORMAT_PCM, format_size: 16, name: "PCM".into() },
            FormatTag { tag: TAG, format_size: 20, name: "High byte".into() },
        ]
    }

    fn formats(&self, tag: u16) -> Vec<Format> {
        match tag {
            WAVE_FORMAT_PCM => vec![Format::pcm(1, 8000, 16)],
            TAG => vec![high_byte_format()],
            _ => vec![],
        }
    }

    fn suggest(&self, src: &Format, wanted: &Suggestion) -> Option<Format> {
        match src.tag {
            WAVE_FORMAT_PCM if *src == Format::pcm(1, 8000, 16) => Some(high_byte_format()),
            TAG => Some(Format::pcm(1, 8000, 16)),
            _ => None,
        }
        .filter(|f| wanted.allows(f))
    }

    fn open(&self, src: &Format, dst: &Format) -> Option<HighByteStream> {
        let pcm = Format::pcm(1, 8000, 16);
        if *src == pcm && dst.tag == TAG && dst.block_align == 1 {
            Some(HighByteStream { encode: true })
        } else if src.tag == TAG && *dst == pcm {
            Some(HighByteStream { encode: false })
        } else {
            None
        }
    }
}

crate::driver_proc!(fn high_byte_proc = AcmDriver<HighByte>);

fn call(id: usize, msg: u32, l1: LParam, l2: LParam) -> isize {
    // SAFETY: every test passes what the message's contract says: NULL or the
    // structures built below, alive for the call.
    unsafe { high_byte_proc(id, Hdrvr::from_raw(0x40), msg, l1, l2) }
}

fn lp<T>(r: &mut T) -> LParam {
    ptr::from_mut(r) as LParam
}

fn open_desc(fcc_type: u32) -> AcmDrvOpenDescW {
    AcmDrvOpenDescW::msacm32(fcc_type)
}

fn wstr(units: &[u16]) -> String {
    String::from_utf16_lossy(&units[..units.iter().position(|&u| u == 0).unwrap_or(units.len())])
}

fn format_bytes(f: &Format) -> Vec<u8> {
    let mut b = vec![0u8; f.size()];
    f.write_to(&mut b).unwrap();
    b
}

/// The whole life msacm32 gives a codec, in one test (the driver is one static).
#[test]
fn msacm32s_sequence() {
    assert_eq!(call(0, DRV_LOAD, 0, 0), 1);
    assert_eq!(call(0, DRV_ENABLE, 0, 0), 1);
    // The session open has no description and must succeed.
    let session = call(0, DRV_OPEN, 0, 0);
    assert_ne!(session, 0);
    // A video codec's description is refused, with the reason.
    let mut video = open_desc(u32::from_le_bytes(*b"vidc"));
    assert_eq!(call(0, DRV_OPEN, 0, lp(&mut video)), 0);
    assert_eq!(video.error, MMSYSERR_NOTSUPPORTED as u32);
    let mut desc = open_desc(ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC);
    let id = call(0, DRV_OPEN, 0, lp(&mut desc)) as usize;
    assert_ne!(id, 0);
    assert_eq!(desc.error, 0);

    // Registration: details, then every tag by index.
    // SAFETY: all-zero bytes are a valid AcmDriverDetailsW (integers, a null pointer).
    let mut details: AcmDriverDetailsW = unsafe { std::mem::zeroed() };
    details.cb_struct = 1804;
    assert_eq!(call(id, ACMDM_DRIVER_DETAILS, lp(&mut details), 0), 0);
    let (fcc, tags, support) = (details.fcc_type, details.c_format_tags, details.fdw_support);
    assert_eq!(
        (fcc, tags, support),
        (ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC, 2, ACMDRIVERDETAILS_SUPPORTF_CODEC)
    );
    let short = details.short_name;
    assert_eq!(wstr(&short), "High byte");

    // SAFETY: as above.
    let mut tag: AcmFormatTagDetailsW = unsafe { std::mem::zeroed() };
    tag.cb_struct = 120;
    tag.format_tag_index = 1;
    assert_eq!(call(id, ACMDM_FORMATTAG_DETAILS, lp(&mut tag), ACM_FORMATTAGDETAILSF_INDEX as isize), 0);
    let (t, size, count, name) =
        (tag.format_tag, tag.cb_format_size, tag.c_standard_formats, tag.format_tag_name);
    assert_eq!((t, size, count, wstr(&name).as_str()), (u32::from(TAG), 20, 1, "High byte"));
    tag.format_tag_index = 2;
    assert_eq!(call(id, ACMDM_FORMATTAG_DETAILS, lp(&mut tag), 0), ACMERR_NOTPOSSIBLE);
    tag.format_tag = 0;
    assert_eq!(
        call(id, ACMDM_FORMATTAG_DETAILS, lp(&mut tag), ACM_FORMATTAGDETAILSF_LARGESTSIZE as isize),
        0
    );
    let largest = tag.format_tag;
    assert_eq!(largest, u32::from(TAG));

    // Formats by index: the caller's buffer gets the whole format, or nothing.
    let mut buf = [0u8; 20];
    // SAFETY: as above.
    let mut fd: AcmFormatDetailsW = unsafe { std::mem::zeroed() };
    fd.cb_struct = 284;
    fd.format_tag = u32::from(TAG);
    fd.pwfx = buf.as_mut_ptr().cast();
    fd.cbwfx = 20;
    assert_eq!(call(id, ACMDM_FORMAT_DETAILS, lp(&mut fd), ACM_FORMATDETAILSF_INDEX as isize), 0);
    assert_eq!(buf.to_vec(), format_bytes(&high_byte_format()));
    let mut small = [0x77u8; 19];
    fd.pwfx = small.as_mut_ptr().cast();
    fd.cbwfx = 19;
    assert_eq!(call(id, ACMDM_FORMAT_DETAILS, lp(&mut fd), 0), MMSYSERR_INVALPARAM);
    assert_eq!(small, [0x77; 19], "nothing written into a buffer too small");
    // Formats by value, including malformed ones.
    let mut pcm = format_bytes(&Format::pcm(1, 8000, 16));
    fd.pwfx = pcm.as_mut_ptr().cast();
    fd.cbwfx = pcm.len() as u32;
    assert_eq!(call(id, ACMDM_FORMAT_DETAILS, lp(&mut fd), ACM_FORMATDETAILSF_FORMAT as isize), 0);
    pcm[2] = 0; // no channels
    assert_eq!(
        call(id, ACMDM_FORMAT_DETAILS, lp(&mut fd), ACM_FORMATDETAILSF_FORMAT as isize),
        ACMERR_NOTPOSSIBLE
    );
    fd.cbwfx = 10; // shorter than a WAVEFORMATEX
    assert_eq!(
        call(id, ACMDM_FORMAT_DETAILS, lp(&mut fd), ACM_FORMATDETAILSF_FORMAT as isize),
        ACMERR_NOTPOSSIBLE
    );

    // Suggest: honours the fields the caller fixed.
    let mut src = format_bytes(&Format::pcm(1, 8000, 16));
    let mut dst = [0u8; 20];
    dst[0..2].copy_from_slice(&TAG.to_le_bytes());
    let mut sug = AcmDrvFormatSuggest {
        cb_struct: 40,
        fdw_suggest: ACM_FORMATSUGGESTF_WFORMATTAG,
        pwfx_src: src.as_mut_ptr().cast(),
        cbwfx_src: 18,
        pwfx_dst: dst.as_mut_ptr().cast(),
        cbwfx_dst: 20,
    };
    assert_eq!(call(id, ACMDM_FORMAT_SUGGEST, lp(&mut sug), 0), 0);
    assert_eq!(dst.to_vec(), format_bytes(&high_byte_format()));
    dst[4..8].copy_from_slice(&44100u32.to_le_bytes());
    sug.fdw_suggest = ACM_FORMATSUGGESTF_WFORMATTAG | ACM_FORMATSUGGESTF_NSAMPLESPERSEC;
    assert_eq!(call(id, ACMDM_FORMAT_SUGGEST, lp(&mut sug), 0), ACMERR_NOTPOSSIBLE);

    // Streams: a query keeps nothing, a real open gets a key in dwDriver.
    let mut fsrc = format_bytes(&Format::pcm(1, 8000, 16));
    let mut fdst = format_bytes(&high_byte_format());
    let mut si = AcmDrvStreamInstance {
        cb_struct: 72,
        pwfx_src: fsrc.as_mut_ptr().cast(),
        pwfx_dst: fdst.as_mut_ptr().cast(),
        pwflt: ptr::null_mut(),
        callback: 0,
        instance: 0,
        fdw_open: ACM_STREAMOPENF_QUERY,
        fdw_driver: 0,
        dw_driver: 0,
        has: ptr::null_mut(),
    };
    assert_eq!(call(id, ACMDM_STREAM_OPEN, lp(&mut si), 0), 0);
    let key = si.dw_driver;
    assert_eq!(key, 0, "a query open keeps no state");
    assert_eq!(call(id, ACMDM_STREAM_CLOSE, lp(&mut si), 0), MMSYSERR_INVALHANDLE);
    si.fdw_open = ACM_STREAMOPENF_ASYNC;
    assert_eq!(call(id, ACMDM_STREAM_OPEN, lp(&mut si), 0), MMSYSERR_NOTSUPPORTED);
    si.fdw_open = 0;
    assert_eq!(call(id, ACMDM_STREAM_OPEN, lp(&mut si), 0), 0);
    let key = si.dw_driver;
    assert_ne!(key, 0);

    let mut size = AcmDrvStreamSize {
        cb_struct: 16,
        fdw_size: ACM_STREAMSIZEF_SOURCE,
        cb_src_length: 11,
        cb_dst_length: 0,
    };
    assert_eq!(call(id, ACMDM_STREAM_SIZE, lp(&mut si), lp(&mut size)), 0);
    assert_eq!((size.cb_src_length, size.cb_dst_length), (11, 5));
    size.cb_src_length = 1;
    assert_eq!(call(id, ACMDM_STREAM_SIZE, lp(&mut si), lp(&mut size)), ACMERR_NOTPOSSIBLE);

    let pcm_in: Vec<u8> = (0u8..11).collect(); // 5 samples and an odd byte
    let mut out = [0xEEu8; 8];
    // SAFETY: as above.
    let mut hdr: AcmDrvStreamHeader = unsafe { std::mem::zeroed() };
    hdr.cb_struct = 124;
    hdr.pb_src = pcm_in.as_ptr().cast_mut();
    hdr.cb_src_length = 11;
    hdr.pb_dst = out.as_mut_ptr();
    hdr.cb_dst_length = 3; // room for 3 samples only
    hdr.fdw_convert = ACM_STREAMCONVERTF_START;
    assert_eq!(call(id, ACMDM_STREAM_CONVERT, lp(&mut si), lp(&mut hdr)), 0);
    let (used_src, used_dst) = (hdr.cb_src_length_used, hdr.cb_dst_length_used);
    assert_eq!((used_src, used_dst), (6, 3));
    assert_eq!(out, [1, 3, 5, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE], "nothing past cbDstLength");

    // A forged key is refused; the real one closes once.
    si.dw_driver = key + 1000;
    assert_eq!(call(id, ACMDM_STREAM_CONVERT, lp(&mut si), lp(&mut hdr)), MMSYSERR_INVALHANDLE);
    si.dw_driver = key;
    assert_eq!(call(id, ACMDM_STREAM_PREPARE, lp(&mut si), lp(&mut hdr)), MMSYSERR_NOTSUPPORTED);
    assert_eq!(call(id, ACMDM_STREAM_CLOSE, lp(&mut si), 0), 0);
    assert_eq!(call(id, ACMDM_STREAM_CLOSE, lp(&mut si), 0), MMSYSERR_INVALHANDLE);
    // A pair the codec does not convert.
    let mut stereo = format_bytes(&Format::pcm(2, 8000, 16));
    si.pwfx_src = stereo.as_mut_ptr().cast();
    assert_eq!(call(id, ACMDM_STREAM_OPEN, lp(&mut si), 0), ACMERR_NOTPOSSIBLE);

    assert_eq!(call(id, DRV_CLOSE, 0, 0), 1);
    assert_eq!(call(session as usize, DRV_CLOSE, 0, 0), 1);
    assert_eq!(call(0, DRV_DISABLE, 0, 0), 1);
    assert_eq!(call(0, DRV_FREE, 0, 0), 1);
}
