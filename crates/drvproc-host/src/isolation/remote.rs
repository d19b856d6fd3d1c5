//! The application's side of a hosted module: it asks the host process to load
//! the module, and delivers each message by marshalling its parameters into the
//! channel's payload, waiting for the answer and copying back what the driver
//! wrote.
//!
//! One channel carries one call at a time, so calls to one hosted module are
//! serialised here (a lock around the channel). The parameters are packed straight
//! into the shared payload (the in bytes are copied once, from the caller's memory
//! into the area the host reads), and the out bytes are copied once back.
//!
//! # Callbacks
//!
//! A driver's `DriverCallback` during a call comes back as a callback frame (see
//! the channel's notes) while the calling thread waits for the answer; that thread
//! runs [`crate::callback::driver_callback`] with the driver's values, so a
//! `DCB_FUNCTION` runs in this process on the thread that sent the message, as it
//! would in process, and events and queues of this process are signalled. A
//! function address that lies in no executable code loaded here is refused (FALSE to the
//! driver), and so is one this process never passed to the driver, as an integer
//! parameter or in a structure's callback field (`ACMDRVSTREAMINSTANCE`'s
//! `dwCallback`, which the marshaller lists: `Marshalled::targets`): a hosted
//! driver cannot make the application call a function of its choosing (it can only
//! call back what it was given, as the contract says), nor turn a stray integer
//! into a jump into data. Events and queues are unaffected. The function may not send to the same hosted module again: its driver is
//! still inside the first call, and the channel carries one call at a time; such a
//! send fails with [`RemoteError::Reentrant`] instead of waiting for ever.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::Duration;

use drvproc::consts::{DCB_FUNCTION, DCB_TYPEMASK, DRV_CLOSE, DRV_OPEN};
use drvproc::vfw::consts::ICM_COMPRESS_GET_SIZE;
use drvproc::{DriverClass, DriverId, Hdrvr, LParam, LResult, MessageName, Msg};

use super::channel::{ChannelError, Client};
use super::marshal::{self, Arg, Context, MarshalError, Marshalled};
use super::protocol::{Callback, PayloadDesc, Request, dir, op, status, which};
use super::supervisor::{Death, Host, HostCommand, Supervisor};

/// Why a hosted call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteError {
    /// The parameters cannot be carried (an undescribed custom message, a buffer
    /// too large for the payload).
    #[error(transparent)]
    Marshal(#[from] MarshalError),
    /// The host process died, hung or broke the protocol.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The host process could not do what it was asked; its words.
    #[error("{0}")]
    Host(String),
    /// The host answered with a status this side does not know.
    #[error("the host process answered with status {0}")]
    Status(u32),
    /// The host process died (or was killed for hanging); how, in words.
    #[error("{0}")]
    Died(String),
    /// The host process had died before this call (while the module was idle, or
    /// in another thread's call); how, in words.
    #[error("{0}")]
    Gone(String),
    /// A callback of the driver sent to it again while the driver waits for that
    /// callback to return.
    #[error("the driver is inside a callback to this process and takes no other message until it returns")]
    Reentrant,
}

struct Conn {
    client: Client,
    /// What the marshaller knows of each module beyond each message, by the
    /// module's number in the host.
    known: HashMap<u32, Known>,
}

/// What a hosted module's messages teach the marshaller: the class of the driver,
/// from the first `DRV_OPEN` whose opener said its `lParam2` is a class structure
/// (a module is hosted before anyone has said what it is, and the ACM and VfW
/// clients open a codec this way before they send it anything of its class; see
/// `open_param`), and each instance's output capacity for `ICM_COMPRESS`, from its
/// last `ICM_COMPRESS_GET_SIZE` answer.
#[derive(Default)]
struct Known {
    class: DriverClass,
    capacity: HashMap<DriverId, u32>,
    /// The integers this process has passed to the driver (that could be
    /// addresses), as parameters or callback fields of structures: the only values
    /// a `DCB_FUNCTION` callback may name (see
    /// "Callbacks" in the module notes).
    handed: std::cell::RefCell<HandedOut>,
}

/// A bounded set of the integers passed to a hosted driver.
#[derive(Default)]
struct HandedOut {
    values: std::collections::HashSet<u64>,
}

impl HandedOut {
    /// Below this, an integer is a count, a flag or a small id, never a function.
    const SMALLEST_ADDRESS: u64 = 0x10000;
    /// How many are kept: when full, the set starts over (a callback function is
    /// handed over shortly before the driver calls it).
    const MOST: usize = 4096;

    fn note(&mut self, value: i64) {
        let value = value as u64;
        if value < Self::SMALLEST_ADDRESS {
            return;
        }
        if self.values.len() >= Self::MOST {
            self.values.clear();
        }
        self.values.insert(value);
    }

    fn contains(&self, value: u64) -> bool {
        self.values.contains(&value)
    }
}

impl Known {
    fn context(&self, id: DriverId) -> Context {
        Context { class: self.class, compress_capacity: self.capacity.get(&id).copied() }
    }

    /// Learns from a message the driver has answered with `ret`.
    fn learn(&mut self, id: DriverId, msg: Msg, l2: LParam, ret: LResult) {
        match msg {
            DRV_OPEN if self.class == DriverClass::Generic && l2 != 0 => {
                if let Some(class) = super::open_param::current().class() {
                    self.class = class;
                }
            }
            DRV_CLOSE => {
                self.capacity.remove(&id);
            }
            ICM_COMPRESS_GET_SIZE if self.class == DriverClass::Icm => match u32::try_from(ret) {
                Ok(n) if n > 0 => {
                    self.capacity.insert(id, n);
                }
                _ => {
                    self.capacity.remove(&id);
                }
            },
            _ => {}
        }
    }
}

/// A module served by a host process over one channel.
pub(crate) struct Remote {
    conn: Mutex<Conn>,
    timeout: Duration,
    /// The host process, when this side started one; dropping it kills the host
    /// (and its process group) if it has not ended by then.
    host: Option<Host>,
    /// Set when this side ends the host: its death is then no news.
    retiring: Arc<AtomicBool>,
    /// Set (by the supervisor) once the host process has died and been reaped.
    ended: Arc<AtomicBool>,
    /// Who waits for `conn`, and whether its holder is inside a callback.
    gate: CallGate,
}

impl Drop for Remote {
    /// Asks the host to stop (its driver has had `DRV_FREE`), briefly; dropping
    /// [`Host`] then kills whatever is left of its process group.
    fn drop(&mut self) {
        self.retiring.store(true, Ordering::Release);
        let mut conn = self.conn();
        if self.host.is_some() && !conn.client.is_dead() {
            let _ =
                conn.client.call(&Request { op: op::SHUTDOWN, ..Request::default() }, |_| {}, SHUTDOWN_WAIT);
        }
    }
}

/// How long a host that is no longer needed gets to stop by itself.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(500);

/// How long a failed call waits for the supervisor to report the host's death.
const DEATH_REPORT_WAIT: Duration = Duration::from_secs(1);

/// The supervisor that starts and watches every host process of this process.
/// One for all managers: its thread must outlive the hosts it forked (their death
/// signal is tied to it), and one `poll` thread serves any number of hosts.
/// A supervisor that fails to start (no descriptor or thread left for a moment) is
/// not kept: the next hosted open tries again.
fn supervisor() -> Result<&'static Supervisor, RemoteError> {
    static SUPERVISOR: OnceLock<Supervisor> = OnceLock::new();
    if let Some(s) = SUPERVISOR.get() {
        return Ok(s);
    }
    let made = Supervisor::new().map_err(|e| RemoteError::Host(e.to_string()))?;
    // Two first opens at once: one supervisor is kept, the other ends here.
    let _ = SUPERVISOR.set(made);
    SUPERVISOR.get().ok_or_else(|| RemoteError::Host("the host supervisor did not start".into()))
}

impl Remote {
    /// A hosted module reached through `client`, a driver of `class` (or
    /// [`DriverClass::Generic`] until its opens say more; see [`Known`]); every call
    /// waits at most `timeout` for its answer (after that the channel is dead).
    pub(crate) fn new(client: Client, class: DriverClass, timeout: Duration) -> Remote {
        let retiring = Arc::new(AtomicBool::new(false));
        let known = HashMap::from([(0, Known { class, ..Known::default() })]);
        Remote {
            conn: Mutex::new(Conn { client, known }),
            timeout,
            host: None,
            retiring,
            ended: Arc::new(AtomicBool::new(false)),
            gate: CallGate::default(),
        }
    }

    /// Starts `command` (`drvproc-hostd`, with its output and sandbox settings) on
    /// a new channel. When the process dies, the supervisor marks the channel dead,
    /// so a call in flight or any later one fails at once; `label` names the
    /// module in the event that records the death.
    pub(crate) fn spawn(
        command: HostCommand,
        class: DriverClass,
        timeout: Duration,
        label: String,
    ) -> Result<Remote, RemoteError> {
        use std::os::fd::AsRawFd;

        let mut client = Client::create(super::channel::DEFAULT_PAYLOAD_LEN)?;
        client.set_spin(super::channel::configured_spin());
        client.set_same_cpu_bytes(super::channel::configured_same_cpu_bytes());
        let fd = client.fd();
        let command = command.arg("--channel").arg(fd.as_raw_fd().to_string());
        let dead = client.dead_switch();
        let retiring = Arc::new(AtomicBool::new(false));
        let expected = retiring.clone();
        let ended = Arc::new(AtomicBool::new(false));
        let ended_now = ended.clone();
        let host = supervisor()?
            .spawn(&command, &[fd], move |death| {
                dead.mark_dead();
                ended_now.store(true, Ordering::Release);
                if expected.load(Ordering::Acquire) {
                    tracing::debug!(target: "drvproc::isolation", driver = %label, "{death}");
                } else {
                    tracing::warn!(target: "drvproc::isolation", driver = %label, "{death}");
                }
            })
            .map_err(|e| RemoteError::Host(e.to_string()))?;
        let mut remote = Remote::new(client, class, timeout);
        remote.host = Some(host);
        remote.retiring = retiring;
        remote.ended = ended;
        Ok(remote)
    }

    /// Whether the host process has died: a module whose host has ended serves no
    /// open, even before a call has found it dead. One load.
    pub(crate) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// A call's failure when the host had died before it: the death, not blamed on
    /// this call's message.
    fn gone(&self) -> RemoteError {
        match self.host.as_ref().and_then(Host::death) {
            Some(death) => RemoteError::Gone(describe(&death)),
            None => RemoteError::Gone("its host process has ended".into()),
        }
    }

    /// The host process's id, when this side started one.
    pub(crate) fn pid(&self) -> Option<i32> {
        self.host.as_ref().map(Host::pid)
    }

    /// [`failed`](Self::failed) for a channel failure; other failures as they are.
    fn escalate(&self, error: RemoteError, msg: Msg) -> RemoteError {
        match error {
            RemoteError::Channel(e) => self.failed(e, msg),
            other => other,
        }
    }

    /// Turns a channel failure into what the caller is told: a dead host's death
    /// (after a timeout, once it has been killed for it), or the failure itself.
    fn failed(&self, error: ChannelError, msg: Msg) -> RemoteError {
        let Some(host) = &self.host else { return error.into() };
        if let ChannelError::Timeout(limit) = error {
            host.kill(format!("{} took longer than {limit:?}", MessageName(msg)));
        } else if !matches!(error, ChannelError::PeerDead) {
            host.kill(format!("the channel failed: {error}"));
        }
        // The death follows the kill, or the channel saw it first: its report comes
        // within the supervisor's next wake-up.
        match host.wait(DEATH_REPORT_WAIT) {
            Some(death) => RemoteError::Died(describe(&death)),
            None => error.into(),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The channel for a call. Uncontended, this is the one atomic exchange `lock`
    /// is. While another call holds it, this waits for it, unless that call's
    /// driver is inside a callback to this process (or starts one meanwhile): the
    /// driver then takes no message until the callback returns, and the callback
    /// may be waiting for this very thread, so the call is refused instead
    /// ([`RemoteError::Reentrant`]) of waiting for ever.
    fn conn_for_call(&self) -> Result<CallGuard<'_>, RemoteError> {
        loop {
            match self.conn.try_lock() {
                Ok(guard) => return Ok(CallGuard { guard, gate: &self.gate }),
                Err(TryLockError::Poisoned(p)) => {
                    return Ok(CallGuard { guard: p.into_inner(), gate: &self.gate });
                }
                Err(TryLockError::WouldBlock) => {}
            }
            let mut state = self.gate.lock();
            if state.in_callback {
                return Err(RemoteError::Reentrant);
            }
            self.gate.waiting.fetch_add(1, Ordering::SeqCst);
            // Woken when the holder lets go or its driver calls back; the timeout
            // only covers a release that came between `try_lock` and the count.
            state =
                self.gate.changed.wait_timeout(state, GATE_RECHECK).unwrap_or_else(PoisonError::into_inner).0;
            self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
            if state.in_callback {
                return Err(RemoteError::Reentrant);
            }
        }
    }

    /// Asks the host process to map the module at `path`; its number in the host.
    pub(crate) fn load(&self, path: &Path) -> Result<u32, RemoteError> {
        let text = path.to_str().ok_or_else(|| RemoteError::Host("the module path is not UTF-8".into()))?;
        let bytes = text.as_bytes();
        let mut conn = self.conn_for_call()?;
        let len = u32::try_from(bytes.len())
            .map_err(|_| RemoteError::Host("the module path is too long".into()))?;
        let desc = PayloadDesc { offset: 0, len, dir: dir::IN, which: which::L1 };
        let request =
            Request { op: op::LOAD_MODULE, descs: [desc, PayloadDesc::default()], ..Request::default() };
        let reply = conn.client.call(
            &request,
            |payload| {
                let n = bytes.len().min(payload.len());
                payload[..n].copy_from_slice(&bytes[..n]);
            },
            self.timeout,
        );
        let reply = reply.map_err(|e| self.failed(e, drvproc::consts::DRV_LOAD))?;
        let module = u32::try_from(answer(reply.response, reply.payload)?)
            .map_err(|_| RemoteError::Host("the host answered a module number out of range".into()))?;
        conn.known.insert(module, Known::default());
        Ok(module)
    }

    /// Asks the host process to unmap module `module` (after its `DRV_FREE`); the
    /// host goes on serving its other modules.
    pub(crate) fn unload(&self, module: u32) -> Result<(), RemoteError> {
        let mut conn = self.conn_for_call()?;
        conn.known.remove(&module);
        if self.ended() {
            return Ok(());
        }
        let request = Request { op: op::UNLOAD_MODULE, module, ..Request::default() };
        let reply = conn.client.call(&request, |_| {}, self.timeout)?;
        answer(reply.response, reply.payload).map(drop)
    }

    /// Delivers `msg` to instance `id` of the hosted module.
    ///
    /// # Safety
    /// `l1` and `l2` are what the driver expects for `msg` (for a pointer, the
    /// memory the message's contract says it points to, live for the call).
    pub(crate) unsafe fn call(
        &self,
        module: u32,
        id: DriverId,
        hdrvr: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> Result<LResult, RemoteError> {
        let mut guard = self.conn_for_call()?;
        if self.ended() {
            return Err(self.gone());
        }
        let Conn { client, known } = &mut *guard;
        let known = known.entry(module).or_default();
        let ctx = known.context(id);
        // SAFETY: forwarded contract.
        let pack = |payload: &mut [u8]| unsafe { marshal::marshal(&ctx, msg, l1, l2, payload) };
        let (ret, packed, payload) =
            exchange(client, pack, (module, id), hdrvr, self.timeout, &self.gate, &known.handed)
                .map_err(|e| self.escalate(e, msg))?;
        // SAFETY: forwarded contract; `packed` describes this call's parameters.
        unsafe { marshal::copy_back(&packed, payload) }?;
        known.learn(id, msg, l2, ret);
        Ok(ret)
    }

    /// Delivers a message whose parameters the caller describes: integers, or
    /// buffers the driver reads, fills or both (a custom message's only way to
    /// carry a pointer to a hosted driver).
    pub(crate) fn call_args<'a>(
        &self,
        module: u32,
        id: DriverId,
        hdrvr: Hdrvr,
        msg: Msg,
        l1: &mut Arg<'a>,
        l2: &mut Arg<'a>,
    ) -> Result<LResult, RemoteError> {
        let mut guard = self.conn_for_call()?;
        if self.ended() {
            return Err(self.gone());
        }
        let Conn { client, known } = &mut *guard;
        let known = known.entry(module).or_default();
        let pack = |payload: &mut [u8]| marshal::marshal_args(msg, l1, l2, payload);
        let (ret, packed, payload) =
            exchange(client, pack, (module, id), hdrvr, self.timeout, &self.gate, &known.handed)
                .map_err(|e| self.escalate(e, msg))?;
        marshal::copy_back_args(&packed, l1, l2, payload)?;
        Ok(ret)
    }

    /// Asks the host process to stop serving; it exits when its last channel does.
    pub(crate) fn shutdown(&self) -> Result<(), RemoteError> {
        let mut conn = self.conn_for_call()?;
        let reply =
            conn.client.call(&Request { op: op::SHUTDOWN, ..Request::default() }, |_| {}, self.timeout)?;
        answer(reply.response, reply.payload).map(drop)
    }
}

/// A death in words: how the host ended, and the last line it wrote, which is
/// often the driver's own account (an assertion, a panic message).
fn describe(death: &Death) -> String {
    const MAX_LINE: usize = 300;
    let output = death.output_text();
    match output.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => {
            let cut = line.char_indices().nth(MAX_LINE).map_or(line.len(), |(i, _)| i);
            format!("{death}; its last output: {}", &line[..cut])
        }
        None => death.to_string(),
    }
}

/// How often a thread waiting for a busy channel looks again if no wake-up came.
const GATE_RECHECK: Duration = Duration::from_millis(5);

#[derive(Default)]
struct GateState {
    in_callback: bool,
}

/// What threads waiting for a module's channel wait on (see `conn_for_call`).
#[derive(Default)]
struct CallGate {
    state: Mutex<GateState>,
    changed: std::sync::Condvar,
    /// Threads waiting: the holder wakes them only when there are some.
    waiting: AtomicUsize,
}

impl CallGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the holder's driver inside a callback (or out of it), waking the
    /// waiting threads so that they give up rather than wait for it.
    fn set_in_callback(&self, on: bool) {
        self.lock().in_callback = on;
        if on && self.waiting.load(Ordering::SeqCst) > 0 {
            self.changed.notify_all();
        }
    }
}

/// The channel, held for one call; letting go wakes a waiting thread.
struct CallGuard<'a> {
    guard: MutexGuard<'a, Conn>,
    gate: &'a CallGate,
}

impl std::ops::Deref for CallGuard<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.guard
    }
}

impl std::ops::DerefMut for CallGuard<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.guard
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if self.gate.waiting.load(Ordering::SeqCst) > 0 {
            // Taken so that the wake-up cannot fall between a waiter's check and
            // its wait.
            drop(self.gate.lock());
            self.gate.changed.notify_one();
        }
    }
}

/// Whether `address` lies in an executable segment of a module (the program or a
/// shared library) loaded in this process: what a callback function's address
/// must at least do. (A data address the application handed the driver for
/// another purpose is not called.)
fn in_executable_code(address: usize) -> bool {
    struct Search {
        address: usize,
        found: bool,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes the `Search` given below as `data`, and a
        // valid `dl_phdr_info` whose `dlpi_phdr` points to `dlpi_phnum` headers,
        // for the duration of this call.
        let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
        // SAFETY: as above.
        let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let base = info.dlpi_addr as usize;
        let hit = headers.iter().any(|ph| {
            let start = base.wrapping_add(ph.p_vaddr as usize);
            ph.p_type == libc::PT_LOAD
                && ph.p_flags & libc::PF_X != 0
                && search.address >= start
                && search.address - start < ph.p_memsz as usize
        });
        search.found |= hit;
        i32::from(hit)
    }
    let mut search = Search { address, found: false };
    // SAFETY: `visit` matches the callback type and reads only what the loader
    // passes it and `search`, which lives across the call; it never reads at
    // `address`.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut search).cast()) };
    search.found
}

/// Notifies the target of a driver's `DriverCallback` in this process (see
/// "Callbacks" in the module notes); whether it went through.
fn deliver(cb: &Callback, handed: &HandedOut) -> bool {
    let values = (
        usize::try_from(cb.callback),
        usize::try_from(cb.hdrvr),
        usize::try_from(cb.user),
        usize::try_from(cb.p1),
        usize::try_from(cb.p2),
    );
    let (Ok(callback), Ok(hdrvr), Ok(user), Ok(p1), Ok(p2)) = values else {
        // Wider than this process's pointers: not a value it handed out.
        return false;
    };
    if cb.flags & DCB_TYPEMASK == DCB_FUNCTION {
        if !handed.contains(cb.callback) {
            tracing::warn!(target: "drvproc::isolation", callback, "a hosted driver's DCB_FUNCTION callback is no value this process passed to it; not called");
            return false;
        }
        if !in_executable_code(callback) {
            tracing::warn!(target: "drvproc::isolation", callback, "a hosted driver's DCB_FUNCTION callback lies in no loaded code; not called");
            return false;
        }
    }
    // SAFETY: a function target is a value this process passed the driver (as a
    // parameter or a structure's callback field) and lies in executable code of a
    // loaded module (both checked above), so it is what the application gave the
    // driver to call back, as in process; events and queues are looked up by id,
    // never dereferenced.
    unsafe {
        crate::callback::driver_callback(callback, cb.flags, Hdrvr::from_raw(hdrvr), cb.msg, user, p1, p2)
    }
}

/// Sends a `CALL` whose parameters `pack` writes straight into the payload, and
/// waits for its answer: the driver's result, what was packed, and the payload to
/// copy back from. Nothing is sent when packing fails. The driver's callbacks
/// meanwhile are delivered on this thread, with `gate` saying so.
fn exchange<'c>(
    client: &'c mut Client,
    pack: impl FnOnce(&mut [u8]) -> Result<Marshalled, MarshalError>,
    target: (u32, DriverId),
    hdrvr: Hdrvr,
    timeout: Duration,
    gate: &CallGate,
    handed: &std::cell::RefCell<HandedOut>,
) -> Result<(LResult, Marshalled, &'c [u8]), RemoteError> {
    let on_callback = |cb: &Callback| {
        gate.set_in_callback(true);
        let delivered = deliver(cb, &handed.borrow());
        gate.set_in_callback(false);
        delivered
    };
    let (reply, packed) = client.call_with(
        |payload| {
            let m = pack(payload)?;
            for arg in [m.l1, m.l2] {
                if let marshal::WireArg::Int(v) = arg {
                    handed.borrow_mut().note(v);
                }
            }
            for &target in &m.targets {
                handed.borrow_mut().note(target as i64);
            }
            let (t1, v1) = m.l1.encode();
            let (t2, v2) = m.l2.encode();
            let request = Request {
                op: op::CALL,
                msg: m.msg,
                id: target.1 as u64,
                hdrvr: hdrvr.raw() as u64,
                l1: v1,
                l2: v2,
                tags: [t1, t2],
                module: target.0,
                used: u32::try_from(m.used).unwrap_or(u32::MAX),
                ..Request::default()
            };
            Ok::<_, RemoteError>((request, m))
        },
        timeout,
        on_callback,
    )?;
    let ret = answer(reply.response, reply.payload)?;
    Ok((ret as LResult, packed, reply.payload))
}

/// The result of an answered request: `ret` when it went through, the host's words
/// when it failed.
fn answer(response: super::protocol::Response, payload: &[u8]) -> Result<i64, RemoteError> {
    match response.status {
        status::OK => Ok(response.ret),
        status::FAILED => {
            let n = usize::try_from(response.ret).unwrap_or(0).min(payload.len());
            // Copied out once before it is read as text: the host's other threads
            // may still write the shared area, and text is checked, then kept.
            let bytes = payload[..n].to_vec();
            Err(RemoteError::Host(String::from_utf8_lossy(&bytes).into_owned()))
        }
        other => Err(RemoteError::Status(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use drvproc::consts::{DCB_FUNCTION, DRV_OPEN, DRV_QUERYCONFIGURE, DRV_USER};

    use super::super::channel::Server;
    use super::super::host::{self, Driver};
    use super::*;

    /// The in-out buffer of `DRV_USER + 2`: large enough to be served on the
    /// caller's CPU.
    const LARGE: usize = 32 * 1024;

    /// A driver that answers from its parameters: `DRV_OPEN` the length of its
    /// arguments string, `DRV_QUERYCONFIGURE` and `DRV_USER` the sum of their
    /// integers, and `DRV_USER + 1` doubles the bytes of its in-out buffer.
    /// `DRV_USER + 2` (an in-out buffer of [`LARGE`] bytes, and a function) calls
    /// `DriverCallback(function, DCB_FUNCTION, h, msg, 7, 8, 9)` and writes into
    /// the buffer's first bytes whether that went through and whether a thread
    /// bound to a CPU serves the call.
    unsafe extern "system" fn answering(
        _id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> LResult {
        match msg {
            DRV_OPEN if l1 != 0 => {
                let mut n = 0;
                // SAFETY: DRV_OPEN's lParam1 is a NUL-terminated UTF-16 string.
                while unsafe { *(l1 as *const u16).add(n) } != 0 {
                    n += 1;
                }
                n as LResult
            }
            DRV_QUERYCONFIGURE | DRV_USER => l1 + l2,
            m if m == DRV_USER + 1 => {
                // SAFETY: the sender described lParam1 as an in-out buffer of lParam2 bytes.
                let buf = unsafe { std::slice::from_raw_parts_mut(l1 as *mut u8, l2 as usize) };
                buf.iter_mut().for_each(|b| *b = b.wrapping_mul(2));
                l2
            }
            m if m == DRV_USER + 2 => {
                // SAFETY: the sender described lParam1 as an in-out buffer of LARGE bytes.
                let buf = unsafe { std::slice::from_raw_parts_mut(l1 as *mut u8, LARGE) };
                let delivered = host::driver_callback(l2 as usize, DCB_FUNCTION, h.raw(), msg, 7, 8, 9);
                let bound = thread::current().name().is_some_and(|n| n.starts_with("drvproc-cpu"));
                buf[0] = u8::from(delivered);
                buf[1] = u8::from(bound);
                LARGE as LResult
            }
            _ => 0,
        }
    }

    /// One notification [`noted`] got: its arguments, and the thread it ran on.
    type Noted = (usize, Msg, usize, usize, usize, thread::ThreadId);
    static NOTED: std::sync::Mutex<Vec<Noted>> = std::sync::Mutex::new(Vec::new());

    unsafe extern "system" fn noted(h: Hdrvr, msg: Msg, user: usize, p1: usize, p2: usize) {
        NOTED.lock().unwrap().push((h.raw(), msg, user, p1, p2, thread::current().id()));
    }

    /// The threads of this process bound to a CPU by a host's loop.
    fn bound_threads() -> usize {
        let tasks = std::fs::read_dir("/proc/self/task").unwrap();
        let comm = |t: &std::fs::DirEntry| std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        tasks.flatten().filter(|t| comm(t).starts_with("drvproc-cpu")).count()
    }

    /// A channel with the host's loop on a thread of this process.
    fn hosted(driver: Driver) -> (Remote, thread::JoinHandle<Result<(), ChannelError>>) {
        let client = Client::create(1 << 16).unwrap();
        let fd = client.fd().try_clone_to_owned().unwrap();
        let mut server = Server::from_fd(fd).unwrap();
        let host = thread::spawn(move || host::serve(&mut server, driver));
        (Remote::new(client, DriverClass::Generic, Duration::from_secs(10)), host)
    }

    #[test]
    fn integers_and_strings_reach_the_driver_and_answers_come_back() {
        let (remote, host) = hosted(Driver::Proc(answering));
        // SAFETY: integers only.
        assert_eq!(unsafe { remote.call(0, 1, Hdrvr::from_raw(5), DRV_QUERYCONFIGURE, 40, 2) }.unwrap(), 42);
        let args: Vec<u16> = "rate=8000\0".encode_utf16().collect();
        // SAFETY: a NUL-terminated UTF-16 string, live for the call.
        let n =
            unsafe { remote.call(0, 0, Hdrvr::from_raw(5), DRV_OPEN, args.as_ptr() as LParam, 0) }.unwrap();
        assert_eq!(n, 9);
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }

    /// After the first large call from a CPU, the host starts one thread bound to
    /// it, which serves that CPU's large calls; a callback from the driver during
    /// such a call reaches the application's function on the sending thread; the
    /// thread ends with the host's loop.
    #[test]
    fn large_calls_go_to_one_bound_thread_whose_callbacks_reach_the_application() {
        // SAFETY: no arguments.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).unwrap();
        super::super::channel::bind_this_thread(cpu).unwrap();
        let (remote, host) = hosted(Driver::Proc(answering));
        let h = Hdrvr::from_raw(5);
        let mut buf = vec![0u8; LARGE];
        let mut calls = 0;
        let mut bound = 0;
        while bound < 100 {
            let (mut a, mut b) = (Arg::InOut(&mut buf), Arg::Int(noted as *const () as LParam));
            let ret = remote.call_args(0, 1, h, DRV_USER + 2, &mut a, &mut b).unwrap();
            assert_eq!((ret, buf[0]), (LARGE as LResult, 1), "call {calls}: the callback went through");
            calls += 1;
            bound += usize::from(buf[1]);
            assert!(calls < 2000, "no bound thread served in {calls} calls");
            if buf[1] == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(bound_threads(), 1, "one thread for the one CPU asked for");
        let me = thread::current().id();
        let noted = std::mem::take(&mut *NOTED.lock().unwrap());
        assert_eq!(noted.len(), calls);
        assert!(noted.iter().all(|n| *n == (5, DRV_USER + 2, 7, 8, 9, me)), "{:?}", noted.first());
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
        assert_eq!(bound_threads(), 0, "the bound thread ended with the host's loop");
    }

    #[test]
    fn a_custom_message_with_a_pointer_is_refused_before_it_leaves() {
        let (remote, host) = hosted(Driver::Proc(answering));
        let mut x = 0u32;
        // SAFETY: the call is refused before anything reads the pointer.
        let err =
            unsafe { remote.call(0, 1, Hdrvr::from_raw(5), DRV_USER + 7, &mut x as *mut u32 as LParam, 0) }
                .unwrap_err();
        assert!(matches!(err, RemoteError::Marshal(MarshalError::Undescribed { .. })), "{err}");
        // The channel is still usable, and described, the message goes through.
        let (mut a, mut b) = (Arg::Int(1), Arg::Int(2));
        assert_eq!(remote.call_args(0, 1, Hdrvr::from_raw(5), DRV_USER, &mut a, &mut b).unwrap(), 3);
        let mut bytes = [1u8, 2, 3, 200];
        let (mut a, mut b) = (Arg::InOut(&mut bytes), Arg::Int(4));
        assert_eq!(remote.call_args(0, 1, Hdrvr::from_raw(5), DRV_USER + 1, &mut a, &mut b).unwrap(), 4);
        assert_eq!(bytes, [2, 4, 6, 144]);
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }

    #[test]
    fn acm_messages_are_carried_once_an_open_names_the_module_an_acm_codec() {
        use drvproc::acm::consts::{ACMDM_DRIVER_DETAILS, ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC};
        use drvproc::acm::layout::{AcmDriverDetailsW, AcmDrvOpenDescW};

        let (remote, host) = hosted(Driver::Proc(answering));
        let h = Hdrvr::from_raw(5);
        // SAFETY: all-zero bytes are a valid AcmDriverDetailsW (integers and a null pointer).
        let mut details: AcmDriverDetailsW = unsafe { std::mem::zeroed() };
        details.cb_struct = size_of::<AcmDriverDetailsW>() as u32;
        let l1 = &mut details as *mut AcmDriverDetailsW as LParam;
        // SAFETY: an ACMDRIVERDETAILSW, live for the call.
        let err = unsafe { remote.call(0, 1, h, ACMDM_DRIVER_DETAILS, l1, 0) }.unwrap_err();
        assert!(matches!(err, RemoteError::Marshal(MarshalError::Undescribed { .. })), "{err}");
        let mut desc = AcmDrvOpenDescW::msacm32(ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC);
        let l2 = &mut desc as *mut AcmDrvOpenDescW as LParam;
        // Unsaid, a non-NULL lParam2 is not read: the open is refused.
        // SAFETY: as below.
        let err = unsafe { remote.call(0, 0, h, DRV_OPEN, 0, l2) }.unwrap_err();
        assert!(matches!(err, RemoteError::Marshal(MarshalError::UnknownOpenParam { .. })), "{err}");
        let said = super::super::open_param::mark(super::super::open_param::OpenParam::AcmOpenDesc);
        // SAFETY: DRV_OPEN's lParam2 for an ACM driver, live for the call.
        assert_eq!(unsafe { remote.call(0, 0, h, DRV_OPEN, 0, l2) }.unwrap(), 0);
        drop(said);
        // SAFETY: as above.
        assert_eq!(unsafe { remote.call(0, 1, h, ACMDM_DRIVER_DETAILS, l1, 0) }.unwrap(), 0);
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }

    #[test]
    fn a_module_the_host_cannot_load_is_an_error_in_its_words() {
        let (remote, host) = hosted(Driver::None);
        let err = remote.load(Path::new("/nonexistent/drvproc-test/x.so")).unwrap_err().to_string();
        assert!(err.starts_with("not found"), "{err}");
        // SAFETY: integers only.
        let err = unsafe { remote.call(0, 1, Hdrvr::from_raw(5), DRV_QUERYCONFIGURE, 1, 2) }
            .unwrap_err()
            .to_string();
        assert_eq!(err, "no module is loaded");
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }
}
