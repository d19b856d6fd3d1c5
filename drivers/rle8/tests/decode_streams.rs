//! Hand-written BI_RLE8 streams, one code at a time, decoded into frames with a guard
//! region after them: the exact frame each must give, or the exact error, with the
//! buffer untouched.

use drvrle8::codec::{Code, CodecError, decode, frame_size};
use proptest::prelude::*;

/// Bytes after the frame that no decode may touch.
const GUARD: usize = 16;
/// What every buffer starts as: pixels, row padding and guard alike.
const FILL: u8 = 0xEE;

/// A `width` x `height` frame of `FILL` followed by the guard region.
fn buffer(width: usize, height: usize) -> Vec<u8> {
    vec![FILL; frame_size(width, height).unwrap() + GUARD]
}

/// Decodes `stream` into a fresh buffer, returning the result and the buffer.
fn run(stream: &[u8], width: usize, height: usize) -> (Result<(), CodecError>, Vec<u8>) {
    let mut buf = buffer(width, height);
    let result = decode(stream, width, height, &mut buf);
    (result, buf)
}

/// The buffer expected after drawing `pixels` (column, row, value) over a fresh one.
fn expected(width: usize, height: usize, pixels: &[(usize, usize, u8)]) -> Vec<u8> {
    let stride = frame_size(width, 1).unwrap();
    let mut buf = buffer(width, height);
    for &(x, y, v) in pixels {
        assert!(x < width && y < height);
        buf[y * stride + x] = v;
    }
    buf
}

/// Decodes a stream that must fail: returns the error after checking that not one byte of
/// the buffer (frame, padding or guard) changed.
fn refused(stream: &[u8], width: usize, height: usize) -> CodecError {
    let (result, buf) = run(stream, width, height);
    assert_eq!(buf, buffer(width, height), "a refused stream changed the buffer");
    result.unwrap_err()
}

#[test]
fn encoded_runs_fill_rows_from_the_bottom() {
    let (result, buf) = run(&[3, 7, 2, 9, 0, 0, 5, 1, 0, 1], 5, 2);
    assert_eq!(result, Ok(()));
    let mut want = vec![(0, 0, 7), (1, 0, 7), (2, 0, 7), (3, 0, 9), (4, 0, 9)];
    want.extend((0..5).map(|x| (x, 1, 1)));
    assert_eq!(buf, expected(5, 2, &want));
}

#[test]
fn end_of_line_leaves_the_rest_of_the_row_untouched() {
    let (result, buf) = run(&[2, 7, 0, 0, 1, 8, 0, 1], 5, 3);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(5, 3, &[(0, 0, 7), (1, 0, 7), (0, 1, 8)]));
}

#[test]
fn end_of_bitmap_stops_decoding_and_ignores_what_follows() {
    let (result, buf) = run(&[1, 5, 0, 1, 3, 9, 0, 0, 0xFF], 4, 2);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(4, 2, &[(0, 0, 5)]));
}

#[test]
fn delta_moves_right_and_up_without_drawing() {
    let (result, buf) = run(&[1, 1, 0, 2, 3, 2, 2, 4, 0, 1], 6, 4);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(6, 4, &[(0, 0, 1), (4, 2, 4), (5, 2, 4)]));
}

#[test]
fn absolute_run_of_odd_length_skips_its_padding_byte() {
    // The padding byte 5 would read as a run of 5 pixels if it were not skipped.
    let (result, buf) = run(&[0, 3, 10, 11, 12, 5, 1, 9, 0, 1], 6, 1);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(6, 1, &[(0, 0, 10), (1, 0, 11), (2, 0, 12), (3, 0, 9)]));
}

#[test]
fn absolute_run_of_even_length_has_no_padding() {
    let (result, buf) = run(&[0, 4, 10, 11, 12, 13, 1, 9, 0, 1], 6, 1);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(6, 1, &[(0, 0, 10), (1, 0, 11), (2, 0, 12), (3, 0, 13), (4, 0, 9)]));
}

#[test]
fn absolute_and_encoded_runs_of_255_fill_a_row() {
    let mut stream = vec![0, 255];
    stream.extend((0..255).map(|i| i as u8));
    // Padding, end of line, 255 pixels of 3, end of bitmap.
    stream.extend([0, 0, 0, 255, 3, 0, 1]);
    let (result, buf) = run(&stream, 255, 2);
    assert_eq!(result, Ok(()));
    let mut want: Vec<_> = (0..255).map(|x| (x, 0, x as u8)).collect();
    want.extend((0..255).map(|x| (x, 1, 3)));
    assert_eq!(buf, expected(255, 2, &want));
}

/// The worked example of Microsoft's "Bitmap Compression" page.
#[test]
fn the_bitmap_compression_example_decodes() {
    let stream = [
        0x03, 0x04, 0x05, 0x06, 0x00, 0x03, 0x45, 0x56, 0x67, 0x00, 0x02, 0x78, 0x00, 0x02, 0x05, 0x01, 0x02,
        0x78, 0x00, 0x00, 0x09, 0x1E, 0x00, 0x01,
    ];
    let (result, buf) = run(&stream, 20, 3);
    assert_eq!(result, Ok(()));
    let row0 = [4, 4, 4, 6, 6, 6, 6, 6, 0x45, 0x56, 0x67, 0x78, 0x78];
    let mut want: Vec<_> = row0.iter().enumerate().map(|(x, &v)| (x, 0, v)).collect();
    want.extend([(18, 1, 0x78), (19, 1, 0x78)]);
    want.extend((0..9).map(|x| (x, 2, 0x1E)));
    assert_eq!(buf, expected(20, 3, &want));
}

#[test]
fn the_cursor_may_rest_at_a_row_end_and_after_the_last_row() {
    // A run filling the row, a delta landing on the row end, an end of line after the
    // last row, then the end of bitmap.
    let (result, buf) = run(&[3, 4, 0, 0, 1, 5, 0, 2, 2, 0, 0, 0, 0, 1], 3, 2);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(3, 2, &[(0, 0, 4), (1, 0, 4), (2, 0, 4), (0, 1, 5)]));
    // A delta to the first column past the last row, then the end of bitmap.
    let (result, buf) = run(&[1, 6, 0, 2, 0, 2, 0, 1], 3, 2);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(3, 2, &[(0, 0, 6)]));
}

#[test]
fn an_encoded_run_past_the_row_end_is_refused_not_clipped() {
    assert_eq!(
        refused(&[3, 1, 3, 2, 0, 1], 5, 2),
        CodecError::RunPastRowEnd {
            code: Code::EncodedRun,
            offset: 2,
            count: 3,
            column: 3,
            row: 0,
            width: 5
        }
    );
    // Even one pixel after a full row.
    assert_eq!(
        refused(&[5, 1, 1, 2, 0, 1], 5, 2),
        CodecError::RunPastRowEnd {
            code: Code::EncodedRun,
            offset: 2,
            count: 1,
            column: 5,
            row: 0,
            width: 5
        }
    );
}

#[test]
fn an_absolute_run_past_the_row_end_is_refused_not_clipped() {
    assert_eq!(
        refused(&[1, 1, 0, 5, 1, 2, 3, 4, 5, 0, 0, 1], 5, 1),
        CodecError::RunPastRowEnd {
            code: Code::AbsoluteRun,
            offset: 2,
            count: 5,
            column: 1,
            row: 0,
            width: 5
        }
    );
}

#[test]
fn ends_of_line_after_the_last_row_draw_nothing_and_are_accepted() {
    // Wine's msrle32 ends delta frames whose change reaches the top row with two ends
    // of line (the second below the frame) and decodes such streams itself; so must we.
    let (result, buf) = run(&[3, 4, 0, 0, 0, 0, 0, 1], 3, 1);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(3, 1, &[(0, 0, 4), (1, 0, 4), (2, 0, 4)]));
    let (result, buf) = run(&[1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 3, 2);
    assert_eq!(result, Ok(()));
    assert_eq!(buf, expected(3, 2, &[(0, 0, 7)]));
    // Pixels after them are still refused.
    assert_eq!(
        refused(&[0, 0, 0, 0, 0, 0, 1, 1, 0, 1], 5, 1),
        CodecError::PastLastRow { code: Code::EncodedRun, offset: 6, height: 1 }
    );
}

#[test]
fn drawing_a_line_after_the_last_row_is_refused() {
    assert_eq!(
        refused(&[5, 1, 0, 0, 1, 1, 0, 1], 5, 1),
        CodecError::PastLastRow { code: Code::EncodedRun, offset: 4, height: 1 }
    );
    assert_eq!(
        refused(&[0, 0, 0, 3, 1, 2, 3, 0, 0, 1], 5, 1),
        CodecError::PastLastRow { code: Code::AbsoluteRun, offset: 2, height: 1 }
    );
}

#[test]
fn a_delta_past_the_frame_is_refused() {
    assert_eq!(
        refused(&[2, 1, 0, 2, 4, 0, 0, 1], 5, 2),
        CodecError::DeltaPastFrame { offset: 2, dx: 4, dy: 0, column: 2, row: 0, width: 5, height: 2 }
    );
    assert_eq!(
        refused(&[0, 0, 0, 2, 0, 2, 0, 1], 5, 2),
        CodecError::DeltaPastFrame { offset: 2, dx: 0, dy: 2, column: 0, row: 1, width: 5, height: 2 }
    );
}

#[test]
fn a_stream_ending_inside_a_code_is_refused() {
    let truncated = |code, offset| CodecError::Truncated { code, offset };
    // The absolute run's pixels, then only its padding byte, are missing.
    assert_eq!(refused(&[0, 3, 1, 2], 5, 1), truncated(Code::AbsoluteRun, 0));
    assert_eq!(refused(&[0, 3, 1, 2, 3], 5, 1), truncated(Code::AbsoluteRun, 0));
    assert_eq!(refused(&[1, 1, 0, 4, 1, 2, 3], 5, 1), truncated(Code::AbsoluteRun, 2));
    assert_eq!(refused(&[0, 2, 1], 5, 1), truncated(Code::Delta, 0));
    assert_eq!(refused(&[0, 2], 5, 1), truncated(Code::Delta, 0));
    assert_eq!(refused(&[2, 1, 5], 5, 1), truncated(Code::EncodedRun, 2));
    assert_eq!(refused(&[2, 1, 0], 5, 1), truncated(Code::Escape, 2));
}

#[test]
fn a_stream_without_end_of_bitmap_is_refused() {
    assert_eq!(refused(&[2, 1], 5, 1), CodecError::MissingEndOfBitmap { offset: 2 });
    assert_eq!(refused(&[0, 3, 1, 2, 3, 0, 0, 0], 5, 2), CodecError::MissingEndOfBitmap { offset: 8 });
}

#[test]
fn an_empty_stream_is_refused() {
    assert_eq!(refused(&[], 5, 1), CodecError::EmptyStream);
}

#[test]
fn a_short_frame_buffer_is_refused_before_reading_the_stream() {
    let mut buf = vec![FILL; 15];
    assert_eq!(
        decode(&[0, 1], 5, 2, &mut buf),
        Err(CodecError::FrameTooSmall { width: 5, height: 2, needed: 16, len: 15 })
    );
    assert_eq!(buf, vec![FILL; 15]);
    assert_eq!(
        decode(&[0, 1], usize::MAX, 2, &mut buf),
        Err(CodecError::DimensionsTooLarge { width: usize::MAX, height: 2 })
    );
}

#[test]
fn errors_say_which_code_failed_and_where() {
    let past_row = refused(&[3, 1, 3, 2, 0, 1], 5, 2);
    assert_eq!(
        past_row.to_string(),
        "the encoded run of 3 pixels at byte 2 starts at column 3 of row 0 and runs past the row end (width 5)"
    );
    assert_eq!(
        refused(&[0, 3, 1, 2], 5, 1).to_string(),
        "the RLE8 stream ends inside the absolute run at byte 0"
    );
    assert_eq!(
        refused(&[2, 1, 0, 2, 4, 0, 0, 1], 5, 2).to_string(),
        "the delta (4, 0) at byte 2 from column 2 of row 0 leaves the 5x2 frame"
    );
}

/// Streams made mostly of small bytes, so that escapes, deltas and short runs are common.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => 0u8..4, 1 => any::<u8>()], 0..96)
}

proptest! {
    /// Any stream: no panic, nothing written past the frame or into row padding, and a
    /// refused stream leaves the whole buffer as it was.
    #[test]
    fn arbitrary_streams_never_write_outside_the_frame(
        data in stream(),
        width in 0usize..=21,
        height in 0usize..=6,
    ) {
        let (result, buf) = run(&data, width, height);
        let fresh = buffer(width, height);
        match result {
            Err(_) => prop_assert_eq!(&buf, &fresh),
            Ok(()) => {
                let stride = frame_size(width, 1).unwrap();
                for (i, (&got, &was)) in buf.iter().zip(&fresh).enumerate() {
                    let in_frame = i < stride * height && i % stride < width;
                    if !in_frame {
                        prop_assert_eq!(got, was, "byte {} outside the pixels changed", i);
                    }
                }
            }
        }
    }
}
