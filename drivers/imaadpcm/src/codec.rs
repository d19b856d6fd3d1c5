//! The IMA ADPCM block codec of the Microsoft `WAVE_FORMAT_IMA_ADPCM` format.
//!
//! A block holds, for each channel, a 4-byte header (the first sample as a
//! little-endian `i16`, the step index, a reserved zero byte), then the
//! remaining samples as 4-bit codes in 4-byte groups: one group per channel in
//! turn, 8 codes per group, the low nibble of each byte first. Every block is
//! self-contained except for the encoder's step index, which carries over from
//! one block to the next (the header records it, so a decoder needs nothing
//! but the block).
//!
//! Decoding leaves no choice, so [`decode_block`] matches every other decoder
//! bit for bit. Encoding does: [`encode_block`] tries every code for each
//! sample, looking one sample ahead, and keeps the one whose reconstruction is
//! closest, where the reference quantiser truncates the difference bit by bit.

use thiserror::Error;

/// Quantiser step sizes of the IMA/DVI ADPCM standard, indexed by the step index.
pub const STEP_TABLE: [u16; 89] = [
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66, 73, 80, 88,
    97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658,
    724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327, 3660,
    4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818,
    18500, 20350, 22385, 24623, 27086, 29794, 32767,
];

/// How each 4-bit code moves the step index: small magnitudes shrink the step,
/// large ones grow it. The sign bit (8) does not matter.
pub const INDEX_TABLE: [i8; 16] = [-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8];

/// The largest valid step index (the last entry of [`STEP_TABLE`]).
pub const MAX_STEP_INDEX: u8 = 88;

/// The format defines mono and stereo blocks only.
pub const MAX_CHANNELS: u16 = 2;

/// Bytes of the per-channel block header.
pub const HEADER_BYTES: usize = 4;

/// Bytes of one channel's group of codes.
pub const GROUP_BYTES: usize = 4;

/// Samples coded by one channel's group (two per byte).
pub const SAMPLES_PER_GROUP: usize = 2 * GROUP_BYTES;

/// Why a block or a buffer cannot be converted. Nothing is written past the
/// caller's slices in any of these cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The channel count is neither 1 nor 2.
    #[error("IMA ADPCM has 1 or 2 channels, not {0}")]
    Channels(u16),
    /// The block length cannot be an IMA ADPCM block for that channel count:
    /// it must hold the headers and at least one group per channel, in whole groups.
    #[error(
        "a block of {block_align} bytes is not a whole number of 4-byte groups per channel after the headers ({channels} channels)"
    )]
    BlockAlign { block_align: usize, channels: u16 },
    /// A block is shorter or longer than the layout's block alignment.
    #[error("block of {actual} bytes where the format's blocks have {expected}")]
    BlockLength { expected: usize, actual: usize },
    /// A header names a step index past the table.
    #[error("channel {channel}: step index {index} in the block header is larger than 88")]
    StepIndex { channel: usize, index: u8 },
    /// The PCM slice does not hold exactly one block's samples, all channels interleaved.
    #[error("PCM buffer of {actual} samples where one block has {expected}")]
    PcmLength { expected: usize, actual: usize },
}

/// Samples per channel in a block of `block_align` bytes, or `None` when no
/// valid block has that size: `channels` must be 1 or 2 and `block_align` a
/// multiple of 4 bytes per channel, larger than the headers. The header's
/// sample counts as the first, then 8 per group.
pub fn samples_per_block(block_align: usize, channels: u16) -> Option<usize> {
    if channels == 0 || channels > MAX_CHANNELS {
        return None;
    }
    let row = GROUP_BYTES * usize::from(channels);
    if !block_align.is_multiple_of(row) || block_align <= row {
        return None;
    }
    // The header row is row bytes too, so the groups are the remaining rows.
    let groups = block_align / row - 1;
    groups.checked_mul(SAMPLES_PER_GROUP)?.checked_add(1)
}

/// A validated block format (`nBlockAlign`, `nChannels`), checked once so that
/// converting a stream only compares lengths per block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLayout {
    block_align: usize,
    channels: u16,
    samples_per_block: usize,
}

impl BlockLayout {
    /// The layout of `block_align`-byte blocks with `channels` channels.
    pub fn new(block_align: usize, channels: u16) -> Result<Self, CodecError> {
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(CodecError::Channels(channels));
        }
        let samples_per_block = samples_per_block(block_align, channels)
            .ok_or(CodecError::BlockAlign { block_align, channels })?;
        Ok(Self { block_align, channels, samples_per_block })
    }

    /// Bytes per block (`nBlockAlign`).
    pub fn block_align(&self) -> usize {
        self.block_align
    }

    /// Interleaved channels (`nChannels`).
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples per channel in each block (`wSamplesPerBlock`).
    pub fn samples_per_block(&self) -> usize {
        self.samples_per_block
    }

    /// PCM samples of one block, all channels counted (`samples_per_block * channels`).
    pub fn pcm_samples_per_block(&self) -> usize {
        self.samples_per_block * usize::from(self.channels)
    }

    /// Decodes one block, which must be exactly `block_align` bytes: a stream
    /// cut short is reported rather than decoded as a smaller block.
    pub fn decode(&self, block: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.check_block(block.len())?;
        decode_block(block, self.channels, out)
    }

    /// Encodes one block into exactly `block_align` bytes.
    pub fn encode(
        &self,
        input: &[i16],
        state: &mut EncoderState,
        block: &mut [u8],
    ) -> Result<usize, CodecError> {
        self.check_block(block.len())?;
        encode_block(input, self.channels, state, block)
    }

    fn check_block(&self, actual: usize) -> Result<(), CodecError> {
        if actual == self.block_align {
            Ok(())
        } else {
            Err(CodecError::BlockLength { expected: self.block_align, actual })
        }
    }
}

/// The decoder's (and the encoder's model of the decoder's) state for one
/// channel: the last reconstructed sample and the step index. The index is
/// kept within 0..=88 by construction, so the table lookups cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelState {
    predictor: i16,
    step_index: u8,
}

impl ChannelState {
    /// A state as a block header sets it; `None` for a step index past 88.
    pub fn new(predictor: i16, step_index: u8) -> Option<Self> {
        (step_index <= MAX_STEP_INDEX).then_some(Self { predictor, step_index })
    }

    /// The last reconstructed sample.
    pub fn predictor(&self) -> i16 {
        self.predictor
    }

    /// The current index into [`STEP_TABLE`].
    pub fn step_index(&self) -> u8 {
        self.step_index
    }

    /// The state after the low 4 bits of `code`: the difference is rebuilt
    /// from the step by shifts and adds, exactly as the standard states it
    /// (a multiplication would round differently), and the sample saturates.
    #[inline]
    pub fn after(self, code: u8) -> Self {
        let code = code & 0x0f;
        let step = i32::from(STEP_TABLE[usize::from(self.step_index)]);
        let mut diff = step >> 3;
        if code & 4 != 0 {
            diff += step;
        }
        if code & 2 != 0 {
            diff += step >> 1;
        }
        if code & 1 != 0 {
            diff += step >> 2;
        }
        let predicted =
            if code & 8 != 0 { i32::from(self.predictor) - diff } else { i32::from(self.predictor) + diff };
        let predictor = predicted.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        let index = i32::from(self.step_index) + i32::from(INDEX_TABLE[usize::from(code)]);
        let step_index = index.clamp(0, i32::from(MAX_STEP_INDEX)) as u8;
        Self { predictor, step_index }
    }

    /// Applies `code` and returns the reconstructed sample.
    #[inline]
    pub fn decode(&mut self, code: u8) -> i16 {
        *self = self.after(code);
        self.predictor
    }

    /// The code whose reconstruction of `target` costs least, counting the
    /// squared error of this sample plus the best squared error reachable for
    /// `next` (the following sample of the same channel, if the block has one).
    /// Looking ahead keeps the search from choosing a small code that leaves
    /// the step too small to follow a rising signal.
    fn best_code(self, target: i16, next: Option<i16>) -> u8 {
        let mut best_code = 0;
        let mut best_cost = u64::MAX;
        for code in 0..16u8 {
            let state = self.after(code);
            let mut cost = squared_error(target, state.predictor);
            if cost >= best_cost {
                continue;
            }
            if let Some(next) = next {
                let ahead =
                    (0..16u8).map(|c| squared_error(next, state.after(c).predictor)).min().unwrap_or(0);
                cost += ahead;
            }
            if cost < best_cost {
                best_cost = cost;
                best_code = code;
            }
        }
        best_code
    }
}

#[inline]
fn squared_error(target: i16, got: i16) -> u64 {
    let d = i64::from(target) - i64::from(got);
    d.unsigned_abs() * d.unsigned_abs()
}

/// What an encoder carries from one block to the next: per channel the step
/// index (each block's header records it) and the predictor, which each block
/// restarts from its first sample. A conversion starts from [`EncoderState::new`]
/// or [`EncoderState::reset`] so that the same input always gives the same blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncoderState {
    channels: [ChannelState; MAX_CHANNELS as usize],
}

impl EncoderState {
    /// A fresh state: predictor 0, step index 0 on both channels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns to the fresh state (a new conversion starts).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The state of `channel`, `None` past the second.
    pub fn channel(&self, channel: usize) -> Option<ChannelState> {
        self.channels.get(channel).copied()
    }
}

/// Checks the layout and the PCM length shared by both directions; returns
/// the channel count as an index bound and the samples per channel.
fn check_lengths(block_len: usize, channels: u16, pcm_len: usize) -> Result<(usize, usize), CodecError> {
    let layout = BlockLayout::new(block_len, channels)?;
    let expected = layout.pcm_samples_per_block();
    if pcm_len != expected {
        return Err(CodecError::PcmLength { expected, actual: pcm_len });
    }
    Ok((usize::from(channels), layout.samples_per_block))
}

/// Decodes one block into `out`, which must hold exactly one block's samples,
/// channels interleaved. The block's length is its `nBlockAlign`. Returns the
/// samples per channel written. On an error nothing is written.
pub fn decode_block(block: &[u8], channels: u16, out: &mut [i16]) -> Result<usize, CodecError> {
    let (nch, frames) = check_lengths(block.len(), channels, out.len())?;
    let (headers, data) = block.split_at(HEADER_BYTES * nch);
    let mut states = [ChannelState::default(); MAX_CHANNELS as usize];
    for (channel, (header, state)) in headers.chunks_exact(HEADER_BYTES).zip(&mut states).enumerate() {
        let predictor = i16::from_le_bytes([header[0], header[1]]);
        *state = ChannelState::new(predictor, header[2])
            .ok_or(CodecError::StepIndex { channel, index: header[2] })?;
    }
    let (first, rest) = out.split_at_mut(nch);
    for (sample, state) in first.iter_mut().zip(&states) {
        *sample = state.predictor;
    }
    // One row of groups (a group per channel) codes 8 frames.
    for (row, frames_out) in
        data.chunks_exact(GROUP_BYTES * nch).zip(rest.chunks_exact_mut(SAMPLES_PER_GROUP * nch))
    {
        for (channel, (group, state)) in row.chunks_exact(GROUP_BYTES).zip(&mut states).enumerate() {
            let mut slots = frames_out.iter_mut().skip(channel).step_by(nch);
            for &byte in group {
                for code in [byte & 0x0f, byte >> 4] {
                    if let Some(slot) = slots.next() {
                        *slot = state.decode(code);
                    }
                }
            }
        }
    }
    Ok(frames)
}

/// Encodes one block's samples (`input`, channels interleaved, exactly one
/// block's worth) into `block`, whose length is the `nBlockAlign`. Each
/// channel's header carries its first sample exactly and the step index the
/// state arrived with; `state` leaves with the index the next block starts
/// from. Returns the samples per channel consumed. On an error `state` is unchanged.
pub fn encode_block(
    input: &[i16],
    channels: u16,
    state: &mut EncoderState,
    block: &mut [u8],
) -> Result<usize, CodecError> {
    let (nch, frames) = check_lengths(block.len(), channels, input.len())?;
    let (headers, data) = block.split_at_mut(HEADER_BYTES * nch);
    data.fill(0);
    for (channel, (header, st)) in headers.chunks_exact_mut(HEADER_BYTES).zip(&mut state.channels).enumerate()
    {
        st.predictor = input[channel];
        let [lo, hi] = st.predictor.to_le_bytes();
        header.copy_from_slice(&[lo, hi, st.step_index, 0]);
    }
    for (channel, st) in state.channels.iter_mut().enumerate().take(nch) {
        // Sample 1 + k of this channel is code k of the block's data.
        let samples = input.iter().skip(channel).step_by(nch).skip(1);
        let mut upcoming = samples.clone().skip(1);
        for (k, &target) in samples.enumerate() {
            let code = st.best_code(target, upcoming.next().copied());
            *st = st.after(code);
            let offset = (k / SAMPLES_PER_GROUP) * GROUP_BYTES * nch
                + channel * GROUP_BYTES
                + (k % SAMPLES_PER_GROUP) / 2;
            if let Some(byte) = data.get_mut(offset) {
                *byte |= if k % 2 == 0 { code } else { code << 4 };
            }
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests;
