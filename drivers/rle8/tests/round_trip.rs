//! The compressor: every keyframe and every delta frame decodes back to exactly its input,
//! the streams use the codes as intended, and no output exceeds `max_compressed_size`.

use drvrle8::codec::{CodecError, decode, encode_delta, encode_keyframe, frame_size, max_compressed_size};
use proptest::prelude::*;

/// Bytes after the frame that no decode may touch.
const GUARD: usize = 16;
/// What the encoder's input has in its row padding: the encoder must not look at it.
const INPUT_PADDING: u8 = 0xA5;
/// What the decoder's buffer starts as, padding and guard included.
const OUTPUT_FILL: u8 = 0x5A;

/// Lays `pixels` (`width` a row, bottom row first) out as a frame with padded rows.
fn frame(pixels: &[u8], width: usize, height: usize) -> Vec<u8> {
    let stride = frame_size(width, 1).unwrap();
    let mut buf = vec![INPUT_PADDING; frame_size(width, height).unwrap()];
    for y in 0..height {
        buf[y * stride..y * stride + width].copy_from_slice(&pixels[y * width..(y + 1) * width]);
    }
    buf
}

/// The pixels of a frame without its row padding.
fn pixels_of(buf: &[u8], width: usize, height: usize) -> Vec<u8> {
    let stride = frame_size(width, 1).unwrap();
    (0..height).flat_map(|y| buf[y * stride..y * stride + width].to_vec()).collect()
}

/// One parsed code of a stream.
#[derive(Debug, PartialEq)]
enum Token {
    Run(u8, u8),
    Absolute(Vec<u8>),
    EndOfLine,
    EndOfBitmap,
    Delta(u8, u8),
}

/// Splits a stream the decoder accepted into its codes.
fn tokens(stream: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let (a, b) = (stream[i], stream[i + 1]);
        i += 2;
        out.push(match (a, b) {
            (0, 0) => Token::EndOfLine,
            (0, 1) => {
                out.push(Token::EndOfBitmap);
                assert_eq!(i, stream.len(), "bytes after the end of bitmap");
                return out;
            }
            (0, 2) => {
                i += 2;
                Token::Delta(stream[i - 2], stream[i - 1])
            }
            (0, n) => {
                let n = usize::from(n);
                let pixels = stream[i..i + n].to_vec();
                i += n + n % 2;
                Token::Absolute(pixels)
            }
            (n, v) => Token::Run(n, v),
        });
    }
}

/// The encoder's own rules: absolute runs hold 3 to 255 pixels with no repeat in them
/// (repeats of 2 or more are encoded runs), the stream ends with its only end of bitmap,
/// and no delta lands on or past the row end (Wine's msrle32 moves such a cursor to the
/// start of the next row, so its streams decode the same there).
fn assert_well_formed(stream: &[u8], width: usize) {
    let toks = tokens(stream);
    let mut x = 0;
    for t in &toks {
        match t {
            Token::Absolute(p) => {
                assert!((3..=255).contains(&p.len()), "absolute run of {}", p.len());
                assert!(p.windows(2).all(|w| w[0] != w[1]), "a repeat inside an absolute run: {p:?}");
                x += p.len();
            }
            Token::Run(n, _) => x += usize::from(*n),
            Token::EndOfLine => x = 0,
            Token::Delta(dx, _) => {
                x += usize::from(*dx);
                assert!(x < width, "a delta lands on column {x} of {width}");
            }
            Token::EndOfBitmap => {}
        }
    }
    assert_eq!(toks.iter().filter(|t| **t == Token::EndOfBitmap).count(), 1);
}

/// Encodes a keyframe, checks its size and form, decodes it into a fresh buffer and
/// returns what was decoded; checks the padding and the guard stayed untouched.
fn keyframe_round_trip(pixels: &[u8], width: usize, height: usize) -> Vec<u8> {
    let input = frame(pixels, width, height);
    let mut stream = vec![0xC3]; // encoders append: what is already there stays
    let written = encode_keyframe(&input, width, height, &mut stream).unwrap();
    assert_eq!(stream[0], 0xC3);
    let stream = stream.split_off(1);
    assert_eq!(written, stream.len());
    assert!(written <= max_compressed_size(width, height).unwrap(), "{written} bytes for {width}x{height}");
    assert_well_formed(&stream, width);

    let size = frame_size(width, height).unwrap();
    let mut out = vec![OUTPUT_FILL; size + GUARD];
    decode(&stream, width, height, &mut out).unwrap();
    assert_eq!(&out[size..], &[OUTPUT_FILL; GUARD][..], "guard written");
    let stride = frame_size(width, 1).unwrap();
    for y in 0..height {
        assert!(
            out[y * stride + width..(y + 1) * stride].iter().all(|&b| b == OUTPUT_FILL),
            "padding written"
        );
    }
    pixels_of(&out, width, height)
}

/// Encodes `next` as a delta over `prev`, checks its size and form, decodes it over a copy
/// of `prev` and returns the decoded pixels; checks the padding and the guard.
fn delta_round_trip(prev: &[u8], next: &[u8], width: usize, height: usize) -> (Vec<u8>, usize) {
    let (prev_frame, next_frame) = (frame(prev, width, height), frame(next, width, height));
    let mut stream = Vec::new();
    let written = encode_delta(&prev_frame, &next_frame, width, height, &mut stream).unwrap();
    assert_eq!(written, stream.len());
    assert!(written <= max_compressed_size(width, height).unwrap(), "{written} bytes for {width}x{height}");
    assert_well_formed(&stream, width);

    let size = frame_size(width, height).unwrap();
    let mut shown = prev_frame.clone();
    shown.extend([OUTPUT_FILL; GUARD]);
    decode(&stream, width, height, &mut shown).unwrap();
    assert_eq!(&shown[size..], &[OUTPUT_FILL; GUARD][..], "guard written");
    let stride = frame_size(width, 1).unwrap();
    for y in 0..height {
        assert!(
            shown[y * stride + width..(y + 1) * stride].iter().all(|&b| b == INPUT_PADDING),
            "padding written"
        );
    }
    (pixels_of(&shown, width, height), written)
}

#[test]
fn a_keyframe_has_the_expected_codes() {
    // Row 0: a run of three, then four pixels without repeats; row 1: alternating.
    let pixels = [5, 5, 5, 1, 2, 3, 4, 9, 8, 9, 8, 9, 8, 9];
    let mut stream = Vec::new();
    encode_keyframe(&frame(&pixels, 7, 2), 7, 2, &mut stream).unwrap();
    assert_eq!(stream, [3, 5, 0, 4, 1, 2, 3, 4, 0, 0, 0, 7, 9, 8, 9, 8, 9, 8, 9, 0, 0, 1]);
    // Stretches of one or two pixels between repeats are one-pixel runs.
    let mut stream = Vec::new();
    encode_keyframe(&frame(&[1, 2, 2, 3, 4, 4, 4], 7, 1), 7, 1, &mut stream).unwrap();
    assert_eq!(stream, [1, 1, 2, 2, 1, 3, 3, 4, 0, 1]);
}

#[test]
fn a_delta_frame_skips_what_did_not_change() {
    // 10x4; row 0 changes at 8, row 3 at 2..=4, with 10 bytes between them.
    let prev = [0u8; 40];
    let mut next = prev;
    next[8] = 1;
    next[32..35].copy_from_slice(&[7, 7, 7]);
    let mut stream = Vec::new();
    encode_delta(&frame(&prev, 10, 4), &frame(&next, 10, 4), 10, 4, &mut stream).unwrap();
    // Skip 8 on row 0, draw; the cursor (9, 0) is right of column 2, so end the line
    // and skip 2 rows (the 2 columns ride along in the same delta).
    assert_eq!(stream, [0, 2, 8, 0, 1, 1, 0, 0, 0, 2, 2, 2, 3, 7, 0, 1]);
    assert_eq!(delta_round_trip(&prev, &next, 10, 4).0, next);
}

#[test]
fn a_delta_redraws_short_unchanged_stretches_instead_of_skipping_them() {
    let prev = [0u8; 12];
    let mut next = prev;
    next[1] = 3; // one unchanged pixel before it: drawn again, not skipped
    next[4] = 3; // two unchanged pixels between: drawn again
    next[11] = 3; // six unchanged pixels between: skipped
    let mut stream = Vec::new();
    encode_delta(&frame(&prev, 12, 1), &frame(&next, 12, 1), 12, 1, &mut stream).unwrap();
    // 0 3 0 0 3 drawn (the repeated 0 as a run, so the rest as one-pixel runs), then a
    // skip of 6.
    assert_eq!(stream, [1, 0, 1, 3, 2, 0, 1, 3, 0, 2, 6, 0, 1, 3, 0, 1]);
    assert_eq!(delta_round_trip(&prev, &next, 12, 1).0, next);
}

#[test]
fn a_delta_between_equal_frames_is_only_the_end_of_bitmap() {
    let pixels: Vec<u8> = (0..37 * 9).map(|i| (i * 7) as u8).collect();
    let mut stream = Vec::new();
    let f = frame(&pixels, 37, 9);
    assert_eq!(encode_delta(&f, &f, 37, 9, &mut stream), Ok(2));
    assert_eq!(stream, [0, 1]);
}

#[test]
fn runs_and_literal_stretches_longer_than_255_are_split() {
    let (width, height) = (700, 3);
    let mut pixels = Vec::new();
    // Row 0: a run of 600 and a run of 100. Rows 1 and 2: 700 pixels without repeats,
    // then 256 of them followed by runs.
    pixels.extend([4; 600]);
    pixels.extend([5; 100]);
    pixels.extend((0..700).map(|i| (i % 251) as u8));
    pixels.extend((0..256).map(|i| (i % 3) as u8));
    pixels.extend([9; 444]);
    assert!(pixels[700..1400].windows(2).all(|w| w[0] != w[1]));
    assert_eq!(keyframe_round_trip(&pixels, width, height), pixels);

    let mut stream = Vec::new();
    encode_keyframe(&frame(&pixels, width, height), width, height, &mut stream).unwrap();
    let toks = tokens(&stream);
    assert_eq!(toks[..4], [Token::Run(255, 4), Token::Run(255, 4), Token::Run(90, 4), Token::Run(100, 5)]);
    let lengths: Vec<usize> =
        toks.iter().filter_map(|t| if let Token::Absolute(p) = t { Some(p.len()) } else { None }).collect();
    // 700 = 254 + 254 + 192; 256 = 250 + 6 (254 would leave 2, too few for a run).
    assert_eq!(lengths, [254, 254, 192, 250, 6]);
    assert_eq!(toks[toks.len() - 3..], [Token::Run(255, 9), Token::Run(189, 9), Token::EndOfBitmap]);
}

#[test]
fn deltas_longer_than_255_are_split() {
    let (width, height) = (600, 600);
    let prev = vec![0u8; width * height];
    let mut next = prev.clone();
    for (x, y) in [(599, 0), (3, 400), (580, 599), (582, 599)] {
        next[y * width + x] = 1;
    }
    let (shown, written) = delta_round_trip(&prev, &next, width, height);
    assert_eq!(shown, next);
    let mut stream = Vec::new();
    encode_delta(&frame(&prev, width, height), &frame(&next, width, height), width, height, &mut stream)
        .unwrap();
    assert_eq!(stream.len(), written);
    assert_eq!(
        tokens(&stream),
        [
            Token::Delta(255, 0),
            Token::Delta(255, 0),
            Token::Delta(89, 0),
            Token::Run(1, 1),
            Token::EndOfLine,
            Token::Delta(3, 255),
            Token::Delta(0, 144),
            Token::Run(1, 1),
            Token::Delta(255, 199),
            Token::Delta(255, 0),
            Token::Delta(66, 0),
            Token::Absolute(vec![1, 0, 1]),
            Token::EndOfBitmap,
        ]
    );
}

#[test]
fn encoders_refuse_short_frames() {
    let mut out = Vec::new();
    assert_eq!(
        encode_keyframe(&[0; 7], 3, 2, &mut out),
        Err(CodecError::FrameTooSmall { width: 3, height: 2, needed: 8, len: 7 })
    );
    assert_eq!(
        encode_delta(&[0; 7], &[0; 8], 3, 2, &mut out),
        Err(CodecError::FrameTooSmall { width: 3, height: 2, needed: 8, len: 7 })
    );
    assert_eq!(
        encode_delta(&[0; 8], &[0; 4], 3, 2, &mut out),
        Err(CodecError::FrameTooSmall { width: 3, height: 2, needed: 8, len: 4 })
    );
    assert!(out.is_empty());
}

#[test]
fn the_size_bound() {
    assert_eq!(max_compressed_size(64, 48), Ok(130 * 48 + 2));
    assert_eq!(max_compressed_size(0, 0), Ok(2));
    assert_eq!(
        max_compressed_size(usize::MAX / 2, 2),
        Err(CodecError::DimensionsTooLarge { width: usize::MAX / 2, height: 2 })
    );
    // Frames with no pixels still encode, to what the bound allows.
    for (w, h) in [(0, 0), (0, 3), (5, 0)] {
        let mut out = Vec::new();
        let n = encode_keyframe(&[], w, h, &mut out).unwrap();
        assert!(n <= max_compressed_size(w, h).unwrap());
        let mut shown = Vec::new();
        assert_eq!(decode(&out, w, h, &mut shown), Ok(()));
    }
}

/// Inputs the encoder spends the most on: alternating pixels (absolute runs), one or
/// two pixels between repeated pairs (one-pixel runs), and deltas changing every other
/// pixel or every `MIN_SKIP + 1`-th, on every row or every other row.
#[test]
fn the_bound_holds_on_worst_case_inputs() {
    let patterns: [fn(usize) -> u8; 4] =
        [|i| (i % 2) as u8, |i| [1, 2, 2][i % 3], |i| [1, 2, 3, 3][i % 4], |i| (i % 256) as u8];
    let changes: [fn(usize, usize) -> bool; 4] =
        [|x, _| x % 2 == 0, |x, _| x % 7 == 6, |x, y| y % 2 == 1 && x % 2 == 1, |x, y| x == (y * 5) % 37];
    let mut worst = 0.0f64;
    for width in 1..=64 {
        for height in 1..=5 {
            let bound = max_compressed_size(width, height).unwrap();
            for pattern in patterns {
                let pixels: Vec<u8> = (0..width * height).map(pattern).collect();
                assert_eq!(keyframe_round_trip(&pixels, width, height), pixels);
                for change in changes {
                    let next: Vec<u8> = pixels
                        .iter()
                        .enumerate()
                        .map(|(i, &p)| if change(i % width, i / width) { p ^ 0x80 } else { p })
                        .collect();
                    let (shown, written) = delta_round_trip(&pixels, &next, width, height);
                    assert_eq!(shown, next);
                    worst = worst.max(written as f64 / bound as f64);
                }
            }
        }
    }
    assert!(worst <= 1.0);
}

/// Pixels of a frame: random bytes, or runs of a few colours of random lengths.
fn pixels(len: usize) -> impl Strategy<Value = Vec<u8>> {
    let random = prop::collection::vec(any::<u8>(), len);
    let runs = prop::collection::vec((1usize..=40, 0u8..4), 1..=len.max(1)).prop_map(move |runs| {
        let mut out: Vec<u8> = runs.into_iter().flat_map(|(n, v)| std::iter::repeat_n(v, n)).collect();
        out.resize(len, 0);
        out
    });
    prop_oneof![random, runs]
}

/// A frame's dimensions and pixels, widths 1..=37 so that every padding length occurs.
fn frames() -> impl Strategy<Value = (usize, usize, Vec<u8>)> {
    (1usize..=37, 1usize..=9).prop_flat_map(|(w, h)| (Just(w), Just(h), pixels(w * h)))
}

/// What changes between two frames: nothing, a few pixels, most pixels, everything.
fn change_mask(len: usize) -> impl Strategy<Value = Vec<bool>> {
    prop_oneof![
        Just(vec![false; len]),
        prop::collection::vec(prop::bool::weighted(0.05), len),
        prop::collection::vec(prop::bool::weighted(0.3), len),
        prop::collection::vec(prop::bool::weighted(0.9), len),
        Just(vec![true; len]),
    ]
}

proptest! {
    #[test]
    fn keyframes_decode_to_their_input((width, height, pixels) in frames()) {
        prop_assert_eq!(keyframe_round_trip(&pixels, width, height), pixels);
    }

    #[test]
    fn delta_frames_decoded_over_the_previous_give_the_next(
        (width, height, prev, next, mask) in frames().prop_flat_map(|(w, h, prev)| {
            let len = w * h;
            (Just(w), Just(h), Just(prev), pixels(len), change_mask(len))
        })
    ) {
        // Changed pixels take the other frame's value, which may equal the old one.
        let next: Vec<u8> = prev.iter().zip(&next).zip(&mask).map(|((&p, &n), &m)| if m { n } else { p }).collect();
        let (shown, _) = delta_round_trip(&prev, &next, width, height);
        prop_assert_eq!(shown, next);
    }
}
