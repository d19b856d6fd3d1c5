//! The G.711 codec as an ACM driver: A-law and µ-law to and from 16-bit PCM, mono
//! and stereo, 8 to 48 kHz, answering as Wine's msg711.acm does (sizes count whole
//! samples, and a size with none is 0 bytes, not an error). Two differences: in
//! stereo it converts whole frames (both channels' samples) per call, where msg711
//! may stop between the two (the output is identical); and it does not convert one
//! law into the other, which msg711 does with G.711's own conversion tables
//! (decoding and re-encoding gives other codes for some values).

use drvproc::acm::consts::*;
use drvproc::acm::{Codec, ConvertFlags, Details, Format, FormatTag, SizeQuery, Stream, Suggestion};

use crate::codec;

/// The sample rates of the standard formats.
pub const RATES: [u32; 7] = [8000, 11025, 16000, 22050, 32000, 44100, 48000];

/// The G.711 codec.
#[derive(Default)]
pub struct G711;

/// A G.711 format (`cbSize` 0): one byte per sample and channel.
pub fn g711_format(tag: u16, channels: u16, rate: u32) -> Format {
    Format {
        tag,
        channels,
        samples_per_sec: rate,
        avg_bytes_per_sec: rate * u32::from(channels),
        block_align: channels,
        bits_per_sample: 8,
        extra: Vec::new(),
    }
}

fn is_g711(tag: u16) -> bool {
    tag == WAVE_FORMAT_ALAW || tag == WAVE_FORMAT_MULAW
}

/// Whether `f` is a format of this codec with a rate and channel count it takes.
fn usable(f: &Format) -> bool {
    (1..=2).contains(&f.channels) && (8000..=48000).contains(&f.samples_per_sec)
}

fn is_pcm16(f: &Format) -> bool {
    f.tag == WAVE_FORMAT_PCM && f.bits_per_sample == 16 && f.block_align == 2 * f.channels && usable(f)
}

fn is_g711_format(f: &Format) -> bool {
    is_g711(f.tag) && f.bits_per_sample == 8 && f.block_align == f.channels && usable(f)
}

impl Codec for G711 {
    type Stream = G711Stream;

    fn details(&self) -> Details {
        Details {
            features: "A-law and mu-law to and from 16-bit PCM".into(),
            ..Details::new(ACMDRIVERDETAILS_SUPPORTF_CODEC, "G.711", "drvproc G.711 A-law and mu-law codec")
        }
    }

    fn format_tags(&self) -> Vec<FormatTag> {
        vec![
            FormatTag { tag: WAVE_FORMAT_PCM, format_size: 16, name: "PCM".into() },
            FormatTag { tag: WAVE_FORMAT_ALAW, format_size: 18, name: "CCITT A-Law".into() },
            FormatTag { tag: WAVE_FORMAT_MULAW, format_size: 18, name: "CCITT u-Law".into() },
        ]
    }

    fn formats(&self, tag: u16) -> Vec<Format> {
        let mut out = Vec::new();
        for rate in RATES {
            for channels in [1, 2] {
                match tag {
                    WAVE_FORMAT_PCM => out.push(Format::pcm(channels, rate, 16)),
                    t if is_g711(t) => out.push(g711_format(t, channels, rate)),
                    _ => {}
                }
            }
        }
        out
    }

    fn supports(&self, format: &Format) -> bool {
        is_pcm16(format) || is_g711_format(format)
    }

    fn suggest(&self, src: &Format, wanted: &Suggestion) -> Option<Format> {
        let channels = wanted.channels.unwrap_or(src.channels);
        let rate = wanted.samples_per_sec.unwrap_or(src.samples_per_sec);
        // Only the format changes: a codec, not a resampler or a mixer.
        if channels != src.channels || rate != src.samples_per_sec {
            return None;
        }
        if is_pcm16(src) {
            let tag = wanted.tag.unwrap_or(WAVE_FORMAT_MULAW);
            return is_g711(tag).then(|| g711_format(tag, channels, rate));
        }
        if is_g711_format(src) && wanted.tag.is_none_or(|t| t == WAVE_FORMAT_PCM) {
            return Some(Format::pcm(channels, rate, 16));
        }
        None
    }

    fn open(&self, src: &Format, dst: &Format) -> Option<G711Stream> {
        if src.channels != dst.channels || src.samples_per_sec != dst.samples_per_sec {
            return None;
        }
        let channels = usize::from(src.channels);
        if is_pcm16(src) && is_g711_format(dst) {
            Some(G711Stream { direction: Direction::Encode(dst.tag), channels })
        } else if is_g711_format(src) && is_pcm16(dst) {
            Some(G711Stream { direction: Direction::Decode(src.tag), channels })
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// 16-bit PCM to this tag.
    Encode(u16),
    /// This tag to 16-bit PCM.
    Decode(u16),
}

/// A G.711 conversion: stateless, whole sample frames at a time.
pub struct G711Stream {
    direction: Direction,
    channels: usize,
}

impl G711Stream {
    /// Bytes of one frame (a sample for each channel) in the source and destination.
    fn frame_bytes(&self) -> (usize, usize) {
        match self.direction {
            Direction::Encode(_) => (2 * self.channels, self.channels),
            Direction::Decode(_) => (self.channels, 2 * self.channels),
        }
    }
}

impl Stream for G711Stream {
    fn size(&self, query: SizeQuery) -> Option<u32> {
        let (src_frame, dst_frame) = self.frame_bytes();
        let (n, from, to) = match query {
            SizeQuery::Source(n) => (n as usize, src_frame, dst_frame),
            SizeQuery::Destination(n) => (n as usize, dst_frame, src_frame),
        };
        // msg711 answers a size with no whole sample as 0 bytes, successfully.
        u32::try_from(n / from * to).ok()
    }

    fn convert(&mut self, src: &[u8], dst: &mut [u8], _flags: ConvertFlags) -> (usize, usize) {
        let (src_frame, dst_frame) = self.frame_bytes();
        let frames = (src.len() / src_frame).min(dst.len() / dst_frame);
        let (src, dst) = (&src[..frames * src_frame], &mut dst[..frames * dst_frame]);
        let used = match self.direction {
            Direction::Encode(WAVE_FORMAT_ALAW) => codec::encode_alaw_le(src, dst),
            Direction::Encode(_) => codec::encode_ulaw_le(src, dst),
            Direction::Decode(WAVE_FORMAT_ALAW) => codec::decode_alaw_le(src, dst),
            Direction::Decode(_) => codec::decode_ulaw_le(src, dst),
        };
        (used.src, used.dst)
    }
}
