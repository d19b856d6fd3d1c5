//! The class kits' format parsers on arbitrary bytes, as a hostile or broken caller
//! would hand them: they never panic, never read past what they were given, and a
//! format they accept writes back to the bytes it was read from.
//! `PROPTEST_CASES=N` runs more cases (CI runs many).

use drvproc::acm::Format;
use drvproc::vfw::BitmapFormat;
use proptest::prelude::*;

/// Bytes that are often near a valid header: a real one with a few fields changed,
/// cut or extended, mixed with plain noise.
fn wave_bytes() -> impl Strategy<Value = Vec<u8>> {
    let header = (any::<u16>(), 0u16..4, any::<u32>(), any::<u16>(), any::<u16>(), 0u16..40, 0usize..64)
        .prop_map(|(tag, channels, rate, align, bits, cb, extra)| {
            let tag = if tag % 3 == 0 { 1 } else { tag };
            let mut b = Vec::new();
            b.extend(tag.to_le_bytes());
            b.extend(channels.to_le_bytes());
            b.extend(rate.to_le_bytes());
            b.extend(rate.wrapping_mul(u32::from(align)).to_le_bytes());
            b.extend(align.to_le_bytes());
            b.extend(bits.to_le_bytes());
            b.extend(cb.to_le_bytes());
            b.extend((0..extra).map(|i| i as u8));
            b
        });
    let cut = (header, any::<prop::sample::Index>()).prop_map(|(b, i)| b[..i.index(b.len() + 1)].to_vec());
    prop_oneof![cut, prop::collection::vec(any::<u8>(), 0..48)]
}

/// The same for `BITMAPINFOHEADER`s and their colour tables.
fn bitmap_bytes() -> impl Strategy<Value = Vec<u8>> {
    let header = (
        prop_oneof![Just(40u32), Just(108), Just(124), any::<u32>()],
        -70i32..70,
        -70i32..70,
        prop_oneof![Just(1u16), Just(4), Just(8), Just(16), Just(24), Just(32), any::<u16>()],
        prop_oneof![Just(0u32), Just(1), Just(3), any::<u32>()],
        prop_oneof![Just(0u32), 0u32..300, any::<u32>()],
        0usize..1200,
    )
        .prop_map(|(size, w, h, bits, compression, clr_used, tail)| {
            let mut b = Vec::new();
            b.extend(size.to_le_bytes());
            b.extend(w.to_le_bytes());
            b.extend(h.to_le_bytes());
            b.extend(1u16.to_le_bytes());
            b.extend(bits.to_le_bytes());
            b.extend(compression.to_le_bytes());
            b.extend([0u8; 12]);
            b.extend(clr_used.to_le_bytes());
            b.extend(0u32.to_le_bytes());
            b.extend((0..tail).map(|i| (i * 7) as u8));
            b
        });
    prop_oneof![header, prop::collection::vec(any::<u8>(), 0..80)]
}

proptest! {
    #[test]
    fn wave_formats_parse_or_say_why(bytes in wave_bytes()) {
        if let Ok(format) = Format::from_bytes(&bytes) {
            prop_assert!(format.channels > 0 && format.samples_per_sec > 0 && format.block_align > 0);
            // What it read lies in what it was given (a 16-byte PCMWAVEFORMAT is
            // read as the 18-byte WAVEFORMATEX it stands for).
            prop_assert!(format.size() <= bytes.len().max(18));
            let mut out = vec![0u8; format.size()];
            prop_assert_eq!(format.write_to(&mut out).ok(), Some(format.size()));
            prop_assert_eq!(Format::from_bytes(&out), Ok(format));
        }
    }

    #[test]
    fn bitmap_formats_parse_or_say_why(bytes in bitmap_bytes()) {
        if let Ok(format) = BitmapFormat::from_bytes(&bytes) {
            prop_assert!(format.size() <= bytes.len());
            let mut out = vec![0u8; format.size()];
            prop_assert_eq!(format.write_to(&mut out).ok(), Some(format.size()));
            prop_assert_eq!(&bytes[..format.size()], &out[..]);
            prop_assert!(format.row_bytes().is_ok());
            if let Some(image) = format.image_size() {
                prop_assert!(u32::try_from(image).is_ok());
            }
        }
    }
}
