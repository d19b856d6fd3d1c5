//! Every read and write of msvfw32's structures: the VfW kit's one `unsafe` module.
//!
//! Each function takes the `LPARAM`s a message carried and trusts exactly what that
//! message's contract says they point to (the acm-vfw contract note and Microsoft's
//! `ICM_*` documentation). Unlike ACM's, VfW structures carry few lengths, so the
//! lengths come from the rules below, and nothing is read or written past them:
//! - a `BITMAPINFO` is its header's `biSize` plus the colour table its
//!   `biBitCount`/`biClrUsed` say ([`BitmapFormat::span`], which refuses absurd values
//!   before anything past the 40 fixed bytes is read);
//! - a format buffer to fill is as large as the size the driver announced for it
//!   (the `lParam2 == NULL` call of the same `*_GET_FORMAT` with the same input);
//! - an image buffer is as large as its format's [`BitmapFormat::data_size`], and the
//!   compressor's output buffer as the codec's `ICM_COMPRESS_GET_SIZE` answer, both
//!   worked out by the caller of these functions and passed in.

use std::mem::{offset_of, size_of};
use std::ptr;

use super::codec::{Compressed, IcError};
use super::format::{BITMAPINFOHEADER_SIZE, BitmapFormat, BitmapFormatError};
use super::layout::*;
use crate::types::LParam;

/// The fields of `ICOPEN` a driver cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpenRequest {
    pub fcc_type: u32,
    pub fcc_handler: u32,
    pub flags: u32,
}

/// Reads `ICOPEN`: `None` for NULL (the session open), `Some(None)` for a structure
/// whose `dwSize` is too small to hold `dwFlags`.
///
/// # Safety
/// `l2` is `DRV_OPEN`'s `lParam2` for a video codec: NULL or an `ICOPEN` of
/// `dwSize` bytes.
pub(super) unsafe fn open_request(l2: LParam) -> Option<Option<OpenRequest>> {
    let base = l2 as *const u8;
    if base.is_null() {
        return None;
    }
    // SAFETY: every ICOPEN starts with its u32 size (the contract).
    let size = unsafe { ptr::read_unaligned(base.cast::<u32>()) } as usize;
    if size < offset_of!(IcOpen, flags) + 4 {
        return Some(None);
    }
    // SAFETY: all three fields lie within `size` bytes.
    unsafe {
        Some(Some(OpenRequest {
            fcc_type: ptr::read_unaligned(base.add(offset_of!(IcOpen, fcc_type)).cast()),
            fcc_handler: ptr::read_unaligned(base.add(offset_of!(IcOpen, fcc_handler)).cast()),
            flags: ptr::read_unaligned(base.add(offset_of!(IcOpen, flags)).cast()),
        }))
    }
}

/// Sets `ICOPEN::dwError` of a refused open, if `dwSize` covers it.
///
/// # Safety
/// As for [`open_request`].
pub(super) unsafe fn set_open_error(l2: LParam, error: isize) {
    let base = l2 as *mut u8;
    if base.is_null() {
        return;
    }
    // SAFETY: as in `open_request`.
    let size = unsafe { ptr::read_unaligned(base.cast::<u32>()) } as usize;
    if size >= offset_of!(IcOpen, error) + size_of::<isize>() {
        // SAFETY: within `size` bytes.
        unsafe { ptr::write_unaligned(base.add(offset_of!(IcOpen, error)).cast(), error) };
    }
}

/// Copies `text` into a UTF-16 field (NUL-terminated, cut to fit).
fn wide_field<const N: usize>(text: &str) -> [u16; N] {
    let mut out = [0u16; N];
    for (slot, unit) in out.iter_mut().take(N - 1).zip(text.encode_utf16()) {
        *slot = unit;
    }
    out
}

/// Answers `ICM_GETINFO`: with a NULL `ICINFO`, the size it needs; with one of
/// fewer bytes than `ICINFO` (`lParam2`), 0 and nothing written; else the whole
/// structure (szDriver empty, for msvfw32 to fill) and its size.
///
/// # Safety
/// `l1` is NULL or points to `l2` writable bytes.
pub(super) unsafe fn write_info(l1: LParam, l2: LParam, info: &super::Info) -> isize {
    let size = size_of::<IcInfo>();
    if l1 == 0 {
        return size as isize;
    }
    if (l2 as usize) < size {
        return 0;
    }
    let full = IcInfo {
        size: size as u32,
        fcc_type: super::consts::ICTYPE_VIDEO,
        fcc_handler: info.fcc_handler,
        flags: info.flags,
        version: info.version,
        version_icm: super::consts::ICVERSION,
        name: wide_field(&info.name),
        description: wide_field(&info.description),
        driver: [0; 128],
    };
    // SAFETY: `l2 >= size` writable bytes at `l1` (the contract); `full` is a local.
    unsafe { ptr::copy_nonoverlapping(ptr::from_ref(&full).cast::<u8>(), l1 as *mut u8, size) };
    size as isize
}

/// Writes a `DWORD` through a caller's pointer; false for NULL.
///
/// # Safety
/// `l` is NULL or points to a writable `DWORD`.
pub(super) unsafe fn write_dword(l: LParam, value: u32) -> bool {
    if l == 0 {
        return false;
    }
    // SAFETY: the contract.
    unsafe { ptr::write_unaligned(l as *mut u32, value) };
    true
}

/// Reads a `BITMAPINFO` (header and colour table); `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a `BITMAPINFO` as long as [`BitmapFormat::span`] of
/// its first 40 bytes says.
pub(super) unsafe fn read_format(p: *const u8) -> Option<Result<BitmapFormat, BitmapFormatError>> {
    if p.is_null() {
        return None;
    }
    let mut fixed = [0u8; BITMAPINFOHEADER_SIZE];
    // SAFETY: a BITMAPINFO starts with its 40-byte header (the contract).
    unsafe { ptr::copy_nonoverlapping(p, fixed.as_mut_ptr(), BITMAPINFOHEADER_SIZE) };
    Some(BitmapFormat::span(&fixed).and_then(|n| {
        // SAFETY: `span` bytes are the format (the contract), and `span` refused
        // any header size or colour count no bitmap has.
        BitmapFormat::from_bytes(unsafe { std::slice::from_raw_parts(p, n) })
    }))
}

/// [`read_format`] of an `LPARAM`.
///
/// # Safety
/// As for [`read_format`].
pub(super) unsafe fn format_param(l: LParam) -> Option<Result<BitmapFormat, BitmapFormatError>> {
    // SAFETY: forwarded contract.
    unsafe { read_format(l as *const u8) }
}

/// Fills a caller's format buffer with `format` (its `size()` bytes).
///
/// # Safety
/// `l` is NULL or points to at least `format.size()` writable bytes: the buffer the
/// caller allocated from the size this driver announced for this format.
pub(super) unsafe fn write_format(l: LParam, format: &BitmapFormat) -> bool {
    if l == 0 {
        return false;
    }
    // SAFETY: the contract: `format.size()` bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(l as *mut u8, format.size()) };
    format.write_to(out).is_ok()
}

/// Sets `biSizeImage` of a caller's `BITMAPINFOHEADER`.
///
/// # Safety
/// `p` is NULL or a writable `BITMAPINFOHEADER`.
unsafe fn set_size_image(p: *mut BitmapInfoHeader, size: usize) {
    if !p.is_null() {
        // SAFETY: the contract.
        unsafe {
            ptr::write_unaligned(
                p.cast::<u8>().add(offset_of!(BitmapInfoHeader, size_image)).cast(),
                size as u32,
            )
        };
    }
}

/// What `ICM_COMPRESS` asks, with its formats parsed.
#[derive(Debug)]
pub(super) struct CompressRequest {
    pub keyframe_requested: bool,
    pub input: Result<BitmapFormat, BitmapFormatError>,
    pub output: Result<BitmapFormat, BitmapFormatError>,
    /// `lpbiPrev`'s format, when given.
    pub previous_format: Option<Result<BitmapFormat, BitmapFormatError>>,
    pub quality: u32,
    pub frame_number: i32,
}

/// The buffer lengths of one `ICM_COMPRESS`, as the driver's rules give them.
pub(super) struct CompressPlan {
    /// Bytes of `lpInput` (and of `lpPrev`).
    pub input_len: usize,
    /// Bytes of `lpOutput`.
    pub capacity: usize,
}

/// Runs one `ICM_COMPRESS`: reads the request, lets `plan` decide the buffer
/// lengths (or refuse), runs `run` over the input and previous frames, and writes
/// the data (when it fits the capacity), `lpbiOutput->biSizeImage` and the
/// keyframe flag in `*lpdwFlags`.
///
/// # Safety
/// `l1` is NULL or an `ICCOMPRESS` of `l2` bytes whose pointers are NULL or hold
/// what the plan's lengths and the formats' spans say, the output not overlapping
/// the inputs.
pub(super) unsafe fn compress(
    l1: LParam,
    l2: LParam,
    plan: impl FnOnce(&CompressRequest) -> Result<CompressPlan, IcError>,
    run: impl FnOnce(&CompressRequest, &[u8], Option<&[u8]>) -> Result<Compressed, IcError>,
) -> Result<(), IcError> {
    if l1 == 0 || (l2 as usize) < size_of::<IcCompress>() {
        return Err(IcError::BadParam);
    }
    // SAFETY: an ICCOMPRESS of at least its size (checked above, the contract).
    let ic = unsafe { ptr::read_unaligned(l1 as *const IcCompress) };
    // SAFETY: the formats are NULL or BITMAPINFOs (the contract).
    let request = unsafe {
        CompressRequest {
            keyframe_requested: ic.flags & super::consts::ICCOMPRESS_KEYFRAME != 0,
            input: read_format(ic.bi_input.cast()).unwrap_or(Err(BitmapFormatError::TooShort(0))),
            output: read_format(ic.bi_output.cast()).unwrap_or(Err(BitmapFormatError::TooShort(0))),
            previous_format: read_format(ic.bi_prev.cast()),
            quality: ic.quality,
            frame_number: ic.frame_num,
        }
    };
    if ic.input.is_null() || ic.output.is_null() {
        return Err(IcError::BadParam);
    }
    let CompressPlan { input_len, capacity } = plan(&request)?;
    // SAFETY: `input_len` bytes at lpInput and lpPrev, `capacity` at lpOutput (the
    // contract, with the lengths the driver's rules give).
    unsafe {
        let input = std::slice::from_raw_parts(ic.input.cast::<u8>(), input_len);
        let previous =
            (!ic.prev.is_null()).then(|| std::slice::from_raw_parts(ic.prev.cast::<u8>(), input_len));
        let compressed = run(&request, input, previous)?;
        if compressed.data.len() > capacity {
            return Err(IcError::BadSize);
        }
        ptr::copy_nonoverlapping(compressed.data.as_ptr(), ic.output.cast::<u8>(), compressed.data.len());
        set_size_image(ic.bi_output, compressed.data.len());
        if !ic.dw_flags.is_null() {
            let flags = ptr::read_unaligned(ic.dw_flags);
            let key = super::consts::AVIIF_KEYFRAME;
            ptr::write_unaligned(ic.dw_flags, if compressed.keyframe { flags | key } else { flags & !key });
        }
    }
    Ok(())
}

/// What `ICM_DECOMPRESS` asks, with its formats parsed.
#[derive(Debug)]
pub(super) struct DecompressRequest {
    pub not_keyframe: bool,
    /// `ICDECOMPRESS_NULLFRAME`: the frame repeats the previous one.
    pub null_frame: bool,
    pub input: Result<BitmapFormat, BitmapFormatError>,
    pub output: Result<BitmapFormat, BitmapFormatError>,
}

/// Runs one `ICM_DECOMPRESS`: reads the request, lets `plan` decide the lengths of
/// the input data and the output frame `(data, frame)`, runs `run` over them, and
/// sets `lpbiOutput->biSizeImage` to the frame's length.
///
/// # Safety
/// `l1` is NULL or an `ICDECOMPRESS` of `l2` bytes whose pointers are NULL or hold
/// what the plan's lengths and the formats' spans say, the output not overlapping
/// the input.
pub(super) unsafe fn decompress(
    l1: LParam,
    l2: LParam,
    plan: impl FnOnce(&DecompressRequest) -> Result<(usize, usize), IcError>,
    run: impl FnOnce(&DecompressRequest, &[u8], &mut [u8]) -> Result<(), IcError>,
) -> Result<(), IcError> {
    if l1 == 0 || (l2 as usize) < size_of::<IcDecompress>() {
        return Err(IcError::BadParam);
    }
    // SAFETY: an ICDECOMPRESS of at least its size (checked above, the contract).
    let ic = unsafe { ptr::read_unaligned(l1 as *const IcDecompress) };
    // SAFETY: the formats are NULL or BITMAPINFOs (the contract).
    let request = unsafe {
        DecompressRequest {
            not_keyframe: ic.flags & super::consts::ICDECOMPRESS_NOTKEYFRAME != 0,
            null_frame: ic.flags & super::consts::ICDECOMPRESS_NULLFRAME != 0,
            input: read_format(ic.bi_input.cast()).unwrap_or(Err(BitmapFormatError::TooShort(0))),
            output: read_format(ic.bi_output.cast()).unwrap_or(Err(BitmapFormatError::TooShort(0))),
        }
    };
    if ic.output.is_null() {
        return Err(IcError::BadParam);
    }
    let (data_len, frame_len) = plan(&request)?;
    if ic.input.is_null() && data_len > 0 {
        return Err(IcError::BadParam);
    }
    // SAFETY: `data_len` bytes at lpInput and `frame_len` at lpOutput (the contract,
    // with the lengths the driver's rules give).
    unsafe {
        let data: &[u8] =
            if data_len == 0 { &[] } else { std::slice::from_raw_parts(ic.input.cast::<u8>(), data_len) };
        let frame = std::slice::from_raw_parts_mut(ic.output.cast::<u8>(), frame_len);
        run(&request, data, frame)?;
        set_size_image(ic.bi_output, frame_len);
    }
    Ok(())
}
