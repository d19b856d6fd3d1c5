//! Running a child step on Windows.
//!
//! - The report pipe's write end is the child's standard input (a handle std makes
//!   inheritable for that one process only, under the lock it starts processes
//!   with); [`REPORT_FD_VAR`] says so. The child moves it to a new handle that no
//!   process it starts inherits, and leaves standard input empty.
//! - The child starts suspended, is put in a job object that kills its processes
//!   when terminated or when its last handle closes, and only then runs: every
//!   process the driver starts is in the job too. Should the job be refused (an
//!   older Windows that has drvctl in a job of its own, without nested jobs), the
//!   child runs without one and only it is killed.
//! - Pipes cannot be polled: a thread per pipe reads it and passes what it read to
//!   the waiting thread through a bounded channel, so a driver flooding its output
//!   costs a bounded amount of memory. Once the child's job is terminated its pipes
//!   close and the threads end; one a stranger keeps open is abandoned.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    DUPLICATE_CLOSE_SOURCE, DUPLICATE_SAME_ACCESS, DuplicateHandle, FALSE, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_INPUT_HANDLE, SetStdHandle};
use windows_sys::Win32::System::Diagnostics::Debug::{
    EXCEPTION_POINTERS, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX, SEM_NOOPENFILEERRORBOX, SetErrorMode,
    SetUnhandledExceptionFilter,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, GetCurrentProcess, OpenThread, ResumeThread,
    THREAD_SUSPEND_RESUME, TerminateProcess,
};

use super::signals::{Registration, interrupted};
use super::{DRAIN, Finished, Interrupted, REPORT_FD_VAR, REPORT_LIMIT, Sink, TAIL, Tail};

/// The value of [`REPORT_FD_VAR`] that names the child's standard input.
const STDIN: &str = "stdin";

/// The exit status of a child whose job drvctl terminated.
const KILLED: u32 = 1;

/// How many chunks read from the pipes may wait for the waiting thread.
const CHUNKS_IN_FLIGHT: usize = 16;

const CHUNK: usize = 16 * 1024;

pub(super) fn run(mut cmd: Command, timeout: Duration, relay: bool) -> io::Result<Finished> {
    if let Some(signal) = interrupted() {
        return Err(Interrupted::error(signal));
    }
    let (report_read, report_write) = io::pipe()?;
    let job = Job::new()?;
    cmd.env(REPORT_FD_VAR, STDIN)
        .stdin(Stdio::from(report_write))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // No Ctrl-C from the console: drvctl decides (see `signals`).
        .creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP);
    let spawned = cmd.spawn();
    // The command holds drvctl's copy of the report's write end: only the child may
    // keep it, or the report would never end.
    drop(cmd);
    let mut child = spawned?;
    let mut job = job.adopt(&child);
    if let Err(e) = resume(&child) {
        kill(&mut job, &mut child);
        let _ = child.wait();
        return Err(e);
    }
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let mut sinks =
        [Sink::Tail(Tail::new(TAIL), false), Sink::Tail(Tail::new(TAIL), relay), Sink::Report(Vec::new())];
    let mut open = [false; 3];
    if let Some(out) = child.stdout.take() {
        open[0] = read_on_thread(0, out, usize::MAX, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        open[1] = read_on_thread(1, err, usize::MAX, tx.clone());
    }
    open[2] = read_on_thread(2, report_read, REPORT_LIMIT, tx);
    let mut status = None;
    let mut drain_until = deadline;
    loop {
        let now = Instant::now();
        if status.is_none() {
            if let Some(signal) = interrupted() {
                kill(&mut job, &mut child);
                child.wait()?;
                return Err(Interrupted::error(signal));
            }
            if let Some(exited) = child.try_wait()? {
                // What the driver started goes with it.
                kill(&mut job, &mut child);
                status = Some(exited);
                drain_until = now + DRAIN;
            } else if now >= deadline {
                kill(&mut job, &mut child);
                child.wait()?;
                break;
            }
        }
        if status.is_some() && (open.iter().all(|o| !o) || now >= drain_until) {
            break;
        }
        let wait = Duration::from_millis(10).min(drain_until.saturating_duration_since(now));
        take_chunks(&rx, wait, &mut sinks, &mut open);
    }
    Ok(Sink::finished(status, sinks))
}

/// What a reading thread passes on: bytes from pipe `.0`, or (empty) its end.
type Chunk = (usize, Vec<u8>);

/// Reads `pipe` on a thread of its own, passing what it reads as pipe `index`,
/// until its end, an error, more than `limit` bytes (then closing it, so the writer
/// fails instead of blocking), or the waiting thread no longer listening. Whether
/// the thread started.
fn read_on_thread(
    index: usize,
    mut pipe: impl Read + Send + 'static,
    limit: usize,
    tx: SyncSender<Chunk>,
) -> bool {
    let reader = move || {
        let mut total = 0usize;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total = total.saturating_add(n);
                    buf.truncate(n);
                    if tx.send((index, buf)).is_err() || total > limit {
                        break;
                    }
                }
            }
        }
        let _ = tx.send((index, Vec::new()));
    };
    std::thread::Builder::new().name("drvctl-pipe".into()).spawn(reader).is_ok()
}

/// Waits up to `wait` for a chunk, then takes it and all that are waiting.
fn take_chunks(rx: &Receiver<Chunk>, wait: Duration, sinks: &mut [Sink; 3], open: &mut [bool; 3]) {
    let mut next = match rx.recv_timeout(wait) {
        Ok(chunk) => Some(chunk),
        Err(RecvTimeoutError::Timeout) => return,
        Err(RecvTimeoutError::Disconnected) => {
            *open = [false; 3];
            return;
        }
    };
    while let Some((index, bytes)) = next {
        // An end, or a report over its limit, closes the pipe for good.
        if bytes.is_empty() || (open[index] && !sinks[index].take(&bytes)) {
            open[index] = false;
        }
        next = rx.try_recv().ok();
    }
}

/// A job object that kills its processes when its last handle closes, registered
/// for the console control handler (the registration is dropped first).
struct Job {
    registration: Registration,
    handle: OwnedHandle,
}

impl Job {
    fn new() -> io::Result<Job> {
        // SAFETY: no security attributes and no name are valid arguments.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if raw.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a job handle just created and owned by nothing else.
        let handle = unsafe { OwnedHandle::from_raw_handle(raw) };
        // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is a valid value
        // of this plain C struct (no limits).
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `limits` is a live struct of the size passed, of the class named.
        let set = unsafe {
            SetInformationJobObject(
                raw,
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if set == FALSE {
            return Err(io::Error::last_os_error());
        }
        Ok(Job { registration: Registration::new(raw), handle })
    }

    /// Puts the (suspended) child in the job; `None` when Windows refuses.
    fn adopt(self, child: &Child) -> Option<Job> {
        // SAFETY: both handles are open: the job's owned here, the child's by `child`.
        let assigned = unsafe { AssignProcessToJobObject(self.raw(), child.as_raw_handle()) };
        if assigned == FALSE {
            tracing::debug!(error = %io::Error::last_os_error(), "no job object for the child");
            return None;
        }
        Some(self)
    }

    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle()
    }
}

/// Kills the child's job (every process in it), else the child alone; unregisters
/// the job, which stays open until dropped.
fn kill(job: &mut Option<Job>, child: &mut Child) {
    match job {
        Some(job) => {
            // SAFETY: the job handle is open (owned by `job`).
            unsafe { TerminateJobObject(job.raw(), KILLED) };
            job.registration.release();
        }
        None => {
            let _ = child.kill();
        }
    }
}

/// Resumes the threads of the child, which was started suspended (its one thread).
fn resume(child: &Child) -> io::Result<()> {
    // SAFETY: a thread snapshot of the system; no pointer is passed.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a snapshot handle just created and owned by nothing else.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    // SAFETY: an all-zero THREADENTRY32 is a valid value of this plain C struct.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = size_of::<THREADENTRY32>() as u32;
    let mut resumed = false;
    // SAFETY: `entry` is live and its dwSize set, as Thread32First requires.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle(), &mut entry) } != FALSE;
    while more {
        if entry.th32OwnerProcessID == child.id() {
            // SAFETY: opening a thread by id takes no pointer; a null result is checked.
            let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, FALSE, entry.th32ThreadID) };
            if !thread.is_null() {
                // SAFETY: `thread` was just opened and is owned by nothing else.
                let thread = unsafe { OwnedHandle::from_raw_handle(thread) };
                // SAFETY: `thread` is an open handle with THREAD_SUSPEND_RESUME access.
                resumed |= unsafe { ResumeThread(thread.as_raw_handle()) } != u32::MAX;
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle(), &mut entry) } != FALSE;
    }
    if resumed { Ok(()) } else { Err(io::Error::other("cannot resume the child process it started")) }
}

/// The report channel `named` (the value of [`REPORT_FD_VAR`]): the standard input
/// drvctl gave, moved to a new handle that no process the driver starts inherits,
/// with standard input then left empty.
pub(super) fn report_channel(named: Option<String>) -> Option<Box<dyn Write>> {
    if named.as_deref() != Some(STDIN) {
        return None;
    }
    // SAFETY: GetStdHandle takes a constant and returns a handle or null/invalid.
    let stdin = unsafe { GetStdHandle(STD_INPUT_HANDLE) };
    if stdin.is_null() || stdin == INVALID_HANDLE_VALUE {
        return None;
    }
    let mut moved: HANDLE = std::ptr::null_mut();
    // SAFETY: duplicates this process's own open handle into itself, closing the
    // source; `moved` receives the new one. Nothing else in this process holds the
    // source: standard input is replaced below, before any driver loads.
    let duplicated = unsafe {
        let me = GetCurrentProcess();
        DuplicateHandle(me, stdin, me, &mut moved, 0, FALSE, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE)
    };
    // SAFETY: sets this process's standard input to no handle; takes no pointer.
    unsafe { SetStdHandle(STD_INPUT_HANDLE, std::ptr::null_mut()) };
    if duplicated == FALSE {
        return None;
    }
    // SAFETY: `moved` is the report pipe drvctl passed, now under a handle this
    // process owns alone; this is called once per worker.
    Some(Box::new(unsafe { File::from_raw_handle(moved) }))
}

/// A driver crashing the worker ends it at once with the exception's code, which
/// drvctl reads as the crash: no dialog box waits for a user first, and no debugger
/// is started (Wine starts one whatever the error mode says, and the process then
/// ends with another status). A DLL that cannot be loaded is an error rather than a
/// message box.
pub(super) fn crash_quietly() {
    // SAFETY: sets this process's error mode and its top-level exception filter, a
    // function with the signature Windows calls it with, valid for the process's life.
    unsafe {
        SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
        SetUnhandledExceptionFilter(Some(end_by_exception));
    }
}

/// The top-level exception filter: ends the process with the exception's code. No
/// DLL is told (a crashed process's state is not to be trusted), nothing allocates.
unsafe extern "system" fn end_by_exception(exception: *const EXCEPTION_POINTERS) -> i32 {
    // SAFETY: Windows passes valid exception pointers to the filter, whose record
    // stays valid while it runs; both are checked for null all the same.
    let code = unsafe { exception.as_ref().and_then(|e| e.ExceptionRecord.as_ref()) }
        .map_or(KILLED, |record| record.ExceptionCode as u32);
    // SAFETY: terminates this process; takes no pointer.
    unsafe { TerminateProcess(GetCurrentProcess(), code) };
    // EXCEPTION_CONTINUE_SEARCH, should the termination not happen.
    0
}
