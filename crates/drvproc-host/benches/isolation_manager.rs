//! Isolation as an application sees it: through `DriverManager`, with a real
//! `drvproc-hostd` process at the other end.
//!
//! - M1: round trip of a trivial message (`DRV_USER`, 0, 0) to the null driver
//!   through `DriverManager::send`, each call timed alone, for the median and p99:
//!   in process; isolated with the channel's adaptive spin; isolated with spin 0
//!   (every wait sleeps at once), measured in a child of this bench that
//!   re-executes it with `DRVPROC_HOST_SPIN_NS=0` (the spin is read when a host
//!   starts, by both ends). The child measures M2 with spin 0 as well.
//! - M2: one `ACMDM_STREAM_CONVERT` of 64 KiB of 16-bit PCM to 32 KiB of µ-law
//!   through `AcmStream` on the G.711 codec, isolated against in process (the
//!   median of each, measured in alternating rounds); and the other way, 32 KiB of
//!   µ-law to 64 KiB of PCM, where the 64 KiB are the bytes copied back. The
//!   codec's own work is in both figures: the difference is what isolation adds.
//!   Large calls are served on the caller's CPU; a second child measures M2 with
//!   that off (`DRVPROC_HOST_SAME_CPU_BYTES=off`, every call served by the host's
//!   main thread), for the comparison in one run.
//! - M3: an isolated module left with no traffic for 2 s: the CPU time of the
//!   application's other threads and of the host process over those 2 s
//!   (`/proc/.../schedstat`, nanoseconds), and how often the host process woke
//!   (its context switches).
//!
//! A plain program: `cargo bench -p drvproc-host --bench isolation_manager`.

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use drvproc::acm::consts::WAVE_FORMAT_MULAW;
    use drvproc::acm::{ConvertFlags, Format};
    use drvproc::consts::DRV_USER;
    use drvproc_host::{AcmCodec, DriverManager};

    /// Set in a child that measures with other settings: what it measures.
    const CHILD_VAR: &str = "ISOLATION_MANAGER_BENCH_CHILD";
    const SPIN_VAR: &str = "DRVPROC_HOST_SPIN_NS";
    const SAME_CPU_VAR: &str = "DRVPROC_HOST_SAME_CPU_BYTES";
    const CALLS: usize = 100_000;
    const SLEEPING_CALLS: usize = 20_000;
    const WARM_UP: usize = 5_000;
    const CONVERT_ROUNDS: usize = 40;
    const CONVERTS_PER_ROUND: usize = 100;
    const BUF: usize = 64 * 1024;
    const IDLE: Duration = Duration::from_secs(2);

    pub(crate) fn main() {
        match std::env::var(CHILD_VAR).as_deref() {
            Ok("spin 0") => {
                let (median, p99) = round_trip(&isolated(), SLEEPING_CALLS);
                println!("M1 isolated, spin 0: median {median} ns, p99 {p99} ns");
                converts(", spin 0");
                return;
            }
            Ok(_) => {
                converts(", main thread only");
                return;
            }
            Err(_) => {}
        }
        let (median, p99) = round_trip(&super::common::manager(), CALLS);
        println!("M1 in process: median {median} ns, p99 {p99} ns");
        let (median, p99) = round_trip(&isolated(), CALLS);
        println!("M1 isolated, adaptive spin: median {median} ns, p99 {p99} ns");
        converts("");
        child("main thread only", SAME_CPU_VAR, "off");
        child("spin 0", SPIN_VAR, "0");
        idle();
    }

    /// M2, the lines labelled with `label`.
    fn converts(label: &str) {
        let (pcm, law) = (Format::pcm(1, 8000, 16), drvg711::acm::g711_format(WAVE_FORMAT_MULAW, 1, 8000));
        for (what, from, to, len) in [("convert", &pcm, &law, BUF), ("out, decode", &law, &pcm, BUF / 2)] {
            let c = convert(from, to, len);
            println!(
                "M2 64 KiB {what}{label}: isolated {} ns vs in process {} ns = {:.2}x ({} ns more; \
                 per isolated convert the host process ran {} ns and waited {} ns for a CPU)",
                c.hosted,
                c.local,
                c.hosted as f64 / c.local as f64,
                c.hosted.saturating_sub(c.local),
                c.host_ran,
                c.host_waited
            );
        }
    }

    fn isolated() -> DriverManager {
        DriverManager::new(
            super::common::options().isolate(true).host_program(env!("CARGO_BIN_EXE_drvproc-hostd")),
        )
    }

    /// The median and 99th percentile of `calls` sends, each timed alone, in ns.
    fn round_trip(m: &DriverManager, calls: usize) -> (u64, u64) {
        let path = super::common::null_driver();
        let instance = m.open(path.to_str().expect("UTF-8 path"), None).expect("open the null driver");
        let h = instance.handle();
        let mut times = Vec::with_capacity(calls);
        for i in 0..WARM_UP + calls {
            let t = Instant::now();
            // SAFETY: integer parameters; the null driver reads none.
            let r = unsafe { m.send(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) };
            let ns = t.elapsed().as_nanos() as u64;
            assert_eq!(r, Ok(0), "the null driver answers 0");
            if i >= WARM_UP {
                times.push(ns);
            }
        }
        instance.close().expect("close");
        times.sort_unstable();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    }

    /// The measures of child `what` of this bench, run with `var` set to `value`:
    /// its lines.
    fn child(what: &str, var: &str, value: &str) {
        let out = Command::new(std::env::current_exe().expect("bench binary path"))
            .env(CHILD_VAR, what)
            .env(var, value)
            .output()
            .expect("run a child of the bench");
        assert!(out.status.success(), "the {what} child failed: {}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }

    /// Medians of one convert, and the host's time per isolated convert, in ns.
    struct Converts {
        local: u64,
        hosted: u64,
        host_ran: u64,
        host_waited: u64,
    }

    /// Time on a CPU and waiting for one (ns) of the threads of process `pid`
    /// (`/proc/.../schedstat`).
    fn sched(pid: u32) -> (u64, u64) {
        let mut total = (0, 0);
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            let mut fields = text.split_whitespace().map(|w| w.parse::<u64>().unwrap_or(0));
            total.0 += fields.next().unwrap_or(0);
            total.1 += fields.next().unwrap_or(0);
        }
        total
    }

    /// One convert of `len` bytes from `from` to `to`, in process and isolated,
    /// timed over alternating rounds.
    fn convert(from: &Format, to: &Format, len: usize) -> Converts {
        let (local_m, hosted_m) = (super::common::manager(), isolated());
        let lib = super::common::g711_driver();
        let lib = lib.to_str().expect("UTF-8 path");
        let local = AcmCodec::open(&local_m, lib).expect("open drvg711");
        let hosted = AcmCodec::open(&hosted_m, lib).expect("open drvg711 isolated");
        let host = hosts()
            .into_iter()
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|m| m.contains("drvg711"))
            })
            .expect("the codec's host process");
        let (mut host_ran, mut host_waited) = (0, 0);
        let mut local_stream = local.stream(from, to).expect("stream");
        let mut hosted_stream = hosted.stream(from, to).expect("stream isolated");
        let src: Vec<u8> = (0..len / 2).flat_map(|i| ((i * 7919) as i16).to_le_bytes()).collect();
        let out_len = len * usize::from(to.bits_per_sample) / usize::from(from.bits_per_sample);
        let mut dst = vec![0u8; out_len];
        let (mut local_times, mut hosted_times) = (Vec::new(), Vec::new());
        for round in 0..=CONVERT_ROUNDS {
            for (stream, times, isolated) in
                [(&mut local_stream, &mut local_times, false), (&mut hosted_stream, &mut hosted_times, true)]
            {
                let before = sched(host);
                for _ in 0..CONVERTS_PER_ROUND {
                    let t = Instant::now();
                    let used = stream.convert(black_box(&src), &mut dst, ConvertFlags::default());
                    let ns = t.elapsed().as_nanos() as u64;
                    assert_eq!(used.expect("convert"), (len, out_len));
                    // Round 0 warms both up.
                    if round > 0 {
                        times.push(ns);
                    }
                }
                if isolated && round > 0 {
                    let after = sched(host);
                    host_ran += after.0 - before.0;
                    host_waited += after.1 - before.1;
                }
            }
        }
        let n = (CONVERT_ROUNDS * CONVERTS_PER_ROUND) as u64;
        drop((local_stream, hosted_stream));
        let median = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        Converts {
            local: median(&mut local_times),
            hosted: median(&mut hosted_times),
            host_ran: host_ran / n,
            host_waited: host_waited / n,
        }
    }

    /// CPU time (ns) and context switches of the threads of process `pid`,
    /// leaving out thread `except`.
    fn usage(pid: u32, except: Option<u32>) -> (u64, u64) {
        let (mut ns, mut switches) = (0, 0);
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().parse::<u32>().ok();
            if tid.is_none() || tid == except {
                continue;
            }
            let dir = task.path();
            let sched = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
            ns += sched.split_whitespace().next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
            let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches")
                    || line.starts_with("nonvoluntary_ctxt_switches")
                {
                    switches +=
                        line.split_whitespace().nth(1).and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
                }
            }
        }
        (ns, switches)
    }

    /// The host processes this process started (its children running drvproc-hostd).
    fn hosts() -> Vec<u32> {
        let me = std::process::id();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some((head, rest)) = stat.rsplit_once(')') else { continue };
            let parent = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
            if parent == Some(me) && head.ends_with("(drvproc-hostd") {
                found.push(pid);
            }
        }
        found
    }

    /// M3: the CPU an isolated module with no traffic costs.
    fn idle() {
        let m = isolated();
        let path = super::common::null_driver();
        let instance = m.open(path.to_str().expect("UTF-8 path"), None).expect("open the null driver");
        // SAFETY: integer parameters.
        let r = unsafe { m.send(instance.handle(), DRV_USER, 0, 0) };
        assert_eq!(r, Ok(0));
        let hosts = hosts();
        assert_eq!(hosts.len(), 1, "one host process: {hosts:?}");
        let host = hosts[0];
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() } as u32;
        // Let the last call's spins run out.
        std::thread::sleep(Duration::from_millis(50));
        let (app0, app_sw0) = usage(std::process::id(), Some(me));
        let (host0, host_sw0) = usage(host, None);
        std::thread::sleep(IDLE);
        let (app1, app_sw1) = usage(std::process::id(), Some(me));
        let (host1, host_sw1) = usage(host, None);
        println!(
            "M3 idle {} s: application's other threads {} ns CPU, {} wake-ups; host process {} ns CPU, {} wake-ups \
             (before: host {host0} ns CPU and {host_sw0} wake-ups since it started)",
            IDLE.as_secs(),
            app1 - app0,
            app_sw1 - app_sw0,
            host1 - host0,
            host_sw1 - host_sw0
        );
        instance.close().expect("close");
    }
}
