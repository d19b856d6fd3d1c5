//! A video format as a value: a `BITMAPINFOHEADER` and the bytes that follow it (a
//! larger header's extension and the colour table), parsed with every length checked.
//!
//! msvfw32 hands formats as bare `BITMAPINFO` pointers: the header's `biSize` says
//! how long the header is and `biBitCount`/`biClrUsed` how many `RGBQUAD`s follow.
//! [`BitmapFormat::span`] computes that length from the 40 fixed bytes alone (so the
//! kit reads exactly the bytes the format says it has, and refuses absurd counts
//! before reading any), and [`BitmapFormat::from_bytes`] parses them.

use super::consts::{BI_BITFIELDS, BI_RGB};
use super::layout::BitmapInfoHeader;

/// The fixed part of a `BITMAPINFOHEADER`.
pub const BITMAPINFOHEADER_SIZE: usize = 40;
/// The largest header read (`BITMAPV5HEADER`): a larger `biSize` is refused.
pub const MAX_HEADER_SIZE: usize = 124;
/// The most colours a table may hold.
pub const MAX_COLOURS: u32 = 256;

/// Why bytes are not a usable bitmap format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BitmapFormatError {
    #[error("a BITMAPINFOHEADER needs {BITMAPINFOHEADER_SIZE} bytes, {0} given")]
    TooShort(usize),
    #[error("biSize is {0}, not between {BITMAPINFOHEADER_SIZE} and {MAX_HEADER_SIZE}")]
    BadHeaderSize(u32),
    #[error("biClrUsed is {clr_used}, more than a {bit_count}-bit bitmap's table holds")]
    TooManyColours { clr_used: u32, bit_count: u16 },
    #[error("the format needs {needed} bytes (header and colour table), {available} given")]
    TableCut { needed: usize, available: usize },
    #[error("a {width}x{height} bitmap has no pixels")]
    NoPixels { width: i32, height: i32 },
    #[error("a bitmap of {0} bits per pixel")]
    BadBitCount(u16),
    #[error("a {width}x{height} bitmap of {bit_count} bits is too large to address")]
    TooLarge { width: i32, height: i32, bit_count: u16 },
    #[error("a {needed}-byte format does not fit in {available} bytes")]
    DoesNotFit { needed: usize, available: usize },
}

/// A bitmap format: the header and the `biSize - 40` extension bytes and colour
/// table after it (`extra`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitmapFormat {
    pub header: BitmapInfoHeader,
    /// What follows the 40 fixed bytes: the rest of a larger header, then the
    /// colour table (`RGBQUAD`s), or BI_BITFIELDS' masks.
    pub extra: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl BitmapFormat {
    /// An 8-bit paletted (or compressed, by `compression`) format with `palette`
    /// (`RGBQUAD` bytes, 4 per colour).
    pub fn paletted(width: i32, height: i32, compression: u32, palette: &[u8]) -> BitmapFormat {
        let colours = (palette.len() / 4) as u32;
        let mut f = BitmapFormat {
            header: BitmapInfoHeader {
                size: BITMAPINFOHEADER_SIZE as u32,
                width,
                height,
                planes: 1,
                bit_count: 8,
                compression,
                size_image: 0,
                x_pels_per_meter: 0,
                y_pels_per_meter: 0,
                clr_used: colours,
                clr_important: 0,
            },
            extra: palette[..colours as usize * 4].to_vec(),
        };
        f.header.size_image = f.image_size().map_or(0, |n| n as u32);
        f
    }

    /// How many bytes a format whose first 40 bytes are `fixed` occupies: `biSize`
    /// plus its colour table (or BI_BITFIELDS' three masks). Refuses a header size
    /// or colour count no bitmap has, so that no absurd length is ever read.
    pub fn span(fixed: &[u8]) -> Result<usize, BitmapFormatError> {
        if fixed.len() < BITMAPINFOHEADER_SIZE {
            return Err(BitmapFormatError::TooShort(fixed.len()));
        }
        let size = u32_at(fixed, 0);
        if !(BITMAPINFOHEADER_SIZE as u32..=MAX_HEADER_SIZE as u32).contains(&size) {
            return Err(BitmapFormatError::BadHeaderSize(size));
        }
        let bit_count = u16_at(fixed, 14);
        let compression = u32_at(fixed, 16);
        let clr_used = u32_at(fixed, 32);
        let colours = match bit_count {
            1 | 2 | 4 | 8 => {
                let max = 1u32 << bit_count;
                if clr_used > max {
                    return Err(BitmapFormatError::TooManyColours { clr_used, bit_count });
                }
                if clr_used == 0 { max } else { clr_used }
            }
            _ if clr_used > MAX_COLOURS => {
                return Err(BitmapFormatError::TooManyColours { clr_used, bit_count });
            }
            _ => clr_used,
        };
        // The masks follow a 40-byte header; larger headers hold them inside.
        let masks =
            if compression == BI_BITFIELDS && size as usize == BITMAPINFOHEADER_SIZE { 12 } else { 0 };
        Ok(size as usize + masks + colours as usize * 4)
    }

    /// Parses a format from `bytes`: the header, then exactly [`span`](Self::span)
    /// bytes; bytes after those are ignored. The bitmap must have pixels and a bit
    /// count a DIB can have.
    pub fn from_bytes(bytes: &[u8]) -> Result<BitmapFormat, BitmapFormatError> {
        let needed = Self::span(bytes)?;
        if needed > bytes.len() {
            return Err(BitmapFormatError::TableCut { needed, available: bytes.len() });
        }
        let b = bytes;
        let header = BitmapInfoHeader {
            size: u32_at(b, 0),
            width: u32_at(b, 4) as i32,
            height: u32_at(b, 8) as i32,
            planes: u16_at(b, 12),
            bit_count: u16_at(b, 14),
            compression: u32_at(b, 16),
            size_image: u32_at(b, 20),
            x_pels_per_meter: u32_at(b, 24) as i32,
            y_pels_per_meter: u32_at(b, 28) as i32,
            clr_used: u32_at(b, 32),
            clr_important: u32_at(b, 36),
        };
        if header.width <= 0 || header.height == 0 || header.height == i32::MIN {
            return Err(BitmapFormatError::NoPixels { width: header.width, height: header.height });
        }
        if !matches!(header.bit_count, 1 | 2 | 4 | 8 | 16 | 24 | 32) {
            return Err(BitmapFormatError::BadBitCount(header.bit_count));
        }
        let format = BitmapFormat { header, extra: b[BITMAPINFOHEADER_SIZE..needed].to_vec() };
        format.row_bytes()?;
        Ok(format)
    }

    /// Its size in bytes: the header and `extra`.
    pub fn size(&self) -> usize {
        BITMAPINFOHEADER_SIZE + self.extra.len()
    }

    /// The colour table: `extra` after the header's extension and any masks.
    pub fn palette(&self) -> &[u8] {
        let skip = (self.header.size as usize).saturating_sub(BITMAPINFOHEADER_SIZE)
            + if self.header.compression == BI_BITFIELDS && self.header.size as usize == BITMAPINFOHEADER_SIZE
            {
                12
            } else {
                0
            };
        self.extra.get(skip..).unwrap_or(&[])
    }

    /// The width in pixels.
    pub fn width(&self) -> usize {
        self.header.width.max(0) as usize
    }

    /// The number of rows (top-down bitmaps have a negative height).
    pub fn rows(&self) -> usize {
        self.header.height.unsigned_abs() as usize
    }

    /// Bytes per row of an uncompressed DIB: `width * bits` rounded up to 32 bits.
    /// A bitmap whose uncompressed image would not fit in `biSizeImage` (a `u32`)
    /// is refused, the same on 32- and 64-bit hosts.
    pub fn row_bytes(&self) -> Result<usize, BitmapFormatError> {
        let h = &self.header;
        let too_large =
            || BitmapFormatError::TooLarge { width: h.width, height: h.height, bit_count: h.bit_count };
        let bits = self.width().checked_mul(usize::from(h.bit_count)).ok_or_else(too_large)?;
        let row = bits.checked_add(31).ok_or_else(too_large)? / 32 * 4;
        let image = row.checked_mul(self.rows()).ok_or_else(too_large)?;
        if u32::try_from(image).is_err() {
            return Err(too_large());
        }
        Ok(row)
    }

    /// The bytes of an uncompressed image in this format (BI_RGB, BI_BITFIELDS),
    /// computed from its geometry, as a DIB's buffer holds them; `None` for a
    /// compressed format, whose size only `biSizeImage` knows.
    pub fn image_size(&self) -> Option<usize> {
        if !matches!(self.header.compression, BI_RGB | BI_BITFIELDS) {
            return None;
        }
        // `from_bytes` checked the product; a hand-built value may still overflow.
        self.row_bytes().ok()?.checked_mul(self.rows())
    }

    /// The bytes an image in this format occupies in a caller's buffer: the
    /// computed size of an uncompressed image (whatever `biSizeImage` says, which
    /// may be 0 for those), else `biSizeImage`.
    pub fn data_size(&self) -> usize {
        self.image_size().unwrap_or(self.header.size_image as usize)
    }

    /// Writes the format into `out`; nothing is written when it does not fit.
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, BitmapFormatError> {
        let needed = self.size();
        if needed > out.len() {
            return Err(BitmapFormatError::DoesNotFit { needed, available: out.len() });
        }
        let h = &self.header;
        let fields: [[u8; 4]; 10] = [
            h.size.to_le_bytes(),
            h.width.to_le_bytes(),
            h.height.to_le_bytes(),
            [
                h.planes.to_le_bytes()[0],
                h.planes.to_le_bytes()[1],
                h.bit_count.to_le_bytes()[0],
                h.bit_count.to_le_bytes()[1],
            ],
            h.compression.to_le_bytes(),
            h.size_image.to_le_bytes(),
            h.x_pels_per_meter.to_le_bytes(),
            h.y_pels_per_meter.to_le_bytes(),
            h.clr_used.to_le_bytes(),
            h.clr_important.to_le_bytes(),
        ];
        for (i, f) in fields.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(f);
        }
        out[BITMAPINFOHEADER_SIZE..needed].copy_from_slice(&self.extra);
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfw::consts::BI_RLE8;

    fn grey_palette() -> Vec<u8> {
        (0..=255u8).flat_map(|i| [i, i, i, 0]).collect()
    }

    #[test]
    fn parses_and_writes_back_byte_for_byte() {
        let f = BitmapFormat::paletted(5, 3, BI_RGB, &grey_palette());
        assert_eq!(
            (f.size(), f.header.size_image, f.row_bytes(), f.image_size()),
            (1064, 24, Ok(8), Some(24))
        );
        let mut bytes = vec![0xAAu8; 1070];
        assert_eq!(f.write_to(&mut bytes), Ok(1064));
        assert_eq!(&bytes[1064..], &[0xAA; 6], "nothing past the format");
        assert_eq!(BitmapFormat::span(&bytes), Ok(1064));
        assert_eq!(BitmapFormat::from_bytes(&bytes), Ok(f.clone()));
        assert_eq!(f.palette(), &grey_palette()[..]);
        let mut small = vec![0x55u8; 1063];
        assert_eq!(
            f.write_to(&mut small),
            Err(BitmapFormatError::DoesNotFit { needed: 1064, available: 1063 })
        );
        assert!(small.iter().all(|&b| b == 0x55));
    }

    #[test]
    fn compressed_sizes_come_from_bi_size_image() {
        let mut f = BitmapFormat::paletted(64, -48, BI_RLE8, &grey_palette()[..16]);
        assert_eq!((f.image_size(), f.data_size(), f.rows(), f.palette().len()), (None, 0, 48, 16));
        f.header.size_image = 777;
        assert_eq!(f.data_size(), 777);
        f.header.compression = BI_RGB;
        f.header.size_image = 1; // wrong, and ignored for an uncompressed image
        assert_eq!(f.data_size(), 64 * 48);
    }

    #[test]
    fn malformed_formats_are_refused_with_the_reason() {
        let f = BitmapFormat::paletted(4, 4, BI_RGB, &grey_palette());
        let mut good = vec![0u8; f.size()];
        f.write_to(&mut good).unwrap();
        assert_eq!(BitmapFormat::from_bytes(&good[..39]), Err(BitmapFormatError::TooShort(39)));
        assert_eq!(
            BitmapFormat::from_bytes(&good[..1063]),
            Err(BitmapFormatError::TableCut { needed: 1064, available: 1063 })
        );
        let with = |at: usize, v: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            BitmapFormat::from_bytes(&b)
        };
        assert_eq!(with(0, 39), Err(BitmapFormatError::BadHeaderSize(39)));
        assert_eq!(with(0, 0x8000_0000), Err(BitmapFormatError::BadHeaderSize(0x8000_0000)));
        assert_eq!(with(32, 257), Err(BitmapFormatError::TooManyColours { clr_used: 257, bit_count: 8 }));
        assert_eq!(with(4, 0), Err(BitmapFormatError::NoPixels { width: 0, height: 4 }));
        assert_eq!(with(4, -3i32 as u32), Err(BitmapFormatError::NoPixels { width: -3, height: 4 }));
        assert_eq!(with(8, 0), Err(BitmapFormatError::NoPixels { width: 4, height: 0 }));
        assert_eq!(with(12, 3 << 16 | 1), Err(BitmapFormatError::BadBitCount(3)));
        // 16 colours: a shorter table is complete.
        assert_eq!(with(32, 16).map(|f| f.extra.len()), Ok(64));
        assert_eq!(
            BitmapFormatError::TableCut { needed: 1064, available: 1063 }.to_string(),
            "the format needs 1064 bytes (header and colour table), 1063 given"
        );
    }

    #[test]
    fn sizes_that_overflow_are_refused() {
        let mut f = BitmapFormat::paletted(i32::MAX, i32::MAX, BI_RGB, &[]);
        f.header.bit_count = 32;
        let mut b = vec![0u8; f.size()];
        f.write_to(&mut b).unwrap();
        assert_eq!(
            BitmapFormat::from_bytes(&b),
            Err(BitmapFormatError::TooLarge { width: i32::MAX, height: i32::MAX, bit_count: 32 })
        );
        // 4 GiB - 4 bytes is still a DIB; 4 GiB is not.
        let mut f = BitmapFormat::paletted(0x4000_0000 - 1, 4, BI_RGB, &[]);
        f.header.bit_count = 8;
        assert!(matches!(f.row_bytes(), Err(BitmapFormatError::TooLarge { height: 4, .. })));
        f.header.height = 3;
        assert_eq!(f.row_bytes(), Ok(0x4000_0000));
        assert_eq!(f.image_size(), Some(0xC000_0000));
        assert_eq!(BitmapFormat::span(&b), Ok(40), "24/32-bit formats have no table by default");
    }

    /// Any bytes: an error or a format that writes back to the bytes it came from.
    #[test]
    fn arbitrary_bytes_never_panic_and_round_trip() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 200) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 40 {
                // Plausible headers, so that parsing gets past the first checks.
                b[0..4].copy_from_slice(&(40 + (next() % 8) as u32 * 4).to_le_bytes());
                b[4..8].copy_from_slice(&((next() % 9) as u32).to_le_bytes());
                b[8..12].copy_from_slice(&((next() % 9) as i32 - 4).to_le_bytes());
                b[14..16].copy_from_slice(&[1u16, 4, 8, 24, 5][(next() % 5) as usize].to_le_bytes());
                b[32..36].copy_from_slice(&((next() % 40) as u32).to_le_bytes());
            }
            if let Ok(f) = BitmapFormat::from_bytes(&b) {
                let mut out = vec![0u8; f.size()];
                assert_eq!(f.write_to(&mut out), Ok(f.size()));
                assert_eq!(&out[..], &b[..f.size()]);
            }
        }
    }
}
