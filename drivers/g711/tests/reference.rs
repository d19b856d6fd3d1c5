//! Every PCM input and every code, checked against a reference built from the
//! decision and reconstruction values of ITU-T G.711 (Tables 1 and 2), with
//! negative 16-bit samples given one's complement magnitudes as ITU-T G.191
//! does. The reference looks each magnitude up among the interval bounds, so it
//! shares no arithmetic with the encoders under test.

use drvg711::codec::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};

/// The lower decision values of the 128 A-law intervals of one sign, on
/// G.711's scale where full scale is 4096, followed by that full scale.
/// Segments 1 and 2 step by 2 over [0, 32) and [32, 64); each later segment
/// doubles both its start and its step, up to [2048, 4096) in steps of 128.
fn alaw_bounds() -> Vec<i32> {
    let mut bounds: Vec<i32> = (0..32).map(|n| 2 * n).collect();
    let mut start = 64;
    let mut step = 4;
    for _segment in 3..=8 {
        bounds.extend((0..16).map(|k| start + k * step));
        start *= 2;
        step *= 2;
    }
    bounds.push(4096);
    assert_eq!(bounds.len(), 129);
    bounds
}

/// The lower decision values of the 128 µ-law intervals of one sign, on
/// G.711's scale where full scale is 8159, followed by that full scale. The
/// first interval, [0, 1), is half a step; segment 1 then steps by 2 up to 31,
/// and each later segment doubles its step: 31, 95, 223, ..., 4063 start them.
fn ulaw_bounds() -> Vec<i32> {
    let mut bounds = vec![0];
    bounds.extend((1..16).map(|k| 2 * k - 1));
    let mut start = 31;
    let mut step = 4;
    for _segment in 2..=8 {
        bounds.extend((0..16).map(|k| start + k * step));
        start += 16 * step;
        step *= 2;
    }
    assert_eq!(start, 8159);
    bounds.push(start);
    assert_eq!(bounds.len(), 129);
    bounds
}

/// The interval (0..128) that holds `magnitude`; the last one is open above.
fn interval(bounds: &[i32], magnitude: i32) -> u8 {
    let above = bounds[..128].partition_point(|&b| b <= magnitude);
    u8::try_from(above - 1).unwrap()
}

/// |x| for a 16-bit sample with one's complement for negatives: -1 is 0.
fn g191_magnitude(x: i16) -> i32 {
    let x = i32::from(x);
    if x < 0 { -x - 1 } else { x }
}

/// A-law per G.711/G.191: 16-bit samples are 8 times G.711's scale, the
/// interval number takes a sign bit (set for positive) and even bits toggle.
fn reference_alaw(x: i16, bounds: &[i32]) -> u8 {
    let n = interval(bounds, g191_magnitude(x) / 8);
    let sign = if x >= 0 { 0x80 } else { 0 };
    (sign | n) ^ 0x55
}

/// µ-law per G.711/G.191: 16-bit samples are 4 times G.711's scale and the
/// interval number is sent inverted, so positive codes run down from 0xFF.
fn reference_ulaw(x: i16, bounds: &[i32]) -> u8 {
    let n = interval(bounds, g191_magnitude(x) / 4);
    if x >= 0 { 0xFF - n } else { 0x7F - n }
}

/// G.711's output value for interval `n`: the middle of the interval.
fn midpoint(bounds: &[i32], n: usize) -> i32 {
    (bounds[n] + bounds[n + 1]) / 2
}

/// µ-law's output values are the middles too, except for its first interval,
/// [0, 1), whose output is 0.
fn ulaw_output(bounds: &[i32], n: usize) -> i32 {
    if n == 0 { 0 } else { midpoint(bounds, n) }
}

#[test]
fn alaw_encoder_matches_g191_on_every_input() {
    let bounds = alaw_bounds();
    let mismatches: Vec<(i16, u8, u8)> = (i16::MIN..=i16::MAX)
        .map(|x| (x, linear_to_alaw(x), reference_alaw(x, &bounds)))
        .filter(|&(_, ours, reference)| ours != reference)
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first (sample, ours, G.191): {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(8)]
    );
}

/// The Sun encoder takes a negative sample's magnitude by two's complement
/// after the shift to 14 bits, one step more than G.191's one's complement, so
/// it lands one interval further out wherever that step crosses a bound: once
/// for each of the 127 inner bounds of a sign, for the 4 samples that share a
/// 14-bit value, hence 508 samples.
#[test]
fn ulaw_encoder_differs_from_g191_on_508_negative_inputs_by_one_code() {
    let bounds = ulaw_bounds();
    let mismatches: Vec<(i16, u8, u8)> = (i16::MIN..=i16::MAX)
        .map(|x| (x, linear_to_ulaw(x), reference_ulaw(x, &bounds)))
        .filter(|&(_, ours, reference)| ours != reference)
        .collect();
    assert_eq!(mismatches.len(), 508, "first mismatches: {:?}", &mismatches[..mismatches.len().min(8)]);
    for &(x, ours, reference) in &mismatches {
        assert!(x < 0, "positive sample {x} differs: ours {ours:#04x}, G.191 {reference:#04x}");
        // One interval further out is one code lower among the negative codes.
        assert_eq!(ours, reference - 1, "sample {x}: ours {ours:#04x}, G.191 {reference:#04x}");
    }
    let mut fourteen_bit: Vec<i16> = mismatches.iter().map(|&(x, _, _)| x >> 2).collect();
    fourteen_bit.dedup();
    assert_eq!(fourteen_bit.len(), 127);
}

#[test]
fn encoders_at_zero_and_the_extremes() {
    assert_eq!(linear_to_ulaw(0), 0xFF);
    assert_eq!(linear_to_ulaw(3), 0xFF);
    assert_eq!(linear_to_ulaw(4), 0xFE);
    // Two's complement: the smallest negatives are a whole step from zero.
    for x in -4..=-1 {
        assert_eq!(linear_to_ulaw(x), 0x7E, "sample {x}");
    }
    assert_eq!(linear_to_ulaw(-5), 0x7E);
    assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
    assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    assert_eq!(linear_to_ulaw(32635), 0x80);
    assert_eq!(linear_to_ulaw(-32635), 0x00);

    assert_eq!(linear_to_alaw(0), 0xD5);
    assert_eq!(linear_to_alaw(15), 0xD5);
    assert_eq!(linear_to_alaw(16), 0xD4);
    assert_eq!(linear_to_alaw(-1), 0x55);
    assert_eq!(linear_to_alaw(-16), 0x55);
    assert_eq!(linear_to_alaw(-17), 0x54);
    assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
    assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
}

#[test]
fn ulaw_decodes_to_the_g711_output_values() {
    let bounds = ulaw_bounds();
    for n in 0..128u8 {
        let value = 4 * ulaw_output(&bounds, usize::from(n));
        assert_eq!(i32::from(ulaw_to_linear(0xFF - n)), value, "positive interval {n}");
        assert_eq!(i32::from(ulaw_to_linear(0x7F - n)), -value, "negative interval {n}");
    }
}

#[test]
fn alaw_decodes_to_the_g711_output_values() {
    let bounds = alaw_bounds();
    for n in 0..128u8 {
        let value = 8 * midpoint(&bounds, usize::from(n));
        assert_eq!(i32::from(alaw_to_linear((0x80 | n) ^ 0x55)), value, "positive interval {n}");
        assert_eq!(i32::from(alaw_to_linear(n ^ 0x55)), -value, "negative interval {n}");
    }
}

#[test]
fn ulaw_decoding_is_symmetric_and_monotonic_per_sign() {
    for code in 0..=255u8 {
        assert_eq!(ulaw_to_linear(code), -ulaw_to_linear(code ^ 0x80), "code {code:#04x}");
    }
    // Positive codes run from full scale at 0x80 down to zero at 0xFF,
    // negative ones from -full scale at 0x00 up to zero at 0x7F.
    let positive: Vec<i16> = (0x80..=0xFFu8).map(ulaw_to_linear).collect();
    assert!(positive.windows(2).all(|w| w[0] > w[1]), "{positive:?}");
    let negative: Vec<i16> = (0x00..=0x7Fu8).map(ulaw_to_linear).collect();
    assert!(negative.windows(2).all(|w| w[0] < w[1]), "{negative:?}");

    assert_eq!(ulaw_to_linear(0xFF), 0);
    assert_eq!(ulaw_to_linear(0x7F), 0);
    assert_eq!(ulaw_to_linear(0xFE), 8);
    assert_eq!(ulaw_to_linear(0x7E), -8);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0x00), -32124);
}

#[test]
fn alaw_decoding_is_symmetric_and_monotonic_per_sign() {
    for code in 0..=255u8 {
        assert_eq!(alaw_to_linear(code), -alaw_to_linear(code ^ 0x80), "code {code:#04x}");
    }
    // Magnitudes grow with the code once the even-bit toggle is undone.
    let positive: Vec<i16> = (0x80..=0xFFu8).map(|n| alaw_to_linear(n ^ 0x55)).collect();
    assert!(positive.windows(2).all(|w| w[0] < w[1]), "{positive:?}");
    let negative: Vec<i16> = (0x00..=0x7Fu8).map(|n| alaw_to_linear(n ^ 0x55)).collect();
    assert!(negative.windows(2).all(|w| w[0] > w[1]), "{negative:?}");

    assert_eq!(alaw_to_linear(0xD5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xAA), 32256);
    assert_eq!(alaw_to_linear(0x2A), -32256);
}

/// Every code survives decode then encode, except µ-law's negative zero: 0x7F
/// decodes to 0, and 0 is encoded as the positive zero 0xFF.
#[test]
fn ulaw_reencodes_every_code_but_negative_zero() {
    for code in 0..=255u8 {
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(linear_to_ulaw(ulaw_to_linear(code)), expected, "code {code:#04x}");
    }
}

#[test]
fn alaw_reencodes_every_code() {
    for code in 0..=255u8 {
        assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "code {code:#04x}");
    }
}
