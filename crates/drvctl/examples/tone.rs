//! Writes a WAVE file to try `drvctl convert` on: two seconds of 16-bit PCM, a
//! vowel-like tone (a 140 Hz fundamental and three formant partials under a slow
//! envelope), mono at 8 kHz unless told otherwise.
//!
//! `cargo run -p drvctl --example tone -- tone.wav [RATE [CHANNELS]]`

use std::f64::consts::TAU;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: tone OUTPUT.wav [RATE [CHANNELS]]");
        return ExitCode::from(2);
    };
    let number = |i: usize, default: u32| args.get(i).map_or(Ok(default), |s| s.parse::<u32>());
    let (Ok(rate), Ok(channels)) = (number(1, 8000), number(2, 1)) else {
        eprintln!("tone: RATE and CHANNELS are whole numbers");
        return ExitCode::from(2);
    };
    let (Ok(channels @ 1..=2), 1000..=192_000) = (u16::try_from(channels), rate) else {
        eprintln!("tone: RATE is 1000 to 192000, CHANNELS 1 or 2");
        return ExitCode::from(2);
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    match write(path, spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tone: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(path: &str, spec: hound::WavSpec) -> Result<(), hound::Error> {
    let rate = f64::from(spec.sample_rate);
    let mut w = hound::WavWriter::create(path, spec)?;
    for n in 0..2 * spec.sample_rate {
        let t = f64::from(n) / rate;
        let envelope = 0.5 - 0.5 * (TAU * t / 2.0).cos();
        let partials = [(140.0, 1.0), (700.0, 0.5), (1220.0, 0.25), (2600.0, 0.1)];
        let x: f64 =
            partials.iter().filter(|(f, _)| *f < rate / 2.0).map(|(f, a)| a * (TAU * f * t).sin()).sum();
        let sample = (x * envelope * 12_000.0) as i16;
        for channel in 0..spec.channels {
            // The second channel a little quieter, so the two differ.
            w.write_sample(if channel == 0 { sample } else { sample / 2 })?;
        }
    }
    w.finalize()
}
