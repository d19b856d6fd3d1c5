//! The codec's answers on their own, without a driver in between: formats and
//! their derived fields, which formats are refused, sizes and block-whole
//! conversion, and decoding that stops at a corrupt block.

use super::*;

fn stream(src: &Format, dst: &Format) -> ImaStream {
    ImaAdpcm.open(src, dst).expect("a pair the codec converts")
}

fn ima(channels: u16, rate: u32) -> Format {
    ima_format(channels, rate).expect("a standard format")
}

#[test]
fn block_aligns_follow_the_rule_and_the_contract_sizes() {
    let summary: Vec<_> = [(1, 8000), (1, 11025), (1, 22050), (1, 44100), (2, 8000), (2, 22050), (2, 44100)]
        .into_iter()
        .map(|(ch, rate)| {
            let f = ima(ch, rate);
            (f.block_align, u16::from_le_bytes([f.extra[0], f.extra[1]]), f.avg_bytes_per_sec)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (256, 505, 4055),
            (256, 505, 5588),
            (512, 1017, 11100),
            (1024, 2041, 22125),
            (512, 505, 8110),
            (1024, 1017, 22201),
            (2048, 2041, 44251),
        ]
    );
    assert_eq!(block_align_for(1, 48000), Some(1024));
    assert_eq!(block_align_for(1, 16000), Some(256));
    assert_eq!(block_align_for(2, 32000), Some(1024));
    assert_eq!(block_align_for(200, 44100), None, "does not fit in a u16");
    assert_eq!(ima_format(3, 8000), None);
}

#[test]
fn standard_formats_are_supported_and_listed_in_order() {
    let codec = ImaAdpcm;
    for (tag, count) in [(WAVE_FORMAT_PCM, 16), (WAVE_FORMAT_IMA_ADPCM, 8)] {
        let formats = codec.formats(tag);
        assert_eq!(formats.len(), count);
        assert!(formats.iter().all(|f| codec.supports(f)), "{formats:?}");
    }
    assert_eq!(codec.formats(WAVE_FORMAT_IMA_ADPCM)[5], ima(2, 22050));
    let pcm = codec.formats(WAVE_FORMAT_PCM);
    assert_eq!(
        pcm[..4],
        [
            Format::pcm(1, 8000, 8),
            Format::pcm(2, 8000, 8),
            Format::pcm(1, 8000, 16),
            Format::pcm(2, 8000, 16)
        ]
    );
    assert_eq!(pcm[15], Format::pcm(2, 44100, 16));
    assert!(codec.formats(WAVE_FORMAT_ALAW).is_empty());
}

#[test]
fn inconsistent_ima_formats_are_refused() {
    let codec = ImaAdpcm;
    let good = ima(1, 8000);
    // A layout other than the proposed one is fine when its fields agree.
    assert!(codec.supports(&ima_format_with(2, 22050, 2048).unwrap()));
    let mut no_extra = good.clone();
    no_extra.extra.clear();
    let mut short_extra = good.clone();
    short_extra.extra.truncate(1);
    let mut wrong_spb = good.clone();
    wrong_spb.extra = 504u16.to_le_bytes().to_vec();
    let mut odd_align = good.clone();
    odd_align.block_align = 258;
    odd_align.extra = 509u16.to_le_bytes().to_vec();
    let mut stereo_align = ima(2, 8000);
    stereo_align.block_align = 260; // a multiple of 4, not of 8
    stereo_align.extra = 257u16.to_le_bytes().to_vec();
    let mut three_bits = good.clone();
    three_bits.bits_per_sample = 3;
    let mut three_channels = good.clone();
    three_channels.channels = 3;
    let mut slow = good.clone();
    slow.samples_per_sec = 4000;
    let mut headers_only = good.clone();
    headers_only.block_align = 4;
    headers_only.extra = 1u16.to_le_bytes().to_vec();
    for (name, f) in [
        ("cbSize 0", no_extra),
        ("cbSize 1", short_extra),
        ("wSamplesPerBlock 504", wrong_spb),
        ("nBlockAlign 258", odd_align),
        ("stereo nBlockAlign 260", stereo_align),
        ("3 bits", three_bits),
        ("3 channels", three_channels),
        ("4000 Hz", slow),
        ("headers only", headers_only),
    ] {
        assert!(!codec.supports(&f), "{name}: {f:?}");
        assert_eq!(
            codec.open(&Format::pcm(f.channels, f.samples_per_sec, 16), &f).map(|_| ()),
            None,
            "{name}"
        );
        assert_eq!(
            codec.open(&f, &Format::pcm(f.channels, f.samples_per_sec, 16)).map(|_| ()),
            None,
            "{name}"
        );
    }
    // Extra bytes past wSamplesPerBlock are ignored.
    let mut longer = good;
    longer.extra.extend_from_slice(&[0, 0]);
    assert!(codec.supports(&longer));
}

#[test]
fn sizes_round_by_whole_blocks() {
    let enc = stream(&Format::pcm(1, 8000, 16), &ima(1, 8000));
    // One PCM block is 1010 bytes, one IMA block 256.
    assert_eq!(enc.size(SizeQuery::Source(1009)), None);
    assert_eq!(enc.size(SizeQuery::Source(1010)), Some(256));
    assert_eq!(enc.size(SizeQuery::Source(1011)), Some(512), "a partial block rounds up");
    assert_eq!(enc.size(SizeQuery::Destination(255)), None);
    assert_eq!(enc.size(SizeQuery::Destination(511)), Some(1010), "rounds down");
    let dec = stream(&ima(2, 22050), &Format::pcm(2, 22050, 16));
    // One IMA block is 1024 bytes, one PCM block 1017 * 4 = 4068.
    assert_eq!(dec.size(SizeQuery::Source(1023)), None);
    assert_eq!(dec.size(SizeQuery::Source(1025)), Some(8136));
    assert_eq!(dec.size(SizeQuery::Destination(8135)), Some(1024));
    assert_eq!(dec.size(SizeQuery::Destination(4067)), None);
    assert_eq!(dec.size(SizeQuery::Source(u32::MAX)), None, "past u32");
}

#[test]
fn conversions_take_whole_blocks_only() {
    let mut enc = stream(&Format::pcm(1, 8000, 16), &ima(1, 8000));
    let pcm = vec![0u8; 3 * 1010 + 7];
    let mut out = vec![0xEEu8; 3 * 256 - 1];
    let end = ConvertFlags { end: true, ..ConvertFlags::default() };
    assert_eq!(enc.convert(&pcm, &mut out, ConvertFlags::default()), (2 * 1010, 2 * 256));
    assert_eq!(out[512..], [0xEE; 255], "nothing past the blocks converted");
    assert_eq!(enc.convert(&pcm[..1009], &mut out, end), (0, 0), "END with less than a block");
    let mut dec = stream(&ima(1, 8000), &Format::pcm(1, 8000, 16));
    let mut back = vec![0u8; 1010];
    assert_eq!(dec.convert(&out[..512], &mut back, end), (256, 1010));
    assert_eq!(dec.convert(&out[..255], &mut back, end), (0, 0));
}

#[test]
fn start_resets_the_step_index() {
    let mut enc = stream(&Format::pcm(1, 8000, 16), &ima(1, 8000));
    let pcm: Vec<u8> =
        (0..505).flat_map(|i: i32| (((i * 7919) % 20000 - 10000) as i16).to_le_bytes()).collect();
    let start = ConvertFlags { start: true, ..ConvertFlags::default() };
    let (mut first, mut second, mut third) = ([0u8; 256], [0u8; 256], [0u8; 256]);
    enc.convert(&pcm, &mut first, start);
    enc.convert(&pcm, &mut second, ConvertFlags::default());
    enc.convert(&pcm, &mut third, start);
    assert_eq!(first[2], 0, "a fresh encoder starts at step index 0");
    assert_ne!(second[2], 0, "the index carries over without START");
    assert_eq!(first, third);
}

#[test]
fn suggestions_keep_rate_and_channels() {
    let codec = ImaAdpcm;
    let any = Suggestion::default();
    assert_eq!(codec.suggest(&Format::pcm(2, 44100, 16), &any), Some(ima(2, 44100)));
    assert_eq!(codec.suggest(&Format::pcm(1, 16000, 16), &any), ima_format_with(1, 16000, 256));
    assert_eq!(codec.suggest(&ima(1, 11025), &any), Some(Format::pcm(1, 11025, 16)));
    let to_pcm = Suggestion { tag: Some(WAVE_FORMAT_PCM), ..Suggestion::default() };
    assert_eq!(codec.suggest(&Format::pcm(1, 8000, 16), &to_pcm), None);
    let mono = Suggestion { channels: Some(1), ..Suggestion::default() };
    assert_eq!(codec.suggest(&Format::pcm(2, 8000, 16), &mono), None);
    assert_eq!(codec.suggest(&Format::pcm(1, 8000, 8), &any), Some(ima(1, 8000)));
    let to_8 = Suggestion { bits_per_sample: Some(8), ..Suggestion::default() };
    assert_eq!(codec.suggest(&ima(2, 8000), &to_8), Some(Format::pcm(2, 8000, 8)));
    let to_24 = Suggestion { bits_per_sample: Some(24), ..Suggestion::default() };
    assert_eq!(codec.suggest(&ima(2, 8000), &to_24), None);
    assert_eq!(codec.suggest(&Format::pcm(1, 8000, 24), &any), None);
}
