//! `drvctl convert IN OUT --to FORMAT`: a WAVE file through an installed ACM codec.
//!
//! The codec is chosen the way `acmFormatSuggest` and `acmStreamOpen` choose one:
//! each candidate is asked to suggest a destination of the wanted tag at the
//! source's rate and channels, then to open a stream between the two; the first that
//! does both converts. The audio goes through in chunks, with START on the first call
//! and END on the last, and what a call leaves unconsumed is carried into the next.
//! The output is written beside OUT under a temporary name and renamed at the end,
//! so a failure leaves no half-written file.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Seek, SeekFrom};
use std::path::Path;

use drvproc::acm::consts::*;
use drvproc::acm::{ConvertFlags, Format, SizeQuery, Suggestion};
use drvproc_host::{AcmCodec, AcmStream, DriverManager};

use crate::cli::Target;
use crate::context::Ctx;
use crate::error::{CliError, CliResult, failed};
use crate::wav::{self, RiffWriter};

/// Source bytes per convert call (rounded down to whole source blocks).
const CHUNK: usize = 64 * 1024;

/// Files with more audio data than this get a progress bar on a terminal.
const LONG_FILE: u64 = 4 * 1024 * 1024;

impl Target {
    fn tag(self) -> u16 {
        match self {
            Target::Mulaw => WAVE_FORMAT_MULAW,
            Target::Alaw => WAVE_FORMAT_ALAW,
            Target::Ima => WAVE_FORMAT_IMA_ADPCM,
            Target::Pcm => WAVE_FORMAT_PCM,
        }
    }
}

/// A format tag in words.
fn tag_name(tag: u16) -> String {
    match tag {
        WAVE_FORMAT_PCM => "PCM".into(),
        WAVE_FORMAT_ALAW => "A-law".into(),
        WAVE_FORMAT_MULAW => "mu-law".into(),
        WAVE_FORMAT_IMA_ADPCM => "IMA ADPCM".into(),
        WAVE_FORMAT_ADPCM => "MS ADPCM".into(),
        0x0003 => "IEEE float".into(),
        0xFFFE => "WAVE_FORMAT_EXTENSIBLE".into(),
        other => format!("format tag 0x{other:04x}"),
    }
}

/// A format in words, e.g. `PCM 16-bit mono 8000 Hz`.
fn describe(f: &Format) -> String {
    let channels = match f.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n} channels"),
    };
    format!("{} {}-bit {channels} {} Hz", tag_name(f.tag), f.bits_per_sample, f.samples_per_sec)
}

/// Where the input's audio comes from: `hound` for PCM, the data chunk otherwise.
enum Source {
    Pcm { reader: hound::WavReader<BufReader<File>>, bits: u16, samples_left: u64 },
    Raw { data: std::io::Take<BufReader<File>> },
}

impl Source {
    /// Appends up to `max` bytes of audio to `out`; fewer only at the end.
    fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, String> {
        let start = out.len();
        match self {
            Source::Pcm { reader, bits, samples_left } => {
                let width = usize::from(*bits / 8);
                let count = (max / width).min(usize::try_from(*samples_left).unwrap_or(usize::MAX));
                let mut read = 0u64;
                for sample in reader.samples::<i16>().take(count) {
                    let sample = sample.map_err(|e| e.to_string())?;
                    if *bits == 8 {
                        // WAVE's 8-bit PCM is unsigned; hound hands it signed.
                        out.push((sample + 128) as u8);
                    } else {
                        out.extend(sample.to_le_bytes());
                    }
                    read += 1;
                }
                *samples_left -= read;
            }
            Source::Raw { data } => {
                let mut limited = data.take(max as u64);
                limited.read_to_end(out).map_err(|e| e.to_string())?;
            }
        }
        Ok(out.len() - start)
    }
}

/// The input file: its format, its audio, and its length in samples per channel.
struct Input {
    format: Format,
    source: Source,
    data_len: u64,
    frames: u64,
}

fn open_input(path: &Path) -> CliResult<Input> {
    let shown = path.display();
    let unreadable = |e: &dyn std::fmt::Display| failed!("cannot read {shown}: {e}");
    let mut file = File::open(path).map_err(|e| unreadable(&e))?;
    let file_len = file.metadata().map_err(|e| unreadable(&e))?.len();
    let header = wav::read_header(&mut file, file_len)
        .map_err(|e| failed!("{shown} is not a usable WAVE file: {e}"))?;
    let tag = header.tag();
    let unsupported = |what: String| {
        failed!(
            "{shown}: unsupported source format ({what}); convert reads 8- and 16-bit PCM, A-law, mu-law and IMA ADPCM"
        )
    };
    if tag == WAVE_FORMAT_PCM || tag == 0xFFFE {
        drop(file);
        let reader =
            hound::WavReader::open(path).map_err(|e| failed!("{shown} is not a usable WAVE file: {e}"))?;
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || !matches!(spec.bits_per_sample, 8 | 16) {
            return Err(unsupported(format!("{:?} {}-bit", spec.sample_format, spec.bits_per_sample)));
        }
        let samples = u64::from(reader.len());
        let channels = u64::from(spec.channels.max(1));
        let format = Format::pcm(spec.channels, spec.sample_rate, spec.bits_per_sample);
        format.check().map_err(|e| failed!("{shown}: {e}"))?;
        let data_len = samples * u64::from(spec.bits_per_sample / 8);
        let source = Source::Pcm { reader, bits: spec.bits_per_sample, samples_left: samples };
        return Ok(Input { format, source, data_len, frames: samples / channels });
    }
    if !matches!(tag, WAVE_FORMAT_ALAW | WAVE_FORMAT_MULAW | WAVE_FORMAT_IMA_ADPCM) {
        return Err(unsupported(tag_name(tag)));
    }
    let format = header.to_format().map_err(|e| failed!("{shown}: bad {} format: {e}", tag_name(tag)))?;
    if tag == WAVE_FORMAT_IMA_ADPCM && format.extra.len() < 2 {
        return Err(failed!(
            "{shown}: bad IMA ADPCM format: no samples-per-block field (cbSize {})",
            format.extra.len()
        ));
    }
    let frames = match (header.fact_samples, tag) {
        (Some(n), _) => u64::from(n),
        (None, WAVE_FORMAT_IMA_ADPCM) => {
            let per_block = u64::from(u16::from_le_bytes([format.extra[0], format.extra[1]]));
            header.data_len / u64::from(format.block_align) * per_block
        }
        (None, _) => header.data_len / u64::from(format.channels),
    };
    file.seek(SeekFrom::Start(header.data_offset)).map_err(|e| unreadable(&e))?;
    let data = BufReader::new(file).take(header.data_len);
    Ok(Input { format, source: Source::Raw { data }, data_len: header.data_len, frames })
}

/// Where the converted audio goes: `hound` for PCM, [`RiffWriter`] otherwise.
enum Sink<'f> {
    Pcm { writer: hound::WavWriter<BufWriter<&'f File>>, bits: u16, carry: Vec<u8> },
    Riff(RiffWriter<BufWriter<&'f File>>),
}

impl<'f> Sink<'f> {
    fn new(file: &'f File, format: &Format) -> Result<Self, String> {
        let out = BufWriter::new(file);
        if format.tag == WAVE_FORMAT_PCM {
            let spec = hound::WavSpec {
                channels: format.channels,
                sample_rate: format.samples_per_sec,
                bits_per_sample: format.bits_per_sample,
                sample_format: hound::SampleFormat::Int,
            };
            if !matches!(format.bits_per_sample, 8 | 16) {
                return Err(format!("the codec's PCM has {} bits per sample", format.bits_per_sample));
            }
            let writer = hound::WavWriter::new(out, spec).map_err(|e| e.to_string())?;
            Ok(Sink::Pcm { writer, bits: format.bits_per_sample, carry: Vec::new() })
        } else {
            Ok(Sink::Riff(RiffWriter::new(out, format).map_err(|e| e.to_string())?))
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Sink::Pcm { writer, bits, carry } => {
                carry.extend_from_slice(data);
                let width = usize::from(*bits / 8);
                let whole = carry.len() / width * width;
                for sample in carry[..whole].chunks_exact(width) {
                    let written = if width == 1 {
                        writer.write_sample(sample[0].wrapping_sub(128) as i8)
                    } else {
                        writer.write_sample(i16::from_le_bytes([sample[0], sample[1]]))
                    };
                    written.map_err(|e| e.to_string())?;
                }
                carry.drain(..whole);
                Ok(())
            }
            Sink::Riff(w) => w.write(data).map_err(|e| e.to_string()),
        }
    }

    /// Completes the file; `frames` is the sample count for a `fact` chunk.
    fn finish(self, frames: u64) -> Result<(), String> {
        match self {
            Sink::Pcm { writer, .. } => writer.finalize().map_err(|e| e.to_string()),
            Sink::Riff(w) => {
                let frames =
                    u32::try_from(frames).map_err(|_| "too many samples for a fact chunk".to_string())?;
                w.finish(frames).map(drop).map_err(|e| e.to_string())
            }
        }
    }
}

/// The codecs to try: the one named, else every `msacm.*` alias in registry order.
fn candidates(ctx: &Ctx, driver: Option<&str>) -> CliResult<Vec<String>> {
    if let Some(driver) = driver {
        return Ok(vec![driver.to_string()]);
    }
    let registry = ctx.registry()?;
    let where_ = registry.describe(drvproc_host::DRIVERS32);
    let doc = if registry.exists()? { Some(registry.read()?) } else { None };
    let aliases: Vec<String> = doc
        .iter()
        .flat_map(|d| d.entries(drvproc_host::DRIVERS32))
        .map(|(alias, _)| alias.to_string())
        .filter(|alias| alias.to_ascii_lowercase().starts_with("msacm."))
        .collect();
    if aliases.is_empty() {
        return Err(failed!("no ACM codec is registered (no msacm.* alias in {where_}); pass --driver FILE"));
    }
    Ok(aliases)
}

/// What the conversion did.
struct Converted {
    driver: String,
    dst: Format,
    written: u64,
    dropped: usize,
}

pub fn convert(ctx: &Ctx, input: &Path, output: &Path, to: Target, driver: Option<&str>) -> CliResult {
    let mut src = open_input(input)?;
    let wanted = to.tag();
    if src.format.tag == wanted {
        return Err(CliError::Usage(format!(
            "{} is {} already; nothing to convert",
            input.display(),
            tag_name(wanted)
        )));
    }
    let names = candidates(ctx, driver)?;
    let temp = temp_beside(output)?;
    let manager = ctx.manager();
    let mut refusals = Vec::new();
    let mut done = None;
    for name in &names {
        match try_codec(&manager, name, &mut src, wanted, temp.as_file()) {
            Ok(Attempt::Refused(why)) => refusals.push(format!("  {name}: {why}")),
            Ok(Attempt::Done(mut c)) => {
                c.driver = name.clone();
                done = Some(c);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let Some(c) = done else {
        return Err(failed!(
            "no codec converts {} to {}; tried:\n{}",
            describe(&src.format),
            tag_name(wanted),
            refusals.join("\n")
        ));
    };
    // The input is closed first: OUT may be IN, and Windows renames over no open file.
    let src_format = src.format.clone();
    drop(src);
    temp.persist(output).map_err(|e| failed!("cannot write {}: {}", output.display(), e.error))?;
    if c.dropped > 0 {
        crate::output::note(&format!(
            "the last {} bytes of {} were not a whole block and were left out",
            c.dropped,
            input.display()
        ));
    }
    println!(
        "{} -> {}: {} to {} with {} ({} bytes of audio)",
        input.display(),
        output.display(),
        describe(&src_format),
        describe(&c.dst),
        c.driver,
        c.written
    );
    Ok(())
}

/// A temporary file in OUT's directory, renamed to OUT once complete.
fn temp_beside(output: &Path) -> CliResult<tempfile::NamedTempFile> {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A temporary file is private (0600) by default; OUT is an ordinary file, made
    // as any other is (the umask applies).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = builder.tempfile_in(dir).map_err(|e| failed!("cannot write {}: {e}", output.display()))?;
    Ok(temp)
}

enum Attempt {
    /// The codec would not take the pair: why, in its words.
    Refused(String),
    Done(Converted),
}

/// Opens `name`, asks it for a destination and a stream, and if it agrees converts
/// the whole input into `file`.
fn try_codec(
    manager: &DriverManager,
    name: &str,
    src: &mut Input,
    wanted: u16,
    file: &File,
) -> CliResult<Attempt> {
    let codec = match AcmCodec::open(manager, name) {
        Ok(c) => c,
        Err(e) => return Ok(Attempt::Refused(format!("cannot open it: {e}"))),
    };
    let suggestion = Suggestion {
        tag: Some(wanted),
        channels: Some(src.format.channels),
        samples_per_sec: Some(src.format.samples_per_sec),
        bits_per_sample: (wanted == WAVE_FORMAT_PCM).then_some(16),
    };
    let dst = match codec.suggest(&src.format, &suggestion) {
        Ok(d) => d,
        Err(e) => return Ok(Attempt::Refused(e.to_string())),
    };
    if !suggestion.allows(&dst) {
        return Ok(Attempt::Refused(format!("it suggested {}, not what was asked", describe(&dst))));
    }
    let stream = match codec.stream(&src.format, &dst) {
        Ok(s) => s,
        Err(e) => return Ok(Attempt::Refused(e.to_string())),
    };
    let converted = run(stream, src, &dst, file)?;
    Ok(Attempt::Done(converted))
}

/// The progress bar of a long conversion on a terminal; hidden otherwise.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if total < LONG_FILE || crate::output::quiet() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}") {
        bar.set_style(style);
    }
    bar
}

/// Converts the whole input through `stream` into `file`.
fn run(mut stream: AcmStream<'_>, src: &mut Input, dst: &Format, file: &File) -> CliResult<Converted> {
    let failed_write = |e: String| failed!("cannot write the output: {e}");
    let failed_read = |e: String| failed!("cannot read the input: {e}");
    let mut sink = Sink::new(file, dst).map_err(failed_write)?;
    let block = usize::from(src.format.block_align).max(1);
    let chunk = (CHUNK / block).max(1) * block;
    let bar = progress_bar(src.data_len);
    let mut pending: Vec<u8> = Vec::with_capacity(chunk * 2);
    let mut out = Vec::new();
    let mut left = src.data_len;
    let mut first = true;
    let mut written = 0u64;
    // Bytes of the data the codec has used, for the position in errors.
    let mut consumed = 0u64;
    while left > 0 {
        let got = src.source.read(&mut pending, chunk).map_err(failed_read)?;
        if got == 0 {
            return Err(failed_read(format!("the data ended {left} bytes early")));
        }
        left = left.saturating_sub(got as u64);
        bar.inc(got as u64);
        let last = left == 0;
        while !pending.is_empty() {
            // What the codec says it needs, with room to spare if it cannot say.
            // The codec's answer is 0 (or an error) when no whole block is pending.
            let needed = stream
                .size(SizeQuery::Source(u32::try_from(pending.len()).unwrap_or(u32::MAX)))
                .map(|n| n as usize)
                .unwrap_or(0);
            let room = needed.max(pending.len() * 4 + 4096);
            out.resize(room, 0);
            let flags = ConvertFlags { start: first, end: last, block_align: !last };
            let (used, made) = stream
                .convert(&pending, &mut out, flags)
                .map_err(|e| failed!("the codec failed while converting: {e}"))?;
            first = false;
            sink.write(&out[..made]).map_err(failed_write)?;
            written += made as u64;
            check_progress(used, needed > 0, consumed)?;
            pending.drain(..used);
            consumed += used as u64;
            if used == 0 {
                break;
            }
        }
    }
    bar.finish_and_clear();
    drop(stream);
    let frames = match dst.tag {
        WAVE_FORMAT_ALAW | WAVE_FORMAT_MULAW => written / u64::from(dst.channels.max(1)),
        _ => src.frames,
    };
    sink.finish(frames).map_err(failed_write)?;
    Ok(Converted { driver: String::new(), dst: dst.clone(), written, dropped: pending.len() })
}

/// After a conversion call: a codec that used nothing although it sized a whole
/// block's output for what was pending (`whole_block`) will not use it on any
/// later call either. Waiting would hold the rest of the file in memory and end
/// with it called "not a whole block", so this says where the codec stopped.
fn check_progress(used: usize, whole_block: bool, at: u64) -> Result<(), CliError> {
    if used == 0 && whole_block {
        return Err(failed!("the codec converted nothing from byte {at} of the data on (a damaged block?)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codec_that_uses_no_whole_block_is_an_error_not_a_short_file() {
        // Less than a block: the codec waits for more, as it should.
        assert!(check_progress(0, false, 0).is_ok());
        assert!(check_progress(256, true, 0).is_ok());
        let err = check_progress(0, true, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the codec converted nothing from byte 1024 of the data on (a damaged block?)"
        );
    }
}
