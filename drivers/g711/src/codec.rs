//! G.711 sample conversions: 16-bit linear PCM to and from 8-bit A-law and µ-law.
//!
//! The encoders reproduce, bit for bit, the public-domain Sun Microsystems
//! `g711.c` that Windows-era codecs and Wine's `msg711.acm` use, so a driver
//! built on them produces the same bytes as the codec it replaces:
//!
//! - µ-law works on the 14-bit value `sample >> 2` (an arithmetic shift). A
//!   negative value's magnitude is its two's complement negation; ITU-T G.191
//!   uses the one's complement instead, so for every negative input the
//!   magnitude here is one step larger than G.191's. The code differs where that
//!   step crosses a quantisation boundary: on 508 of the 65536 inputs, each by
//!   one code. `-1` for instance encodes to `0x7E` (which decodes to `-8`), where
//!   G.191 gives `0x7F` (negative zero).
//! - A-law works on the 13-bit value `sample >> 3` with one's complement
//!   magnitudes, exactly as G.191 does.
//!
//! Decoding follows the standard's reconstruction values, read from tables built
//! at compile time.
//!
//! The slice and byte helpers convert as many samples as both buffers hold and
//! report how much they used, which is what an ACM stream conversion answers in
//! `cbSrcLengthUsed` and `cbDstLengthUsed`. PCM in ACM buffers is 16-bit
//! little-endian; a trailing odd byte is not a sample and is left over.

/// µ-law's bias in units of the 14-bit value (0x84 at 16-bit scale): it moves
/// every magnitude up so that each segment starts at a power of two.
const ULAW_BIAS: i32 = 33;

/// The largest 14-bit µ-law magnitude that is not clipped (32635 at 16-bit
/// scale): with the bias it is 0x1FFF, the top of the last segment.
const ULAW_CLIP: i32 = 8158;

/// Bit 7 of a code once its transmission inversion is undone: set for positive
/// A-law samples and negative µ-law samples.
const SIGN_BIT: u8 = 0x80;

/// A-law codes are sent with their even bits inverted.
const ALAW_TOGGLE: u8 = 0x55;

/// µ-law codes are sent fully inverted; positive samples have bit 7 set on the
/// line.
const ULAW_POSITIVE: u8 = 0xFF;
const ULAW_NEGATIVE: u8 = 0x7F;

/// Number of significant bits in `v` (0 for 0).
fn bit_length(v: i32) -> u32 {
    i32::BITS - v.leading_zeros()
}

/// Encodes one 16-bit PCM sample as µ-law, as the Sun `g711.c` encoder does.
///
/// Two's complement magnitudes mean `-1..=-4` encode to `0x7E`, not to the
/// negative zero `0x7F`; see the module documentation.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let scaled = i32::from(sample) >> 2;
    let (magnitude, invert) = if scaled < 0 { (-scaled, ULAW_NEGATIVE) } else { (scaled, ULAW_POSITIVE) };
    // 33..=0x1FFF: segment s holds [32 << s, 64 << s), sixteen steps of 2 << s.
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    let segment = bit_length(biased) - 6;
    let step = (biased >> (segment + 1)) & 0xF;
    // segment <= 7 and step <= 15, so the code fits in 7 bits.
    let code = (segment << 4) as u8 | step as u8;
    code ^ invert
}

/// Encodes one 16-bit PCM sample as A-law, as the Sun `g711.c` and ITU-T G.191
/// encoders both do.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let scaled = i32::from(sample) >> 3;
    let (magnitude, sign) = if scaled >= 0 {
        (scaled, SIGN_BIT)
    } else {
        // One's complement: -1 is magnitude 0, -4096 is 4095.
        (!scaled, 0)
    };
    // 0..=4095: segments 0 and 1 both step by 2 over [0, 32) and [32, 64);
    // segment s >= 2 holds [16 << s, 32 << s) in steps of 1 << s.
    let segment = bit_length(magnitude).saturating_sub(5);
    let step = (magnitude >> segment.max(1)) & 0xF;
    // segment <= 7 and step <= 15, so the code fits in 7 bits.
    let code = (segment << 4) as u8 | step as u8;
    (sign | code) ^ ALAW_TOGGLE
}

/// Decodes one µ-law code to 16-bit PCM.
///
/// Both zeros, `0xFF` and `0x7F`, decode to 0.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Decodes one A-law code to 16-bit PCM.
///
/// A-law has no zero code: the two smallest codes decode to 8 and -8.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

/// The reconstruction value of µ-law `code`: the middle of its interval, at
/// 16-bit scale, and 0 for the two zeros, whose interval is [0, 1) in 14 bits.
const fn ulaw_value(code: u8) -> i16 {
    let plain = !code;
    let segment = (plain >> 4) & 0x7;
    let step = (plain & 0xF) as i32;
    let bias = ULAW_BIAS * 4;
    let magnitude = (((step << 3) + bias) << segment) - bias;
    // At most (15 * 8 + 132) * 128 - 132 = 32124.
    let magnitude = magnitude as i16;
    if plain & SIGN_BIT != 0 { -magnitude } else { magnitude }
}

/// The reconstruction value of A-law `code`: the middle of its interval, at
/// 16-bit scale.
const fn alaw_value(code: u8) -> i16 {
    let plain = code ^ ALAW_TOGGLE;
    let segment = (plain >> 4) & 0x7;
    let step = (plain & 0xF) as i32;
    let magnitude = if segment == 0 { (step << 4) + 8 } else { ((step << 4) + 0x108) << (segment - 1) };
    // At most (15 * 16 + 264) * 64 = 32256.
    let magnitude = magnitude as i16;
    if plain & SIGN_BIT != 0 { magnitude } else { -magnitude }
}

static ULAW_TO_LINEAR: [i16; 256] = {
    let mut table = [0; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_value(code as u8);
        code += 1;
    }
    table
};

static ALAW_TO_LINEAR: [i16; 256] = {
    let mut table = [0; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_value(code as u8);
        code += 1;
    }
    table
};

/// Bytes used by a byte-level conversion: what an ACM stream conversion reports
/// as `cbSrcLengthUsed` and `cbDstLengthUsed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Used {
    /// Bytes read from the source.
    pub src: usize,
    /// Bytes written to the destination.
    pub dst: usize,
}

fn encode_samples(encode: fn(i16) -> u8, src: &[i16], dst: &mut [u8]) -> usize {
    let count = src.len().min(dst.len());
    for (out, &sample) in dst.iter_mut().zip(src) {
        *out = encode(sample);
    }
    count
}

fn decode_samples(decode: fn(u8) -> i16, src: &[u8], dst: &mut [i16]) -> usize {
    let count = src.len().min(dst.len());
    for (out, &code) in dst.iter_mut().zip(src) {
        *out = decode(code);
    }
    count
}

fn encode_le_bytes(encode: fn(i16) -> u8, src: &[u8], dst: &mut [u8]) -> Used {
    let mut count = 0;
    for (out, pair) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *out = encode(i16::from_le_bytes([pair[0], pair[1]]));
        count += 1;
    }
    Used { src: count * 2, dst: count }
}

fn decode_le_bytes(decode: fn(u8) -> i16, src: &[u8], dst: &mut [u8]) -> Used {
    let mut count = 0;
    for (out, &code) in dst.chunks_exact_mut(2).zip(src) {
        out.copy_from_slice(&decode(code).to_le_bytes());
        count += 1;
    }
    Used { src: count, dst: count * 2 }
}

/// Encodes `min(src.len(), dst.len())` samples as µ-law; returns that count.
pub fn encode_ulaw(src: &[i16], dst: &mut [u8]) -> usize {
    encode_samples(linear_to_ulaw, src, dst)
}

/// Encodes `min(src.len(), dst.len())` samples as A-law; returns that count.
pub fn encode_alaw(src: &[i16], dst: &mut [u8]) -> usize {
    encode_samples(linear_to_alaw, src, dst)
}

/// Decodes `min(src.len(), dst.len())` µ-law codes; returns that count.
pub fn decode_ulaw(src: &[u8], dst: &mut [i16]) -> usize {
    decode_samples(ulaw_to_linear, src, dst)
}

/// Decodes `min(src.len(), dst.len())` A-law codes; returns that count.
pub fn decode_alaw(src: &[u8], dst: &mut [i16]) -> usize {
    decode_samples(alaw_to_linear, src, dst)
}

/// Encodes 16-bit little-endian PCM bytes as µ-law, as many whole samples as
/// `src` holds and `dst` has room for. An odd trailing source byte is not used.
pub fn encode_ulaw_le(src: &[u8], dst: &mut [u8]) -> Used {
    encode_le_bytes(linear_to_ulaw, src, dst)
}

/// Encodes 16-bit little-endian PCM bytes as A-law, as many whole samples as
/// `src` holds and `dst` has room for. An odd trailing source byte is not used.
pub fn encode_alaw_le(src: &[u8], dst: &mut [u8]) -> Used {
    encode_le_bytes(linear_to_alaw, src, dst)
}

/// Decodes µ-law codes to 16-bit little-endian PCM bytes, as many as `dst` has
/// room for whole samples. An odd trailing destination byte is not written.
pub fn decode_ulaw_le(src: &[u8], dst: &mut [u8]) -> Used {
    decode_le_bytes(ulaw_to_linear, src, dst)
}

/// Decodes A-law codes to 16-bit little-endian PCM bytes, as many as `dst` has
/// room for whole samples. An odd trailing destination byte is not written.
pub fn decode_alaw_le(src: &[u8], dst: &mut [u8]) -> Used {
    decode_le_bytes(alaw_to_linear, src, dst)
}
