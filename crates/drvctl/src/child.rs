//! Running one step in a child drvctl, so a driver that crashes, aborts, hangs or
//! misbehaves with its process takes down only that child.
//!
//! The driver shares the child with the step, so nothing the driver can reach decides
//! the result on its own:
//!
//! - The step's report travels on a pipe of its own, which drvctl passes as named in
//!   [`REPORT_FD_VAR`]: on Unix a descriptor, on Windows the child's standard input
//!   handle. stdout and stderr belong to the driver as much as to the step and are
//!   only evidence, of which the last [`TAIL`] bytes each are kept (with `-v` stderr
//!   is also relayed to drvctl's stderr as it arrives: the child's call log).
//! - Before any driver is loaded the child takes the variable out of its environment
//!   and moves the pipe elsewhere (an unpredictable descriptor number; on Windows a
//!   new handle, with standard input left empty). That raises the bar; it is no
//!   wall, as a driver in the same process can always find its handles. Hence:
//! - A child that did not exit with status 0 never counts as having reported.
//! - The child heads a process tree that is killed as a whole once it exits, or at
//!   the deadline, and reading stops, so a helper process the driver started cannot
//!   keep drvctl waiting on pipes it inherited. On Unix the tree is the child's own
//!   process group; on Windows a job object the child is put in before it runs, which
//!   also kills the tree when drvctl dies (the job's last handle closes).
//! - Being in a group of its own, the child gets no Ctrl-C from the terminal. drvctl
//!   catches SIGINT, SIGTERM and SIGHUP (on Windows Ctrl-C, Ctrl-Break and the console
//!   closing) ([`catch_signals`]) to kill the trees of the children running, and
//!   [`run`] then fails with [`Interrupted`], so the command unwinds (undoing a
//!   registry edit in progress) before drvctl dies of the signal. On Linux the child
//!   is also killed if drvctl dies first (`PR_SET_PDEATHSIG`).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Ctx;

mod signals;

pub use signals::{catch_signals, die_of, interrupted, interruption_text};

/// The environment variable naming the report channel in the child: a descriptor
/// number on Unix, `stdin` on Windows.
pub const REPORT_FD_VAR: &str = "DRVCTL_REPORT_FD";

/// How much of the child's stdout and of its stderr is kept, each.
pub const TAIL: usize = 64 * 1024;

/// A report longer than this is not a report (the step's own are a few hundred bytes).
const REPORT_LIMIT: usize = 1024 * 1024;

/// After the child exited, how long output still buffered in the pipes is read.
const DRAIN: Duration = Duration::from_millis(50);

/// How a child step ended.
pub enum Outcome<T> {
    /// It reported a result and exited cleanly.
    Reported(T),
    /// It died, or exited without a report or with a non-zero status.
    Died(Death),
    /// It did not finish in time (its process group was killed): the time it had,
    /// and the last stage it announced with [`Reporter::note`].
    TimedOut(Duration, Option<String>),
}

/// How a child died, for messages like "the driver {death}".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    pub end: End,
    /// The last stage the step announced with [`Reporter::note`] (a message name).
    pub during: Option<String>,
    /// The last non-empty line of its stderr, shortened.
    pub last_words: String,
}

/// The end of a child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It exited with this status (0 too, when it never reported).
    Exited(i32),
    /// A signal killed it (Unix).
    Signal(i32),
    /// An exception nothing handled ended it (Windows): the exception code, which
    /// Windows gives as the process's exit status.
    Exception(u32),
    /// The platform said neither.
    Unknown,
}

impl End {
    /// The end of a process that exited with `code` (`None`: it did not exit) or was
    /// killed by `signal` (only on Unix). Some exit statuses are Windows exception
    /// codes ([`is_exception`]); Unix statuses are 0 to 255 and never look like one.
    pub fn of(code: Option<i32>, signal: Option<i32>) -> End {
        match (code, signal) {
            (_, Some(signal)) => End::Signal(signal),
            (Some(code), None) if is_exception(code as u32) => End::Exception(code as u32),
            (Some(code), None) => End::Exited(code),
            (None, None) => End::Unknown,
        }
    }
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            End::Exited(code) => write!(f, "exited (status {code})")?,
            End::Signal(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})")?,
                None => write!(f, "killed by signal {signal}")?,
            },
            End::Exception(code) => write!(f, "ended by exception {}", exception_text(code))?,
            End::Unknown => write!(f, "ended abnormally")?,
        }
        if let Some(stage) = &self.during {
            write!(f, " during {stage}")?;
        }
        if !self.last_words.is_empty() {
            write!(f, ": {}", self.last_words)?;
        }
        Ok(())
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Whether an exit status is a Windows exception code: a system NTSTATUS of error
/// severity (`0xC...`), a C++ exception or a breakpoint. (`exit(-1)` is 0xFFFFFFFF.)
fn is_exception(code: u32) -> bool {
    code >> 28 == 0xC || code == 0xE06D_7363 || code == 0x8000_0003
}

/// "0xC0000005 (access violation)".
pub fn exception_text(code: u32) -> String {
    let name = match code {
        0x8000_0003 => "breakpoint",
        0xC000_0005 => "access violation",
        0xC000_0006 => "in-page error",
        0xC000_001D => "illegal instruction",
        0xC000_008C => "array bounds exceeded",
        0xC000_008E => "floating-point division by zero",
        0xC000_0094 => "integer division by zero",
        0xC000_0095 => "integer overflow",
        0xC000_0096 => "privileged instruction",
        0xC000_00FD => "stack overflow",
        0xC000_013A => "Ctrl-C",
        0xC000_0135 => "a DLL was not found",
        0xC000_0142 => "a DLL failed to initialise",
        0xC000_0374 => "heap corruption",
        0xC000_0409 => "fast fail: the process aborted itself",
        0xE06D_7363 => "unhandled C++ exception",
        _ => return format!("0x{code:08X}"),
    };
    format!("0x{code:08X} ({name})")
}

/// The last `cap` bytes written to a stream.
pub struct Tail {
    bytes: VecDeque<u8>,
    cap: usize,
}

impl Tail {
    pub fn new(cap: usize) -> Tail {
        Tail { bytes: VecDeque::new(), cap }
    }

    pub fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.cap)..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.cap);
        self.bytes.drain(..excess);
        self.bytes.extend(data);
    }

    /// The bytes kept, decoded lossily (a driver may print anything).
    pub fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }
}

/// The error [`run`] fails with (inside an `io::Error`) when a signal asked drvctl to
/// stop: the child's process group was killed. The signal's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by signal {0}")]
pub struct Interrupted(pub i32);

impl Interrupted {
    fn error(signal: i32) -> io::Error {
        io::Error::new(io::ErrorKind::Interrupted, Interrupted(signal))
    }
}

/// What the child left behind.
struct Finished {
    /// `None`: the deadline passed first.
    status: Option<ExitStatus>,
    report: Vec<u8>,
    stderr: Tail,
}

/// Runs `drvctl __worker STEP TARGET` and decodes its report.
///
/// Fails with [`Interrupted`] when drvctl got SIGINT, SIGTERM or SIGHUP before or
/// while the child ran. Called from the main thread only: on Linux the child dies
/// with the thread that started it (`PR_SET_PDEATHSIG`).
pub fn run<T: DeserializeOwned>(
    ctx: &Ctx,
    step: &str,
    target: &str,
    timeout: Duration,
) -> io::Result<Outcome<T>> {
    let mut cmd = Command::new(worker_exe()?);
    cmd.args(ctx.child_args()).args(["__worker", step, target]).stdin(Stdio::null());
    let finished = platform::run(cmd, timeout, crate::output::verbosity() > 0)?;
    let mut during = None;
    let mut report = None;
    for line in finished.report.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if let Some(stage) = line.strip_prefix("note ") {
            during = Some(stage.to_string());
        } else if let Some(json) = line.strip_prefix("report ") {
            report = serde_json::from_str(json).ok();
        }
    }
    let Some(status) = finished.status else { return Ok(Outcome::TimedOut(timeout, during)) };
    if let Some(value) = report
        && status.success()
    {
        return Ok(Outcome::Reported(value));
    }
    let last_words = last_line(&finished.stderr.text());
    Ok(Outcome::Died(Death { end: end_of(status), during, last_words }))
}

/// The last non-empty line of `text`, at most 300 characters of it.
fn last_line(text: &str) -> String {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

fn end_of(status: ExitStatus) -> End {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    End::of(status.code(), signal)
}

/// The drvctl binary to run the step in: this one (in unit tests, the drvctl built
/// beside the test binary).
fn worker_exe() -> io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    if cfg!(test) {
        let dir = exe.parent().and_then(|deps| deps.parent()).unwrap_or(std::path::Path::new("."));
        return Ok(dir.join(format!("drvctl{}", std::env::consts::EXE_SUFFIX)));
    }
    Ok(exe)
}

/// The child's side: where its notes and report go.
pub struct Reporter {
    out: Box<dyn Write>,
}

impl Reporter {
    /// The report channel drvctl passed, else stdout (a worker run by hand). Takes
    /// [`REPORT_FD_VAR`] out of the environment, so the driver the step loads does
    /// not find it there.
    ///
    /// # Safety
    ///
    /// No other thread may exist: the environment is modified.
    pub unsafe fn take() -> Reporter {
        let named = std::env::var(REPORT_FD_VAR).ok();
        // SAFETY: the caller guarantees this process has a single thread, so nothing
        // reads or writes the environment concurrently.
        unsafe { std::env::remove_var(REPORT_FD_VAR) };
        #[cfg(windows)]
        platform::crash_quietly();
        Reporter { out: platform::report_channel(named).unwrap_or_else(|| Box::new(io::stdout())) }
    }

    /// Announces the stage about to run, so that a death is reported "during" it.
    pub fn note(&mut self, stage: &str) -> io::Result<()> {
        writeln!(self.out, "note {stage}")?;
        self.out.flush()
    }

    /// Sends the result; the parent takes it only if the child then exits cleanly.
    pub fn report<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        writeln!(self.out, "report {}", serde_json::to_string(value)?)?;
        self.out.flush()
    }
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;

mod sink;
use sink::Sink;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        t.push(b"ab");
        t.push(b"cde");
        assert_eq!(t.text(), "bcde");
        t.push(b"0123456789");
        assert_eq!(t.text(), "6789");
        t.push(b"\xff");
        assert_eq!(t.text(), "789\u{fffd}");
    }

    #[test]
    fn deaths_read_as_sentences() {
        let d = Death { end: End::Exited(0), during: Some("DRV_INSTALL".into()), last_words: String::new() };
        assert_eq!(format!("the driver {d}"), "the driver exited (status 0) during DRV_INSTALL");
        let d = Death { end: End::Signal(6), during: None, last_words: "oops".into() };
        assert_eq!(d.to_string(), "killed by signal 6 (SIGABRT): oops");
        let d = Death { end: End::Signal(40), during: None, last_words: String::new() };
        assert_eq!(d.to_string(), "killed by signal 40");
        let d = Death {
            end: End::Exception(0xC000_0005),
            during: Some("DRV_OPEN".into()),
            last_words: String::new(),
        };
        assert_eq!(d.to_string(), "ended by exception 0xC0000005 (access violation) during DRV_OPEN");
        let d = Death { end: End::Exception(0xC000_0123), during: None, last_words: String::new() };
        assert_eq!(d.to_string(), "ended by exception 0xC0000123");
    }

    #[test]
    fn exit_statuses_of_windows_exceptions_are_crashes() {
        assert_eq!(End::of(Some(0xC000_0409_u32 as i32), None), End::Exception(0xC000_0409));
        assert_eq!(End::of(Some(0xC000_00FD_u32 as i32), None), End::Exception(0xC000_00FD));
        assert_eq!(End::of(Some(0x8000_0003_u32 as i32), None), End::Exception(0x8000_0003));
        assert_eq!(End::of(Some(3), None), End::Exited(3));
        assert_eq!(End::of(Some(0xE06D_7363_u32 as i32), None), End::Exception(0xE06D_7363));
        // exit(-1), not an exception.
        assert_eq!(End::of(Some(-1), None), End::Exited(-1));
        assert_eq!(End::of(None, Some(6)), End::Signal(6));
        assert_eq!(End::of(None, None), End::Unknown);
    }

    #[test]
    fn last_words_are_short() {
        assert_eq!(last_line("a\nb  \n\n"), "b");
        assert_eq!(last_line(&"é".repeat(400)).chars().count(), 303);
    }
}
