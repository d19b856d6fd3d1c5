//! Every read and write of msacm32's structures: the ACM kit's one `unsafe` module.
//!
//! Each function takes the `LPARAM` a message carried and trusts exactly what that
//! message's contract says it points to (see the acm-vfw contract and Microsoft's
//! `ACMDM_*` documentation): a structure whose `cbStruct` says how much of it the
//! caller allocated, and inside it, buffers with their lengths. Nothing here reads
//! or writes past a length the caller gave; structures are accessed with unaligned
//! reads and writes, since several are packed. Everything the rest of the kit sees
//! is an owned value or a slice bounded by the caller's own length.

use std::mem::{offset_of, size_of};
use std::ptr;

use super::format::{Format, FormatError, WAVEFORMATEX_SIZE};
use super::layout::*;
use crate::types::LParam;

/// Reads field `T` at `offset` of the structure at `base`, if the caller's
/// `cb_struct` covers it.
///
/// # Safety
/// `base` points to at least `cb_struct` readable bytes.
unsafe fn read_at<T: Copy>(base: *const u8, cb_struct: usize, offset: usize) -> Option<T> {
    // SAFETY: offset + size <= cb_struct, which the caller vouches for.
    (offset + size_of::<T>() <= cb_struct)
        .then(|| unsafe { ptr::read_unaligned(base.add(offset).cast::<T>()) })
}

/// Writes field `T` at `offset` of the structure at `base`, if `cb_struct` covers it.
///
/// # Safety
/// `base` points to at least `cb_struct` writable bytes.
unsafe fn write_at<T>(base: *mut u8, cb_struct: usize, offset: usize, value: T) -> bool {
    if offset + size_of::<T>() > cb_struct {
        return false;
    }
    // SAFETY: as in `read_at`.
    unsafe { ptr::write_unaligned(base.add(offset).cast::<T>(), value) };
    true
}

/// The `cbStruct` (first `u32`) of a structure, or `None` for a NULL pointer.
///
/// # Safety
/// `l` is NULL or points to a structure that starts with its size.
unsafe fn cb_struct(l: LParam) -> Option<(*mut u8, usize)> {
    let base = l as *mut u8;
    // SAFETY: non-null, and every ACM structure starts with its u32 size.
    (!base.is_null()).then(|| (base, unsafe { ptr::read_unaligned(base.cast::<u32>()) } as usize))
}

/// Copies `text` into a UTF-16 field of `units` units (NUL-terminated, cut to fit).
fn wide_field<const N: usize>(text: &str) -> [u16; N] {
    let mut out = [0u16; N];
    for (slot, unit) in out.iter_mut().take(N - 1).zip(text.encode_utf16()) {
        *slot = unit;
    }
    out
}

/// Reads a `WAVEFORMATEX` whose own `cbSize` (or tag, for PCM) says how long it is:
/// the stream instance's formats carry no separate length.
///
/// # Safety
/// `p` is NULL or points to a complete `WAVEFORMATEX` with its `cbSize` extra bytes.
unsafe fn read_self_sized_format(p: *const WaveFormatEx) -> Result<Format, FormatError> {
    if p.is_null() {
        return Err(FormatError::TooShort(0));
    }
    // SAFETY: the fixed part is readable (the caller's contract).
    let head = unsafe { ptr::read_unaligned(p) };
    let len = if head.format_tag == super::consts::WAVE_FORMAT_PCM {
        WAVEFORMATEX_SIZE
    } else {
        WAVEFORMATEX_SIZE + usize::from(head.cb_size)
    };
    // SAFETY: `len` bytes are the format and its extras (the caller's contract).
    Format::from_bytes(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// Reads `cb` bytes of a caller's format buffer.
///
/// # Safety
/// `p` is NULL or points to `cb` readable bytes.
unsafe fn read_sized_format(p: *const WaveFormatEx, cb: u32) -> Result<Format, FormatError> {
    if p.is_null() {
        return Err(FormatError::TooShort(0));
    }
    // SAFETY: the caller's contract.
    Format::from_bytes(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), cb as usize) })
}

/// Writes `format` into a caller's `cb`-byte format buffer.
///
/// # Safety
/// `p` is NULL or points to `cb` writable bytes.
unsafe fn write_sized_format(p: *mut WaveFormatEx, cb: u32, format: &Format) -> Result<usize, FormatError> {
    if p.is_null() {
        return Err(FormatError::DoesNotFit { needed: format.size(), available: 0 });
    }
    // SAFETY: the caller's contract.
    format.write_to(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), cb as usize) })
}

/// `DRV_OPEN`'s `ACMDRVOPENDESCW`, as far as a codec cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpenDesc {
    pub fcc_type: u32,
}

/// # Safety
/// `l2` is `DRV_OPEN`'s `lParam2` for an ACM driver: NULL or an `ACMDRVOPENDESCW`.
pub(super) unsafe fn open_desc(l2: LParam) -> Option<OpenDesc> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l2) }?;
    // SAFETY: `cb` bytes at `base` (the structure's own size).
    let fcc_type = unsafe { read_at::<u32>(base, cb, offset_of!(AcmDrvOpenDescW, fcc_type)) }?;
    Some(OpenDesc { fcc_type })
}

/// Sets `dwError` of a refused open.
///
/// # Safety
/// As for [`open_desc`].
pub(super) unsafe fn set_open_error(l2: LParam, error: u32) {
    // SAFETY: forwarded contract.
    if let Some((base, cb)) = unsafe { cb_struct(l2) } {
        // SAFETY: as above.
        unsafe { write_at(base, cb, offset_of!(AcmDrvOpenDescW, error), error) };
    }
}

/// Fills the caller's `ACMDRIVERDETAILSW` (as much of it as `cbStruct` covers).
///
/// # Safety
/// `l1` is `ACMDM_DRIVER_DETAILS`' `lParam1`: NULL or an `ACMDRIVERDETAILSW`.
pub(super) unsafe fn write_driver_details(l1: LParam, d: &super::Details, tags: u32) -> bool {
    // SAFETY: forwarded contract.
    let Some((base, cb)) = (unsafe { cb_struct(l1) }) else { return false };
    let full = AcmDriverDetailsW {
        cb_struct: size_of::<AcmDriverDetailsW>().min(cb) as u32,
        fcc_type: super::consts::ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC,
        fcc_comp: d.fcc_comp,
        mid: d.mid,
        pid: d.pid,
        vdw_acm: d.acm_version,
        vdw_driver: d.driver_version,
        fdw_support: d.support,
        c_format_tags: tags,
        c_filter_tags: 0,
        hicon: ptr::null_mut(),
        short_name: wide_field(&d.short_name),
        long_name: wide_field(&d.long_name),
        copyright: wide_field(&d.copyright),
        licensing: wide_field(&d.licensing),
        features: wide_field(&d.features),
    };
    let n = size_of::<AcmDriverDetailsW>().min(cb);
    // SAFETY: `n` <= cbStruct bytes of the caller's structure; `full` is a local.
    unsafe { ptr::copy_nonoverlapping(ptr::from_ref(&full).cast::<u8>(), base, n) };
    true
}

/// What `ACMDM_FORMATTAG_DETAILS` asks: the index and tag fields.
///
/// # Safety
/// `l1` is NULL or an `ACMFORMATTAGDETAILSW`.
pub(super) unsafe fn formattag_request(l1: LParam) -> Option<(u32, u32)> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l1) }?;
    // SAFETY: bounded by cbStruct.
    unsafe {
        Some((
            read_at(base, cb, offset_of!(AcmFormatTagDetailsW, format_tag_index))?,
            read_at(base, cb, offset_of!(AcmFormatTagDetailsW, format_tag))?,
        ))
    }
}

/// Fills an `ACMFORMATTAGDETAILSW`.
///
/// # Safety
/// As for [`formattag_request`].
pub(super) unsafe fn write_formattag(
    l1: LParam,
    index: u32,
    tag: &super::FormatTag,
    support: u32,
    count: u32,
) {
    // SAFETY: forwarded contract.
    let Some((base, cb)) = (unsafe { cb_struct(l1) }) else { return };
    let full = AcmFormatTagDetailsW {
        cb_struct: size_of::<AcmFormatTagDetailsW>().min(cb) as u32,
        format_tag_index: index,
        format_tag: u32::from(tag.tag),
        cb_format_size: tag.format_size,
        fdw_support: support,
        c_standard_formats: count,
        format_tag_name: wide_field(&tag.name),
    };
    let n = size_of::<AcmFormatTagDetailsW>().min(cb);
    // SAFETY: as in `write_driver_details`.
    unsafe { ptr::copy_nonoverlapping(ptr::from_ref(&full).cast::<u8>(), base, n) };
}

/// What `ACMDM_FORMAT_DETAILS` asks: index, tag, and the caller's format bytes
/// (read for `ACM_FORMATDETAILSF_FORMAT`).
#[derive(Debug)]
pub(super) struct FormatRequest {
    pub index: u32,
    pub tag: u32,
    pub format: Result<Format, FormatError>,
}

/// # Safety
/// `l1` is NULL or an `ACMFORMATDETAILSW` whose `pwfx` holds `cbwfx` bytes.
pub(super) unsafe fn format_request(l1: LParam, read_format: bool) -> Option<FormatRequest> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l1) }?;
    // SAFETY: bounded by cbStruct; `pwfx` holds `cbwfx` bytes (the contract).
    unsafe {
        let index = read_at(base, cb, offset_of!(AcmFormatDetailsW, format_index))?;
        let tag = read_at(base, cb, offset_of!(AcmFormatDetailsW, format_tag))?;
        let pwfx: *mut WaveFormatEx = read_at(base, cb, offset_of!(AcmFormatDetailsW, pwfx))?;
        let cbwfx: u32 = read_at(base, cb, offset_of!(AcmFormatDetailsW, cbwfx))?;
        let format = if read_format { read_sized_format(pwfx, cbwfx) } else { Err(FormatError::TooShort(0)) };
        Some(FormatRequest { index, tag, format })
    }
}

/// Answers `ACMDM_FORMAT_DETAILS` by index: `*pwfx`, `fdwSupport`, `szFormat`.
///
/// # Safety
/// As for [`format_request`].
pub(super) unsafe fn write_format_details(
    l1: LParam,
    format: &Format,
    support: u32,
) -> Result<(), FormatError> {
    // SAFETY: forwarded contract.
    let Some((base, cb)) = (unsafe { cb_struct(l1) }) else { return Err(FormatError::TooShort(0)) };
    // SAFETY: bounded by cbStruct and cbwfx.
    unsafe {
        let pwfx: *mut WaveFormatEx =
            read_at(base, cb, offset_of!(AcmFormatDetailsW, pwfx)).unwrap_or(ptr::null_mut());
        let cbwfx: u32 = read_at(base, cb, offset_of!(AcmFormatDetailsW, cbwfx)).unwrap_or(0);
        write_sized_format(pwfx, cbwfx, format)?;
        write_at(base, cb, offset_of!(AcmFormatDetailsW, format_tag), u32::from(format.tag));
        write_at(base, cb, offset_of!(AcmFormatDetailsW, fdw_support), support);
        // An empty name: msacm32 then describes the format itself.
        write_at(base, cb, offset_of!(AcmFormatDetailsW, format_name), [0u16; 128]);
    }
    Ok(())
}

/// What `ACMDM_FORMAT_SUGGEST` asks.
#[derive(Debug)]
pub(super) struct SuggestRequest {
    pub flags: u32,
    pub src: Result<Format, FormatError>,
    /// The destination's fixed fields as the caller filled them (tag, channels,
    /// rate, bits), when its buffer holds them.
    pub dst_fields: Option<(u16, u16, u32, u16)>,
}

/// # Safety
/// `l1` is NULL or an `ACMDRVFORMATSUGGEST` whose buffers hold their `cbwfx` bytes.
pub(super) unsafe fn suggest_request(l1: LParam) -> Option<SuggestRequest> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l1) }?;
    // SAFETY: bounded by cbStruct and the buffers' own sizes.
    unsafe {
        let flags = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, fdw_suggest))?;
        let src_p: *const WaveFormatEx = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, pwfx_src))?;
        let src_cb: u32 = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, cbwfx_src))?;
        let dst_p: *const WaveFormatEx = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, pwfx_dst))?;
        let dst_cb: u32 = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, cbwfx_dst))?;
        let dst_fields = (!dst_p.is_null() && dst_cb as usize >= 16).then(|| {
            let d = dst_p.cast::<u8>();
            let u16_at = |o: usize| ptr::read_unaligned(d.add(o).cast::<u16>());
            (u16_at(0), u16_at(2), ptr::read_unaligned(d.add(4).cast::<u32>()), u16_at(14))
        });
        Some(SuggestRequest { flags, src: read_sized_format(src_p, src_cb), dst_fields })
    }
}

/// Writes the suggested destination.
///
/// # Safety
/// As for [`suggest_request`].
pub(super) unsafe fn write_suggestion(l1: LParam, format: &Format) -> Result<(), FormatError> {
    // SAFETY: forwarded contract.
    let Some((base, cb)) = (unsafe { cb_struct(l1) }) else { return Err(FormatError::TooShort(0)) };
    // SAFETY: bounded by cbStruct and cbwfxDst.
    unsafe {
        let p: *mut WaveFormatEx =
            read_at(base, cb, offset_of!(AcmDrvFormatSuggest, pwfx_dst)).unwrap_or(ptr::null_mut());
        let n: u32 = read_at(base, cb, offset_of!(AcmDrvFormatSuggest, cbwfx_dst)).unwrap_or(0);
        write_sized_format(p, n, format).map(|_| ())
    }
}

/// The stream instance's formats, flags and the driver's stream key.
#[derive(Debug)]
pub(super) struct StreamInstance {
    pub src: Result<Format, FormatError>,
    pub dst: Result<Format, FormatError>,
    pub fdw_open: u32,
    pub dw_driver: usize,
}

/// # Safety
/// `l1` is NULL or an `ACMDRVSTREAMINSTANCE` whose formats are complete.
pub(super) unsafe fn stream_instance(l1: LParam, read_formats: bool) -> Option<StreamInstance> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l1) }?;
    // SAFETY: bounded by cbStruct; the formats are complete (the contract).
    unsafe {
        let fdw_open = read_at(base, cb, offset_of!(AcmDrvStreamInstance, fdw_open))?;
        let dw_driver = read_at(base, cb, offset_of!(AcmDrvStreamInstance, dw_driver))?;
        let (src, dst) = if read_formats {
            let s: *const WaveFormatEx = read_at(base, cb, offset_of!(AcmDrvStreamInstance, pwfx_src))?;
            let d: *const WaveFormatEx = read_at(base, cb, offset_of!(AcmDrvStreamInstance, pwfx_dst))?;
            (read_self_sized_format(s), read_self_sized_format(d))
        } else {
            (Err(FormatError::TooShort(0)), Err(FormatError::TooShort(0)))
        };
        Some(StreamInstance { src, dst, fdw_open, dw_driver })
    }
}

/// Stores the driver's stream key in `dwDriver`.
///
/// # Safety
/// As for [`stream_instance`].
pub(super) unsafe fn set_stream_key(l1: LParam, key: usize) {
    // SAFETY: forwarded contract.
    if let Some((base, cb)) = unsafe { cb_struct(l1) } {
        // SAFETY: bounded by cbStruct.
        unsafe { write_at(base, cb, offset_of!(AcmDrvStreamInstance, dw_driver), key) };
    }
}

/// `ACMDRVSTREAMSIZE`: (fdwSize, cbSrcLength, cbDstLength).
///
/// # Safety
/// `l2` is NULL or an `ACMDRVSTREAMSIZE`.
pub(super) unsafe fn stream_size_request(l2: LParam) -> Option<(u32, u32, u32)> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l2) }?;
    // SAFETY: bounded by cbStruct.
    unsafe {
        Some((
            read_at(base, cb, offset_of!(AcmDrvStreamSize, fdw_size))?,
            read_at(base, cb, offset_of!(AcmDrvStreamSize, cb_src_length))?,
            read_at(base, cb, offset_of!(AcmDrvStreamSize, cb_dst_length))?,
        ))
    }
}

/// Writes the `ACMDRVSTREAMSIZE` answer.
///
/// # Safety
/// As for [`stream_size_request`].
pub(super) unsafe fn write_stream_size(l2: LParam, src: u32, dst: u32) {
    // SAFETY: forwarded contract.
    if let Some((base, cb)) = unsafe { cb_struct(l2) } {
        // SAFETY: bounded by cbStruct.
        unsafe {
            write_at(base, cb, offset_of!(AcmDrvStreamSize, cb_src_length), src);
            write_at(base, cb, offset_of!(AcmDrvStreamSize, cb_dst_length), dst);
        }
    }
}

/// Runs `convert` over the header's source and destination buffers and writes the
/// used lengths back; `None` for a NULL or short header.
///
/// # Safety
/// `l2` is NULL or an `ACMDRVSTREAMHEADER` whose `pbSrc`/`pbDst` hold
/// `cbSrcLength`/`cbDstLength` bytes, neither overlapping the other nor the header.
pub(super) unsafe fn convert_buffers(
    l2: LParam,
    convert: impl FnOnce(&[u8], &mut [u8], u32) -> (usize, usize),
) -> Option<()> {
    // SAFETY: forwarded contract.
    let (base, cb) = unsafe { cb_struct(l2) }?;
    // SAFETY: bounded by cbStruct; the buffers are the caller's, of the given lengths.
    unsafe {
        let src_p: *const u8 = read_at(base, cb, offset_of!(AcmDrvStreamHeader, pb_src))?;
        let src_n: u32 = read_at(base, cb, offset_of!(AcmDrvStreamHeader, cb_src_length))?;
        let dst_p: *mut u8 = read_at(base, cb, offset_of!(AcmDrvStreamHeader, pb_dst))?;
        let dst_n: u32 = read_at(base, cb, offset_of!(AcmDrvStreamHeader, cb_dst_length))?;
        let flags: u32 = read_at(base, cb, offset_of!(AcmDrvStreamHeader, fdw_convert))?;
        let src: &[u8] =
            if src_p.is_null() { &[] } else { std::slice::from_raw_parts(src_p, src_n as usize) };
        let dst: &mut [u8] =
            if dst_p.is_null() { &mut [] } else { std::slice::from_raw_parts_mut(dst_p, dst_n as usize) };
        let (used_src, used_dst) = convert(src, dst, flags);
        let used_src = used_src.min(src.len()) as u32;
        let used_dst = used_dst.min(dst.len()) as u32;
        write_at(base, cb, offset_of!(AcmDrvStreamHeader, cb_src_length_used), used_src);
        write_at(base, cb, offset_of!(AcmDrvStreamHeader, cb_dst_length_used), used_dst);
    }
    Some(())
}
