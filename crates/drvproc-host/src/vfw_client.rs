//! A typed client of VfW video codecs, as msvfw32 drives them: open a codec by name
//! or alias with an `ICOPEN`, ask for its info, formats and sizes, and compress or
//! decompress frames. Every structure and buffer is built here, sized by the rules
//! of drvproc's VfW kit (the sizes the codec announced, a DIB's stride times its
//! height), and lives for the call, so the callers need no `unsafe`.

use std::mem::size_of;
use std::ptr;

use drvproc::vfw::consts::*;
use drvproc::vfw::layout::*;
use drvproc::vfw::{BitmapFormat, BitmapFormatError};
use drvproc::{LParam, LResult, Msg};

use crate::isolation::open_param::OpenParam;
use crate::{BadHandle, CloseError, DriverManager, Instance, OpenError};

/// The largest format a codec may announce: a `BITMAPV5HEADER`, the three masks and
/// 256 colours.
const MAX_FORMAT_SIZE: usize = 124 + 12 + 256 * 4;

/// Why a VfW call failed.
#[derive(Debug, thiserror::Error)]
pub enum VfwError {
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The driver refused the open and said why in `ICOPEN::dwError`.
    #[error("the codec refused the open: {}", describe(*.code))]
    Refused { code: LResult },
    #[error(transparent)]
    BadHandle(#[from] BadHandle),
    #[error(transparent)]
    Close(#[from] CloseError),
    /// The driver answered a message with an error code.
    #[error("{message} failed: {}", describe(*.code))]
    Driver { message: &'static str, code: LResult },
    /// A format (the caller's or the driver's) is not one.
    #[error("{message}: bad format: {error}")]
    Format { message: &'static str, error: BitmapFormatError },
    /// A buffer is shorter than its format says.
    #[error("{message}: the buffer holds {len} bytes, the format needs {needed}")]
    BufferTooSmall { message: &'static str, needed: usize, len: usize },
    /// The driver answered a size this client does not accept.
    #[error("{message} answered an impossible size {size}")]
    BadSize { message: &'static str, size: LResult },
}

fn describe(code: LResult) -> String {
    let name = match code {
        ICERR_UNSUPPORTED => "ICERR_UNSUPPORTED",
        ICERR_BADFORMAT => "ICERR_BADFORMAT",
        ICERR_MEMORY => "ICERR_MEMORY",
        ICERR_INTERNAL => "ICERR_INTERNAL",
        ICERR_BADPARAM => "ICERR_BADPARAM",
        ICERR_BADSIZE => "ICERR_BADSIZE",
        ICERR_ERROR => "ICERR_ERROR",
        _ => return format!("error {code}"),
    };
    format!("{name} ({code})")
}

fn lp<T>(r: &mut T) -> LParam {
    ptr::from_mut(r) as LParam
}

/// The UTF-16 text of a fixed field, up to its NUL.
fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(&units[..units.iter().position(|&u| u == 0).unwrap_or(units.len())])
}

/// A format's bytes, refused unless a driver reading them by its header (biSize and
/// colour table) stays inside them.
fn format_bytes(message: &'static str, f: &BitmapFormat) -> Result<Vec<u8>, VfwError> {
    let mut b = vec![0u8; f.size()];
    f.write_to(&mut b).map_err(|error| VfwError::Format { message, error })?;
    BitmapFormat::from_bytes(&b).map_err(|error| VfwError::Format { message, error })?;
    Ok(b)
}

/// What `ICM_GETINFO` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoInfo {
    pub fcc_type: u32,
    pub fcc_handler: u32,
    pub flags: u32,
    pub version: u32,
    pub version_icm: u32,
    pub name: String,
    pub description: String,
}

/// A compressed frame as the codec returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressedFrame {
    pub data: Vec<u8>,
    /// `*lpdwFlags` after the call (`AVIIF_*`).
    pub flags: u32,
}

impl CompressedFrame {
    /// Whether the codec marked it a keyframe.
    pub fn is_keyframe(&self) -> bool {
        self.flags & AVIIF_KEYFRAME != 0
    }
}

/// How to compress one frame (`ICCOMPRESS`' other fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameOptions<'a> {
    /// The previous input frame, for a delta frame (`lpPrev`, `lpbiPrev` = the input format).
    pub previous: Option<&'a [u8]>,
    /// `ICCOMPRESS_KEYFRAME`.
    pub keyframe: bool,
    /// `dwQuality`.
    pub quality: u32,
    /// `lFrameNum`.
    pub frame_number: i32,
}

/// An open VfW codec (closed on drop).
pub struct VfwCodec {
    instance: Instance,
}

impl VfwCodec {
    /// Opens `name` (a file or an alias such as `vidc.mrle`) as `ICOpen` does: an
    /// `ICOPEN` of type `'vidc'`, the alias's handler fourcc, version 0x1000, and
    /// `mode` (`ICMODE_*`).
    pub fn open(manager: &DriverManager, name: &str, handler: u32, mode: u32) -> Result<VfwCodec, VfwError> {
        let mut open = IcOpen {
            size: size_of::<IcOpen>() as u32,
            fcc_type: ICTYPE_VIDEO,
            fcc_handler: handler,
            version: 0x1000,
            flags: mode,
            error: 0,
            v1_reserved: ptr::null_mut(),
            v2_reserved: ptr::null_mut(),
            dev_node: 0,
        };
        // SAFETY: DRV_OPEN's lParam2 for a video codec is an ICOPEN, alive for the call.
        match unsafe { manager.open_said(name, None, lp(&mut open), OpenParam::IcOpen) } {
            Ok(instance) => Ok(VfwCodec { instance }),
            Err(_) if open.error != 0 => Err(VfwError::Refused { code: open.error }),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends an ICM message whose lParams point to structures of this module.
    ///
    /// # Safety
    /// `l1` and `l2` are what `msg` expects, alive for the call.
    unsafe fn send(&self, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, VfwError> {
        // SAFETY: forwarded contract.
        Ok(unsafe { self.instance.send(msg, l1, l2) }?)
    }

    /// # Safety
    /// As for [`send`](Self::send); an answer other than `ICERR_OK` is an error.
    unsafe fn ask(&self, message: &'static str, msg: Msg, l1: LParam, l2: LParam) -> Result<(), VfwError> {
        // SAFETY: forwarded contract.
        match unsafe { self.send(msg, l1, l2) }? {
            ICERR_OK => Ok(()),
            code => Err(VfwError::Driver { message, code }),
        }
    }

    /// `ICM_GETINFO`.
    pub fn info(&self) -> Result<VideoInfo, VfwError> {
        // SAFETY: all-zero bytes are a valid IcInfo (integers and arrays).
        let mut i: IcInfo = unsafe { std::mem::zeroed() };
        let size = size_of::<IcInfo>();
        // SAFETY: lParam1 is an ICINFO of lParam2 bytes.
        let answered = unsafe { self.send(ICM_GETINFO, lp(&mut i), size as LParam) }?;
        if answered != size as LResult {
            return Err(VfwError::BadSize { message: "ICM_GETINFO", size: answered });
        }
        Ok(VideoInfo {
            fcc_type: i.fcc_type,
            fcc_handler: i.fcc_handler,
            flags: i.flags,
            version: i.version,
            version_icm: i.version_icm,
            name: text(&i.name),
            description: text(&i.description),
        })
    }

    /// `ICM_GETDEFAULTQUALITY`.
    pub fn default_quality(&self) -> Result<u32, VfwError> {
        let mut q = 0u32;
        // SAFETY: lParam1 is a DWORD.
        unsafe { self.ask("ICM_GETDEFAULTQUALITY", ICM_GETDEFAULTQUALITY, lp(&mut q), 4) }?;
        Ok(q)
    }

    /// A query or begin: `(input, output)` formats.
    fn pair(
        &self,
        message: &'static str,
        msg: Msg,
        input: &BitmapFormat,
        output: Option<&BitmapFormat>,
    ) -> Result<(), VfwError> {
        let mut i = format_bytes(message, input)?;
        let mut o = output.map(|o| format_bytes(message, o)).transpose()?;
        let l2 = o.as_mut().map_or(0, |o| o.as_mut_ptr() as LParam);
        // SAFETY: both lParams are NULL or complete BITMAPINFOs.
        unsafe { self.ask(message, msg, i.as_mut_ptr() as LParam, l2) }
    }

    /// A `*_GET_FORMAT`: the size, then the format into a buffer of that size.
    fn get_format(
        &self,
        message: &'static str,
        msg: Msg,
        input: &BitmapFormat,
    ) -> Result<BitmapFormat, VfwError> {
        let mut i = format_bytes(message, input)?;
        let l1 = i.as_mut_ptr() as LParam;
        // SAFETY: lParam1 is a complete BITMAPINFO, lParam2 NULL.
        let size = unsafe { self.send(msg, l1, 0) }?;
        let Some(n) = usize::try_from(size).ok().filter(|n| (40..=MAX_FORMAT_SIZE).contains(n)) else {
            return Err(if size < 0 {
                VfwError::Driver { message, code: size }
            } else {
                VfwError::BadSize { message, size }
            });
        };
        let mut out = vec![0u8; n];
        // SAFETY: lParam2 holds the size the driver announced for this input.
        unsafe { self.ask(message, msg, l1, out.as_mut_ptr() as LParam) }?;
        BitmapFormat::from_bytes(&out).map_err(|error| VfwError::Format { message, error })
    }

    /// `ICM_COMPRESS_QUERY`.
    pub fn compress_query(
        &self,
        input: &BitmapFormat,
        output: Option<&BitmapFormat>,
    ) -> Result<(), VfwError> {
        self.pair("ICM_COMPRESS_QUERY", ICM_COMPRESS_QUERY, input, output)
    }

    /// `ICM_COMPRESS_GET_FORMAT`.
    pub fn compress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, VfwError> {
        self.get_format("ICM_COMPRESS_GET_FORMAT", ICM_COMPRESS_GET_FORMAT, input)
    }

    /// `ICM_COMPRESS_GET_SIZE`: the most bytes one frame takes.
    pub fn compress_get_size(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<usize, VfwError> {
        let message = "ICM_COMPRESS_GET_SIZE";
        let (mut i, mut o) = (format_bytes(message, input)?, format_bytes(message, output)?);
        // SAFETY: both lParams are complete BITMAPINFOs.
        let size =
            unsafe { self.send(ICM_COMPRESS_GET_SIZE, i.as_mut_ptr() as LParam, o.as_mut_ptr() as LParam) }?;
        usize::try_from(size).map_err(|_| VfwError::Driver { message, code: size })
    }

    /// `ICM_COMPRESS_BEGIN`.
    pub fn compress_begin(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<(), VfwError> {
        self.pair("ICM_COMPRESS_BEGIN", ICM_COMPRESS_BEGIN, input, Some(output))
    }

    /// `ICM_COMPRESS_END`.
    pub fn compress_end(&self) -> Result<(), VfwError> {
        // SAFETY: no parameters.
        unsafe { self.ask("ICM_COMPRESS_END", ICM_COMPRESS_END, 0, 0) }
    }

    /// `ICM_COMPRESS` of one frame (`input.data_size()` bytes of `pixels`), a
    /// delta against `options.previous` when given, into a buffer of the codec's
    /// `ICM_COMPRESS_GET_SIZE`. `output` gets the frame's `biSizeImage`.
    pub fn compress(
        &self,
        input: &BitmapFormat,
        pixels: &[u8],
        output: &mut BitmapFormat,
        options: FrameOptions<'_>,
    ) -> Result<CompressedFrame, VfwError> {
        let message = "ICM_COMPRESS";
        let FrameOptions { previous, keyframe, quality, frame_number } = options;
        let needed = input.data_size();
        for len in std::iter::once(pixels.len()).chain(previous.map(<[u8]>::len)) {
            if len < needed {
                return Err(VfwError::BufferTooSmall { message, needed, len });
            }
        }
        let capacity = self.compress_get_size(input, output)?;
        let mut data = vec![0u8; capacity];
        let (mut i, mut o) = (format_bytes(message, input)?, format_bytes(message, output)?);
        let (mut ckid, mut flags) = (0u32, 0u32);
        let mut ic = IcCompress {
            flags: if keyframe { ICCOMPRESS_KEYFRAME } else { 0 },
            bi_output: o.as_mut_ptr().cast(),
            output: data.as_mut_ptr().cast(),
            bi_input: i.as_mut_ptr().cast(),
            input: pixels.as_ptr().cast_mut().cast(),
            ckid: &mut ckid,
            dw_flags: &mut flags,
            frame_num: frame_number,
            frame_size: 0,
            quality,
            bi_prev: if previous.is_some() { i.as_mut_ptr().cast() } else { ptr::null_mut() },
            prev: previous.map_or(ptr::null_mut(), |p| p.as_ptr().cast_mut().cast()),
        };
        // SAFETY: an ICCOMPRESS whose inputs hold `input.data_size()` bytes (read only,
        // by the message's contract) and whose output holds GET_SIZE bytes.
        unsafe { self.ask(message, ICM_COMPRESS, lp(&mut ic), size_of::<IcCompress>() as LParam) }?;
        let written = u32::from_le_bytes([o[20], o[21], o[22], o[23]]) as usize;
        if written > capacity {
            return Err(VfwError::BadSize { message, size: written as LResult });
        }
        data.truncate(written);
        output.header.size_image = written as u32;
        Ok(CompressedFrame { data, flags })
    }

    /// `ICM_DECOMPRESS_QUERY`.
    pub fn decompress_query(
        &self,
        input: &BitmapFormat,
        output: Option<&BitmapFormat>,
    ) -> Result<(), VfwError> {
        self.pair("ICM_DECOMPRESS_QUERY", ICM_DECOMPRESS_QUERY, input, output)
    }

    /// `ICM_DECOMPRESS_GET_FORMAT`.
    pub fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, VfwError> {
        self.get_format("ICM_DECOMPRESS_GET_FORMAT", ICM_DECOMPRESS_GET_FORMAT, input)
    }

    /// `ICM_DECOMPRESS_BEGIN`.
    pub fn decompress_begin(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<(), VfwError> {
        self.pair("ICM_DECOMPRESS_BEGIN", ICM_DECOMPRESS_BEGIN, input, Some(output))
    }

    /// `ICM_DECOMPRESS_END`.
    pub fn decompress_end(&self) -> Result<(), VfwError> {
        // SAFETY: no parameters.
        unsafe { self.ask("ICM_DECOMPRESS_END", ICM_DECOMPRESS_END, 0, 0) }
    }

    /// `ICM_DECOMPRESS` of `data` (the input's `biSizeImage` is set to its length)
    /// over `frame`, which holds the previous frame for a delta
    /// (`ICDECOMPRESS_NOTKEYFRAME` when `not_keyframe`) and at least
    /// `output.image_size()` bytes.
    pub fn decompress(
        &self,
        input: &BitmapFormat,
        data: &[u8],
        not_keyframe: bool,
        output: &BitmapFormat,
        frame: &mut [u8],
    ) -> Result<(), VfwError> {
        let message = "ICM_DECOMPRESS";
        let needed = output.image_size().ok_or(VfwError::Format {
            message,
            error: BitmapFormatError::BadBitCount(output.header.bit_count),
        })?;
        if frame.len() < needed {
            return Err(VfwError::BufferTooSmall { message, needed, len: frame.len() });
        }
        let mut input = input.clone();
        input.header.size_image = u32::try_from(data.len()).unwrap_or(u32::MAX);
        // An uncompressed input is read by its image size, whatever biSizeImage says.
        let needed = input.data_size();
        if data.len() < needed {
            return Err(VfwError::BufferTooSmall { message, needed, len: data.len() });
        }
        let (mut i, mut o) = (format_bytes(message, &input)?, format_bytes(message, output)?);
        let mut ic = IcDecompress {
            flags: if not_keyframe { ICDECOMPRESS_NOTKEYFRAME } else { 0 },
            bi_input: i.as_mut_ptr().cast(),
            input: data.as_ptr().cast_mut().cast(),
            bi_output: o.as_mut_ptr().cast(),
            output: frame.as_mut_ptr().cast(),
            ckid: 0,
        };
        // SAFETY: an ICDECOMPRESS whose input holds biSizeImage bytes (read only) and
        // whose output holds the output format's image.
        unsafe { self.ask(message, ICM_DECOMPRESS, lp(&mut ic), size_of::<IcDecompress>() as LParam) }
    }

    /// Closes the codec instance.
    pub fn close(self) -> Result<(), VfwError> {
        Ok(self.instance.close()?)
    }
}
