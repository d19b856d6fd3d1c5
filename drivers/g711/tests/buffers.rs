//! The slice and byte helpers: how much they convert and report when the
//! buffers differ in length, are empty, or end in half a sample.

use drvg711::codec::{
    Used, alaw_to_linear, decode_alaw, decode_alaw_le, decode_ulaw, decode_ulaw_le, encode_alaw,
    encode_alaw_le, encode_ulaw, encode_ulaw_le, linear_to_alaw, linear_to_ulaw, ulaw_to_linear,
};

/// Fills buffers so that bytes a helper must not write stay recognisable.
const UNTOUCHED: u8 = 0xEE;
const UNTOUCHED_SAMPLE: i16 = 0x3E3E;

const SAMPLES: [i16; 5] = [0, -1, 1000, i16::MIN, 0x1234];

fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[test]
fn encoders_convert_the_shorter_of_the_two_slices() {
    // Room for more than the source: all five, the rest untouched.
    let mut dst = [UNTOUCHED; 7];
    assert_eq!(encode_ulaw(&SAMPLES, &mut dst), 5);
    let expected: Vec<u8> = SAMPLES.iter().map(|&s| linear_to_ulaw(s)).collect();
    assert_eq!(&dst[..5], &expected[..]);
    assert_eq!(&dst[5..], &[UNTOUCHED; 2]);

    // Room for fewer: a partial conversion of the first three.
    let mut dst = [UNTOUCHED; 3];
    assert_eq!(encode_alaw(&SAMPLES, &mut dst), 3);
    let expected: Vec<u8> = SAMPLES[..3].iter().map(|&s| linear_to_alaw(s)).collect();
    assert_eq!(&dst[..], &expected[..]);
}

#[test]
fn decoders_convert_the_shorter_of_the_two_slices() {
    let codes = [0x00, 0x7F, 0x80, 0xD5, 0x55];
    let mut dst = [UNTOUCHED_SAMPLE; 6];
    assert_eq!(decode_alaw(&codes, &mut dst), 5);
    let expected: Vec<i16> = codes.iter().map(|&c| alaw_to_linear(c)).collect();
    assert_eq!(&dst[..5], &expected[..]);
    assert_eq!(dst[5], UNTOUCHED_SAMPLE);

    let mut dst = [UNTOUCHED_SAMPLE; 2];
    assert_eq!(decode_ulaw(&codes, &mut dst), 2);
    assert_eq!(dst, [ulaw_to_linear(0x00), ulaw_to_linear(0x7F)]);
}

#[test]
fn empty_slices_convert_nothing() {
    let mut codes = [UNTOUCHED; 4];
    assert_eq!(encode_ulaw(&[], &mut codes), 0);
    assert_eq!(encode_alaw(&SAMPLES, &mut []), 0);
    assert_eq!(codes, [UNTOUCHED; 4]);

    let mut samples = [UNTOUCHED_SAMPLE; 4];
    assert_eq!(decode_ulaw(&[], &mut samples), 0);
    assert_eq!(decode_alaw(&[0xD5], &mut []), 0);
    assert_eq!(samples, [UNTOUCHED_SAMPLE; 4]);

    let none = Used { src: 0, dst: 0 };
    assert_eq!(encode_ulaw_le(&[], &mut codes), none);
    assert_eq!(encode_alaw_le(&le_bytes(&SAMPLES), &mut []), none);
    assert_eq!(decode_ulaw_le(&[], &mut codes), none);
    assert_eq!(decode_alaw_le(&[0xD5, 0x55], &mut []), none);
    assert_eq!(codes, [UNTOUCHED; 4]);
}

#[test]
fn byte_encoders_read_little_endian_samples() {
    // 0x1234 and its byte swap 0x3412 encode differently, so the byte order shows.
    assert_ne!(linear_to_ulaw(0x1234), linear_to_ulaw(0x3412));
    assert_ne!(linear_to_alaw(0x1234), linear_to_alaw(0x3412));
    let src = le_bytes(&SAMPLES);
    let mut dst = [UNTOUCHED; 5];
    assert_eq!(encode_ulaw_le(&src, &mut dst), Used { src: 10, dst: 5 });
    let mut expected = [0; 5];
    encode_ulaw(&SAMPLES, &mut expected);
    assert_eq!(dst, expected);

    assert_eq!(encode_alaw_le(&src, &mut dst), Used { src: 10, dst: 5 });
    encode_alaw(&SAMPLES, &mut expected);
    assert_eq!(dst, expected);
}

#[test]
fn byte_encoders_leave_a_trailing_odd_byte() {
    // Three samples and half of a fourth.
    let mut src = le_bytes(&SAMPLES[..3]);
    src.push(0x7F);
    let mut dst = [UNTOUCHED; 8];
    assert_eq!(encode_ulaw_le(&src, &mut dst), Used { src: 6, dst: 3 });
    assert_eq!(&dst[3..], &[UNTOUCHED; 5]);

    // A single byte is no sample at all.
    assert_eq!(encode_alaw_le(&[0x12], &mut dst), Used { src: 0, dst: 0 });
}

#[test]
fn byte_encoders_stop_when_the_destination_is_full() {
    let src = le_bytes(&SAMPLES);
    let mut dst = [UNTOUCHED; 2];
    assert_eq!(encode_alaw_le(&src, &mut dst), Used { src: 4, dst: 2 });
    assert_eq!(dst, [linear_to_alaw(SAMPLES[0]), linear_to_alaw(SAMPLES[1])]);
}

#[test]
fn byte_decoders_write_little_endian_samples() {
    let codes = [0x00, 0x7E, 0x80, 0xFF];
    let mut dst = [UNTOUCHED; 8];
    assert_eq!(decode_ulaw_le(&codes, &mut dst), Used { src: 4, dst: 8 });
    let samples: Vec<i16> = codes.iter().map(|&c| ulaw_to_linear(c)).collect();
    assert_eq!(&dst[..], &le_bytes(&samples)[..]);
    // -32124 is 0x8284: low byte first.
    assert_eq!(&dst[..2], &[0x84, 0x82]);

    assert_eq!(decode_alaw_le(&codes, &mut dst), Used { src: 4, dst: 8 });
    let samples: Vec<i16> = codes.iter().map(|&c| alaw_to_linear(c)).collect();
    assert_eq!(&dst[..], &le_bytes(&samples)[..]);
}

#[test]
fn byte_decoders_leave_an_odd_destination_byte_and_stop_when_full() {
    let codes = [0xD5, 0x55, 0xAA];
    // Five bytes hold two samples; the fifth stays unwritten.
    let mut dst = [UNTOUCHED; 5];
    assert_eq!(decode_alaw_le(&codes, &mut dst), Used { src: 2, dst: 4 });
    assert_eq!(dst, [0x08, 0x00, 0xF8, 0xFF, UNTOUCHED]);

    // Room for more than the codes: only as many samples as codes.
    let mut dst = [UNTOUCHED; 9];
    assert_eq!(decode_ulaw_le(&codes, &mut dst), Used { src: 3, dst: 6 });
    assert_eq!(&dst[6..], &[UNTOUCHED; 3]);

    // One byte is no room for a sample.
    assert_eq!(decode_ulaw_le(&codes, &mut dst[..1]), Used { src: 0, dst: 0 });
}
