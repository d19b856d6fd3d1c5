//! The IMA ADPCM codec as an ACM driver: `WAVE_FORMAT_IMA_ADPCM` (0x11) to and
//! from 8- and 16-bit PCM, mono and stereo, answering as Wine's imaadp32.acm does:
//! whole blocks only, `START` resets the encoder, and `acmStreamSize` rounds
//! by blocks (see [`ImaStream`]).
//!
//! Block sizes follow the rule Windows' and Wine's codecs use for their
//! standard formats, extended to every rate this codec takes:
//! `nBlockAlign = 256 * nChannels * max(1, nSamplesPerSec / 11025)` (integer
//! division), so 8000 and 11025 Hz mono give 256 bytes (505 samples), 22050 Hz
//! 512 (1017), 44100 Hz 1024 (2041), and stereo doubles each. Any other block
//! size that is a valid layout is accepted in a format a caller gives.

use drvproc::acm::consts::*;
use drvproc::acm::{Codec, ConvertFlags, Details, Format, FormatTag, SizeQuery, Stream, Suggestion};

use crate::codec::{BlockLayout, CodecError, EncoderState, HEADER_BYTES, MAX_STEP_INDEX, samples_per_block};

/// The sample rates of the standard formats (those of Windows' and Wine's codecs).
pub const RATES: [u32; 4] = [8000, 11025, 22050, 44100];

/// The rates a format may have: the standard ones and everything between, up to 48 kHz.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 8000..=48000;

/// The bytes an IMA ADPCM format carries after its `WAVEFORMATEX`: `wSamplesPerBlock`.
pub const IMA_EXTRA_BYTES: usize = 2;

/// The IMA ADPCM codec.
#[derive(Default)]
pub struct ImaAdpcm;

/// The block size of the formats this codec proposes for `channels` at `rate`:
/// `256 * channels * max(1, rate / 11025)`, as Windows' and Wine's codecs size
/// their standard formats (a block then lasts 23 to 64 ms); `None` when that
/// does not fit in `nBlockAlign`.
pub fn block_align_for(channels: u16, rate: u32) -> Option<u16> {
    let factor = (rate / 11025).max(1);
    u16::try_from(factor.checked_mul(256 * u32::from(channels))?).ok()
}

/// The IMA ADPCM format for `channels` at `rate` with `block_align`-byte blocks,
/// or `None` when that is not a valid block layout.
///
/// `nAvgBytesPerSec` is `rate * block_align / samples_per_block` rounded down,
/// as Wine's codec computes it (4055 at 8000 Hz mono, 5588 at 11025 Hz, 11100 at
/// 22050 Hz mono, 22125 at 44100 Hz mono).
pub fn ima_format_with(channels: u16, rate: u32, block_align: u16) -> Option<Format> {
    let spb = samples_per_block(usize::from(block_align), channels)?;
    let spb16 = u16::try_from(spb).ok()?;
    let avg = u64::from(rate) * u64::from(block_align) / spb as u64;
    Some(Format {
        tag: WAVE_FORMAT_IMA_ADPCM,
        channels,
        samples_per_sec: rate,
        avg_bytes_per_sec: u32::try_from(avg).ok()?,
        block_align,
        bits_per_sample: 4,
        extra: spb16.to_le_bytes().to_vec(),
    })
}

/// The IMA ADPCM format this codec proposes for `channels` at `rate` (the block
/// size by [`block_align_for`]), or `None` for a channel count other than 1 or 2.
pub fn ima_format(channels: u16, rate: u32) -> Option<Format> {
    if !(1..=2).contains(&channels) {
        return None;
    }
    ima_format_with(channels, rate, block_align_for(channels, rate)?)
}

/// Whether `f`'s rate and channel count are ones this codec takes.
fn usable(f: &Format) -> bool {
    (1..=2).contains(&f.channels) && RATE_RANGE.contains(&f.samples_per_sec)
}

/// The PCM sample sizes this codec converts, in the order its formats list them.
pub const PCM_BITS: [u16; 2] = [8, 16];

/// The bytes per sample of a PCM format this codec converts: 8-bit (unsigned,
/// 128 is silence) or 16-bit (signed little-endian), with a `nBlockAlign` that
/// agrees. Windows' IMA ADPCM codec converts both; Wine's lists 8-bit formats
/// but refuses to open streams with them.
fn pcm_bytes(f: &Format) -> Option<usize> {
    let ok = f.tag == WAVE_FORMAT_PCM
        && PCM_BITS.contains(&f.bits_per_sample)
        && f.block_align == f.bits_per_sample / 8 * f.channels
        && usable(f);
    ok.then_some(usize::from(f.bits_per_sample / 8))
}

/// The block layout of an IMA ADPCM format whose fields agree with each other:
/// 4 bits per sample, at least the 2 extra bytes, a block size that is a whole
/// layout for its channels, and a `wSamplesPerBlock` that is that layout's.
/// Anything else is refused rather than guessed at, since a decoder that trusted
/// a wrong `wSamplesPerBlock` would write the wrong amount of PCM.
fn ima_layout(f: &Format) -> Option<BlockLayout> {
    if f.tag != WAVE_FORMAT_IMA_ADPCM || f.bits_per_sample != 4 || !usable(f) {
        return None;
    }
    let stated = match f.extra.get(..IMA_EXTRA_BYTES)? {
        [lo, hi] => usize::from(u16::from_le_bytes([*lo, *hi])),
        _ => return None,
    };
    let layout = BlockLayout::new(usize::from(f.block_align), f.channels).ok()?;
    (layout.samples_per_block() == stated).then_some(layout)
}

impl Codec for ImaAdpcm {
    type Stream = ImaStream;

    fn details(&self) -> Details {
        Details {
            features: "IMA ADPCM to and from 8- and 16-bit PCM".into(),
            ..Details::new(ACMDRIVERDETAILS_SUPPORTF_CODEC, "IMA ADPCM", "drvproc IMA ADPCM codec")
        }
    }

    fn format_tags(&self) -> Vec<FormatTag> {
        vec![
            FormatTag { tag: WAVE_FORMAT_PCM, format_size: 16, name: "PCM".into() },
            FormatTag {
                tag: WAVE_FORMAT_IMA_ADPCM,
                format_size: (drvproc::acm::format::WAVEFORMATEX_SIZE + IMA_EXTRA_BYTES) as u32,
                name: "IMA ADPCM".into(),
            },
        ]
    }

    /// At each rate of [`RATES`]: PCM 8-bit mono, 8-bit stereo, 16-bit mono,
    /// 16-bit stereo, and IMA ADPCM mono, stereo (the lists and order of
    /// Windows' and Wine's codecs).
    fn formats(&self, tag: u16) -> Vec<Format> {
        let mut out = Vec::new();
        for rate in RATES {
            match tag {
                WAVE_FORMAT_PCM => {
                    for bits in PCM_BITS {
                        out.extend([1, 2].map(|channels| Format::pcm(channels, rate, bits)));
                    }
                }
                WAVE_FORMAT_IMA_ADPCM => out.extend([1, 2].into_iter().filter_map(|ch| ima_format(ch, rate))),
                _ => {}
            }
        }
        out
    }

    fn supports(&self, format: &Format) -> bool {
        pcm_bytes(format).is_some() || ima_layout(format).is_some()
    }

    fn suggest(&self, src: &Format, wanted: &Suggestion) -> Option<Format> {
        let channels = wanted.channels.unwrap_or(src.channels);
        let rate = wanted.samples_per_sec.unwrap_or(src.samples_per_sec);
        // Only the format changes: a codec, not a resampler or a mixer.
        if channels != src.channels || rate != src.samples_per_sec {
            return None;
        }
        if pcm_bytes(src).is_some() && wanted.tag.is_none_or(|t| t == WAVE_FORMAT_IMA_ADPCM) {
            return ima_format(channels, rate);
        }
        if ima_layout(src).is_some() && wanted.tag.is_none_or(|t| t == WAVE_FORMAT_PCM) {
            // 16-bit unless the caller fixed the sample size to one this codec writes.
            let bits = wanted.bits_per_sample.unwrap_or(16);
            return PCM_BITS.contains(&bits).then(|| Format::pcm(channels, rate, bits));
        }
        None
    }

    fn open(&self, src: &Format, dst: &Format) -> Option<ImaStream> {
        if src.channels != dst.channels || src.samples_per_sec != dst.samples_per_sec {
            return None;
        }
        let (direction, layout, pcm_bytes) = if let Some(bytes) = pcm_bytes(src) {
            (Direction::Encode, ima_layout(dst)?, bytes)
        } else if let Some(bytes) = pcm_bytes(dst) {
            (Direction::Decode, ima_layout(src)?, bytes)
        } else {
            return None;
        };
        Some(ImaStream { direction, layout, pcm_bytes, state: EncoderState::new(), samples: Vec::new() })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// 16-bit PCM to IMA ADPCM.
    Encode,
    /// IMA ADPCM to 16-bit PCM.
    Decode,
}

/// An IMA ADPCM conversion, whole blocks at a time as Wine's imaadp32.acm works:
///
/// - a call converts min(source blocks, destination blocks), where a PCM block
///   is `wSamplesPerBlock * nChannels` samples of 1 or 2 bytes, with or without
///   `ACM_STREAMCONVERTF_BLOCKALIGN`; what is left over comes back in the next
///   call, and an `END` call with less than a block converts nothing;
/// - `START` resets the encoder's step index, so the same input gives the same
///   blocks on every conversion;
/// - a block whose header is damaged (a step index past 88) decodes with the
///   index clamped to 88, as Wine's imaadp32 decodes it. Refusing it would
///   leave a block no call ever consumes, and a client that feeds the unused
///   bytes again (as streaming clients do) would loop on it forever.
pub struct ImaStream {
    direction: Direction,
    layout: BlockLayout,
    /// Bytes per PCM sample: 1 (8-bit) or 2 (16-bit).
    pcm_bytes: usize,
    state: EncoderState,
    /// One block's samples, allocated at the first conversion (a query open
    /// makes a stream and drops it at once).
    samples: Vec<i16>,
}

impl ImaStream {
    /// Bytes of one block in the source and the destination.
    fn block_bytes(&self) -> (usize, usize) {
        let pcm = self.pcm_bytes * self.layout.pcm_samples_per_block();
        let ima = self.layout.block_align();
        match self.direction {
            Direction::Encode => (pcm, ima),
            Direction::Decode => (ima, pcm),
        }
    }
}

impl Stream for ImaStream {
    /// As Wine's imaadp32.acm: `Source(n)` is `None` when `n` holds no whole
    /// block, else the destination of `n`'s blocks rounded up (a partial block
    /// counts as one); `Destination(n)` is the source of the whole blocks `n`
    /// holds, rounded down, and `None` when there is none.
    fn size(&self, query: SizeQuery) -> Option<u32> {
        let (src_block, dst_block) = self.block_bytes();
        let (n, from, to, round_up) = match query {
            SizeQuery::Source(n) => (n as usize, src_block, dst_block, true),
            SizeQuery::Destination(n) => (n as usize, dst_block, src_block, false),
        };
        let whole = n / from;
        if whole == 0 {
            return None;
        }
        let blocks = if round_up && n % from != 0 { whole + 1 } else { whole };
        u32::try_from(blocks.checked_mul(to)?).ok()
    }

    fn convert(&mut self, src: &[u8], dst: &mut [u8], flags: ConvertFlags) -> (usize, usize) {
        if flags.start {
            self.state.reset();
        }
        let (src_block, dst_block) = self.block_bytes();
        let blocks = (src.len() / src_block).min(dst.len() / dst_block);
        let src_blocks = src.chunks_exact(src_block).take(blocks);
        let dst_blocks = dst.chunks_exact_mut(dst_block).take(blocks);
        let samples = self.layout.pcm_samples_per_block();
        self.samples.resize(samples, 0);
        let mut done = 0;
        for (input, output) in src_blocks.zip(dst_blocks) {
            let converted = match self.direction {
                Direction::Encode => {
                    for (sample, bytes) in self.samples.iter_mut().zip(input.chunks_exact(self.pcm_bytes)) {
                        *sample = read_pcm(bytes);
                    }
                    self.layout.encode(&self.samples, &mut self.state, output).is_ok()
                }
                Direction::Decode => {
                    let ok = match self.layout.decode(input, &mut self.samples) {
                        Err(CodecError::StepIndex { .. }) => {
                            // A damaged header: decoded with its step indexes clamped to
                            // 88, as Wine's imaadp32 does, rather than stalling the
                            // stream on a block no call would ever consume.
                            let mut block = input.to_vec();
                            for header in
                                block.chunks_exact_mut(HEADER_BYTES).take(self.layout.channels().into())
                            {
                                header[2] = header[2].min(MAX_STEP_INDEX);
                            }
                            self.layout.decode(&block, &mut self.samples).is_ok()
                        }
                        result => result.is_ok(),
                    };
                    if ok {
                        for (bytes, &sample) in output.chunks_exact_mut(self.pcm_bytes).zip(&self.samples) {
                            write_pcm(sample, bytes);
                        }
                    }
                    ok
                }
            };
            if !converted {
                break;
            }
            done += 1;
        }
        (done * src_block, done * dst_block)
    }
}

/// One PCM sample from its 1 or 2 bytes: 8-bit samples are unsigned with 128
/// as silence and become the high byte of a 16-bit sample.
fn read_pcm(bytes: &[u8]) -> i16 {
    match *bytes {
        [b] => i16::from((b ^ 0x80) as i8) << 8,
        [lo, hi] => i16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

/// Writes `sample` in 1 or 2 bytes: as 8-bit, its high byte offset by 128
/// (truncated, as Windows' codecs convert 16-bit samples to 8-bit).
fn write_pcm(sample: i16, bytes: &mut [u8]) {
    let [lo, hi] = sample.to_le_bytes();
    match bytes {
        [b] => *b = hi ^ 0x80,
        [a, b] => (*a, *b) = (lo, hi),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
