//! Waiting for a state word: the bounded, adaptive spin and the futex sleep of the
//! channel's waiters ("Sleeping without lost wake-ups" and "Spinning" in the
//! channel's notes say why each step is there).

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{DIRECT, EMPTY, FULL};

/// Spin-loop turns between two looks at the clock.
const SPIN_BATCH: u32 = 32;

pub(super) enum Wait {
    Dead,
    TimedOut,
    Failed(io::Error),
}

/// How long one waiter spins: at most `max`, less after spins that ended in a sleep
/// anyway (see "Spinning" in the channel's notes).
pub(super) struct Spin {
    max: Duration,
    /// The next spin's length; halved by each spin that ends in a sleep, back to
    /// `max` when a spin catches the word.
    budget: Duration,
    /// Waits since the budget fell below `MIN_SPIN`, when no spin is tried.
    skipped: u32,
    /// Whether each turn of the spin gives the CPU away (`sched_yield`).
    yields: bool,
}

/// A budget below this is not spun at all.
const MIN_SPIN: Duration = Duration::from_micros(1);
/// With the budget spent, one wait in this many still spins `max`, to notice that the
/// peer answers quickly again.
const PROBE_EVERY: u32 = 64;

impl Spin {
    pub(super) fn new(max: Duration) -> Spin {
        Spin { max, budget: max, skipped: 0, yields: false }
    }

    /// A spin of at most `max` whose every turn offers the CPU to another thread
    /// (`sched_yield`): for a waiter whose answer comes from a thread of the same
    /// CPU, which it must let run, without sleeping (see "Serving on the caller's
    /// CPU" in the channel's notes for why not sleeping matters).
    pub(super) fn yielding(max: Duration) -> Spin {
        Spin { yields: true, ..Spin::new(max) }
    }

    /// How long this wait spins.
    fn next(&mut self) -> Duration {
        if self.max.is_zero() || self.budget >= MIN_SPIN {
            return self.budget;
        }
        self.skipped += 1;
        if self.skipped < PROBE_EVERY {
            return Duration::ZERO;
        }
        self.skipped = 0;
        self.max
    }

    fn caught(&mut self) {
        self.budget = self.max;
        self.skipped = 0;
    }

    fn missed(&mut self) {
        self.budget /= 2;
    }
}

/// Waits until `state` is `FULL`: spins (for `spin.next()`), then sets `sleeping`
/// and sleeps on the futex, until `deadline` if there is one.
///
/// `EMPTY` means "not yet", and so does `DIRECT` when `direct_too` (the main
/// thread's wait on the request word): a request that a thread bound to a CPU
/// takes ("Serving on the caller's CPU"). Seeing it ends the spin at once,
/// without counting as a miss: the call it belongs to is long, so spinning
/// through it is waste, and it says nothing about how fast this waiter's own
/// calls are answered. Any other value is `DEAD`.
pub(super) fn wait_for(
    state: &AtomicU32,
    sleeping: &AtomicU32,
    direct_too: bool,
    spin: &mut Spin,
    deadline: Option<Instant>,
) -> Result<(), Wait> {
    let look = |v: u32| match v {
        FULL => Some(Ok(())),
        EMPTY => None,
        DIRECT if direct_too => None,
        _ => Some(Err(Wait::Dead)),
    };
    let first = state.load(Ordering::Acquire);
    if let Some(r) = look(first) {
        return r;
    }
    let spin_for = if first == EMPTY { spin.next() } else { Duration::ZERO };
    if !spin_for.is_zero() {
        let start = Instant::now();
        'spin: loop {
            // Plain loads, no `spin_loop()` (PAUSE on x86): see "Spinning" in the
            // channel's notes.
            for _ in 0..SPIN_BATCH {
                let v = state.load(Ordering::Acquire);
                if let Some(r) = look(v) {
                    spin.caught();
                    return r;
                }
                if v != EMPTY {
                    break 'spin;
                }
            }
            if start.elapsed() >= spin_for {
                spin.missed();
                break;
            }
            if spin.yields {
                // SAFETY: no arguments; it only gives up the rest of the time slice.
                unsafe { libc::sched_yield() };
            }
        }
    }
    loop {
        sleeping.store(1, Ordering::SeqCst);
        let seen = state.load(Ordering::SeqCst);
        if let Some(r) = look(seen) {
            sleeping.store(0, Ordering::Relaxed);
            return r;
        }
        let left = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => {
                    sleeping.store(0, Ordering::Relaxed);
                    return Err(Wait::TimedOut);
                }
            },
        };
        let woke = futex_wait(state, seen, left);
        sleeping.store(0, Ordering::Relaxed);
        if let Err(e) = woke {
            match e.raw_os_error() {
                // The word changed before the sleep, a signal, or the time ran out:
                // look again (the deadline is checked above).
                Some(libc::EAGAIN | libc::EINTR | libc::ETIMEDOUT) => {}
                _ => return Err(Wait::Failed(e)),
            }
        }
        if let Some(r) = look(state.load(Ordering::Acquire)) {
            return r;
        }
    }
}

/// Sleeps while `word` holds `expected`, at most `timeout`. Not the private variant:
/// the word is in memory shared between processes.
pub(super) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<()> {
    let ts = timeout.map(|t| libc::timespec {
        // Saturates: a wait longer than `time_t` allows is a wait without limit anyway.
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10^9, so it fits a 32-bit `c_long` too.
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr` is
    // null or points at `ts`, alive until the call returns; the kernel only reads
    // both. The value is passed as the kernel's `u32` bit pattern.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr, 0usize, 0u32)
    };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Wakes up to `n` waiters sleeping on `word`.
pub(super) fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE only uses its address as a
    // key. The result (the number woken) is not needed.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n, 0usize, 0usize, 0u32) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_shrink_when_they_miss_and_recover_when_they_catch() {
        let max = Duration::from_micros(20);
        let mut spin = Spin::new(max);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(spin.next().as_nanos());
            spin.missed();
        }
        assert_eq!(seen, [20_000, 10_000, 5_000, 2_500, 1_250]);
        // 625 ns is below the minimum: 63 waits without a spin, then one full probe.
        let probes: Vec<_> = (0..2 * PROBE_EVERY).map(|_| spin.next()).collect();
        let full: Vec<_> = probes.iter().enumerate().filter(|(_, d)| !d.is_zero()).map(|(i, _)| i).collect();
        assert_eq!(full, [63, 127]);
        assert_eq!(probes[63], max);
        spin.caught();
        assert_eq!(spin.next(), max);
        let mut off = Spin::new(Duration::ZERO);
        assert!((0..200).all(|_| off.next().is_zero()));
    }
}
