//! An audio format as a value: a `WAVEFORMATEX` and the bytes that follow it, read
//! from and written to the caller's buffers with every length checked.
//!
//! msacm32 hands formats as a pointer and a size (`cbwfx`), and the format says how
//! many bytes of its own follow the 18 fixed ones (`cbSize`). A codec sees neither:
//! it gets a [`Format`] that was parsed from exactly the bytes the caller vouched
//! for, or a [`FormatError`] that says what was wrong, and what it answers is
//! written back only if it fits.

use super::consts::WAVE_FORMAT_PCM;
use super::layout::WaveFormatEx;

/// The fixed part of a `WAVEFORMATEX`.
pub const WAVEFORMATEX_SIZE: usize = 18;

/// Why bytes are not a usable format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("a WAVEFORMATEX needs {WAVEFORMATEX_SIZE} bytes, {0} given")]
    TooShort(usize),
    #[error("cbSize says {cb_size} bytes follow the WAVEFORMATEX, but only {available} were given")]
    ExtraCut { cb_size: usize, available: usize },
    #[error("the format has no channels")]
    NoChannels,
    #[error("the format has a sample rate of 0")]
    NoRate,
    #[error("the format has a block alignment of 0")]
    NoBlockAlign,
    #[error("a {needed}-byte format does not fit in {available} bytes")]
    DoesNotFit { needed: usize, available: usize },
}

/// An audio format: the `WAVEFORMATEX` fields and the `cbSize` bytes after them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub tag: u16,
    pub channels: u16,
    pub samples_per_sec: u32,
    pub avg_bytes_per_sec: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    /// The format-specific bytes (`cbSize` of them).
    pub extra: Vec<u8>,
}

impl Format {
    /// Integer PCM with the usual derived fields.
    pub fn pcm(channels: u16, samples_per_sec: u32, bits_per_sample: u16) -> Format {
        let block_align = channels * bits_per_sample.div_ceil(8);
        Format {
            tag: WAVE_FORMAT_PCM,
            channels,
            samples_per_sec,
            avg_bytes_per_sec: samples_per_sec * u32::from(block_align),
            block_align,
            bits_per_sample,
            extra: Vec::new(),
        }
    }

    /// Parses the bytes of a `WAVEFORMATEX` and its extra bytes. A buffer of exactly
    /// 16 bytes is an old `PCMWAVEFORMAT` (no `cbSize`) only when the tag is PCM;
    /// anything else must hold the 18 fixed bytes and `cbSize` more. Bytes beyond
    /// those are ignored, as msacm32 ignores them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Format, FormatError> {
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        if bytes.len() < 16 || (bytes.len() < WAVEFORMATEX_SIZE && u16_at(0) != WAVE_FORMAT_PCM) {
            return Err(FormatError::TooShort(bytes.len()));
        }
        let cb_size = if bytes.len() >= WAVEFORMATEX_SIZE { usize::from(u16_at(16)) } else { 0 };
        // PCM carries no extra bytes whatever cbSize says (Windows ignores it too).
        let extra_len = if u16_at(0) == WAVE_FORMAT_PCM { 0 } else { cb_size };
        let available = bytes.len().saturating_sub(WAVEFORMATEX_SIZE);
        if extra_len > available {
            return Err(FormatError::ExtraCut { cb_size, available });
        }
        let format = Format {
            tag: u16_at(0),
            channels: u16_at(2),
            samples_per_sec: u32_at(4),
            avg_bytes_per_sec: u32_at(8),
            block_align: u16_at(12),
            bits_per_sample: u16_at(14),
            // A 16-byte PCMWAVEFORMAT has no byte 18: only slice when there are extras
            // (then `extra_len <= available` put them inside `bytes`).
            extra: if extra_len == 0 {
                Vec::new()
            } else {
                bytes[WAVEFORMATEX_SIZE..WAVEFORMATEX_SIZE + extra_len].to_vec()
            },
        };
        format.check()?;
        Ok(format)
    }

    /// The checks every codec needs before it looks at a format's tag-specific
    /// fields: channels, rate and block alignment are not 0.
    pub fn check(&self) -> Result<(), FormatError> {
        if self.channels == 0 {
            return Err(FormatError::NoChannels);
        }
        if self.samples_per_sec == 0 {
            return Err(FormatError::NoRate);
        }
        if self.block_align == 0 {
            return Err(FormatError::NoBlockAlign);
        }
        Ok(())
    }

    /// Its size as a `WAVEFORMATEX` with its extra bytes (what `cbwfx` must hold).
    pub fn size(&self) -> usize {
        WAVEFORMATEX_SIZE + self.extra.len()
    }

    /// The `WAVEFORMATEX` fields (`cbSize` = the extra bytes' length).
    pub fn header(&self) -> WaveFormatEx {
        WaveFormatEx {
            format_tag: self.tag,
            channels: self.channels,
            samples_per_sec: self.samples_per_sec,
            avg_bytes_per_sec: self.avg_bytes_per_sec,
            block_align: self.block_align,
            bits_per_sample: self.bits_per_sample,
            cb_size: self.extra.len() as u16,
        }
    }

    /// Writes the format into `out` (a caller's `cbwfx`-byte buffer); nothing is
    /// written when it does not fit.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, FormatError> {
        let needed = self.size();
        if needed > out.len() {
            return Err(FormatError::DoesNotFit { needed, available: out.len() });
        }
        let h = self.header();
        let (tag, channels, rate, avg) = (h.format_tag, h.channels, h.samples_per_sec, h.avg_bytes_per_sec);
        let (align, bits, cb) = (h.block_align, h.bits_per_sample, h.cb_size);
        out[0..2].copy_from_slice(&tag.to_le_bytes());
        out[2..4].copy_from_slice(&channels.to_le_bytes());
        out[4..8].copy_from_slice(&rate.to_le_bytes());
        out[8..12].copy_from_slice(&avg.to_le_bytes());
        out[12..14].copy_from_slice(&align.to_le_bytes());
        out[14..16].copy_from_slice(&bits.to_le_bytes());
        out[16..18].copy_from_slice(&cb.to_le_bytes());
        out[WAVEFORMATEX_SIZE..needed].copy_from_slice(&self.extra);
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ima_8k_mono() -> Vec<u8> {
        let mut b = vec![0u8; 20];
        b[0..2].copy_from_slice(&0x11u16.to_le_bytes());
        b[2..4].copy_from_slice(&1u16.to_le_bytes());
        b[4..8].copy_from_slice(&8000u32.to_le_bytes());
        b[8..12].copy_from_slice(&4055u32.to_le_bytes());
        b[12..14].copy_from_slice(&256u16.to_le_bytes());
        b[14..16].copy_from_slice(&4u16.to_le_bytes());
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&505u16.to_le_bytes());
        b
    }

    #[test]
    fn parses_and_writes_back_byte_for_byte() {
        let bytes = ima_8k_mono();
        let f = Format::from_bytes(&bytes).unwrap();
        assert_eq!(
            (f.tag, f.channels, f.samples_per_sec, f.block_align, f.extra.as_slice()),
            (0x11, 1, 8000, 256, &[0xF9, 0x01][..])
        );
        let mut out = vec![0xAA; 24];
        assert_eq!(f.write_to(&mut out), Ok(20));
        assert_eq!(&out[..20], &bytes[..]);
        assert_eq!(&out[20..], &[0xAA; 4], "nothing past the format");
    }

    #[test]
    fn pcm_in_16_or_18_bytes_and_its_cb_size_ignored() {
        let pcm = Format::pcm(2, 44100, 16);
        let mut b = vec![0u8; 18];
        pcm.write_to(&mut b).unwrap();
        assert_eq!(Format::from_bytes(&b[..16]), Ok(pcm.clone()), "PCMWAVEFORMAT");
        b[16] = 40; // cbSize nonsense on PCM
        assert_eq!(Format::from_bytes(&b), Ok(pcm));
    }

    #[test]
    fn malformed_formats_are_refused_with_the_reason() {
        let good = ima_8k_mono();
        assert_eq!(Format::from_bytes(&good[..17]), Err(FormatError::TooShort(17)));
        assert_eq!(Format::from_bytes(&[]), Err(FormatError::TooShort(0)));
        assert_eq!(Format::from_bytes(&good[..19]), Err(FormatError::ExtraCut { cb_size: 2, available: 1 }));
        let mut b = good.clone();
        b[16..18].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(Format::from_bytes(&b), Err(FormatError::ExtraCut { cb_size: 0xFFFF, available: 2 }));
        let mut b = good.clone();
        b[2] = 0;
        assert_eq!(Format::from_bytes(&b), Err(FormatError::NoChannels));
        let mut b = good.clone();
        b[4..8].fill(0);
        assert_eq!(Format::from_bytes(&b), Err(FormatError::NoRate));
        let mut b = good;
        b[12..14].fill(0);
        assert_eq!(Format::from_bytes(&b), Err(FormatError::NoBlockAlign));
        assert_eq!(
            FormatError::ExtraCut { cb_size: 2, available: 1 }.to_string(),
            "cbSize says 2 bytes follow the WAVEFORMATEX, but only 1 were given"
        );
    }

    /// Any bytes: an error or a format that writes back to the bytes it was read
    /// from (up to its size; PCM's cbSize is written as 0), never a panic.
    #[test]
    fn arbitrary_bytes_never_panic_and_round_trip() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200_000 {
            let len = (next() % 40) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 && len >= 18 {
                // Plausible cbSize values, so that the extra-bytes path is taken.
                let cb = (next() % 24) as u16;
                bytes[16..18].copy_from_slice(&cb.to_le_bytes());
            }
            if let Ok(f) = Format::from_bytes(&bytes) {
                let mut out = vec![0u8; f.size()];
                assert_eq!(f.write_to(&mut out), Ok(f.size()));
                assert_eq!(Format::from_bytes(&out), Ok(f.clone()), "{bytes:02x?}");
                if f.tag != WAVE_FORMAT_PCM {
                    assert_eq!(&out[..], &bytes[..f.size()]);
                }
            }
        }
    }

    #[test]
    fn a_format_that_does_not_fit_writes_nothing() {
        let f = Format::from_bytes(&ima_8k_mono()).unwrap();
        let mut out = [0x55u8; 19];
        assert_eq!(f.write_to(&mut out), Err(FormatError::DoesNotFit { needed: 20, available: 19 }));
        assert_eq!(out, [0x55; 19]);
    }
}
