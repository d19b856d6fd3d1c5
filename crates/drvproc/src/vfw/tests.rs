//! The kit driven as msvfw32 drives a video codec: the message sequences and
//! structures of the acm-vfw contract note, built here by hand.

use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use super::consts::*;
use super::layout::*;
use super::*;
use crate::consts::*;
use crate::types::{Hdrvr, LParam};

/// `'XORC'`: the test codec's compression.
const XORC: u32 = u32::from_le_bytes(*b"XORC");
/// A quality that makes the test codec return more than it announced.
const GREEDY: u32 = 12345;

/// A codec for the tests: 8-bit BI_RGB frames; a keyframe is `1` and the pixels,
/// a delta frame `0` and the pixels XOR the previous frame's.
#[derive(Default)]
struct Xor;

/// How many times the test codec's `compress_end` ran.
static ENDS: AtomicU32 = AtomicU32::new(0);

fn is_8bit_rgb(f: &BitmapFormat) -> bool {
    f.header.bit_count == 8 && f.header.compression == BI_RGB
}

impl VideoCodec for Xor {
    fn info(&self) -> Info {
        Info {
            fcc_handler: XORC,
            flags: VIDCF_TEMPORAL,
            version: 7,
            name: "Xor".into(),
            description: "XOR test codec".into(),
        }
    }

    fn default_quality(&self) -> u32 {
        7500
    }

    fn compress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
        let output_ok =
            output.is_none_or(|o| o.header.compression == XORC && o.header.width == input.header.width);
        if is_8bit_rgb(input) && output_ok { Ok(()) } else { Err(IcError::BadFormat) }
    }

    fn compress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
        self.compress_query(input, None)?;
        let mut out = input.clone();
        out.header.compression = XORC;
        out.header.size_image = 1 + input.data_size() as u32;
        Ok(out)
    }

    fn compress_get_size(&self, input: &BitmapFormat, _output: &BitmapFormat) -> Result<usize, IcError> {
        Ok(1 + input.data_size())
    }

    fn compress_end(&self) {
        ENDS.fetch_add(1, Ordering::Relaxed);
    }

    fn compress(&self, frame: &CompressFrame<'_>) -> Result<Compressed, IcError> {
        let mut data = Vec::with_capacity(frame.pixels.len() + 1);
        let keyframe = frame.keyframe_requested || frame.previous.is_none();
        match frame.previous.filter(|_| !keyframe) {
            Some(prev) => {
                data.push(0);
                data.extend(frame.pixels.iter().zip(prev).map(|(a, b)| a ^ b));
            }
            None => {
                data.push(1);
                data.extend_from_slice(frame.pixels);
            }
        }
        if frame.quality == GREEDY {
            data.push(0xFF);
        }
        Ok(Compressed { data, keyframe })
    }

    fn decompress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
        let output_ok = output.is_none_or(|o| is_8bit_rgb(o) && o.header.width == input.header.width);
        if input.header.compression == XORC && output_ok { Ok(()) } else { Err(IcError::BadFormat) }
    }

    fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
        self.decompress_query(input, None)?;
        let mut out = input.clone();
        out.header.compression = BI_RGB;
        out.header.size_image = out.image_size().ok_or(IcError::BadFormat)? as u32;
        Ok(out)
    }

    fn decompress(
        &self,
        _input: &BitmapFormat,
        data: &[u8],
        not_keyframe: bool,
        _output: &BitmapFormat,
        frame: &mut [u8],
    ) -> Result<(), IcError> {
        match data.split_first() {
            Some((1, pixels)) if pixels.len() == frame.len() => frame.copy_from_slice(pixels),
            Some((0, pixels)) if pixels.len() == frame.len() && not_keyframe => {
                frame.iter_mut().zip(pixels).for_each(|(f, p)| *f ^= p);
            }
            _ => return Err(IcError::Error),
        }
        Ok(())
    }
}

crate::driver_proc!(fn xor_proc = VfwDriver<Xor>);

fn call(id: usize, msg: u32, l1: LParam, l2: LParam) -> isize {
    // SAFETY: every test passes what the message's contract says: NULL or the
    // structures built below, alive for the call.
    unsafe { xor_proc(id, Hdrvr::from_raw(0x41), msg, l1, l2) }
}

fn lp<T>(r: &mut T) -> LParam {
    ptr::from_mut(r) as LParam
}

fn ic_open(fcc_type: u32, flags: u32) -> IcOpen {
    IcOpen {
        size: size_of::<IcOpen>() as u32,
        fcc_type,
        fcc_handler: u32::from_le_bytes(*b"xorc"),
        version: 0x1000,
        flags,
        error: 0,
        v1_reserved: ptr::null_mut(),
        v2_reserved: ptr::null_mut(),
        dev_node: 0,
    }
}

fn wstr(units: &[u16]) -> String {
    String::from_utf16_lossy(&units[..units.iter().position(|&u| u == 0).unwrap_or(units.len())])
}

fn bytes_of(f: &BitmapFormat) -> Vec<u8> {
    let mut b = vec![0u8; f.size()];
    f.write_to(&mut b).unwrap();
    b
}

fn grey() -> Vec<u8> {
    (0..=255u8).flat_map(|i| [i, i, i, 0]).collect()
}

/// 6x3 pixels (stride 8): 24 bytes.
fn input_format() -> BitmapFormat {
    BitmapFormat::paletted(6, 3, BI_RGB, &grey())
}

fn bi(b: &mut [u8]) -> *mut BitmapInfoHeader {
    b.as_mut_ptr().cast()
}

/// The whole life msvfw32 gives a codec, in one test (the driver is one static).
#[test]
fn msvfw32s_sequence() {
    assert_eq!(call(0, DRV_LOAD, 0, 0), 1);
    assert_eq!(call(0, DRV_ENABLE, 0, 0), 1);
    let session = call(0, DRV_OPEN, 0, 0);
    assert_ne!(session, 0, "the session open has no ICOPEN and must succeed");
    let mut audio = ic_open(u32::from_le_bytes(*b"audc"), ICMODE_COMPRESS);
    assert_eq!(call(0, DRV_OPEN, 0, lp(&mut audio)), 0);
    assert_eq!(audio.error, ICERR_UNSUPPORTED, "a refused open says why");
    let mut upper = ic_open(u32::from_le_bytes(*b"VIDC"), ICMODE_DECOMPRESS);
    let other = call(0, DRV_OPEN, 0, lp(&mut upper));
    assert_ne!(other, 0, "fourccs compare without case");
    assert_eq!(call(other as usize, DRV_CLOSE, 0, 0), 1);
    let mut short = ic_open(ICTYPE_VIDEO, ICMODE_COMPRESS);
    short.size = 19; // too short to hold dwFlags: not an ICOPEN, and not a session open
    assert_eq!(call(0, DRV_OPEN, 0, lp(&mut short)), 0);
    assert_eq!(short.error, 0, "no dwError inside 19 bytes");
    let mut open = ic_open(ICTYPE_VIDEO, ICMODE_COMPRESS);
    let id = call(0, DRV_OPEN, 0, lp(&mut open)) as usize;
    assert_ne!(id, 0);
    assert_eq!(open.error, 0);

    // ICM_GETINFO: the size for NULL, nothing into a short buffer, else all of it.
    assert_eq!(call(id, ICM_GETINFO, 0, 568), 568);
    // SAFETY: all-zero bytes are a valid IcInfo (integers and arrays).
    let mut info: IcInfo = unsafe { std::mem::zeroed() };
    info.fcc_type = 0x5555;
    assert_eq!(call(id, ICM_GETINFO, lp(&mut info), 567), 0);
    assert_eq!(info.fcc_type, 0x5555, "nothing written into a short ICINFO");
    assert_eq!(call(id, ICM_GETINFO, lp(&mut info), 568), 568);
    assert_eq!(
        (info.size, info.fcc_type, info.fcc_handler, info.flags, info.version, info.version_icm),
        (568, ICTYPE_VIDEO, XORC, VIDCF_TEMPORAL, 7, ICVERSION)
    );
    assert_eq!(
        (wstr(&info.name), wstr(&info.description), wstr(&info.driver)),
        ("Xor".into(), "XOR test codec".into(), String::new())
    );

    let mut quality = 0u32;
    assert_eq!(call(id, ICM_GETDEFAULTQUALITY, lp(&mut quality), 4), ICERR_OK);
    assert_eq!(quality, 7500);
    assert_eq!(call(id, ICM_GETDEFAULTQUALITY, 0, 4), ICERR_BADPARAM);

    // Queries: good, wrong depth, malformed, missing.
    let mut input = bytes_of(&input_format());
    let inp = input.as_mut_ptr() as LParam;
    assert_eq!(call(id, ICM_COMPRESS_QUERY, inp, 0), ICERR_OK);
    let mut deep = input_format();
    deep.header.bit_count = 24;
    deep.extra.clear();
    deep.header.clr_used = 0;
    let mut deep = bytes_of(&deep);
    assert_eq!(call(id, ICM_COMPRESS_QUERY, deep.as_mut_ptr() as LParam, 0), ICERR_BADFORMAT);
    let mut bad = input.clone();
    bad[32..36].copy_from_slice(&300u32.to_le_bytes()); // biClrUsed past 256
    assert_eq!(call(id, ICM_COMPRESS_QUERY, bad.as_mut_ptr() as LParam, 0), ICERR_BADFORMAT);
    bad[0..4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes()); // absurd biSize
    assert_eq!(call(id, ICM_COMPRESS_QUERY, bad.as_mut_ptr() as LParam, 0), ICERR_BADFORMAT);
    assert_eq!(call(id, ICM_COMPRESS_QUERY, 0, 0), ICERR_BADPARAM);

    // Output format: its size first, then exactly that many bytes.
    assert_eq!(call(id, ICM_COMPRESS_GET_FORMAT, inp, 0), 1064);
    let mut output = vec![0xEEu8; 1064 + 8];
    assert_eq!(call(id, ICM_COMPRESS_GET_FORMAT, inp, output.as_mut_ptr() as LParam), ICERR_OK);
    assert_eq!(&output[1064..], &[0xEE; 8], "nothing past the announced size");
    let out_format = BitmapFormat::from_bytes(&output).unwrap();
    assert_eq!((out_format.header.compression, out_format.header.size_image), (XORC, 25));
    let outp = output.as_mut_ptr() as LParam;
    assert_eq!(call(id, ICM_COMPRESS_QUERY, inp, outp), ICERR_OK);
    assert_eq!(call(id, ICM_COMPRESS_GET_SIZE, inp, outp), 25);
    assert_eq!(call(id, ICM_COMPRESS_GET_SIZE, inp, 0), 25, "the codec's own output format");
    assert_eq!(call(id, ICM_COMPRESS_BEGIN, inp, outp), ICERR_OK);

    // A keyframe, then a delta against the previous frame.
    let frame1: Vec<u8> = (0..24).collect();
    let mut frame2 = frame1.clone();
    frame2[9] = 0x80;
    let mut data = [0x77u8; 26];
    let (mut ckid, mut flags) = (0u32, AVIIF_TWOCC);
    let mut ic = IcCompress {
        flags: ICCOMPRESS_KEYFRAME,
        bi_output: bi(&mut output),
        output: data.as_mut_ptr().cast(),
        bi_input: bi(&mut input),
        input: frame1.as_ptr().cast_mut().cast(),
        ckid: &mut ckid,
        dw_flags: &mut flags,
        frame_num: 0,
        frame_size: 0,
        quality: 7500,
        bi_prev: ptr::null_mut(),
        prev: ptr::null_mut(),
    };
    assert_eq!(call(id, ICM_COMPRESS, lp(&mut ic), 88), ICERR_OK);
    assert_eq!(
        (flags, u32::from_le_bytes(output[20..24].try_into().unwrap())),
        (AVIIF_TWOCC | AVIIF_KEYFRAME, 25)
    );
    assert_eq!(data[0], 1);
    assert_eq!(&data[1..25], &frame1[..]);
    assert_eq!(data[25], 0x77, "nothing past the frame");
    let key = data[..25].to_vec();

    ic.flags = 0;
    ic.input = frame2.as_ptr().cast_mut().cast();
    ic.bi_prev = bi(&mut input);
    ic.prev = frame1.as_ptr().cast_mut().cast();
    ic.frame_num = 1;
    assert_eq!(call(id, ICM_COMPRESS, lp(&mut ic), 88), ICERR_OK);
    assert_eq!(flags, AVIIF_TWOCC, "a delta frame clears AVIIF_KEYFRAME");
    let mut expected_delta = [0u8; 25];
    expected_delta[10] = 9 ^ 0x80;
    assert_eq!(&data[..25], &expected_delta[..]);
    let delta = data[..25].to_vec();

    // A frame longer than GET_SIZE is refused and writes nothing.
    data.fill(0x33);
    ic.quality = GREEDY;
    assert_eq!(call(id, ICM_COMPRESS, lp(&mut ic), 88), ICERR_BADSIZE);
    assert_eq!(data, [0x33; 26]);
    ic.quality = 7500;
    // A previous frame of another size, and a short ICCOMPRESS.
    ic.bi_prev = bi(&mut deep);
    assert_eq!(call(id, ICM_COMPRESS, lp(&mut ic), 88), ICERR_BADFORMAT);
    assert_eq!(call(id, ICM_COMPRESS, lp(&mut ic), 87), ICERR_BADPARAM);
    assert_eq!(call(id, ICM_COMPRESS_END, 0, 0), ICERR_OK);
    assert_eq!(call(id, ICM_COMPRESS_END, 0, 0), ICERR_OK);
    assert_eq!(ENDS.load(Ordering::Relaxed), 1, "END ends what BEGIN began, once");

    // Decompression of both frames into one persistent buffer.
    let mut compressed = output.clone();
    compressed[20..24].copy_from_slice(&25u32.to_le_bytes());
    let cp = compressed.as_mut_ptr() as LParam;
    assert_eq!(call(id, ICM_DECOMPRESS_QUERY, cp, 0), ICERR_OK);
    assert_eq!(call(id, ICM_DECOMPRESS_QUERY, inp, 0), ICERR_BADFORMAT);
    assert_eq!(call(id, ICM_DECOMPRESS_GET_FORMAT, cp, 0), 1064);
    let mut rgb = vec![0u8; 1064];
    assert_eq!(call(id, ICM_DECOMPRESS_GET_FORMAT, cp, rgb.as_mut_ptr() as LParam), ICERR_OK);
    assert_eq!(BitmapFormat::from_bytes(&rgb).unwrap(), input_format());
    assert_eq!(call(id, ICM_DECOMPRESS_BEGIN, cp, rgb.as_mut_ptr() as LParam), ICERR_OK);
    let mut shown = [0x11u8; 28];
    let mut stream = key.clone();
    let mut id_ = IcDecompress {
        flags: 0,
        bi_input: bi(&mut compressed),
        input: stream.as_mut_ptr().cast(),
        bi_output: bi(&mut rgb),
        output: shown.as_mut_ptr().cast(),
        ckid: 0,
    };
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_OK);
    assert_eq!(&shown[..24], &frame1[..]);
    assert_eq!(&shown[24..], &[0x11; 4], "nothing past stride * height");
    stream.copy_from_slice(&delta);
    id_.flags = ICDECOMPRESS_NOTKEYFRAME;
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_OK);
    assert_eq!(&shown[..24], &frame2[..]);
    assert_eq!(u32::from_le_bytes(rgb[20..24].try_into().unwrap()), 24, "biSizeImage written back");

    // biSizeImage 0 is a DIB's "compute it"; a smaller one is a smaller buffer.
    rgb[20..24].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_OK);
    assert_eq!(&shown[..24], &frame1[..]);
    rgb[20..24].copy_from_slice(&23u32.to_le_bytes());
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_BADSIZE);
    assert_eq!(&shown[..24], &frame1[..], "untouched");
    rgb[20..24].copy_from_slice(&24u32.to_le_bytes());
    // The compressed size comes from the input's biSizeImage.
    compressed[20..24].copy_from_slice(&24u32.to_le_bytes());
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_ERROR);
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 47), ICERR_BADPARAM);
    // A null frame hands the codec no data (which this one refuses), even with no lpInput.
    id_.flags = ICDECOMPRESS_NULLFRAME | ICDECOMPRESS_NOTKEYFRAME;
    id_.input = ptr::null_mut();
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_ERROR);
    id_.flags = ICDECOMPRESS_NOTKEYFRAME;
    assert_eq!(call(id, ICM_DECOMPRESS, lp(&mut id_), 48), ICERR_BADPARAM, "data without lpInput");
    assert_eq!(call(id, ICM_DECOMPRESS_END, 0, 0), ICERR_OK);

    // What the kit does not know is unsupported, not DefDriverProc's 0.
    assert_eq!(call(id, ICM_CONFIGURE, -1, 0), ICERR_UNSUPPORTED);
    assert_eq!(call(id, ICM_GETSTATE, 0, 0), 0, "no state: 0 bytes, not a negative size");
    assert_eq!(call(id, ICM_SETSTATE, 0, 0), 0);
    assert_eq!(call(id, ICM_USER + 100, 0, 0), ICERR_UNSUPPORTED);

    assert_eq!(call(id, DRV_CLOSE, 0, 0), 1);
    assert_eq!(call(session as usize, DRV_CLOSE, 0, 0), 1);
    assert_eq!(call(0, DRV_DISABLE, 0, 0), 1);
    assert_eq!(call(0, DRV_FREE, 0, 0), 1);
}
