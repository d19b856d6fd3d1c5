//! The BI_RLE8 codec as a VfW video codec (`vidc.mrle`), written with drvproc's kit.
//!
//! It compresses 8-bit paletted bottom-up BI_RGB frames into BI_RLE8 and back, as
//! Wine's and Windows' msrle32 do under the handler `MRLE`: keyframes when the
//! caller asks for one or gives no previous frame, delta frames against `lpPrev`
//! otherwise, every frame lossless. Decompression draws over the caller's
//! persistent buffer, so the pixels a delta frame skips keep the previous frame's
//! values. Uncompressed 8-bit frames decompress too (copied, or drawn into 24 bits),
//! as msrle32 decompresses them. Top-down bitmaps (negative height) are refused:
//! BI_RLE8 is bottom-up.
//!
//! Where it answers otherwise than msrle32, on purpose: `ICGetInfo`'s flags are
//! `VIDCF_TEMPORAL` only (the codec is lossless and has no quality or size target to
//! honour, which `VIDCF_QUALITY` and `VIDCF_CRUNCH` would promise); a format it
//! cannot compress is `ICERR_BADFORMAT` (msrle32 says `ICERR_UNSUPPORTED` for some);
//! and `ICCompressGetSize` is the true bound of its encoder, not msrle32's larger
//! figure (which msrle32 itself exceeds on 1x1 delta frames).

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

    /// Decompresses into 8-bit frames (the indices) or 24-bit ones (the palette's
    /// colours), as msrle32 does.
    fn decompress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
        let output_ok = output.is_none_or(|o| {
            let rgb24 = o.header.bit_count == 24 && o.header.compression == BI_RGB && o.header.height > 0;
            (is_8bit(o, BI_RGB) || rgb24) && same_size(input, o)
        });
        let input_ok = is_8bit(input, BI_RLE8) || is_8bit(input, BI_RGB);
        if input_ok && output_ok { Ok(()) } else { Err(IcError::BadFormat) }
    }

    fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
        self.decompress_query(input, None)?;
        let size = codec::frame_size(input.width(), input.rows()).map_err(|_| IcError::BadFormat)?;
        with_compression(input, BI_RGB, size)
    }

    /// An empty frame is a frame where nothing changed (`ICDECOMPRESS_NULLFRAME`
    /// callers send those); a stream that leaves the frame is `ICERR_ERROR`, an
    /// uncompressed frame shorter than the image `ICERR_BADSIZE`, with the frame
    /// untouched either way.
    fn decompress(
        &self,
        input: &BitmapFormat,
        data: &[u8],
        _not_keyframe: bool,
        output: &BitmapFormat,
        frame: &mut [u8],
    ) -> Result<(), IcError> {
        self.decompress_query(input, Some(output))?;
        if data.is_empty() {
            return Ok(());
        }
        let (width, height) = (input.width(), input.rows());
        let size = codec::frame_size(width, height).map_err(|_| IcError::BadFormat)?;
        if input.header.compression == BI_RGB {
            // Uncompressed: every pixel is drawn.
            let pixels = data.get(..size).ok_or(IcError::BadSize)?;
            if output.header.bit_count == 8 {
                frame.get_mut(..size).ok_or(IcError::BadSize)?.copy_from_slice(pixels);
                return Ok(());
            }
            return draw_24(input, output, pixels, pixels, frame);
        }
        if output.header.bit_count == 8 {
            return codec::decode(data, width, height, frame).map_err(|_| IcError::Error);
        }
        // 24 bits: decode twice over opposite fills; the pixels the stream drew are
        // those where both agree, and only those get their palette colour.
        let (mut drawn, mut probe) = (vec![0u8; size], vec![0xFFu8; size]);
        codec::decode(data, width, height, &mut drawn).map_err(|_| IcError::Error)?;
        codec::decode(data, width, height, &mut probe).map_err(|_| IcError::Error)?;
        draw_24(input, output, &drawn, &probe, frame)
    }
}

/// Draws into the 24-bit `frame` the palette colour of each pixel of the 8-bit
/// frame `drawn` where `probe` agrees with it (the others were not drawn).
fn draw_24(
    input: &BitmapFormat,
    output: &BitmapFormat,
    drawn: &[u8],
    probe: &[u8],
    frame: &mut [u8],
) -> Result<(), IcError> {
    let (width, height) = (input.width(), input.rows());
    let stride8 = drawn.len() / height.max(1);
    let stride24 = output.row_bytes().map_err(|_| IcError::BadFormat)?;
    if frame.len() < stride24.checked_mul(height).ok_or(IcError::BadFormat)? {
        return Err(IcError::BadSize);
    }
    let palette = input.palette();
    for y in 0..height {
        for x in 0..width {
            let i = y * stride8 + x;
            if drawn[i] != probe[i] {
                continue;
            }
            let v = usize::from(drawn[i]);
            let bgr = palette.get(4 * v..4 * v + 3).unwrap_or(&[0, 0, 0]);
            let at = y * stride24 + 3 * x;
            frame[at..at + 3].copy_from_slice(bgr);
        }
    }
    Ok(())
}

/// The compressed bound for `input`'s geometry.
fn max_size(input: &BitmapFormat) -> Result<usize, IcError> {
    codec::max_compressed_size(input.width(), input.rows()).map_err(|_| IcError::BadFormat)
}
