//! drvctl's answer to SIGINT, SIGTERM and SIGHUP (on Windows to Ctrl-C, Ctrl-Break
//! and the console closing) while children run: kill the children's process trees
//! (they do not get the terminal's signals, in groups of their own), let the command
//! unwind so what it holds is undone, then die of the signal. Split from running a
//! child ([`super::run`]), which only registers the tree of each child it starts.

#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
pub use windows::*;

#[cfg(unix)]
mod unix {
    use std::io::{self, Write};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The signals that stop drvctl and, through it, its children.
    const STOPPING: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    /// The process groups of the children running, for the signal handler: 0 a free
    /// slot, -1 a child being started, else its group. More children at once than
    /// slots are not killed on a signal (only by `PR_SET_PDEATHSIG`, on Linux).
    static GROUPS: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];

    /// The signal that asked drvctl to stop, or 0.
    static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

    /// The signal that asked drvctl to stop, if one did.
    pub fn interrupted() -> Option<i32> {
        Some(INTERRUPTED.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// "SIGINT (signal 2)".
    pub fn interruption_text(signal: i32) -> String {
        match super::super::signal_name(signal) {
            Some(name) => format!("{name} (signal {signal})"),
            None => format!("signal {signal}"),
        }
    }

    /// Installs the handler of SIGINT, SIGTERM and SIGHUP, except for those the
    /// parent ignores (`nohup`, a background job): they stay ignored.
    pub fn catch_signals() {
        for signal in STOPPING {
            // SAFETY: sigaction reads and writes only the structures passed, which
            // are valid, zero-initialised plain C structs; the handler only does
            // async-signal-safe things (see `on_signal`).
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                    || old.sa_sigaction == libc::SIG_IGN
                {
                    continue;
                }
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                for other in STOPPING {
                    libc::sigaddset(&mut act.sa_mask, other);
                }
                libc::sigaction(signal, &act, std::ptr::null_mut());
            }
        }
    }

    /// Kills the children's groups and notes the signal, for [`run`] to fail with
    /// and `main` to die of after the command unwound. With no child running there
    /// is nothing to undo: drvctl dies of the signal at once. Only atomics, kill,
    /// signal and raise, which are async-signal-safe.
    extern "C" fn on_signal(signal: libc::c_int) {
        let errno = Errno::save();
        INTERRUPTED.store(signal, Ordering::SeqCst);
        let mut running = false;
        for slot in &GROUPS {
            let group = slot.load(Ordering::SeqCst);
            running |= group != 0;
            if group > 0 {
                // SAFETY: kill(2) of a process group our unreaped child leads.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
        }
        if !running {
            // SAFETY: signal and raise are async-signal-safe; the signal is blocked
            // in its handler, so it is delivered, with the default action, on return.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
        }
        errno.restore();
    }

    /// `errno`, which a signal handler must leave as it found it.
    struct Errno(libc::c_int);

    impl Errno {
        fn save() -> Errno {
            Errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }

        fn restore(self) {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            // SAFETY: __errno_location returns this thread's errno, always valid.
            unsafe {
                *libc::__errno_location() = self.0;
            }
            #[cfg(target_vendor = "apple")]
            // SAFETY: __error returns this thread's errno, always valid.
            unsafe {
                *libc::__error() = self.0;
            }
        }
    }

    /// Ends drvctl as killed by `signal`: the default disposition, then the signal
    /// again. Returns (128 + signal, as a shell reports it) only if that did not end it.
    pub fn die_of(signal: i32) -> ExitCode {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        // SAFETY: plain libc calls on this process's own signal state; `set` is a
        // valid, initialised sigset_t.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(signal);
        }
        ExitCode::from((128 + signal).clamp(0, 255) as u8)
    }

    /// A slot of [`GROUPS`] held while one child runs.
    pub struct Registration {
        slot: Option<&'static AtomicI32>,
    }

    impl Registration {
        /// Takes a slot before the child is started, so a signal in between is
        /// noted rather than ending drvctl with the child left running.
        pub fn reserve() -> Registration {
            let slot =
                GROUPS.iter().find(|s| s.compare_exchange(0, -1, Ordering::SeqCst, Ordering::SeqCst).is_ok());
            Registration { slot }
        }

        pub fn set(&self, group: u32) {
            if let Some(slot) = self.slot {
                slot.store(group as i32, Ordering::SeqCst);
            }
        }

        /// Frees the slot; before the child is reaped, after which its group id
        /// may be reused.
        pub fn release(&mut self) {
            if let Some(slot) = self.slot.take() {
                slot.store(0, Ordering::SeqCst);
            }
        }
    }

    impl Drop for Registration {
        /// On an early return (an error reading the child) the child still runs:
        /// kill its group.
        fn drop(&mut self) {
            if let Some(slot) = self.slot {
                let group = slot.load(Ordering::SeqCst);
                if group > 0 {
                    // SAFETY: kill(2) of the group of our child, not yet reaped.
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                }
            }
            self.release();
        }
    }
}

/// On Windows the console's control events stand for the signals: a handler
/// ([`catch_signals`]), which Windows runs on a thread of its own, terminates the
/// children's job objects. They are numbered as the C runtime numbers the signals
/// it raises for them, so that drvctl's exit status reads the same as on Unix.
#[cfg(windows)]
mod windows {
    use std::io::{self, Write};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Mutex, PoisonError};

    use windows_sys::Win32::Foundation::{FALSE, HANDLE, TRUE};
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, SetConsoleCtrlHandler,
    };
    use windows_sys::Win32::System::JobObjects::TerminateJobObject;
    use windows_sys::core::BOOL;

    /// Ctrl-C: the C runtime's SIGINT.
    const CTRL_C: i32 = 2;
    /// Ctrl-Break: its SIGBREAK.
    const CTRL_BREAK: i32 = 21;
    /// The console window closing: as SIGHUP, the terminal going away.
    const CONSOLE_CLOSED: i32 = 1;
    /// Logging off or shutting down: as SIGTERM.
    const SHUTDOWN: i32 = 15;

    /// The exit status of the processes of a job terminated on such an event.
    const KILLED: u32 = 1;

    /// The job objects of the children running (their handles, as integers): the
    /// handler runs on a thread, so a lock is fine.
    static JOBS: Mutex<Vec<isize>> = Mutex::new(Vec::new());

    /// The event that asked drvctl to stop (its signal number), or 0.
    static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

    /// The event that asked drvctl to stop, as a signal number, if one did.
    pub fn interrupted() -> Option<i32> {
        Some(INTERRUPTED.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// "Ctrl-C".
    pub fn interruption_text(signal: i32) -> String {
        match signal {
            CTRL_C => "Ctrl-C".into(),
            CTRL_BREAK => "Ctrl-Break".into(),
            CONSOLE_CLOSED => "the console closing".into(),
            SHUTDOWN => "logoff or shutdown".into(),
            other => format!("signal {other}"),
        }
    }

    /// Installs the console control handler. A process started with Ctrl-C
    /// disabled (`CREATE_NEW_PROCESS_GROUP`, as a background job) keeps it
    /// disabled: Windows does not call handlers for it then.
    pub fn catch_signals() {
        // SAFETY: registers a function with the signature Windows calls handlers
        // with; it stays valid for the life of the process.
        unsafe { SetConsoleCtrlHandler(Some(on_control), TRUE) };
    }

    /// Terminates the children's jobs and notes the event, for [`super::super::run`]
    /// to fail with and `main` to exit by after the command unwound. With no child
    /// running there is nothing to undo: the next handler (Windows' default, which
    /// ends drvctl) runs.
    unsafe extern "system" fn on_control(event: u32) -> BOOL {
        let signal = match event {
            CTRL_C_EVENT => CTRL_C,
            CTRL_BREAK_EVENT => CTRL_BREAK,
            CTRL_CLOSE_EVENT => CONSOLE_CLOSED,
            _ => SHUTDOWN,
        };
        INTERRUPTED.store(signal, Ordering::SeqCst);
        let jobs = JOBS.lock().unwrap_or_else(PoisonError::into_inner);
        for &job in jobs.iter() {
            // SAFETY: a registered job handle stays open until it is unregistered,
            // which takes this lock.
            unsafe { TerminateJobObject(job as HANDLE, KILLED) };
        }
        if jobs.is_empty() { FALSE } else { TRUE }
    }

    /// Ends drvctl after an interruption: 128 + the signal's number, as a shell
    /// reports a death by that signal (130 for Ctrl-C).
    pub fn die_of(signal: i32) -> ExitCode {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        ExitCode::from((128 + signal).clamp(0, 255) as u8)
    }

    /// A child's job object, registered for the handler while the child runs.
    pub struct Registration {
        job: Option<isize>,
    }

    impl Registration {
        /// Registers `job`, which must stay open until [`Registration::release`]
        /// (or the drop).
        pub fn new(job: HANDLE) -> Registration {
            JOBS.lock().unwrap_or_else(PoisonError::into_inner).push(job as isize);
            Registration { job: Some(job as isize) }
        }

        pub fn release(&mut self) {
            if let Some(job) = self.job.take() {
                let mut jobs = JOBS.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(i) = jobs.iter().position(|&j| j == job) {
                    jobs.swap_remove(i);
                }
            }
        }
    }

    impl Drop for Registration {
        fn drop(&mut self) {
            self.release();
        }
    }
}
