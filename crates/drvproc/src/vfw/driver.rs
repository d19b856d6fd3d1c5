//! [`VfwDriver`]: a [`VideoCodec`] as an installable driver, answering msvfw32's messages.

use std::sync::atomic::{AtomicBool, Ordering};

use super::codec::{CompressFrame, IcError, VideoCodec};
use super::consts::*;
use super::format::BitmapFormat;
use super::wire::{self, CompressPlan};
use crate::consts::{ICM_RESERVED_HIGH, ICM_USER};
use crate::sdk::{Context, Driver, Instance, OpenParams};
use crate::types::{LParam, LResult, Msg};

fn answer(result: Result<(), IcError>) -> LResult {
    result.map_or_else(IcError::code, |()| ICERR_OK)
}

/// A video codec as a driver: `drvproc::export_driver!(VfwDriver<MyCodec>);`.
///
/// It accepts the session open (`lParam2` NULL) and opens with an `ICOPEN` of type
/// `'vidc'` (in any case, as msvfw32 compares fourccs); any other type is refused
/// with `dwError = ICERR_UNSUPPORTED`, and an `ICOPEN` whose `dwSize` does not
/// reach `dwFlags` is refused. The handler fourcc is not checked: the
/// codec answers under whatever alias it was installed.
///
/// The buffers msvfw32 hands over carry no lengths; the kit takes them as:
/// - a `BITMAPINFO`: `biSize` plus its colour table (`biClrUsed`, or the full
///   table of a paletted bitmap), larger headers than `BITMAPV5HEADER` and tables
///   of more than 256 colours refused as `ICERR_BADFORMAT`;
/// - the format buffer of `ICM_*_GET_FORMAT`: the size the same message answered
///   with `lParam2` NULL (the codec's format for the same input);
/// - an uncompressed image (`lpInput`/`lpPrev` of `ICM_COMPRESS`, `lpOutput` of
///   `ICM_DECOMPRESS`): `stride * |height|` of its format, as a DIB is; a nonzero
///   output `biSizeImage` smaller than that is refused (`ICERR_BADSIZE`), since the
///   caller says its buffer is smaller;
/// - compressed data (`lpInput` of `ICM_DECOMPRESS`): the input's `biSizeImage`;
/// - the compressor's output (`lpOutput`): the codec's `ICM_COMPRESS_GET_SIZE`
///   answer for the pair, which is what the caller allocated; a frame longer than
///   that is refused (`ICERR_BADSIZE`) and nothing is written.
///
/// After a compressed frame, `lpbiOutput->biSizeImage` is its length and
/// `*lpdwFlags` has `AVIIF_KEYFRAME` set for a keyframe and cleared for a delta
/// frame; after a decompressed one, `lpbiOutput->biSizeImage` is the frame's size.
/// `ICDECOMPRESS_NULLFRAME` hands the codec no data (the frame repeats the previous
/// one). `ICM_GETSTATE` answers a state of 0 bytes and `ICM_SETSTATE` takes none,
/// rather than an error a caller could take for a size. Other unknown `ICM_*`
/// messages answer `ICERR_UNSUPPORTED`.
#[derive(Default)]
pub struct VfwDriver<C: VideoCodec> {
    codec: C,
}

impl<C: VideoCodec> VfwDriver<C> {
    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }
}

/// One open of a [`VfwDriver`].
pub struct VfwInstance {
    /// `ICOPEN::dwFlags` (`ICMODE_*`); 0 for the session open.
    mode: u32,
    compressing: AtomicBool,
    decompressing: AtomicBool,
}

impl VfwInstance {
    /// The `ICMODE_*` it was opened with (0 for an open without `ICOPEN`).
    pub fn mode(&self) -> u32 {
        self.mode
    }
}

/// Whether two fourccs are the same, ignoring ASCII case.
fn same_fourcc(a: u32, b: u32) -> bool {
    a.to_le_bytes().eq_ignore_ascii_case(&b.to_le_bytes())
}

impl<C: VideoCodec> Driver for VfwDriver<C> {
    type Instance = VfwInstance;

    fn open(&self, params: &OpenParams) -> Option<VfwInstance> {
        // SAFETY: DRV_OPEN's lParam2 for a video codec is NULL or an ICOPEN (the
        // contract of the DriverProc this runs behind).
        let request = match unsafe { wire::open_request(params.lparam2) } {
            None => None,
            // Too short to be an ICOPEN, and not the session's NULL either.
            Some(None) => return None,
            Some(Some(r)) if !same_fourcc(r.fcc_type, ICTYPE_VIDEO) => {
                // SAFETY: as above.
                unsafe { wire::set_open_error(params.lparam2, ICERR_UNSUPPORTED) };
                return None;
            }
            Some(Some(r)) => Some(r),
        };
        Some(VfwInstance {
            mode: request.map_or(0, |r| r.flags),
            compressing: AtomicBool::new(false),
            decompressing: AtomicBool::new(false),
        })
    }
}

/// Parses a format `LPARAM`: `None` for NULL, `Err(ICERR_BADFORMAT)` for a bad one.
///
/// # Safety
/// `l` is NULL or a `BITMAPINFO` (see [`wire::read_format`]).
unsafe fn format_arg(l: LParam) -> Result<Option<BitmapFormat>, IcError> {
    // SAFETY: forwarded contract.
    match unsafe { wire::format_param(l) } {
        None => Ok(None),
        Some(Ok(f)) => Ok(Some(f)),
        Some(Err(_)) => Err(IcError::BadFormat),
    }
}

/// A format that must be there.
fn required(f: Result<Option<BitmapFormat>, IcError>) -> Result<BitmapFormat, IcError> {
    f?.ok_or(IcError::BadParam)
}

impl<C: VideoCodec> Instance<VfwDriver<C>> for VfwInstance {
    /// Accepts the close (`DefDriverProc` would answer 0), ending what was begun.
    fn close(&self, cx: &Context<'_, VfwDriver<C>>, _l1: LParam, _l2: LParam) -> LResult {
        let codec = &cx.module().codec;
        if self.compressing.swap(false, Ordering::AcqRel) {
            codec.compress_end();
        }
        if self.decompressing.swap(false, Ordering::AcqRel) {
            codec.decompress_end();
        }
        1
    }

    fn message(&self, cx: &Context<'_, VfwDriver<C>>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        let codec = &cx.module().codec;
        // Every `wire` call and `format_arg` passes lParam1/lParam2 as the ICM
        // message being handled carries them, per its documented contract, which the
        // manager that delivered it keeps: that is each SAFETY comment below.
        match msg {
            // SAFETY: the lParams of the ICM message being handled (see `message`).
            ICM_GETINFO => unsafe { wire::write_info(l1, l2, &codec.info()) },
            ICM_GETDEFAULTQUALITY => {
                // SAFETY: the lParams of the ICM message being handled (see `message`).
                let written = unsafe { wire::write_dword(l1, codec.default_quality()) };
                if written { ICERR_OK } else { ICERR_BADPARAM }
            }
            ICM_COMPRESS_QUERY | ICM_DECOMPRESS_QUERY => {
                // SAFETY: the lParams of the ICM message being handled (see `message`).
                let (input, output) = unsafe { (format_arg(l1), format_arg(l2)) };
                answer((|| {
                    let input = required(input)?;
                    let output = output?;
                    if msg == ICM_COMPRESS_QUERY {
                        codec.compress_query(&input, output.as_ref())
                    } else {
                        codec.decompress_query(&input, output.as_ref())
                    }
                })())
            }
            ICM_COMPRESS_GET_FORMAT | ICM_DECOMPRESS_GET_FORMAT => {
                // SAFETY: the lParams of the ICM message being handled (see `message`).
                let input = match required(unsafe { format_arg(l1) }) {
                    Ok(f) => f,
                    Err(e) => return e.code(),
                };
                let output = if msg == ICM_COMPRESS_GET_FORMAT {
                    codec.compress_get_format(&input)
                } else {
                    codec.decompress_get_format(&input)
                };
                match output {
                    Err(e) => e.code(),
                    Ok(f) if l2 == 0 => f.size() as LResult,
                    // SAFETY: the lParams of the ICM message being handled (see `message`):
                    // lParam2 holds the size answered for this input.
                    Ok(f) => answer(if unsafe { wire::write_format(l2, &f) } {
                        Ok(())
                    } else {
                        Err(IcError::BadParam)
                    }),
                }
            }
            ICM_COMPRESS_GET_SIZE => {
                // SAFETY: the lParams of the ICM message being handled (see `message`).
                let (input, output) = unsafe { (format_arg(l1), format_arg(l2)) };
                let size = (|| {
                    let input = required(input)?;
                    let output = match output? {
                        Some(o) => o,
                        None => codec.compress_get_format(&input)?,
                    };
                    codec.compress_get_size(&input, &output)
                })();
                match size {
                    Ok(n) => LResult::try_from(n).unwrap_or(LResult::MAX),
                    Err(e) => e.code(),
                }
            }
            ICM_COMPRESS_BEGIN | ICM_DECOMPRESS_BEGIN => {
                // SAFETY: the lParams of the ICM message being handled (see `message`).
                let (input, output) = unsafe { (format_arg(l1), format_arg(l2)) };
                answer((|| {
                    let (input, output) = (required(input)?, required(output)?);
                    if msg == ICM_COMPRESS_BEGIN {
                        codec.compress_begin(&input, &output)?;
                        self.compressing.store(true, Ordering::Release);
                    } else {
                        codec.decompress_begin(&input, &output)?;
                        self.decompressing.store(true, Ordering::Release);
                    }
                    Ok(())
                })())
            }
            ICM_COMPRESS_END => {
                if self.compressing.swap(false, Ordering::AcqRel) {
                    codec.compress_end();
                }
                ICERR_OK
            }
            ICM_DECOMPRESS_END => {
                if self.decompressing.swap(false, Ordering::AcqRel) {
                    codec.decompress_end();
                }
                ICERR_OK
            }
            // The kit keeps no codec state: its size is 0, and setting it takes nothing.
            ICM_GETSTATE | ICM_SETSTATE => 0,
            ICM_COMPRESS => answer(Self::compress(codec, l1, l2)),
            ICM_DECOMPRESS => answer(Self::decompress(codec, l1, l2)),
            ICM_USER..ICM_RESERVED_HIGH => ICERR_UNSUPPORTED,
            _ => cx.forward(msg, l1, l2),
        }
    }
}

impl VfwInstance {
    fn compress<C: VideoCodec>(codec: &C, l1: LParam, l2: LParam) -> Result<(), IcError> {
        // SAFETY: ICM_COMPRESS' lParams (see `message`); the plan gives lpInput and
        // lpPrev their DIB size and lpOutput the codec's GET_SIZE answer.
        unsafe {
            wire::compress(
                l1,
                l2,
                |r| {
                    let input = r.input.as_ref().map_err(|_| IcError::BadFormat)?;
                    let output = r.output.as_ref().map_err(|_| IcError::BadFormat)?;
                    if let Some(prev) = &r.previous_format {
                        let prev = prev.as_ref().map_err(|_| IcError::BadFormat)?;
                        if prev.data_size() != input.data_size() {
                            return Err(IcError::BadFormat);
                        }
                    }
                    let capacity = codec.compress_get_size(input, output)?;
                    Ok(CompressPlan { input_len: input.data_size(), capacity })
                },
                |r, pixels, previous| {
                    let (Ok(input), Ok(output)) = (&r.input, &r.output) else {
                        return Err(IcError::BadFormat);
                    };
                    codec.compress(&CompressFrame {
                        input,
                        pixels,
                        output,
                        previous,
                        keyframe_requested: r.keyframe_requested,
                        quality: r.quality,
                        frame_number: r.frame_number,
                    })
                },
            )
        }
    }

    fn decompress<C: VideoCodec>(codec: &C, l1: LParam, l2: LParam) -> Result<(), IcError> {
        // SAFETY: ICM_DECOMPRESS' lParams (see `message`); the plan gives lpInput the
        // input's biSizeImage and lpOutput the output's DIB size.
        unsafe {
            wire::decompress(
                l1,
                l2,
                |r| {
                    let input = r.input.as_ref().map_err(|_| IcError::BadFormat)?;
                    let output = r.output.as_ref().map_err(|_| IcError::BadFormat)?;
                    let frame_len = output.image_size().ok_or(IcError::BadFormat)?;
                    let declared = output.header.size_image as usize;
                    if declared != 0 && declared < frame_len {
                        return Err(IcError::BadSize);
                    }
                    // A null frame repeats the previous one: no data, whatever the header says.
                    Ok((if r.null_frame { 0 } else { input.data_size() }, frame_len))
                },
                |r, data, frame| {
                    let (Ok(input), Ok(output)) = (&r.input, &r.output) else {
                        return Err(IcError::BadFormat);
                    };
                    codec.decompress(input, data, r.not_keyframe, output, frame)
                },
            )
        }
    }
}
