//! drvimaadpcm as msacm32 drives it: loaded by the manager from the built library,
//! asked for its details, formats and suggestions, and converting through streams
//! in whole blocks, with sizes, START and the pairs it refuses.

use std::f64::consts::TAU;
use std::path::PathBuf;

use drvimaadpcm::acm::{ima_format, ima_format_with};
use drvproc::acm::consts::*;
use drvproc::acm::{ConvertFlags, Format, SizeQuery, Suggestion};
use drvproc_host::{AcmCodec, AcmError, AcmStream, DriverManager, ManagerOptions};

/// The library cargo built for this package, beside this test binary.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}drvimaadpcm{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn open() -> (DriverManager, AcmCodec) {
    let manager =
        DriverManager::new(ManagerOptions::new().config_path("/nonexistent/drvproc-test/system.ini"));
    let codec = AcmCodec::open(&manager, built_library().to_str().unwrap()).expect("open drvimaadpcm");
    (manager, codec)
}

fn ima(channels: u16, rate: u32) -> Format {
    ima_format(channels, rate).expect("a standard format")
}

fn not_possible(err: &AcmError) -> bool {
    matches!(err, AcmError::Driver { code: ACMERR_NOTPOSSIBLE, .. })
}

const START: ConvertFlags = ConvertFlags { start: true, end: false, block_align: false };
const END: ConvertFlags = ConvertFlags { start: false, end: true, block_align: false };

#[test]
fn details_tags_and_formats() {
    let (_m, codec) = open();
    let info = codec.details().unwrap();
    assert_eq!(
        (info.fcc_type, info.support, info.short_name.as_str(), info.format_tags),
        (ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC, ACMDRIVERDETAILS_SUPPORTF_CODEC, "IMA ADPCM", 2)
    );
    let tags = codec.format_tags().unwrap();
    let summary: Vec<_> = tags.iter().map(|t| (t.tag, t.format_size, t.standard_formats)).collect();
    assert_eq!(summary, [(WAVE_FORMAT_PCM, 16, 16), (WAVE_FORMAT_IMA_ADPCM, 20, 8)]);
    let formats = codec.formats(&tags[1]).unwrap();
    let fields: Vec<_> = formats
        .iter()
        .map(|f| {
            (
                f.channels,
                f.samples_per_sec,
                f.block_align,
                f.avg_bytes_per_sec,
                f.bits_per_sample,
                f.extra.clone(),
            )
        })
        .collect();
    let spb = |n: u16| n.to_le_bytes().to_vec();
    assert_eq!(
        fields,
        [
            (1, 8000, 256, 4055, 4, spb(505)),
            (2, 8000, 512, 8110, 4, spb(505)),
            (1, 11025, 256, 5588, 4, spb(505)),
            (2, 11025, 512, 11177, 4, spb(505)),
            (1, 22050, 512, 11100, 4, spb(1017)),
            (2, 22050, 1024, 22201, 4, spb(1017)),
            (1, 44100, 1024, 22125, 4, spb(2041)),
            (2, 44100, 2048, 44251, 4, spb(2041)),
        ]
    );
    let pcm = codec.formats(&tags[0]).unwrap();
    assert_eq!((pcm[0].clone(), pcm[15].clone()), (Format::pcm(1, 8000, 8), Format::pcm(2, 44100, 16)));
}

#[test]
fn suggestions_keep_rate_and_channels() {
    let (_m, codec) = open();
    let any = Suggestion::default();
    assert_eq!(codec.suggest(&Format::pcm(2, 22050, 16), &any).unwrap(), ima(2, 22050));
    let to_ima = Suggestion { tag: Some(WAVE_FORMAT_IMA_ADPCM), ..Suggestion::default() };
    assert_eq!(codec.suggest(&Format::pcm(1, 8000, 16), &to_ima).unwrap(), ima(1, 8000));
    assert_eq!(codec.suggest(&ima(1, 44100), &any).unwrap(), Format::pcm(1, 44100, 16));
    let to_pcm =
        Suggestion { tag: Some(WAVE_FORMAT_PCM), bits_per_sample: Some(16), ..Suggestion::default() };
    assert_eq!(codec.suggest(&ima(2, 11025), &to_pcm).unwrap(), Format::pcm(2, 11025, 16));
    for (src, wanted) in [
        (Format::pcm(1, 22050, 16), Suggestion { samples_per_sec: Some(8000), ..Suggestion::default() }),
        (Format::pcm(2, 8000, 16), Suggestion { channels: Some(1), ..Suggestion::default() }),
        (ima(1, 8000), Suggestion { bits_per_sample: Some(12), ..Suggestion::default() }),
        (Format::pcm(1, 8000, 16), to_pcm.clone()),
        (Format::pcm(1, 8000, 24), any.clone()),
    ] {
        let err = codec.suggest(&src, &wanted).unwrap_err();
        assert!(not_possible(&err), "{src:?} {wanted:?}: {err}");
    }
}

/// A voice-like signal: a gliding fundamental and its harmonics, shaped by three
/// formants, in syllables with pauses, plus a little deterministic noise.
fn speech_like(rate: f64, seconds: f64) -> Vec<i16> {
    let n = (rate * seconds) as usize;
    let mut noise = 0x2545_f491_4f6c_dd1d_u64;
    let mut phase = 0.0f64;
    let raw: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let f0 = 140.0 + 30.0 * (TAU * 0.7 * t).sin();
            phase = (phase + TAU * f0 / rate) % TAU;
            let voiced: f64 = (1..=10)
                .map(f64::from)
                .filter(|k| k * f0 < rate / 2.0)
                .map(|k| {
                    let f = k * f0;
                    let formants: f64 = [(700.0, 130.0), (1200.0, 200.0), (2500.0, 300.0)]
                        .iter()
                        .map(|&(c, w): &(f64, f64)| (-((f - c) / w).powi(2)).exp())
                        .sum();
                    (0.25 / k + formants) * (k * phase + 0.9 * k).sin()
                })
                .sum();
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let hiss = (noise >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let syllable = (TAU * 1.5 * t).sin().max(0.0).sqrt();
            syllable * voiced + 0.02 * hiss
        })
        .collect();
    let peak = raw.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    raw.iter().map(|x| (x / peak * 16000.0).round() as i16).collect()
}

fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn samples(bytes: &[u8]) -> Vec<i16> {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// Converts `input` (whole `block`-byte blocks and a part) in one call, with
/// START and END and the room `acmStreamSize` asks for.
fn whole(stream: &mut AcmStream<'_>, input: &[u8], block: usize) -> Vec<u8> {
    let room = stream.size(SizeQuery::Source(input.len() as u32)).unwrap() as usize;
    let mut out = vec![0u8; room];
    let flags = ConvertFlags { start: true, end: true, block_align: false };
    let (used, written) = stream.convert(input, &mut out, flags).unwrap();
    assert_eq!(used, input.len() / block * block, "every whole block, not the part");
    out.truncate(written);
    out
}

/// Converts `input` as a client streaming a file does: `chunk` new bytes at a
/// time appended to what the codec left over, then the rest with END.
fn chunked(stream: &mut AcmStream<'_>, input: &[u8], chunk: usize, block: usize) -> Vec<u8> {
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut flags = START;
    for piece in input.chunks(chunk) {
        pending.extend_from_slice(piece);
        let (used, written) = stream.convert(&pending, &mut buf, flags).unwrap();
        out.extend_from_slice(&buf[..written]);
        pending.drain(..used);
        flags = ConvertFlags::default();
    }
    let (used, written) = stream.convert(&pending, &mut buf, END).unwrap();
    out.extend_from_slice(&buf[..written]);
    pending.drain(..used);
    assert_eq!(pending.len(), input.len() % block, "only the part of a block is left");
    out
}

fn snr_db(original: &[i16], decoded: &[i16]) -> f64 {
    let signal: f64 = original.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = original.iter().zip(decoded).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    10.0 * (signal / noise).log10()
}

#[test]
fn chunked_round_trip_matches_one_call_and_keeps_speech() {
    let (_m, codec) = open();
    for (channels, rate, min_snr) in [(1u16, 8000u32, 18.9), (2, 22050, 18.9)] {
        let signal = speech_like(f64::from(rate), 3.0 / f64::from(channels));
        let signal: Vec<i16> = if channels == 1 {
            signal
        } else {
            // The right channel is the left one backwards and quieter.
            signal.iter().zip(signal.iter().rev()).flat_map(|(&l, &r)| [l, r / 2]).collect()
        };
        let pcm = le_bytes(&signal);
        let (pcm_format, ima_format) = (Format::pcm(channels, rate, 16), ima(channels, rate));
        let align = usize::from(ima_format.block_align);
        let spb = usize::from(u16::from_le_bytes([ima_format.extra[0], ima_format.extra[1]]));
        let pcm_block = 2 * spb * usize::from(channels);
        assert_ne!(pcm.len() % pcm_block, 0, "the input ends with part of a block");
        let mut enc = codec.stream(&pcm_format, &ima_format).unwrap();
        let encoded = whole(&mut enc, &pcm, pcm_block);
        assert_eq!(encoded.len(), pcm.len() / pcm_block * align);
        let pieces = chunked(&mut enc, &pcm, 1000, pcm_block);
        assert!(pieces == encoded, "{channels} ch {rate} Hz: encoded in 1000-byte pieces differs");
        let mut dec = codec.stream(&ima_format, &pcm_format).unwrap();
        let decoded = whole(&mut dec, &encoded, align);
        let pieces = chunked(&mut dec, &encoded, 1000, align);
        assert!(pieces == decoded, "{channels} ch {rate} Hz: decoded in 1000-byte pieces differs");
        let decoded = samples(&decoded);
        assert_eq!(decoded.len(), encoded.len() / align * spb * usize::from(channels));
        let snr = snr_db(&signal[..decoded.len()], &decoded);
        println!("{channels} ch {rate} Hz, {} samples: SNR {snr:.2} dB", decoded.len());
        assert!(snr >= min_snr, "{channels} ch {rate} Hz: SNR {snr:.2} dB");
    }
}

#[test]
fn start_resets_the_encoder() {
    let (_m, codec) = open();
    let pcm = le_bytes(&speech_like(8000.0, 0.5));
    let mut enc = codec.stream(&Format::pcm(1, 8000, 16), &ima(1, 8000)).unwrap();
    let mut first = vec![0u8; 2048];
    let mut again = vec![0u8; 2048];
    let mut carried = vec![0u8; 2048];
    let (used, written) = enc.convert(&pcm, &mut first, START).unwrap();
    assert_eq!((used, written), (7 * 1010, 7 * 256));
    assert_eq!(enc.convert(&pcm, &mut carried, ConvertFlags::default()).unwrap(), (used, written));
    assert_eq!(enc.convert(&pcm, &mut again, START).unwrap(), (used, written));
    assert_eq!(first, again, "START gives the same blocks again");
    assert_eq!(first[2], 0, "the first block starts at step index 0");
    assert_ne!(carried[2], 0, "without START the step index carries over");
}

#[test]
fn whole_blocks_only_and_an_end_with_less_converts_nothing() {
    let (_m, codec) = open();
    let mut enc = codec.stream(&Format::pcm(2, 8000, 16), &ima(2, 8000)).unwrap();
    // A stereo 8000 Hz PCM block is 505 * 4 = 2020 bytes, an IMA block 512.
    let pcm = vec![0u8; 2 * 2020 + 100];
    let mut out = vec![0xEEu8; 3 * 512];
    assert_eq!(enc.convert(&pcm, &mut out[..1023], START).unwrap(), (2020, 512));
    assert_eq!(out[512..], [0xEE; 1024], "nothing past one block");
    assert_eq!(
        enc.convert(&pcm, &mut out, ConvertFlags { block_align: true, ..START }).unwrap(),
        (4040, 1024)
    );
    assert_eq!(enc.convert(&pcm[..2019], &mut out, END).unwrap(), (0, 0));
    let mut dec = codec.stream(&ima(2, 8000), &Format::pcm(2, 8000, 16)).unwrap();
    let mut back = vec![0u8; 2 * 2020];
    assert_eq!(dec.convert(&out[..1000], &mut back, END).unwrap(), (512, 2020));
    assert_eq!(dec.convert(&out[..511], &mut back, END).unwrap(), (0, 0));
    assert_eq!(dec.convert(&out[..1024], &mut back[..4039], END).unwrap(), (512, 2020));
}

#[test]
fn sizes_round_source_up_and_destination_down() {
    let (_m, codec) = open();
    let mut enc = codec.stream(&Format::pcm(1, 8000, 16), &ima(1, 8000)).unwrap();
    // 505 samples: 1010 PCM bytes per 256-byte block.
    assert_eq!(enc.size(SizeQuery::Source(1010)).unwrap(), 256);
    assert_eq!(enc.size(SizeQuery::Source(2021)).unwrap(), 768, "2 blocks and a bit round up to 3");
    assert_eq!(enc.size(SizeQuery::Destination(767)).unwrap(), 2020, "2 blocks and a bit round down");
    assert_eq!(enc.size(SizeQuery::Destination(256)).unwrap(), 1010);
    let mut dec = codec.stream(&ima(1, 22050), &Format::pcm(1, 22050, 16)).unwrap();
    // 1017 samples: 512 IMA bytes per 2034-byte PCM block.
    assert_eq!(dec.size(SizeQuery::Source(513)).unwrap(), 4068);
    assert_eq!(dec.size(SizeQuery::Destination(4067)).unwrap(), 512);
    for (encode, query) in [
        (true, SizeQuery::Source(1009)),
        (true, SizeQuery::Destination(255)),
        (false, SizeQuery::Source(511)),
        (false, SizeQuery::Destination(2033)),
        (false, SizeQuery::Source(0)),
    ] {
        let stream = if encode { &mut enc } else { &mut dec };
        let err = stream.size(query).unwrap_err();
        assert!(not_possible(&err), "{query:?}: {err}");
        assert_eq!(err.to_string(), "ACMDM_STREAM_SIZE failed: ACMERR_NOTPOSSIBLE (512)");
    }
}

#[test]
fn pairs_it_does_not_convert_are_refused() {
    let (_m, codec) = open();
    let good = ima(1, 8000);
    let with = |f: &dyn Fn(&mut Format)| {
        let mut bad = good.clone();
        f(&mut bad);
        bad
    };
    let pcm = Format::pcm(1, 8000, 16);
    for (name, src, dst) in [
        ("different rate", Format::pcm(1, 11025, 16), good.clone()),
        ("different channels", Format::pcm(2, 8000, 16), good.clone()),
        ("24-bit PCM", Format::pcm(1, 8000, 24), good.clone()),
        (
            "8-bit PCM with nBlockAlign 2",
            with(&|f| *f = Format { block_align: 2, ..Format::pcm(1, 8000, 8) }),
            good.clone(),
        ),
        ("PCM to PCM", pcm.clone(), pcm.clone()),
        ("IMA to IMA", good.clone(), good.clone()),
        ("cbSize 0", pcm.clone(), with(&|f| f.extra.clear())),
        ("cbSize 1", pcm.clone(), with(&|f| f.extra.truncate(1))),
        ("wrong wSamplesPerBlock", pcm.clone(), with(&|f| f.extra = 506u16.to_le_bytes().to_vec())),
        ("nBlockAlign 254", pcm.clone(), with(&|f| f.block_align = 254)),
        ("3 bits", pcm.clone(), with(&|f| f.bits_per_sample = 3)),
        ("decode, wrong wSamplesPerBlock", with(&|f| f.extra = 1u16.to_le_bytes().to_vec()), pcm.clone()),
        ("decode, different rate", good.clone(), Format::pcm(1, 22050, 16)),
    ] {
        let err = codec.stream(&src, &dst).err().expect(name);
        assert!(not_possible(&err), "{name}: {err}");
    }
    // A block size of its own is fine when the format's fields agree.
    let big = ima_format_with(2, 22050, 2048).unwrap();
    assert!(codec.stream(&Format::pcm(2, 22050, 16), &big).is_ok());
    assert!(codec.stream(&big, &Format::pcm(2, 22050, 16)).is_ok());
}

/// The PCM formats are the list Windows' and Wine's IMA ADPCM codecs give, in
/// their order: at each standard rate 8-bit mono, 8-bit stereo, 16-bit mono,
/// 16-bit stereo.
#[test]
fn pcm_formats_are_8_and_16_bit_in_the_reference_order() {
    let (_m, codec) = open();
    let tags = codec.format_tags().unwrap();
    assert_eq!((tags[0].tag, tags[0].standard_formats), (WAVE_FORMAT_PCM, 16));
    let listed: Vec<_> = codec
        .formats(&tags[0])
        .unwrap()
        .iter()
        .map(|f| (f.samples_per_sec, f.bits_per_sample, f.channels))
        .collect();
    let expected: Vec<_> = [8000, 11025, 22050, 44100]
        .into_iter()
        .flat_map(|rate| [(rate, 8, 1), (rate, 8, 2), (rate, 16, 1), (rate, 16, 2)])
        .collect();
    assert_eq!(listed, expected);
}

/// 8-bit PCM (unsigned, 128 = silence) converts as its 16-bit equivalent: the
/// encoder sees `(byte - 128) << 8`, and the decoder's 8-bit output is the high
/// byte of its 16-bit output, offset by 128. Blocks, sizes and suggestions count
/// one byte per sample.
#[test]
fn eight_bit_pcm_converts_as_its_16_bit_equivalent() {
    let (_m, codec) = open();
    for channels in [1u16, 2] {
        let ima_format = ima(channels, 8000);
        let (pcm8, pcm16) = (Format::pcm(channels, 8000, 8), Format::pcm(channels, 8000, 16));
        let pcm8_block = 505 * usize::from(channels);
        let bytes: Vec<u8> = speech_like(8000.0, 0.4).iter().map(|s| ((s >> 8) as u8) ^ 0x80).collect();
        let widened: Vec<i16> = bytes.iter().map(|&b| i16::from((b ^ 0x80) as i8) << 8).collect();

        let mut enc8 = codec.stream(&pcm8, &ima_format).unwrap();
        assert_eq!(
            enc8.size(SizeQuery::Source(pcm8_block as u32)).unwrap(),
            u32::from(ima_format.block_align)
        );
        let blocks = whole(&mut enc8, &bytes, pcm8_block);
        let mut enc16 = codec.stream(&pcm16, &ima_format).unwrap();
        let blocks16 = whole(&mut enc16, &le_bytes(&widened), 2 * pcm8_block);
        assert!(blocks == blocks16, "{channels} ch: 8-bit input encodes as its 16-bit equivalent");

        let mut dec8 = codec.stream(&ima_format, &pcm8).unwrap();
        let back8 = whole(&mut dec8, &blocks, usize::from(ima_format.block_align));
        let mut dec16 = codec.stream(&ima_format, &pcm16).unwrap();
        let back16 = samples(&whole(&mut dec16, &blocks, usize::from(ima_format.block_align)));
        let expected: Vec<u8> = back16.iter().map(|s| ((s >> 8) as u8) ^ 0x80).collect();
        assert_eq!(back8.len(), blocks.len() / usize::from(ima_format.block_align) * pcm8_block);
        assert!(back8 == expected, "{channels} ch: 8-bit output is the 16-bit output's high byte");

        assert_eq!(codec.suggest(&pcm8, &Suggestion::default()).unwrap(), ima_format);
        let to_8 =
            Suggestion { tag: Some(WAVE_FORMAT_PCM), bits_per_sample: Some(8), ..Suggestion::default() };
        assert_eq!(codec.suggest(&ima_format, &to_8).unwrap(), pcm8);
    }
}

/// A damaged block whose header's step index is past 88 decodes as if it were 88,
/// as Wine's imaadp32 decodes it: a stream never stalls on one bad block, which a
/// client feeding the same bytes again would loop on.
#[test]
fn a_step_index_past_88_decodes_as_88() {
    let (_m, codec) = open();
    let mut enc = codec.stream(&Format::pcm(2, 8000, 16), &ima(2, 8000)).unwrap();
    let pcm = le_bytes(&speech_like(8000.0, 1.0));
    let mut blocks = vec![0u8; 3 * 512];
    assert_eq!(enc.convert(&pcm[..3 * 2020], &mut blocks, START).unwrap(), (3 * 2020, 3 * 512));
    let (mut damaged, mut clamped) = (blocks.clone(), blocks.clone());
    // Block 1: the left channel's step index 99, the right one's 255.
    (damaged[512 + 2], damaged[512 + 6]) = (99, 255);
    (clamped[512 + 2], clamped[512 + 6]) = (88, 88);
    let mut dec = codec.stream(&ima(2, 8000), &Format::pcm(2, 8000, 16)).unwrap();
    let (mut got, mut want) = (vec![0u8; 3 * 2020], vec![0u8; 3 * 2020]);
    assert_eq!(dec.convert(&damaged, &mut got, START).unwrap(), (3 * 512, 3 * 2020));
    assert_eq!(dec.convert(&clamped, &mut want, START).unwrap(), (3 * 512, 3 * 2020));
    assert_eq!(samples(&got), samples(&want));
}
