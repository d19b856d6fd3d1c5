//! The host process's side of a channel: it loads the module it is asked to, and
//! answers each call by rebuilding the parameters into its copy of the payload,
//! calling `DriverProc`, and turning what the driver wrote back into wire form.
//!
//! One channel carries one call at a time, in the order the application sent
//! them; the application side ([`super::remote`]) keeps to that. The main thread
//! serves them, except large calls from an application thread on a CPU that has a
//! host thread bound to it, which that thread serves, so that their data stays in
//! one CPU's caches ("Serving on the caller's CPU" in [`super::channel`]).
//!
//! What a driver sees differently from in process, where each message arrives on
//! the application thread that sent it: one application thread's messages may
//! arrive on two host threads, its small ones on the main thread and its large
//! ones (a codec's converts) on the thread bound to its CPU, so a driver that
//! keeps per-thread state between, say, a prepare and a convert sees two threads;
//! a thread the driver starts while it serves a large call inherits the binding to
//! one CPU; and a large call waits for that CPU even when another is free. A
//! driver that minds any of this is hosted as before with
//! `DRVPROC_HOST_SAME_CPU_BYTES=off`.
//!
//! # DriverCallback in a host process
//!
//! The `dwCallback` a driver passes is the application's: a function address, event
//! or queue of its process. `drvproc-hostd` exports its own `DriverCallback`, which
//! the dynamic linker binds the driver to ahead of libdrvproc's (the executable
//! comes first in symbol lookup), and which lands in [`driver_callback`]: nothing
//! is run or signalled in the host. On the thread serving a call, while the driver
//! runs that call, the values go back over the channel and the application
//! notifies its target on the thread that waits for the call's answer (see
//! [`super::remote`]); `DriverCallback` returns what the application's did.
//! Anywhere else (another thread of the driver, or outside a call) no application
//! thread is waiting to run it, so `DriverCallback` returns FALSE, the answer
//! for an undelivered notification, and the first such refusal is reported on
//! stderr. Queuing them for the next call would deliver them late, whenever the
//! application next sends, which is no use for a notification such as "buffer
//! done".

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use drvproc::{DriverProc, Hdrvr, LParam};

use super::channel::{BackChannel, ChannelError, Server};
use super::marshal::{self, WireArg};
use super::protocol::{Callback, Request, Response, op, status};
use crate::loader::{self, LoadedLibrary};
use crate::resolve::Target;

/// What the host serves calls with: a module it loaded, or (in tests) a
/// `DriverProc` of this process.
pub(crate) enum Driver {
    None,
    Loaded(LoadedLibrary),
    Proc(DriverProc),
}

impl Driver {
    fn proc_(&self) -> Option<DriverProc> {
        match self {
            Driver::None => None,
            Driver::Loaded(l) => Some(l.proc_),
            Driver::Proc(p) => Some(*p),
        }
    }
}

thread_local! {
    /// The channel this thread serves, while it serves one.
    static BACK: RefCell<Option<BackChannel>> = const { RefCell::new(None) };
    /// The `seq` of the call whose driver code this thread runs, while it runs it.
    static IN_CALL: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Clears this thread's [`BACK`] when serving ends, however it ends.
struct Serving;

impl Drop for Serving {
    fn drop(&mut self) {
        BACK.set(None);
    }
}

/// `DriverCallback` in a host process (see the module notes): the application's
/// answer when this thread is running a call's driver code, FALSE otherwise. Only
/// integers leave; nothing here dereferences or calls `callback`.
pub(crate) fn driver_callback(
    callback: usize,
    flags: u32,
    hdrvr: usize,
    msg: u32,
    user: usize,
    p1: usize,
    p2: usize,
) -> bool {
    let frame = Callback {
        callback: callback as u64,
        hdrvr: hdrvr as u64,
        user: user as u64,
        p1: p1 as u64,
        p2: p2 as u64,
        flags,
        msg,
    };
    let sent =
        IN_CALL.get().and_then(|seq| BACK.with_borrow(|back| back.as_ref().map(|b| b.callback(seq, &frame))));
    match sent {
        Some(Ok(delivered)) => delivered,
        // The application is gone or broke the protocol; the channel is dead, and
        // the serving loop ends when the driver returns.
        Some(Err(_)) => false,
        None => {
            static REPORTED: AtomicBool = AtomicBool::new(false);
            if !REPORTED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "drvproc-hostd: DriverCallback outside the thread serving a call cannot reach the \
                     application; refused (FALSE), as are any later ones"
                );
            }
            false
        }
    }
}

/// The modules a host serves. Module 0 is the first loaded; a group's host loads
/// more, numbered from 1.
struct Modules {
    first: Driver,
    others: Vec<Driver>,
}

/// The host's modules, for whichever of its threads serves the call in flight.
/// Only one call is ever in flight on a channel, so the lock is never contended;
/// it is there because the thread serving changes from call to call.
#[derive(Clone)]
struct Shared(Arc<Mutex<Modules>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Modules> {
        // A panic cannot unwind out of a driver call (it aborts at the FFI
        // boundary), so a poisoned lock holds nothing half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves `server` until the application asks it to stop or goes away.
///
/// This thread serves every call, except large ones from an application thread
/// whose CPU has a server thread of its own (see "Serving on the caller's CPU" in
/// the channel's notes): the first such call from a CPU asks for one, and this
/// thread starts it, bound to that CPU, after answering.
pub(crate) fn serve(server: &mut Server, driver: Driver) -> Result<(), ChannelError> {
    BACK.set(Some(server.back_channel()));
    let _serving = Serving;
    let modules = Shared(Arc::new(Mutex::new(Modules { first: driver, others: Vec::new() })));
    let mut started = 0u64;
    let mut bound = Vec::new();
    let result = loop {
        let served = match server.serve_one(|req, payload| answer(req, payload, &mut modules.lock())) {
            Ok(served) => served,
            Err(e) => break Err(e),
        };
        if served.op == op::SHUTDOWN {
            break Ok(());
        }
        let wanted = server.take_wanted_cpus() & !started;
        if wanted != 0 {
            for cpu in (0..64).filter(|cpu| wanted & (1 << cpu) != 0) {
                started |= 1 << cpu;
                bound.extend(start_cpu_server(server, cpu, &modules));
            }
        }
    };
    server.stop_cpu_servers();
    if result.is_ok() {
        // No call is in flight after a `SHUTDOWN`, so each bound thread is asleep
        // on its bell and ends at once. Joined so that the modules are dropped
        // (and unloaded) here, not on a bound thread while this one exits. After a
        // failure a bound thread may still be in its driver; the process ends
        // without it.
        for thread in bound {
            let _ = thread.join();
        }
    }
    result
}

/// Starts the thread that serves the large calls of application threads on CPU
/// `cpu`, bound to that CPU, so that the call's data stays in that CPU's caches.
/// When the thread cannot be started or bound, clients are told to stop asking,
/// and their calls stay with the main thread.
fn start_cpu_server(server: &Server, cpu: usize, modules: &Shared) -> Option<std::thread::JoinHandle<()>> {
    let (Some(mut cpu_server), Some(refusal)) = (server.cpu_server(cpu), server.cpu_server(cpu)) else {
        return None;
    };
    let dead = server.dead_switch();
    let modules = modules.clone();
    let started = std::thread::Builder::new().name(format!("drvproc-cpu{cpu}")).spawn(move || {
        if let Err(e) = super::channel::bind_this_thread(cpu) {
            eprintln!(
                "drvproc-hostd: cannot bind a thread to CPU {cpu} ({e}); its calls stay with the main thread"
            );
            cpu_server.refuse();
            return;
        }
        BACK.set(Some(cpu_server.back_channel()));
        let _serving = Serving;
        cpu_server.open();
        // Ends when the channel dies or is stopped. A panic here is a fault of this
        // process as a panic on the main thread is (which ends it): the channel
        // goes dead and the process aborts, so that the application hears of it at
        // once rather than when this CPU's next large call times out.
        let serving = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while cpu_server.serve_one(|req, payload| answer(req, payload, &mut modules.lock())).is_ok() {}
        }));
        if serving.is_err() {
            dead.mark_dead();
            std::process::abort();
        }
    });
    match started {
        Ok(thread) => Some(thread),
        Err(_) => {
            refusal.refuse();
            None
        }
    }
}

/// The answer to one request. A failure's text goes into the payload (UTF-8),
/// with its length as `ret`.
fn answer(req: &Request, payload: &mut [u8], modules: &mut Modules) -> Response {
    let Modules { first, others } = modules;
    let reply = |ret: i64, status: u32| Response { ret, status, ..Response::default() };
    let failed = |payload: &mut [u8], text: &str| {
        let n = text.len().min(payload.len());
        payload[..n].copy_from_slice(&text.as_bytes()[..n]);
        reply(n as i64, status::FAILED)
    };
    match req.op {
        op::SHUTDOWN => reply(0, status::OK),
        op::LOAD_MODULE => {
            let Some(range) = req.descs[0].range(payload.len()) else {
                return reply(0, status::BAD_PAYLOAD);
            };
            let Ok(path) = std::str::from_utf8(&payload[range]).map(PathBuf::from) else {
                return failed(payload, "the module path is not UTF-8");
            };
            match loader::load(&Target::Path(path)) {
                Ok(library) if matches!(first, Driver::None) => {
                    *first = Driver::Loaded(library);
                    reply(0, status::OK)
                }
                Ok(library) => {
                    // A free number (of a module unloaded before), else a new one.
                    let free = others.iter().position(|d| matches!(d, Driver::None));
                    let index = free.unwrap_or_else(|| {
                        others.push(Driver::None);
                        others.len() - 1
                    });
                    others[index] = Driver::Loaded(library);
                    reply(index as i64 + 1, status::OK)
                }
                Err(e) => failed(payload, &e.to_string()),
            }
        }
        op::UNLOAD_MODULE => {
            if let Some(slot) = module(first, others, req.module) {
                // Dropping the library unmaps it; the driver has had DRV_FREE.
                *slot = Driver::None;
            }
            reply(0, status::OK)
        }
        op::CALL => {
            let Some(proc_) = module(first, others, req.module).and_then(|d| d.proc_()) else {
                return failed(payload, "no module is loaded");
            };
            IN_CALL.set(Some(req.seq));
            let result = call(proc_, req, payload);
            IN_CALL.set(None);
            match result {
                Ok(ret) => reply(ret as i64, status::OK),
                Err(e) => failed(payload, &e.to_string()),
            }
        }
        _ => reply(0, status::UNKNOWN_OP),
    }
}

/// Module `index` of a host: 0 is the first, the others follow.
fn module<'d>(first: &'d mut Driver, others: &'d mut [Driver], index: u32) -> Option<&'d mut Driver> {
    match index {
        0 => Some(first),
        n => others.get_mut(n as usize - 1),
    }
}

/// Rebuilds the parameters of a `CALL`, calls the driver and puts what it wrote
/// into wire form. Integer-only calls touch no payload.
fn call(proc_: DriverProc, req: &Request, payload: &mut [u8]) -> Result<isize, marshal::MarshalError> {
    let l1 = WireArg::decode(req.tags[0], req.l1)?;
    let l2 = WireArg::decode(req.tags[1], req.l2)?;
    let (id, hdrvr) = (req.id as usize, req.hdrvr as usize);
    if let (WireArg::Int(a), WireArg::Int(b)) = (l1, l2) {
        // SAFETY: integers the application passed as integers, to the module's
        // DriverProc, which the loader resolved with its ABI signature.
        return Ok(unsafe { proc_(id, Hdrvr::from_raw(hdrvr), req.msg, a as LParam, b as LParam) });
    }
    let host = marshal::rebuild(l1, l2, payload)?;
    // SAFETY: `rebuild` made every pointer parameter point into `payload`, laid out
    // as the message's contract says, and `payload` lives through the call.
    let ret = unsafe { proc_(id, Hdrvr::from_raw(hdrvr), req.msg, host.l1, host.l2) };
    marshal::finish(payload)?;
    Ok(ret)
}

/// `drvproc-hostd --channel FD`: maps the inherited channel and serves it until
/// the application asks it to stop. Exit status 0 after a `SHUTDOWN`, 1 when the
/// channel fails (the application died), 2 for a bad command line.
pub(crate) fn main(args: &[String]) -> std::process::ExitCode {
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    use std::process::ExitCode;

    let fd: Option<RawFd> = match args {
        [flag, n] if flag == "--channel" => n.parse().ok(),
        _ => None,
    };
    let Some(fd) = fd.filter(|&fd| fd > 2) else {
        eprintln!("drvproc-hostd: usage: drvproc-hostd --channel FD (started by the driver manager)");
        return ExitCode::from(2);
    };
    // SAFETY: plain-value arguments; F_GETFD only asks whether `fd` is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        eprintln!("drvproc-hostd: descriptor {fd} is not open");
        return ExitCode::from(2);
    }
    // SAFETY: `fd` is open (checked above) and was handed to this process for the
    // channel alone: nothing else in it owns or closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut server = match Server::from_fd(fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("drvproc-hostd: {e}");
            return ExitCode::from(2);
        }
    };
    server.set_spin(super::channel::configured_spin());
    match serve(&mut server, Driver::None) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drvproc-hostd: {e}");
            ExitCode::FAILURE
        }
    }
}
