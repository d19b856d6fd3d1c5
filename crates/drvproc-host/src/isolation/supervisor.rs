//! Starting and watching the host processes of isolated drivers (Linux).
//!
//! A host process is started so that nothing it does can outlive or outlast what the
//! application wants of it:
//!
//! * it leads its own process group, so a driver's forked children are killed with it;
//! * it gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies with the application. The kernel
//!   sends that signal when the *thread* that forked exits, which is why every host is
//!   forked by the supervisor's own thread, which lives as long as the supervisor,
//!   and never by the application thread that asked (a pool thread that opened a
//!   driver and then ended would take the host with it);
//! * every descriptor but the ones passed explicitly (the channel's shared memory)
//!   is close-on-exec in the child, whatever the application opened without
//!   `O_CLOEXEC`;
//! * its stdout and stderr go to one pipe of which only a bounded tail is kept (for
//!   the error message), or to `/dev/null`: a driver writing megabytes neither blocks
//!   on a full pipe nor grows the application's memory;
//! * no core dump unless asked for: a dump taken through a `core_pattern` pipe can
//!   take seconds, and the application waits for the death to be known;
//! * optionally sandboxed: `no_new_privs`, and a Landlock ruleset that allows reading
//!   and executing only the system's library directories, the host program, the
//!   driver's directory and what the caller configures.
//!
//! ## Watching
//!
//! Each host has a pidfd. One thread per [`Supervisor`] blocks in `poll(2)` on all
//! pidfds, all output pipes and an eventfd through which spawn and shutdown requests
//! arrive. It has no timeout: an idle host costs no wake-up and no CPU; the thread
//! runs only when a host wrote, died, or a request came. A host leaves the watch
//! only by dying: dropping its [`Host`] kills it, and the death goes the usual way.
//!
//! On a death the thread first kills the rest of the process group (while the
//! unreaped leader still holds its process id, so that id cannot name another
//! group), then reaps the leader, keeps the last of its output, runs the callback
//! registered at spawn, and then publishes the [`Death`] to [`Host::wait`]. A child
//! that keeps the pipe open changes nothing: death is the pidfd's, not the pipe's
//! end of file.
//!
//! What this cannot contain: a grandchild that leaves the process group (`setsid`,
//! `setpgid`) outlives the group kill, and an application that reaps children it did
//! not start (`waitpid(-1)`, `SIGCHLD` ignored) takes the exit status away (the
//! death is then reported with [`Cause::Unknown`]).

// The channel and the remote module that use this come in their own files.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use landlock::{
    ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, path_beneath_rules,
};

/// How much of a host's output is kept by default: enough for the last messages
/// of a crashing driver, small enough for many hosts.
pub(crate) const DEFAULT_TAIL_LIMIT: usize = 64 * 1024;

/// One read of a host's output pipe.
const READ_CHUNK: usize = 64 * 1024;

/// Reads of one pipe per wake-up, so that one chatty host cannot delay the news
/// of another's death by more than this.
const READS_PER_WAKE: usize = 16;

/// What the sandbox always allows reading and executing: what a dynamically linked
/// program needs to start. Missing ones are skipped.
const SYSTEM_PATHS: &[&str] = &["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache"];

/// The Landlock ABI whose rights the sandbox asks for; with fewer, it is enforced in part.
/// V5 is the last that added file-system rights (`IoctlDev`); V6 added the scopes.
const LANDLOCK_TARGET: ABI = ABI::V6;
const LANDLOCK_TARGET_VERSION: i32 = 6;

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask `landlock_create_ruleset` for the ABI version.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// Why starting or sandboxing a host failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SupervisorError {
    #[error("cannot start the host supervisor thread: {0}")]
    Thread(#[source] io::Error),
    #[error("cannot create the host supervisor's {what}: {source}")]
    Setup { what: &'static str, source: io::Error },
    #[error("descriptor {0} cannot be passed to a host process: 0, 1 and 2 are its standard streams")]
    ReservedFd(RawFd),
    #[error("cannot start host process {program}: {source}", program = program.display())]
    Spawn { program: PathBuf, source: io::Error },
    #[error("cannot watch host process {pid}: pidfd_open failed: {source}")]
    PidFd { pid: i32, source: io::Error },
    #[error("the sandbox is required but {0}")]
    SandboxUnavailable(LandlockAbsence),
    #[error("cannot allow {path} in the host sandbox: {source}", path = path.display())]
    SandboxPath { path: PathBuf, source: io::Error },
    #[error("cannot build the host sandbox: {0}")]
    Landlock(#[from] landlock::RulesetError),
    #[error("the host supervisor has shut down")]
    ShutDown,
    #[error("a host process cannot be started from a death callback (the supervisor's own thread)")]
    FromWatcher,
}

/// Where a host's stdout and stderr go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// One pipe for both, of which the last `limit` bytes are kept.
    Tail { limit: usize },
    /// `/dev/null`.
    Null,
}

/// Whether a sandbox without Landlock is acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SandboxLevel {
    /// Without Landlock the host runs with `no_new_privs` only, and a warning says so.
    BestEffort,
    /// Without Landlock the spawn fails.
    Required,
}

/// The sandbox of a host: what it may read and execute, and write, beyond the
/// system's library directories and the host program.
#[derive(Clone, Debug)]
pub(crate) struct Sandbox {
    level: SandboxLevel,
    read: Vec<PathBuf>,
    read_write: Vec<PathBuf>,
}

impl Sandbox {
    pub(crate) fn new(level: SandboxLevel) -> Self {
        Sandbox { level, read: Vec::new(), read_write: Vec::new() }
    }

    /// Allows reading and executing the directory of the driver `file` (a driver may
    /// load its companions from beside it).
    pub(crate) fn driver(mut self, file: impl AsRef<Path>) -> Self {
        let file = file.as_ref();
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        self.read.push(dir);
        self
    }

    /// Allows reading and executing `path` (a file, or a directory and what is beneath).
    pub(crate) fn allow_read(mut self, path: impl Into<PathBuf>) -> Self {
        self.read.push(path.into());
        self
    }

    /// Allows everything beneath `path`, writing included.
    pub(crate) fn allow_write(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_write.push(path.into());
        self
    }

    pub(crate) fn level(&self) -> SandboxLevel {
        self.level
    }
}

/// Why the kernel offers no Landlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LandlockAbsence {
    /// The kernel was built without it (`ENOSYS`).
    NotBuilt,
    /// Built, but not enabled at boot (`EOPNOTSUPP`; the `lsm=` list).
    NotEnabled,
}

impl fmt::Display for LandlockAbsence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LandlockAbsence::NotBuilt => "this kernel is built without Landlock",
            LandlockAbsence::NotEnabled => {
                "Landlock is not enabled in this kernel (see the lsm= boot parameter)"
            }
        })
    }
}

/// How a host is confined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SandboxStatus {
    /// Not sandboxed.
    Off,
    /// `no_new_privs` and the whole Landlock ruleset.
    Enforced { abi: i32 },
    /// `no_new_privs` and the part of the ruleset this kernel's Landlock ABI knows
    /// (file creation and writing are denied from ABI 1 on).
    Partial { abi: i32 },
    /// `no_new_privs` only: the kernel has no Landlock.
    Unsupported(LandlockAbsence),
}

/// What to run as a host process.
#[derive(Clone, Debug)]
pub(crate) struct HostCommand {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    output: Output,
    sandbox: Option<Sandbox>,
    core_dumps: bool,
}

impl HostCommand {
    pub(crate) fn new(program: impl Into<PathBuf>) -> Self {
        HostCommand {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            output: Output::Tail { limit: DEFAULT_TAIL_LIMIT },
            sandbox: None,
            core_dumps: false,
        }
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one variable in the host's environment, which is otherwise the application's.
    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub(crate) fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    pub(crate) fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Lets a crashing host dump core as the system is configured to (off by default).
    pub(crate) fn core_dumps(mut self, yes: bool) -> Self {
        self.core_dumps = yes;
        self
    }

    pub(crate) fn program(&self) -> &Path {
        &self.program
    }
}

/// How a host process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// It called `exit` (or returned from `main`) with this status.
    Exited(i32),
    /// A signal ended it.
    Signaled { signal: i32, core_dumped: bool },
    /// Someone else reaped it first, so its status is lost.
    Unknown,
}

/// The name of a signal, as `kill -l` spells it with the `SIG` prefix.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cause::Exited(code) => write!(f, "exited with status {code}"),
            Cause::Signaled { signal, core_dumped } => {
                match signal_name(signal) {
                    Some(name) => write!(f, "was killed by {name}")?,
                    None => write!(f, "was killed by signal {signal}")?,
                }
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
            Cause::Unknown => f.write_str("ended, reaped elsewhere (status unknown)"),
        }
    }
}

/// What is known of a host once it is dead and reaped.
#[derive(Clone, Debug)]
pub(crate) struct Death {
    pub(crate) pid: i32,
    pub(crate) cause: Cause,
    /// Set when [`Host::kill`] was called before the host died.
    pub(crate) kill_reason: Option<String>,
    /// The last bytes of stdout and stderr (empty with [`Output::Null`]).
    pub(crate) output: Vec<u8>,
    /// How many bytes it wrote in all.
    pub(crate) output_total: u64,
}

impl Death {
    /// The kept output as text, for an error message.
    pub(crate) fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Whether the host died of a kill the supervisor was asked for.
    pub(crate) fn was_killed(&self) -> bool {
        self.kill_reason.is_some()
            && self.cause == Cause::Signaled { signal: libc::SIGKILL, core_dumped: false }
    }
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kill_reason {
            Some(reason) if self.was_killed() => write!(f, "host process {} was killed: {reason}", self.pid),
            _ => write!(f, "host process {} {}", self.pid, self.cause),
        }
    }
}

type DeathCallback = Box<dyn FnOnce(&Death) + Send>;

/// The last `limit` bytes of a stream and the count of all.
#[derive(Debug)]
pub(crate) struct Tail {
    bytes: VecDeque<u8>,
    limit: usize,
    total: u64,
}

impl Tail {
    pub(crate) fn new(limit: usize) -> Self {
        Tail { bytes: VecDeque::new(), limit, total: 0 }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let keep = &chunk[chunk.len().saturating_sub(self.limit)..];
        let excess = (self.bytes.len() + keep.len()).saturating_sub(self.limit);
        self.bytes.drain(..excess);
        self.bytes.extend(keep);
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.bytes.iter().copied().collect()
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

#[derive(Debug, Default)]
struct HostState {
    /// The leader was reaped: its pid may name another process now.
    reaped: bool,
    kill_reason: Option<String>,
    death: Option<Arc<Death>>,
}

#[derive(Debug)]
struct HostShared {
    pid: i32,
    sandbox: SandboxStatus,
    state: Mutex<HostState>,
    changed: Condvar,
}

impl HostShared {
    fn lock(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// SIGKILL to the host's group and to the host itself (in case it left the
    /// group). Only while `state` says it is not reaped: until then its pid and
    /// group id are its own.
    fn kill_unreaped(&self, state: &HostState) {
        if state.reaped {
            return;
        }
        // SAFETY: kill(2) takes integers only. The leader is our child and not reaped
        // (checked under the lock the reaper takes), so `pid` is still its id and
        // `-pid` its group, not a recycled one.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
        }
    }
}

/// A running (or dead) host process. Dropping it kills the host.
#[derive(Debug)]
pub(crate) struct Host {
    shared: Arc<HostShared>,
}

impl Host {
    pub(crate) fn pid(&self) -> i32 {
        self.shared.pid
    }

    pub(crate) fn sandbox(&self) -> SandboxStatus {
        self.shared.sandbox
    }

    /// Kills the host and its process group (a timeout, a shutdown); `reason` goes
    /// into its [`Death`]. The death is then reported as any other. Returns false
    /// if it was already dead and reaped.
    pub(crate) fn kill(&self, reason: impl Into<String>) -> bool {
        let mut state = self.shared.lock();
        if state.reaped {
            return false;
        }
        if state.kill_reason.is_none() {
            state.kill_reason = Some(reason.into());
        }
        self.shared.kill_unreaped(&state);
        true
    }

    /// The death, once the host is reaped, its descriptors closed and the callback has run.
    pub(crate) fn death(&self) -> Option<Arc<Death>> {
        self.shared.lock().death.clone()
    }

    /// Waits up to `timeout` for the death.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Arc<Death>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(death) = &state.death {
                return Some(death.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill("its handle was dropped");
    }
}

enum Request {
    Spawn(Box<SpawnJob>),
    Shutdown,
}

struct SpawnJob {
    command: HostCommand,
    keep: Vec<RawFd>,
    ruleset: Option<OwnedFd>,
    sandbox: SandboxStatus,
    on_death: DeathCallback,
    reply: mpsc::SyncSender<Result<Arc<HostShared>, SupervisorError>>,
}

#[derive(Default)]
struct Queue {
    requests: Vec<Request>,
    /// The watcher has ended: nothing will serve new requests.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: OwnedFd,
}

impl Shared {
    fn submit(&self, request: Request) -> Result<(), SupervisorError> {
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.closed {
                return Err(SupervisorError::ShutDown);
            }
            queue.requests.push(request);
        }
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, a live local, to our eventfd.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
        // An eventfd write fails only when its counter would overflow, and then it is
        // readable anyway: the watcher will see the request.
        let _ = n;
        Ok(())
    }

    fn close(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.closed = true;
        // Dropping the jobs drops their reply senders: waiting spawns see ShutDown.
        queue.requests.clear();
    }
}

/// Starts host processes and watches them, with one thread.
pub(crate) struct Supervisor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
    tid: i32,
}

impl Supervisor {
    pub(crate) fn new() -> Result<Self, SupervisorError> {
        // SAFETY: eventfd(2) takes integers and returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(SupervisorError::Setup { what: "eventfd", source: io::Error::last_os_error() });
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nothing else.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake });
        let (tid_tx, tid_rx) = mpsc::sync_channel(1);
        let watcher_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("drvproc-supervisor".into())
            .spawn(move || {
                // SAFETY: gettid(2) takes nothing and cannot fail.
                let tid = unsafe { libc::gettid() };
                let _ = tid_tx.send(tid);
                Watcher::new(watcher_shared).run();
            })
            .map_err(SupervisorError::Thread)?;
        let tid = tid_rx.recv().map_err(|_| SupervisorError::ShutDown)?;
        let thread_id = thread.thread().id();
        Ok(Supervisor { shared, thread: Some(thread), thread_id, tid })
    }

    /// The thread id of the watching thread (for measuring that it stays idle).
    pub(crate) fn watcher_tid(&self) -> i32 {
        self.tid
    }

    /// Starts `command` as a host, passing it `pass` at the same descriptor numbers,
    /// and calls `on_death` on the supervisor thread when it has died and been reaped.
    /// `on_death` must be short and must not wait for other hosts: every other death
    /// is reported after it returns. It cannot start a host (that would wait for
    /// its own thread) nor drop the supervisor.
    pub(crate) fn spawn<F>(
        &self,
        command: &HostCommand,
        pass: &[BorrowedFd<'_>],
        on_death: F,
    ) -> Result<Host, SupervisorError>
    where
        F: FnOnce(&Death) + Send + 'static,
    {
        if std::thread::current().id() == self.thread_id {
            return Err(SupervisorError::FromWatcher);
        }
        // The raw numbers stay valid: `pass` is borrowed until this returns, and
        // it returns only after the fork.
        let keep: Vec<RawFd> = pass.iter().map(AsRawFd::as_raw_fd).collect();
        if let Some(&fd) = keep.iter().find(|&&fd| fd <= 2) {
            return Err(SupervisorError::ReservedFd(fd));
        }
        let (ruleset, sandbox) = match &command.sandbox {
            None => (None, SandboxStatus::Off),
            Some(sandbox) => prepare_sandbox(sandbox, &command.program)?,
        };
        let (reply, answer) = mpsc::sync_channel(1);
        self.shared.submit(Request::Spawn(Box::new(SpawnJob {
            command: command.clone(),
            keep,
            ruleset,
            sandbox,
            on_death: Box::new(on_death),
            reply,
        })))?;
        let shared = answer.recv().map_err(|_| SupervisorError::ShutDown)??;
        Ok(Host { shared })
    }
}

impl Drop for Supervisor {
    /// Kills every host still running, reports their deaths and ends the thread.
    fn drop(&mut self) {
        // If the queue is closed the thread has ended or is ending: join it all the same.
        let _ = self.shared.submit(Request::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Builds the Landlock ruleset in the parent (the child, between fork and exec,
/// may only make system calls), and says how much of it this kernel enforces.
fn prepare_sandbox(
    sandbox: &Sandbox,
    program: &Path,
) -> Result<(Option<OwnedFd>, SandboxStatus), SupervisorError> {
    prepare_sandbox_on(sandbox, program, landlock_abi())
}

/// [`prepare_sandbox`] for a kernel whose Landlock ABI is `kernel` (so that the
/// handling of a kernel without Landlock can be tried on one with it).
pub(crate) fn prepare_sandbox_on(
    sandbox: &Sandbox,
    program: &Path,
    kernel: Result<i32, LandlockAbsence>,
) -> Result<(Option<OwnedFd>, SandboxStatus), SupervisorError> {
    let abi = match kernel {
        Ok(abi) => abi,
        Err(absence) => {
            if sandbox.level == SandboxLevel::Required {
                return Err(SupervisorError::SandboxUnavailable(absence));
            }
            tracing::warn!(
                target: "drvproc::isolation",
                "host processes run with no_new_privs only, not confined to their files: {absence}"
            );
            return Ok((None, SandboxStatus::Unsupported(absence)));
        }
    };
    let read = AccessFs::from_read(LANDLOCK_TARGET);
    let all = AccessFs::from_all(LANDLOCK_TARGET);
    let mut ruleset = Ruleset::default()
        .handle_access(all)?
        .handle_access(AccessNet::from_all(LANDLOCK_TARGET))?
        .scope(Scope::from_all(LANDLOCK_TARGET))?
        .create()?
        .add_rules(path_beneath_rules(SYSTEM_PATHS, read))?
        .add_rules(path_beneath_rules([program], read))?;
    for (paths, access) in [(&sandbox.read, read), (&sandbox.read_write, all)] {
        for path in paths {
            if let Err(source) = std::fs::metadata(path) {
                return Err(SupervisorError::SandboxPath { path: path.clone(), source });
            }
            ruleset = ruleset.add_rules(path_beneath_rules([path], access))?;
        }
    }
    let fd: Option<OwnedFd> = ruleset.into();
    let status = match fd {
        None => SandboxStatus::Unsupported(LandlockAbsence::NotEnabled),
        Some(_) if abi >= LANDLOCK_TARGET_VERSION => SandboxStatus::Enforced { abi },
        Some(_) => {
            tracing::warn!(
                target: "drvproc::isolation",
                "this kernel's Landlock (ABI {abi}) confines host processes only in part"
            );
            SandboxStatus::Partial { abi }
        }
    };
    Ok((fd, status))
}

/// The kernel's Landlock ABI version, or why there is none.
pub(crate) fn landlock_abi() -> Result<i32, LandlockAbsence> {
    // SAFETY: with a null attribute, size 0 and the VERSION flag,
    // landlock_create_ruleset only returns a number; it reads and writes no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 {
        return Ok(i32::try_from(v).unwrap_or(i32::MAX));
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => Err(LandlockAbsence::NotEnabled),
        _ => Err(LandlockAbsence::NotBuilt),
    }
}

/// What the watcher holds of each live host.
struct Watched {
    shared: Arc<HostShared>,
    pidfd: OwnedFd,
    output: Option<OwnedFd>,
    tail: Tail,
    on_death: Option<DeathCallback>,
}

impl Watched {
    /// Reads what the pipe holds, at most `reads` chunks; closes it at end of file.
    fn drain(&mut self, buf: &mut [u8], reads: usize) {
        let Some(fd) = &self.output else { return };
        let fd = fd.as_raw_fd();
        for _ in 0..reads {
            // SAFETY: reads at most buf.len() bytes into `buf`, which we own mutably.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            match n {
                0 => {
                    self.output = None;
                    return;
                }
                n if n > 0 => self.tail.push(&buf[..n.unsigned_abs()]),
                _ => match io::Error::last_os_error().kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => return,
                    _ => {
                        self.output = None;
                        return;
                    }
                },
            }
        }
    }
}

struct Watcher {
    shared: Arc<Shared>,
    hosts: Vec<Watched>,
    buf: Vec<u8>,
}

/// Closes the queue however the watcher ends (a panic included), so no spawn waits
/// forever for a thread that is gone.
struct CloseOnExit(Arc<Shared>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Watcher {
    fn new(shared: Arc<Shared>) -> Self {
        Watcher { shared, hosts: Vec::new(), buf: vec![0; READ_CHUNK] }
    }

    fn run(mut self) {
        let _close = CloseOnExit(self.shared.clone());
        let mut fds: Vec<libc::pollfd> = Vec::new();
        loop {
            fds.clear();
            fds.push(libc::pollfd { fd: self.shared.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            for host in &self.hosts {
                fds.push(libc::pollfd { fd: host.pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                // poll(2) ignores negative descriptors: a closed pipe keeps its slot.
                let out = host.output.as_ref().map_or(-1, AsRawFd::as_raw_fd);
                fds.push(libc::pollfd { fd: out, events: libc::POLLIN, revents: 0 });
            }
            // No timeout: this thread wakes only for a death, output or a request.
            // SAFETY: `fds` is a live, exclusively borrowed array of fds.len() pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(target: "drvproc::isolation", "host supervisor poll failed: {err}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            // Host i has its pidfd at 1 + 2i and its pipe at 2 + 2i. A dead host's
            // pipe is read when it is buried.
            for (i, host) in self.hosts.iter_mut().enumerate() {
                if fds[1 + 2 * i].revents == 0 && fds[2 + 2 * i].revents != 0 {
                    host.drain(&mut self.buf, READS_PER_WAKE);
                }
            }
            for i in (0..self.hosts.len()).rev() {
                if fds[1 + 2 * i].revents != 0 {
                    let host = self.hosts.swap_remove(i);
                    self.bury(host);
                }
            }
            if fds[0].revents != 0 && self.serve_requests() {
                self.shut_down();
                return;
            }
        }
    }

    /// Serves queued requests; true on shutdown.
    fn serve_requests(&mut self) -> bool {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into `counter`, a live local; the eventfd is
        // non-blocking, and a failure (nothing to read) changes nothing.
        let _ = unsafe { libc::read(self.shared.wake.as_raw_fd(), (&raw mut counter).cast(), 8) };
        let requests =
            std::mem::take(&mut self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).requests);
        let mut shutdown = false;
        for request in requests {
            match request {
                Request::Shutdown => shutdown = true,
                Request::Spawn(job) if shutdown => drop(job),
                Request::Spawn(job) => {
                    let SpawnJob { command, keep, ruleset, sandbox, on_death, reply } = *job;
                    let result = start(&command, &keep, ruleset, sandbox).map(|(mut watched, shared)| {
                        watched.on_death = Some(on_death);
                        self.hosts.push(watched);
                        shared
                    });
                    let _ = reply.send(result);
                }
            }
        }
        shutdown
    }

    /// Kills every host, reports every death, and closes the queue.
    fn shut_down(&mut self) {
        self.shared.close();
        for host in &self.hosts {
            let mut state = host.shared.lock();
            if state.kill_reason.is_none() {
                state.kill_reason = Some("the host supervisor shut down".into());
            }
            host.shared.kill_unreaped(&state);
        }
        for host in std::mem::take(&mut self.hosts) {
            self.bury(host);
        }
    }

    /// The end of a host: kill its group, reap it, keep its last output, call back,
    /// publish.
    fn bury(&mut self, mut host: Watched) {
        let pid = host.shared.pid;
        let cause = {
            let mut state = host.shared.lock();
            // The leader is dead but not reaped, so `pid` still names it and its group:
            // what else of the group lives (a driver's forked child) goes with it.
            // SAFETY: kill(2) takes integers only; the group id is not recycled (above).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let cause = reap(&host.pidfd, pid);
            state.reaped = true;
            cause
        };
        // The host is reaped, so all it wrote is in the pipe; what a killed child of it
        // may still add is bounded by the reads.
        host.drain(&mut self.buf, READS_PER_WAKE);
        let kill_reason = host.shared.lock().kill_reason.clone();
        let death = Arc::new(Death {
            pid,
            cause,
            kill_reason,
            output: host.tail.bytes(),
            output_total: host.tail.total(),
        });
        // Closed before anyone hears of the death: once it is known, the host holds
        // no descriptor of the application's.
        drop(host.output.take());
        drop(host.pidfd);
        tracing::debug!(target: "drvproc::isolation", pid, "{death}");
        if let Some(callback) = host.on_death.take()
            && catch_unwind(AssertUnwindSafe(|| callback(&death))).is_err()
        {
            tracing::error!(target: "drvproc::isolation", pid, "the death callback of a host process panicked");
        }
        host.shared.lock().death = Some(death);
        host.shared.changed.notify_all();
    }
}

/// Reaps the host whose pidfd is readable (it has exited).
fn reap(pidfd: &OwnedFd, pid: i32) -> Cause {
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only into `info`, a live local; the pidfd is ours.
        let r =
            unsafe { libc::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED) };
        if r == 0 {
            // SAFETY: waitid succeeded with WEXITED, so `info` holds a SIGCHLD record,
            // whose si_status is the one set.
            let status = unsafe { info.si_status() };
            return match info.si_code {
                libc::CLD_EXITED => Cause::Exited(status),
                libc::CLD_KILLED => Cause::Signaled { signal: status, core_dumped: false },
                libc::CLD_DUMPED => Cause::Signaled { signal: status, core_dumped: true },
                _ => Cause::Unknown,
            };
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // Kernels before 5.4 have no P_PIDFD.
            Some(libc::EINVAL) => return reap_pid(pid),
            _ => return Cause::Unknown,
        }
    }
}

fn reap_pid(pid: i32) -> Cause {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only into `status`, a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return if libc::WIFEXITED(status) {
                Cause::Exited(libc::WEXITSTATUS(status))
            } else if libc::WIFSIGNALED(status) {
                Cause::Signaled { signal: libc::WTERMSIG(status), core_dumped: libc::WCOREDUMP(status) }
            } else {
                Cause::Unknown
            };
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return Cause::Unknown;
    }
}

/// Forks and executes a host (on the watcher thread: see the module notes on
/// `PR_SET_PDEATHSIG`) and opens its pidfd.
fn start(
    command: &HostCommand,
    keep: &[RawFd],
    ruleset: Option<OwnedFd>,
    sandbox: SandboxStatus,
) -> Result<(Watched, Arc<HostShared>), SupervisorError> {
    let spawn_error = |source| SupervisorError::Spawn { program: command.program.clone(), source };
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args).stdin(Stdio::null()).process_group(0);
    for (key, value) in &command.envs {
        cmd.env(key, value);
    }
    let (output, limit) = match command.output {
        Output::Tail { limit } => {
            let (read, write) =
                pipe().map_err(|source| SupervisorError::Setup { what: "output pipe", source })?;
            let write2 = write.try_clone().map_err(spawn_error)?;
            cmd.stdout(Stdio::from(write)).stderr(Stdio::from(write2));
            (Some(read), limit)
        }
        Output::Null => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            (None, 0)
        }
    };
    let setup = ChildSetup {
        // SAFETY: getpid(2) takes nothing and cannot fail.
        parent: unsafe { libc::getpid() },
        keep: keep.to_vec(),
        ruleset: ruleset.as_ref().map(AsRawFd::as_raw_fd),
        sandboxed: sandbox != SandboxStatus::Off,
        core_dumps: command.core_dumps,
    };
    // SAFETY: the closure runs in the forked child before exec and makes only
    // async-signal-safe system calls, allocating nothing (see ChildSetup::apply).
    unsafe { cmd.pre_exec(move || setup.apply()) };
    let child = cmd.spawn().map_err(spawn_error)?;
    // The child has its copies: the parent's write ends must close now, or the pipe
    // would never reach end of file; the ruleset is no longer needed.
    drop(cmd);
    drop(ruleset);
    // std's u32 is the kernel's pid_t, which is positive: never 0 or -1, which
    // would make the kills below hit the caller's group or every process.
    let pid = child.id() as libc::pid_t;
    drop(child);
    // SAFETY: pidfd_open(2) takes integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let source = io::Error::last_os_error();
        // ESRCH: the child is gone already, reaped by someone else (an application
        // that ignores SIGCHLD), and its pid may be another's now: leave it alone.
        if source.raw_os_error() != Some(libc::ESRCH) {
            // SAFETY: kill(2) takes integers only; the child is ours and not reaped,
            // so `pid` and `-pid` are still its own.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
            reap_pid(pid);
        }
        return Err(SupervisorError::PidFd { pid, source });
    }
    // SAFETY: `fd` was just returned by pidfd_open, is close-on-exec and owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let shared = Arc::new(HostShared {
        pid,
        sandbox,
        state: Mutex::new(HostState::default()),
        changed: Condvar::new(),
    });
    tracing::debug!(target: "drvproc::isolation", pid, program = %command.program.display(), "host process started");
    let watched = Watched { shared: shared.clone(), pidfd, output, tail: Tail::new(limit), on_death: None };
    Ok((watched, shared))
}

/// A close-on-exec pipe whose read end does not block.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, a live local array of two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just returned by pipe2 and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    if unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}

/// What the child does between fork and exec. Everything is decided in the parent;
/// `apply` only makes system calls.
struct ChildSetup {
    parent: libc::pid_t,
    keep: Vec<RawFd>,
    ruleset: Option<RawFd>,
    sandboxed: bool,
    core_dumps: bool,
}

impl ChildSetup {
    /// Runs in the forked child: only async-signal-safe system calls, no allocation
    /// (io::Error::last_os_error does not allocate).
    fn apply(&self) -> io::Result<()> {
        fn check(r: libc::c_long) -> io::Result<()> {
            if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
        }
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
        check(r.into())?;
        // If the application died before the prctl, the signal will never come: the
        // child has been re-parented already.
        // SAFETY: getppid(2) takes nothing and cannot fail.
        if unsafe { libc::getppid() } != self.parent {
            // SAFETY: _exit ends this forked child at once, running nothing of the parent's.
            unsafe { libc::_exit(127) };
        }
        mark_cloexec_from(3)?;
        for &fd in &self.keep {
            // SAFETY: fcntl with integer arguments; `fd` is open in the child (inherited).
            check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }.into())?;
        }
        if !self.core_dumps {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: setrlimit reads `none`, a live local.
            check(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) }.into())?;
        }
        if self.sandboxed {
            // SAFETY: prctl with integer arguments.
            check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())?;
            if let Some(ruleset) = self.ruleset {
                // SAFETY: landlock_restrict_self takes a descriptor (the ruleset the
                // parent built, inherited through fork) and flags.
                check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) })?;
            }
        }
        Ok(())
    }
}

/// Sets close-on-exec on every descriptor from `first` on.
fn mark_cloexec_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range with integer arguments; CLOEXEC only sets a flag.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one fcntl per possible descriptor.
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into `limit`, a live local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let end = limit.rlim_cur.min(1 << 20) as RawFd;
    for fd in first..end {
        // SAFETY: fcntl with integer arguments; a closed `fd` gives EBADF, ignored.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}
