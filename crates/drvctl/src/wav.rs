//! The RIFF/WAVE container as `convert` needs it beyond what `hound` does.
//!
//! `hound` reads and writes integer and float PCM (and WAVE_FORMAT_EXTENSIBLE) only;
//! it refuses every other format tag. Compressed audio (A-law, µ-law, IMA ADPCM)
//! lives in the same container with a longer `fmt ` chunk (a whole `WAVEFORMATEX`
//! with `cbSize` extra bytes) and a `fact` chunk holding the sample count, so this
//! module reads any WAVE file's header and writes those files itself. Every length
//! read from a file is checked against the file's own size before it is trusted.

use std::io::{self, Read, Seek, SeekFrom, Write};

use drvproc::acm::Format;

/// Why a file is not a WAVE file we can read or write.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF file (it does not start with \"RIFF\")")]
    NotRiff,
    #[error("a RIFF file but not WAVE audio (its form type is {0:?})")]
    NotWave(String),
    #[error("no fmt chunk before the data chunk")]
    NoFormat,
    #[error("no data chunk")]
    NoData,
    #[error("the fmt chunk has {0} bytes; a format needs at least 16")]
    FormatTooShort(u32),
    #[error("the {id:?} chunk at byte {at} claims {size} bytes, but the file ends {available} bytes later")]
    ChunkPastEnd { id: String, at: u64, size: u32, available: u64 },
    #[error("the file is too short to hold a RIFF header ({0} bytes)")]
    TooShort(u64),
    #[error("the audio data would exceed the 4 GiB a WAVE file can hold")]
    TooLong,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What the header of a WAVE file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The `fmt ` chunk's bytes, as stored.
    pub format: Vec<u8>,
    /// The `fact` chunk's sample count, when there is one.
    pub fact_samples: Option<u32>,
    /// Where the audio data starts, and its length in bytes.
    pub data_offset: u64,
    pub data_len: u64,
}

impl Header {
    /// The format tag (`wFormatTag`); the fmt chunk has at least 16 bytes.
    pub fn tag(&self) -> u16 {
        u16::from_le_bytes([self.format[0], self.format[1]])
    }

    /// The format as a [`Format`]. An old 16-byte `WAVEFORMAT` of a non-PCM tag (no
    /// `cbSize`) counts as `cbSize` 0, as Windows reads it.
    pub fn to_format(&self) -> Result<Format, drvproc::acm::FormatError> {
        let mut bytes = self.format.clone();
        if bytes.len() < 18 {
            bytes.resize(18, 0);
        }
        Format::from_bytes(&bytes)
    }
}

fn four(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect()
}

/// Reads the chunks of a WAVE file up to its data chunk; `file_len` is the file's
/// size, against which every chunk is checked. The reader is left anywhere.
pub fn read_header<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<Header, WavError> {
    if file_len < 12 {
        return Err(WavError::TooShort(file_len));
    }
    r.seek(SeekFrom::Start(0))?;
    let mut riff = [0u8; 12];
    r.read_exact(&mut riff)?;
    if &riff[0..4] != b"RIFF" {
        return Err(WavError::NotRiff);
    }
    if &riff[8..12] != b"WAVE" {
        return Err(WavError::NotWave(four(&riff[8..12])));
    }
    let mut format: Option<Vec<u8>> = None;
    let mut fact_samples = None;
    let mut at = 12u64;
    loop {
        if at + 8 > file_len {
            return Err(if format.is_none() { WavError::NoFormat } else { WavError::NoData });
        }
        r.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        let id = &head[0..4];
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let body = at + 8;
        let available = file_len - body;
        if id == b"data" {
            let Some(format) = format else { return Err(WavError::NoFormat) };
            if u64::from(size) > available {
                return Err(WavError::ChunkPastEnd { id: four(id), at, size, available });
            }
            return Ok(Header { format, fact_samples, data_offset: body, data_len: u64::from(size) });
        }
        if u64::from(size) > available {
            return Err(WavError::ChunkPastEnd { id: four(id), at, size, available });
        }
        match id {
            b"fmt " => {
                if size < 16 {
                    return Err(WavError::FormatTooShort(size));
                }
                let mut bytes = vec![0u8; size as usize];
                r.read_exact(&mut bytes)?;
                format = Some(bytes);
            }
            b"fact" if size >= 4 => {
                let mut n = [0u8; 4];
                r.read_exact(&mut n)?;
                fact_samples = Some(u32::from_le_bytes(n));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body + u64::from(size) + u64::from(size & 1);
    }
}

/// Writes a WAVE file of any format: `RIFF` header, `fmt ` chunk (the whole
/// `WAVEFORMATEX` with `cbSize` and its extra bytes), a `fact` chunk for formats
/// other than PCM, then the data. The sizes are patched in by [`finish`](Self::finish).
pub struct RiffWriter<W: Write + Seek> {
    out: W,
    /// Where the fact chunk's sample count sits, if there is one.
    fact_at: Option<u64>,
    /// Where the data chunk's size sits.
    data_size_at: u64,
    data_len: u64,
}

/// The largest data chunk whose RIFF size still fits in 32 bits with the header.
const MAX_DATA: u64 = u32::MAX as u64 - 256;

impl<W: Write + Seek> RiffWriter<W> {
    pub fn new(mut out: W, format: &Format) -> Result<Self, WavError> {
        let mut fmt = vec![0u8; format.size()];
        format.write_to(&mut fmt).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let fmt_len = u32::try_from(fmt.len()).map_err(|_| WavError::TooLong)?;
        out.write_all(b"RIFF\0\0\0\0WAVE")?;
        out.write_all(b"fmt ")?;
        out.write_all(&fmt_len.to_le_bytes())?;
        out.write_all(&fmt)?;
        let mut at = 12 + 8 + u64::from(fmt_len);
        if fmt_len & 1 == 1 {
            out.write_all(&[0])?;
            at += 1;
        }
        let fact_at = if format.tag != drvproc::acm::consts::WAVE_FORMAT_PCM {
            out.write_all(b"fact")?;
            out.write_all(&4u32.to_le_bytes())?;
            out.write_all(&0u32.to_le_bytes())?;
            at += 12;
            Some(at - 4)
        } else {
            None
        };
        out.write_all(b"data\0\0\0\0")?;
        Ok(RiffWriter { out, fact_at, data_size_at: at + 4, data_len: 0 })
    }

    /// Appends audio data.
    pub fn write(&mut self, data: &[u8]) -> Result<(), WavError> {
        let len = self.data_len + data.len() as u64;
        if len > MAX_DATA {
            return Err(WavError::TooLong);
        }
        self.out.write_all(data)?;
        self.data_len = len;
        Ok(())
    }

    /// Pads the data, fills in the sizes and the sample count, and flushes.
    pub fn finish(mut self, samples: u32) -> Result<W, WavError> {
        if self.data_len & 1 == 1 {
            self.out.write_all(&[0])?;
        }
        let end = self.data_size_at + 4 + self.data_len + (self.data_len & 1);
        let riff_size = u32::try_from(end - 8).map_err(|_| WavError::TooLong)?;
        let data_size = u32::try_from(self.data_len).map_err(|_| WavError::TooLong)?;
        self.out.seek(SeekFrom::Start(4))?;
        self.out.write_all(&riff_size.to_le_bytes())?;
        if let Some(at) = self.fact_at {
            self.out.seek(SeekFrom::Start(at))?;
            self.out.write_all(&samples.to_le_bytes())?;
        }
        self.out.seek(SeekFrom::Start(self.data_size_at))?;
        self.out.write_all(&data_size.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use drvproc::acm::consts::*;

    use super::*;

    fn ima_mono() -> Format {
        Format {
            tag: WAVE_FORMAT_IMA_ADPCM,
            channels: 1,
            samples_per_sec: 8000,
            avg_bytes_per_sec: 4055,
            block_align: 256,
            bits_per_sample: 4,
            extra: 505u16.to_le_bytes().to_vec(),
        }
    }

    fn written(format: &Format, data: &[u8], samples: u32) -> Vec<u8> {
        let mut w = RiffWriter::new(Cursor::new(Vec::new()), format).unwrap();
        w.write(data).unwrap();
        w.finish(samples).unwrap().into_inner()
    }

    #[test]
    fn writes_the_bytes_windows_expects() {
        let bytes = written(&ima_mono(), &[1, 2, 3], 5);
        let mut expected = b"RIFF".to_vec();
        expected.extend(56u32.to_le_bytes()); // 4 + (8 + 20) + (8 + 4) + (8 + 3 + pad)
        expected.extend(b"WAVEfmt ");
        expected.extend(20u32.to_le_bytes());
        expected.extend([0x11, 0, 1, 0, 0x40, 0x1f, 0, 0, 0xd7, 0x0f, 0, 0, 0, 1, 4, 0, 2, 0, 0xf9, 1]);
        expected.extend(b"fact");
        expected.extend(4u32.to_le_bytes());
        expected.extend(5u32.to_le_bytes());
        expected.extend(b"data");
        expected.extend(3u32.to_le_bytes());
        expected.extend([1, 2, 3, 0]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn reads_what_it_writes() {
        let mulaw = Format {
            tag: WAVE_FORMAT_MULAW,
            channels: 2,
            samples_per_sec: 8000,
            avg_bytes_per_sec: 16000,
            block_align: 2,
            bits_per_sample: 8,
            extra: Vec::new(),
        };
        let bytes = written(&mulaw, &[9; 10], 5);
        let header = read_header(&mut Cursor::new(&bytes), bytes.len() as u64).unwrap();
        assert_eq!(header.to_format().unwrap(), mulaw);
        assert_eq!((header.fact_samples, header.data_offset, header.data_len), (Some(5), 58, 10));
        let ima = written(&ima_mono(), &[0; 256], 505);
        let header = read_header(&mut Cursor::new(&ima), ima.len() as u64).unwrap();
        assert_eq!(header.to_format().unwrap(), ima_mono());
    }

    #[test]
    fn odd_chunks_are_skipped_with_their_pad() {
        let mut bytes = b"RIFF\0\0\0\0WAVELIST".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend([7, 7, 7, 0]);
        bytes.extend(b"fmt ");
        bytes.extend(16u32.to_le_bytes());
        bytes.extend([7, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]);
        bytes.extend(b"data");
        bytes.extend(2u32.to_le_bytes());
        bytes.extend([1, 2]);
        let header = read_header(&mut Cursor::new(&bytes), bytes.len() as u64).unwrap();
        // A 16-byte fmt of a non-PCM tag reads as cbSize 0.
        assert_eq!(header.to_format().unwrap().tag, WAVE_FORMAT_MULAW);
        assert_eq!((header.data_offset, header.data_len), (56, 2));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let check =
            |bytes: &[u8]| read_header(&mut Cursor::new(bytes), bytes.len() as u64).unwrap_err().to_string();
        assert_eq!(check(b"RIFF"), "the file is too short to hold a RIFF header (4 bytes)");
        assert_eq!(check(b"RIFX\0\0\0\0WAVE"), "not a RIFF file (it does not start with \"RIFF\")");
        assert_eq!(check(b"RIFF\0\0\0\0AVI "), "a RIFF file but not WAVE audio (its form type is \"AVI \")");
        assert_eq!(check(b"RIFF\0\0\0\0WAVE"), "no fmt chunk before the data chunk");
        let mut short_fmt = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        short_fmt.extend(14u32.to_le_bytes());
        short_fmt.extend([0; 14]);
        assert_eq!(check(&short_fmt), "the fmt chunk has 14 bytes; a format needs at least 16");
        let mut cut = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        cut.extend(16u32.to_le_bytes());
        cut.extend([1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
        assert_eq!(check(&cut), "no data chunk");
        cut.extend(b"data");
        cut.extend(100u32.to_le_bytes());
        cut.extend([0; 10]);
        assert_eq!(
            check(&cut),
            "the \"data\" chunk at byte 36 claims 100 bytes, but the file ends 10 bytes later"
        );
        let mut huge_fmt = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        huge_fmt.extend(u32::MAX.to_le_bytes());
        assert_eq!(
            check(&huge_fmt),
            "the \"fmt \" chunk at byte 12 claims 4294967295 bytes, but the file ends 0 bytes later"
        );
    }

    #[test]
    fn data_past_four_gib_is_refused() {
        let mut w = RiffWriter::new(Cursor::new(Vec::new()), &ima_mono()).unwrap();
        w.data_len = MAX_DATA;
        assert!(matches!(w.write(&[0]), Err(WavError::TooLong)));
    }
}
