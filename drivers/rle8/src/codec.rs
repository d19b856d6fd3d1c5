//! BI_RLE8 decoding and encoding on plain byte slices.
//!
//! A frame is an 8-bit paletted DIB: `height` rows of `width` palette indices, the bottom
//! row first, each row starting [`stride`] bytes after the previous one (the width rounded
//! up to a multiple of 4). The bytes between `width` and the stride are never read by the
//! encoder nor written by the decoder, and neither is anything past `stride * height`.
//!
//! The stream is a sequence of two-byte codes, drawn from the bottom-left pixel onwards:
//! - `n v` with `n > 0`: an encoded run, `n` pixels of index `v`;
//! - `0 0`: end of line, the cursor moves to the start of the next row up;
//! - `0 1`: end of bitmap, decoding stops (anything after it is ignored, so a stream may
//!   sit in a padded buffer);
//! - `0 2 dx dy`: delta, the cursor moves `dx` pixels right and `dy` rows up without
//!   drawing;
//! - `0 n` with `n >= 3`: an absolute run, the next `n` bytes are pixels, followed by one
//!   padding byte when `n` is odd so that codes stay on 16-bit boundaries.
//!
//! Pixels the stream does not draw keep their previous value: that is how a delta frame
//! changes only what moved.
//!
//! **Runs past the row end are errors, not clipped.** A run (encoded or absolute) that
//! would cross the right edge of its row, any drawing or end of line after the last row,
//! and a delta that leaves the frame are refused with a [`CodecError`] naming the code and
//! its byte offset. Wine's msrle32 refuses runs past the row end in the same way; clipping
//! would only hide a corrupt stream, whose later pixels land in the wrong place anyway.
//! The cursor may rest exactly at the end of a row (after a run that fills it, or a delta
//! landing there) and just past the last row (after its end of line), so streams that end
//! every row with an end of line before the end of bitmap decode. (Wine's msrle32 moves a
//! cursor that a delta puts on or past the row end to the start of the next row instead;
//! the encoder here never writes such a delta, so its streams decode the same under both.)
//!
//! [`decode`] checks the whole stream before drawing anything: when it returns an error
//! the frame is exactly as it was.

#![forbid(unsafe_code)]

use std::fmt;

use thiserror::Error;

/// First byte of every escape code.
const ESCAPE: u8 = 0;
/// Second byte of an escape: end of line.
const END_OF_LINE: u8 = 0;
/// Second byte of an escape: end of bitmap.
const END_OF_BITMAP: u8 = 1;
/// Second byte of an escape: delta, followed by `dx dy`.
const DELTA: u8 = 2;
/// The shortest absolute run; shorter counts are the escapes above.
const MIN_ABSOLUTE: usize = 3;
/// The longest absolute run the encoder writes: the longest even count, so that no
/// padding byte is spent on a full-length run.
const MAX_ABSOLUTE: usize = 254;
/// The longest run one code holds, encoded or one delta coordinate.
const MAX_COUNT: usize = 255;
/// Unchanged stretches of a delta frame shorter than this are redrawn rather than
/// skipped: a delta code costs 4 bytes and interrupts the current absolute run, while
/// redrawing a few pixels costs about a byte each. It must stay at least 2 for
/// [`max_compressed_size`] to hold (a skip then never costs more than 2 bytes a pixel).
const MIN_SKIP: usize = 6;

/// The stream code an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `n v`, `n > 0`.
    EncodedRun,
    /// `0 n`, `n >= 3`, with its pixels and padding.
    AbsoluteRun,
    /// `0 2 dx dy`.
    Delta,
    /// A `0` whose second byte is missing.
    Escape,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Code::EncodedRun => "encoded run",
            Code::AbsoluteRun => "absolute run",
            Code::Delta => "delta",
            Code::Escape => "escape",
        })
    }
}

/// Why a frame could not be decoded or encoded. Offsets are byte offsets into the stream
/// of the code at fault; rows count from the bottom row, 0, as the stream does.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// `stride * height` (or the compressed bound) does not fit in `usize`.
    #[error("a {width}x{height} frame is too large to address")]
    DimensionsTooLarge { width: usize, height: usize },
    /// The frame buffer (or the previous frame for a delta) is shorter than `stride * height`.
    #[error("the frame buffer holds {len} bytes, a {width}x{height} frame needs {needed}")]
    FrameTooSmall { width: usize, height: usize, needed: usize, len: usize },
    /// The stream has no bytes at all. Kept apart from [`CodecError::MissingEndOfBitmap`]
    /// because a zero-length frame in a video stream usually means "nothing changed",
    /// which the caller may want to accept.
    #[error("the RLE8 stream is empty")]
    EmptyStream,
    /// The stream ends between codes without an end of bitmap.
    #[error("the RLE8 stream ends at byte {offset} without an end of bitmap")]
    MissingEndOfBitmap { offset: usize },
    /// The stream ends inside a code: its second byte, a delta's coordinates, or an
    /// absolute run's pixels or padding are missing.
    #[error("the RLE8 stream ends inside the {code} at byte {offset}")]
    Truncated { code: Code, offset: usize },
    /// A run would cross the right edge of its row.
    #[error(
        "the {code} of {count} pixels at byte {offset} starts at column {column} of row {row} \
         and runs past the row end (width {width})"
    )]
    RunPastRowEnd { code: Code, offset: usize, count: usize, column: usize, row: usize, width: usize },
    /// A run after the last row.
    #[error("the {code} at byte {offset} comes after the last row ({height} rows)")]
    PastLastRow { code: Code, offset: usize, height: usize },
    /// A delta would move the cursor right of the row end or above the last row.
    #[error(
        "the delta ({dx}, {dy}) at byte {offset} from column {column} of row {row} \
         leaves the {width}x{height} frame"
    )]
    DeltaPastFrame { offset: usize, dx: u8, dy: u8, column: usize, row: usize, width: usize, height: usize },
}

/// Bytes from one row to the next: `width` rounded up to a multiple of 4, as DIB rows
/// are 32-bit aligned. `None` if that overflows.
pub fn stride(width: usize) -> Option<usize> {
    width.checked_add(3).map(|w| w & !3)
}

/// The bytes a `width` x `height` frame occupies: `stride(width) * height`.
pub fn frame_size(width: usize, height: usize) -> Result<usize, CodecError> {
    stride(width).and_then(|s| s.checked_mul(height)).ok_or(CodecError::DimensionsTooLarge { width, height })
}

/// The most bytes [`encode_keyframe`] or [`encode_delta`] ever writes for one frame, the
/// answer to ICM_COMPRESS_GET_SIZE: `(2 * width + 2) * height + 2`.
///
/// Why it holds: every pixel costs at most 2 bytes (a one-pixel encoded run; longer runs
/// and absolute runs cost less a pixel, padding included), each row ends with one 2-byte
/// end of line or end of bitmap, and a delta frame's skips cost at most 2 bytes per pixel
/// skipped (stretches shorter than `MIN_SKIP` are redrawn instead) and at most 4 bytes per
/// row skipped, which the row's own share `2 * width + 2` covers. The final `+ 2` is the
/// end of bitmap of a frame with no rows.
pub fn max_compressed_size(width: usize, height: usize) -> Result<usize, CodecError> {
    frame_size(width, height)?;
    width
        .checked_mul(2)
        .and_then(|w| w.checked_add(2))
        .and_then(|row| row.checked_mul(height))
        .and_then(|all| all.checked_add(2))
        .ok_or(CodecError::DimensionsTooLarge { width, height })
}

/// Checks that `len` bytes hold a `width` x `height` frame; returns the stride.
fn check_frame(len: usize, width: usize, height: usize) -> Result<usize, CodecError> {
    let needed = frame_size(width, height)?;
    if len < needed {
        return Err(CodecError::FrameTooSmall { width, height, needed, len });
    }
    // `frame_size` succeeded, so the stride exists.
    Ok(stride(width).unwrap_or(0))
}

/// Decodes one BI_RLE8 frame from `data` over `frame`, a `width` x `height` bottom-up
/// frame (see the module documentation). Pixels the stream does not draw keep their
/// value, so a delta frame is decoded over the previous frame. The stream is checked in
/// full first: on error nothing has been written.
pub fn decode(data: &[u8], width: usize, height: usize, frame: &mut [u8]) -> Result<(), CodecError> {
    let stride = check_frame(frame.len(), width, height)?;
    let geometry = Geometry { width, height, stride };
    walk(data, geometry, None)?;
    walk(data, geometry, Some(frame))
}

#[derive(Clone, Copy)]
struct Geometry {
    width: usize,
    height: usize,
    stride: usize,
}

/// Interprets `data`, drawing into `frame` when given one; without one it only checks the
/// stream. Every position is checked before it is drawn, so with a frame of at least
/// `stride * height` bytes the slices below are always in range.
fn walk(data: &[u8], g: Geometry, mut frame: Option<&mut [u8]>) -> Result<(), CodecError> {
    if data.is_empty() {
        return Err(CodecError::EmptyStream);
    }
    let (mut x, mut y) = (0usize, 0usize);
    let mut pos = 0usize;
    // Where a run of `count` pixels may start at the cursor: the frame offset.
    let place = |code: Code, offset: usize, count: usize, x: usize, y: usize| {
        if y >= g.height {
            return Err(CodecError::PastLastRow { code, offset, height: g.height });
        }
        if count > g.width - x {
            return Err(CodecError::RunPastRowEnd { code, offset, count, column: x, row: y, width: g.width });
        }
        Ok(y * g.stride + x)
    };
    loop {
        let offset = pos;
        let Some(&first) = data.get(pos) else {
            return Err(CodecError::MissingEndOfBitmap { offset });
        };
        let Some(&second) = data.get(pos + 1) else {
            let code = if first == ESCAPE { Code::Escape } else { Code::EncodedRun };
            return Err(CodecError::Truncated { code, offset });
        };
        pos += 2;
        match (first, second) {
            (ESCAPE, END_OF_LINE) => {
                // Below the last row an end of line draws nothing and moves nowhere: Wine's
                // msrle32 writes such ends of line in delta frames and decodes them itself.
                x = 0;
                y = (y + 1).min(g.height);
            }
            (ESCAPE, END_OF_BITMAP) => return Ok(()),
            (ESCAPE, DELTA) => {
                let Some(&[dx, dy]) = data.get(pos..pos + 2).and_then(|d| d.first_chunk::<2>()) else {
                    return Err(CodecError::Truncated { code: Code::Delta, offset });
                };
                pos += 2;
                // Saturating: the sums are compared with the frame's edges next.
                let (nx, ny) = (x.saturating_add(usize::from(dx)), y.saturating_add(usize::from(dy)));
                if nx > g.width || ny > g.height {
                    return Err(CodecError::DeltaPastFrame {
                        offset,
                        dx,
                        dy,
                        column: x,
                        row: y,
                        width: g.width,
                        height: g.height,
                    });
                }
                (x, y) = (nx, ny);
            }
            (ESCAPE, n) => {
                let count = usize::from(n);
                let at = place(Code::AbsoluteRun, offset, count, x, y)?;
                let padded = count + (count & 1);
                let Some(pixels) = data.get(pos..pos + padded) else {
                    return Err(CodecError::Truncated { code: Code::AbsoluteRun, offset });
                };
                if let Some(frame) = frame.as_deref_mut() {
                    frame[at..at + count].copy_from_slice(&pixels[..count]);
                }
                pos += padded;
                x += count;
            }
            (n, value) => {
                let count = usize::from(n);
                let at = place(Code::EncodedRun, offset, count, x, y)?;
                if let Some(frame) = frame.as_deref_mut() {
                    frame[at..at + count].fill(value);
                }
                x += count;
            }
        }
    }
}

/// Appends the keyframe encoding of `frame` (every pixel drawn, nothing skipped) to
/// `out`; returns the number of bytes appended, at most [`max_compressed_size`].
pub fn encode_keyframe(
    frame: &[u8],
    width: usize,
    height: usize,
    out: &mut Vec<u8>,
) -> Result<usize, CodecError> {
    let stride = check_frame(frame.len(), width, height)?;
    let start = out.len();
    for y in 0..height {
        let row = y * stride;
        encode_pixels(&frame[row..row + width], out);
        // The last row's end of line is implied by the end of bitmap.
        if y + 1 < height {
            out.extend_from_slice(&[ESCAPE, END_OF_LINE]);
        }
    }
    out.extend_from_slice(&[ESCAPE, END_OF_BITMAP]);
    Ok(out.len() - start)
}

/// Appends a delta frame that turns `prev` into `frame` to `out`: unchanged stretches are
/// skipped with deltas and ends of line, changed pixels drawn as in a keyframe. Decoded
/// over `prev`, the stream gives exactly `frame`. Returns the number of bytes appended,
/// at most [`max_compressed_size`].
pub fn encode_delta(
    prev: &[u8],
    frame: &[u8],
    width: usize,
    height: usize,
    out: &mut Vec<u8>,
) -> Result<usize, CodecError> {
    let stride = check_frame(frame.len(), width, height)?;
    check_frame(prev.len(), width, height)?;
    let start = out.len();
    // The decoder's cursor after what has been written so far.
    let (mut cx, mut cy) = (0usize, 0usize);
    for y in 0..height {
        let row = y * stride;
        let (old, new) = (&prev[row..row + width], &frame[row..row + width]);
        let mut from = 0;
        while let Some((first, end)) = changed_span(old, new, from) {
            let begin = move_cursor(out, (cx, cy), (first, y));
            encode_pixels(&new[begin..end], out);
            (cx, cy) = (end, y);
            from = end;
        }
    }
    out.extend_from_slice(&[ESCAPE, END_OF_BITMAP]);
    Ok(out.len() - start)
}

/// The next stretch `[first, end)` of the row at or after `from` to draw: it starts and
/// ends with a changed pixel and holds no unchanged stretch of `MIN_SKIP` pixels or more.
fn changed_span(old: &[u8], new: &[u8], from: usize) -> Option<(usize, usize)> {
    let differs = |i: &usize| old[*i] != new[*i];
    let first = (from..new.len()).find(differs)?;
    let mut end = first + 1;
    while let Some(next) = (end..new.len().min(end + MIN_SKIP)).find(differs) {
        end = next + 1;
    }
    Some((first, end))
}

/// Writes the codes that move the decoder's cursor from `at` to `to` (never left of or
/// below where the stream still has to draw) by the cheaper of a direct delta and an end
/// of line followed by a delta. Returns the column drawing must start at: `to.0`, or
/// earlier when a short unchanged stretch on the same row is redrawn instead of skipped.
fn move_cursor(out: &mut Vec<u8>, at: (usize, usize), to: (usize, usize)) -> usize {
    let ((cx, cy), (tx, ty)) = (at, to);
    // On the cursor's row, a short stretch is cheaper drawn than skipped.
    let same_row = |out: &mut Vec<u8>, cx: usize| {
        if tx - cx < MIN_SKIP {
            cx
        } else {
            push_delta(out, tx - cx, 0);
            tx
        }
    };
    if ty == cy {
        return same_row(out, cx);
    }
    let after_eol = 2 + if ty == cy + 1 {
        if tx < MIN_SKIP { 0 } else { delta_cost(tx, 0) }
    } else {
        delta_cost(tx, ty - cy - 1)
    };
    if tx >= cx && delta_cost(tx - cx, ty - cy) <= after_eol {
        push_delta(out, tx - cx, ty - cy);
        return tx;
    }
    out.extend_from_slice(&[ESCAPE, END_OF_LINE]);
    if ty == cy + 1 {
        same_row(out, 0)
    } else {
        push_delta(out, tx, ty - cy - 1);
        tx
    }
}

/// Bytes [`push_delta`] writes for a move of `dx`, `dy`.
fn delta_cost(dx: usize, dy: usize) -> usize {
    4 * dx.div_ceil(MAX_COUNT).max(dy.div_ceil(MAX_COUNT))
}

/// Writes delta codes moving `dx` right and `dy` up, each coordinate at most 255 a code.
/// Every intermediate position lies between the start and the target, so inside the frame.
fn push_delta(out: &mut Vec<u8>, mut dx: usize, mut dy: usize) {
    while dx > 0 || dy > 0 {
        let (sx, sy) = (dx.min(MAX_COUNT), dy.min(MAX_COUNT));
        // Both are at most 255.
        out.extend_from_slice(&[ESCAPE, DELTA, sx as u8, sy as u8]);
        dx -= sx;
        dy -= sy;
    }
}

/// Encodes `pixels`, all on one row, as encoded runs (every repeat of 2 or more pixels)
/// and absolute runs (the stretches between repeats); stretches of 1 or 2 pixels, too
/// short for an absolute run, become one-pixel encoded runs.
fn encode_pixels(pixels: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < pixels.len() {
        let value = pixels[i];
        let run = pixels[i..].iter().take(MAX_COUNT).take_while(|&&p| p == value).count();
        if run >= 2 {
            // At most 255.
            out.extend_from_slice(&[run as u8, value]);
            i += run;
            continue;
        }
        // A literal stretch ends where a repeat begins.
        let end = (i + 1..pixels.len())
            .find(|&j| j + 1 < pixels.len() && pixels[j] == pixels[j + 1])
            .unwrap_or(pixels.len());
        encode_literals(&pixels[i..end], out);
        i = end;
    }
}

/// Encodes pixels without repeats as absolute runs of 3 to `MAX_ABSOLUTE` pixels, and
/// one-pixel encoded runs for what is too short for one.
fn encode_literals(mut pixels: &[u8], out: &mut Vec<u8>) {
    while pixels.len() >= MIN_ABSOLUTE {
        let mut take = pixels.len().min(MAX_ABSOLUTE);
        // Leave no remainder too short for an absolute run of its own.
        if (1..MIN_ABSOLUTE).contains(&(pixels.len() - take)) {
            take -= MIN_ABSOLUTE + 1;
        }
        let (chunk, rest) = pixels.split_at(take);
        // 3..=254.
        out.extend_from_slice(&[ESCAPE, take as u8]);
        out.extend_from_slice(chunk);
        if take % 2 == 1 {
            out.push(0);
        }
        pixels = rest;
    }
    for &p in pixels {
        out.extend_from_slice(&[1, p]);
    }
}
