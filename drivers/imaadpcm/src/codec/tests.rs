//! Tests of the block codec against a second decoder and quantiser written
//! here from the IMA standard's text, on random, crafted and synthetic blocks.

use super::*;

/// The standard's decoder, organised differently from `decode_block` on
/// purpose: it finds each code by its position in the block (group row,
/// channel, byte, nibble) rather than walking the bytes, and rebuilds the
/// difference from the magnitude bits one at a time.
fn reference_decode(block: &[u8], channels: usize) -> Vec<i16> {
    let headers = 4 * channels;
    let per_channel = 1 + (block.len() - headers) * 2 / channels;
    let mut out = vec![0i16; per_channel * channels];
    for ch in 0..channels {
        let h = &block[4 * ch..4 * ch + 4];
        let mut sample = i32::from(h[0]) | (i32::from(h[1] as i8) << 8);
        let mut index = i32::from(h[2]);
        out[ch] = sample as i16;
        for n in 1..per_channel {
            let k = n - 1;
            let pos = headers + (k / 8) * 4 * channels + 4 * ch + (k % 8) / 2;
            let code = if k % 2 == 0 { block[pos] & 15 } else { block[pos] >> 4 };
            let step = i32::from(STEP_TABLE[index as usize]);
            // Bit 2 adds the step, bit 1 half of it, bit 0 a quarter, and an
            // eighth is always added; bit 3 is the sign.
            let mut difference = step / 8;
            for (bit, shift) in [(4u8, 0), (2, 1), (1, 2)] {
                if code & bit == bit {
                    difference += step / (1 << shift);
                }
            }
            sample = if code >= 8 { sample - difference } else { sample + difference };
            sample = sample.clamp(-32768, 32767);
            index += match code % 8 {
                0..=3 => -1,
                m => 2 * (i32::from(m) - 3),
            };
            index = index.clamp(0, 88);
            out[n * channels + ch] = sample as i16;
        }
    }
    out
}

/// The standard's quantiser: it sets the magnitude bits by comparing what is
/// left of the difference with the step, half the step and a quarter.
fn reference_encode(input: &[i16], block_align: usize, state: &mut [(i32, i32)]) -> Vec<u8> {
    let channels = state.len();
    let per_channel = input.len() / channels;
    let mut block = vec![0u8; block_align];
    for (ch, (sample, index)) in state.iter_mut().enumerate() {
        *sample = i32::from(input[ch]);
        block[4 * ch..4 * ch + 4].copy_from_slice(&[
            input[ch] as u8,
            (input[ch] >> 8) as u8,
            *index as u8,
            0,
        ]);
        for n in 1..per_channel {
            let step = i32::from(STEP_TABLE[*index as usize]);
            let mut left = i32::from(input[n * channels + ch]) - *sample;
            let mut code = 0u8;
            if left < 0 {
                code = 8;
                left = -left;
            }
            for (bit, part) in [(4u8, step), (2, step >> 1), (1, step >> 2)] {
                if left >= part {
                    code |= bit;
                    left -= part;
                }
            }
            let mut reconstructed = ChannelState::new(*sample as i16, *index as u8).unwrap();
            *sample = i32::from(reconstructed.decode(code));
            *index = i32::from(reconstructed.step_index());
            let k = n - 1;
            let pos = 4 * channels + (k / 8) * 4 * channels + 4 * ch + (k % 8) / 2;
            block[pos] |= if k % 2 == 0 { code } else { code << 4 };
        }
    }
    block
}

/// xorshift64: reproducible pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A random block with valid headers (the given step index, or a random one).
fn random_block(rng: &mut Rng, block_align: usize, channels: usize, index: Option<u8>) -> Vec<u8> {
    let mut block: Vec<u8> = (0..block_align).map(|_| rng.next() as u8).collect();
    for ch in 0..channels {
        block[4 * ch + 2] = index.unwrap_or_else(|| rng.below(89) as u8);
        block[4 * ch + 3] = 0;
    }
    block
}

fn decode(block: &[u8], channels: u16) -> Result<Vec<i16>, CodecError> {
    let frames = samples_per_block(block.len(), channels).unwrap_or(0);
    let mut out = vec![0i16; frames * usize::from(channels)];
    decode_block(block, channels, &mut out).map(|n| {
        assert_eq!(n, frames);
        out
    })
}

#[test]
fn samples_per_block_follows_the_formula() {
    // (block_align - 4 * channels) * 8 / (4 * channels) + 1
    assert_eq!(samples_per_block(256, 1), Some(505));
    assert_eq!(samples_per_block(512, 1), Some(1017));
    assert_eq!(samples_per_block(512, 2), Some(505));
    assert_eq!(samples_per_block(1024, 2), Some(1017));
    assert_eq!(samples_per_block(2048, 1), Some(4089));
    assert_eq!(samples_per_block(8, 1), Some(9));
    assert_eq!(samples_per_block(16, 2), Some(9));
    assert_eq!(samples_per_block(65528, 2), Some(65521));
    for (align, channels) in [(256usize, 1u16), (512, 1), (512, 2), (1024, 2), (36, 1), (40, 2)] {
        let c = 4 * usize::from(channels);
        assert_eq!(
            samples_per_block(align, channels),
            Some((align - c) * 8 / c + 1),
            "({align}, {channels})"
        );
    }
}

#[test]
fn samples_per_block_refuses_impossible_layouts() {
    for (align, channels) in [
        (0usize, 1u16), // nothing
        (4, 1),         // a header and no data
        (8, 2),         // both headers and no data
        (255, 1),       // not whole groups
        (258, 1),
        (260, 2), // a multiple of 4 but not of 8
        (256, 0),
        (256, 3),
        (256, u16::MAX),
    ] {
        assert_eq!(samples_per_block(align, channels), None, "({align}, {channels})");
    }
    assert_eq!(BlockLayout::new(256, 3), Err(CodecError::Channels(3)));
    assert_eq!(BlockLayout::new(260, 2), Err(CodecError::BlockAlign { block_align: 260, channels: 2 }));
    let layout = BlockLayout::new(512, 2).unwrap();
    assert_eq!(
        (layout.block_align(), layout.channels(), layout.samples_per_block(), layout.pcm_samples_per_block()),
        (512, 2, 505, 1010)
    );
}

#[test]
fn hand_worked_codes_decode_to_the_standards_values() {
    // Header: sample 0, index 0 (step 7).
    // code 7: 7>>3 + 7 + 3 + 1 = 11 -> 11, index 0+8 = 8 (step 16)
    // code 0: 16>>3 = 2 -> 13, index 7 (step 14)
    // code 9 (-, bit 0): 14>>3 + 14>>2 = 1 + 3 = 4 -> 9, index 6 (step 13)
    // code 12 (-, bit 2): 13>>3 + 13 = 14 -> -5, index 8 (step 16)
    // code 5: 2 + 16 + 4 = 22 -> 17, index 12 (step 23)
    // code 15: 2 + 23 + 11 + 5 = 41 -> -24, index 20 (step 50)
    // code 2: 6 + 25 = 31 -> 7, index 19 (step 45)
    // code 8: -(45>>3) = -5 -> 2, index 18
    let block = [0, 0, 0, 0, 0x07, 0xC9, 0xF5, 0x82];
    assert_eq!(decode(&block, 1).unwrap(), [0, 11, 13, 9, -5, 17, -24, 7, 2]);
}

#[test]
fn decoding_matches_the_reference_decoder_on_random_blocks() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for (align, channels) in
        [(256usize, 1u16), (512, 1), (2048, 1), (8, 1), (512, 2), (1024, 2), (16, 2), (2048, 2)]
    {
        for _ in 0..50 {
            let block = random_block(&mut rng, align, usize::from(channels), None);
            assert_eq!(
                decode(&block, channels).unwrap(),
                reference_decode(&block, usize::from(channels)),
                "({align}, {channels})"
            );
        }
    }
}

#[test]
fn every_header_step_index_decodes_deterministically() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let data = random_block(&mut rng, 256, 1, Some(0));
    let mut firsts = Vec::new();
    for index in 0..=MAX_STEP_INDEX {
        let mut block = data.clone();
        block[0..2].copy_from_slice(&(-1234i16).to_le_bytes());
        block[2] = index;
        let once = decode(&block, 1).unwrap();
        assert_eq!(decode(&block, 1).unwrap(), once, "index {index}");
        assert_eq!(once, reference_decode(&block, 1), "index {index}");
        assert_eq!(once[0], -1234);
        // The header's step decides the first difference: 1/8 of the step
        // always, plus the parts the first code's bits select.
        let step = i32::from(STEP_TABLE[usize::from(index)]);
        let code = block[4] & 15;
        let mut diff = step >> 3;
        diff += if code & 4 != 0 { step } else { 0 }
            + if code & 2 != 0 { step >> 1 } else { 0 }
            + if code & 1 != 0 { step >> 2 } else { 0 };
        let expected = if code & 8 != 0 { -1234 - diff } else { -1234 + diff };
        assert_eq!(i32::from(once[1]), expected.clamp(-32768, 32767), "index {index}");
        firsts.push(once[1]);
    }
    // Larger steps make larger first differences.
    assert!(
        firsts.windows(2).all(|w| (i32::from(w[1]) + 1234).abs() >= (i32::from(w[0]) + 1234).abs()),
        "{firsts:?}"
    );
    // Stereo: each channel's own index.
    for index in 0..=MAX_STEP_INDEX {
        let mut block = random_block(&mut rng, 512, 2, Some(index));
        block[6] = MAX_STEP_INDEX - index;
        assert_eq!(decode(&block, 2).unwrap(), reference_decode(&block, 2), "index {index}");
    }
}

#[test]
fn stereo_blocks_interleave_channels_group_by_group() {
    // Left rises from 1000 (codes 3), right falls from -1000 (codes 11),
    // with different step indexes, in 2 rows of groups.
    let mut block = vec![0u8; 24];
    block[0..4].copy_from_slice(&[0xE8, 0x03, 10, 0]);
    block[4..8].copy_from_slice(&[0x18, 0xFC, 20, 0]);
    for row in 0..2 {
        let base = 8 + row * 8;
        block[base..base + 4].fill(0x33);
        block[base + 4..base + 8].fill(0xBB);
    }
    let stereo = decode(&block, 2).unwrap();
    assert_eq!(stereo.len(), 2 * 17);
    assert_eq!(stereo, reference_decode(&block, 2));
    let left: Vec<i16> = stereo.iter().step_by(2).copied().collect();
    let right: Vec<i16> = stereo.iter().skip(1).step_by(2).copied().collect();
    assert!(left.windows(2).all(|w| w[1] > w[0]), "{left:?}");
    assert!(right.windows(2).all(|w| w[1] < w[0]), "{right:?}");
    // Each channel decodes as the mono block made of its header and groups.
    let mono_left: Vec<u8> = [&block[0..4], &block[8..12], &block[16..20]].concat();
    let mono_right: Vec<u8> = [&block[4..8], &block[12..16], &block[20..24]].concat();
    assert_eq!(decode(&mono_left, 1).unwrap(), left);
    assert_eq!(decode(&mono_right, 1).unwrap(), right);
    assert_eq!(&left[..3], &[1000, 1015, 1029]);
}

#[test]
fn samples_saturate_at_the_i16_bounds() {
    let top = [0xFF, 0x7F, 88, 0, 0x77, 0x77, 0x77, 0x77];
    assert_eq!(decode(&top, 1).unwrap(), [i16::MAX; 9]);
    let bottom = [0x00, 0x80, 88, 0, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_eq!(decode(&bottom, 1).unwrap(), [i16::MIN; 9]);
}

#[test]
fn truncated_blocks_are_errors_and_leave_the_output_alone() {
    let mut rng = Rng(7);
    let block = random_block(&mut rng, 256, 1, None);
    for len in [0usize, 1, 3, 4, 7, 255] {
        let mut out = vec![0x5555i16; 505];
        assert_eq!(
            decode_block(&block[..len], 1, &mut out),
            Err(CodecError::BlockAlign { block_align: len, channels: 1 }),
            "{len}"
        );
        assert!(out.iter().all(|&s| s == 0x5555));
    }
    let stereo = random_block(&mut rng, 512, 2, None);
    for len in [0usize, 4, 8, 12, 508, 511] {
        let mut out = vec![0i16; 1010];
        assert_eq!(
            decode_block(&stereo[..len], 2, &mut out),
            Err(CodecError::BlockAlign { block_align: len, channels: 2 }),
            "{len}"
        );
    }
    // A block cut at a group boundary is still a well-formed block of
    // another size: only the layout knows it is short.
    let layout = BlockLayout::new(256, 1).unwrap();
    let mut out = vec![0i16; 505];
    assert_eq!(
        layout.decode(&block[..252], &mut out),
        Err(CodecError::BlockLength { expected: 256, actual: 252 })
    );
    assert_eq!(layout.decode(&block, &mut out), Ok(505));
    let mut encoded = vec![0u8; 252];
    let mut state = EncoderState::new();
    assert_eq!(
        layout.encode(&out, &mut state, &mut encoded),
        Err(CodecError::BlockLength { expected: 256, actual: 252 })
    );
}

#[test]
fn step_indexes_past_88_are_errors() {
    let mut rng = Rng(99);
    for index in [89u8, 90, 127, 255] {
        let mut block = random_block(&mut rng, 256, 1, None);
        block[2] = index;
        assert_eq!(decode(&block, 1), Err(CodecError::StepIndex { channel: 0, index }));
        let mut stereo = random_block(&mut rng, 512, 2, Some(88));
        stereo[6] = index;
        let mut out = vec![0x5555i16; 1010];
        assert_eq!(decode_block(&stereo, 2, &mut out), Err(CodecError::StepIndex { channel: 1, index }));
        assert!(
            out.iter().all(|&s| s == 0x5555),
            "nothing written, not even the valid channel's header sample"
        );
    }
    assert_eq!(ChannelState::new(0, 89), None);
    assert_eq!(ChannelState::new(-5, 88).map(|s| (s.predictor(), s.step_index())), Some((-5, 88)));
    assert_eq!(
        CodecError::StepIndex { channel: 1, index: 89 }.to_string(),
        "channel 1: step index 89 in the block header is larger than 88"
    );
}

#[test]
fn pcm_buffers_of_the_wrong_length_are_errors() {
    let mut rng = Rng(3);
    let block = random_block(&mut rng, 256, 1, None);
    for len in [0usize, 504, 506, 1010] {
        let mut out = vec![0i16; len];
        assert_eq!(
            decode_block(&block, 1, &mut out),
            Err(CodecError::PcmLength { expected: 505, actual: len })
        );
    }
    let input = vec![100i16; 1011];
    let mut encoded = vec![0xAAu8; 512];
    let mut state = EncoderState::new();
    state.channels[1].step_index = 30;
    let before = state;
    for len in [0usize, 505, 1009, 1011] {
        assert_eq!(
            encode_block(&input[..len], 2, &mut state, &mut encoded),
            Err(CodecError::PcmLength { expected: 1010, actual: len })
        );
        assert_eq!(state, before);
        assert!(encoded.iter().all(|&b| b == 0xAA));
    }
    assert_eq!(encode_block(&input[..1010], 3, &mut state, &mut encoded), Err(CodecError::Channels(3)));
    assert_eq!(decode_block(&block, 0, &mut []), Err(CodecError::Channels(0)));
    assert_eq!(
        CodecError::PcmLength { expected: 1010, actual: 1009 }.to_string(),
        "PCM buffer of 1009 samples where one block has 1010"
    );
}

/// A voice-like test signal: a gliding fundamental with 12 harmonics shaped by
/// three formant bumps, syllables (a 2.5 Hz envelope with pauses), slow loudness
/// changes and a little white noise, scaled to peak around -6 dBFS.
fn speech_like(rate: f64, seconds: f64, seed: u64) -> Vec<i16> {
    use std::f64::consts::TAU;
    let mut rng = Rng(seed);
    let n = (rate * seconds) as usize;
    let formants = [(650.0, 120.0), (1500.0, 200.0), (2600.0, 300.0)];
    let mut phase = 0.0f64;
    let mut raw = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / rate;
        let f0 = 150.0 + 35.0 * (TAU * 0.6 * t).sin() + 10.0 * (TAU * 2.3 * t).sin();
        phase = (phase + TAU * f0 / rate) % TAU;
        let mut voiced = 0.0;
        for k in 1..=12 {
            let f = k as f64 * f0;
            if f >= rate / 2.0 {
                break;
            }
            let resonance: f64 =
                formants.iter().map(|&(c, w): &(f64, f64)| (-((f - c) / w).powi(2)).exp()).sum();
            voiced += (0.3 / k as f64 + resonance) * (k as f64 * phase + k as f64 * 0.7).sin();
        }
        let syllable = (TAU * 1.25 * t).sin().max(0.0).powf(0.6);
        let loudness = 0.65 + 0.35 * (TAU * 0.21 * t).sin();
        raw.push(syllable * loudness * voiced + 0.01 * rng.unit());
    }
    let peak = raw.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    raw.iter().map(|x| (x / peak * 16000.0).round() as i16).collect()
}

fn snr_db(original: &[i16], decoded: &[i16]) -> f64 {
    assert_eq!(original.len(), decoded.len());
    let signal: f64 = original.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = original.iter().zip(decoded).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    10.0 * (signal / noise).log10()
}

/// Encodes `input` block by block (whole blocks only) and decodes the result.
fn round_trip(input: &[i16], block_align: usize, channels: u16) -> (Vec<u8>, Vec<i16>) {
    let layout = BlockLayout::new(block_align, channels).unwrap();
    let per_block = layout.pcm_samples_per_block();
    let mut state = EncoderState::new();
    let mut encoded = Vec::new();
    let mut decoded = Vec::new();
    for chunk in input.chunks_exact(per_block) {
        let mut block = vec![0u8; block_align];
        assert_eq!(layout.encode(chunk, &mut state, &mut block), Ok(layout.samples_per_block()));
        let mut out = vec![0i16; per_block];
        assert_eq!(layout.decode(&block, &mut out), Ok(layout.samples_per_block()));
        // The encoder's model of the decoder ends where the decoder does.
        for ch in 0..usize::from(channels) {
            assert_eq!(state.channel(ch).unwrap().predictor(), out[per_block - usize::from(channels) + ch]);
        }
        assert_eq!(out, reference_decode(&block, usize::from(channels)));
        encoded.extend_from_slice(&block);
        decoded.extend_from_slice(&out);
    }
    (encoded, decoded)
}

fn reference_round_trip(input: &[i16], block_align: usize, channels: usize) -> Vec<i16> {
    let per_block = samples_per_block(block_align, channels as u16).unwrap() * channels;
    let mut state = vec![(0, 0); channels];
    input
        .chunks_exact(per_block)
        .flat_map(|chunk| reference_decode(&reference_encode(chunk, block_align, &mut state), channels))
        .collect()
}

#[test]
fn encoding_speech_like_audio_reaches_the_snr_of_wine() {
    let signal = speech_like(8000.0, 6.0, 0x5eed);
    let whole = signal.len() / 505 * 505;
    let signal = &signal[..whole];
    let (_, decoded) = round_trip(signal, 256, 1);
    let ours = snr_db(signal, &decoded);
    let reference = snr_db(signal, &reference_round_trip(signal, 256, 1));
    println!(
        "8000 Hz mono, 256-byte blocks, {} samples: SNR {ours:.2} dB (reference quantiser {reference:.2} dB)",
        signal.len()
    );
    assert!(ours >= 18.9, "SNR {ours:.2} dB");
    assert!(ours >= reference, "SNR {ours:.2} dB below the reference quantiser's {reference:.2} dB");
}

#[test]
fn encoding_stereo_keeps_the_channels_apart() {
    let left = speech_like(22050.0, 2.0, 1);
    let right = speech_like(22050.0, 2.0, 2);
    // The right channel runs backwards at half the level: the channels differ.
    let signal: Vec<i16> = left.iter().zip(right.iter().rev()).flat_map(|(&l, &r)| [l, r / 2]).collect();
    let whole = signal.len() / 4082 * 4082;
    let signal = &signal[..whole];
    let (_, decoded) = round_trip(signal, 2048, 2);
    let l: Vec<i16> = signal.iter().step_by(2).copied().collect();
    let r: Vec<i16> = signal.iter().skip(1).step_by(2).copied().collect();
    let dl: Vec<i16> = decoded.iter().step_by(2).copied().collect();
    let dr: Vec<i16> = decoded.iter().skip(1).step_by(2).copied().collect();
    let (snr_l, snr_r) = (snr_db(&l, &dl), snr_db(&r, &dr));
    let reference = snr_db(signal, &reference_round_trip(signal, 2048, 2));
    println!(
        "22050 Hz stereo, 2048-byte blocks: SNR left {snr_l:.2} dB, right {snr_r:.2} dB (reference quantiser {reference:.2} dB overall)"
    );
    assert!(snr_l >= 18.9 && snr_r >= 18.9, "{snr_l:.2} / {snr_r:.2}");
    assert!(snr_db(signal, &decoded) >= reference);
}

#[test]
fn encoder_headers_carry_the_first_sample_and_the_running_step_index() {
    let signal = speech_like(8000.0, 1.0, 42);
    let layout = BlockLayout::new(256, 1).unwrap();
    let mut state = EncoderState::new();
    let mut indexes = Vec::new();
    for chunk in signal.chunks_exact(505) {
        let index_before = state.channel(0).unwrap().step_index();
        let mut block = [0xEEu8; 256];
        layout.encode(chunk, &mut state, &mut block).unwrap();
        assert_eq!(i16::from_le_bytes([block[0], block[1]]), chunk[0]);
        assert_eq!((block[2], block[3]), (index_before, 0));
        indexes.push(block[2]);
    }
    assert_eq!(indexes[0], 0, "a fresh encoder starts at step index 0");
    assert!(indexes.iter().any(|&i| i > 0), "the index carries across blocks: {indexes:?}");
}

#[test]
fn a_reset_encoder_repeats_a_fresh_one() {
    let first = speech_like(8000.0, 1.0, 11);
    let second = speech_like(8000.0, 1.0, 12);
    let layout = BlockLayout::new(256, 1).unwrap();
    let encode_all = |state: &mut EncoderState, input: &[i16]| -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in input.chunks_exact(505) {
            let mut block = [0u8; 256];
            layout.encode(chunk, state, &mut block).unwrap();
            out.extend_from_slice(&block);
        }
        out
    };
    let fresh = encode_all(&mut EncoderState::new(), &second);
    let mut used = EncoderState::new();
    encode_all(&mut used, &first);
    assert_ne!(used, EncoderState::new());
    // Without the reset the state shows through (the first header's index).
    let stale = encode_all(&mut used.clone(), &second);
    assert_ne!(stale, fresh);
    used.reset();
    assert_eq!(used, EncoderState::new());
    assert_eq!(encode_all(&mut used, &second), fresh);
}

#[test]
fn extreme_inputs_encode_within_bounds() {
    let layout = BlockLayout::new(40, 2).unwrap();
    let n = layout.pcm_samples_per_block();
    let inputs: [Vec<i16>; 4] = [
        (0..n).map(|i| if i % 4 < 2 { i16::MAX } else { i16::MIN }).collect(),
        (0..n).map(|i| if i % 2 == 0 { i16::MIN } else { i16::MAX }).collect(),
        vec![i16::MIN; n],
        vec![0; n],
    ];
    let mut state = EncoderState::new();
    for input in &inputs {
        let mut block = [0u8; 40];
        layout.encode(input, &mut state, &mut block).unwrap();
        let mut out = vec![0i16; n];
        layout.decode(&block, &mut out).unwrap();
        assert_eq!(out, reference_decode(&block, 2));
        assert_eq!(&out[..2], &input[..2]);
    }
    // A constant signal holds at its value once the step is small.
    let mut block = [0u8; 40];
    let mut out = vec![0i16; n];
    let mut calm = EncoderState::new();
    layout.encode(&vec![-300; n], &mut calm, &mut block).unwrap();
    layout.decode(&block, &mut out).unwrap();
    assert!(out.iter().all(|&s| (s + 300).abs() <= 1), "{out:?}");
}

#[test]
fn encoding_is_at_least_as_good_as_the_reference_quantiser_on_other_signals() {
    use std::f64::consts::TAU;
    let mut rng = Rng(77);
    let n = 80 * 505;
    let sweep: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (12000.0 * (TAU * (100.0 * t + 150.0 * t * t)).sin()) as i16
        })
        .collect();
    let noise: Vec<i16> = (0..n).map(|_| (rng.unit() * 8000.0) as i16).collect();
    let square: Vec<i16> = (0..n).map(|i| if (i / 37) % 2 == 0 { 9000 } else { -9000 }).collect();
    let quiet: Vec<i16> = speech_like(8000.0, 5.1, 3).iter().map(|&x| x / 200).collect();
    for (name, signal) in
        [("sweep", sweep), ("white noise", noise), ("square", square), ("quiet speech", quiet)]
    {
        let signal = &signal[..signal.len() / 505 * 505];
        let ours = snr_db(signal, &round_trip(signal, 256, 1).1);
        let reference = snr_db(signal, &reference_round_trip(signal, 256, 1));
        println!("{name}: SNR {ours:.2} dB (reference quantiser {reference:.2} dB)");
        assert!(ours >= reference, "{name}: {ours:.2} dB below the reference quantiser's {reference:.2} dB");
    }
}
