//! Probing many entries in few child processes.
//!
//! A child per entry made `list` and `doctor` of a large registry slow twice over: a
//! process start per entry, and a read of the whole registry in each. Here one
//! child probes a batch of entries, reading the registry once, and announces each
//! entry ([`Reporter::note`]) before probing it, so that when a driver kills or
//! stalls the child, the parent knows whose fault it was.
//!
//! The verdict on a driver that crashes or hangs is only given from a child in
//! which it was the first driver probed: a driver probed earlier in the same child
//! may have left something behind (a thread, a signal handler) that struck later.
//! So a death while probing entry k > 0 probes entry k again alone, then the rest
//! of the batch (whose results the dead child took with it) in a new child. A death
//! after the last entry (while exiting) or before the first splits the batch in
//! halves until one entry is left to blame. Each child thus decides at least one
//! entry, or leaves smaller batches, so the probing ends.
//!
//! The timeout is per entry, as with a child per entry: the child's own watchdog
//! restarts the clock at each entry and ends the child with [`WATCHDOG_STATUS`] when
//! one takes longer. The parent's deadline for the whole child, the timeout times
//! the entries plus [`GRACE`], only catches a child whose watchdog cannot run (a
//! driver that stopped the whole process).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{ProbeReport, failed_entry, probe_entry, read_registry};
use crate::child::{self, Death, End, Outcome, Reporter};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};

/// At most this many entries go to one child.
const BATCH_ENTRIES: usize = 64;

/// At most this many bytes of aliases (JSON-quoted) and values go to one child,
/// unless a single entry is longer: the aliases travel as one command-line argument
/// (Linux takes up to 128 KiB), and the report, which repeats the values, must stay
/// under the child's report limit.
const BATCH_BYTES: usize = 64 * 1024;

/// A request longer than this cannot be one argument; such an entry (an alias near
/// 128 KiB, quoted) is probed by the single-entry step, which passes the alias bare.
const ARG_LIMIT: usize = 120 * 1024;

/// The status the child's watchdog exits with when an entry overstays the timeout.
pub const WATCHDOG_STATUS: i32 = 124;

/// Time a child may take beyond the entries' own (starting, reading the registry).
const GRACE: Duration = Duration::from_secs(5);

/// How often the watchdog looks at the clock.
const WATCHDOG_POLL: Duration = Duration::from_millis(10);

/// The note announcing the entry at this position of the batch.
const ENTRY_NOTE: &str = "entry ";

/// The note after the last entry, before the report.
const DONE_NOTE: &str = "done";

/// What the parent asks a batch child to probe (its one argument, as JSON).
#[derive(Serialize, Deserialize)]
struct Request {
    /// The time each entry may take.
    timeout_ms: u64,
    /// The entries of the step's section, by alias: the child reads the values from
    /// the registry, once.
    aliases: Vec<String>,
}

/// The child's side of `probe-batch:SECTION` and `probe-load-batch:SECTION`: probes
/// each alias of `request` in turn, each announced by a note, and reports the list of
/// their reports.
pub fn serve_batch(
    ctx: &Ctx,
    section: &str,
    request: &str,
    load: bool,
    reporter: &mut Reporter,
) -> CliResult {
    let request: Request =
        serde_json::from_str(request).map_err(|e| CliError::Usage(format!("not a probe batch: {e}")))?;
    let manager = ctx.manager();
    let doc = read_registry(&manager);
    let watchdog = Watchdog::start(Duration::from_millis(request.timeout_ms));
    let mut reports = Vec::with_capacity(request.aliases.len());
    for (i, alias) in request.aliases.iter().enumerate() {
        reporter.note(&format!("{ENTRY_NOTE}{i}"))?;
        watchdog.arm();
        reports.push(match &doc {
            Ok(doc) => probe_entry(ctx, &manager, doc, section, alias, load),
            Err(report) => ProbeReport::clone(report),
        });
    }
    watchdog.disarm();
    reporter.note(DONE_NOTE)?;
    reporter.report(&reports)?;
    Ok(())
}

/// A thread that ends the process when an entry takes longer than the timeout.
struct Watchdog {
    deadline: Arc<Mutex<Option<Instant>>>,
    timeout: Duration,
}

impl Watchdog {
    fn start(timeout: Duration) -> Watchdog {
        let deadline = Arc::new(Mutex::new(None::<Instant>));
        let watched = deadline.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(WATCHDOG_POLL);
                let due = *watched.lock().unwrap_or_else(PoisonError::into_inner);
                if due.is_some_and(|due| Instant::now() >= due) {
                    overstayed();
                }
            }
        });
        Watchdog { deadline, timeout }
    }

    /// Starts the clock for the next entry.
    fn arm(&self) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + self.timeout);
    }

    fn disarm(&self) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Ends the process at once with [`WATCHDOG_STATUS`]: no exit handlers, which the
/// stalled driver's state could stall too.
fn overstayed() -> ! {
    #[cfg(unix)]
    // SAFETY: _exit(2) takes a plain integer and ends the process; it touches no
    // memory of this program.
    unsafe {
        libc::_exit(WATCHDOG_STATUS)
    }
    #[cfg(not(unix))]
    std::process::exit(WATCHDOG_STATUS)
}

/// Where in its batch a child stopped, from its last note.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// While probing the entry at this position.
    Entry(usize),
    /// Before the first entry or after the last: no entry to blame yet.
    Elsewhere,
}

fn stop_of(during: Option<&str>, entries: usize) -> Stop {
    match during.and_then(|d| d.strip_prefix(ENTRY_NOTE)).and_then(|k| k.parse().ok()) {
        Some(k) if k < entries => Stop::Entry(k),
        _ => Stop::Elsewhere,
    }
}

/// What happened to a child that did not report.
enum Verdict {
    Crashed(Death),
    Hung(Duration),
}

impl Verdict {
    fn report(&self, value: &str) -> ProbeReport {
        match self {
            Verdict::Crashed(how) => failed_entry(
                value,
                format!("the driver crashed when probed in a child process: {how}"),
                "report the crash to the driver's author (drvctl check shows which messages crash it)".into(),
            ),
            Verdict::Hung(t) => failed_entry(
                value,
                format!("the driver did not answer within {} s (hang)", t.as_secs()),
                "report the hang to the driver's author (drvctl check shows which messages hang)".into(),
            ),
        }
    }
}

/// The entries (alias, value) at positions `unknown`, in batches of at most
/// [`BATCH_ENTRIES`] entries and [`BATCH_BYTES`] bytes.
fn batches(entries: &[(&str, &str)], unknown: &[usize]) -> VecDeque<Vec<usize>> {
    let mut out = VecDeque::new();
    let (mut current, mut bytes) = (Vec::new(), 0);
    for &i in unknown {
        let (alias, value) = entries[i];
        let size = quoted_len(alias) + value.len();
        if !current.is_empty() && (current.len() == BATCH_ENTRIES || bytes + size > BATCH_BYTES) {
            out.push_back(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes += size;
    }
    if !current.is_empty() {
        out.push_back(current);
    }
    out
}

/// The length of `text` as a JSON string.
fn quoted_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6 + 2, |q| q.len())
}

/// How a batch child ended.
enum Ran {
    /// A report for each entry, in order.
    Reported(Vec<ProbeReport>),
    /// It died or hung, there.
    Failed(Stop, Verdict),
    /// It could not be started: why.
    NotStarted(String),
}

/// What was decided about one entry.
enum Decided {
    Report(ProbeReport),
    Verdict(Verdict),
    NotStarted(String),
}

/// Runs the batches of `queue` with `run`, and after a failure the batches it calls
/// for (see the module's documentation), until every entry is `decide`d. Each run
/// decides at least one entry or leaves only smaller batches, so this ends.
fn schedule(
    mut queue: VecDeque<Vec<usize>>,
    run: &mut dyn FnMut(&[usize]) -> Ran,
    decide: &mut dyn FnMut(usize, Decided),
) {
    while let Some(batch) = queue.pop_front() {
        let n = batch.len();
        let (stop, verdict) = match run(&batch) {
            Ran::Reported(found) => {
                for (&i, report) in batch.iter().zip(found) {
                    decide(i, Decided::Report(report));
                }
                continue;
            }
            Ran::NotStarted(why) => {
                for &i in &batch {
                    decide(i, Decided::NotStarted(why.clone()));
                }
                continue;
            }
            Ran::Failed(stop, verdict) => (stop, verdict),
        };
        match stop {
            // The driver was the first probed in its child: it is to blame.
            Stop::Entry(0) => {
                decide(batch[0], Decided::Verdict(verdict));
                if n > 1 {
                    queue.push_front(batch[1..].to_vec());
                }
            }
            Stop::Elsewhere if n == 1 => decide(batch[0], Decided::Verdict(verdict)),
            // Probe it alone first, then the others again.
            Stop::Entry(k) => {
                let rest: Vec<usize> = batch[..k].iter().chain(&batch[k + 1..]).copied().collect();
                queue.push_front(rest);
                queue.push_front(vec![batch[k]]);
            }
            Stop::Elsewhere => {
                let (first, second) = batch.split_at(n / 2);
                queue.push_front(second.to_vec());
                queue.push_front(first.to_vec());
            }
        }
    }
}

/// Probes the entries at positions `unknown` of `entries` (alias, value) of
/// `section` in batch children, filling in their `reports`; `progress` hears how
/// many of all the entries are decided before each child starts.
#[allow(clippy::too_many_arguments)]
pub(super) fn probe_in_children(
    ctx: &Ctx,
    section: &str,
    entries: &[(&str, &str)],
    unknown: &[usize],
    load: bool,
    timeout: Duration,
    reports: &mut [Option<ProbeReport>],
    progress: &mut dyn FnMut(usize),
) {
    let step = format!("{}:{section}", if load { "probe-load-batch" } else { "probe-batch" });
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let decided = Cell::new(entries.len() - unknown.len());
    let mut run = |batch: &[usize]| {
        progress(decided.get());
        let request =
            Request { timeout_ms, aliases: batch.iter().map(|&i| entries[i].0.to_string()).collect() };
        let target = serde_json::to_string(&request).unwrap_or_default();
        if batch.len() == 1 && target.len() > ARG_LIMIT {
            let (alias, value) = entries[batch[0]];
            return Ran::Reported(vec![probe_alone(ctx, section, alias, value, load, timeout)]);
        }
        let n = batch.len();
        let started = Instant::now();
        let limit = timeout.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX)).saturating_add(GRACE);
        match child::run::<Vec<ProbeReport>>(ctx, &step, &target, limit) {
            Ok(Outcome::Reported(found)) if found.len() == n => Ran::Reported(found),
            Ok(Outcome::Reported(found)) => {
                let said = format!("it reported on {} entries of {n}", found.len());
                let death = Death { end: End::Unknown, during: None, last_words: said };
                Ran::Failed(Stop::Elsewhere, Verdict::Crashed(death))
            }
            Ok(Outcome::Died(mut death)) => {
                let stop = stop_of(death.during.as_deref(), n);
                // The stage is drvctl's own bookkeeping, not the driver's.
                death.during = None;
                let watchdog = death.end == End::Exited(WATCHDOG_STATUS) && started.elapsed() >= timeout;
                Ran::Failed(stop, if watchdog { Verdict::Hung(timeout) } else { Verdict::Crashed(death) })
            }
            Ok(Outcome::TimedOut(_, during)) => {
                Ran::Failed(stop_of(during.as_deref(), n), Verdict::Hung(timeout))
            }
            Err(e) => Ran::NotStarted(format!("cannot start a process to probe it: {e}")),
        }
    };
    schedule(batches(entries, unknown), &mut run, &mut |i, decision| {
        let value = entries[i].1;
        decided.set(decided.get() + 1);
        reports[i] = Some(match decision {
            Decided::Report(report) => report,
            Decided::Verdict(verdict) => verdict.report(value),
            Decided::NotStarted(why) => failed_entry(value, why, "try again".into()),
        });
    });
}

/// Probes one entry by itself with the single-entry step, which passes the alias as
/// it is.
fn probe_alone(
    ctx: &Ctx,
    section: &str,
    alias: &str,
    value: &str,
    load: bool,
    timeout: Duration,
) -> ProbeReport {
    let step = format!("{}:{section}", if load { "probe-load" } else { "probe" });
    match child::run::<ProbeReport>(ctx, &step, alias, timeout) {
        Ok(Outcome::Reported(r)) => r,
        Ok(Outcome::Died(how)) => Verdict::Crashed(how).report(value),
        Ok(Outcome::TimedOut(t, _)) => Verdict::Hung(t).report(value),
        Err(e) => failed_entry(value, format!("cannot start a process to probe it: {e}"), "try again".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let long = "x".repeat(BATCH_BYTES / 2);
        let mut entries: Vec<(&str, &str)> = vec![("a", "a.so"); 70];
        entries.extend([("b", long.as_str()), ("c", long.as_str()), ("d", long.as_str())]);
        let all: Vec<usize> = (0..entries.len()).collect();
        let sizes: Vec<usize> = batches(&entries, &all).iter().map(Vec::len).collect();
        assert_eq!(sizes, [64, 7, 1, 1]);
        let odd: Vec<usize> = vec![3, 5];
        assert_eq!(batches(&entries, &odd), [vec![3, 5]]);
    }

    /// Batches run against drivers that misbehave: entry 5 kills its child while it
    /// is probed, entry 3 kills its child on the way out (after the last entry), and
    /// entry 8 only when probed after entry 7 in the same child.
    #[test]
    fn every_entry_is_decided_once_and_only_the_culprits_are_blamed() {
        let mut runs = Vec::new();
        let mut run = |batch: &[usize]| {
            runs.push(batch.to_vec());
            let crash = |during| {
                let death = Death { end: End::Signal(6), during, last_words: String::new() };
                Verdict::Crashed(death)
            };
            for (k, &i) in batch.iter().enumerate() {
                if i == 5 || (i == 8 && batch[..k].contains(&7)) {
                    return Ran::Failed(Stop::Entry(k), crash(None));
                }
            }
            if batch.contains(&3) {
                return Ran::Failed(Stop::Elsewhere, crash(Some("done".into())));
            }
            Ran::Reported(
                batch.iter().map(|i| ProbeReport { file: i.to_string(), ..Default::default() }).collect(),
            )
        };
        let mut decided = vec![None; 10];
        schedule(VecDeque::from([(0..10).collect()]), &mut run, &mut |i, d| {
            assert!(decided[i].is_none(), "entry {i} decided twice");
            decided[i] = Some(match d {
                Decided::Report(r) => r.file,
                Decided::Verdict(_) => "blamed".into(),
                Decided::NotStarted(_) => "not started".into(),
            });
        });
        let decided: Vec<String> = decided.into_iter().map(Option::unwrap).collect();
        assert_eq!(decided, ["0", "1", "2", "blamed", "4", "blamed", "6", "7", "8", "9"]);
        // 5 is probed alone before it is blamed; the halving finds 3.
        assert_eq!(runs[..2], [(0..10).collect::<Vec<_>>(), vec![5]]);
        assert!(runs.len() <= 12, "{runs:?}");
    }

    #[test]
    fn a_stop_is_read_from_the_last_note() {
        assert_eq!(stop_of(Some("entry 2"), 3), Stop::Entry(2));
        assert_eq!(stop_of(Some("entry 3"), 3), Stop::Elsewhere);
        assert_eq!(stop_of(Some("done"), 3), Stop::Elsewhere);
        assert_eq!(stop_of(None, 3), Stop::Elsewhere);
    }
}
