//! Serving a large call on the caller's CPU ("Serving on the caller's CPU" in the
//! channel's notes): the shared block of per-CPU doorbells, the client's choice of
//! route, and the server end a host thread bound to one CPU serves through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::wait::{futex_wait, futex_wake};
use super::{ChannelError, DEAD, DIRECT, EMPTY, Mapping};
use crate::isolation::protocol::{Request, Response, op};

/// CPUs a channel can serve on by number: one bit each in the masks below. A
/// caller on a higher-numbered CPU is served by the host's main thread.
pub(super) const MAX_CPUS: usize = 64;

/// Payload bytes (in and out together) from which a call is served on the caller's
/// CPU, unless set otherwise: below that the copies are cheap wherever they run,
/// and the main thread's spin answers faster than a hand-over of the CPU.
pub(crate) const DEFAULT_SAME_CPU_BYTES: usize = 16 * 1024;

/// How long a caller whose call is served on its CPU gives the CPU away
/// (`sched_yield`) before it sleeps: longer than a large codec call takes, short
/// enough that a driver that blocks for long costs the caller little CPU.
pub(super) const YIELD_FOR: std::time::Duration = std::time::Duration::from_millis(1);

/// The variable that sets that size in bytes, or `off` to serve every call on the
/// host's main thread, for measurements; both ends need not agree (only the
/// application reads it).
pub(crate) const SAME_CPU_VAR: &str = "DRVPROC_HOST_SAME_CPU_BYTES";

/// The size from [`SAME_CPU_VAR`]: `None` for `off`, else a number of bytes, else
/// [`DEFAULT_SAME_CPU_BYTES`].
pub(crate) fn configured_same_cpu_bytes() -> Option<usize> {
    match std::env::var(SAME_CPU_VAR) {
        Ok(v) if v.trim() == "off" => None,
        Ok(v) => Some(v.trim().parse().unwrap_or(DEFAULT_SAME_CPU_BYTES)),
        Err(_) => Some(DEFAULT_SAME_CPU_BYTES),
    }
}

/// The part of the control area for calls served on the caller's CPU. The masks
/// have one bit per CPU number.
#[repr(C)]
pub(super) struct Doorbells {
    /// A server thread bound to the CPU waits on its bell (set by the host).
    ready: AtomicU64,
    /// The host cannot serve on the CPU (binding a thread to it failed); the client
    /// does not ask again (set by the host).
    refused: AtomicU64,
    /// The client asked for a server thread on the CPU (set by the client, taken
    /// by the host's main thread between calls).
    wanted: AtomicU64,
    /// Non-zero once the bound threads are told to stop (set by whoever stops
    /// them), for a thread that opens after [`Doorbells::stop_all`] read `ready`.
    stopped: AtomicU64,
    /// The word each CPU's server thread sleeps on: the client stores [`RUNG`] and
    /// wakes it to hand over a `DIRECT` request (or the answer to a callback of
    /// one); [`STOP`] ends the thread.
    bells: [AtomicU32; MAX_CPUS],
}

/// A bell's value while its thread has nothing to take.
const IDLE: u32 = 0;
/// A `DIRECT` request frame waits for the bell's thread.
const RUNG: u32 = 1;
/// The channel is dead or no longer served: the bell's thread ends.
const STOP: u32 = 2;

impl Doorbells {
    fn bit(cpu: usize) -> u64 {
        1 << cpu
    }

    /// Tells every bound thread to stop, for a channel that went dead or that its
    /// main thread stopped serving.
    pub(super) fn stop_all(&self) {
        // Before `ready` is read: a thread that sets its bit after this read finds
        // `stopped` set before it sleeps (both `SeqCst`).
        self.stopped.store(1, Ordering::SeqCst);
        let ready = self.ready.load(Ordering::SeqCst);
        for (cpu, bell) in self.bells.iter().enumerate() {
            if ready & Self::bit(cpu) != 0 {
                bell.store(STOP, Ordering::SeqCst);
                futex_wake(bell, i32::MAX);
            }
        }
    }
}

/// Which server thread takes a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// The host's main thread, wherever it runs: the word goes `FULL`.
    Main,
    /// The host thread bound to this CPU, the caller's: the word goes `DIRECT` and
    /// that CPU's bell rings.
    Cpu(usize),
}

/// The route for `request` from a client whose threshold is `min_bytes`: its own
/// CPU when the call carries at least that much payload and the host serves there.
/// The first such call from a CPU asks the host for a thread there and goes to the
/// main thread; later ones go to the bound thread once it is ready.
pub(super) fn route(bells: &Doorbells, min_bytes: Option<usize>, request: &Request) -> Route {
    // Only driver calls: loading, unloading and stopping are the main thread's.
    let Some(min) = min_bytes.filter(|_| request.op == op::CALL) else { return Route::Main };
    // A `CALL`'s parameters are described by its `used` bytes (its payload
    // descriptors are for the other operations).
    if (request.used as usize) < min {
        return Route::Main;
    }
    // SAFETY: no arguments; it only reads which CPU this thread runs on.
    let Ok(cpu) = usize::try_from(unsafe { libc::sched_getcpu() }) else { return Route::Main };
    if cpu >= MAX_CPUS {
        return Route::Main;
    }
    let bit = Doorbells::bit(cpu);
    if bells.ready.load(Ordering::Acquire) & bit != 0 {
        return Route::Cpu(cpu);
    }
    if (bells.refused.load(Ordering::Relaxed) | bells.wanted.load(Ordering::Relaxed)) & bit == 0 {
        bells.wanted.fetch_or(bit, Ordering::Relaxed);
    }
    Route::Main
}

/// Publishes the request frame the client wrote, to the thread `route` names (the
/// client's half of step 1, or of a callback's answer).
pub(super) fn publish_request(map: &Mapping, route: Route) -> Result<(), ChannelError> {
    let control = map.control();
    match route {
        Route::Main => super::publish(&control.request.0),
        Route::Cpu(cpu) => {
            let state = &control.request.0.state;
            if state.compare_exchange(EMPTY, DIRECT, Ordering::SeqCst, Ordering::Relaxed).is_err() {
                return Err(ChannelError::PeerDead);
            }
            let bell = &control.doorbells.0.bells[cpu];
            // Release: the bound thread acquires the bell, then sees `DIRECT` and the
            // frame. It sleeps whenever it has nothing to do, so it is always woken.
            bell.store(RUNG, Ordering::Release);
            futex_wake(bell, 1);
            Ok(())
        }
    }
}

/// Waits (without limit) for CPU `cpu`'s bell, then takes the `DIRECT` request
/// frame it announces: the bound thread's half of step 2.
pub(super) fn take_direct(map: &Mapping, cpu: usize) -> Result<Request, ChannelError> {
    let control = map.control();
    let bell = &control.doorbells.0.bells[cpu];
    let state = &control.request.0.state;
    loop {
        match bell.load(Ordering::Acquire) {
            IDLE => {}
            RUNG => {
                // Only a `STOP` can replace it meanwhile, and that one stays.
                let _ = bell.compare_exchange(RUNG, IDLE, Ordering::Relaxed, Ordering::Relaxed);
                break;
            }
            _ => return Err(ChannelError::PeerDead),
        }
        // A thread that opened after `stop_all` read the ready mask finds
        // `stopped` set here (see there).
        if control.doorbells.0.stopped.load(Ordering::SeqCst) != 0 {
            return Err(ChannelError::PeerDead);
        }
        match futex_wait(bell, IDLE, None) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) => {}
            Err(e) => return Err(ChannelError::Wait(e)),
        }
    }
    // SAFETY: the bell was rung after the client wrote the frame and set the word
    // `DIRECT` (acquired through the bell): the frame is handed to this thread.
    let request = unsafe { control.request.0.frame.get().read_volatile() };
    match state.compare_exchange(DIRECT, EMPTY, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => Ok(request),
        Err(DEAD) => Err(ChannelError::PeerDead),
        // A bell without a `DIRECT` request: the client broke the protocol.
        Err(_) => {
            map.mark_dead();
            Err(ChannelError::PeerDead)
        }
    }
}

/// The server end for the host thread bound to one CPU: it takes only the `DIRECT`
/// requests of callers on that CPU, and answers on the same response slot as the
/// main thread (only one call is ever in flight, whichever thread serves it).
pub(crate) struct CpuServer {
    pub(super) map: Arc<Mapping>,
    pub(super) cpu: usize,
}

impl CpuServer {
    pub(crate) fn cpu(&self) -> usize {
        self.cpu
    }

    /// Tells clients this thread now serves its CPU.
    pub(crate) fn open(&self) {
        self.map.control().doorbells.0.ready.fetch_or(Doorbells::bit(self.cpu), Ordering::SeqCst);
    }

    /// Tells clients the host cannot serve on this CPU, so they stop asking.
    pub(crate) fn refuse(&self) {
        self.map.control().doorbells.0.refused.fetch_or(Doorbells::bit(self.cpu), Ordering::Relaxed);
    }

    /// The way back to the client during a call this thread serves.
    pub(crate) fn back_channel(&self) -> super::BackChannel {
        super::BackChannel { map: Arc::clone(&self.map), route: Route::Cpu(self.cpu) }
    }

    /// Waits (without limit) for the next request routed to this CPU, runs `handler`
    /// on it and the payload area, and sends its response.
    pub(crate) fn serve_one(
        &mut self,
        handler: impl FnOnce(&Request, &mut [u8]) -> Response,
    ) -> Result<Request, ChannelError> {
        let request = take_direct(&self.map, self.cpu)?;
        super::answer(&self.map, request, handler)
    }
}

/// Binds the calling thread to `cpu` alone.
pub(crate) fn bind_this_thread(cpu: usize) -> std::io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cpu` is below the set's size in bits (checked above), so the bit
    // written lies in `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: 0 names the calling thread; `set` is a valid `cpu_set_t` of the size
    // given, which the kernel only reads.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs clients asked for since the last look, less those already served or
/// refused; taking them clears the requests.
pub(super) fn take_wanted(bells: &Doorbells) -> u64 {
    if bells.wanted.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    let wanted = bells.wanted.swap(0, Ordering::Relaxed);
    wanted & !(bells.ready.load(Ordering::Relaxed) | bells.refused.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::super::{Client, Server};
    use super::*;
    use crate::isolation::protocol::{Callback, op, status};

    const BIG: u32 = 64 * 1024;
    const MAIN: i64 = 1;
    const BOUND: i64 = 2;

    /// Binds the calling (test) thread to the CPU it runs on, so that its calls
    /// name one CPU; returns that CPU.
    fn stay_on_this_cpu() -> usize {
        // SAFETY: no arguments.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).expect("a CPU number");
        bind_this_thread(cpu).expect("bind the test thread");
        cpu
    }

    /// A handler that says which thread served (`MAIN` or `BOUND`) and on which
    /// CPU, and adds one to the payload's first byte.
    fn handler(who: i64) -> impl FnOnce(&Request, &mut [u8]) -> Response {
        move |_, payload| {
            payload[0] = payload[0].wrapping_add(1);
            // SAFETY: no arguments.
            let cpu = i64::from(unsafe { libc::sched_getcpu() });
            Response { ret: who * 1000 + cpu, ..Response::default() }
        }
    }

    /// A server whose main thread starts a bound thread for each CPU asked for, once,
    /// as the host does; `refuse` makes it refuse instead. Ends with the channel.
    fn serve(mut server: Server, refuse: bool) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            let mut started = 0u64;
            while server.serve_one(handler(MAIN)).is_ok() {
                let wanted = server.take_wanted_cpus() & !started;
                started |= wanted;
                for cpu in (0..MAX_CPUS).filter(|cpu| wanted & (1 << cpu) != 0) {
                    let mut bound = server.cpu_server(cpu).expect("a CPU below 64");
                    if refuse {
                        bound.refuse();
                        continue;
                    }
                    thread::spawn(move || {
                        bind_this_thread(cpu).expect("bind the server thread");
                        let back = bound.back_channel();
                        bound.open();
                        while bound
                            .serve_one(|req, payload| {
                                if req.msg == 1 {
                                    let cb = Callback { p1: 5, ..Callback::default() };
                                    let delivered = back.callback(req.seq, &cb).expect("the callback");
                                    payload[1] = u8::from(delivered);
                                }
                                handler(BOUND)(req, payload)
                            })
                            .is_ok()
                        {}
                    });
                }
            }
        })
    }

    fn pair(threshold: Option<usize>) -> (Client, Server) {
        let mut client = Client::create(1 << 17).unwrap();
        client.set_same_cpu_bytes(threshold);
        let fd = client.fd().try_clone_to_owned().unwrap();
        (client, Server::from_fd(fd).unwrap())
    }

    /// One call carrying `used` payload bytes: who served it, and on which CPU.
    fn call(client: &mut Client, used: u32, msg: u32) -> (i64, i64) {
        let req = Request { op: op::CALL, msg, used, ..Request::default() };
        let reply = client.call(&req, |p| p[0] = 41, Duration::from_secs(10)).unwrap();
        assert_eq!((reply.response.status, reply.payload[0]), (status::OK, 42));
        (reply.response.ret / 1000, reply.response.ret % 1000)
    }

    #[test]
    fn large_calls_go_to_a_thread_bound_to_the_callers_cpu_once_it_is_ready() {
        let cpu = stay_on_this_cpu() as i64;
        let (mut client, server) = pair(Some(DEFAULT_SAME_CPU_BYTES));
        let host = serve(server, false);
        // The first large call asks for the thread and is served by the main one.
        assert_eq!(call(&mut client, BIG, 0).0, MAIN);
        let mut tries = 0;
        while call(&mut client, BIG, 0).0 == MAIN {
            tries += 1;
            assert!(tries < 1000, "no thread was started for CPU {cpu}");
            thread::sleep(Duration::from_millis(1));
        }
        for _ in 0..200 {
            assert_eq!(call(&mut client, BIG, 0), (BOUND, cpu));
            // Small calls stay with the main thread, in between.
            assert_eq!(call(&mut client, 64, 0).0, MAIN);
        }
        client.mark_dead();
        host.join().unwrap();
    }

    #[test]
    fn a_callback_during_a_call_on_the_callers_cpu_reaches_the_caller() {
        stay_on_this_cpu();
        let (mut client, server) = pair(Some(1024));
        let host = serve(server, false);
        while call(&mut client, BIG, 0).0 == MAIN {
            thread::sleep(Duration::from_millis(1));
        }
        for round in 0..50 {
            let req = Request { op: op::CALL, msg: 1, used: BIG, ..Request::default() };
            let mut seen = Vec::new();
            let (reply, ()) = client
                .call_with(
                    |p| {
                        p[0] = round;
                        Ok::<_, ChannelError>((req, ()))
                    },
                    Duration::from_secs(10),
                    |cb| {
                        seen.push(cb.p1);
                        true
                    },
                )
                .unwrap();
            assert_eq!(seen, [5]);
            assert_eq!(reply.response.ret / 1000, BOUND);
            assert_eq!(reply.payload[..2], [round + 1, 1]);
        }
        client.mark_dead();
        host.join().unwrap();
    }

    #[test]
    fn a_bound_thread_stops_when_the_channel_dies() {
        stay_on_this_cpu();
        let (mut client, server) = pair(Some(1024));
        let (tx, rx) = mpsc::channel();
        let mut bound = server.cpu_server(0).unwrap();
        thread::spawn(move || {
            bound.open();
            tx.send(bound.serve_one(handler(BOUND)).map(|_| ()).map_err(|e| e.to_string())).unwrap();
        });
        thread::sleep(Duration::from_millis(50));
        client.mark_dead();
        let ended = rx.recv_timeout(Duration::from_secs(1)).expect("the bound thread woke up");
        assert_eq!(ended, Err("the process at the other end of the channel is dead".to_string()));
        assert!(matches!(
            client.call(&Request::default(), |_| {}, Duration::from_secs(1)),
            Err(ChannelError::PeerDead)
        ));
    }

    /// Loading, unloading and stopping stay with the main thread whatever their
    /// size: a bound thread that took a `SHUTDOWN` would leave the main thread
    /// serving for ever.
    #[test]
    fn only_driver_calls_are_routed_to_a_cpu() {
        let cpu = stay_on_this_cpu();
        let (client, _server) = pair(Some(0));
        let bells = &client.map.control().doorbells.0;
        bells.ready.store(1 << cpu, Ordering::SeqCst);
        let routed = |op| route(bells, Some(0), &Request { op, used: BIG, ..Request::default() });
        assert_eq!(routed(op::CALL), Route::Cpu(cpu));
        for op in [op::LOAD_MODULE, op::UNLOAD_MODULE, op::SHUTDOWN] {
            assert_eq!(routed(op), Route::Main, "op {op}");
        }
        assert_eq!(
            route(bells, None, &Request { op: op::CALL, used: BIG, ..Request::default() }),
            Route::Main
        );
    }

    /// A thread still binding itself when its channel stops serving opens after
    /// the stop, and must end rather than sleep on its bell for ever.
    #[test]
    fn a_bound_thread_that_opens_after_the_stop_ends() {
        let (_client, server) = pair(Some(1024));
        let mut late = server.cpu_server(0).unwrap();
        server.stop_cpu_servers();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            late.open();
            tx.send(late.serve_one(handler(BOUND)).is_err()).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(true), "the late thread ended");
    }

    #[test]
    fn a_refused_cpu_and_a_threshold_of_off_keep_large_calls_on_the_main_thread() {
        stay_on_this_cpu();
        for (threshold, refuse) in [(Some(1024), true), (None, false)] {
            let (mut client, server) = pair(threshold);
            let host = serve(server, refuse);
            for _ in 0..100 {
                assert_eq!(call(&mut client, BIG, 0).0, MAIN, "threshold {threshold:?}, refused {refuse}");
            }
            let bells = &client.map.control().doorbells.0;
            assert_eq!(bells.ready.load(Ordering::SeqCst), 0);
            assert_eq!(bells.wanted.load(Ordering::SeqCst), 0, "asked again after a refusal");
            client.mark_dead();
            host.join().unwrap();
        }
    }
}
