//! Manager benchmarks (P1, P2, P3, P5 of the performance targets). `scripts/bench.sh`
//! runs them and prints the ratios; see BENCHMARKS.md.
//!
//! - `send/direct` vs `send/manager`: a call of the null driver's `DriverProc` pointer
//!   against `DriverManager::send` to it (P1); `send/sdk`: the same send to an instance
//!   of `drvnullsdk`, the null driver written with the SDK (P1-SDK, against `send/manager`).
//! - `open_close/N`: open + close of one more instance of a loaded module while N
//!   instances are open (P2, and the flatness plot).
//! - `threads/*`: time for a fixed number of sends on one thread, on two threads to one
//!   handle, on two threads to two handles (P3: the throughput ratios); `*_sdk*`: one
//!   thread, and two threads each with its own instance, of `drvnullsdk`.
//! - `cold/*`: first open + last close (dlopen, DRV_LOAD, ...) against the platform's
//!   own dlopen + dlclose of the same file (P5).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use drvproc::consts::DRV_USER;
use drvproc::{DriverProc, Hdrvr};
use drvproc_host::DriverManager;

mod common;
use common::*;

fn send(c: &mut Criterion) {
    let path = null_driver();
    let m = manager();
    let instance = m.open(path.to_str().unwrap(), None).unwrap();
    let h = instance.handle();
    // SAFETY: the null driver's own DriverProc, kept mapped by the open instance.
    let lib = unsafe { libloading::Library::new(&path) }.unwrap();
    // SAFETY: the export has the DriverProc type.
    let direct: DriverProc = *unsafe { lib.get::<DriverProc>(b"DriverProc\0") }.unwrap();
    let sdk_path = null_sdk_driver();
    let sdk_instance = m.open(sdk_path.to_str().unwrap(), None).unwrap();
    let sdk_h = sdk_instance.handle();
    let mut g = c.benchmark_group("send");
    g.bench_function("direct", |b| {
        let f = black_box(direct);
        // SAFETY: the null driver never dereferences its parameters.
        b.iter(|| unsafe { f(black_box(1), black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) })
    });
    g.bench_function("manager", |b| {
        // SAFETY: as above.
        b.iter(|| unsafe { m.send(black_box(h), black_box(DRV_USER), black_box(0), black_box(0)) })
    });
    g.bench_function("sdk", |b| {
        // SAFETY: drvnullsdk never dereferences a custom message's parameters.
        b.iter(|| unsafe { m.send(black_box(sdk_h), black_box(DRV_USER), black_box(0), black_box(0)) })
    });
    g.finish();
}

fn open_close(c: &mut Criterion) {
    let path = null_driver();
    let name = path.to_str().unwrap().to_string();
    let mut g = c.benchmark_group("open_close");
    for open in [1usize, 10, 100, 1_000, 10_000, 100_000] {
        let m = manager();
        let held: Vec<Hdrvr> = (0..open).map(|_| m.open(&name, None).unwrap().into_raw()).collect();
        g.bench_with_input(BenchmarkId::from_parameter(open), &open, |b, _| {
            b.iter(|| m.open(black_box(&name), None).unwrap().close().unwrap())
        });
        for h in held {
            m.close(h).unwrap();
        }
    }
    g.finish();
}

/// Total time of `per_thread` sends on each of `threads` threads, spread over `handles`.
fn timed_sends(m: &DriverManager, handles: &[Hdrvr], threads: usize, per_thread: u64) -> Duration {
    let start_line = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (start_line, h) = (&start_line, handles[t % handles.len()]);
            s.spawn(move || {
                start_line.wait();
                for _ in 0..per_thread {
                    // SAFETY: neither null driver dereferences a custom message's parameters.
                    black_box(unsafe { m.send(black_box(h), DRV_USER, 0, 0) }.unwrap());
                }
            });
        }
        start_line.wait();
        Instant::now()
    })
    // The scope has joined every thread: the elapsed time covers all their sends.
    .elapsed()
}

fn threads(c: &mut Criterion) {
    let path = null_driver();
    let m = manager();
    let a = m.open(path.to_str().unwrap(), None).unwrap();
    let b2 = m.open(path.to_str().unwrap(), None).unwrap();
    let (ha, hb) = (a.handle(), b2.handle());
    let sdk_path = null_sdk_driver();
    let sdk_a = m.open(sdk_path.to_str().unwrap(), None).unwrap();
    let sdk_b = m.open(sdk_path.to_str().unwrap(), None).unwrap();
    let (sa, sb) = (sdk_a.handle(), sdk_b.handle());
    let mut g = c.benchmark_group("threads");
    // Each iteration is one send per thread: criterion's per-iteration time is then
    // wall time per round, and throughput = threads / time.
    for (label, threads, handles) in [
        ("one_thread", 1, vec![ha]),
        ("two_threads_one_handle", 2, vec![ha]),
        ("two_threads_two_handles", 2, vec![ha, hb]),
        ("one_thread_sdk", 1, vec![sa]),
        ("two_threads_two_sdk_instances", 2, vec![sa, sb]),
    ] {
        g.bench_function(label, |b| b.iter_custom(|iters| timed_sends(&m, &handles, threads, iters)));
    }
    g.finish();
}

fn cold(c: &mut Criterion) {
    let path = null_driver();
    let name = path.to_str().unwrap().to_string();
    let m = manager();
    let mut g = c.benchmark_group("cold");
    g.bench_function("dlopen_dlclose", |b| {
        // SAFETY: the null driver has no initialisers beyond Rust's std.
        b.iter(|| drop(unsafe { libloading::Library::new(black_box(&path)) }.unwrap()))
    });
    g.bench_function("open_close", |b| b.iter(|| m.open(black_box(&name), None).unwrap().close().unwrap()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = send, open_close, threads, cold
}
criterion_main!(benches);
