//! The BI_RLE8 codec as a VfW video codec (`vidc.mrle`), written with drvproc's kit.
//!
//! It compresses 8-bit paletted bottom-up BI_RGB frames into BI_RLE8 and back, as
//! Wine's and Windows' msrle32 do under the handler `MRLE`: keyframes when the
//! caller asks for one or gives no previous frame, delta frames against `lpPrev`
//! otherwise, every frame lossless. Decompression draws over the caller's
//! persistent buffer, so the pixels a delta frame skips keep the previous frame's
//! values. Top-down bitmaps (negative height) are refused: BI_RLE8 is bottom-up.

use drvproc::vfw::consts::*;
use drvproc::vfw::{BitmapFormat, CompressFrame, Compressed, IcError, Info, VideoCodec};

use crate::codec;

/// `'MRLE'`: the handler msrle32 reports.
pub const FCC_MRLE: u32 = u32::from_le_bytes(*b"MRLE");

/// The quality msrle32 answers by default (the codec itself is lossless).
pub const DEFAULT_QUALITY: u32 = 8500;

/// The codec; it keeps no state (delta frames come with their previous frame).
#[derive(Default)]
pub struct Rle8;

/// An 8-bit bottom-up format of the given compression.
fn is_8bit(f: &BitmapFormat, compression: u32) -> bool {
    f.header.bit_count == 8 && f.header.compression == compression && f.header.height > 0
}

/// Whether `a` and `b` have the same geometry.
fn same_size(a: &BitmapFormat, b: &BitmapFormat) -> bool {
    (a.header.width, a.header.height) == (b.header.width, b.header.height)
}

/// `format` with another compression and image size, palette and all kept.
fn with_compression(
    format: &BitmapFormat,
    compression: u32,
    size_image: usize,
) -> Result<BitmapFormat, IcError> {
    let mut out = format.clone();
    out.header.compression = compression;
    out.header.size_image = u32::try_from(size_image).map_err(|_| IcError::BadFormat)?;
    Ok(out)
}

impl VideoCodec for Rle8 {
    fn info(&self) -> Info {
        Info {
            fcc_handler: FCC_MRLE,
            flags: VIDCF_TEMPORAL,
            version: 0x0001_0000,
            name: "RLE8".into(),
            description: "BI_RLE8 run-length codec (lossless)".into(),
        }
    }

    fn default_quality(&self) -> u32 {
        DEFAULT_QUALITY
    }

    fn compress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
        let output_ok = output.is_none_or(|o| is_8bit(o, BI_RLE8) && same_size(input, o));
        if is_8bit(input, BI_RGB) && output_ok { Ok(()) } else { Err(IcError::BadFormat) }
    }

    fn compress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
        self.compress_query(input, None)?;
        with_compression(input, BI_RLE8, max_size(input)?)
    }

    fn compress_get_size(&self, input: &BitmapFormat, output: &BitmapFormat) -> Result<usize, IcError> {
        self.compress_query(input, Some(output))?;
        max_size(input)
    }

    fn compress(&self, frame: &CompressFrame<'_>) -> Result<Compressed, IcError> {
        self.compress_query(frame.input, Some(frame.output))?;
        let (width, height) = (frame.input.width(), frame.input.rows());
        let mut data = Vec::new();
        let keyframe = frame.keyframe_requested || frame.previous.is_none();
        let encoded = match frame.previous.filter(|_| !keyframe) {
            Some(prev) => codec::encode_delta(prev, frame.pixels, width, height, &mut data),
            None => codec::encode_keyframe(frame.pixels, width, height, &mut data),
        };
        encoded.map_err(|_| IcError::BadFormat)?;
        Ok(Compressed { data, keyframe })
    }

    fn decompress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
        let output_ok = output.is_none_or(|o| is_8bit(o, BI_RGB) && same_size(input, o));
        if is_8bit(input, BI_RLE8) && output_ok { Ok(()) } else { Err(IcError::BadFormat) }
    }

    fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
        self.decompress_query(input, None)?;
        let size = codec::frame_size(input.width(), input.rows()).map_err(|_| IcError::BadFormat)?;
        with_compression(input, BI_RGB, size)
    }

    /// An empty frame is a frame where nothing changed (`ICDECOMPRESS_NULLFRAME`
    /// callers send those); a stream that is not BI_RLE8 or leaves the frame is
    /// `ICERR_ERROR`, with the frame untouched.
    fn decompress(
        &self,
        input: &BitmapFormat,
        data: &[u8],
        _not_keyframe: bool,
        output: &BitmapFormat,
        frame: &mut [u8],
    ) -> Result<(), IcError> {
        self.decompress_query(input, Some(output))?;
        match codec::decode(data, input.width(), input.rows(), frame) {
            Ok(()) | Err(codec::CodecError::EmptyStream) => Ok(()),
            Err(_) => Err(IcError::Error),
        }
    }
}

/// The compressed bound for `input`'s geometry.
fn max_size(input: &BitmapFormat) -> Result<usize, IcError> {
    codec::max_compressed_size(input.width(), input.rows()).map_err(|_| IcError::BadFormat)
}
