//! A shared-memory channel between the application and a driver host process,
//! carrying one call at a time.
//!
//! # Layout
//!
//! One memfd, sealed against shrinking and growing, mapped `MAP_SHARED` by both
//! processes (the host process inherits the descriptor). Offsets are fixed, the same
//! for 32- and 64-bit processes:
//!
//! | offset | what                                                                |
//! |--------|---------------------------------------------------------------------|
//! | 0      | header: magic, version, payload offset and length (written once)     |
//! | 128    | request slot: state word, "server sleeping" flag, [`Request`] frame  |
//! | 256    | response slot: state word, "client sleeping" flag, [`Response`] frame|
//! | 384    | callback block: the [`Callback`] of a `status::CALLBACK` response    |
//! | 512    | doorbells: the host threads bound to CPUs, one bell word per CPU      |
//! | 4096   | payload area, `payload_len` bytes                                    |
//!
//! Each slot has its own 128-byte block (two cache lines, so the adjacent-line
//! prefetcher does not pair them either): a side spinning on one state word does not
//! slow the other side's writes to the other slot, and the frame travels with its
//! state word in one transfer.
//!
//! # Who writes what, when
//!
//! Each state word is `EMPTY`, `FULL` or `DEAD` (and the request word also `DIRECT`,
//! see "Serving on the caller's CPU"). The request slot's word is set
//! `EMPTY → FULL` only by the client and `FULL → EMPTY` only by the server; the
//! response slot's word `EMPTY → FULL` only by the server and `FULL → EMPTY` only by
//! the client. `DEAD` is stored by anyone (the supervisor, or a client abandoning a
//! call) and is final: every other transition is a compare-exchange from a live
//! value, so none can undo it.
//!
//! Ownership of the frames and the payload area follows the words:
//!
//! 1. Between calls both words are `EMPTY` and the client owns the request frame and
//!    the payload area. It writes the frame and the payload, then publishes with a
//!    compare-exchange `EMPTY → FULL` on the request word (a release: it pairs with
//!    the server's acquire load that sees `FULL`, so the server sees the frame and
//!    payload bytes).
//! 2. The server, having seen `FULL`, copies the frame, sets the request word back to
//!    `EMPTY` (relaxed: the client never looks at the request slot again before step
//!    4, and step 3's release orders the server's reads before it), runs the handler
//!    on the payload area, writes the response frame and publishes with a
//!    compare-exchange `EMPTY → FULL` on the response word (release, paired with the
//!    client's acquire load that sees `FULL`).
//! 3. The client copies the response frame, sets the response word back to `EMPTY`
//!    (relaxed: the server's next write of the response frame or payload comes after
//!    it has acquired the client's next request, which the client publishes after
//!    reading), and reads the out bytes; the borrow of [`Reply`] ends before the next
//!    call can start, so the reads precede the next publication.
//! 4. Back to 1.
//!
//! # Callbacks during a call
//!
//! A driver may call `DriverCallback` while it serves a call; its target (a
//! function, event or queue) lives in the application. The server, still owning
//! the response slot and the payload area (step 2), writes the [`Callback`] into the
//! callback block and publishes a response with `status::CALLBACK` and the call's
//! `seq`, then waits on the request word. The client, seeing that status, copies
//! the callback block, empties the response word as in step 3, runs the callback,
//! writes a request frame with `op::CALLBACK_DONE` and the same `seq`, publishes it
//! (`EMPTY → FULL` on the request word, which the server emptied when it took the
//! call) and waits for the response word again. The server takes that frame as in
//! step 2 and goes on with the call, to more callbacks or to its answer. The payload
//! area stays the server's throughout: the client does not touch it until the real
//! answer. The same release/acquire pairs as for calls order the frames, and the
//! same sleeping rules apply to both waits. A call with no callback runs exactly the
//! steps above; its only added work is a look at the response's status.
//!
//! # Sleeping without lost wake-ups
//!
//! A waiter (the server on the request word, the client on the response word) first
//! spins for a bounded time, then sets its slot's sleeping flag, loads the word again
//! and, if it is not the value it waits for, calls `FUTEX_WAIT(word, value seen)`. A publisher does its
//! compare-exchange, then loads the sleeping flag and calls `FUTEX_WAKE` only when it
//! is set, so a call whose peer is awake makes no system call. The flag store and
//! word load of the waiter and the word exchange and flag load of the publisher are
//! all `SeqCst`: in the single order of those four operations, either the
//! publisher's flag load comes after the waiter's flag store (and it wakes), or the
//! waiter's word load comes after the publisher's exchange (and it sees `FULL` and
//! does not sleep). `FUTEX_WAIT` compares the word with `EMPTY` atomically with
//! queueing the waiter, which closes the window between the load and the sleep: a
//! word changed before that returns at once, one changed after it is woken. A stale
//! flag (the waiter woke and has not cleared it yet) only costs one needless wake.
//!
//! # Spinning
//!
//! The spin is a loop of plain loads of the state word with a look at the clock every
//! few turns, without the CPU's spin-wait hint (`std::hint::spin_loop`, PAUSE on
//! x86). Virtual machines commonly trap a run of PAUSEs ("pause-loop exiting") as a
//! sign that the vCPU waits for a lock holder that is not running, and deschedule
//! it: with the hint, on the 2-vCPU machine this was measured on, a 20 µs spin for a
//! peer that answers in well under a microsecond ended in a sleep on 78 % of calls
//! and a median round trip of 46 µs; without it, 0.12 µs and no sleeps. The spin is
//! bounded, so the cost of not yielding the pipeline to a hyperthread sibling is
//! bounded too.
//!
//! Spinning only pays while the peer runs on another CPU. When the scheduler puts
//! both processes on one CPU (wake-ups pull the woken process towards the waker's
//! CPU), a spinning waiter holds the CPU its peer needs: each spin runs to its end
//! and the round trip is two full spins plus two wake-ups (46 µs with 20 µs spins,
//! against 4 µs without spinning, measured). So the spin adapts, per waiter: a spin
//! that ends in a sleep halves the next one, and below 1 µs none is tried; a spin
//! that catches the word restores the full length, and with the budget spent one
//! wait in 64 still tries a full spin, to notice when the peer is back on a CPU of
//! its own. A server whose calls come seldom stops spinning the same way, so an idle
//! channel costs no CPU after a few calls.
//!
//! # Serving on the caller's CPU
//!
//! A call that carries a lot of data (from [`same_cpu::DEFAULT_SAME_CPU_BYTES`] of payload,
//! in and out; `DRVPROC_HOST_SAME_CPU_BYTES` sets it, `off` turns this off) is not
//! served by the host's main thread but by a host thread bound to the CPU the
//! calling thread runs on, and the caller gives that CPU away until the answer
//! comes. Two
//! costs made this worth its machinery, measured on the 2-vCPU machine of the
//! manager's isolation bench with a 64 KiB G.711 encode (45 µs of codec work):
//! served by the main thread on the other CPU, the codec ran 70 µs instead of 48,
//! because every byte the application copied in, and every byte it copies out,
//! crosses between the two CPUs' caches; and the caller, whose spin ran out long
//! before the answer, slept and paid the 36 µs it takes to wake a halted vCPU.
//! Isolated, the encode took 2.1–2.3 times as long as in process. On the caller's
//! own CPU the data stays in that CPU's caches, and handing the CPU over and back
//! costs two context switches on one CPU: 1.13 times (see BENCHMARKS.md). Small
//! calls stay with the main thread, whose spin answers them in well under a
//! microsecond when it has a CPU of its own.
//!
//! The caller waits by yielding (`sched_yield` in a loop, for at most
//! [`same_cpu::YIELD_FOR`], then it sleeps as any waiter does), not by sleeping.
//! A sleeping caller is woken by the bound thread while that thread still runs,
//! so the scheduler places it on an idle CPU if there is one: the caller then
//! pays for waking that CPU and reads the answer from the other CPU's cache, and
//! its next call goes to that CPU's thread, so the placement repeats call after
//! call. Measured so, the encode took 1.18–1.45 times as long as in process; a
//! yielding caller stays runnable where it is, needs no wake-up (the bound thread
//! sees it is not sleeping), and runs again as soon as the bound thread sleeps.
//!
//! The doorbells block has three masks, one bit per CPU (CPUs from 64 on are not
//! served this way): `wanted` (set by the client), and `ready` and `refused` (set
//! by the host). A client with a large call looks up its CPU (`sched_getcpu`). If
//! that CPU is `ready`, it writes the frame and payload as in step 1, sets the
//! request word `EMPTY → DIRECT` instead of `FULL`, stores `RUNG` into the CPU's
//! bell (release) and wakes it. Otherwise it sets the CPU's `wanted` bit, unless
//! that or `refused` is set already, and the call goes to the main thread as
//! usual. The main thread, between calls, takes the `wanted` bits and starts a
//! thread for each CPU, which binds itself to that CPU alone, then sets the CPU's
//! `ready` bit, or `refused` if it could not bind.
//!
//! A bound thread sleeps on its bell whenever it has nothing to do (it never spins:
//! its CPU is the caller's). Woken with `RUNG` (acquire, pairing with the client's
//! release, so it sees `DIRECT`, the frame and the payload), it resets the bell,
//! takes the frame with `DIRECT → EMPTY`, and goes on as the main thread does in
//! step 2, answering on the same response slot. A callback during such a call
//! works as above, except that the client publishes its `CALLBACK_DONE` the same
//! way as the call (`DIRECT` and the bell), and the bound thread waits for it on
//! its bell. The main thread waits for `FULL` only: seeing `DIRECT` ends its spin
//! at once and it sleeps; nobody wakes it when the bound thread takes the request
//! (`DIRECT → EMPTY` wakes no one), so it sleeps on until the next `FULL`, whose
//! publisher wakes it (its sleeping flag is set), or `DEAD`. So a small call right
//! after a large one pays for waking the main thread; waking it after each large
//! call instead would cost the bound thread a system call per call and the main
//! thread a spin per call, spent while the large calls stream.
//!
//! Only one call is ever in flight, so whichever thread serves it owns the payload
//! area and the response slot exactly as the main thread does in step 2. Only
//! `op::CALL` requests are routed so: loading, unloading and `SHUTDOWN` are the
//! main thread's whatever their size. A client whose callback unwinds in the
//! middle of a call marks the channel dead, since the serving thread still waits
//! for that callback's answer.
//!
//! To stop the bound threads (the channel died, [`DeadSwitch::mark_dead`], or the
//! main thread stopped serving), the stopper sets the doorbells' `stopped` word,
//! then stores `STOP` into the bell of every CPU in `ready` and wakes it. A bound
//! thread that set its `ready` bit after the stopper read the mask finds `stopped`
//! set before it sleeps (all four operations `SeqCst`).
//!
//! # Death
//!
//! [`DeadSwitch::mark_dead`] (for the supervisor, when the host process died or ran
//! past its time) stores `DEAD` into both words and wakes every waiter on both (and
//! stops the bound threads, above),
//! unconditionally; a waiter that was about to sleep finds the word no longer
//! `EMPTY` in `FUTEX_WAIT` and returns. Every wait checks for `DEAD` on each look at
//! its word, and the spin loop looks at it on each turn. A client whose wait times
//! out marks the channel dead itself: the host may still be working on the call and
//! write into the payload area, so no later call may reuse it.
//!
//! The other process is trusted to follow this protocol, not to be correct
//! otherwise: frames are copied out with one volatile read and used only as copies,
//! the header is checked once and never read again, payload descriptors are checked
//! by [`PayloadDesc::range`](super::protocol::PayloadDesc::range), an unknown state
//! value counts as `DEAD`, and the sealed size means the mapping cannot be cut short
//! under either process.

use std::cell::UnsafeCell;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::protocol::{Callback, Request, Response, op, status};

// Paths spelled out: the channel's own tests and bench include this file on its
// own (`#[path]`), where a bare `mod` would be looked for beside it.
#[path = "channel/same_cpu.rs"]
mod same_cpu;
#[path = "channel/wait.rs"]
mod wait;

pub(crate) use same_cpu::{CpuServer, bind_this_thread, configured_same_cpu_bytes};
use same_cpu::{Doorbells, Route};
use wait::{Spin, Wait, futex_wake, wait_for};

/// Payload area of a channel unless the creator asks otherwise: room for a large
/// audio or video buffer of one call.
pub(crate) const DEFAULT_PAYLOAD_LEN: usize = 1 << 20;

/// Largest payload area a channel may have (so the file size fits every `off_t`).
pub(crate) const MAX_PAYLOAD_LEN: usize = 1 << 30;

/// How long a waiter spins before it sleeps, unless set otherwise: longer than a
/// typical short driver call takes, so such a call costs no system call and no
/// context switch, and short enough that an idle channel goes to sleep at once.
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// The variable that sets the spin of both ends of a host process's channel, in
/// nanoseconds, for measurements (the spin-0 figures of the manager's isolation
/// bench). The host inherits the application's environment, so both ends read the
/// same value.
pub(crate) const SPIN_VAR: &str = "DRVPROC_HOST_SPIN_NS";

/// The spin of a host process's channel: [`SPIN_VAR`] when it holds a number of
/// nanoseconds, else [`DEFAULT_SPIN`].
pub(crate) fn configured_spin() -> Duration {
    std::env::var(SPIN_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(DEFAULT_SPIN, Duration::from_nanos)
}

const MAGIC: u32 = u32::from_le_bytes(*b"DRch");
/// 2: the callback block and the `CALLBACK`/`CALLBACK_DONE` exchange; 3: a
/// request names its module (a group of modules in one host); 4: the doorbells
/// and `DIRECT` requests, served on the caller's CPU.
const VERSION: u32 = 4;
/// Where the payload area starts: one page after the mapping's start.
const PAYLOAD_OFFSET: usize = 4096;

const EMPTY: u32 = 0;
const FULL: u32 = 1;
const DEAD: u32 = 2;
/// A request for the host thread bound to the caller's CPU, not for the main
/// thread ("Serving on the caller's CPU"); request word only.
const DIRECT: u32 = 3;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChannelError {
    #[error("cannot set up a channel: {what} failed: {source}")]
    Setup { what: &'static str, source: io::Error },
    #[error("a payload area of {requested} bytes is over the limit of {MAX_PAYLOAD_LEN}")]
    PayloadTooLarge { requested: usize },
    #[error("the descriptor is not a driver channel: {0}")]
    NotAChannel(&'static str),
    #[error("the process at the other end of the channel is dead")]
    PeerDead,
    #[error("no answer within {0:?}; the channel is now dead")]
    Timeout(Duration),
    #[error("the answer is for call {got}, not for call {expected}; the channel is now dead")]
    OutOfSequence { expected: u64, got: u64 },
    #[error("a channel slot was busy at the start of a call; the channel is now dead")]
    Busy,
    #[error("waiting on the channel failed: {0}")]
    Wait(io::Error),
    #[error("a callback was answered with operation {op} for call {seq}; the channel is now dead")]
    BadCallbackAnswer { op: u32, seq: u64 },
}

/// A block of its own for each part of the control area (see the module notes).
#[repr(C, align(128))]
struct Block<T>(T);

#[repr(C)]
struct Header {
    magic: u32,
    version: u32,
    payload_offset: u64,
    payload_len: u64,
}

/// One direction of the channel: the state word its waiter sleeps on, the flag the
/// waiter sets before sleeping, and the frame the state word hands over.
#[repr(C)]
struct Slot<F> {
    state: AtomicU32,
    waiter_sleeping: AtomicU32,
    frame: UnsafeCell<F>,
}

/// The control area at the start of the mapping. Every field is an atomic or in an
/// `UnsafeCell`, because the other process writes into it.
#[repr(C)]
struct Control {
    header: Block<UnsafeCell<Header>>,
    request: Block<Slot<Request>>,
    response: Block<Slot<Response>>,
    /// Written by the server before a `status::CALLBACK` response, read by the
    /// client after it (see "Callbacks during a call").
    callback: Block<UnsafeCell<Callback>>,
    /// The host threads bound to CPUs ("Serving on the caller's CPU").
    doorbells: Block<Doorbells>,
}

const _: () = {
    assert!(offset_of!(Control, request) == 128);
    assert!(offset_of!(Control, response) == 256);
    assert!(offset_of!(Control, callback) == 384);
    assert!(offset_of!(Control, doorbells) == 512);
    assert!(size_of::<Control>() == 896);
    assert!(size_of::<Control>() <= PAYLOAD_OFFSET);
    assert!(offset_of!(Slot<Request>, frame) == 8);
    assert!(offset_of!(Slot<Response>, frame) == 8);
    assert!(size_of::<Header>() == 24);
    assert!(MAX_PAYLOAD_LEN + PAYLOAD_OFFSET <= i32::MAX as usize);
};

/// The mapped region, unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
    /// Validated once at creation or opening; never re-read from the header.
    payload_len: usize,
}

// SAFETY: the mapping is process-wide memory, not tied to a thread; every access to
// it from `&Mapping` goes through atomics, or through frames and a payload area
// whose use the state words serialise (module notes). `&mut` access to those is
// only handed out by `Client::call_with` (`&mut Client`) and, in the host, to the
// one thread that took the call in flight (its `FULL → EMPTY` or `DIRECT → EMPTY`
// exchange succeeded: `Server::serve_one` or `CpuServer::serve_one`) until it
// publishes the answer; a client that abandons a call mid-way marks the channel
// dead, so no second call can be taken while a thread still serves the first.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, readable and writable.
    fn map(fd: BorrowedFd<'_>, len: usize, payload_len: usize) -> Result<Mapping, ChannelError> {
        // SAFETY: a fresh mapping chosen by the kernel (null hint), so no existing
        // memory is affected; the arguments are plain values and `fd` is open.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(ChannelError::Setup { what: "mmap", source: io::Error::last_os_error() });
        }
        let base = NonNull::new(p.cast::<u8>())
            .ok_or(ChannelError::Setup { what: "mmap", source: io::Error::other("null mapping") })?;
        Ok(Mapping { base, len, payload_len })
    }

    fn control(&self) -> &Control {
        // SAFETY: the mapping is at least `PAYLOAD_OFFSET` bytes (checked by both
        // constructors) and `Control` fits in that (const assertion); mmap returns
        // page-aligned memory, enough for `Control`'s 128-byte alignment; every field
        // is atomic or an `UnsafeCell`, so a shared reference permits the other
        // process's writes; memfd pages start zeroed, a valid value of each field.
        unsafe { self.base.cast::<Control>().as_ref() }
    }

    fn payload_ptr(&self) -> *mut u8 {
        // SAFETY: `PAYLOAD_OFFSET <= len` (checked by both constructors), so the
        // result stays inside the mapping.
        unsafe { self.base.as_ptr().add(PAYLOAD_OFFSET) }
    }

    fn mark_dead(&self) {
        let control = self.control();
        for state in [&control.request.0.state, &control.response.0.state] {
            state.store(DEAD, Ordering::SeqCst);
            futex_wake(state, i32::MAX);
        }
        control.doorbells.0.stop_all();
    }

    fn is_dead(&self) -> bool {
        let control = self.control();
        [&control.request.0.state, &control.response.0.state]
            .iter()
            .any(|s| !matches!(s.load(Ordering::Acquire), EMPTY | FULL | DIRECT))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, and every reference
        // into the mapping borrows from an owner of this `Arc`ed mapping, so none
        // outlives it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Sets a channel dead from anywhere, e.g. a supervisor that saw the host exit.
#[derive(Clone)]
pub(crate) struct DeadSwitch {
    map: Arc<Mapping>,
}

impl DeadSwitch {
    /// Makes every current and future wait on the channel, on both ends, fail with
    /// [`ChannelError::PeerDead`].
    pub(crate) fn mark_dead(&self) {
        self.map.mark_dead();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.map.is_dead()
    }
}

/// The application's end: creates the channel and makes calls on it.
pub(crate) struct Client {
    map: Arc<Mapping>,
    fd: OwnedFd,
    seq: u64,
    spin: Spin,
    /// Payload bytes from which a call is served on the caller's CPU; `None`: never.
    same_cpu_bytes: Option<usize>,
}

/// The answer to a call: the response frame, and the payload area to read out bytes
/// from until the next call.
pub(crate) struct Reply<'a> {
    pub(crate) response: Response,
    pub(crate) payload: &'a [u8],
}

impl Client {
    /// Creates a channel with a payload area of `payload_len` bytes. Its descriptor
    /// ([`Client::fd`]) is close-on-exec; whoever starts the host process clears
    /// that in the child only, so no other child inherits it.
    pub(crate) fn create(payload_len: usize) -> Result<Client, ChannelError> {
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(ChannelError::PayloadTooLarge { requested: payload_len });
        }
        let len = PAYLOAD_OFFSET + payload_len;
        let setup = |what| ChannelError::Setup { what, source: io::Error::last_os_error() };
        // SAFETY: the name is a NUL-terminated literal; the flags are plain values.
        let raw = unsafe {
            libc::memfd_create(c"drvproc-channel".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if raw < 0 {
            return Err(setup("memfd_create"));
        }
        // SAFETY: `raw` is a descriptor memfd_create just opened, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = libc::off_t::try_from(len)
            .map_err(|_| ChannelError::PayloadTooLarge { requested: payload_len })?;
        // SAFETY: plain-value arguments on a descriptor we own.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
            return Err(setup("ftruncate"));
        }
        // The server maps the size it finds; sealing it means neither process can
        // shrink the file under the other's mapping (which would fault on access).
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: plain-value arguments on a descriptor we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(setup("sealing the memfd"));
        }
        let map = Mapping::map(fd.as_fd(), len, payload_len)?;
        let header = Header {
            magic: MAGIC,
            version: VERSION,
            payload_offset: PAYLOAD_OFFSET as u64,
            payload_len: payload_len as u64,
        };
        // SAFETY: the header lies in the mapping (`Mapping::control`), and no other
        // process has the descriptor yet.
        unsafe { map.control().header.0.get().write_volatile(header) };
        Ok(Client {
            map: Arc::new(map),
            fd,
            seq: 0,
            spin: Spin::new(DEFAULT_SPIN),
            same_cpu_bytes: Some(same_cpu::DEFAULT_SAME_CPU_BYTES),
        })
    }

    /// The channel's descriptor, for the host process to inherit.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub(crate) fn payload_len(&self) -> usize {
        self.map.payload_len
    }

    /// How long a call spins at most for its answer before it sleeps (see
    /// "Spinning" in the module notes); zero sleeps at once.
    pub(crate) fn set_spin(&mut self, spin: Duration) {
        self.spin = Spin::new(spin);
    }

    /// From how many payload bytes (in and out) a call is served on the caller's
    /// CPU ("Serving on the caller's CPU" in the module notes); `None`: never.
    pub(crate) fn set_same_cpu_bytes(&mut self, bytes: Option<usize>) {
        self.same_cpu_bytes = bytes;
    }

    pub(crate) fn dead_switch(&self) -> DeadSwitch {
        DeadSwitch { map: Arc::clone(&self.map) }
    }

    pub(crate) fn mark_dead(&self) {
        self.map.mark_dead();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.map.is_dead()
    }

    /// [`call_with`](Self::call_with) for a request whose driver code has no
    /// callback target to reach: each callback it sends is answered 0 (not
    /// delivered).
    pub(crate) fn call(
        &mut self,
        request: &Request,
        fill: impl FnOnce(&mut [u8]),
        timeout: Duration,
    ) -> Result<Reply<'_>, ChannelError> {
        let pack = |payload: &mut [u8]| {
            fill(payload);
            Ok::<_, ChannelError>((*request, ()))
        };
        self.call_with(pack, timeout, |_| false).map(|(reply, ())| reply)
    }

    /// Sends the request `pack` makes while it writes the in bytes straight into
    /// the payload area (no copy through a buffer of this process; its `seq` is
    /// replaced by the channel's call number), and waits up to `timeout` for the
    /// answer; `pack`'s other result comes back with the reply. When `pack` fails,
    /// nothing is sent and the channel stays as it was. On a timeout the channel
    /// is dead from then on.
    ///
    /// Each `DriverCallback` the driver makes meanwhile runs `on_callback` on this
    /// thread, and its result goes back to the driver as `DriverCallback`'s. The
    /// time `on_callback` takes is not counted against `timeout`: the host is
    /// waiting then, not working.
    pub(crate) fn call_with<T, E: From<ChannelError>>(
        &mut self,
        pack: impl FnOnce(&mut [u8]) -> Result<(Request, T), E>,
        timeout: Duration,
        mut on_callback: impl FnMut(&Callback) -> bool,
    ) -> Result<(Reply<'_>, T), E> {
        let map = &*self.map;
        let control = map.control();
        let (req, resp) = (&control.request.0, &control.response.0);
        match (req.state.load(Ordering::Acquire), resp.state.load(Ordering::Acquire)) {
            (EMPTY, EMPTY) => {}
            (EMPTY | FULL | DIRECT, EMPTY | FULL) => {
                map.mark_dead();
                return Err(ChannelError::Busy.into());
            }
            _ => return Err(ChannelError::PeerDead.into()),
        }
        // SAFETY: both words are `EMPTY`, so the payload area (`payload_len` bytes
        // inside the mapping) is the client's until the publication below; `&mut
        // self` makes this the only reference to it in this process, and it ends
        // with `pack`.
        let (request, packed) =
            pack(unsafe { std::slice::from_raw_parts_mut(map.payload_ptr(), map.payload_len) })?;
        self.seq = self.seq.wrapping_add(1);
        let frame = Request { seq: self.seq, ..request };
        // SAFETY: both words are `EMPTY`, so the client owns the request frame
        // (module notes, step 1); the frame lies in the mapping.
        unsafe { req.frame.get().write_volatile(frame) };
        let route = same_cpu::route(&control.doorbells.0, self.same_cpu_bytes, &frame);
        same_cpu::publish_request(map, route)?;
        // A call served on this CPU needs it: give it away until the answer comes.
        let mut yielding = Spin::yielding(same_cpu::YIELD_FOR);
        let spin = if route == Route::Main { &mut self.spin } else { &mut yielding };
        let mut deadline = Instant::now().checked_add(timeout);
        let response = loop {
            match wait_for(&resp.state, &resp.waiter_sleeping, false, spin, deadline) {
                Ok(()) => {}
                Err(Wait::TimedOut) => {
                    map.mark_dead();
                    return Err(ChannelError::Timeout(timeout).into());
                }
                Err(Wait::Dead) => return Err(ChannelError::PeerDead.into()),
                Err(Wait::Failed(e)) => {
                    map.mark_dead();
                    return Err(ChannelError::Wait(e).into());
                }
            }
            // SAFETY: the response word was `FULL` (acquired), so the server has
            // finished writing the frame and passed it to the client (step 3).
            let response = unsafe { resp.frame.get().read_volatile() };
            // Failure means it went `DEAD` meanwhile; the answer is complete all the
            // same, and the next call will see the dead word.
            let _ = resp.state.compare_exchange(FULL, EMPTY, Ordering::Relaxed, Ordering::Relaxed);
            if response.seq != self.seq {
                map.mark_dead();
                return Err(ChannelError::OutOfSequence { expected: self.seq, got: response.seq }.into());
            }
            if response.status != status::CALLBACK {
                break response;
            }
            // SAFETY: the server wrote the callback block before it published this
            // response, which was acquired above ("Callbacks during a call").
            let callback = unsafe { control.callback.0.get().read_volatile() };
            let started = Instant::now();
            // A callback that unwinds leaves the server waiting for its answer, in
            // the middle of the call: the channel must not carry another.
            let abandoned = DeadOnUnwind(map);
            let delivered = on_callback(&callback);
            std::mem::forget(abandoned);
            deadline = deadline.and_then(|d| d.checked_add(started.elapsed()));
            let done =
                Request { seq: self.seq, op: op::CALLBACK_DONE, l1: delivered as i64, ..Request::default() };
            // SAFETY: the server emptied the request word when it took the call and
            // waits for this frame; the client owns the frame until it publishes.
            unsafe { req.frame.get().write_volatile(done) };
            same_cpu::publish_request(map, route)?;
        };
        // SAFETY: as for `pack`; the server has handed the payload area back, and the
        // shared borrow ends before `&mut self` allows the next call.
        let payload = unsafe { std::slice::from_raw_parts(map.payload_ptr(), map.payload_len) };
        Ok((Reply { response, payload }, packed))
    }
}

/// Marks the channel dead when dropped, which only an unwind does (it is
/// forgotten otherwise).
struct DeadOnUnwind<'m>(&'m Mapping);

impl Drop for DeadOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.mark_dead();
    }
}

/// The host process's end: opens an inherited channel and answers calls.
pub(crate) struct Server {
    map: Arc<Mapping>,
    spin: Spin,
}

impl Server {
    /// Opens the channel whose descriptor the host process inherited, after checking
    /// that it is one: a sealed memfd with this protocol's header, of the size that
    /// header states.
    pub(crate) fn from_fd(fd: OwnedFd) -> Result<Server, ChannelError> {
        // SAFETY: plain-value arguments on an open descriptor.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 {
            return Err(ChannelError::NotAChannel("not a memfd"));
        }
        if seals & libc::F_SEAL_SHRINK == 0 {
            return Err(ChannelError::NotAChannel("its size is not sealed"));
        }
        // SAFETY: `stat` is plain data, valid when zeroed.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid, writable `stat`; `fd` is open.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(ChannelError::Setup { what: "fstat", source: io::Error::last_os_error() });
        }
        let len = usize::try_from(st.st_size).map_err(|_| ChannelError::NotAChannel("bad size"))?;
        if !(PAYLOAD_OFFSET..=PAYLOAD_OFFSET + MAX_PAYLOAD_LEN).contains(&len) {
            return Err(ChannelError::NotAChannel("bad size"));
        }
        let payload_len = len - PAYLOAD_OFFSET;
        let map = Mapping::map(fd.as_fd(), len, payload_len)?;
        // SAFETY: the header lies in the mapping; the creator wrote it before passing
        // the descriptor on and nobody writes it afterwards.
        let header = unsafe { map.control().header.0.get().read_volatile() };
        if header.magic != MAGIC {
            return Err(ChannelError::NotAChannel("wrong magic number"));
        }
        if header.version != VERSION {
            return Err(ChannelError::NotAChannel("other protocol version"));
        }
        if header.payload_offset != PAYLOAD_OFFSET as u64 || header.payload_len != payload_len as u64 {
            return Err(ChannelError::NotAChannel("header does not match the size"));
        }
        Ok(Server { map: Arc::new(map), spin: Spin::new(DEFAULT_SPIN) })
    }

    /// How long the server spins at most for the next request before it sleeps.
    pub(crate) fn set_spin(&mut self, spin: Duration) {
        self.spin = Spin::new(spin);
    }

    pub(crate) fn payload_len(&self) -> usize {
        self.map.payload_len
    }

    pub(crate) fn mark_dead(&self) {
        self.map.mark_dead();
    }

    pub(crate) fn dead_switch(&self) -> DeadSwitch {
        DeadSwitch { map: Arc::clone(&self.map) }
    }

    /// The way back to the client during a call, for the driver's callbacks.
    pub(crate) fn back_channel(&self) -> BackChannel {
        BackChannel { map: Arc::clone(&self.map), route: Route::Main }
    }

    /// The CPUs clients have asked to be served on since the last look, as a mask
    /// (bit `n` for CPU `n`), less those already served or refused. Cheap when
    /// there are none: one load of a word the client seldom writes.
    pub(crate) fn take_wanted_cpus(&self) -> u64 {
        same_cpu::take_wanted(&self.map.control().doorbells.0)
    }

    /// Stops the threads serving on CPUs, when this end stops serving.
    pub(crate) fn stop_cpu_servers(&self) {
        self.map.control().doorbells.0.stop_all();
    }

    /// The server end for a thread bound to `cpu` (below 64), which serves the
    /// large calls of callers on that CPU once it [opens](CpuServer::open).
    pub(crate) fn cpu_server(&self, cpu: usize) -> Option<CpuServer> {
        (cpu < same_cpu::MAX_CPUS).then(|| CpuServer { map: Arc::clone(&self.map), cpu })
    }

    /// Waits (without limit) for the next request for the main thread, runs
    /// `handler` on it and the payload area, and sends its response (with the
    /// request's `seq`). Returns the request served.
    pub(crate) fn serve_one(
        &mut self,
        handler: impl FnOnce(&Request, &mut [u8]) -> Response,
    ) -> Result<Request, ChannelError> {
        let map = &*self.map;
        let request = take_full(&map.control().request.0, true, &mut self.spin)?;
        answer(map, request, handler)
    }
}

/// Waits (without limit) for the request word to be `FULL`, then takes the frame
/// the client handed over (`FULL → EMPTY`, step 2). `direct_too`: as for
/// [`wait_for`].
fn take_full(req: &Slot<Request>, direct_too: bool, spin: &mut Spin) -> Result<Request, ChannelError> {
    match wait_for(&req.state, &req.waiter_sleeping, direct_too, spin, None) {
        Ok(()) => {}
        Err(Wait::Dead | Wait::TimedOut) => return Err(ChannelError::PeerDead),
        Err(Wait::Failed(e)) => return Err(ChannelError::Wait(e)),
    }
    // SAFETY: the request word was `FULL` (acquired): the client has written the
    // frame and handed it over (step 2).
    let request = unsafe { req.frame.get().read_volatile() };
    if req.state.compare_exchange(FULL, EMPTY, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return Err(ChannelError::PeerDead);
    }
    Ok(request)
}

/// Runs `handler` on a request a server thread has taken and sends its response
/// (the rest of step 2, the same for every server thread).
fn answer(
    map: &Mapping,
    request: Request,
    handler: impl FnOnce(&Request, &mut [u8]) -> Response,
) -> Result<Request, ChannelError> {
    // SAFETY: the payload area is `payload_len` bytes inside the mapping, owned by
    // the server from the request's publication until the response's (step 2); the
    // one thread serving the call (it took the request) is the only one to make a
    // reference to it in this process until it publishes.
    let payload = unsafe { std::slice::from_raw_parts_mut(map.payload_ptr(), map.payload_len) };
    let response = Response { seq: request.seq, ..handler(&request, payload) };
    let resp = &map.control().response.0;
    // SAFETY: the server owns the response frame while the response word is
    // `EMPTY` and a request is being served (step 2).
    unsafe { resp.frame.get().write_volatile(response) };
    publish(resp)?;
    Ok(request)
}

/// The server's way to reach the client in the middle of a call: it sends the
/// driver's callbacks and waits for their answers ("Callbacks during a call").
pub(crate) struct BackChannel {
    map: Arc<Mapping>,
    /// Where the client's answers come: the main thread's request word, or the
    /// bell of the CPU the serving thread is bound to.
    route: Route,
}

impl BackChannel {
    /// Sends `callback` to the client, which is waiting for the answer to call
    /// `seq`, and waits (without limit: the client answers at once, or dies and the
    /// channel goes dead) for whether it was delivered.
    ///
    /// Only for the thread serving call `seq`, while its handler runs: that thread
    /// owns the response slot then. Anywhere else the frames would collide.
    pub(crate) fn callback(&self, seq: u64, callback: &Callback) -> Result<bool, ChannelError> {
        let map = &*self.map;
        let control = map.control();
        let (req, resp) = (&control.request.0, &control.response.0);
        // SAFETY: while serving a call, the server owns the callback block and the
        // response frame until it publishes the response word (step 2); the caller
        // is that thread, in its handler.
        unsafe {
            control.callback.0.get().write_volatile(*callback);
            resp.frame.get().write_volatile(Response {
                seq,
                status: status::CALLBACK,
                ..Response::default()
            });
        }
        publish(resp)?;
        let answer = match self.route {
            Route::Main => take_full(req, false, &mut Spin::new(DEFAULT_SPIN))?,
            Route::Cpu(cpu) => same_cpu::take_direct(map, cpu)?,
        };
        if answer.op != op::CALLBACK_DONE || answer.seq != seq {
            map.mark_dead();
            return Err(ChannelError::BadCallbackAnswer { op: answer.op, seq: answer.seq });
        }
        Ok(answer.l1 != 0)
    }
}

/// Hands a slot's frame to its waiter: `EMPTY → FULL`, then a wake-up if the waiter
/// said it sleeps (module notes).
fn publish<F>(slot: &Slot<F>) -> Result<(), ChannelError> {
    if slot.state.compare_exchange(EMPTY, FULL, Ordering::SeqCst, Ordering::Relaxed).is_err() {
        // Only `DEAD` can be there: the other end never sets its waiter's word.
        return Err(ChannelError::PeerDead);
    }
    if slot.waiter_sleeping.load(Ordering::SeqCst) != 0 {
        futex_wake(&slot.state, 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isolation::protocol::{op, status};

    /// Both ends in one process, the server on a thread: the protocol alone, without
    /// a second process.
    fn pair(payload_len: usize) -> (Client, Server) {
        let client = Client::create(payload_len).unwrap();
        let fd = client.fd().try_clone_to_owned().unwrap();
        (client, Server::from_fd(fd).unwrap())
    }

    #[test]
    fn calls_round_trip_between_threads() {
        let (mut client, mut server) = pair(4096);
        let t = std::thread::spawn(move || {
            loop {
                let req = server
                    .serve_one(|req, payload| {
                        payload[0] = payload[0].wrapping_add(1);
                        Response { ret: req.l1 * 2, ..Response::default() }
                    })
                    .unwrap();
                if req.op == op::SHUTDOWN {
                    break;
                }
            }
        });
        for i in 0..1000i64 {
            let req = Request { op: op::CALL, l1: i, ..Request::default() };
            let reply = client.call(&req, |p| p[0] = i as u8, Duration::from_secs(10)).unwrap();
            assert_eq!(reply.response.ret, 2 * i);
            assert_eq!(reply.response.seq, (i + 1) as u64);
            assert_eq!(reply.response.status, status::OK);
            assert_eq!(reply.payload[0], (i as u8).wrapping_add(1));
        }
        let req = Request { op: op::SHUTDOWN, ..Request::default() };
        client.call(&req, |_| {}, Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }

    /// A handler that calls back twice mid-call: the client runs each callback with
    /// the values sent, the server gets each answer, and the call's own answer and
    /// payload come after, with the call's `seq`.
    #[test]
    fn callbacks_mid_call_reach_the_client_and_their_answers_come_back() {
        let (mut client, mut server) = pair(64);
        let back = server.back_channel();
        let t = std::thread::spawn(move || {
            for _ in 0..2 {
                server
                    .serve_one(|req, payload| {
                        let cb = |n: u64| Callback {
                            callback: 0xF00D_0000_0000 + n,
                            hdrvr: 7,
                            user: 8,
                            p1: n,
                            p2: u64::MAX,
                            flags: 5,
                            msg: req.msg,
                        };
                        let first = back.callback(req.seq, &cb(1)).unwrap();
                        let second = back.callback(req.seq, &cb(2)).unwrap();
                        payload[0] = 0xAB;
                        Response { ret: i64::from(first) * 10 + i64::from(second), ..Response::default() }
                    })
                    .unwrap();
            }
        });
        for round in 0..2u32 {
            let mut seen = Vec::new();
            let req = Request { op: op::CALL, msg: 0x4000 + round, ..Request::default() };
            let (reply, ()) = client
                .call_with(
                    |_| Ok::<_, ChannelError>((req, ())),
                    Duration::from_secs(10),
                    |cb| {
                        seen.push(*cb);
                        cb.p1 == 1
                    },
                )
                .unwrap();
            assert_eq!((reply.response.ret, reply.response.status), (10, status::OK));
            assert_eq!(reply.response.seq, u64::from(round) + 1);
            assert_eq!(reply.payload[0], 0xAB);
            let expect = |n| Callback {
                callback: 0xF00D_0000_0000 + n,
                hdrvr: 7,
                user: 8,
                p1: n,
                p2: u64::MAX,
                flags: 5,
                msg: 0x4000 + round,
            };
            assert_eq!(seen, [expect(1), expect(2)]);
        }
        t.join().unwrap();
    }

    /// A client that sends a new call where the answer to a callback belongs breaks
    /// the protocol: the server's callback fails and the channel is dead.
    #[test]
    fn a_callback_answered_with_something_else_kills_the_channel() {
        let (client, mut server) = pair(0);
        let back = server.back_channel();
        let map = Arc::clone(&client.map);
        let t = std::thread::spawn(move || {
            let mut got = None;
            let _ = server.serve_one(|req, _| {
                got = Some(back.callback(req.seq, &Callback::default()).map_err(|e| e.to_string()));
                Response::default()
            });
            got
        });
        let control = map.control();
        let (req, resp) = (&control.request.0, &control.response.0);
        // SAFETY: a hand-made client: both words are `EMPTY`, it owns the frame.
        unsafe { req.frame.get().write_volatile(Request { seq: 1, op: op::CALL, ..Request::default() }) };
        publish(req).unwrap();
        wait_for(&resp.state, &resp.waiter_sleeping, false, &mut Spin::new(Duration::ZERO), None)
            .ok()
            .unwrap();
        resp.state.store(EMPTY, Ordering::Relaxed);
        // SAFETY: the server waits for the answer; the client owns the frame.
        unsafe { req.frame.get().write_volatile(Request { seq: 1, op: op::CALL, ..Request::default() }) };
        publish(req).unwrap();
        let got = t.join().unwrap().expect("the handler ran");
        assert_eq!(
            got,
            Err("a callback was answered with operation 1 for call 1; the channel is now dead".to_string())
        );
        assert!(client.is_dead());
    }

    /// A callback that unwinds leaves the server in the middle of the call,
    /// waiting for its answer: the channel is dead, so no next call can start
    /// while that one is served.
    #[test]
    fn a_callback_that_unwinds_kills_the_channel() {
        let (mut client, mut server) = pair(64);
        let back = server.back_channel();
        let t = std::thread::spawn(move || {
            // The call in flight may still end as answered (when its answer beats
            // the dead mark to the response word); nothing comes after it.
            let _ = server.serve_one(|req, _| {
                let _ = back.callback(req.seq, &Callback::default());
                Response::default()
            });
            server.serve_one(|_, _| Response::default())
        });
        let req = Request { op: op::CALL, ..Request::default() };
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = client.call_with(
                |_| Ok::<_, ChannelError>((req, ())),
                Duration::from_secs(10),
                |_| panic!("the application's callback failed"),
            );
        }));
        assert!(unwound.is_err());
        assert!(client.is_dead());
        assert!(matches!(client.call(&req, |_| {}, Duration::from_secs(1)), Err(ChannelError::PeerDead)));
        let next = t.join().unwrap();
        assert!(matches!(next, Err(ChannelError::PeerDead)), "{next:?}");
    }

    #[test]
    fn a_dead_mark_wakes_a_sleeping_server() {
        let (client, mut server) = pair(0);
        server.set_spin(Duration::ZERO);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(server.serve_one(|_, _| Response::default())));
        std::thread::sleep(Duration::from_millis(50));
        client.dead_switch().mark_dead();
        // A server that missed the wake-up would wait for ever; give it a second.
        let served = rx.recv_timeout(Duration::from_secs(1)).expect("the server woke up");
        assert!(matches!(served, Err(ChannelError::PeerDead)));
    }

    #[test]
    fn from_fd_refuses_what_is_not_a_channel() {
        let err = |fd| Server::from_fd(fd).err().map(|e| e.to_string());
        // A pipe: no seals.
        let mut fds = [0; 2];
        // SAFETY: `fds` is a writable array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just opened by pipe and are owned here only.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(w);
        assert_eq!(err(r).as_deref(), Some("the descriptor is not a driver channel: not a memfd"));
        // A channel whose header was overwritten.
        let client = Client::create(16).unwrap();
        // SAFETY: nobody else uses this channel.
        unsafe { (*client.map.control().header.0.get()).magic = 0 };
        assert_eq!(
            err(client.fd().try_clone_to_owned().unwrap()).as_deref(),
            Some("the descriptor is not a driver channel: wrong magic number")
        );
        assert!(matches!(
            Client::create(MAX_PAYLOAD_LEN + 1),
            Err(ChannelError::PayloadTooLarge { requested }) if requested == MAX_PAYLOAD_LEN + 1
        ));
    }
}
