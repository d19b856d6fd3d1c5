//! `drvctl convert` with the G.711 codec registered as msacm.g711: every sample
//! compared with the codec's own conversions, files that span several chunks and end
//! in odd places, and each way a conversion can fail without leaving a file behind.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use drvg711::codec;

/// A scratch registry with the G.711 codec (and whatever `more` adds) in [drivers32].
fn registry(more: &str) -> Scratch {
    let s = Scratch::new();
    s.write_config(&format!("[drivers32]\n{more}msacm.g711={}\n", path_str(&lib("drvg711"))));
    s
}

fn file(s: &Scratch, name: &str) -> PathBuf {
    s.dir.path().join(name)
}

/// A 16-bit PCM WAVE file of interleaved `samples`.
fn write_pcm(path: &Path, channels: u16, rate: u32, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Every 16-bit value, then `extra` more, so the file spans several 64 KiB chunks.
fn all_values(extra: usize) -> Vec<i16> {
    (i16::MIN..=i16::MAX).chain((0..extra).map(|i| (i as i16).wrapping_mul(331))).collect()
}

/// The bytes a G.711 WAVE file must hold: fmt with cbSize 0, fact, data (padded).
fn g711_file(tag: u16, channels: u16, rate: u32, data: &[u8]) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    let pad = data.len() % 2;
    b.extend(((4 + 26 + 12 + 8 + data.len() + pad) as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(18u32.to_le_bytes());
    b.extend(tag.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * u32::from(channels)).to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(8u16.to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(b"fact");
    b.extend(4u32.to_le_bytes());
    b.extend(((data.len() / usize::from(channels)) as u32).to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b.extend(vec![0; pad]);
    b
}

fn read_pcm(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let samples = r.samples::<i16>().map(Result::unwrap).collect();
    (r.spec(), samples)
}

/// The files in the scratch directory other than the registry.
fn files(s: &Scratch) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "system.ini")
        .collect();
    names.sort();
    names
}

#[test]
fn pcm_to_mulaw_and_back_matches_the_codec_sample_by_sample() {
    let s = registry("");
    let samples = all_values(3);
    let (pcm, mulaw, back) = (file(&s, "in.wav"), file(&s, "mu.wav"), file(&s, "back.wav"));
    write_pcm(&pcm, 1, 8000, &samples);

    let (code, out, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&mulaw), "--to", "mulaw"]));
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out,
        format!(
            "{} -> {}: PCM 16-bit mono 8000 Hz to mu-law 8-bit mono 8000 Hz with msacm.g711 (65539 bytes of audio)\n",
            pcm.display(),
            mulaw.display()
        )
    );
    let codes: Vec<u8> = samples.iter().map(|&v| codec::linear_to_ulaw(v)).collect();
    assert_eq!(std::fs::read(&mulaw).unwrap(), g711_file(7, 1, 8000, &codes));

    let (code, _, err) = run(s.drvctl(&["convert", path_str(&mulaw), path_str(&back), "--to", "pcm"]));
    assert_eq!(code, 0, "{err}");
    let (spec, decoded) = read_pcm(&back);
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
    let expected: Vec<i16> = codes.iter().map(|&c| codec::ulaw_to_linear(c)).collect();
    assert_eq!(decoded, expected);
    assert_eq!(files(&s), ["back.wav", "in.wav", "mu.wav"]);
}

#[test]
fn stereo_alaw_with_an_odd_length_through_a_driver_file() {
    // No registry at all: --driver names the codec's file.
    let s = Scratch::new();
    let samples: Vec<i16> = all_values(2 * 40_001);
    assert_eq!(samples.len() % 2, 0);
    let (pcm, alaw, back) = (file(&s, "in.wav"), file(&s, "a.wav"), file(&s, "back.wav"));
    write_pcm(&pcm, 2, 44100, &samples);
    let driver = lib("drvg711");
    let args = |from: &Path, to: &Path, format: &str| {
        s.drvctl(&["convert", path_str(from), path_str(to), "--to", format, "--driver", path_str(&driver)])
    };
    let (code, out, err) = run(args(&pcm, &alaw, "alaw"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("to A-law 8-bit stereo 44100 Hz with "), "{out}");
    let codes: Vec<u8> = samples.iter().map(|&v| codec::linear_to_alaw(v)).collect();
    assert_eq!(std::fs::read(&alaw).unwrap(), g711_file(6, 2, 44100, &codes));
    let (code, _, err) = run(args(&alaw, &back, "pcm"));
    assert_eq!(code, 0, "{err}");
    let (spec, decoded) = read_pcm(&back);
    assert_eq!((spec.channels, spec.sample_rate), (2, 44100));
    assert_eq!(decoded, codes.iter().map(|&c| codec::alaw_to_linear(c)).collect::<Vec<_>>());
}

#[test]
fn an_odd_data_chunk_is_padded_and_read_back() {
    let s = registry("");
    let samples: Vec<i16> = (0..7).map(|i| i * 1000 - 3000).collect();
    let (pcm, alaw, back) = (file(&s, "in.wav"), file(&s, "a.wav"), file(&s, "back.wav"));
    write_pcm(&pcm, 1, 11025, &samples);
    assert_eq!(run(s.drvctl(&["convert", path_str(&pcm), path_str(&alaw), "--to", "alaw"])).0, 0);
    let codes: Vec<u8> = samples.iter().map(|&v| codec::linear_to_alaw(v)).collect();
    assert_eq!(std::fs::read(&alaw).unwrap(), g711_file(6, 1, 11025, &codes));
    assert_eq!(run(s.drvctl(&["convert", path_str(&alaw), path_str(&back), "--to", "pcm"])).0, 0);
    assert_eq!(read_pcm(&back).1, codes.iter().map(|&c| codec::alaw_to_linear(c)).collect::<Vec<_>>());
}

#[test]
fn an_empty_file_converts_to_an_empty_file() {
    let s = registry("");
    let (pcm, mulaw) = (file(&s, "in.wav"), file(&s, "mu.wav"));
    write_pcm(&pcm, 1, 8000, &[]);
    let (code, _, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&mulaw), "--to", "mulaw"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&mulaw).unwrap(), g711_file(7, 1, 8000, &[]));
}

/// Runs a conversion expected to fail: its exit code and error line(s).
fn fails(s: &Scratch, args: &[&str]) -> (i32, String) {
    let mut all = vec!["convert"];
    all.extend(args);
    let (code, out, err) = run(s.drvctl(&all));
    assert_eq!(out, "");
    (code, err)
}

#[test]
fn no_codec_for_the_pair_lists_each_one_tried_and_what_it_said() {
    let s = registry("vidc.ignored=nowhere.so\nmsacm.missing=/nonexistent/codec.so\n");
    let (pcm, out) = (file(&s, "in.wav"), file(&s, "out.wav"));
    write_pcm(&pcm, 1, 8000, &[1, 2, 3]);
    std::fs::write(&out, "kept").unwrap();
    let (code, err) = fails(&s, &[path_str(&pcm), path_str(&out), "--to", "ima"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "drvctl: no codec converts PCM 16-bit mono 8000 Hz to IMA ADPCM; tried:");
    assert!(lines[1].starts_with("  msacm.missing: cannot open it: "), "{err}");
    assert_eq!(lines[2], "  msacm.g711: ACMDM_FORMAT_SUGGEST failed: ACMERR_NOTPOSSIBLE (512)");
    assert_eq!(lines.len(), 3, "{err}");
    // OUT is untouched and no temporary file is left.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept");
    assert_eq!(files(&s), ["in.wav", "out.wav"]);
}

#[test]
fn a_codec_that_is_not_one_is_skipped_for_the_next() {
    // The trace driver answers DRV_OPEN but no ACM message.
    let s = registry(&format!("msacm.trace={}\n", path_str(&lib("drvtrace"))));
    let (pcm, out) = (file(&s, "in.wav"), file(&s, "out.wav"));
    write_pcm(&pcm, 1, 8000, &[1, 2, 3]);
    let (code, stdout, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&out), "--to", "mulaw"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.ends_with(" with msacm.g711 (3 bytes of audio)\n"), "{stdout}");
}

#[test]
fn no_registered_codec_says_to_pass_driver() {
    let s = Scratch::new();
    s.write_config("[drivers32]\nwavemapper=msacm32.drv\n");
    let pcm = file(&s, "in.wav");
    write_pcm(&pcm, 1, 8000, &[1]);
    let (code, err) = fails(&s, &[path_str(&pcm), path_str(&file(&s, "o.wav")), "--to", "alaw"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("drvctl: no ACM codec is registered (no msacm.* alias in "), "{err}");
    assert!(err.ends_with("); pass --driver FILE\n"), "{err}");
}

#[test]
fn bad_inputs_say_what_is_wrong() {
    let s = registry("");
    let out = file(&s, "out.wav");
    let (code, err) = fails(&s, &["/nonexistent/in.wav", path_str(&out), "--to", "alaw"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("drvctl: cannot read /nonexistent/in.wav: "), "{err}");

    let text = file(&s, "text.wav");
    std::fs::write(&text, "this is not audio at all").unwrap();
    let (_, err) = fails(&s, &[path_str(&text), path_str(&out), "--to", "alaw"]);
    let shown = text.display();
    assert_eq!(
        err,
        format!(
            "drvctl: {shown} is not a usable WAVE file: not a RIFF file (it does not start with \"RIFF\")\n"
        )
    );

    // A data chunk that claims more than the file holds.
    let cut = file(&s, "cut.wav");
    let mut bytes = g711_file(7, 1, 8000, &[0x55; 100]);
    bytes.truncate(bytes.len() - 40);
    std::fs::write(&cut, &bytes).unwrap();
    let (_, err) = fails(&s, &[path_str(&cut), path_str(&out), "--to", "pcm"]);
    assert_eq!(
        err,
        format!(
            "drvctl: {} is not a usable WAVE file: the \"data\" chunk at byte 50 claims 100 bytes, but the file ends 60 bytes later\n",
            cut.display()
        )
    );

    // 24-bit PCM: hound reads it, no codec here would take it.
    let deep = file(&s, "deep.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&deep, spec).unwrap();
    w.write_sample(1i32).unwrap();
    w.finalize().unwrap();
    let (_, err) = fails(&s, &[path_str(&deep), path_str(&out), "--to", "alaw"]);
    assert_eq!(
        err,
        format!(
            "drvctl: {}: unsupported source format (Int 24-bit); convert reads 8- and 16-bit PCM, A-law, mu-law and IMA ADPCM\n",
            deep.display()
        )
    );

    // A tag this command does not read.
    let gsm = file(&s, "gsm.wav");
    let mut bytes = g711_file(7, 1, 8000, &[0; 4]);
    bytes[20..22].copy_from_slice(&0x31u16.to_le_bytes());
    std::fs::write(&gsm, &bytes).unwrap();
    let (_, err) = fails(&s, &[path_str(&gsm), path_str(&out), "--to", "pcm"]);
    assert!(err.contains(": unsupported source format (format tag 0x0031); "), "{err}");

    // A G.711 format with no channels.
    let mute = file(&s, "mute.wav");
    let mut bytes = g711_file(7, 1, 8000, &[0; 4]);
    bytes[22..24].copy_from_slice(&0u16.to_le_bytes());
    std::fs::write(&mute, &bytes).unwrap();
    let (_, err) = fails(&s, &[path_str(&mute), path_str(&out), "--to", "pcm"]);
    assert_eq!(err, format!("drvctl: {}: bad mu-law format: the format has no channels\n", mute.display()));

    assert!(!out.exists());
}

#[test]
fn converting_to_the_same_format_is_a_usage_error() {
    let s = registry("");
    let pcm = file(&s, "in.wav");
    write_pcm(&pcm, 1, 8000, &[1]);
    let (code, err) = fails(&s, &[path_str(&pcm), path_str(&file(&s, "o.wav")), "--to", "pcm"]);
    assert_eq!((code, err), (2, format!("drvctl: {} is PCM already; nothing to convert\n", pcm.display())));
}

#[test]
fn an_unwritable_output_leaves_nothing() {
    let s = registry("");
    let pcm = file(&s, "in.wav");
    write_pcm(&pcm, 1, 8000, &[1, 2]);
    let out = s.dir.path().join("missing-dir").join("out.wav");
    let (code, err) = fails(&s, &[path_str(&pcm), path_str(&out), "--to", "mulaw"]);
    assert_eq!(code, 1);
    assert!(err.starts_with(&format!("drvctl: cannot write {}: ", out.display())), "{err}");
    assert_eq!(files(&s), ["in.wav"]);
}

#[test]
fn the_format_is_checked_by_clap() {
    let s = registry("");
    let (code, err) = fails(&s, &["a.wav", "b.wav", "--to", "mp3"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'mp3' for '--to <FORMAT>'"), "{err}");
    assert!(err.contains("[possible values: mulaw, alaw, ima, pcm]"), "{err}");
}

#[test]
fn a_truncated_pcm_file_fails_and_leaves_nothing() {
    let s = registry("");
    let (pcm, out) = (file(&s, "in.wav"), file(&s, "out.wav"));
    write_pcm(&pcm, 1, 8000, &all_values(0));
    let bytes = std::fs::read(&pcm).unwrap();
    std::fs::write(&pcm, &bytes[..bytes.len() - 1001]).unwrap();
    let (code, err) = fails(&s, &[path_str(&pcm), path_str(&out), "--to", "mulaw"]);
    assert_eq!(code, 1);
    // The header is checked against the file's size before hound reads a sample.
    assert_eq!(
        err,
        format!(
            "drvctl: {} is not a usable WAVE file: the \"data\" chunk at byte 36 claims 131072 bytes, but the file ends 130071 bytes later\n",
            pcm.display()
        )
    );
    assert_eq!(files(&s), ["in.wav"]);
}

#[test]
fn driver_names_the_only_alias_tried() {
    let s = registry("msacm.missing=/nonexistent/codec.so\n");
    let (pcm, out) = (file(&s, "in.wav"), file(&s, "out.wav"));
    write_pcm(&pcm, 1, 8000, &[5, 6]);
    let (code, stdout, err) =
        run(s.drvctl(&["convert", path_str(&pcm), path_str(&out), "--to", "alaw", "--driver", "msacm.g711"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.ends_with(" with msacm.g711 (2 bytes of audio)\n"), "{stdout}");
    let (code, err) =
        fails(&s, &[path_str(&pcm), path_str(&out), "--to", "alaw", "--driver", "msacm.missing"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[1].starts_with("  msacm.missing: cannot open it: "), "{err}");
}

#[test]
fn a_long_file_shows_no_progress_on_a_pipe() {
    let s = registry("");
    let (pcm, out) = (file(&s, "in.wav"), file(&s, "out.wav"));
    // 4.5 MiB of audio: past the size that gets a progress bar on a terminal.
    let samples: Vec<i16> = (0..(9 << 19)).map(|i: i32| (i.wrapping_mul(7919) >> 8) as i16).collect();
    write_pcm(&pcm, 2, 48000, &samples);
    let (code, stdout, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&out), "--to", "mulaw"]));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(stdout.lines().count(), 1);
    let written = std::fs::read(&out).unwrap();
    assert_eq!(written.len(), 58 + samples.len());
    assert!(written[58..].iter().zip(&samples).all(|(&c, &v)| c == codec::linear_to_ulaw(v)));
}

#[test]
fn a_file_can_be_converted_in_place() {
    let s = registry("");
    let pcm = file(&s, "in.wav");
    write_pcm(&pcm, 1, 8000, &[100, -100, 30000]);
    let (code, _, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&pcm), "--to", "mulaw"]));
    assert_eq!(code, 0, "{err}");
    let codes: Vec<u8> = [100, -100, 30000].iter().map(|&v| codec::linear_to_ulaw(v)).collect();
    assert_eq!(std::fs::read(&pcm).unwrap(), g711_file(7, 1, 8000, &codes));
    assert_eq!(files(&s), ["in.wav"]);
}

/// IMA ADPCM through the IMA codec driver and back: the encoded file decodes, block by
/// block, to what drvimaadpcm's own decoder gives, and the sound survives (SNR).
#[test]
fn pcm_to_ima_and_back_through_the_ima_driver() {
    let s = Scratch::new();
    s.write_config(&format!("[drivers32]\nmsacm.imaadpcm={}\n", path_str(&lib("drvimaadpcm"))));
    // Two seconds of a tone with an envelope, at 22050 Hz stereo.
    let rate = 22050u32;
    let samples: Vec<i16> = (0..2 * rate as usize)
        .flat_map(|i| {
            let t = i as f64 / f64::from(rate);
            let env = (t * 3.0).sin().abs();
            let l = (8000.0 * env * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
            let r = (6000.0 * env * (2.0 * std::f64::consts::PI * 660.0 * t).sin()) as i16;
            [l, r]
        })
        .collect();
    let (pcm, ima, back) = (file(&s, "in.wav"), file(&s, "ima.wav"), file(&s, "back.wav"));
    write_pcm(&pcm, 2, rate, &samples);
    let (code, out, err) = run(s.drvctl(&["convert", path_str(&pcm), path_str(&ima), "--to", "ima"]));
    // 43 whole blocks of 1017 frames; what is left is said, not padded into a block.
    let note = format!("the last 1476 bytes of {} were not a whole block and were left out\n", pcm.display());
    assert_eq!((code, err.as_str()), (0, note.as_str()), "{out}");
    assert!(
        out.contains("to IMA ADPCM 4-bit stereo 22050 Hz with msacm.imaadpcm (44032 bytes of audio)"),
        "{out}"
    );
    let (code, _, err) = run(s.drvctl(&["convert", path_str(&ima), path_str(&back), "--to", "pcm"]));
    assert_eq!(code, 0, "{err}");
    let (spec, decoded) = read_pcm(&back);
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, rate, 16));
    // Whole blocks only: the last partial block is not encoded.
    assert!(decoded.len() <= samples.len() && decoded.len() + 2 * 1017 > samples.len(), "{}", decoded.len());
    let (signal, noise) = samples.iter().zip(&decoded).fold((0f64, 0f64), |(s, n), (&a, &b)| {
        (s + f64::from(a).powi(2), n + (f64::from(a) - f64::from(b)).powi(2))
    });
    let snr = 10.0 * (signal / noise).log10();
    assert!(snr > 25.0, "SNR {snr:.1} dB");
}
