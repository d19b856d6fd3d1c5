//! Running a step in a child process on Unix: a process group of its own, the report
//! on an inherited pipe, `poll` over the three pipes, and the group killed at the
//! deadline.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::signals::{Registration, interrupted};
use super::{DRAIN, Finished, Interrupted, REPORT_FD_VAR, Sink, TAIL, Tail};

pub(super) fn run(mut cmd: Command, timeout: Duration, relay: bool) -> io::Result<Finished> {
    if let Some(signal) = interrupted() {
        return Err(Interrupted::error(signal));
    }
    let (report_read, report_write) = io::pipe()?;
    // A duplicate, numbered 3 or above, so that setting up the child's stdio cannot
    // overwrite it; close-on-exec like every descriptor std opens.
    let report_write = OwnedFd::from(report_write).try_clone()?;
    let fd = report_write.as_raw_fd();
    cmd.env(REPORT_FD_VAR, fd.to_string()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only calls
    // fcntl, prctl and getppid, which are async-signal-safe, on a descriptor
    // number it owns a copy of; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            // Dies with drvctl's thread that started it, should drvctl die
            // without killing it (SIGKILL). Checked against a parent that was
            // already gone before the request took effect.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            Ok(())
        });
    }
    let mut registration = Registration::reserve();
    let mut child = cmd.spawn()?;
    registration.set(child.id());
    // Only the child may hold the write end, or the report would never see EOF.
    drop(report_write);
    let deadline = Instant::now() + timeout;
    let mut streams: [(Option<File>, Sink); 3] = [
        (child.stdout.take().map(|o| File::from(OwnedFd::from(o))), Sink::Tail(Tail::new(TAIL), false)),
        (child.stderr.take().map(|e| File::from(OwnedFd::from(e))), Sink::Tail(Tail::new(TAIL), relay)),
        (Some(File::from(OwnedFd::from(report_read))), Sink::Report(Vec::new())),
    ];
    let mut status = None;
    let mut drain_until = deadline;
    loop {
        let now = Instant::now();
        if status.is_none() {
            if let Some(signal) = interrupted() {
                kill_group(&child);
                registration.release();
                child.wait()?;
                return Err(Interrupted::error(signal));
            }
            if has_exited(&child)? {
                kill_group(&child);
                registration.release();
                status = Some(child.wait()?);
                drain_until = now + DRAIN;
            } else if now >= deadline {
                kill_group(&child);
                registration.release();
                child.wait()?;
                break;
            }
        }
        if status.is_some() && (streams.iter().all(|(f, _)| f.is_none()) || now >= drain_until) {
            break;
        }
        let wait = Duration::from_millis(10).min(drain_until.saturating_duration_since(now));
        poll_and_read(&mut streams, wait)?;
    }
    let [(_, stdout), (_, stderr), (_, report)] = streams;
    Ok(Sink::finished(status, [stdout, stderr, report]))
}

/// Waits up to `wait` for output, then reads once from each stream that has some
/// (a single read of a readable pipe does not block); a stream at EOF is closed.
fn poll_and_read(streams: &mut [(Option<File>, Sink); 3], wait: Duration) -> io::Result<()> {
    let mut fds: Vec<libc::pollfd> = streams
        .iter()
        .map(|(f, _)| libc::pollfd {
            fd: f.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let millis = wait.as_millis().min(1000) as libc::c_int;
    // SAFETY: `fds` is a live array of `fds.len()` pollfd structures; negative
    // descriptors are ignored by poll.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if ready < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
    }
    let mut buf = [0u8; 16 * 1024];
    for ((file, sink), pfd) in streams.iter_mut().zip(&fds) {
        if pfd.revents == 0 {
            continue;
        }
        let Some(f) = file else { continue };
        match f.read(&mut buf) {
            Ok(0) | Err(_) => *file = None,
            Ok(n) => {
                if !sink.take(&buf[..n]) {
                    *file = None;
                }
            }
        }
    }
    Ok(())
}

/// Whether the child has exited, without reaping it: while it is a zombie its
/// process group id cannot be reused, so killing the group reaches only its own.
fn has_exited(child: &Child) -> io::Result<bool> {
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child unreaped.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            child.id() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after a successful waitid the pid field is set (0: no child changed state).
    Ok(unsafe { info.si_pid() } != 0)
}

/// Kills every process in the child's group (it leads it: `process_group(0)`).
fn kill_group(child: &Child) {
    // SAFETY: a plain kill(2) of the group our unreaped child leads.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
}

/// The report descriptor `named` (the value of [`REPORT_FD_VAR`]), moved to a
/// number chosen at random (100 or above) and close-on-exec, so that no process
/// the driver starts inherits it and a driver guessing "3" misses it.
pub(super) fn report_channel(named: Option<String>) -> Option<Box<dyn Write>> {
    let fd: RawFd = named?.parse().ok()?;
    if fd < 3 {
        return None;
    }
    // SAFETY: fcntl on any integer is defined; it fails with EBADF when no such
    // descriptor is open.
    let moved = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, unpredictable_floor()) };
    let fd = if moved >= 0 {
        // SAFETY: `fd` is the report pipe drvctl passed, now duplicated; nothing
        // else in this process uses its number.
        unsafe { libc::close(fd) };
        moved
    // SAFETY: as for F_DUPFD_CLOEXEC above.
    } else if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return None;
    } else {
        fd
    };
    // SAFETY: the descriptor is open (checked above) and is the report pipe drvctl
    // passed for this purpose; nothing else in this process owns it, and this is
    // called once per worker.
    Some(Box::new(unsafe { File::from_raw_fd(fd) }))
}

/// A random descriptor number from 100 up to the open-file limit (at most 1024).
fn unpredictable_floor() -> libc::c_int {
    use std::hash::BuildHasher;
    // SAFETY: an all-zero rlimit is a valid value of this plain C struct.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit writes only into `limit`.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1024) as libc::c_int
    } else {
        256
    };
    let span = (max - 100).max(1) as u64;
    // RandomState is seeded from the system's random source.
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    100 + (random % span) as libc::c_int
}
