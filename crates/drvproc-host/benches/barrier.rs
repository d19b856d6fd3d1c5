//! The cost of the process-wide barrier a close pays when its instance was sent to,
//! and what that barrier does to another thread that is busy sending.
//!
//! Sends announce themselves with plain stores and only a compiler fence; a close of
//! an instance that has been sent to makes up for it with one process-wide barrier
//! (`membarrier` on Linux, `FlushProcessWriteBuffers` on Windows), which interrupts
//! every CPU currently running a thread of the process. A close of an instance never
//! sent to skips it.
//!
//! - B1: open + close of an instance never sent to (no barrier), per iteration.
//! - B2: open + one send + close (the close pays the barrier), per iteration; the
//!   close alone is also timed in both, so its difference is the barrier's price.
//! - B3: thread 2 sends in a tight loop to another open instance; its send rate with
//!   thread 1 idle, with thread 1 doing back-to-back open + send + close (one barrier
//!   per close), and two controls: thread 1 doing open + close without the send (table
//!   traffic, no barrier) and thread 1 spinning on nothing shared (what occupying a
//!   second CPU of a shared machine costs by itself). Rounds of the four alternate, and
//!   each figure is the median of its rounds. From the controls: thread 2's time lost
//!   per close with and without the barrier, and thread 1's time per open + send +
//!   close while another thread of the process runs (then the barrier must interrupt
//!   a CPU; in B2 no other thread runs).
//!
//! The module stays loaded throughout (a first instance is held open), so no figure
//! includes loading the driver. A plain program: `cargo bench -p drvproc-host --bench barrier`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use drvproc::Hdrvr;
use drvproc::consts::DRV_USER;
use drvproc_host::DriverManager;

mod common;
use common::*;

const ITERATIONS: usize = 20_000;
const WARM_UP: usize = 2_000;
const WINDOW: Duration = Duration::from_millis(700);
const ROUNDS: usize = 5;

/// A sorted sample of nanoseconds.
struct Sample(Vec<u64>);

impl Sample {
    fn new(mut ns: Vec<u64>) -> Self {
        ns.sort_unstable();
        Sample(ns)
    }

    fn median(&self) -> u64 {
        self.0[self.0.len() / 2]
    }

    fn p99(&self) -> u64 {
        self.0[self.0.len() * 99 / 100]
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What thread 1 does while thread 2 sends.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    Idle,
    /// A loop touching nothing shared: what merely occupying another CPU costs.
    Spin,
    /// open + send + close: one barrier per close.
    Barriers,
    /// open + close without a send: the same table work, no barrier.
    NoBarriers,
}

/// The calling thread's CPU time, where the platform tells it: unlike wall time it
/// leaves out the time other work on a shared machine takes the CPU away, but keeps
/// interrupts (the barrier's IPIs) taken while the thread runs.
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Option<Duration> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `t` is.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Rates of events: per second of wall time, and per second of the counting
/// thread's own CPU time (if known).
#[derive(Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

impl Rate {
    /// Counts from now on; [`Counter::rate`] ends the count.
    fn counter() -> Counter {
        Counter { wall: Instant::now(), cpu: thread_cpu_time() }
    }
}

struct Counter {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Counter {
    fn rate(&self, events: u64) -> Rate {
        let cpu = match (self.cpu, thread_cpu_time()) {
            (Some(start), Some(end)) if end > start => Some(events as f64 / (end - start).as_secs_f64()),
            _ => None,
        };
        Rate { wall: events as f64 / self.wall.elapsed().as_secs_f64(), cpu }
    }
}

/// One window under `load`: thread 2's sends to `busy`, thread 1's closes.
fn window(m: &DriverManager, name: &str, busy: Hdrvr, load: Load) -> (Rate, Rate) {
    let stop = AtomicBool::new(false);
    let started = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let sender = s.spawn(|| {
            started.wait();
            let counter = Rate::counter();
            let mut sends = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..256 {
                    // SAFETY: the null driver never dereferences its parameters.
                    black_box(unsafe { m.send(black_box(busy), DRV_USER + 1, 0, 0) }.expect("send"));
                }
                sends += 256;
            }
            counter.rate(sends)
        });
        started.wait();
        let counter = Rate::counter();
        let start = Instant::now();
        let mut closes = 0u64;
        match load {
            Load::Idle => std::thread::sleep(WINDOW),
            Load::Spin => {
                while start.elapsed() < WINDOW {
                    black_box(closes);
                }
            }
            Load::Barriers | Load::NoBarriers => {
                while start.elapsed() < WINDOW {
                    let h = m.open(name, None).expect("open").into_raw();
                    if load == Load::Barriers {
                        // SAFETY: as above.
                        black_box(unsafe { m.send(h, DRV_USER + 1, 0, 0) }.expect("send"));
                    }
                    m.close(h).expect("close");
                    closes += 1;
                }
            }
        }
        let closes = counter.rate(closes);
        stop.store(true, Ordering::Relaxed);
        (sender.join().expect("sender thread"), closes)
    })
}

/// The medians of each kind of rate over rounds.
fn median_rate(rates: &[Rate]) -> Rate {
    let cpu: Option<Vec<f64>> = rates.iter().map(|r| r.cpu).collect();
    Rate { wall: median(rates.iter().map(|r| r.wall).collect()), cpu: cpu.map(median) }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks benches to enumerate; this one is a program.
    }
    let path = null_driver();
    let name = path.to_str().expect("UTF-8 path");
    let m = manager();
    let keeper = m.open(name, None).expect("open the null driver");
    println!(
        "sends are fence-free (process-wide barrier on close): {}",
        drvproc_host::sends_are_fence_free()
    );

    // B1 and B2 interleaved, so that drift in the machine's load affects both alike.
    let timer = {
        let mut ns = Vec::with_capacity(ITERATIONS);
        for _ in 0..ITERATIONS {
            let t = Instant::now();
            ns.push(black_box(Instant::now()).duration_since(t).as_nanos() as u64);
        }
        Sample::new(ns)
    };
    let (mut b1, mut b1_close, mut b2, mut b2_close) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARM_UP + ITERATIONS {
        let t0 = Instant::now();
        let h = m.open(name, None).expect("open").into_raw();
        let t1 = Instant::now();
        m.close(h).expect("close");
        let t2 = Instant::now();

        let t3 = Instant::now();
        let h = m.open(name, None).expect("open").into_raw();
        // SAFETY: the null driver never dereferences its parameters.
        black_box(unsafe { m.send(h, DRV_USER + 1, 0, 0) }.expect("send"));
        let t4 = Instant::now();
        m.close(h).expect("close");
        let t5 = Instant::now();
        if i >= WARM_UP {
            b1.push((t2 - t0).as_nanos() as u64);
            b1_close.push((t2 - t1).as_nanos() as u64);
            b2.push((t5 - t3).as_nanos() as u64);
            b2_close.push((t5 - t4).as_nanos() as u64);
        }
    }
    let (b1, b1_close, b2, b2_close) =
        (Sample::new(b1), Sample::new(b1_close), Sample::new(b2), Sample::new(b2_close));
    println!("B1 open+close, not sent to: {} ns (p99 {} ns)", b1.median(), b1.p99());
    println!("B2 open+send+close: {} ns (p99 {} ns)", b2.median(), b2.p99());
    println!(
        "B2 close alone: {} ns after a send (p99 {} ns) vs {} ns never sent to (p99 {} ns): the barrier ~{} ns",
        b2_close.median(),
        b2_close.p99(),
        b1_close.median(),
        b1_close.p99(),
        b2_close.median().saturating_sub(b1_close.median())
    );
    println!(
        "B1/B2 {ITERATIONS} iterations each (after {WARM_UP} warm-up); timer overhead {} ns per reading pair, included",
        timer.median()
    );

    // B3: thread 2 sends to an instance of its own while thread 1 idles or closes.
    let busy = m.open(name, None).expect("open").into_raw();
    let loads = [Load::Idle, Load::Spin, Load::Barriers, Load::NoBarriers];
    let mut sends: Vec<Vec<Rate>> = vec![Vec::new(); loads.len()];
    let mut closes: Vec<Vec<Rate>> = vec![Vec::new(); loads.len()];
    window(&m, name, busy, Load::Barriers); // warm-up
    for _ in 0..ROUNDS {
        for (i, load) in loads.iter().enumerate() {
            let (s, c) = window(&m, name, busy, *load);
            sends[i].push(s);
            closes[i].push(c);
        }
    }
    m.close(busy).expect("close");
    let [idle, spin, during, control] = [0, 1, 2, 3].map(|i| median_rate(&sends[i]));
    let (barriers, control_closes) = (median_rate(&closes[2]), median_rate(&closes[3]));
    let slower = |rate: f64, base: f64| (1.0 - rate / base) * 100.0;
    println!(
        "B3 busy sender: {:.0} vs {:.0} sends/s ({:.1}% slower), {:.0} barriers/s",
        idle.wall,
        during.wall,
        slower(during.wall, idle.wall),
        barriers.wall
    );
    println!(
        "B3 control, thread 1 open+close without a send (no barrier): {:.0} sends/s ({:.1}% slower), {:.0} closes/s",
        control.wall,
        slower(control.wall, idle.wall),
        control_closes.wall
    );
    println!(
        "B3 control, thread 1 spinning (nothing shared): {:.0} sends/s ({:.1}% slower)",
        spin.wall,
        slower(spin.wall, idle.wall)
    );
    if let (Some(idle), Some(during), Some(control), Some(barriers), Some(control_closes)) =
        (idle.cpu, during.cpu, control.cpu, barriers.cpu, control_closes.cpu)
    {
        // Thread 2's CPU time lost per close of thread 1: the fraction of each of its
        // CPU-seconds lost, over the closes thread 1 made in a second of its own.
        let lost = |rate: f64, closes: f64| (1.0 - rate / idle).max(0.0) * 1e9 / closes;
        println!(
            "B3 per CPU-second of each thread (other work on the machine left out): {idle:.0} vs {during:.0} sends/s ({:.1}% slower), {barriers:.0} barriers/s; control without barrier {control:.0} sends/s ({:.1}% slower), {control_closes:.0} closes/s",
            slower(during, idle),
            slower(control, idle)
        );
        println!(
            "B3 thread 2's CPU time lost per close: {:.0} ns with the barrier, {:.0} ns without; thread 1's open+send+close while thread 2 runs: {:.0} ns (alone: B2)",
            lost(during, barriers),
            lost(control, control_closes),
            1e9 / barriers
        );
    }
    println!(
        "B3 median of {ROUNDS} rounds of {} ms each; {} CPUs",
        WINDOW.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    keeper.close().expect("close");
}
