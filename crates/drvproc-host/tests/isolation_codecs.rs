//! The class-kit codecs hosted in a process of their own: driven through the ACM
//! and VfW clients exactly as in process, they answer byte for byte the same, and
//! no hosted call fails on the way.
#![cfg(target_os = "linux")]

use std::f64::consts::TAU;
use std::path::PathBuf;

use drvimaadpcm::acm::ima_format;
use drvproc::acm::{ConvertFlags, Format, SizeQuery};
use drvproc::vfw::BitmapFormat;
use drvproc::vfw::consts::{BI_RGB, ICMODE_COMPRESS};
use drvproc_host::{AcmCodec, DriverManager, FrameOptions, ManagerOptions, VfwCodec, take_hosted_failure};

/// A codec library built beside this test binary (a dev-dependency `cdylib`).
fn built(lib: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}{lib}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn manager(isolated: bool) -> DriverManager {
    let options = ManagerOptions::new().config_path("/nonexistent/drvproc-test/system.ini");
    let options = if isolated {
        options.isolate(true).host_program(env!("CARGO_BIN_EXE_drvproc-hostd"))
    } else {
        options
    };
    DriverManager::new(options)
}

/// The ids of this process's host processes that map `lib`: proof that a codec
/// runs out of process.
fn hosts_mapping(lib: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The parent is the second field after the parenthesised command.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) != Some(me) {
            continue;
        }
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains(lib) {
            found.push(pid);
        }
    }
    found
}

/// Every 16-bit sample value, then a ramp, as little-endian bytes: 64 KiB and more.
fn pcm16() -> Vec<u8> {
    (i16::MIN..=i16::MAX).chain((0..1000).map(|i| (i * 37) as i16)).flat_map(i16::to_le_bytes).collect()
}

/// Converts `src` from `from` to `to` through one stream of `codec`, in chunks of
/// `chunk` bytes: every output byte, and the sizes the stream reported.
fn convert(codec: &AcmCodec, from: &Format, to: &Format, src: &[u8], chunk: usize) -> (Vec<u8>, Vec<u32>) {
    let mut stream = codec.stream(from, to).expect("ACMDM_STREAM_OPEN");
    let mut sizes = Vec::new();
    let mut out = Vec::new();
    let mut first = true;
    for piece in src.chunks(chunk) {
        let want = stream.size(SizeQuery::Source(piece.len() as u32)).expect("ACMDM_STREAM_SIZE");
        sizes.push(want);
        let mut dst = vec![0u8; want as usize];
        let flags = ConvertFlags { start: first, end: false, block_align: true };
        let (used_src, used_dst) = stream.convert(piece, &mut dst, flags).expect("ACMDM_STREAM_CONVERT");
        sizes.push(used_src as u32);
        out.extend_from_slice(&dst[..used_dst]);
        first = false;
    }
    (out, sizes)
}

/// What a run of the G.711 codec gives: its details, and PCM to µ-law and A-law
/// and back.
fn g711_run(isolated: bool) -> Vec<String> {
    let m = manager(isolated);
    let lib = built("drvg711");
    let codec = AcmCodec::open(&m, lib.to_str().unwrap()).expect("open drvg711");
    if isolated {
        assert_eq!(hosts_mapping("drvg711").len(), 1, "one host process maps the codec");
    }
    let mut seen = vec![format!("{:?}", codec.details().expect("details"))];
    let tags = codec.format_tags().expect("format tags");
    seen.push(format!("{tags:?}"));
    seen.push(format!("{:?}", codec.formats(&tags[1]).expect("formats")));
    let pcm = Format::pcm(1, 8000, 16);
    let src = pcm16();
    for tag in [drvproc::acm::consts::WAVE_FORMAT_MULAW, drvproc::acm::consts::WAVE_FORMAT_ALAW] {
        let law = drvg711::acm::g711_format(tag, 1, 8000);
        let (codes, sizes) = convert(&codec, &pcm, &law, &src, 65536);
        assert_eq!(codes.len(), src.len() / 2, "every sample coded");
        let (back, back_sizes) = convert(&codec, &law, &pcm, &codes, 4000);
        seen.push(format!("{tag}: {sizes:?} {back_sizes:?}"));
        seen.push(format!("{codes:02x?}"));
        seen.push(format!("{back:02x?}"));
    }
    codec.close().expect("close");
    assert_eq!(take_hosted_failure(), None);
    seen
}

/// What a run of the IMA ADPCM codec gives: a stereo sine to ADPCM and back.
fn ima_run(isolated: bool) -> Vec<String> {
    let m = manager(isolated);
    let lib = built("drvimaadpcm");
    let codec = AcmCodec::open(&m, lib.to_str().unwrap()).expect("open drvimaadpcm");
    let mut seen = vec![format!("{:?}", codec.details().expect("details"))];
    let pcm = Format::pcm(2, 22050, 16);
    let ima = ima_format(2, 22050).expect("a standard format");
    let src: Vec<u8> = (0..40_000)
        .flat_map(|i| {
            let t = i as f64 / 22050.0;
            let l = ((TAU * 440.0 * t).sin() * 20000.0) as i16;
            let r = ((TAU * 97.0 * t).cos() * 9000.0) as i16;
            [l.to_le_bytes(), r.to_le_bytes()].concat()
        })
        .collect();
    let (coded, sizes) = convert(&codec, &pcm, &ima, &src, 32768);
    let (back, back_sizes) = convert(&codec, &ima, &pcm, &coded, 8192);
    seen.push(format!("{sizes:?} {back_sizes:?}"));
    seen.push(format!("{coded:02x?}"));
    seen.push(format!("{back:02x?}"));
    codec.close().expect("close");
    assert_eq!(take_hosted_failure(), None);
    seen
}

/// What a run of the RLE8 codec gives: formats, sizes, and frames compressed
/// (keyframes and deltas) and decompressed.
fn rle8_run(isolated: bool) -> Vec<String> {
    let m = manager(isolated);
    let lib = built("drvrle8");
    let codec = VfwCodec::open(&m, lib.to_str().unwrap(), u32::from_le_bytes(*b"mrle"), ICMODE_COMPRESS)
        .expect("open drvrle8");
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2, 0]).collect();
    let (width, height) = (61usize, 17usize);
    let input = BitmapFormat::paletted(width as i32, height as i32, BI_RGB, &palette);
    let mut seen = vec![format!("{:?}", codec.info().expect("info"))];
    let mut rle = codec.compress_get_format(&input).expect("compress format");
    let rgb = codec.decompress_get_format(&rle).expect("decompress format");
    seen.push(format!("{rle:?} {rgb:?}"));
    codec.compress_begin(&input, &rle).expect("compress begin");
    codec.decompress_begin(&rle, &rgb).expect("decompress begin");
    let stride = width.div_ceil(4) * 4;
    let mut previous: Option<Vec<u8>> = None;
    for n in 0..6usize {
        let frame: Vec<u8> = (0..stride * height)
            .map(|i| if (i % stride) / 7 == n { 200 } else { (i % stride / 3 % 4) as u8 })
            .collect();
        let options = FrameOptions {
            previous: previous.as_deref(),
            keyframe: n % 3 == 0,
            quality: 8500,
            frame_number: n as i32,
        };
        let c = codec.compress(&input, &frame, &mut rle, options).expect("compress");
        let mut shown = vec![0xEEu8; stride * height];
        codec.decompress(&rle, &c.data, n % 3 != 0, &rgb, &mut shown).expect("decompress");
        seen.push(format!("frame {n}: {} {:02x?} {:02x?}", c.is_keyframe(), c.data, shown));
        previous = Some(frame);
    }
    codec.compress_end().expect("compress end");
    codec.decompress_end().expect("decompress end");
    codec.close().expect("close");
    assert_eq!(take_hosted_failure(), None);
    seen
}

fn same(what: &str, local: Vec<String>, hosted: Vec<String>) {
    assert_eq!(local.len(), hosted.len(), "{what}: as many results");
    for (i, (l, h)) in local.iter().zip(&hosted).enumerate() {
        assert!(l == h, "{what}: result {i} differs\nin process: {:.300}\nisolated:   {:.300}", l, h);
    }
}

#[test]
fn g711_converts_the_same_bytes_isolated() {
    same("G.711", g711_run(false), g711_run(true));
}

#[test]
fn ima_adpcm_converts_the_same_bytes_isolated() {
    same("IMA ADPCM", ima_run(false), ima_run(true));
}

#[test]
fn rle8_compresses_and_decompresses_the_same_frames_isolated() {
    same("RLE8", rle8_run(false), rle8_run(true));
}

/// Binds the calling thread to the CPU it runs on; returns that CPU.
fn stay_on_this_cpu() -> usize {
    // SAFETY: no arguments.
    let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).expect("a CPU number");
    // SAFETY: `cpu_set_t` is plain data, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a CPU number the kernel gave, below the set's size.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: 0 is this thread; `set` is a valid set of the size given.
    assert_eq!(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) }, 0);
    cpu
}

/// The context switches (voluntary and not) of host `pid`'s thread named `name`,
/// if it has one.
fn thread_switches(pid: u32, name: &str) -> Option<u64> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let dir = task.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let count = |key: &str| {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        };
        return Some(count("voluntary_ctxt_switches:")? + count("nonvoluntary_ctxt_switches:")?);
    }
    None
}

/// Converts of 64 KiB (over the size from which a call is served on its caller's
/// CPU) go, after the first, to a host thread bound to the caller's CPU; the bytes
/// are those of the codec in process.
#[test]
fn large_converts_served_on_the_callers_cpu_give_the_same_bytes() {
    let cpu = stay_on_this_cpu();
    let pcm = Format::pcm(1, 8000, 16);
    let law = drvg711::acm::g711_format(drvproc::acm::consts::WAVE_FORMAT_MULAW, 1, 8000);
    let src: Vec<u8> = pcm16()[..2 * 65536].to_vec();
    let lib = built("drvg711");
    let local = {
        let m = manager(false);
        let codec = AcmCodec::open(&m, lib.to_str().unwrap()).expect("open drvg711");
        convert(&codec, &pcm, &law, &src, 65536)
    };
    let m = manager(true);
    let codec = AcmCodec::open(&m, lib.to_str().unwrap()).expect("open drvg711 isolated");
    let host = hosts_mapping("drvg711")[0];
    let bound = format!("drvproc-cpu{cpu}");
    for _ in 0..100 {
        assert_eq!(convert(&codec, &pcm, &law, &src, 65536), local);
        if thread_switches(host, &bound).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let before = thread_switches(host, &bound).expect("a host thread bound to this CPU");
    for _ in 0..20 {
        assert_eq!(convert(&codec, &pcm, &law, &src, 65536), local);
    }
    let after = thread_switches(host, &bound).expect("the bound thread");
    // Each convert it serves gives the CPU back to the caller once: it sleeps, or
    // the caller it woke takes the CPU. 20 rounds of 2 chunks.
    assert!(after - before >= 40, "the bound thread served {} of 40 converts", after - before);
    codec.close().expect("close");
    assert_eq!(take_hosted_failure(), None);
}
