//! What a VfW video codec implements: typed answers to msvfw32's questions and the
//! frame conversions. [`super::VfwDriver`] turns `ICM_*` messages into these calls.

use super::consts::*;
use super::format::BitmapFormat;

/// `ICINFO`: what a codec says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// `fccHandler`, e.g. `u32::from_le_bytes(*b"MRLE")`.
    pub fcc_handler: u32,
    /// `VIDCF_*`.
    pub flags: u32,
    /// `dwVersion`: the codec's own version.
    pub version: u32,
    /// `szName` (15 characters at most are kept).
    pub name: String,
    /// `szDescription` (127 characters at most are kept).
    pub description: String,
}

/// Why a codec refuses a request: the `ICERR_*` it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcError {
    #[error("ICERR_UNSUPPORTED: the codec does not do that")]
    Unsupported,
    #[error("ICERR_BADFORMAT: the codec does not handle the format")]
    BadFormat,
    #[error("ICERR_BADSIZE: a buffer is too small")]
    BadSize,
    #[error("ICERR_BADPARAM: a parameter is missing or wrong")]
    BadParam,
    #[error("ICERR_MEMORY: out of memory")]
    Memory,
    #[error("ICERR_INTERNAL: the codec failed")]
    Internal,
    #[error("ICERR_ERROR: the data is not what the format says")]
    Error,
}

impl IcError {
    /// The `ICERR_*` value.
    pub fn code(self) -> isize {
        match self {
            IcError::Unsupported => ICERR_UNSUPPORTED,
            IcError::BadFormat => ICERR_BADFORMAT,
            IcError::BadSize => ICERR_BADSIZE,
            IcError::BadParam => ICERR_BADPARAM,
            IcError::Memory => ICERR_MEMORY,
            IcError::Internal => ICERR_INTERNAL,
            IcError::Error => ICERR_ERROR,
        }
    }
}

/// One frame to compress (`ICM_COMPRESS`).
#[derive(Debug)]
pub struct CompressFrame<'a> {
    /// The input format and its pixels (`data_size()` bytes).
    pub input: &'a BitmapFormat,
    pub pixels: &'a [u8],
    /// The output format (as `compress_get_format` made it, or the caller's).
    pub output: &'a BitmapFormat,
    /// The previous input frame, for a delta frame (`lpPrev`, as many bytes as
    /// `pixels`); `None` when the caller gave none.
    pub previous: Option<&'a [u8]>,
    /// `ICCOMPRESS_KEYFRAME`: the caller needs a keyframe.
    pub keyframe_requested: bool,
    /// `dwQuality`, 0..=10000.
    pub quality: u32,
    /// `lFrameNum`.
    pub frame_number: i32,
}

/// A compressed frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compressed {
    pub data: Vec<u8>,
    /// Whether it decodes on its own (`AVIIF_KEYFRAME`).
    pub keyframe: bool,
}

/// A VfW video codec. One value lives from `DRV_LOAD` to `DRV_FREE`, shared by
/// every instance (opens run concurrently, hence `Sync`). Formats arrive parsed
/// and checked ([`BitmapFormat`]), buffers as slices of the sizes the kit's rules
/// give (see [`super::VfwDriver`]).
pub trait VideoCodec: Default + Send + Sync + 'static {
    /// `ICM_GETINFO`.
    fn info(&self) -> Info;

    /// `ICM_GETDEFAULTQUALITY` (0..=10000).
    fn default_quality(&self) -> u32 {
        0
    }

    /// `ICM_COMPRESS_QUERY`: whether the codec compresses `input`, into `output`
    /// when the caller names one.
    fn compress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError>;

    /// `ICM_COMPRESS_GET_FORMAT`: the output format for `input`. Its size
    /// (header and extra bytes) is the answer to the sizing call, so it must be
    /// the same for the same input.
    fn compress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError>;

    /// `ICM_COMPRESS_GET_SIZE`: the most bytes one compressed frame takes. The
    /// kit hands [`compress`](Self::compress)'s caller buffer as this many bytes.
    fn compress_get_size(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<usize, IcError>;

    /// `ICM_COMPRESS_BEGIN`. By default: the pair must pass the query.
    fn compress_begin(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<(), IcError> {
        self.compress_query(input, Some(output))
    }

    /// `ICM_COMPRESS_END`.
    fn compress_end(&self) {}

    /// `ICM_COMPRESS`: one frame. A result longer than
    /// [`compress_get_size`](Self::compress_get_size) is refused (`ICERR_BADSIZE`).
    fn compress(&self, frame: &CompressFrame<'_>) -> Result<Compressed, IcError>;

    /// `ICM_DECOMPRESS_QUERY`.
    fn decompress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError>;

    /// `ICM_DECOMPRESS_GET_FORMAT`: the output format for `input` (same size for
    /// the same input, as for compression).
    fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError>;

    /// `ICM_DECOMPRESS_BEGIN`. By default: the pair must pass the query.
    fn decompress_begin(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<(), IcError> {
        self.decompress_query(input, Some(output))
    }

    /// `ICM_DECOMPRESS_END`.
    fn decompress_end(&self) {}

    /// `ICM_DECOMPRESS`: decodes `data` into `frame` (the caller's persistent
    /// buffer, `output.data_size()` bytes, holding the previous frame). A delta
    /// frame (`not_keyframe`) leaves the pixels it skips untouched.
    fn decompress(
        &self,
        input: &BitmapFormat,
        data: &[u8],
        not_keyframe: bool,
        output: &BitmapFormat,
        frame: &mut [u8],
    ) -> Result<(), IcError>;
}
