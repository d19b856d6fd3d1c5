//! drvg711 as msacm32 drives it: loaded by the manager from the built library, asked
//! for its details and formats, and converting through streams, with every PCM value
//! and every code compared with the sample conversions.

use std::path::PathBuf;

use drvg711::codec;
use drvproc::acm::consts::*;
use drvproc::acm::{ConvertFlags, Format, SizeQuery, Suggestion};
use drvproc_host::{AcmCodec, AcmError, DriverManager, ManagerOptions};

/// The library cargo built for this package, beside this test binary.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}drvg711{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn open() -> (DriverManager, AcmCodec) {
    let manager =
        DriverManager::new(ManagerOptions::new().config_path("/nonexistent/drvproc-test/system.ini"));
    let codec = AcmCodec::open(&manager, built_library().to_str().unwrap()).expect("open drvg711");
    (manager, codec)
}

fn g711(tag: u16, channels: u16, rate: u32) -> Format {
    drvg711::acm::g711_format(tag, channels, rate)
}

#[test]
fn details_tags_and_formats() {
    let (_m, codec) = open();
    let info = codec.details().unwrap();
    assert_eq!(
        (info.fcc_type, info.short_name.as_str(), info.format_tags),
        (ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC, "G.711", 3)
    );
    let tags = codec.format_tags().unwrap();
    let summary: Vec<_> = tags.iter().map(|t| (t.tag, t.format_size, t.standard_formats)).collect();
    assert_eq!(summary, [(WAVE_FORMAT_PCM, 16, 14), (WAVE_FORMAT_ALAW, 18, 14), (WAVE_FORMAT_MULAW, 18, 14)]);
    let formats = codec.formats(&tags[2]).unwrap();
    assert_eq!(formats[0], g711(WAVE_FORMAT_MULAW, 1, 8000));
    assert_eq!(formats[13], g711(WAVE_FORMAT_MULAW, 2, 48000));
    assert_eq!(codec.formats(&tags[0]).unwrap()[1], Format::pcm(2, 8000, 16));
}

#[test]
fn formats_by_value() {
    let (_m, codec) = open();
    assert!(codec.supports(&g711(WAVE_FORMAT_ALAW, 2, 44100)).unwrap());
    assert!(codec.supports(&Format::pcm(1, 16000, 16)).unwrap());
    assert!(!codec.supports(&Format::pcm(1, 16000, 8)).unwrap(), "8-bit PCM");
    assert!(!codec.supports(&g711(WAVE_FORMAT_MULAW, 3, 8000)).unwrap(), "three channels");
    assert!(!codec.supports(&g711(WAVE_FORMAT_MULAW, 1, 96000)).unwrap(), "96 kHz");
}

#[test]
fn suggestions_keep_rate_and_channels() {
    let (_m, codec) = open();
    let pcm = Format::pcm(2, 22050, 16);
    assert_eq!(codec.suggest(&pcm, &Suggestion::default()).unwrap(), g711(WAVE_FORMAT_MULAW, 2, 22050));
    let alaw = Suggestion { tag: Some(WAVE_FORMAT_ALAW), ..Suggestion::default() };
    assert_eq!(codec.suggest(&pcm, &alaw).unwrap(), g711(WAVE_FORMAT_ALAW, 2, 22050));
    assert_eq!(
        codec.suggest(&g711(WAVE_FORMAT_ALAW, 1, 8000), &Suggestion::default()).unwrap(),
        Format::pcm(1, 8000, 16)
    );
    let resample = Suggestion { samples_per_sec: Some(8000), ..Suggestion::default() };
    let err = codec.suggest(&pcm, &resample).unwrap_err();
    assert!(matches!(err, AcmError::Driver { code: ACMERR_NOTPOSSIBLE, .. }), "{err}");
    assert_eq!(err.to_string(), "ACMDM_FORMAT_SUGGEST failed: ACMERR_NOTPOSSIBLE (512)");
}

/// All 65536 PCM values through each encoder stream, and all 256 codes back.
#[test]
fn every_value_converts_as_the_sample_functions_do() {
    let (_m, codec) = open();
    let pcm: Vec<u8> = (i16::MIN..=i16::MAX).flat_map(i16::to_le_bytes).collect();
    for (tag, encode, decode) in [
        (WAVE_FORMAT_ALAW, codec::linear_to_alaw as fn(i16) -> u8, codec::alaw_to_linear as fn(u8) -> i16),
        (WAVE_FORMAT_MULAW, codec::linear_to_ulaw, codec::ulaw_to_linear),
    ] {
        let mut enc = codec.stream(&Format::pcm(1, 8000, 16), &g711(tag, 1, 8000)).unwrap();
        let mut out = vec![0u8; 65536];
        assert_eq!(
            enc.convert(&pcm, &mut out, ConvertFlags { start: true, ..ConvertFlags::default() }).unwrap(),
            (131072, 65536)
        );
        let expected: Vec<u8> = (i16::MIN..=i16::MAX).map(encode).collect();
        assert_eq!(out, expected, "tag {tag:#x}");
        let codes: Vec<u8> = (0..=255).collect();
        let mut dec = codec.stream(&g711(tag, 1, 8000), &Format::pcm(1, 8000, 16)).unwrap();
        let mut back = vec![0u8; 512];
        assert_eq!(dec.convert(&codes, &mut back, ConvertFlags::default()).unwrap(), (256, 512));
        let expected: Vec<u8> = codes.iter().flat_map(|&c| decode(c).to_le_bytes()).collect();
        assert_eq!(back, expected, "tag {tag:#x}");
    }
}

#[test]
fn odd_buffers_convert_whole_frames_only() {
    let (_m, codec) = open();
    let mut mono = codec.stream(&Format::pcm(1, 8000, 16), &g711(WAVE_FORMAT_ALAW, 1, 8000)).unwrap();
    let mut out = [0xEEu8; 4];
    // 5 bytes: two samples and an odd byte; room for only one.
    assert_eq!(mono.convert(&[0, 1, 2, 3, 4], &mut out[..1], ConvertFlags::default()).unwrap(), (2, 1));
    assert_eq!(out[1..], [0xEE; 3], "nothing past the destination length");
    assert_eq!(mono.convert(&[0, 1, 2, 3, 4], &mut out, ConvertFlags::default()).unwrap(), (4, 2));
    let mut stereo = codec.stream(&Format::pcm(2, 8000, 16), &g711(WAVE_FORMAT_MULAW, 2, 8000)).unwrap();
    // 6 bytes are a frame and a half: one frame.
    assert_eq!(stereo.convert(&[1, 2, 3, 4, 5, 6], &mut out, ConvertFlags::default()).unwrap(), (4, 2));
    let mut dec = codec.stream(&g711(WAVE_FORMAT_MULAW, 2, 8000), &Format::pcm(2, 8000, 16)).unwrap();
    let mut pcm = [0u8; 7];
    assert_eq!(dec.convert(&[0xFF, 0xFF, 0xFF], &mut pcm, ConvertFlags::default()).unwrap(), (2, 4));
}

#[test]
fn sizes_round_to_whole_frames() {
    let (_m, codec) = open();
    let mut enc = codec.stream(&Format::pcm(1, 8000, 16), &g711(WAVE_FORMAT_ALAW, 1, 8000)).unwrap();
    assert_eq!(enc.size(SizeQuery::Source(11)).unwrap(), 5);
    assert_eq!(enc.size(SizeQuery::Destination(5)).unwrap(), 10);
    assert_eq!(enc.size(SizeQuery::Source(1)).unwrap(), 0, "no whole sample: 0 bytes, as msg711 answers");
    assert_eq!(enc.size(SizeQuery::Source(0)).unwrap(), 0);
    let mut dec = codec.stream(&g711(WAVE_FORMAT_ALAW, 2, 8000), &Format::pcm(2, 8000, 16)).unwrap();
    assert_eq!(dec.size(SizeQuery::Source(5)).unwrap(), 8);
    assert_eq!(dec.size(SizeQuery::Destination(9)).unwrap(), 4);
}

#[test]
fn pairs_it_does_not_convert_are_refused() {
    let (_m, codec) = open();
    for (src, dst) in [
        (Format::pcm(1, 8000, 16), g711(WAVE_FORMAT_ALAW, 2, 8000)),
        (Format::pcm(1, 8000, 16), g711(WAVE_FORMAT_ALAW, 1, 11025)),
        (Format::pcm(1, 8000, 8), g711(WAVE_FORMAT_ALAW, 1, 8000)),
        (g711(WAVE_FORMAT_ALAW, 1, 8000), g711(WAVE_FORMAT_MULAW, 1, 8000)),
        (g711(WAVE_FORMAT_ALAW, 1, 8000), g711(WAVE_FORMAT_ALAW, 1, 8000)),
        (Format::pcm(3, 8000, 16), g711(WAVE_FORMAT_ALAW, 3, 8000)),
        (Format::pcm(1, 96000, 16), g711(WAVE_FORMAT_ALAW, 1, 96000)),
    ] {
        let err = codec.stream(&src, &dst).err().expect("refused");
        assert!(
            matches!(err, AcmError::Driver { code: ACMERR_NOTPOSSIBLE, .. }),
            "{src:?} -> {dst:?}: {err}"
        );
    }
}
