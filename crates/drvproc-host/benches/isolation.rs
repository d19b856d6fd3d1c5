//! The cost of a call through the isolation channel to a server in another process.
//!
//! - I1: round trip of a trivial request (one integer in, one out), the waiter
//!   spinning 20 µs before it sleeps, and sleeping at once (spin 0). Each call is
//!   timed on its own over 200 000 calls, for the median and tail percentiles, with
//!   the voluntary context switches of the calling thread per call (0 when the fast
//!   path holds: no sleep, no system call that blocks).
//! - I2: a 64 KiB in + 64 KiB out call, as an ACM-style convert would make it: the
//!   application copies the source into the payload area, the server copies it to
//!   the out buffer (the "conversion"), the application copies the out buffer to its
//!   destination; against the in-process conversion alone, one 64 KiB copy.
//!   And the same call with the source left in the payload area and the out bytes
//!   read there: the channel's own share, without the application's two copies.
//! - I3: a trivial call 1 ms after the previous one, when the server sleeps: every
//!   call pays for waking a process.
//! - Then the same under criterion.
//!
//! This binary, run with `ISOLATION_BENCH_FD` set, is the server process. A plain
//! program: `cargo bench -p drvproc-host --bench isolation`.

// The channel is internal to the crate, so its source is compiled in here. The
// clippy check of benches sees its test modules without their tests, hence the allow.
#[cfg(target_os = "linux")]
#[allow(dead_code, unused_imports)]
#[path = "../src/isolation/channel.rs"]
mod channel;
#[cfg(target_os = "linux")]
#[allow(dead_code, unused_imports)]
#[path = "../src/isolation/protocol.rs"]
mod protocol;
#[cfg(target_os = "linux")]
mod isolation {
    pub(crate) use super::{channel, protocol};
}

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use criterion::Criterion;

    use crate::isolation::channel::{Client, DEFAULT_SPIN, Server};
    use crate::isolation::protocol::{PayloadDesc, Request, Response, dir, op, which};

    const FD_VAR: &str = "ISOLATION_BENCH_FD";
    const SPIN_VAR: &str = "ISOLATION_BENCH_SPIN_NS";
    const MSG_TRIVIAL: u32 = 1;
    const MSG_CONVERT: u32 = 2;
    /// Answers the server's voluntary context switches so far.
    const MSG_SLEEPS: u32 = 3;
    const BUF: usize = 64 * 1024;
    const CALLS: usize = 200_000;
    const BULK_CALLS: usize = 20_000;
    const IDLE_CALLS: usize = 2_000;

    pub(crate) fn main() {
        if let Ok(fd) = std::env::var(FD_VAR) {
            serve(&fd);
            return;
        }
        percentiles();
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    }

    fn serve(fd: &str) {
        let fd: i32 = fd.parse().expect("descriptor number");
        let spin: u64 = std::env::var(SPIN_VAR).expect("spin").parse().expect("spin in ns");
        // SAFETY: the parent cleared close-on-exec on this descriptor of its channel
        // and put its number in the environment; nothing else here owns it.
        let mut server = Server::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }).expect("the inherited channel");
        server.set_spin(Duration::from_nanos(spin));
        loop {
            let served = server.serve_one(|req, payload| {
                if req.msg == MSG_CONVERT {
                    let (a, b) = payload.split_at_mut(BUF);
                    b[..BUF].copy_from_slice(&a[..BUF]);
                }
                if req.msg == MSG_SLEEPS {
                    return Response { ret: voluntary_switches(), ..Response::default() };
                }
                Response { ret: req.l1, ..Response::default() }
            });
            match served {
                Ok(req) if req.op == op::SHUTDOWN => return,
                Ok(_) => {}
                Err(e) => panic!("server: {e}"),
            }
        }
    }

    /// A client with a server process at the other end, both spinning `spin`.
    struct Pair {
        client: Client,
        child: Child,
    }

    impl Pair {
        fn new(spin: Duration) -> Pair {
            let mut client = Client::create(2 * BUF).expect("channel");
            client.set_spin(spin);
            let fd = client.fd().as_raw_fd();
            let mut cmd = Command::new(std::env::current_exe().expect("bench binary path"));
            cmd.env(FD_VAR, fd.to_string()).env(SPIN_VAR, spin.as_nanos().to_string()).stdout(Stdio::null());
            // SAFETY: the closure runs in the forked child before exec and calls only
            // fcntl, async-signal-safe, on `fd`, inherited open from `client`.
            unsafe {
                cmd.pre_exec(move || {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            };
            let child = cmd.spawn().expect("server process");
            Pair { client, child }
        }

        fn server_sleeps(&mut self) -> i64 {
            let req = Request { op: op::CALL, msg: MSG_SLEEPS, ..Request::default() };
            self.client.call(&req, |_| {}, Duration::from_secs(5)).expect("call").response.ret
        }

        fn trivial(&mut self, i: i64) -> i64 {
            let req = Request { op: op::CALL, msg: MSG_TRIVIAL, l1: i, ..Request::default() };
            self.client.call(&req, |_| {}, Duration::from_secs(5)).expect("call").response.ret
        }

        fn convert_request() -> Request {
            let descs = [
                PayloadDesc { offset: 0, len: BUF as u32, dir: dir::IN, which: which::L1 },
                PayloadDesc { offset: BUF as u32, len: BUF as u32, dir: dir::OUT, which: which::L2 },
            ];
            Request { op: op::CALL, msg: MSG_CONVERT, descs, ..Request::default() }
        }

        fn convert(&mut self, src: &[u8], dst: &mut [u8]) {
            let req = Pair::convert_request();
            let reply = self
                .client
                .call(&req, |p| p[..BUF].copy_from_slice(src), Duration::from_secs(5))
                .expect("call");
            dst.copy_from_slice(&reply.payload[BUF..2 * BUF]);
        }

        /// A convert whose source is already in the payload area and whose out bytes
        /// are left there.
        fn convert_in_place(&mut self) -> i64 {
            let req = Pair::convert_request();
            self.client.call(&req, |_| {}, Duration::from_secs(5)).expect("call").response.ret
        }
    }

    impl Drop for Pair {
        fn drop(&mut self) {
            let req = Request { op: op::SHUTDOWN, ..Request::default() };
            if self.client.call(&req, |_| {}, Duration::from_secs(5)).is_err() {
                let _ = self.child.kill();
            }
            let _ = self.child.wait();
        }
    }

    /// Voluntary context switches of the calling thread so far (each sleep of the
    /// thread is one).
    fn voluntary_switches() -> i64 {
        // SAFETY: `rusage` is plain data, valid when zeroed.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable `rusage`.
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        ru.ru_nvcsw
    }

    /// Times `n` calls of `f` one by one, after `n / 10` unrecorded ones.
    fn time_each(n: usize, mut f: impl FnMut(usize)) -> (Vec<u64>, f64) {
        for i in 0..n / 10 {
            f(i);
        }
        let mut lat = Vec::with_capacity(n);
        let switches = voluntary_switches();
        for i in 0..n {
            let t = Instant::now();
            f(i);
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let per_call = (voluntary_switches() - switches) as f64 / n as f64;
        lat.sort_unstable();
        (lat, per_call)
    }

    fn report(label: &str, (lat, switches): (Vec<u64>, f64)) -> u64 {
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
        let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64 / 1000.0;
        println!(
            "{label:<34} n={:<7} median {:>7.2} µs  p90 {:>7.2}  p99 {:>7.2}  p99.9 {:>8.2}  max {:>9.2}  mean {:>7.2}  sleeps/call {switches:.3}",
            lat.len(),
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(0.999),
            pct(1.0),
            mean,
        );
        lat[lat.len() / 2]
    }

    fn percentiles() {
        println!("per-call latencies (Instant around each call; its own cost is included)");
        let empty = time_each(CALLS, |i| {
            black_box(i);
        });
        report("I0 Instant::now pair alone", empty);
        for (label, spin) in
            [("I1 trivial, spin 20 µs", DEFAULT_SPIN), ("I1 trivial, spin 0", Duration::ZERO)]
        {
            let mut pair = Pair::new(spin);
            let before = pair.server_sleeps();
            report(label, time_each(CALLS, |i| assert_eq!(pair.trivial(i as i64), i as i64)));
            let slept = pair.server_sleeps() - before;
            // Warm-up calls included. A sleep on either side costs one FUTEX_WAKE on
            // the other, so with both near 0 the calls make no system call.
            println!("{:<34} server sleeps/call {:.3}", "", slept as f64 / (CALLS + CALLS / 10) as f64);
        }
        // A call after the server has gone to sleep (as for an audio buffer every few
        // milliseconds): the wake-up of a sleeping process is in every one.
        let mut pair = Pair::new(DEFAULT_SPIN);
        let mut lat = Vec::with_capacity(IDLE_CALLS);
        let switches = voluntary_switches();
        for i in 0..IDLE_CALLS {
            std::thread::sleep(Duration::from_millis(1));
            let t = Instant::now();
            assert_eq!(pair.trivial(i as i64), i as i64);
            lat.push(t.elapsed().as_nanos() as u64);
        }
        // Less the sleeps' own switches, one each.
        let per_call = (voluntary_switches() - switches) as f64 / IDLE_CALLS as f64 - 1.0;
        lat.sort_unstable();
        report("I3 trivial after 1 ms idle, spin 20 µs", (lat, per_call));
        drop(pair);
        let src: Vec<u8> = (0..BUF).map(|i| (i * 7) as u8).collect();
        let mut dst = vec![0u8; BUF];
        let local = report(
            "I2 in-process 64 KiB copy",
            time_each(BULK_CALLS, |_| {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
            }),
        );
        for (label, spin) in [
            ("I2 isolated 64 KiB in+out, spin 20 µs", DEFAULT_SPIN),
            ("I2 isolated 64 KiB in+out, spin 0", Duration::ZERO),
        ] {
            let mut pair = Pair::new(spin);
            let isolated = report(
                label,
                time_each(BULK_CALLS, |_| {
                    pair.convert(black_box(&src), &mut dst);
                    black_box(&mut dst);
                }),
            );
            assert_eq!(dst, src);
            println!("{:<34} {:.2}× the in-process median", "", isolated as f64 / local as f64);
        }
        // The channel's share alone: the source stays in the payload area from the
        // first call on and the out bytes are left there, so only the server's copy
        // and the round trip remain (what buffers placed in the payload area by their
        // owner would cost).
        let mut pair = Pair::new(DEFAULT_SPIN);
        pair.convert(&src, &mut dst);
        let in_place = report(
            "I2 isolated 64 KiB, no app copies",
            time_each(BULK_CALLS, |_| {
                black_box(pair.convert_in_place());
            }),
        );
        println!("{:<34} {:.2}× the in-process median", "", in_place as f64 / local as f64);
    }

    fn criterion_benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("isolation");
        for (name, spin) in [("trivial_spin_20us", DEFAULT_SPIN), ("trivial_spin_0", Duration::ZERO)] {
            let mut pair = Pair::new(spin);
            let mut i = 0i64;
            g.bench_function(name, |b| {
                b.iter(|| {
                    i += 1;
                    black_box(pair.trivial(i))
                })
            });
        }
        let src: Vec<u8> = (0..BUF).map(|i| (i * 7) as u8).collect();
        let mut dst = vec![0u8; BUF];
        {
            let mut pair = Pair::new(DEFAULT_SPIN);
            g.bench_function("convert_64k_isolated_spin_20us", |b| {
                b.iter(|| {
                    pair.convert(black_box(&src), &mut dst);
                    black_box(&mut dst);
                })
            });
        }
        g.bench_function("copy_64k_in_process", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
            })
        });
        g.finish();
    }
}
